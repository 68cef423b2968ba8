import NIOConcurrencyHelpers

/// Reason phrases and explanations of HTTP status codes, for `:status` values and error pages.
enum HTTPStatus {
    static func reason(_ code: Int) -> String {
        table[code]?.0 ?? (code < 400 ? "OK" : "Error")
    }

    static func explanation(_ code: Int) -> String {
        table[code]?.1 ?? ""
    }

    private static let table: [Int: (String, String)] = [
        100: ("Continue", "Request received, please continue"),
        200: ("OK", "Request fulfilled, document follows"),
        201: ("Created", "Document created, URL follows"),
        202: ("Accepted", "Request accepted, processing continues off-line"),
        204: ("No Content", "Request fulfilled, nothing follows"),
        206: ("Partial Content", "Partial content follows"),
        301: ("Moved Permanently", "Object moved permanently -- see URI list"),
        302: ("Found", "Object moved temporarily -- see URI list"),
        303: ("See Other", "Object moved -- see Method and URL list"),
        304: ("Not Modified", "Document has not changed since given time"),
        307: ("Temporary Redirect", "Object moved temporarily -- see URI list"),
        400: ("Bad Request", "Bad request syntax or unsupported method"),
        401: ("Unauthorized", "No permission -- see authorization schemes"),
        403: ("Forbidden", "Request forbidden -- authorization will not help"),
        404: ("Not Found", "Nothing matches the given URI"),
        405: ("Method Not Allowed", "Specified method is invalid for this resource"),
        408: ("Request Timeout", "Request timed out; try again later"),
        411: ("Length Required", "Client must specify Content-Length"),
        413: ("Request Entity Too Large", "Entity is too large"),
        414: ("Request-URI Too Long", "URI is too long"),
        415: ("Unsupported Media Type", "Entity body in unsupported format"),
        500: ("Internal Server Error", "Server got itself in trouble"),
        501: ("Not Implemented", "Server does not support this operation"),
        502: ("Bad Gateway", "Invalid responses from another server/proxy"),
        503: ("Service Unavailable", "The server cannot process the request due to a high load"),
        504: ("Gateway Timeout", "The gateway server did not receive a timely response"),
    ]

    /// The `Date` header of the current second, formatted once per second: every response
    /// carries one, and formatting it costs more than the rest of a small response's headers.
    private static let currentDate = NIOLockedValueBox<(seconds: Int, value: String)>((-1, ""))

    /// The value of an HTTP `Date` header for `seconds` since the epoch, from the one-second
    /// cache when it is the current second.
    static func cachedDateHeader(_ seconds: Int) -> String {
        if let cached = currentDate.withLockedValue({ $0.seconds == seconds ? $0.value : nil }) {
            return cached
        }
        let value = dateHeader(seconds)
        currentDate.withLockedValue { $0 = (seconds, value) }
        return value
    }

    /// The value of an HTTP `Date` header for `seconds` since the epoch (RFC 1123).
    static func dateHeader(_ seconds: Int) -> String {
        let days = seconds / 86400
        let secondsOfDay = seconds % 86400
        // Civil-from-days (Howard Hinnant's algorithm).
        let z = days + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let doe = z - era * 146_097
        let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146_096) / 365
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100)
        let mp = (5 * doy + 2) / 153
        let day = doy - (153 * mp + 2) / 5 + 1
        let month = mp < 10 ? mp + 3 : mp - 9
        let year = yoe + era * 400 + (month <= 2 ? 1 : 0)
        let weekday = ((days % 7) + 11) % 7  // 1970-01-01 was a Thursday
        let names = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"]
        let months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
        func two(_ n: Int) -> String { n < 10 ? "0\(n)" : "\(n)" }
        return "\(names[weekday]), \(two(day)) \(months[month - 1]) \(year) "
            + "\(two(secondsOfDay / 3600)):\(two(secondsOfDay / 60 % 60)):\(two(secondsOfDay % 60)) GMT"
    }
}
