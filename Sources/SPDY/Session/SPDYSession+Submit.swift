import NIOCore

extension SPDYSession {
    // MARK: - Submitting

    func validate(_ headers: SPDYHeaders) throws(SPDYError) {
        do {
            try HeaderBlockSerializer.validate(headers, version: version)
        } catch {
            throw .invalidArgument(error.description)
        }
    }

    func submitSynStreamShared(
        flags: SPDYControlFlags,
        associatedStreamID: SPDYStreamID,
        priority: UInt8,
        headers: SPDYHeaders,
        dataProvider: SPDYDataProvider?,
        streamUserData: Any?
    ) throws(SPDYError) -> SPDYStreamID {
        try validate(headers)
        guard nextStreamID <= UInt64(SPDYStreamID.maxID.rawValue) else {
            throw SPDYError(.streamIDNotAvailable)
        }
        let id = SPDYStreamID(uncheckedRawValue: UInt32(nextStreamID))
        nextStreamID += 2
        let frame = SPDYFrame.synStream(
            .init(
                streamID: id,
                associatedStreamID: role == .server ? associatedStreamID : .zero,
                priority: min(priority, lowestPriority),
                flags: flags.intersection([.fin, .unidirectional]),
                headers: headers
            )
        )
        // SYN_STREAMs leave in submission order (their IDs must increase on the wire), at the
        // lowest priority; a pushed stream goes at its associated stream's priority instead, so
        // it is announced before the response that finishes the associated stream.
        var queuePriority = Int(lowestPriority)
        if role == .server, associatedStreamID != .zero, let associated = stream(associatedStreamID) {
            queuePriority = Int(associated.priority)
        }
        synQueue.append(
            OutboundItem(
                priority: queuePriority,
                sequence: nextSequenceNumber(),
                payload: .control(makeControl(frame, dataProvider: dataProvider, streamUserData: streamUserData))
            )
        )
        return id
    }

    /// Submits a request: a SYN_STREAM, then the provider's data as DATA frames
    /// (`submit_request`). Without a provider the SYN_STREAM carries FIN.
    ///
    /// The headers must hold `:method`, `:scheme`, `:path`, `:version` and `:host`
    /// (written as `method`, `scheme`, `url`, `version`, `host` on SPDY/2); names are
    /// lowercased when sent. A priority above ``lowestPriority`` is lowered to it.
    ///
    /// - Returns: the new stream's ID, allocated now: IDs go out in submission order.
    /// - Throws: ``SPDYError/Code-swift.enum/invalidArgument`` for an invalid header,
    ///   ``SPDYError/Code-swift.enum/streamIDNotAvailable`` when stream IDs are exhausted.
    @discardableResult
    public func submitRequest(
        priority: UInt8,
        headers: SPDYHeaders,
        dataProvider: SPDYDataProvider? = nil,
        streamUserData: Any? = nil
    ) throws(SPDYError) -> SPDYStreamID {
        try submitSynStreamShared(
            flags: dataProvider == nil ? .fin : [],
            associatedStreamID: .zero,
            priority: priority,
            headers: headers,
            dataProvider: dataProvider,
            streamUserData: streamUserData
        )
    }

    /// Submits a SYN_STREAM with explicit flags (`submit_syn_stream`). The associated
    /// stream is used for server push on a server and ignored on a client.
    ///
    /// With a data provider (an extension of the reference API), its data follows as
    /// DATA frames once the SYN_STREAM is out, the last one with FIN: the way to push a
    /// resource with a body.
    ///
    /// - Returns: the new stream's ID.
    @discardableResult
    public func submitSynStream(
        flags: SPDYControlFlags,
        priority: UInt8,
        headers: SPDYHeaders,
        associatedStreamID: SPDYStreamID = .zero,
        streamUserData: Any? = nil,
        dataProvider: SPDYDataProvider? = nil
    ) throws(SPDYError) -> SPDYStreamID {
        try submitSynStreamShared(
            flags: dataProvider == nil ? flags : flags.subtracting(.fin),
            associatedStreamID: associatedStreamID,
            priority: priority,
            headers: headers,
            dataProvider: dataProvider,
            streamUserData: streamUserData
        )
    }

