import COpenSSL
import NIOConcurrencyHelpers
import NIOCore
import NIOSPDY
import NIOSSL
import NIOTLS
import SPDY

/// An `SSL_CTX` of the system OpenSSL with the SPDY protocol lists, the TLS versions and
/// cipher suites of ``SPDYTLS`` and the negotiation callbacks; shared by the connections of
/// one server or client.
final class OpenSSLContext: @unchecked Sendable {
    enum Role {
        case server
        case client(offerALPN: Bool, offerNPN: Bool)
    }

    let role: Role
    /// The protocols we speak, most preferred first.
    let protocols: [String]
    /// `protocols` in the wire format (length-prefixed names), as ALPN and NPN send them.
    let wireProtocols: UnsafeMutableBufferPointer<UInt8>
    let ctx: OpaquePointer
    let verifyCertificates: Bool

    /// A context for `role` offering `versions` (then `http/1.1` with `offeringHTTP1`),
    /// accepting TLS `minimumTLSVersion` and later (a client offering NPN only stops at TLS
    /// 1.2, as NPN does not exist in TLS 1.3), presenting `identity`; a client with `verify`
    /// checks the server's certificate against `trustRoots` (DER), or the system's roots when
    /// `nil`.
    init(
        role: Role,
        versions: [SPDYVersion],
        offeringHTTP1: Bool = false,
        minimumTLSVersion: TLSVersion,
        identity: SPDYTLS.Identity?,
        verify: Bool,
        trustRoots: [[UInt8]]?
    ) throws {
        self.role = role
        self.verifyCertificates = verify
        protocols = SPDYTLS.protocolNames(versions, offeringHTTP1: offeringHTTP1)
        let wire = SPDYNegotiation.wireFormat(protocols)
        wireProtocols = .allocate(capacity: wire.count)
        _ = wireProtocols.initialize(from: wire)
        let isServer: Bool
        if case .server = role { isServer = true } else { isServer = false }
        guard let ctx = SSL_CTX_new(isServer ? TLS_server_method() : TLS_client_method()) else {
            wireProtocols.deallocate()
            throw OpenSSLContext.error("SSL_CTX_new")
        }
        self.ctx = ctx
        Self.liveContexts.withLockedValue { $0 += 1 }
        // From here on deinit frees what was made.
        guard copenssl_ctx_set_min_proto_version(ctx, Self.protocolVersion(minimumTLSVersion)) == 1 else {
            throw OpenSSLContext.error("SSL_CTX_set_min_proto_version")
        }
        if case .client(offerALPN: false, _) = role {
            _ = copenssl_ctx_set_max_proto_version(ctx, copenssl_tls1_2_version)
        }
        guard SSL_CTX_set_cipher_list(ctx, SPDYTLS.cipherList(minimumTLSVersion: minimumTLSVersion)) == 1 else {
            throw OpenSSLContext.error("SSL_CTX_set_cipher_list")
        }
        if SPDYTLS.isLegacy(minimumTLSVersion) {
            // OpenSSL 3 allows TLS 1.0 and 1.1 (SHA-1 and MD5 in the handshake) only at
            // security level 0; the cipher list above still limits the suites.
            SSL_CTX_set_security_level(ctx, 0)
        }
        _ = copenssl_ctx_set_mode(ctx, copenssl_mode_release_buffers)
        if let identity {
            try useIdentity(identity)
        }
        let me = Unmanaged.passUnretained(self).toOpaque()
        switch role {
        case .server:
            SSL_CTX_set_alpn_select_cb(ctx, openSSLALPNSelect, me)
            SSL_CTX_set_next_protos_advertised_cb(ctx, openSSLNPNAdvertise, me)
            SSL_CTX_set_client_hello_cb(ctx, openSSLClientHello, me)
        case .client(let offerALPN, let offerNPN):
            if offerALPN {
                guard SSL_CTX_set_alpn_protos(ctx, wireProtocols.baseAddress, UInt32(wireProtocols.count)) == 0 else {
                    throw OpenSSLContext.error("SSL_CTX_set_alpn_protos")
                }
            }
            if offerNPN {
                SSL_CTX_set_next_proto_select_cb(ctx, openSSLNPNSelect, me)
            }
            if verify {
                SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, nil)
                if let trustRoots {
                    let store = SSL_CTX_get_cert_store(ctx)
                    for der in trustRoots {
                        let certificate = try OpenSSLContext.x509(der)
                        defer { X509_free(certificate) }
                        guard X509_STORE_add_cert(store, certificate) == 1 else {
                            throw OpenSSLContext.error("X509_STORE_add_cert")
                        }
                    }
                } else if SSL_CTX_set_default_verify_paths(ctx) != 1 {
                    throw OpenSSLContext.error("SSL_CTX_set_default_verify_paths")
                }
            } else {
                SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, nil)
            }
        }
    }

    /// Live contexts, for leak tests.
    static let liveContexts = NIOLockedValueBox(0)

    /// OpenSSL's number for `version`.
    static func protocolVersion(_ version: TLSVersion) -> Int32 {
        switch version {
        case .tlsv1: copenssl_tls1_version
        case .tlsv11: copenssl_tls1_1_version
        case .tlsv12: copenssl_tls1_2_version
        case .tlsv13: copenssl_tls1_3_version
        }
    }

    /// Whether this is a client context that offers NPN.
    var offersNPN: Bool {
        if case .client(_, offerNPN: true) = role { return true }
        return false
    }

    deinit {
        Self.liveContexts.withLockedValue { $0 -= 1 }
        SSL_CTX_free(ctx)
        wireProtocols.deallocate()
    }

    private func useIdentity(_ identity: SPDYTLS.Identity) throws {
        guard let leaf = identity.certificateChain.first else {
            throw SPDYTLS.OpenSSLError(description: "the identity has no certificate")
        }
        let certificate = try OpenSSLContext.x509(try leaf.toDERBytes())
        defer { X509_free(certificate) }
        guard SSL_CTX_use_certificate(ctx, certificate) == 1 else {
            throw OpenSSLContext.error("SSL_CTX_use_certificate")
        }
        for intermediate in identity.certificateChain.dropFirst() {
            let extra = try OpenSSLContext.x509(try intermediate.toDERBytes())
            // On success the context owns `extra`.
            guard copenssl_ctx_add_extra_chain_cert(ctx, extra) == 1 else {
                X509_free(extra)
                throw OpenSSLContext.error("SSL_CTX_add_extra_chain_cert")
            }
        }
        let keyBytes = try identity.privateKey.derBytes
        let key = keyBytes.withUnsafeBufferPointer { buffer -> OpaquePointer? in
            var pointer = buffer.baseAddress
            return d2i_AutoPrivateKey(nil, &pointer, buffer.count)
        }
        guard let key else { throw OpenSSLContext.error("cannot load the private key") }
        defer { EVP_PKEY_free(key) }
        guard SSL_CTX_use_PrivateKey(ctx, key) == 1, SSL_CTX_check_private_key(ctx) == 1 else {
            throw OpenSSLContext.error("the private key does not match the certificate")
        }
    }

    static func x509(_ der: [UInt8]) throws -> OpaquePointer {
        let certificate = der.withUnsafeBufferPointer { buffer -> OpaquePointer? in
            var pointer = buffer.baseAddress
            return d2i_X509(nil, &pointer, buffer.count)
        }
        guard let certificate else { throw error("cannot load a certificate") }
        return certificate
    }

    /// An error naming `what` failed, with the reasons on OpenSSL's error queue (which
    /// it empties).
    static func error(_ what: String) -> SPDYTLS.OpenSSLError {
        var reasons: [String] = []
        while true {
            let code = ERR_get_error()
            if code == 0 { break }
            var text = [CChar](repeating: 0, count: 256)
            ERR_error_string_n(code, &text, text.count)
            let bytes = text.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }
            reasons.append(String(decoding: bytes, as: UTF8.self))
        }
        return SPDYTLS.OpenSSLError(
            description: reasons.isEmpty ? what : "\(what): \(reasons.joined(separator: "; "))")
    }

    /// Our most preferred protocol in `wire` (a peer's list in the wire format).
    func choose(from wire: UnsafeBufferPointer<UInt8>) -> (offset: Int, length: Int)? {
        let offered = OpenSSLContext.entries(in: wire)
        for name in protocols {
            if let match = offered.first(where: { $0.name == name }) {
                return (match.offset, match.length)
            }
        }
        return nil
    }

    /// The names in `wire` (a list in the wire format) and where each one is.
    static func entries(in wire: UnsafeBufferPointer<UInt8>) -> [(name: String, offset: Int, length: Int)] {
        var entries: [(name: String, offset: Int, length: Int)] = []
        var index = 0
        while index < wire.count {
            let length = Int(wire[index])
            guard length > 0, index + 1 + length <= wire.count else { break }
            let name = String(decoding: wire[(index + 1)..<(index + 1 + length)], as: UTF8.self)
            entries.append((name, index + 1, length))
            index += 1 + length
        }
        return entries
    }
}

