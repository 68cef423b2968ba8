import Testing

@testable import SPDY

@Suite("Flow-control window arithmetic")
struct FlowControlWindowTests {
    let max = SPDYProtocol.maxWindowSize

    @Test("Sending: DATA takes from the window, WINDOW_UPDATE gives back, never past 2^31-1")
    func sending() {
        var window = FlowControlWindow(send: 65536, receive: 65536)
        window.sent(65536)
        #expect(!window.canSend)
        let result1 = window.credit(100)
        #expect(result1)
        #expect(window.sendable == 100 && window.canSend)
        // One more than allowed: refused, and nothing changes.
        let result2 = window.credit(max - 99)
        #expect(!result2)
        #expect(window.sendable == 100)
        let result3 = window.credit(max - 100)
        #expect(result3)
        #expect(window.sendable == max)
    }

    @Test("INITIAL_WINDOW_SIZE changes apply to what is left, may make it negative, and report passing 2^31-1")
    func initialWindowChanges() {
        var window = FlowControlWindow(send: 65536, receive: 65536)
        window.sent(60000)
        let result4 = window.changeInitialSendWindow(by: -65536 + 1000)
        #expect(result4)
        #expect(window.sendable == -59000)
        #expect(!window.canSend)
        var big = FlowControlWindow(send: max, receive: 65536)
        let result5 = big.changeInitialSendWindow(by: 1)
        #expect(!result5)
    }

    @Test("Receiving: bytes beyond the advertised window are reported, the window tracks what is left")
    func receiving() {
        var window = FlowControlWindow(send: 0, receive: 1000)
        let result6 = window.receive(1000)
        #expect(result6)
        #expect(window.receivable == 0)
        let result7 = window.receive(1)
        #expect(!result7)
    }

    @Test("Automatic acknowledgement: a WINDOW_UPDATE of everything received once half the window arrived")
    func automaticAcknowledgement() {
        var window = FlowControlWindow(send: 0, receive: 1000)
        let result8 = window.receive(499)
        #expect(result8)
        let result9 = window.record(499, as: .received, automatic: true)
        #expect(result9 == .none)
        #expect(window.unacknowledged == 499)
        let result10 = window.receive(1)
        #expect(result10)
        let result11 = window.record(1, as: .received, automatic: true)
        #expect(result11 == .windowUpdate(500))
        #expect(window.unacknowledged == 0 && window.receivable == 1000)
        // Without the automatic policy bytes are only counted.
        _ = window.receive(900)
        let result12 = window.record(900, as: .received, automatic: false)
        #expect(result12 == .none)
        #expect(window.unacknowledged == 900)
    }

    @Test("Manual consumption goes through the same path: consumed bytes are acknowledged as received ones")
    func consumption() {
        var window = FlowControlWindow(send: 0, receive: 1000)
        _ = window.receive(800)
        let result13 = window.record(800, as: .received, automatic: false)
        #expect(result13 == .none)
        let result14 = window.record(300, as: .consumed, automatic: false)
        #expect(result14 == .none)
        let result15 = window.record(200, as: .consumed, automatic: false)
        #expect(result15 == .windowUpdate(500))
        #expect(window.consumed == 0 && window.unacknowledged == 300 && window.receivable == 700)
    }

    @Test("A count that would pass 2^31-1 is an overflow and changes nothing")
    func overflow() {
        var window = FlowControlWindow(send: 0, receive: max)
        let result16 = window.record(max, as: .received, automatic: false)
        #expect(result16 == .none)
        let result17 = window.record(1, as: .received, automatic: false)
        #expect(result17 == .overflow)
        #expect(window.unacknowledged == max)
    }

    @Test("The application's WINDOW_UPDATE acknowledges received bytes first, then enlarges the advertised window")
    func grant() {
        var window = FlowControlWindow(send: 0, receive: 1000)
        _ = window.receive(400)
        _ = window.record(400, as: .received, automatic: false)
        window.grant(1000)
        #expect(window.unacknowledged == 0)
        #expect(window.advertised == 1600)
        #expect(window.receivable == 1600)
        window.grant(max)
        #expect(window.advertised == max)
    }

    @Test("After our INITIAL_WINDOW_SIZE shrank, what reached the new half-window is due")
    func dueAfterShrink() {
        var window = FlowControlWindow(send: 0, receive: 1000)
        _ = window.receive(300)
        _ = window.record(300, as: .received, automatic: true)
        #expect(window.dueAfterWindowChange(manualConsumption: false, automatic: true) == nil)
        window.changeInitialReceiveWindow(by: -500)
        #expect(window.advertised == 500 && window.receivable == 200)
        #expect(window.dueAfterWindowChange(manualConsumption: false, automatic: true) == .received)
        #expect(window.dueAfterWindowChange(manualConsumption: false, automatic: false) == nil)
        #expect(window.dueAfterWindowChange(manualConsumption: true, automatic: true) == nil)
        let result18 = window.record(0, as: .received, automatic: true)
        #expect(result18 == .windowUpdate(300))
    }
}
