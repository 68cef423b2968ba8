import NIOCore
import NIOPosix
import SPDY
import SPDYTestSupport
import Testing

@testable import NIOSPDY

/// The async API: `configureAsyncSPDYPipeline` on both sides of a real TCP connection,
/// streams as `NIOAsyncChannel`s.
@Suite("Async pipeline: streams as NIOAsyncChannels")
struct AsyncPipelineTests {
    typealias StreamChannel = NIOAsyncChannel<SPDYStreamPayload, SPDYStreamPayload>

    static func wrap(_ stream: any Channel) -> EventLoopFuture<StreamChannel> {
        stream.eventLoop.makeCompletedFuture { try StreamChannel(wrappingChannelSynchronously: stream) }
    }

    /// Answers every stream with `:status 200` and its request body reversed in order of
    /// arrival (an echo), after the request's FIN.
    static func serve(_ stream: StreamChannel) async throws {
        try await stream.executeThenClose { inbound, outbound in
            var body = ByteBuffer()
            var path = ""
            for try await payload in inbound {
                switch payload {
                case .headers(let headers):
                    path = headers.headers[":path"] ?? ""
                    if headers.fin { break }
                case .data(var bytes, let fin):
                    body.writeBuffer(&bytes)
                    if !fin { continue }
                }
                if payload.fin { break }
            }
            try await outbound.write(
                .headers(.init(headers: [(":status", "200 OK"), (":version", "HTTP/1.1"), ("x-path", path)])))
            try await outbound.write(.data(body, fin: true))
        }
    }

    @Test("a request and a 1 MiB body each way over SPDY/3.1 and SPDY/2", arguments: [SPDYVersion.v3_1, .v2])
    func roundTrip(version: SPDYVersion) async throws {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let server = try await ServerBootstrap(group: group).bind(host: "127.0.0.1", port: 0) { channel in
            channel.configureAsyncSPDYPipeline(role: .server, version: version) { Self.wrap($0) }
        }
        let port = server.channel.localAddress!.port!
        try await withThrowingTaskGroup(of: Void.self) { tasks in
            tasks.addTask {
                try await server.executeThenClose { connections in
                    for try await connection in connections {
                        for try await stream in connection.inbound {
                            try await Self.serve(stream)
                        }
                    }
                }
            }
            let client = try await ClientBootstrap(group: group).connect(host: "127.0.0.1", port: port) { channel in
                channel.configureAsyncSPDYPipeline(role: .client, version: version) {
                    $0.eventLoop.makeSucceededVoidFuture()
                }
            }
            let upload = ByteBuffer(bytes: (0..<(1 << 20)).map { UInt8(truncatingIfNeeded: $0 &* 7) })
            let stream = try await client.openStream { Self.wrap($0) }
            let (status, echoed) = try await stream.executeThenClose { inbound, outbound in
                try await outbound.write(
                    .headers(
                        .init(
                            headers: [
                                (":method", "POST"), (":path", "/echo"), (":version", "HTTP/1.1"),
                                (":scheme", "http"), (":host", "127.0.0.1"),
                            ])))
                var rest = upload
                while rest.readableBytes > 0 {
                    let chunk = rest.readSlice(length: min(16_384, rest.readableBytes))!
                    try await outbound.write(.data(chunk, fin: rest.readableBytes == 0))
                }
                var status = ""
                var body = ByteBuffer()
                for try await payload in inbound {
                    switch payload {
                    case .headers(let headers): status = headers.headers[":status"] ?? status
                    case .data(var bytes, _): body.writeBuffer(&bytes)
                    }
                    if payload.fin { break }
                }
                return (status, body)
            }
            #expect(status == "200 OK")
            #expect(echoed == upload)
            try await client.ping()
            server.channel.close(promise: nil)
            client.shutdownGracefully()
            tasks.cancelAll()
        }
        try await group.shutdownGracefully()
    }
}
