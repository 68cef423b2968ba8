/// Received HTTP dates (RFC 9110 §5.6.7), in seconds since 1970, without the C locale's help
/// (dates are written with ``SPDYRequestHandler/dateTimeString(_:)``).
enum HTTPDate {
    static let months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]

    /// Parses the three forms HTTP allows — IMF-fixdate (`Sun, 06 Nov 1994 08:49:37 GMT`),
    /// RFC 850 (`Sunday, 06-Nov-94 08:49:37 GMT`) and asctime (`Sun Nov  6 08:49:37 1994`);
    /// `nil` for anything else. The weekday is not checked.
    static func parse(_ text: String) -> Int? {
        let fields = text.split(whereSeparator: { $0 == " " || $0 == "\t" }).map(String.init)
        var day: Int?
        var month: Int?
        var year: Int?
        var clock: String?
        if fields.count == 6, fields[0].hasSuffix(","), fields[5] == "GMT" {
            day = Int(fields[1])
            month = months.firstIndex(of: fields[2])
            year = Int(fields[3])
            clock = fields[4]
        } else if fields.count == 4, fields[0].hasSuffix(","), fields[3] == "GMT" {
            let date = fields[1].split(separator: "-", omittingEmptySubsequences: false).map(String.init)
            guard date.count == 3, date[2].count == 2, let shortYear = Int(date[2]) else { return nil }
            day = Int(date[0])
            month = months.firstIndex(of: date[1])
            // RFC 9110: a two-digit year more than 50 years in the future is in the past century.
            year = shortYear + (shortYear < 70 ? 2000 : 1900)
            clock = fields[2]
        } else if fields.count == 5 {
            month = months.firstIndex(of: fields[1])
            day = Int(fields[2])
            clock = fields[3]
            year = Int(fields[4])
        }
        guard let day, let month, let year, let clock, (1...31).contains(day), year >= 1970 else { return nil }
        let time = clock.split(separator: ":", omittingEmptySubsequences: false).compactMap { Int($0) }
        guard time.count == 3, (0...23).contains(time[0]), (0...59).contains(time[1]), (0...60).contains(time[2])
        else { return nil }
        return daysSince1970(year: year, month: month + 1, day: day) * 86400 + time[0] * 3600 + time[1] * 60
            + time[2]
    }

    /// Days from 1970-01-01 to a date (Howard Hinnant's days-from-civil).
    private static func daysSince1970(year: Int, month: Int, day: Int) -> Int {
        let y = month <= 2 ? year - 1 : year
        let era = (y >= 0 ? y : y - 399) / 400
        let yoe = y - era * 400
        let doy = (153 * (month > 2 ? month - 3 : month + 9) + 2) / 5 + day - 1
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy
        return era * 146_097 + doe - 719_468
    }
}

/// Content types by file extension.
enum ContentTypes {
    static let byExtension: [String: String] = [
        "html": "text/html; charset=UTF-8", "htm": "text/html; charset=UTF-8",
        "css": "text/css; charset=UTF-8", "js": "text/javascript; charset=UTF-8",
        "mjs": "text/javascript; charset=UTF-8", "json": "application/json",
        "txt": "text/plain; charset=UTF-8", "md": "text/markdown; charset=UTF-8",
        "csv": "text/csv; charset=UTF-8", "xml": "application/xml", "xhtml": "application/xhtml+xml",
        "png": "image/png", "jpg": "image/jpeg", "jpeg": "image/jpeg", "gif": "image/gif",
        "svg": "image/svg+xml", "ico": "image/vnd.microsoft.icon", "webp": "image/webp", "avif": "image/avif",
        "bmp": "image/bmp", "pdf": "application/pdf", "wasm": "application/wasm", "zip": "application/zip",
        "gz": "application/gzip", "tar": "application/x-tar", "mp3": "audio/mpeg", "ogg": "audio/ogg",
        "wav": "audio/wav", "mp4": "video/mp4", "webm": "video/webm", "woff": "font/woff", "woff2": "font/woff2",
        "ttf": "font/ttf", "otf": "font/otf",
    ]

    /// The content type of a path from its extension (case-insensitive);
    /// `application/octet-stream` when unknown.
    static func type(forPath path: [UInt8]) -> String {
        let name = path.split(separator: UInt8(ascii: "/")).last ?? []
        guard let dot = name.lastIndex(of: UInt8(ascii: ".")), dot != name.startIndex else {
            return "application/octet-stream"
        }
        let suffix = String(decoding: name[(dot + 1)...], as: UTF8.self).lowercased()
        return byExtension[suffix] ?? "application/octet-stream"
    }
}
