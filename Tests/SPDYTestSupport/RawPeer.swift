import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import NIOSPDY
import NIOSSL
import SPDY
import Testing

// MARK: - Raw connections

/// What a raw connection received.
public final class FrameLog: Sendable {
    public struct State: Sendable {
        public init() {}

        public var frames: [SPDYFrame] = []
        public var dataBytes = 0
        public var decodingError: String?
        public var error: String?
    }

    private let box = NIOLockedValueBox(State())

    public var state: State { box.withLockedValue { $0 } }

    public func update(_ body: (inout State) -> Void) {
        box.withLockedValue { body(&$0) }
    }

    public var goAways: [SPDYFrame.GoAway] {
        state.frames.compactMap { if case .goAway(let goAway) = $0 { goAway } else { nil } }
    }

    public var pingIDs: [UInt32] {
        state.frames.compactMap { if case .ping(let ping) = $0 { ping.id } else { nil } }
    }
}

/// Records what a raw connection reads: control frames when it decodes (`version` given), and
/// the number of DATA payload bytes (or of all bytes when it does not decode).
public final class FrameRecorder: ChannelInboundHandler {
    public typealias InboundIn = ByteBuffer

    private let decoder: SPDYFrameDecoder?
    private let log: FrameLog

    public init(version: SPDYVersion?, log: FrameLog) throws {
        if let version {
            self.decoder = try SPDYFrameDecoder(version: version)
        } else {
            self.decoder = nil
        }
        self.log = log
    }

    public func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let bytes = unwrapInboundIn(data)
        guard let decoder else {
            log.update { $0.dataBytes += bytes.readableBytes }
            return
        }
        decoder.append(bytes: bytes)
        while true {
            do {
                guard let event = try decoder.nextFrame() else { return }
                switch event {
                case .frame(let frame, _):
                    log.update { $0.frames.append(frame) }
                case .dataChunk(let chunk):
                    log.update { $0.dataBytes += chunk.payload.readableBytes }
                }
            } catch {
                log.update { $0.decodingError = "\(error)" }
            }
        }
    }

    public func errorCaught(context: ChannelHandlerContext, error: any Error) {
        log.update { $0.error = "\(error)" }
        context.close(promise: nil)
    }
}

/// A raw TCP (or TLS) connection to the server that records what it receives.
public func rawConnect(
    port: Int,
    group: any EventLoopGroup,
    decoding version: SPDYVersion?,
    autoRead: Bool = true,
    tls: NIOSSLContext? = nil
) async throws -> (channel: any Channel, log: FrameLog) {
    let log = FrameLog()
    let channel = try await ClientBootstrap(group: group)
        .channelOption(.autoRead, value: autoRead)
        .channelInitializer { channel in
            channel.eventLoop.makeCompletedFuture {
                if let tls {
                    try channel.pipeline.syncOperations.addHandler(
                        NIOSSLClientHandler(context: tls, serverHostname: nil))
                }
                try channel.pipeline.syncOperations.addHandler(FrameRecorder(version: version, log: log))
            }
        }
        .connect(host: "127.0.0.1", port: port)
        .get()
    return (channel, log)
}

/// Encodes frames as a client of `version` sends them (one compression context for all of them).
public func encodeFrames(_ frames: [SPDYFrame], version: SPDYVersion) throws -> ByteBuffer {
    let encoder = try SPDYFrameEncoder(version: version, compression: .default(for: .client))
    var buffer = ByteBuffer()
    for frame in frames {
        try encoder.encode(frame, into: &buffer)
    }
    return buffer
}

public func requestHeaders(_ method: String, _ path: String) -> SPDYHeaders {
    [(":method", method), (":path", path), (":version", "HTTP/1.1"), (":scheme", "http"), (":host", "127.0.0.1")]
}

/// A control frame header: control bit, version, type, flags, 24-bit length.
public func controlHeader(version: UInt16, type: UInt16, flags: UInt8 = 0, length: Int) -> [UInt8] {
    [
        0x80 | UInt8(version >> 8), UInt8(truncatingIfNeeded: version), UInt8(type >> 8),
        UInt8(truncatingIfNeeded: type),
        flags, UInt8(truncatingIfNeeded: length >> 16), UInt8(truncatingIfNeeded: length >> 8),
        UInt8(truncatingIfNeeded: length),
    ]
}