// MARK: - OpenSSL callbacks (C function pointers; context through the callback argument)

/// ALPN (server): our most preferred protocol among the client's; none → no ALPN.
private let openSSLALPNSelect:
    @convention(c) (
        OpaquePointer?, UnsafeMutablePointer<UnsafePointer<UInt8>?>?, UnsafeMutablePointer<UInt8>?,
        UnsafePointer<UInt8>?, UInt32, UnsafeMutableRawPointer?
    ) -> Int32 = { _, out, outLength, input, inputLength, argument in
        guard let argument, let input, let out, let outLength else { return copenssl_tlsext_err_noack }
        let context = Unmanaged<OpenSSLContext>.fromOpaque(argument).takeUnretainedValue()
        guard let choice = context.choose(from: UnsafeBufferPointer(start: input, count: Int(inputLength))) else {
            return copenssl_tlsext_err_noack
        }
        out.pointee = input + choice.offset
        outLength.pointee = UInt8(choice.length)
        return copenssl_tlsext_err_ok
    }

/// NPN (server): advertises our protocols.
private let openSSLNPNAdvertise:
    @convention(c) (
        OpaquePointer?, UnsafeMutablePointer<UnsafePointer<UInt8>?>?, UnsafeMutablePointer<UInt32>?,
        UnsafeMutableRawPointer?
    ) -> Int32 = { _, out, outLength, argument in
        guard let argument, let out, let outLength else { return copenssl_tlsext_err_noack }
        let context = Unmanaged<OpenSSLContext>.fromOpaque(argument).takeUnretainedValue()
        out.pointee = UnsafePointer(context.wireProtocols.baseAddress)
        outLength.pointee = UInt32(context.wireProtocols.count)
        return copenssl_tlsext_err_ok
    }

