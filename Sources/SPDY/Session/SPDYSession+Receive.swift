import NIOCore

extension SPDYSession {
    /// Reads from the `recv` callback until it has nothing more, processing every
    /// frame (`recv()`).
    ///
    /// - Throws: ``SPDYError/eof`` (or whatever the callback threw) when the peer closed
    ///   the connection or reading failed; ``SPDYError/Code-swift.enum/invalidState``
    ///   without a `recv` callback; then the first error a notification callback threw.
    public func recv() throws {
        guard let receive = callbacks.recv else {
            throw SPDYError(.invalidState, "recv() needs a recv callback; use recv(_:) to pass bytes")
        }
        let length = configuration.receiveBufferSize
        while true {
            guard let bytes = try receive(self, length), bytes.readableBytes > 0 else { break }
            guard bytes.readableBytes <= length else {
                throw SPDYError(.callbackFailure, "the recv callback returned more than \(length) bytes")
            }
            process(bytes)
        }
        try rethrowCallbackError()
    }

    /// Processes received bytes (`recv(data)`, the reference's `mem_recv`). Bytes may
    /// come in pieces of any size.
    ///
    /// - Returns: the number of bytes processed: all of them.
    /// - Throws: the first error a notification callback threw, after all bytes were processed.
    @discardableResult
    public func recv(_ bytes: ByteBuffer) throws -> Int {
        process(bytes)
        try rethrowCallbackError()
        return bytes.readableBytes
    }

    /// Processes received bytes given as a byte sequence.
    @discardableResult
    public func recv<Bytes: Sequence<UInt8>>(bytes: Bytes) throws -> Int {
        var buffer = ByteBuffer()
        buffer.writeBytes(bytes)
        return try recv(buffer)
    }

    private func process(_ bytes: ByteBuffer) {
        // A failed session (GOAWAY queued for a protocol error or abuse) ignores what
        // follows: nothing the peer sends after it is processed or buffered.
        guard !failOnSend else { return }
        decoder.append(bytes: bytes)
        while !failOnSend {
            let event: SPDYFrameDecoder.Event?
            do {
                event = try decoder.nextFrame()
            } catch {
                handleDecodingError(error)
                continue
            }
            guard let event else { return }
            switch event {
            case .frame(let frame, let header):
                handleControlFrame(frame, header: header)
            case .dataChunk(let chunk):
                handleDataChunk(chunk)
            }
        }
    }

    // MARK: - Errors

    /// Answers a stream error: RST_STREAM with `status`, and the invalid-frame callback.
    private func rejectStreamFrame(_ streamID: SPDYStreamID, _ frame: SPDYFrame, status: SPDYStreamStatus) {
        // A refusal above our MAX_CONCURRENT_STREAMS is no protocol error: a client may send
        // more streams before our SETTINGS reaches it. The answers stay bounded by
        // maxQueuedFrames, and the refused streams cost no work.
        guard status == .refusedStream || recordStreamError() else { return }
        enqueuePeerProvokedAnswer(.rstStream(.init(streamID: streamID, status: status)))
        notify { try callbacks.onInvalidControlFrameReceived?(self, frame, status) }
    }

    /// Counts a stream error the peer provoked; `false` when that was one too many (the
    /// session is then cut off).
    private func recordStreamError() -> Bool {
        guard abuse.streamErrors.record(at: clock.now()) else {
            cutOff(.streamErrors)
            return false
        }
        return true
    }

    private func handleDecodingError(_ error: SPDYFrameDecodingError) {
        if let frame = error.frame, let streamID = frame.streamID,
            error.code == .invalidHeaderBlock || error.code == .frameTooLarge
        {
            receivedControlFrameHeader = error.header
            // FRAME_TOO_LARGE exists from SPDY/3 on; SPDY/2 peers get PROTOCOL_ERROR.
            let status: SPDYStreamStatus =
                error.code == .frameTooLarge && version != .v2 ? .frameTooLarge : .protocolError
            rejectStreamFrame(streamID, frame, status: status)
            return
        }
        let code: SPDYError.Code
        switch error.code {
        case .invalidFrame: code = .invalidFrame
        case .invalidHeaderBlock: code = .invalidHeaderBlock
        case .frameTooLarge: code = .frameTooLarge
        case .compressionError: code = .zlib
        }
        let payload = error.payload ?? ByteBuffer()
        notify { try callbacks.onControlFrameParseError?(self, error.header.type, error.header.bytes, payload, code) }
        failSession(status: .protocolError)
    }

