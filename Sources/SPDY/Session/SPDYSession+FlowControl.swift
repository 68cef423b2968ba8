extension SPDYSession {
    // MARK: - Flow control (receiving)

    /// Counts received or consumed bytes on a stream's window, or on the session's (`nil`),
    /// and sends the WINDOW_UPDATE that acknowledges them once it is due.
    func acknowledge(_ size: Int, as count: FlowControlWindow.Count, stream: SPDYStream?) {
        let automatic = configuration.automaticWindowUpdate && !configuration.manualDataConsumption
        let acknowledgement =
            if let stream {
                stream.window.record(size, as: count, automatic: automatic)
            } else {
                sessionWindow.record(size, as: count, automatic: automatic)
            }
        switch acknowledgement {
        case .none:
            break
        case .windowUpdate(let delta):
            enqueueWindowUpdate(stream: stream, delta)
        case .overflow:
            failSession(status: .protocolError)
        }
    }

    /// Queues a WINDOW_UPDATE for a stream, or for the session (`nil`); the window was credited.
    func enqueueWindowUpdate(stream: SPDYStream?, _ delta: Int) {
        enqueueControl(.windowUpdate(.init(streamID: stream?.id ?? .zero, deltaWindowSize: UInt32(delta))))
    }

    /// After our INITIAL_WINDOW_SIZE shrank, bytes already received may reach the new
    /// half-window threshold; acknowledge them now, or a peer whose window went to zero
    /// would never send the data that would trigger the WINDOW_UPDATE.
    func acknowledgeAfterWindowChange() {
        for stream in streams.values where !stream.machine.isClosing && !stream.machine.isRemoteClosed {
            if let due = stream.window.dueAfterWindowChange(
                manualConsumption: configuration.manualDataConsumption,
                automatic: configuration.automaticWindowUpdate)
            {
                acknowledge(0, as: due, stream: stream)
            }
        }
    }
}