    /// Submits a response: a SYN_REPLY, then the provider's data as DATA frames
    /// (`submit_response`). Without a provider the SYN_REPLY carries FIN. The headers must
    /// hold `:status` and `:version`.
    public func submitResponse(
        streamID: SPDYStreamID,
        headers: SPDYHeaders,
        dataProvider: SPDYDataProvider? = nil
    ) throws(SPDYError) {
        try validate(headers)
        enqueueControl(
            .synReply(.init(streamID: streamID, flags: dataProvider == nil ? .fin : [], headers: headers)),
            dataProvider: dataProvider
        )
    }

    /// Submits a SYN_REPLY (`submit_syn_reply`).
    public func submitSynReply(
        flags: SPDYControlFlags,
        streamID: SPDYStreamID,
        headers: SPDYHeaders
    ) throws(SPDYError) {
        try validate(headers)
        enqueueControl(.synReply(.init(streamID: streamID, flags: flags.intersection(.fin), headers: headers)))
    }

    /// Submits a HEADERS frame (`submit_headers`).
    public func submitHeaders(
        flags: SPDYControlFlags,
        streamID: SPDYStreamID,
        headers: SPDYHeaders
    ) throws(SPDYError) {
        try validate(headers)
        enqueueControl(.headers(.init(streamID: streamID, flags: flags.intersection(.fin), headers: headers)))
    }

    /// Submits DATA frames from a provider (`submit_data`). With ``SPDYDataFlags/fin`` the
    /// last frame carries FIN.
    public func submitData(streamID: SPDYStreamID, flags: SPDYDataFlags, dataProvider: SPDYDataProvider) {
        enqueueData(makeData(streamID: streamID, finishesStream: flags.contains(.fin), provider: dataProvider))
    }

    /// Submits a RST_STREAM (`submit_rst_stream`). The stream stops sending at once; it
    /// closes when the frame goes out.
    ///
    /// - Throws: ``SPDYError/Code-swift.enum/invalidArgument`` for status ``SPDYStreamStatus/ok``
    ///   or a status the version does not define.
    public func submitRstStream(streamID: SPDYStreamID, status: SPDYStreamStatus) throws(SPDYError) {
        guard status.isDefined(in: version) else {
            throw .invalidArgument("\(status) is not a RST_STREAM status in \(version)")
        }
        enqueueControl(.rstStream(.init(streamID: streamID, status: status)))
    }

    /// Submits a PING (`submit_ping`).
    ///
    /// - Returns: the ping's ID: odd from a client, even from a server.
    @discardableResult
    public func submitPing() -> UInt32 {
        if nextPingID > 0x7fff_ffff {
            nextPingID = role == .client ? 1 : 2
        }
        let id = nextPingID
        nextPingID += 2
        outstandingPingIDs.insert(id)
        enqueueControl(.ping(.init(id: id)))
        return id
    }

    /// Submits a GOAWAY (`submit_goaway`) with the last stream the peer opened as
    /// last-good-stream-ID. The status is not sent on SPDY/2. Streams in flight go on.
    public func submitGoAway(status: SPDYGoAwayStatus = .ok) {
        enqueueControl(.goAway(.init(lastGoodStreamID: lastReceivedStreamID, status: status)))
    }

    /// Submits a GOAWAY and closes the connection once it is sent (`fail_session`):
    /// afterwards ``wantRead`` and ``wantWrite`` are both `false`.
    public func failSession(status: SPDYGoAwayStatus = .protocolError) {
        failOnSend = true
        submitGoAway(status: status)
    }