    /// Counts a frame that carries nothing (a zero-length DATA frame or an empty HEADERS,
    /// both without FIN); a run longer than the limit ends the session.
    private func countEmptyFrame() {
        abuse.sequentialEmptyDataFrames += 1
        if abuse.sequentialEmptyDataFrames > abuse.limits.maxSequentialEmptyDataFrames {
            cutOff(.emptyDataFrames)
        }
    }

    // MARK: - Control frames

    private func handleControlFrame(_ frame: SPDYFrame, header: SPDYControlFrameHeader) {
        receivedControlFrameHeader = header
        if header.type.carriesHeaderBlock {
            // An empty HEADERS without FIN costs us a decompression and carries nothing:
            // it counts with empty DATA frames (CVE-2019-9518); any other block ends a run.
            if case .headers(let headers) = frame, headers.headers.isEmpty, !headers.flags.contains(.fin) {
                countEmptyFrame()
            } else {
                abuse.sequentialEmptyDataFrames = 0
            }
        }
        if case .unknown(let unknown) = frame {
            notify { try callbacks.onUnknownControlFrameReceived?(self, header.bytes, unknown.payload) }
            return
        }
        if case .synStream(let syn) = frame {
            synStreamReceived(syn, frame: frame, header: header)
            return
        }
        // Other control frames of another version are ignored.
        guard header.version == version.wireVersion else { return }
        switch frame {
        case .synReply(let f): synReplyReceived(f, frame: frame, header: header)
        case .rstStream(let f): rstStreamReceived(f, frame: frame, header: header)
        case .settings(let f): settingsReceived(f, frame: frame, header: header)
        case .ping(let f): pingReceived(f, frame: frame, header: header)
        case .goAway(let f): goAwayReceived(f, frame: frame, header: header)
        case .headers(let f): headersReceived(f, frame: frame, header: header)
        case .windowUpdate(let f): windowUpdateReceived(f, frame: frame, header: header)
        case .credential: notify { try callbacks.onControlFrameReceived?(self, frame, header) }
        case .noop, .synStream, .data, .unknown: break
        }
    }

    private func isNewPeerStreamID(_ id: SPDYStreamID) -> Bool {
        guard id != .zero else { return false }
        let peerParity = role == .server ? id.isClientInitiated : id.isServerInitiated
        return peerParity && lastReceivedStreamID < id
    }

    private func synStreamReceived(_ f: SPDYFrame.SynStream, frame: SPDYFrame, header: SPDYControlFrameHeader) {
        // No new streams once GOAWAY was sent or received.
        if anyGoAway { return }
        let status: SPDYStreamStatus?
        if f.streamID != .zero && lastReceivedStreamID == f.streamID {
            status = .protocolError
        } else if !isNewPeerStreamID(f.streamID) {
            notify { try callbacks.onInvalidControlFrameReceived?(self, frame, .protocolError) }
            failSession(status: .protocolError)
            return
        } else {
            lastReceivedStreamID = f.streamID
            status = validateIncomingSynStream(f, header: header)
        }
        if let status {
            rejectStreamFrame(f.streamID, frame, status: status)
            return
        }
        let fin = f.flags.contains(.fin)
        let unidirectional = f.flags.contains(.unidirectional)
        if !(fin && unidirectional) {
            openStream(
                f.streamID,
                machine: StreamStateMachine(peerSynStreamFin: fin, unidirectional: unidirectional),
                priority: f.priority,
                userData: nil
            )
            if f.associatedStreamID != .zero {
                self.stream(f.associatedStreamID)?.pushedStreams.append(f.streamID)
            }
        }
        notify { try callbacks.onControlFrameReceived?(self, frame, header) }
        if fin {
            notify { try callbacks.onRequestReceived?(self, f.streamID) }
            if unidirectional {
                // The stream never opened; its close is still reported.
                notify { try callbacks.onStreamClosed?(self, f.streamID, .ok) }
            }
        }
    }