/// NPN (client): our most preferred protocol among the server's; none → the handshake fails.
private let openSSLNPNSelect:
    @convention(c) (
        OpaquePointer?, UnsafeMutablePointer<UnsafeMutablePointer<UInt8>?>?, UnsafeMutablePointer<UInt8>?,
        UnsafePointer<UInt8>?, UInt32, UnsafeMutableRawPointer?
    ) -> Int32 = { ssl, out, outLength, input, inputLength, argument in
        guard let argument, let input, let out, let outLength else { return copenssl_tlsext_err_alert_fatal }
        let context = Unmanaged<OpenSSLContext>.fromOpaque(argument).takeUnretainedValue()
        let offer = UnsafeBufferPointer(start: input, count: Int(inputLength))
        let choice = context.choose(from: offer)
        if let ssl, let handler = copenssl_get_ex_data_pointer(ssl) {
            let names = OpenSSLContext.entries(in: offer).map(\.name)
            let selected = choice.map { String(decoding: offer[($0.offset)..<($0.offset + $0.length)], as: UTF8.self) }
            Unmanaged<OpenSSLHandler>.fromOpaque(handler).takeUnretainedValue().npnObserver?(names, selected)
        }
        guard let choice else { return copenssl_tlsext_err_alert_fatal }
        out.pointee = UnsafeMutablePointer(mutating: input + choice.offset)
        outLength.pointee = UInt8(choice.length)
        return copenssl_tlsext_err_ok
    }

