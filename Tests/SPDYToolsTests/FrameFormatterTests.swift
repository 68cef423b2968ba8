import NIOCore
import SPDY
import SPDYToolSupport
import Testing

@Suite("The spdycat -v frame format")
struct FrameFormatterTests {
    let formatter = SPDYFrameFormatter()
    let at = Duration.milliseconds(12)

    @Test("The timer prefix is [%3ld.%03ld]")
    func timer() {
        #expect(formatter.timer(.milliseconds(12)) == "[  0.012]")
        #expect(formatter.timer(.milliseconds(1_234_567)) == "[1234.567]")
        #expect(formatter.timer(.seconds(5)) == "[  5.000]")
    }

    @Test("Each control frame prints its header line and the originals' field lines")
    func controlFrames() {
        let header = { (type: SPDYFrameType, flags: UInt8, length: Int) in
            SPDYControlFrameHeader(version: 3, type: type, flags: flags, length: length)
        }
        let syn = SPDYFrame.synStream(
            .init(
                streamID: 1, associatedStreamID: .zero, priority: 3, flags: .fin,
                headers: [(":method", "GET"), ("accept", "a\0b")]))
        #expect(
            formatter.format(.controlSent(syn, header(.synStream, 1, 42)), at: at)
                == """
                [  0.012] send SYN_STREAM frame <version=3, flags=1, length=42>
                          (stream_id=1, assoc_stream_id=0, pri=3)
                          :method: GET
                          accept: a
                          accept: b

                """)
        let rst = SPDYFrame.rstStream(.init(streamID: 5, status: .refusedStream))
        #expect(
            formatter.format(.invalidControlReceived(rst, header(.rstStream, 0, 8), .protocolError), at: at)
                == """
                [  0.012] [INVALID; status=PROTOCOL_ERROR] recv RST_STREAM frame <version=3, flags=0, length=8>
                          (stream_id=5, status_code=3)

                """)
        let settings = SPDYFrame.settings(
            .init(entries: [.init(id: .maxConcurrentStreams, value: 100), .init(id: .initialWindowSize, value: 65536)]))
        #expect(
            formatter.format(.controlReceived(settings, header(.settings, 0, 20)), at: at)
                == """
                [  0.012] recv SETTINGS frame <version=3, flags=0, length=20>
                          (niv=2)
                          [4(0):100]
                          [7(0):65536]

                """)
        #expect(
            formatter.format(.controlReceived(.ping(.init(id: 2)), header(.ping, 0, 4)), at: at)
                == "[  0.012] recv PING frame <version=3, flags=0, length=4>\n          (unique_id=2)\n")
        #expect(
            formatter.format(
                .controlSent(.goAway(.init(lastGoodStreamID: 7, status: .ok)), header(.goAway, 0, 8)), at: at)
                == "[  0.012] send GOAWAY frame <version=3, flags=0, length=8>\n          (last_good_stream_id=7)\n")
        #expect(
            formatter.format(
                .controlSent(.windowUpdate(.init(streamID: 1, deltaWindowSize: 32768)), header(.windowUpdate, 0, 8)),
                at: at)
                == "[  0.012] send WINDOW_UPDATE frame <version=3, flags=0, length=8>\n"
                + "          (stream_id=1, delta_window_size=32768)\n")
    }

    @Test("DATA, parse errors and unknown frames")
    func otherEvents() {
        #expect(
            formatter.format(.dataReceived(1, .fin, length: 4096), at: at)
                == "[  0.012] recv DATA frame (stream_id=1, flags=1, length=4096)\n")
        #expect(
            formatter.format(
                .parseError(.synStream, header: [0x80, 3, 0, 1, 0, 0, 0, 10], .invalidHeaderBlock), at: at)
                == "[  0.012] [PARSE_ERROR] recv SYN_STREAM frame\n          Error: \(SPDYError.Code.invalidHeaderBlock.message)\n"
                + "          Header dump: 80 03 00 01 00 00 00 0A \n")
        #expect(
            formatter.format(.unknownReceived(header: [0x80, 3, 0, 99, 0, 0, 0, 0]), at: at)
                == "[  0.012] recv unknown frame\n          Header dump: 80 03 00 63 00 00 00 00 \n")
        #expect(formatter.format(.streamClosed(1, .ok), at: at) == "")
    }
}
