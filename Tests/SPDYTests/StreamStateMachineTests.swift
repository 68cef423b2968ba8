import Testing

@testable import SPDY

@Suite("Stream state machine")
struct StreamStateMachineTests {
    typealias Machine = StreamStateMachine

    /// A local stream whose SYN_STREAM went out with these flags.
    func local(fin: Bool = false, unidirectional: Bool = false) -> Machine {
        var machine = Machine()
        let closed = machine.sentSynStream(fin: fin, unidirectional: unidirectional)
        #expect(closed == (fin && unidirectional))
        return machine
    }

    @Test("A request: SYN_STREAM out, SYN_REPLY in, DATA in with FIN closes it once we had sent FIN")
    func requestLifecycle() {
        var machine = Machine()
        #expect(machine.publicState == .initial)
        machine = local(fin: true)
        #expect(machine.publicState == .opening)
        #expect(machine.refusalOfHeadersOrData() == .streamShutWR)
        #expect(!machine.acceptsData)
        let reply = machine.receiveSynReply(fin: false, version: .v3)
        #expect(reply == .succeed)
        #expect(machine.publicState == .opened && machine.acceptsData)
        let data = machine.receiveEndOfDataFrame(fin: true, version: .v3)
        #expect(data == .succeedAndClose)
    }

    @Test("SYN_REPLY rules: twice is STREAM_IN_USE (PROTOCOL_ERROR on SPDY/2), after our reset it is ignored")
    func synReplyRules() {
        var machine = local()
        let first = machine.receiveSynReply(fin: false, version: .v3)
        #expect(first == .succeed)
        let second = machine.receiveSynReply(fin: false, version: .v3)
        #expect(second == .streamError(.streamInUse))
        let secondV2 = machine.receiveSynReply(fin: false, version: .v2)
        #expect(secondV2 == .streamError(.protocolError))
        var reset = local()
        reset.resetQueued()
        #expect(reset.publicState == .closing)
        let crossed = reset.receiveSynReply(fin: true, version: .v3)
        #expect(crossed == .ignore)
        // A reply to a UNIDIRECTIONAL stream, and to a stream the peer opened.
        var pushed = local(unidirectional: true)
        let toPush = pushed.receiveSynReply(fin: false, version: .v3)
        #expect(toPush == .streamError(.protocolError))
        var peer = Machine(peerSynStreamFin: false, unidirectional: false)
        let toPeer = peer.receiveSynReply(fin: false, version: .v3)
        #expect(toPeer == .streamError(.protocolError))
    }

    @Test("HEADERS: before the SYN_REPLY on our stream is refused, after the peer's FIN too, with FIN it closes")
    func headersRules() {
        var machine = local()
        let early = machine.receiveHeaders(fin: false)
        #expect(early == .streamError(.protocolError))
        _ = machine.receiveSynReply(fin: false, version: .v3)
        let fine = machine.receiveHeaders(fin: true)
        #expect(fine == .succeed)
        let afterFin = machine.receiveHeaders(fin: false)
        #expect(afterFin == .streamError(.protocolError))
        var peer = Machine(peerSynStreamFin: false, unidirectional: false)
        let trailer = peer.receiveHeaders(fin: true)
        #expect(trailer == .succeed)
        #expect(peer.isRemoteClosed)
        let closedBothWays = peer.sentSynReply(fin: true)
        #expect(closedBothWays)
    }

    @Test("DATA: after FIN is STREAM_ALREADY_CLOSED (PROTOCOL_ERROR on SPDY/2) unless we are resetting it")
    func dataAfterFin() {
        var peer = Machine(peerSynStreamFin: true, unidirectional: false)
        #expect(!peer.acceptsData)
        let v3 = peer.receiveEndOfDataFrame(fin: false, version: .v3)
        #expect(v3 == .streamError(.streamAlreadyClosed))
        let v2 = peer.receiveEndOfDataFrame(fin: false, version: .v2)
        #expect(v2 == .streamError(.protocolError))
        peer.resetQueued()
        let resetting = peer.receiveEndOfDataFrame(fin: false, version: .v3)
        #expect(resetting == .ignore)
        var early = local()
        let beforeReply = early.receiveEndOfDataFrame(fin: false, version: .v3)
        #expect(beforeReply == .streamError(.protocolError))
    }

    @Test("What we may send, by state: the reference's error codes")
    func sendRefusals() {
        var peer = Machine(peerSynStreamFin: false, unidirectional: false)
        #expect(peer.refusalOfSynReply() == nil)
        #expect(peer.refusalOfHeadersOrData() == .invalidStreamState)
        _ = peer.sentSynReply(fin: false)
        #expect(peer.refusalOfSynReply() == .invalidStreamState)
        #expect(peer.refusalOfHeadersOrData() == nil)
        let closedByFin = peer.sentFin()
        #expect(!closedByFin)
        #expect(peer.refusalOfHeadersOrData() == .streamShutWR)
        let own = local()
        #expect(own.refusalOfSynReply() == .invalidStreamID)
        #expect(own.refusalOfHeadersOrData() == nil)
        var resetting = local()
        resetting.resetQueued()
        #expect(resetting.refusalOfHeadersOrData() == .streamClosing)
        #expect(resetting.refusalOfWindowUpdate() == .streamClosing)
        // A peer's UNIDIRECTIONAL stream (a push we receive) is closed for us from the start.
        let push = Machine(peerSynStreamFin: false, unidirectional: true)
        #expect(push.refusalOfSynReply() == .streamShutWR)
    }
}
