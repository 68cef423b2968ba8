import NIOCore
import NIOPosix
import SPDY
import Testing

@testable import SPDYKubernetes

@Suite("portforward: our client against our server, to a loopback echo server")
struct PortForwardTests {
    /// Sends `bytes` on a forwarded connection, half-closes, and reads the echo to its end.
    static func echo(_ bytes: [UInt8], over stream: PortForwardStream) async throws -> [UInt8] {
        async let received = stream.data.inbound.collect(upTo: 16 << 20)
        var rest = ByteBuffer(bytes: bytes)
        while rest.readableBytes > 0 {
            try await stream.data.write(rest.readSlice(length: min(rest.readableBytes, 40_000))!)
        }
        try await stream.data.finish()
        return try await Array(received.readableBytesView)
    }

    @Test("Two sequential and two concurrent connections over one session, bytes checked")
    func connections() async throws {
        let echo = try await EchoServer.start()
        let server = try await KubernetesTestServer.start(forward: PortForwardServer.loopback())
        let client = try await PortForwardClient.connect(server.endpoint, namespace: "default", pod: "demo")
        let port = UInt16(echo.port)
        for round in 0..<2 {
            let bytes = randomBytes(200_000, seed: UInt64(round))
            let stream = try await client.openConnection(port: port)
            #expect(stream.requestID == round)
            #expect(try await Self.echo(bytes, over: stream) == bytes)
            #expect(try await stream.error() == nil)
        }
        async let a = Self.echo(randomBytes(1_000_000, seed: 7), over: client.openConnection(port: port))
        async let b = Self.echo(randomBytes(1_000_000, seed: 8), over: client.openConnection(port: port))
        let (echoedA, echoedB) = try await (a, b)
        #expect(echoedA == randomBytes(1_000_000, seed: 7))
        #expect(echoedB == randomBytes(1_000_000, seed: 8))
        #expect(echo.connections.withLockedValue { $0 } == 4)
        client.close()
        await server.stop()
        try await echo.channel.close()
    }

    @Test("A local listener forwards to the pod's port")
    func localForward() async throws {
        let echo = try await EchoServer.start()
        let server = try await KubernetesTestServer.start(forward: PortForwardServer.loopback())
        let client = try await PortForwardClient.connect(server.endpoint, namespace: "default", pod: "demo")
        let forwarder = try await client.forward(remotePort: UInt16(echo.port))
        let local = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .channelOption(.allowRemoteHalfClosure, value: true)
            .connect(to: forwarder.localAddress!) { channel in
                channel.eventLoop.makeCompletedFuture {
                    try NIOAsyncChannel<ByteBuffer, ByteBuffer>(
                        wrappingChannelSynchronously: channel, configuration: .init(isOutboundHalfClosureEnabled: true))
                }
            }
        let bytes = randomBytes(300_000)
        let echoed = try await local.executeThenClose { inbound, outbound in
            try await outbound.write(ByteBuffer(bytes: bytes))
            outbound.finish()
            var all: [UInt8] = []
            for try await chunk in inbound { all += chunk.readableBytesView }
            return all
        }
        #expect(echoed == bytes)
        await forwarder.close()
        client.close()
        await server.stop()
        try await echo.channel.close()
    }

