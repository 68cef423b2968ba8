import Foundation
import NIOSPDY
import SPDY
import Testing

@Suite("The request handler class's helpers and the one list of protocol names")
struct RequestHandlerClassHelpersTests {
    @Test("dateTimeString writes IMF-fixdate, as Foundation's formatter does, for dates from 1970 to 2200")
    func dateTimeString() {
        #expect(SPDYRequestHandler.dateTimeString(784_111_777) == "Sun, 06 Nov 1994 08:49:37 GMT")
        #expect(SPDYRequestHandler.dateTimeString(0) == "Thu, 01 Jan 1970 00:00:00 GMT")
        #expect(SPDYRequestHandler.dateTimeString(951_782_400) == "Tue, 29 Feb 2000 00:00:00 GMT")
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "GMT")
        formatter.dateFormat = "EEE, dd MMM yyyy HH:mm:ss 'GMT'"
        var generator = SystemRandomNumberGenerator()
        for _ in 0..<2000 {
            let seconds = Int.random(in: 0..<7_258_118_400, using: &generator)
            #expect(
                SPDYRequestHandler.dateTimeString(seconds)
                    == formatter.string(from: Date(timeIntervalSince1970: TimeInterval(seconds))),
                "\(seconds)")
        }
        // Without an argument: now, within a second.
        let now = Int(Date().timeIntervalSince1970)
        let written = SPDYRequestHandler.dateTimeString()
        #expect([now, now + 1].map { SPDYRequestHandler.dateTimeString($0) }.contains(written))
    }

    @Test("reasonPhrase has the reference's phrases and a generic one for unlisted codes")
    func reasonPhrase() {
        #expect(SPDYRequestHandler.reasonPhrase(for: 200) == "OK")
        #expect(SPDYRequestHandler.reasonPhrase(for: 301) == "Moved Permanently")
        #expect(SPDYRequestHandler.reasonPhrase(for: 304) == "Not Modified")
        #expect(SPDYRequestHandler.reasonPhrase(for: 404) == "Not Found")
        #expect(SPDYRequestHandler.reasonPhrase(for: 500) == "Internal Server Error")
        #expect(SPDYRequestHandler.reasonPhrase(for: 299) == "OK")
        #expect(SPDYRequestHandler.reasonPhrase(for: 499) == "Error")
    }

    @Test("Protocol lists: the versions in order, then http/1.1 when offered, in names and in wire format")
    func protocolLists() {
        #expect(SPDYNegotiation.protocolNames == ["spdy/3.1", "spdy/3", "spdy/2"])
        #expect(
            SPDYNegotiation.protocolNames(for: [.v3, .v2], offeringHTTP1: true) == ["spdy/3", "spdy/2", "http/1.1"])
        #expect(SPDYTLS.protocolNames([.v3_1], offeringHTTP1: true) == ["spdy/3.1", "http/1.1"])
        #expect(SPDYNegotiation.protocolNames(for: [], offeringHTTP1: true) == [SPDYTLS.http1ProtocolName])
        let wire = SPDYNegotiation.wireFormat(SPDYNegotiation.protocolNames(for: [.v3_1], offeringHTTP1: true))
        #expect(wire == [8] + Array("spdy/3.1".utf8) + [8] + Array("http/1.1".utf8))
        #expect(SPDYNegotiation.parseWireFormat(wire) == ["spdy/3.1", "http/1.1"])
    }
}
