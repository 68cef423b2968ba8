import DequeModule
import NIOCore
import NIOHTTP1
import NIOPosix

/// Why no backend connection could be had.
enum BackendUnavailable: Error, Hashable {
    /// Every backend refused or failed the connection (answered 502).
    case refused
    /// The connection did not come up in time (answered 504).
    case timedOut
    /// Every connection the event loop may open is busy, and none came free in time
    /// (answered 503).
    case saturated
}

/// The backend connections of one event loop: idle keep-alive connections per backend, new
/// ones made on demand (on this loop, so an exchange and its backend connection never cross
/// threads), and a cap on how many may be open at once. Used only on its event loop.
final class BackendPool: @unchecked Sendable {
    private struct Waiter {
        let id: Int
        let promise: EventLoopPromise<BackendConnection>
        let timer: Scheduled<Void>
    }

    let eventLoop: any EventLoop
    private let configuration: SPDYProxyConfiguration
    private let balancer: BackendBalancer
    private var idle: [SPDYProxyConfiguration.Backend: [BackendConnection]] = [:]
    /// Connections open or being opened.
    private var openCount = 0
    private var waiters = Deque<Waiter>()
    private var nextWaiterID = 0
    private var isClosed = false

    init(eventLoop: any EventLoop, configuration: SPDYProxyConfiguration, balancer: BackendBalancer) {
        self.eventLoop = eventLoop
        self.configuration = configuration
        self.balancer = balancer
    }

    /// A connection for one request: an idle one to the next backend in turn, or a new one
    /// (trying the backends in turn past those that refuse). `fresh` skips idle connections
    /// (a retry after a stale one failed).
    func acquire(fresh: Bool = false) -> EventLoopFuture<BackendConnection> {
        eventLoop.assertInEventLoop()
        let order = balancer.order()
        if !fresh {
            for index in order {
                if let connection = takeIdle(balancer.backends[index]) {
                    return eventLoop.makeSucceededFuture(connection)
                }
            }
        }
        guard !isClosed else { return eventLoop.makeFailedFuture(BackendUnavailable.refused) }
        guard openCount < configuration.maxConnectionsPerEventLoop else {
            return wait()
        }
        openCount += 1
        let promise = eventLoop.makePromise(of: BackendConnection.self)
        connect(order: order[...], lastError: .refused, promise: promise)
        return promise.futureResult
    }

    /// Gives a connection back after an exchange: kept idle if it can serve another request,
    /// else closed.
    func release(_ connection: BackendConnection, reusable: Bool) {
        eventLoop.assertInEventLoop()
        connection.delegate = nil
        guard reusable, !isClosed, connection.isActive else {
            connection.close()
            return
        }
        connection.isReused = true
        if let waiter = waiters.popFirst() {
            // Someone waits for a connection: this one, whatever its backend.
            waiter.timer.cancel()
            waiter.promise.succeed(connection)
            return
        }
        var list = idle[connection.backend, default: []]
        guard list.count < configuration.maxIdleConnectionsPerBackend else {
            connection.close()
            return
        }
        connection.isIdle = true
        connection.idleTimer = eventLoop.scheduleTask(in: configuration.idleConnectionTimeout) { [self] in
            self.removeIdle(connection)
            connection.close()
        }
        list.append(connection)
        idle[connection.backend] = list
        // An idle connection keeps reading, to notice the backend closing it.
        connection.resumeReading()
    }

    /// Closes every idle connection and refuses new ones (the proxy is stopping).
    func close() {
        eventLoop.assertInEventLoop()
        isClosed = true
        let all = idle.values.flatMap { $0 }
        idle = [:]
        for connection in all { connection.close() }
        while let waiter = waiters.popFirst() {
            waiter.timer.cancel()
            waiter.promise.fail(BackendUnavailable.saturated)
        }
    }

    /// The number of idle connections (for tests).
    var idleCount: Int { idle.values.reduce(0) { $0 + $1.count } }

    private func takeIdle(_ backend: SPDYProxyConfiguration.Backend) -> BackendConnection? {
        while var list = idle[backend], let connection = list.popLast() {
            idle[backend] = list.isEmpty ? nil : list
            connection.idleTimer?.cancel()
            connection.idleTimer = nil
            connection.isIdle = false
            if connection.isActive { return connection }
        }
        return nil
    }

    private func removeIdle(_ connection: BackendConnection) {
        guard connection.isIdle, var list = idle[connection.backend] else { return }
        connection.isIdle = false
        list.removeAll { $0 === connection }
        idle[connection.backend] = list.isEmpty ? nil : list
    }

    private func wait() -> EventLoopFuture<BackendConnection> {
        let promise = eventLoop.makePromise(of: BackendConnection.self)
        let id = nextWaiterID
        nextWaiterID += 1
        let timer = eventLoop.scheduleTask(in: configuration.connectTimeout) { [self] in
            if let index = self.waiters.firstIndex(where: { $0.id == id }) {
                self.waiters.remove(at: index)
                promise.fail(BackendUnavailable.saturated)
            }
        }
        waiters.append(Waiter(id: id, promise: promise, timer: timer))
        return promise.futureResult
    }

    /// Tries the backends in `order` until one accepts; `openCount` already counts this
    /// connection.
    private func connect(
        order: ArraySlice<Int>, lastError: BackendUnavailable, promise: EventLoopPromise<BackendConnection>
    ) {
        guard let index = order.first, !isClosed else {
            openCount -= 1
            promise.fail(isClosed ? BackendUnavailable.refused : lastError)
            return
        }
        let backend = balancer.backends[index]
        let connection = BackendConnection(backend: backend)
        let bootstrap = ClientBootstrap(group: eventLoop)
            .connectTimeout(configuration.connectTimeout)
            .channelOption(.socketOption(.tcp_nodelay), value: 1)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHTTPClientHandlers()
                    try channel.pipeline.syncOperations.addHandler(connection)
                }
            }
        // An address literal needs no resolver (NIO's runs getaddrinfo on another thread).
        let connected: EventLoopFuture<any Channel>
        if let address = try? SocketAddress(ipAddress: backend.host, port: backend.port) {
            connected = bootstrap.connect(to: address)
        } else {
            connected = bootstrap.connect(host: backend.host, port: backend.port)
        }
        connected
            .hop(to: eventLoop)
            .whenComplete { [self] result in
                switch result {
                case .success:
                    self.balancer.markUp(index)
                    if connection.isActive {
                        connection.onClose = { [self] closed in
                            self.removeIdle(closed)
                            self.openCount -= 1
                            self.serveWaiterWithNewConnection()
                        }
                        promise.succeed(connection)
                    } else {
                        // Closed before it could be used (no onClose was set to count it).
                        self.openCount -= 1
                        promise.fail(BackendUnavailable.refused)
                    }
                case .failure(let error):
                    self.balancer.markDown(index)
                    var timedOut = false
                    if case .connectTimeout? = error as? ChannelError { timedOut = true }
                    self.connect(order: order.dropFirst(), lastError: timedOut ? .timedOut : .refused, promise: promise)
                }
            }
    }

    /// A connection closed: a request waiting for one may now open its own.
    private func serveWaiterWithNewConnection() {
        guard let waiter = waiters.first, openCount < configuration.maxConnectionsPerEventLoop, !isClosed else {
            return
        }
        waiters.removeFirst()
        waiter.timer.cancel()
        openCount += 1
        connect(order: balancer.order()[...], lastError: .refused, promise: waiter.promise)
    }
}