/// The ClientHello (server): a client offering NPN but no ALPN protocol of ours is held
/// to TLS 1.2 for this connection, since NPN does not exist in TLS 1.3.
private let openSSLClientHello:
    @convention(c) (OpaquePointer?, UnsafeMutablePointer<Int32>?, UnsafeMutableRawPointer?) -> Int32 = {
        ssl, _, argument in
        guard let ssl, let argument else { return copenssl_client_hello_success }
        let context = Unmanaged<OpenSSLContext>.fromOpaque(argument).takeUnretainedValue()
        var data: UnsafePointer<UInt8>?
        var length = 0
        guard SSL_client_hello_get0_ext(ssl, 13172, &data, &length) == 1 else {
            return copenssl_client_hello_success
        }
        var alpnAcceptable = false
        if SSL_client_hello_get0_ext(ssl, 16, &data, &length) == 1, let data, length >= 2 {
            let listLength = Int(data[0]) << 8 | Int(data[1])
            let list = UnsafeBufferPointer(start: data + 2, count: min(listLength, length - 2))
            alpnAcceptable = context.choose(from: list) != nil
        }
        if !alpnAcceptable {
            _ = copenssl_set_max_proto_version(ssl, copenssl_tls1_2_version)
        }
        return copenssl_client_hello_success
    }

// MARK: - The channel handler

