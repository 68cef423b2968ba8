// Fuzz target: a whole SPDYSession, client or server, fed arbitrary bytes as what it
// receives from its peer.
//
// Input: [configuration][split seed][received bytes…]
// - configuration: bits 0–1 the version (SPDY/2, /3, /3.1, /3.1); bit 2 the role (0
//   client, 1 server); bit 3 call send() after every received piece; bit 4 the peer does
//   not read (the send callback takes nothing until the very end); bit 5 we announce
//   MAX_CONCURRENT_STREAMS 4 and INITIAL_WINDOW_SIZE 1024 first; bit 6 the send callback
//   takes at most 7 bytes per call; bit 7 the bytes arrive at once (otherwise in pieces of
//   1–256 bytes at points derived from the split seed).
//
// The client submits two requests (a GET, a POST with a 300-byte body) and a PING before
// anything arrives; the server answers every request with a 200-byte response and pushes
// one resource on the first. The session runs with the smallest limits it accepts
// (maxQueuedFrames 16, 8 KiB control frames, 1 KiB header blocks).
//
// Checked after every piece and at the end: no crash, memory error or hang; recv() and
// send() do not throw (no callback throws); the outbound queue stays within
// maxQueuedFrames plus what our own submissions and the peer's streams legitimately add
// (`queueBound`); the open streams stay within MAX_CONCURRENT_STREAMS (when announced)
// plus our own, or within what the input's size allows; at the end, with a reading peer,
// one send() writes everything it is allowed to (a second one writes nothing).

import FuzzCommon
import NIOCore
import SPDY

@_cdecl("LLVMFuzzerInitialize")
public func initialize(
    _ argc: UnsafeMutablePointer<CInt>?,
    _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?>?
) -> CInt {
    writeSeedsIfAsked(target: "FuzzSession")
    return 0
}

/// What the callbacks record (the session runs on one thread; the fuzzer is single-threaded).
final class Peer {
    var reads = true
    var maxWrite = Int.max
    var written = 0
    var pushed = false
    var ourStreams = 0
    var peerStreamsSeen = 0
}

