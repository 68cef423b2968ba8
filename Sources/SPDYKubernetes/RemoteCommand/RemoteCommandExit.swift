import Foundation

/// How a remote command ended: what a server reports on the error stream and a client
/// reads from it.
public enum RemoteCommandExit: Sendable, Hashable, CustomStringConvertible {
    /// Exit status 0.
    case success
    /// A non-zero exit status (1–255 on the wire: v4 carries it as a `uint8`).
    case exitCode(Int)
    /// The command could not run, or failed without an exit status: the message.
    case failure(String)

    /// The exit status a shell would report: 0, the code, or 1 for a failure.
    public var status: Int {
        switch self {
        case .success: 0
        case .exitCode(let code): code
        case .failure: 1
        }
    }

    public var description: String {
        switch self {
        case .success: "success"
        case .exitCode(let code): "command terminated with exit code \(code)"
        case .failure(let message): message
        }
    }

    /// What the error stream carries for this outcome, or `nil` for nothing: a JSON
    /// `Status` on v4 (as the kubelet writes it), the message on earlier versions, and
    /// nothing for success before v4.
    public func errorStreamMessage(for streamProtocol: RemoteCommandProtocol) -> String? {
        let message: String
        switch self {
        case .success:
            return streamProtocol.hasStatus ? #"{"metadata":{},"status":"Success"}"# : nil
        case .exitCode(let code):
            guard code != 0 else { return RemoteCommandExit.success.errorStreamMessage(for: streamProtocol) }
            let clamped = min(max(code, 1), 255)
            message = "command terminated with non-zero exit code: exit status \(clamped)"
            guard streamProtocol.hasStatus else { return message }
            return #"{"metadata":{},"status":"Failure","message":"# + Self.jsonString(message)
                + #","reason":"NonZeroExitCode","details":{"causes":[{"reason":"ExitCode","message":""#
                + String(clamped) + #""}]}}"#
        case .failure(let text):
            message = "Internal error occurred: error executing command in container: \(text)"
            guard streamProtocol.hasStatus else { return message }
            return #"{"metadata":{},"status":"Failure","message":"# + Self.jsonString(message)
                + #","reason":"InternalError","details":{"causes":[{"message":"# + Self.jsonString(text)
                + #"}]},"code":500}"#
        }
    }

    /// Reads the outcome from what the error stream carried (all of it, up to its end).
    ///
    /// - Throws: ``RemoteCommandProtocolError`` for a v4 message that is not a valid
    ///   `Status`, as client-go's decoder refuses it.
    public init(errorStream bytes: [UInt8], streamProtocol: RemoteCommandProtocol) throws {
        guard !bytes.isEmpty else {
            self = .success
            return
        }
        guard streamProtocol.hasStatus else {
            self = .failure("error executing remote command: " + String(decoding: bytes, as: UTF8.self))
            return
        }
        struct Cause: Decodable {
            var reason: String?
            var message: String?
        }
        struct Details: Decodable { var causes: [Cause]? }
        struct Status: Decodable {
            var status: String?
            var message: String?
            var reason: String?
            var details: Details?
        }
        let status: Status
        do {
            status = try JSONDecoder().decode(Status.self, from: Data(bytes))
        } catch {
            throw RemoteCommandProtocolError(
                "error stream protocol error: \(error) in \(String(decoding: bytes, as: UTF8.self))")
        }
        switch status.status {
        case "Success":
            self = .success
        case "Failure":
            if status.reason == "NonZeroExitCode" {
                guard let details = status.details else {
                    throw RemoteCommandProtocolError("error stream protocol error: details must be set")
                }
                guard let cause = details.causes?.first(where: { $0.reason == "ExitCode" }) else {
                    throw RemoteCommandProtocolError("error stream protocol error: no ExitCode cause given")
                }
                guard let code = UInt8(cause.message ?? "") else {
                    throw RemoteCommandProtocolError(
                        "error stream protocol error: invalid exit code value \"\(cause.message ?? "")\"")
                }
                self = code == 0 ? .success : .exitCode(Int(code))
            } else {
                self = .failure(status.message ?? "")
            }
        default:
            throw RemoteCommandProtocolError("error stream protocol error: unknown error")
        }
    }

    static func jsonString(_ text: String) -> String {
        let data = (try? JSONEncoder().encode(text)) ?? Data("\"\"".utf8)
        return String(decoding: data, as: UTF8.self)
    }
}

/// A peer broke the remotecommand or portforward protocol.
public struct RemoteCommandProtocolError: Error, Sendable, Hashable, CustomStringConvertible {
    /// What was wrong.
    public let description: String

    init(_ description: String) {
        self.description = description
    }
}
