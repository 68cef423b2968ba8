import NIOCore
import SPDY

/// The server side of one connection: collects requests, runs a request handler for
/// each complete one, and sends what it answers.
final class SPDYServerConnection {
    final class Request {
        var headers = SPDYHeaders()
        var body = ByteBuffer()
        var tooLarge = false
        var priority: UInt8 = 0
        var writer: SPDYResponseWriter?
        var dispatched = false
    }

    let server: SPDYServer
    let connection: SPDYConnection
    let version: SPDYVersion
    private var requests: [SPDYStreamID: Request] = [:]

    init(server: SPDYServer, connection: SPDYConnection, version: SPDYVersion) {
        self.server = server
        self.connection = connection
        self.version = version
    }

    var session: SPDYSession { connection.session }

    func install() {
        let maxStreams = server.configuration.maxConcurrentStreams
        connection.onActive = { connection in
            try? connection.session.submitSettings(entries: [.init(id: .maxConcurrentStreams, value: maxStreams)])
        }
        connection.onClose = { [self] _, _ in
            for request in requests.values {
                request.writer?.streamClosed()
            }
            requests = [:]
        }
        // The session can outlive this object by a little (the channel handler is released
        // after the close): its callbacks hold it weakly and do nothing once it is gone.
        session.callbacks.onControlFrameReceived = { [weak self] _, frame, _ in
            guard let self else { return }
            switch frame {
            case .synStream(let syn):
                let request = Request()
                request.headers = syn.headers
                request.priority = syn.priority
                requests[syn.streamID] = request
            case .headers(let more):
                if let request = requests[more.streamID] {
                    for (name, value) in more.headers { request.headers.add(name: name, value: value) }
                }
            default:
                break
            }
        }
        session.callbacks.onDataChunkReceived = { [weak self] _, _, id, chunk in
            guard let self, let request = requests[id], !request.tooLarge else { return }
            if request.body.readableBytes + chunk.readableBytes > server.configuration.maxRequestBodySize {
                request.tooLarge = true
                request.body = ByteBuffer()
                dispatch(id, request)
                return
            }
            var chunk = chunk
            request.body.writeBuffer(&chunk)
        }
        session.callbacks.onRequestReceived = { [weak self] _, id in
            guard let self, let request = requests[id], !request.dispatched else { return }
            dispatch(id, request)
        }
        session.callbacks.onStreamClosed = { [weak self] _, id, _ in
            if let request = self?.requests.removeValue(forKey: id) {
                request.writer?.streamClosed()
            }
        }
    }

    private func makeWriter(_ id: SPDYStreamID) -> SPDYResponseWriter {
        SPDYResponseWriter(connection: connection, eventLoop: connection.eventLoop!, streamID: id)
    }

    private func dispatch(_ id: SPDYStreamID, _ request: Request) {
        request.dispatched = true
        let headers = request.headers
        let required = [":method", ":path", ":version", ":scheme", ":host"].map { headers[$0] }
        let complete = required.allSatisfy { $0 != nil }
        let acceptsIncomplete = server.handlerType.handlesIncompleteRequests
        let handler =
            (complete || acceptsIncomplete) && !request.tooLarge ? server.handlerType.init() : SPDYRequestHandler()
        handler.command = required[0] ?? ""
        handler.path = required[1] ?? ""
        handler.requestVersion = required[2] ?? ""
        handler.scheme = required[3] ?? ""
        handler.host = required[4] ?? ""
        handler.requestHeaders = headers
        handler.headers = headers.filter { !$0.name.hasPrefix(":") }
        handler.clientAddress = connection.remoteAddress
        handler.server = server
        handler.rfile = request.body
        handler.streamID = id
        handler.version = version
        handler.connection = connection
        let writer = makeWriter(id)
        request.writer = writer
        request.body = ByteBuffer()
        handler.wfile = writer
        // A handler may answer after its connection is gone (an async responder that was
        // still working when the client went away): the answer is then dropped.
        handler.submitResponse = { [weak self] handler in
            guard let self else {
                handler.headersSent = true
                return
            }
            submit(handler, id)
        }
        handler.pushHandler = { [weak self] handler, headers, body in
            self?.push(handler, request, headers, body)
        }
        if !complete && !acceptsIncomplete {
            handler.sendError(400, message: "Missing a required header (:method, :path, :version, :scheme, :host)")
        } else if request.tooLarge {
            handler.sendError(413)
        } else {
            handler.handle()
        }
        if !handler.headersSent {
            if handler.streaming {
                // A streaming handler that has set its status answers now; one that has not
                // (an async responder, say) calls endHeaders() when it knows its answer.
                if handler.status != nil { handler.endHeaders() }
            } else if handler.status == nil && writer.bufferedBytes == 0 {
                handler.sendError(500, message: "The handler sent no response")
            } else {
                handler.endHeaders()
            }
        }
        if !handler.streaming {
            writer.finish()
        }
        connection.flush()
    }

    private func submit(_ handler: SPDYRequestHandler, _ id: SPDYStreamID) {
        handler.headersSent = true
        var headers = SPDYHeaders()
        headers.reserveCapacity(handler.responseHeaders.count + 2)
        headers.add(name: ":status", value: handler.status ?? "200 OK")
        headers.add(name: ":version", value: "HTTP/1.1")
        for (name, value) in handler.responseHeaders where !ConnectionSpecificHeaders.forbiddenInResponse(name) {
            headers.add(name: name, value: value)
        }
        let writer = handler.wfile!
        let empty = writer.isFinished && writer.bufferedBytes == 0
        do {
            try session.submitResponse(streamID: id, headers: headers, dataProvider: empty ? nil : writer.dataProvider)
            writer.attached = true
        } catch {
            server.logger.warning("cannot submit a response", metadata: ["error": "\(error)"])
            try? session.submitRstStream(streamID: id, status: .internalError)
        }
        connection.flush()
    }

    private func push(
        _ handler: SPDYRequestHandler,
        _ request: Request,
        _ headers: SPDYHeaders,
        _ body: ByteBuffer
    ) -> SPDYResponseWriter? {
        guard let eventLoop = connection.eventLoop else { return nil }
        var headers = headers
        for name in ConnectionSpecificHeaders.responseNames {
            headers.remove(name: name)
        }
        let pushedRequest = Request()
        pushedRequest.dispatched = true
        var writerReference: SPDYResponseWriter?
        let provider = SPDYDataProvider { session, id, length in
            try writerReference?.dataProvider.read(session, id, length) ?? .data(ByteBuffer(), endOfData: true)
        }
        let id: SPDYStreamID
        do {
            id = try session.submitSynStream(
                flags: .unidirectional,
                priority: request.priority,
                headers: headers,
                associatedStreamID: handler.streamID,
                dataProvider: provider
            )
        } catch {
            return nil
        }
        let writer = SPDYResponseWriter(connection: connection, eventLoop: eventLoop, streamID: id)
        writerReference = writer
        writer.attached = true
        pushedRequest.writer = writer
        requests[id] = pushedRequest
        if body.readableBytes > 0 {
            writer.write(body)
            writer.finish()
        }
        connection.flush()
        return writer
    }
}