let maxQueuedFrames = 16

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    var input = FuzzInput(data, size)
    let config = input.byte()
    let seed = input.byte()
    let received = input.rest()

    let version = fuzzVersion(config)
    let role: SPDYRole = config & 4 == 0 ? .client : .server
    let sendAfterEachPiece = config & 8 != 0
    let peer = Peer()
    peer.reads = config & 16 == 0
    let announcesLimits = config & 32 != 0
    if config & 64 != 0 { peer.maxWrite = 7 }
    let atOnce = config & 128 != 0

    var callbacks = SPDYSessionCallbacks()
    callbacks.send = { _, bytes in
        guard peer.reads else { return 0 }
        let n = min(bytes.readableBytes, peer.maxWrite)
        peer.written += n
        return n
    }
    callbacks.onRequestReceived = { session, streamID in
        guard session.role == .server else { return }
        peer.peerStreamsSeen += 1
        try? session.submitResponse(
            streamID: streamID,
            headers: [(":status", "200 OK"), (":version", "HTTP/1.1"), ("content-type", "text/plain")],
            dataProvider: .buffer(ByteBuffer(repeating: 0x62, count: 200))
        )
        if !peer.pushed {
            peer.pushed = true
            if (try? session.submitSynStream(
                flags: .unidirectional,
                priority: 3,
                headers: [
                    (":scheme", "https"), (":host", "example.org"), (":path", "/pushed.css"),
                    (":status", "200 OK"), (":version", "HTTP/1.1"),
                ],
                associatedStreamID: streamID,
                dataProvider: .string("p { }")
            )) != nil {
                peer.ourStreams += 1
            }
        }
    }

    let configuration = SPDYSession.Configuration(
        maxReceivedControlFrameSize: 8192,
        maxHeaderBlockSize: 1024,
        dataFramePayloadSize: 100,
        maxQueuedFrames: maxQueuedFrames
    )
    let session: SPDYSession
    do {
        session = try SPDYSession(role: role, version: version, configuration: configuration, callbacks: callbacks)
    } catch {
        fuzzFailure("session setup failed: \(error)")
    }

    if announcesLimits {
        do {
            try session.submitSettings(entries: [
                .init(id: .maxConcurrentStreams, value: 4), .init(id: .initialWindowSize, value: 1024),
            ])
        } catch {
            fuzzFailure("submitSettings failed: \(error)")
        }
    }
    if role == .client {
        do {
            try session.submitRequest(
                priority: 1,
                headers: [
                    (":method", "GET"), (":path", "/"), (":version", "HTTP/1.1"), (":scheme", "https"),
                    (":host", "example.org"),
                ]
            )
            try session.submitRequest(
                priority: 2,
                headers: [
                    (":method", "POST"), (":path", "/upload"), (":version", "HTTP/1.1"), (":scheme", "https"),
                    (":host", "example.org"),
                ],
                dataProvider: .buffer(ByteBuffer(repeating: 0x61, count: 300))
            )
            peer.ourStreams += 2
        } catch {
            fuzzFailure("submitRequest failed: \(error)")
        }
        _ = session.submitPing()
    }
    // Our submissions: SETTINGS, two SYN_STREAMs, their DATA, a PING.
    let ownFrames = 8

    func check(_ when: String, receivedSoFar: Int) {
        // Every peer stream can hold one SYN_REPLY (or RST_STREAM) of ours, its DATA and a
        // WINDOW_UPDATE; a push adds its SYN_STREAM and DATA. The peer-provoked answers are
        // cut off at maxQueuedFrames (then one GOAWAY). WINDOW_UPDATEs for the session and
        // the streams: at most one per half window received, and at least 512 bytes of
        // DATA (half of the smallest window) per update.
        let streamFrames = 3 * (receivedSoFar / 10 + 1)
        let queueBound = maxQueuedFrames + 1 + ownFrames + streamFrames + 2 * (receivedSoFar / 512 + 1)
        if session.outboundQueueSize > queueBound {
            fuzzFailure("\(when): \(session.outboundQueueSize) frames queued, bound \(queueBound)")
        }
        // A SYN_STREAM takes at least 18 bytes (10 of them fixed fields and an empty block).
        let streamBound =
            announcesLimits
            ? 4 + peer.ourStreams + 1
            : receivedSoFar / 18 + peer.ourStreams + 1
        if session.openStreamCount > streamBound {
            fuzzFailure("\(when): \(session.openStreamCount) streams open, bound \(streamBound)")
        }
    }

    func send(_ when: String) {
        do {
            try session.send()
        } catch {
            fuzzFailure("\(when): send() threw \(error)")
        }
    }

    if sendAfterEachPiece { send("before receiving") }
    var random = SplitMix(seed: UInt64(seed) << 8 | UInt64(config))
    var offset = 0
    while offset < received.count {
        let n = atOnce ? received.count : min(random.chunk(upTo: 256), received.count - offset)
        var piece = ByteBuffer()
        piece.writeBytes(UnsafeBufferPointer(rebasing: received[offset..<(offset + n)]))
        offset += n
        do {
            try session.recv(piece)
        } catch {
            fuzzFailure("recv() threw \(error)")
        }
        check("after \(offset) bytes", receivedSoFar: offset)
        if sendAfterEachPiece {
            send("after \(offset) bytes")
            check("after sending at \(offset) bytes", receivedSoFar: offset)
        }
    }

    // The peer reads at last: everything the session may send must go.
    peer.reads = true
    peer.maxWrite = Int.max
    send("at the end")
    check("at the end", receivedSoFar: received.count)
    // send() stops only when nothing more may go (SYN_STREAMs held back by the peer's
    // MAX_CONCURRENT_STREAMS, DATA held back by a window): a second call writes nothing.
    let written = peer.written
    send("again at the end")
    if peer.written != written {
        fuzzFailure("a second send() at the end wrote \(peer.written - written) more bytes")
    }
    return 0
}
