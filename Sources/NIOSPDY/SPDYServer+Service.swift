import NIOCore
import ServiceLifecycle

extension SPDYServer: Service {
    /// Runs the server as a swift-service-lifecycle `Service`: starts listening (unless
    /// ``start()`` was called already) and returns once the server has stopped.
    ///
    /// A graceful shutdown of the `ServiceGroup` (SIGTERM, say) shuts the server down
    /// gracefully: no new connections, GOAWAY on every connection, requests in flight
    /// finish (see ``shutdownGracefully(timeout:)``). Cancelling the task closes every
    /// connection at once.
    ///
    /// ```swift
    /// let group = ServiceGroup(services: [server], gracefulShutdownSignals: [.sigterm], logger: logger)
    /// try await group.run()
    /// ```
    public func run() async throws {
        if !isListening {
            try start()
        }
        await withTaskCancellationHandler {
            await withGracefulShutdownHandler {
                await self.waitUntilStopped()
            } onGracefulShutdown: {
                Task { try? await self.shutdownGracefully() }
            }
        } onCancel: {
            Task { try? await self.shutdownGracefully(timeout: .zero) }
        }
    }
}