    /// Stores local settings and submits a SETTINGS frame (`submit_settings`). Entries
    /// are sorted by ID; the values apply at once (a new INITIAL_WINDOW_SIZE to the
    /// windows we advertise, a new MAX_CONCURRENT_STREAMS to the streams we accept).
    ///
    /// - Throws: ``SPDYError/Code-swift.enum/invalidArgument`` for an ID outside 1...8, a
    ///   repeated ID, or an INITIAL_WINDOW_SIZE above 2^31−1.
    public func submitSettings(
        flags: SPDYSettingsFlags = [],
        entries: [SPDYFrame.SettingsEntry]
    ) throws(SPDYError) {
        var seen = Set<UInt32>()
        for entry in entries {
            guard entry.id.rawValue >= 1, entry.id.rawValue <= SPDYSettingsID.max.rawValue,
                seen.insert(entry.id.rawValue).inserted
            else {
                throw .invalidArgument("settings ID \(entry.id.rawValue) is invalid or repeated")
            }
            if entry.id == .initialWindowSize && entry.value > UInt32(SPDYProtocol.maxWindowSize) {
                throw .invalidArgument("INITIAL_WINDOW_SIZE \(entry.value) exceeds 2^31-1")
            }
        }
        let sorted = entries.sorted { $0.id < $1.id }
        var windowChanged = false
        for entry in sorted {
            if entry.id == .initialWindowSize {
                let delta = Int(entry.value) - localInitialWindow
                for stream in streams.values {
                    stream.window.changeInitialReceiveWindow(by: delta)
                }
                windowChanged = delta != 0
            }
            localSettings[Int(entry.id.rawValue)] = entry.value
        }
        enqueueControl(.settings(.init(flags: flags, entries: sorted)))
        if windowChanged && flowControlOn {
            acknowledgeAfterWindowChange()
        }
    }

    /// Submits a WINDOW_UPDATE (`submit_window_update`): `delta` more bytes may come on
    /// the stream, or on the session with stream 0 (SPDY/3.1).
    ///
    /// - Throws: ``SPDYError/Code-swift.enum/invalidArgument`` for a delta outside 1...2^31−1
    ///   or stream 0 before SPDY/3.1, ``SPDYError/Code-swift.enum/streamClosed`` for a stream
    ///   that is not open, ``SPDYError/Code-swift.enum/invalidState`` on SPDY/2 (no flow control).
    public func submitWindowUpdate(streamID: SPDYStreamID, delta: Int) throws(SPDYError) {
        guard flowControlOn else {
            throw SPDYError(.invalidState, "no flow control (SPDY/2, or a spdystream-compatible session)")
        }
        guard delta >= 1, delta <= SPDYProtocol.maxWindowSize else {
            throw .invalidArgument("a window delta must be in 1...2^31-1, not \(delta)")
        }
        if streamID == .zero {
            guard sessionFlowControlOn else {
                throw .invalidArgument("stream 0 has a window only in SPDY/3.1")
            }
            sessionWindow.grant(delta)
            enqueueWindowUpdate(stream: nil, delta)
        } else {
            guard let stream = stream(streamID) else { throw SPDYError(.streamClosed) }
            stream.window.grant(delta)
            enqueueWindowUpdate(stream: stream, delta)
        }
    }

    /// Reports that the application consumed `size` received bytes of a stream
    /// (`session_consume`), with ``Configuration-swift.struct/manualDataConsumption``:
    /// WINDOW_UPDATE goes out once half a window is consumed.
    ///
    /// - Throws: ``SPDYError/Code-swift.enum/invalidArgument`` for stream 0,
    ///   ``SPDYError/Code-swift.enum/invalidState`` without manual consumption.
    public func consume(streamID: SPDYStreamID, size: Int) throws(SPDYError) {
        guard streamID != .zero else { throw .invalidArgument("stream 0 cannot be consumed") }
        try consumeSession(size: size)
        try consumeStream(streamID: streamID, size: size)
    }

