/// What a remotecommand request (`…/pods/NAME/exec` or `attach`) asks for: its query.
public struct RemoteCommandOptions: Sendable, Hashable {
    /// The command and its arguments (`command=` repeated; empty for attach).
    public var command: [String]
    /// The container (`container=`), if named.
    public var container: String?
    /// Whether the client sends stdin.
    public var stdin: Bool
    /// Whether the client wants stdout.
    public var stdout: Bool
    /// Whether the client wants stderr (never with a TTY).
    public var stderr: Bool
    /// Whether the command runs under a terminal (the client then sends resize events).
    public var tty: Bool

    /// Creates options.
    public init(
        command: [String] = [],
        container: String? = nil,
        stdin: Bool = false,
        stdout: Bool = true,
        stderr: Bool = true,
        tty: Bool = false
    ) {
        self.command = command
        self.container = container
        self.stdin = stdin
        self.stdout = stdout
        self.stderr = stderr && !tty
        self.tty = tty
    }

    /// Reads the options from a request URI's query. Booleans are `true` or `1` (kubectl
    /// sends `true`, the API server passes `1` on to the kubelet); false ones are left out.
    public init(uri: String) {
        self.init(command: [], stdout: false, stderr: false)
        for (name, value) in KubernetesQuery.parse(uri) {
            switch name {
            case "command": command.append(value)
            case "container": container = value
            case "stdin": stdin = KubernetesQuery.isTrue(value)
            case "stdout": stdout = KubernetesQuery.isTrue(value)
            case "stderr": stderr = KubernetesQuery.isTrue(value)
            case "tty": tty = KubernetesQuery.isTrue(value)
            default: break
            }
        }
        if tty { stderr = false }
    }

    /// The query as kubectl writes it (`command=…&container=…&stdin=true&stdout=true…`).
    public var query: String {
        var items = command.map { ("command", $0) }
        if let container { items.append(("container", container)) }
        if stdin { items.append(("stdin", "true")) }
        if stdout { items.append(("stdout", "true")) }
        if stderr { items.append(("stderr", "true")) }
        if tty { items.append(("tty", "true")) }
        return KubernetesQuery.encode(items)
    }

    /// The streams a client opens, in kubectl's order (error first), for `streamProtocol`.
    public func streamTypes(for streamProtocol: RemoteCommandProtocol) -> [KubernetesSPDY.StreamType] {
        var types: [KubernetesSPDY.StreamType] = [.error]
        if stdin { types.append(.stdin) }
        if stdout { types.append(.stdout) }
        if stderr { types.append(.stderr) }
        if tty && streamProtocol.hasResize { types.append(.resize) }
        return types
    }
}

/// URL query reading and writing, as Go's `net/url` does it.
enum KubernetesQuery {
    static func parse(_ uri: String) -> [(String, String)] {
        guard let mark = uri.firstIndex(of: "?") else { return [] }
        return uri[uri.index(after: mark)...].split(separator: "&").map { item in
            let parts = item.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            return (decode(parts[0]), parts.count > 1 ? decode(parts[1]) : "")
        }
    }

    static func isTrue(_ value: String) -> Bool {
        ["1", "t", "true", "TRUE", "True"].contains(value)
    }

    static func encode(_ items: [(String, String)]) -> String {
        items.map { "\(escape($0.0))=\(escape($0.1))" }.joined(separator: "&")
    }

    static func escape(_ text: String) -> String {
        var out = ""
        for byte in text.utf8 {
            switch byte {
            case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
                UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "-"), UInt8(ascii: "_"), UInt8(ascii: "."),
                UInt8(ascii: "~"):
                out.unicodeScalars.append(Unicode.Scalar(byte))
            case UInt8(ascii: " "):
                out += "+"
            default:
                out +=
                    "%" + String(byte >> 4, radix: 16, uppercase: true) + String(byte & 15, radix: 16, uppercase: true)
            }
        }
        return out
    }

    static func decode<S: StringProtocol>(_ text: S) -> String {
        var bytes: [UInt8] = []
        var utf8 = Array(text.utf8)[...]
        while let byte = utf8.popFirst() {
            if byte == UInt8(ascii: "+") {
                bytes.append(UInt8(ascii: " "))
            } else if byte == UInt8(ascii: "%"), utf8.count >= 2,
                let value = UInt8(String(decoding: utf8.prefix(2), as: UTF8.self), radix: 16)
            {
                bytes.append(value)
                utf8 = utf8.dropFirst(2)
            } else {
                bytes.append(byte)
            }
        }
        return String(decoding: bytes, as: UTF8.self)
    }
}
