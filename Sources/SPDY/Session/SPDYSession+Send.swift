import NIOCore

extension SPDYSession {
    /// Sends queued frames through the `send` callback until the queue is empty or
    /// the callback takes nothing (`send`).
    ///
    /// Frames go out in priority order: PING first, then SETTINGS, then frames of
    /// streams by priority (FIFO within a priority); SYN_STREAMs go out in the order
    /// they were submitted while the peer's MAX_CONCURRENT_STREAMS allows. A DATA
    /// stream keeps sending while nothing of higher priority waits.
    ///
    /// - Throws: the error of the `send` callback or of a data provider (fatal), then
    ///   the first error a notification callback threw.
    public func send() throws {
        while true {
            if active == nil {
                guard let item = popNextItem() else { break }
                active = try prepare(item)
                guard active != nil else { continue }
            }
            guard try transmitActiveFrame() else { break }
        }
        try rethrowCallbackError()
    }

    /// Writes the active frame; returns `false` when the callback would block.
    ///
    /// `active` is updated in place rather than copied out and back: an `ActiveFrame`
    /// holds two multi-payload enums and three buffers, and copying it whole cost more
    /// than writing a 4 KiB DATA frame's header and payload.
    private func transmitActiveFrame() throws -> Bool {
        while active != nil {
            if let head = active!.head {
                let taken = try write(head)
                guard taken > 0 else { return false }
                if taken < head.readableBytes {
                    active!.head!.moveReaderIndex(forwardBy: taken)
                    continue
                }
                // Drop the reference so the session's frame buffer is reused, not copied.
                active!.head = nil
            }
            if let body = active!.body, body.readableBytes > 0 {
                let taken = try write(body)
                guard taken > 0 else { return false }
                active!.body!.moveReaderIndex(forwardBy: taken)
                chargeSendWindows(streamID: active!.item.dataStreamID, taken)
                if active!.body!.readableBytes > 0 { continue }
            }
            var sent: ActiveFrame? = nil
            swap(&sent, &active)
            sent!.body = nil
            try frameSent(sent!)
            return true
        }
        return true
    }

    private func write(_ bytes: ByteBuffer) throws -> Int {
        guard let send = callbacks.send else { return bytes.readableBytes }
        let taken = try send(self, bytes)
        guard taken >= 0, taken <= bytes.readableBytes else {
            throw SPDYError(.callbackFailure, "the send callback reported \(taken) of \(bytes.readableBytes) bytes")
        }
        return taken
    }

    private func chargeSendWindows(streamID: SPDYStreamID?, _ count: Int) {
        guard flowControlOn, let streamID else { return }
        if sessionFlowControlOn {
            sessionWindow.sent(count)
        }
        stream(streamID)?.window.sent(count)
    }

    // MARK: - Preparing frames

    /// Turns a queued item into bytes, or handles why it cannot be sent now.
    private func prepare(_ item: OutboundItem) throws -> ActiveFrame? {
        switch item.payload {
        case .control, .windowUpdate, .ping, .rstStream:
            let frame = item.payload.controlFrame!
            let streamUserData: Any? =
                if case .control(let control) = item.payload { control.streamUserData } else { nil }
            if case .synStream(let syn) = frame {
                // The stream exists from here on, so callbacks can read its user data.
                openStream(
                    syn.streamID, machine: StreamStateMachine(), priority: syn.priority, userData: streamUserData)
            }
            if let failure = sendPrecondition(of: frame) {
                controlFrameNotSent(frame, failure)
                return nil
            }
            frameBuffer.clear()
            do {
                try encoder.encode(frame, into: &frameBuffer)
            } catch {
                controlFrameNotSent(frame, error.sessionErrorCode)
                return nil
            }
            if let word0 = frameBuffer.getInteger(at: frameBuffer.readerIndex, as: UInt32.self),
                let word1 = frameBuffer.getInteger(at: frameBuffer.readerIndex + 4, as: UInt32.self)
            {
                sentControlFrameHeader = SPDYControlFrameHeader(
                    version: UInt16(truncatingIfNeeded: word0 >> 16) & 0x7fff,
                    type: SPDYFrameType(rawValue: UInt16(truncatingIfNeeded: word0)),
                    flags: UInt8(truncatingIfNeeded: word1 >> 24),
                    length: Int(word1 & 0xff_ffff)
                )
            }
            notify { try callbacks.beforeControlFrameSend?(self, frame) }
            return ActiveFrame(item: item, head: frameBuffer, body: nil)
        case .data(let data):
            guard let stream = stream(data.streamID), canSendData(stream) else {
                return nil
            }
            return try readData(data, stream: stream, item: item)
        }
    }