    @Test("Nothing listens on the port: the kubelet's message on the error stream, and the data stream ends")
    func refusedPort() async throws {
        // A port nothing listens on: bind one, note it, close it.
        let probe = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .bind(host: "127.0.0.1", port: 0).get()
        let closedPort = UInt16(probe.localAddress!.port!)
        try await probe.close()
        let server = try await KubernetesTestServer.start(forward: PortForwardServer.loopback(podName: "demo"))
        let client = try await PortForwardClient.connect(server.endpoint, namespace: "default", pod: "demo")
        let stream = try await client.openConnection(port: closedPort)
        let message = try await stream.error()
        #expect(
            message?.hasPrefix(
                "error forwarding port \(closedPort) to pod demo, uid : dial tcp 127.0.0.1:\(closedPort)") == true)
        for try await _ in stream.data.inbound {}
        client.close()
        await server.stop()
    }

    @Test("A stream without a valid port or with an unknown type is reset; the session goes on")
    func badStreams() async throws {
        let echo = try await EchoServer.start()
        let server = try await KubernetesTestServer.start(forward: PortForwardServer.loopback())
        let connection = try await KubernetesConnection.connect(
            to: server.endpoint, path: "/api/v1/namespaces/default/pods/demo/portforward",
            streamProtocols: [PortForwardServer.streamProtocol])
        for headers: SPDYHeaders in [
            [("streamtype", "data"), ("requestid", "0")],
            [("streamtype", "data"), ("port", "0"), ("requestid", "0")],
            [("streamtype", "data"), ("port", "http"), ("requestid", "0")],
            [("streamtype", "bogus"), ("port", "80"), ("requestid", "0")],
        ] {
            await #expect(throws: (any Error).self) { try await connection.openStream(headers: headers) }
        }
        // The session still serves a good pair.
        let client = try await PortForwardClient.connect(server.endpoint, namespace: "default", pod: "demo")
        let stream = try await client.openConnection(port: UInt16(echo.port))
        #expect(try await Self.echo([1, 2, 3], over: stream) == [1, 2, 3])
        connection.close()
        client.close()
        await server.stop()
        try await echo.channel.close()
    }

    @Test("A pair that never completes times out with the kubelet's message")
    func incompletePair() async throws {
        let server = try await KubernetesTestServer.start(
            portForward: .init(streamTimeout: .milliseconds(300)), forward: PortForwardServer.loopback())
        let connection = try await KubernetesConnection.connect(
            to: server.endpoint, path: "/api/v1/namespaces/default/pods/demo/portforward",
            streamProtocols: [PortForwardServer.streamProtocol])
        let errorStream = try await connection.openStream(headers: [
            ("streamtype", "error"), ("port", "80"), ("requestid", "5"),
        ])
        try await errorStream.finish()
        let message = try await errorStream.inbound.collect(upTo: 4096)
        #expect(String(buffer: message).hasSuffix("timed out waiting for streams"))
        connection.close()
        await server.stop()
    }
}

@Suite("portforward and resize limits")
struct KubernetesLimitTests {
    @Test("Pairs beyond maxConcurrentConnections are refused on their error stream; the first goes on")
    func pairLimit() async throws {
        let release = AsyncStream<Void>.makeStream()
        let server = try await KubernetesTestServer.start(
            portForward: .init(maxConcurrentConnections: 1),
            forward: { request in
                try await request.data.write("first")
                for await _ in release.stream {}
            })
        let client = try await PortForwardClient.connect(server.endpoint, namespace: "default", pod: "demo")
        let first = try await client.openConnection(port: 80)
        var iterator = first.data.inbound.makeAsyncIterator()
        #expect(try await iterator.next().map { String(buffer: $0) } == "first")
        let second = try await client.openConnection(port: 80)
        #expect(try await second.error() == "too many forwarded connections on one connection")
        release.continuation.finish()
        #expect(try await first.error() == nil)
        client.close()
        await server.stop()
    }

    @Test("Resize messages: sizes split across chunks are read; an endless line is refused at 4 KiB")
    func resizeDecoder() throws {
        var decoder = TerminalSizeDecoder()
        #expect(try decoder.feed(Array(#"{"Width":100,"He"#.utf8)).isEmpty)
        #expect(
            try decoder.feed(Array("ight\":40}\n{\"Width\":1,\"Height\":2}\n".utf8))
                == [TerminalSize(width: 100, height: 40), TerminalSize(width: 1, height: 2)])
        #expect(throws: RemoteCommandProtocolError.self) { try decoder.feed(Array("{\"Width\":x}\n".utf8)) }
        var endless = TerminalSizeDecoder()
        #expect(throws: RemoteCommandProtocolError.self) {
            try endless.feed([UInt8](repeating: UInt8(ascii: " "), count: 5000))
        }
    }
}