    /// Like ``consume(streamID:size:)`` for the stream's window only
    /// (`nghttp2_session_consume_stream`): with ``consumeSession(size:)`` for the session
    /// window, an application can give the session window back as DATA arrives while each
    /// stream's window waits for its reader, so that one stream nobody reads does not hold up
    /// the others on SPDY/3.1.
    ///
    /// - Throws: as ``consume(streamID:size:)``.
    public func consumeStream(streamID: SPDYStreamID, size: Int) throws(SPDYError) {
        guard streamID != .zero else { throw .invalidArgument("stream 0 cannot be consumed") }
        try checkManualConsumption(size)
        if flowControlOn, let stream = stream(streamID) {
            acknowledge(size, as: .consumed, stream: stream)
        }
    }

    /// Like ``consume(streamID:size:)`` for the SPDY/3.1 session window only
    /// (`nghttp2_session_consume_connection`); nothing on earlier versions.
    ///
    /// - Throws: ``SPDYError/Code-swift.enum/invalidState`` without manual consumption.
    public func consumeSession(size: Int) throws(SPDYError) {
        try checkManualConsumption(size)
        if sessionFlowControlOn {
            acknowledge(size, as: .consumed, stream: nil)
        }
    }

    private func checkManualConsumption(_ size: Int) throws(SPDYError) {
        guard configuration.manualDataConsumption else {
            throw SPDYError(.invalidState, "manualDataConsumption is off")
        }
        guard size >= 0 else { throw .invalidArgument("size must not be negative") }
    }

    /// Puts a stream's deferred DATA back in the queue (`resume_data`).
    ///
    /// - Returns: `false` when the stream does not exist, has nothing deferred, or waits
    ///   for flow-control credit rather than for the application.
    @discardableResult
    public func resumeData(streamID: SPDYStreamID) -> Bool {
        guard let stream = stream(streamID), let data = stream.deferredData,
            stream.deferralReason == .application
        else { return false }
        stream.deferredData = nil
        enqueueData(data)
        return true
    }

    /// Replaces the data provider of a stream's DATA that has not all gone out yet: deferred,
    /// queued, being sent, or still waiting behind the stream's SYN_STREAM or SYN_REPLY. The
    /// next read goes to `provider`. This is what the reference's application does by assigning
    /// a new `read_cb` to a provider it already submitted; a ``SPDYDataProvider`` is a value
    /// the session copied, so it is done here instead.
    ///
    /// - Returns: `false` when no DATA of the stream waits.
    @discardableResult
    public func replaceDataProvider(streamID: SPDYStreamID, with provider: SPDYDataProvider) -> Bool {
        func replaceIn(_ payload: OutboundItem.Payload) -> Bool {
            switch payload {
            case .data(let data) where data.streamID == streamID && data.provider != nil:
                data.replaceProvider(provider)
                return true
            case .control(let control) where control.dataProvider != nil && control.frame.streamID == streamID:
                control.replaceDataProvider(provider)
                return true
            default:
                return false
            }
        }
        if let data = stream(streamID)?.deferredData {
            data.replaceProvider(provider)
            return true
        }
        if let active, replaceIn(active.item.payload) { return true }
        for item in queue.unordered where replaceIn(item.payload) { return true }
        for item in synQueue where replaceIn(item.payload) { return true }
        return false
    }

    /// Queues an answer the peer provoked (a PING echo, a RST_STREAM for its bad frame), unless
    /// answers pile up because the peer does not read them: then the session is failed.
    func enqueuePeerProvokedAnswer(_ frame: SPDYFrame) {
        guard !failOnSend else { return }
        guard outboundQueueSize < configuration.maxQueuedFrames else {
            cutOff(.queuedFrames)
            return
        }
        enqueueControl(frame)
    }

    /// Ends the session because the peer passed one of the abuse limits: GOAWAY
    /// PROTOCOL_ERROR, and nothing more it sends is processed.
    func cutOff(_ kind: SPDYAbuse) {
        if abuseDetected == nil { abuseDetected = kind }
        failSession(status: .protocolError)
    }
}