    private func controlFrameNotSent(_ frame: SPDYFrame, _ code: SPDYError.Code) {
        if case .windowUpdate = frame {
            // The library sends WINDOW_UPDATE on its own; failures are not reported.
        } else {
            notify { try callbacks.onControlFrameNotSent?(self, frame, code) }
        }
        if case .synStream(let syn) = frame {
            closeStream(syn.streamID, status: .internalError)
        }
    }

    private func sendPrecondition(of frame: SPDYFrame) -> SPDYError.Code? {
        switch frame {
        case .synStream(let f):
            if anyGoAway { return .synStreamNotAllowed }
            if f.associatedStreamID != .zero && stream(f.associatedStreamID) == nil { return .streamClosed }
            return nil
        case .synReply(let f):
            guard let stream = stream(f.streamID) else { return .streamClosed }
            return stream.machine.refusalOfSynReply()
        case .headers(let f):
            guard let stream = stream(f.streamID) else { return .streamClosed }
            return stream.machine.refusalOfHeadersOrData()
        case .windowUpdate(let f):
            if f.streamID == .zero && sessionFlowControlOn { return nil }
            guard let stream = stream(f.streamID) else { return .streamClosed }
            return stream.machine.refusalOfWindowUpdate()
        case .goAway:
            return goAwaySent ? .goAwayAlreadySent : nil
        default:
            return nil
        }
    }

    /// Whether the stream's DATA may go out now: its state allows it and none waits deferred.
    private func canSendData(_ stream: SPDYStream) -> Bool {
        stream.machine.refusalOfHeadersOrData() == nil && stream.deferredData == nil
    }

    /// The most the next DATA frame of `stream` may carry.
    private func nextDataLength(_ stream: SPDYStream) -> Int {
        var length = configuration.dataFramePayloadSize
        guard flowControlOn else { return length }
        length = min(length, stream.window.sendable)
        if sessionFlowControlOn {
            length = min(length, sessionWindow.sendable)
        }
        return max(length, 0)
    }

    private func deferData(_ data: OutboundData, stream: SPDYStream, reason: DeferralReason) {
        stream.deferredData = data
        stream.deferralReason = reason
    }

    /// Reads the next DATA frame of a stream from its provider.
    private func readData(_ data: OutboundData, stream: SPDYStream, item: OutboundItem) throws -> ActiveFrame? {
        let length = nextDataLength(stream)
        guard length > 0 else {
            if !stream.flowControlStalled {
                stream.flowControlStalled = true
                flowControlStallCount &+= 1
            }
            deferData(data, stream: stream, reason: .flowControl)
            return nil
        }
        guard let provider = data.provider else { return nil }
        let result: SPDYDataReadResult
        do {
            result = try provider.read(self, data.streamID, length)
        } catch let error as SPDYError where error.code == .temporalCallbackFailure {
            enqueueControl(.rstStream(.init(streamID: data.streamID, status: .internalError)))
            return nil
        }
        switch result {
        case .deferred:
            deferData(data, stream: stream, reason: .application)
            return nil
        case .data(let payload, let endOfData):
            guard payload.readableBytes <= length else {
                throw SPDYError(
                    .callbackFailure,
                    "the data provider returned \(payload.readableBytes) bytes; at most \(length) were asked for"
                )
            }
            if endOfData { data.reachedEnd = true }
            let flags: SPDYDataFlags = endOfData && data.finishesStream ? .fin : []
            frameBuffer.clear()
            try encoder.encodeDataFrameHeader(
                streamID: data.streamID,
                flags: flags,
                length: payload.readableBytes,
                into: &frameBuffer
            )
            stream.flowControlStalled = false
            var frame = ActiveFrame(item: item, head: frameBuffer, body: payload)
            frame.dataFlags = flags
            frame.dataLength = payload.readableBytes
            return frame
        }
    }