/// TLS over the system OpenSSL for one connection, through two memory BIOs: ciphertext
/// from the channel goes into the read BIO, what OpenSSL writes to the write BIO goes to
/// the channel. When the handshake completes it fires
/// `TLSUserEvent.handshakeCompleted(negotiatedProtocol:)` with the protocol ALPN or NPN
/// selected, so `ApplicationProtocolNegotiationHandler` works as with swift-nio-ssl.
final class OpenSSLHandler: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer
    typealias OutboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    /// Live handlers and `SSL` objects, for leak tests.
    static let liveHandlers = NIOLockedValueBox(0)
    static let liveSSLObjects = NIOLockedValueBox(0)

    private enum State {
        case idle
        case handshaking
        case open
        case closed
    }

    private let context: OpenSSLContext
    private let serverName: String?
    private let maximumTLSVersion: TLSVersion?
    private var ssl: OpaquePointer?
    private var readBIO: OpaquePointer?
    private var writeBIO: OpaquePointer?
    private var state = State.idle
    private var pendingWrites: [(ByteBuffer, EventLoopPromise<Void>?)] = []
    private var flushPending = false
    /// Called (client) during the handshake with the server's NPN offer and our choice.
    var npnObserver: ((_ offered: [String], _ selected: String?) -> Void)?
    /// The mechanism that selected the protocol, once the handshake is done.
    private(set) var negotiatedBy: String?

    /// A handler for a connection of `context`; a client sends `serverName` by SNI and
    /// checks the certificate against it (or against the address when it is one), and
    /// offers TLS `maximumTLSVersion` at most (`nil`: the context's limit).
    init(context: OpenSSLContext, serverName: String? = nil, maximumTLSVersion: TLSVersion? = nil) {
        self.context = context
        self.serverName = serverName
        self.maximumTLSVersion = maximumTLSVersion
        Self.liveHandlers.withLockedValue { $0 += 1 }
    }

    deinit {
        freeSSL()
        Self.liveHandlers.withLockedValue { $0 -= 1 }
    }

    private var isServer: Bool {
        if case .server = context.role { return true }
        return false
    }

    func handlerAdded(context channelContext: ChannelHandlerContext) {
        do {
            try makeSSL()
        } catch {
            fail(error, context: channelContext)
            return
        }
        if channelContext.channel.isActive {
            startHandshake(context: channelContext)
        }
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        for (_, promise) in pendingWrites {
            promise?.fail(ChannelError.ioOnClosedChannel)
        }
        pendingWrites.removeAll()
        state = .closed
        freeSSL()
    }

    private func makeSSL() throws {
        ERR_clear_error()
        guard let ssl = SSL_new(context.ctx) else { throw OpenSSLContext.error("SSL_new") }
        Self.liveSSLObjects.withLockedValue { $0 += 1 }
        self.ssl = ssl
        guard let readBIO = BIO_new(BIO_s_mem()), let writeBIO = BIO_new(BIO_s_mem()) else {
            throw OpenSSLContext.error("BIO_new")
        }
        // The SSL owns both BIOs from here on.
        SSL_set_bio(ssl, readBIO, writeBIO)
        self.readBIO = readBIO
        self.writeBIO = writeBIO
        _ = copenssl_set_ex_data_pointer(ssl, Unmanaged.passUnretained(self).toOpaque())
        if isServer {
            SSL_set_accept_state(ssl)
        } else {
            SSL_set_connect_state(ssl)
            if let maximumTLSVersion {
                _ = copenssl_set_max_proto_version(ssl, OpenSSLContext.protocolVersion(maximumTLSVersion))
            }
            if let serverName {
                if (try? SocketAddress(ipAddress: serverName, port: 0)) != nil {
                    if context.verifyCertificates {
                        _ = X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), serverName)
                    }
                } else {
                    _ = copenssl_set_tlsext_host_name(ssl, serverName)
                    if context.verifyCertificates {
                        _ = SSL_set1_host(ssl, serverName)
                    }
                }
            }
        }
    }

    private func freeSSL() {
        if let ssl {
            SSL_free(ssl)
            Self.liveSSLObjects.withLockedValue { $0 -= 1 }
        }
        ssl = nil
        readBIO = nil
        writeBIO = nil
    }

    func channelActive(context: ChannelHandlerContext) {
        context.fireChannelActive()
        startHandshake(context: context)
    }

    private func startHandshake(context: ChannelHandlerContext) {
        guard state == .idle, ssl != nil else { return }
        state = .handshaking
        if !isServer {
            // The client speaks first: its ClientHello.
            advanceHandshake(context: context)
            writeCiphertext(context: context, promises: [])
        }
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var buffer = unwrapInboundIn(data)
        guard let readBIO, state == .handshaking || state == .open else { return }
        while buffer.readableBytes > 0 {
            let written = buffer.withUnsafeReadableBytes { bytes in
                BIO_write(readBIO, bytes.baseAddress, Int32(clamping: bytes.count))
            }
            guard written > 0 else {
                fail(OpenSSLContext.error("BIO_write"), context: context)
                return
            }
            buffer.moveReaderIndex(forwardBy: Int(written))
        }
        if state == .handshaking {
            advanceHandshake(context: context)
        }
        if state == .open {
            readPlaintext(context: context)
        }
        writeCiphertext(context: context, promises: [])
    }

    func channelInactive(context: ChannelHandlerContext) {
        if state == .handshaking {
            state = .closed
            context.fireErrorCaught(
                SPDYTLS.OpenSSLError(description: "the connection closed during the TLS handshake"))
        }
        state = .closed
        for (_, promise) in pendingWrites {
            promise?.fail(ChannelError.ioOnClosedChannel)
        }
        pendingWrites.removeAll()
        context.fireChannelInactive()
    }

    private func advanceHandshake(context: ChannelHandlerContext) {
        guard let ssl else { return }
        ERR_clear_error()
        let result = SSL_do_handshake(ssl)
        if result == 1 {
            state = .open
            var name: UnsafePointer<UInt8>?
            var length: UInt32 = 0
            SSL_get0_alpn_selected(ssl, &name, &length)
            if name != nil, length > 0 {
                negotiatedBy = "ALPN"
            } else {
                SSL_get0_next_proto_negotiated(ssl, &name, &length)
                if name != nil, length > 0 { negotiatedBy = "NPN" }
            }
            let negotiated = name.flatMap {
                length > 0 ? String(decoding: UnsafeBufferPointer(start: $0, count: Int(length)), as: UTF8.self) : nil
            }
            if negotiated == nil, self.context.offersNPN, SSL_version(ssl) == copenssl_tls1_3_version {
                // The server may speak NPN at TLS 1.2: the client tries again there.
                fail(SPDYTLS.NoProtocolAtTLS13(), context: context)
                return
            }
            writeCiphertext(context: context, promises: [])
            context.fireUserInboundEventTriggered(TLSUserEvent.handshakeCompleted(negotiatedProtocol: negotiated))
            if state == .open, flushPending {
                flushPending = false
                flushPlaintext(context: context)
            }
            return
        }
        let code = SSL_get_error(ssl, result)
        switch code {
        case SSL_ERROR_WANT_READ, SSL_ERROR_WANT_WRITE:
            return
        default:
            var reason = "TLS handshake failed"
            let verify = SSL_get_verify_result(ssl)
            if !isServer, verify != Int(X509_V_OK) {
                reason += " (certificate: \(String(cString: X509_verify_cert_error_string(verify))))"
            }
            fail(OpenSSLContext.error(reason), context: context)
        }
    }

    private func readPlaintext(context: ChannelHandlerContext) {
        while state == .open, let ssl {
            ERR_clear_error()
            var result: Int32 = 0
            var buffer = context.channel.allocator.buffer(capacity: 16_384)
            buffer.writeWithUnsafeMutableBytes(minimumWritableBytes: 16_384) { bytes in
                result = SSL_read(ssl, bytes.baseAddress, Int32(clamping: bytes.count))
                return max(0, Int(result))
            }
            if result > 0 {
                context.fireChannelRead(wrapInboundOut(buffer))
                continue
            }
            switch SSL_get_error(ssl, result) {
            case SSL_ERROR_WANT_READ, SSL_ERROR_WANT_WRITE:
                return
            case SSL_ERROR_ZERO_RETURN:
                // The peer's close_notify.
                closeTLS(context: context, mode: .all, promise: nil)
                return
            default:
                fail(OpenSSLContext.error("TLS read failed"), context: context)
                return
            }
        }
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        guard state != .closed else {
            promise?.fail(ChannelError.ioOnClosedChannel)
            return
        }
        pendingWrites.append((unwrapOutboundIn(data), promise))
    }

    func flush(context: ChannelHandlerContext) {
        if state == .open {
            flushPlaintext(context: context)
        } else {
            flushPending = true
        }
    }

    private func flushPlaintext(context: ChannelHandlerContext) {
        guard let ssl, !pendingWrites.isEmpty else { return }
        let writes = pendingWrites
        pendingWrites.removeAll()
        var promises: [EventLoopPromise<Void>] = []
        for (buffer, promise) in writes {
            if let promise { promises.append(promise) }
            guard buffer.readableBytes > 0 else { continue }
            ERR_clear_error()
            // A memory BIO takes everything: SSL_write writes the whole buffer.
            let result = buffer.withUnsafeReadableBytes { bytes in
                SSL_write(ssl, bytes.baseAddress, Int32(clamping: bytes.count))
            }
            if result <= 0 {
                let error = OpenSSLContext.error("TLS write failed")
                for promise in promises { promise.fail(error) }
                fail(error, context: context)
                return
            }
        }
        writeCiphertext(context: context, promises: promises)
    }

    /// Sends what OpenSSL wrote to the write BIO; `promises` complete with that write.
    private func writeCiphertext(context: ChannelHandlerContext, promises: [EventLoopPromise<Void>]) {
        guard let writeBIO else {
            for promise in promises { promise.fail(ChannelError.ioOnClosedChannel) }
            return
        }
        let pending = Int(BIO_ctrl_pending(writeBIO))
        guard pending > 0 else {
            for promise in promises { promise.succeed() }
            return
        }
        var buffer = context.channel.allocator.buffer(capacity: pending)
        buffer.writeWithUnsafeMutableBytes(minimumWritableBytes: pending) { bytes in
            max(0, Int(BIO_read(writeBIO, bytes.baseAddress, Int32(clamping: pending))))
        }
        var promise: EventLoopPromise<Void>?
        if !promises.isEmpty {
            let combined = context.eventLoop.makePromise(of: Void.self)
            for waiting in promises { combined.futureResult.cascade(to: waiting) }
            promise = combined
        }
        context.writeAndFlush(wrapOutboundOut(buffer), promise: promise)
    }

    func close(context: ChannelHandlerContext, mode: CloseMode, promise: EventLoopPromise<Void>?) {
        closeTLS(context: context, mode: mode, promise: promise)
    }

    private func closeTLS(context: ChannelHandlerContext, mode: CloseMode, promise: EventLoopPromise<Void>?) {
        if mode == .all, state == .open, let ssl {
            if flushPending || !pendingWrites.isEmpty {
                flushPlaintext(context: context)
            }
            ERR_clear_error()
            // close_notify; the peer's is not waited for.
            _ = SSL_shutdown(ssl)
            ERR_clear_error()
            writeCiphertext(context: context, promises: [])
        }
        if mode == .all { state = .closed }
        context.close(mode: mode, promise: promise)
    }

    /// An error closes this connection only.
    private func fail(_ error: any Error, context: ChannelHandlerContext) {
        guard state != .closed else { return }
        state = .closed
        // A pending alert goes out before the close.
        writeCiphertext(context: context, promises: [])
        context.fireErrorCaught(error)
        context.close(promise: nil)
    }
}