    private func validateIncomingSynStream(_ f: SPDYFrame.SynStream, header: SPDYControlFrameHeader)
        -> SPDYStreamStatus?
    {
        if header.version != version.wireVersion { return .unsupportedVersion }
        if role == .server {
            if f.associatedStreamID != .zero || f.flags.contains(.unidirectional) { return .protocolError }
        } else {
            if f.associatedStreamID == .zero { return .invalidStream }
            if !f.flags.contains(.unidirectional) || stream(f.associatedStreamID) == nil { return .protocolError }
        }
        if incomingStreamLimitReached { return .refusedStream }
        return nil
    }

    private func synReplyReceived(_ f: SPDYFrame.SynReply, frame: SPDYFrame, header: SPDYControlFrameHeader) {
        guard let stream = stream(f.streamID) else {
            rejectStreamFrame(f.streamID, frame, status: .protocolError)
            return
        }
        let result = stream.machine.receiveSynReply(fin: f.flags.contains(.fin), version: version)
        acceptOrReject(result, stream, frame) {
            notify { try callbacks.onControlFrameReceived?(self, frame, header) }
        }
    }

    /// Acts on what a stream's state machine said of a received control frame: `accepted`
    /// reports it, then the stream closes if both halves now are; a refusal gets RST_STREAM.
    private func acceptOrReject(
        _ result: StreamStateMachine.ReceiveResult,
        _ stream: SPDYStream,
        _ frame: SPDYFrame,
        accepted: () -> Void
    ) {
        switch result {
        case .succeed:
            accepted()
        case .succeedAndClose:
            accepted()
            close(stream, status: .ok)
        case .ignore:
            break
        case .streamError(let status):
            rejectStreamFrame(stream.id, frame, status: status)
        }
    }

    private func headersReceived(_ f: SPDYFrame.Headers, frame: SPDYFrame, header: SPDYControlFrameHeader) {
        guard let stream = stream(f.streamID) else {
            rejectStreamFrame(f.streamID, frame, status: .protocolError)
            return
        }
        let fin = f.flags.contains(.fin)
        acceptOrReject(stream.machine.receiveHeaders(fin: fin), stream, frame) {
            notify { try callbacks.onControlFrameReceived?(self, frame, header) }
            if fin && !stream.machine.isLocallyInitiated {
                notify { try callbacks.onRequestReceived?(self, f.streamID) }
            }
        }
    }

    private func rstStreamReceived(_ f: SPDYFrame.RstStream, frame: SPDYFrame, header: SPDYControlFrameHeader) {
        // Rapid reset is the peer opening streams and resetting them at once: count resets of
        // its own streams (and of streams that do not exist). A peer refusing or cancelling
        // our streams is not counted.
        if !isLocallyInitiated(f.streamID) || stream(f.streamID) == nil {
            guard abuse.resets.record(at: clock.now()) else {
                cutOff(.resetFrames)
                return
            }
        }
        notify { try callbacks.onControlFrameReceived?(self, frame, header) }
        if role == .server && !isLocallyInitiated(f.streamID) && f.status == .cancel {
            closePushedStreams(of: f.streamID, status: f.status)
        }
        closeStream(f.streamID, status: f.status)
    }