    // MARK: - After a frame went out

    private func frameSent(_ sent: ActiveFrame) throws {
        switch sent.item.payload {
        case .control(let control):
            controlFrameSent(control.frame, dataProvider: control.dataProvider)
            control.releaseReferences()
            controlRecycler.retire(control)
        case .windowUpdate, .ping, .rstStream:
            controlFrameSent(sent.item.payload.controlFrame!, dataProvider: nil)
        case .data(let data):
            try dataFrameSent(sent, data)
        }
    }

    private func controlFrameSent(_ frame: SPDYFrame, dataProvider: SPDYDataProvider?) {
        notify { try callbacks.onControlFrameSent?(self, frame) }
        switch frame {
        case .synStream(let f):
            guard let stream = stream(f.streamID) else { return }
            let closed = stream.machine.sentSynStream(
                fin: f.flags.contains(.fin), unidirectional: f.flags.contains(.unidirectional))
            if f.associatedStreamID != .zero {
                self.stream(f.associatedStreamID)?.pushedStreams.append(f.streamID)
            }
            if closed { close(stream, status: .ok) }
            if let dataProvider {
                submitData(streamID: f.streamID, flags: .fin, dataProvider: dataProvider)
            }
        case .synReply(let f):
            guard let stream = stream(f.streamID) else { return }
            if stream.machine.sentSynReply(fin: f.flags.contains(.fin)) { close(stream, status: .ok) }
            if let dataProvider {
                submitData(streamID: f.streamID, flags: .fin, dataProvider: dataProvider)
            }
        case .rstStream(let f):
            if role == .client && isLocallyInitiated(f.streamID) && f.status == .cancel {
                closePushedStreams(of: f.streamID, status: f.status)
            }
            closeStream(f.streamID, status: f.status)
        case .goAway:
            goAwaySent = true
        case .headers(let f):
            guard let stream = stream(f.streamID), f.flags.contains(.fin) else { return }
            if stream.machine.sentFin() { close(stream, status: .ok) }
        default:
            break
        }
    }

    private func dataFrameSent(_ sent: ActiveFrame, _ data: OutboundData) throws {
        notify { try callbacks.onDataSent?(self, sent.dataFlags, data.streamID, sent.dataLength) }
        if data.reachedEnd {
            if data.finishesStream, let stream = stream(data.streamID), stream.machine.sentFin() {
                close(stream, status: .ok)
            }
            data.releaseReferences()
            dataRecycler.retire(data)
            return
        }
        guard let stream = stream(data.streamID), canSendData(stream) else { return }
        // Keep sending this stream only while nothing of higher priority waits.
        if let next = peekNextItem(), sent.item.priority >= next.priority {
            var item = sent.item
            item.sequence = nextSequenceNumber()
            queue.insert(item)
            return
        }
        active = try readData(data, stream: stream, item: sent.item)
    }
}

extension OutboundItem {
    /// The stream of a DATA item.
    var dataStreamID: SPDYStreamID? {
        if case .data(let data) = payload { return data.streamID }
        return nil
    }
}

extension SPDYFrameEncodingError {
    /// The session error a refused frame is reported with.
    var sessionErrorCode: SPDYError.Code {
        switch self {
        case .frameTooLarge: return .frameTooLarge
        case .compressionFailed: return .zlib
        case .invalidHeaderName, .invalidHeaderValue, .headerFieldTooLong, .invalidField, .frameTypeNotInVersion:
            return .invalidArgument
        }
    }
}
