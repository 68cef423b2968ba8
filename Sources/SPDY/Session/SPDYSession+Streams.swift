import DequeModule
import HeapModule
import NIOCore

extension SPDYSession {
    // MARK: - Streams

    /// The open stream with this ID.
    @inline(__always)
    func stream(_ id: SPDYStreamID) -> SPDYStream? {
        if let cached = cachedStream, cached.id == id { return cached }
        guard let found = streams[id] else { return nil }
        cachedStream = found
        return found
    }

    @discardableResult
    func openStream(
        _ id: SPDYStreamID,
        machine: StreamStateMachine,
        priority: UInt8,
        userData: Any?
    ) -> SPDYStream {
        let stream = streamRecycler.take() ?? SPDYStream()
        stream.open(
            id: id,
            machine: machine,
            priority: priority,
            sendWindow: remoteInitialWindow,
            recvWindow: localInitialWindow,
            userData: userData
        )
        streams.insert(stream)
        cachedStream = stream
        if isLocallyInitiated(id) {
            outgoingStreamCount += 1
        } else {
            incomingStreamCount += 1
        }
        return stream
    }

    func closeStream(_ id: SPDYStreamID, status: SPDYStreamStatus) {
        guard let stream = stream(id) else { return }
        close(stream, status: status)
    }

    /// Closes an open stream: reports it, then forgets it. Callers that hold the stream
    /// pass it, so the table is searched once (a closing DATA frame was looked up twice).
    func close(_ stream: SPDYStream, status: SPDYStreamStatus) {
        let id = stream.id
        // A caller's stream may have been closed meanwhile by a callback it ran: report a
        // stream's close once.
        guard streams[id] === stream else { return }
        notify { try callbacks.onStreamClosed?(self, id, status) }
        // The callback may have closed it already (by a reset that went out at once).
        guard streams.remove(id) === stream else { return }
        if cachedStream === stream { cachedStream = nil }
        if isLocallyInitiated(id) {
            outgoingStreamCount -= 1
        } else {
            incomingStreamCount -= 1
        }
        stream.releaseReferences()
        streamRecycler.retire(stream)
        if streams.isEmpty {
            streamRecycler.trim(to: Self.idleRecyclingLimit)
            controlRecycler.trim(to: Self.idleRecyclingLimit)
            dataRecycler.trim(to: Self.idleRecyclingLimit)
        }
    }

    func closePushedStreams(of id: SPDYStreamID, status: SPDYStreamStatus) {
        guard let stream = stream(id) else { return }
        for pushed in stream.pushedStreams {
            closeStream(pushed, status: status)
        }
    }

    // MARK: - Queueing

    func nextSequenceNumber() -> UInt64 {
        defer { nextSequence += 1 }
        return nextSequence
    }

    func enqueue(_ payload: OutboundItem.Payload, priority: Int) {
        queue.insert(OutboundItem(priority: priority, sequence: nextSequenceNumber(), payload: payload))
    }

    func enqueueControl(_ frame: SPDYFrame, dataProvider: SPDYDataProvider? = nil) {
        let priority: Int
        switch frame {
        case .ping: priority = -10
        case .settings: priority = -1
        case .synReply(let f): priority = Int(stream(f.streamID)?.priority ?? lowestPriority)
        case .headers(let f): priority = Int(stream(f.streamID)?.priority ?? lowestPriority)
        case .windowUpdate(let f): priority = Int(stream(f.streamID)?.priority ?? lowestPriority)
        case .rstStream(let f):
            recentlyReset.insert(f.streamID)
            if let stream = stream(f.streamID) {
                stream.machine.resetQueued()
                priority = Int(stream.priority)
            } else {
                priority = Int(lowestPriority)
            }
        default: priority = Int(lowestPriority)
        }
        let payload: OutboundItem.Payload
        switch frame {
        case .windowUpdate(let f): payload = .windowUpdate(f)
        case .ping(let f): payload = .ping(f)
        case .rstStream(let f): payload = .rstStream(f)
        default: payload = .control(makeControl(frame, dataProvider: dataProvider, streamUserData: nil))
        }
        enqueue(payload, priority: priority)
    }

    func makeControl(_ frame: SPDYFrame, dataProvider: SPDYDataProvider?, streamUserData: Any?) -> OutboundControl {
        if let recycled = controlRecycler.take() {
            recycled.reuse(frame, dataProvider: dataProvider, streamUserData: streamUserData)
            return recycled
        }
        return OutboundControl(frame, dataProvider: dataProvider, streamUserData: streamUserData)
    }

    func makeData(streamID: SPDYStreamID, finishesStream: Bool, provider: SPDYDataProvider) -> OutboundData {
        if let recycled = dataRecycler.take() {
            recycled.reuse(streamID: streamID, finishesStream: finishesStream, provider: provider)
            return recycled
        }
        return OutboundData(streamID: streamID, finishesStream: finishesStream, provider: provider)
    }

    func enqueueData(_ data: OutboundData) {
        enqueue(.data(data), priority: Int(stream(data.streamID)?.priority ?? lowestPriority))
    }

    /// The item to send next: the queue's top, or the oldest SYN_STREAM when it
    /// is older and the peer's MAX_CONCURRENT_STREAMS allows another stream.
    func peekNextItem() -> OutboundItem? {
        let syn = outgoingStreamLimitReached ? nil : synQueue.first
        guard let top = queue.min else { return syn }
        guard let syn else { return top }
        return top < syn ? top : syn
    }

    func popNextItem() -> OutboundItem? {
        let syn = outgoingStreamLimitReached ? nil : synQueue.first
        guard let top = queue.min else {
            return syn == nil ? nil : synQueue.removeFirst()
        }
        if let syn, syn < top {
            return synQueue.removeFirst()
        }
        return queue.removeMin()
    }
}