    private func settingsReceived(_ f: SPDYFrame.Settings, frame: SPDYFrame, header: SPDYControlFrameHeader) {
        guard abuse.controlFrames.record(at: clock.now()) else {
            cutOff(.controlFrames)
            return
        }
        var seen = Set<UInt32>()
        for entry in f.entries {
            let id = entry.id.rawValue
            // The first value for an ID wins; unknown IDs are ignored.
            guard id >= 1, id <= SPDYSettingsID.max.rawValue, seen.insert(id).inserted else { continue }
            if entry.id == .initialWindowSize {
                guard entry.value <= UInt32(SPDYProtocol.maxWindowSize) else { continue }
                if flowControlOn {
                    updateInitialSendWindow(Int(entry.value))
                }
            }
            remoteSettings[Int(id)] = entry.value
        }
        notify { try callbacks.onControlFrameReceived?(self, frame, header) }
    }

    /// Applies a new INITIAL_WINDOW_SIZE from the peer to every open stream.
    private func updateInitialSendWindow(_ newValue: Int) {
        let delta = newValue - remoteInitialWindow
        for stream in streams.values {
            guard stream.window.changeInitialSendWindow(by: delta) else {
                enqueueControl(.rstStream(.init(streamID: stream.id, status: .flowControlError)))
                continue
            }
            resumeIfWindowOpened(stream)
        }
    }

    /// Puts DATA deferred for flow control back in the queue once its window is positive.
    private func resumeIfWindowOpened(_ stream: SPDYStream) {
        if stream.window.canSend, let data = stream.deferredData, stream.deferralReason == .flowControl {
            stream.deferredData = nil
            enqueueData(data)
        }
    }

    private func pingReceived(_ f: SPDYFrame.Ping, frame: SPDYFrame, header: SPDYControlFrameHeader) {
        guard abuse.controlFrames.record(at: clock.now()) else {
            cutOff(.controlFrames)
            return
        }
        guard f.id != 0 else { return }
        if outstandingPingIDs.remove(f.id) != nil {
            // The answer to one of our pings.
            notify { try callbacks.onControlFrameReceived?(self, frame, header) }
        } else if (role == .server) == (f.id & 1 == 1) {
            // The peer's ping: echo it.
            enqueuePeerProvokedAnswer(.ping(.init(id: f.id)))
            notify { try callbacks.onControlFrameReceived?(self, frame, header) }
        }
    }

    private func goAwayReceived(_ f: SPDYFrame.GoAway, frame: SPDYFrame, header: SPDYControlFrameHeader) {
        peerLastGoodStreamID = f.lastGoodStreamID
        goAwayReceived = true
        notify { try callbacks.onControlFrameReceived?(self, frame, header) }
        // Our streams above the peer's last good stream will never be processed.
        for id in streams.sortedIDs where isLocallyInitiated(id) && id > f.lastGoodStreamID {
            closeStream(id, status: .refusedStream)
        }
    }

    private func windowUpdateReceived(_ f: SPDYFrame.WindowUpdate, frame: SPDYFrame, header: SPDYControlFrameHeader) {
        guard flowControlOn else { return }
        let delta = Int(f.deltaWindowSize)
        if f.streamID == .zero && sessionFlowControlOn {
            guard sessionWindow.credit(delta) else {
                notify { try callbacks.onInvalidControlFrameReceived?(self, frame, .protocolError) }
                failSession(status: .protocolError)
                return
            }
            if sessionWindow.canSend {
                for stream in streams.values {
                    resumeIfWindowOpened(stream)
                }
            }
            notify { try callbacks.onControlFrameReceived?(self, frame, header) }
            return
        }
        guard let stream = stream(f.streamID) else { return }
        guard stream.window.credit(delta) else {
            rejectStreamFrame(f.streamID, frame, status: .flowControlError)
            return
        }
        resumeIfWindowOpened(stream)
        notify { try callbacks.onControlFrameReceived?(self, frame, header) }
    }

    // MARK: - DATA

