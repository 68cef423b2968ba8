import SPDY

/// An outbound user event that resets a ``SPDYStreamChannel``'s stream with RST_STREAM and
/// a status of the caller's choosing (a full `close()` always says CANCEL).
///
/// ```swift
/// context.triggerUserOutboundEvent(SPDYResetStreamEvent(status: .protocolError), promise: nil)
/// ```
///
/// The pipeline then sees ``SPDYStreamError/resetLocally(_:)`` in `errorCaught` and the
/// channel closes. On a stream that has not been opened yet (a client stream before its
/// SYN_STREAM) or has already closed, the event's promise fails with
/// `ChannelError.alreadyClosed`.
public struct SPDYResetStreamEvent: Sendable, Hashable {
    /// The RST_STREAM status.
    public var status: SPDYStreamStatus

    /// Creates the event.
    public init(status: SPDYStreamStatus) {
        self.status = status
    }
}