    private func handleDataChunk(_ chunk: SPDYDataChunk) {
        let id = chunk.header.streamID
        // One lookup serves the whole chunk: the checks, the window and the end of the frame.
        let stream = stream(id)
        var allowed: Bool
        if let current = currentDataFrame {
            allowed = current.allowed
        } else {
            allowed = stream?.machine.acceptsData ?? false
        }
        let count = chunk.payload.readableBytes
        if count > 0 {
            if sessionFlowControlOn {
                if !sessionWindow.receive(count) && configuration.enforcesReceiveWindow && !failOnSend {
                    failSession(status: .protocolError)
                }
                acknowledge(count, as: .received, stream: nil)
                if !allowed && configuration.manualDataConsumption {
                    acknowledge(count, as: .consumed, stream: nil)
                }
            }
            if flowControlOn && allowed, let stream {
                if !stream.window.receive(count) && configuration.enforcesReceiveWindow {
                    // The peer sent more than the window we advertised.
                    if recordStreamError() {
                        enqueuePeerProvokedAnswer(.rstStream(.init(streamID: id, status: .flowControlError)))
                    }
                    allowed = false
                } else if !(chunk.isEndOfFrame && chunk.header.flags.contains(.fin)) {
                    acknowledge(count, as: .received, stream: stream)
                }
            }
            if allowed {
                notify { try callbacks.onDataChunkReceived?(self, chunk.header.flags, id, chunk.payload) }
            }
        }
        if chunk.isEndOfFrame {
            if chunk.header.length == 0 && !chunk.header.flags.contains(.fin) {
                countEmptyFrame()
            } else {
                abuse.sequentialEmptyDataFrames = 0
            }
            currentDataFrame = nil
            dataFrameReceived(chunk.header)
        } else {
            currentDataFrame = (id, allowed)
        }
    }

    private func dataFrameReceived(_ header: SPDYDataFrameHeader) {
        let id = header.streamID
        guard let stream = stream(id) else {
            dataForMissingStream(id)
            return
        }
        let fin = header.flags.contains(.fin)
        let result = stream.machine.receiveEndOfDataFrame(fin: fin, version: version)
        switch result {
        case .succeed, .succeedAndClose:
            notify { try callbacks.onDataReceived?(self, header.flags, id, header.length) }
            if fin && !stream.machine.isLocallyInitiated {
                notify { try callbacks.onRequestReceived?(self, id) }
            }
            if result == .succeedAndClose {
                close(stream, status: .ok)
            }
        case .ignore:
            break
        case .streamError(let status):
            rejectDataFrame(id, status: status)
        }
    }

    /// DATA for a stream the session does not hold. Stream 0 is never a stream: a session
    /// error. Once we sent GOAWAY, nothing (draft 3 §2.2.2 asks for no answer then).
    /// A stream that was never opened gets INVALID_STREAM (every draft's "data frame for a
    /// stream-id which is not open"/"does not exist"). A closed stream gets
    /// PROTOCOL_ERROR in SPDY/3 and 3.1 (draft 3 §2.3.7, "a data frame after the stream is
    /// closed"), unless we reset it lately: the peer may have sent that DATA before our
    /// RST_STREAM reached it, and §2.4.2 lets us coalesce the answers. SPDY/2 ignores DATA
    /// on a closed stream, as draft 2 says ("must ignore the data received after the
    /// teardown").
    private func dataForMissingStream(_ id: SPDYStreamID) {
        if id == .zero {
            failSession(status: .protocolError)
            return
        }
        guard !goAwaySent else { return }
        let neverOpened: Bool
        if isLocallyInitiated(id) {
            neverOpened = UInt64(id.rawValue) >= nextStreamID
        } else {
            neverOpened = id > lastReceivedStreamID
        }
        if neverOpened {
            rejectDataFrame(id, status: .invalidStream)
        } else if version != .v2 && !recentlyReset.contains(id) {
            rejectDataFrame(id, status: .protocolError)
        }
    }

    /// Answers a DATA frame with a stream error: RST_STREAM with `status` (the stream, if
    /// open, closes once it is sent). Counts toward the peer's stream-error limit.
    private func rejectDataFrame(_ id: SPDYStreamID, status: SPDYStreamStatus) {
        guard recordStreamError() else { return }
        enqueuePeerProvokedAnswer(.rstStream(.init(streamID: id, status: status)))
    }
}
