import HTTPTypes
import NIOCore
import NIOHTTPTypes

/// One connection's side of the `ConnectionGuard`, in its pipeline after
/// the HTTP decoder (with a `ByteWatcher` before it, which sees the bytes
/// the decoder has not made a head of yet). It follows the connection
/// through its requests, closes it at the deadline of its phase, and tells
/// the guard whether it may be closed to make room.
///
/// Deadlines, as Go's `ReadHeaderTimeout` and `IdleTimeout` have them: a
/// new connection has `headerTimeout` to send a whole head; after a
/// response, `idleTimeout` for the first byte of the next request, then
/// `headerTimeout` from that byte. While a request is in flight there is
/// none, except that a body that stops arriving, or a client that stops
/// reading the response, is closed after `idleTimeout` without progress.
/// An event stream (`/api/stream`) is never timed out, but closed as soon
/// as its client closes its side, so its descriptor is released at once.
final class ConnectionGuardHandler: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPRequestPart
    typealias InboundOut = HTTPRequestPart
    typealias OutboundIn = HTTPResponsePart
    typealias OutboundOut = HTTPResponsePart

    /// Where the connection is between its requests.
    enum Phase: Equatable {
        /// Not started, or closed.
        case none
        /// Waiting for a whole request head since then (the connection's
        /// start, or the first byte after an idle wait).
        case awaitingHead(since: NIODeadline)
        /// A response was written; nothing of the next request yet.
        case idle(since: NIODeadline)
        /// A request is in flight.
        case busy
    }

    private let owner: ConnectionGuard
    private var id: UInt64?
    /// Admitted or refused already: a connection is counted once.
    private var started = false
    private var phase = Phase.none
    /// Request heads read minus response ends written (pipelined requests).
    private var inFlight = 0
    private var readingBody = false
    private var streaming = false
    private var lastRead = NIODeadline.now()
    private var unwritableSince: NIODeadline?
    private var timer: Scheduled<Void>?
    private var timerDeadline: NIODeadline?

    init(owner: ConnectionGuard) {
        self.owner = owner
    }

    // MARK: Life

    func handlerAdded(context: ChannelHandlerContext) {
        try? context.pipeline.syncOperations.addHandler(ByteWatcher(handler: self), position: .first)
        if context.channel.isActive { start(context) }
    }

    func channelActive(context: ChannelHandlerContext) {
        start(context)
        context.fireChannelActive()
    }

    func channelInactive(context: ChannelHandlerContext) {
        stop()
        context.fireChannelInactive()
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        stop()
    }

    private func start(_ context: ChannelHandlerContext) {
        guard !started else { return }
        started = true
        guard let id = owner.admit(context.channel) else {
            context.close(promise: nil)
            return
        }
        self.id = id
        phase = .awaitingHead(since: .now())
        rearm(context)
    }

    private func stop() {
        timer?.cancel()
        timer = nil
        timerDeadline = nil
        phase = .none
        if let id {
            owner.leave(id)
            self.id = nil
        }
    }

    // MARK: Requests in, responses out

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head:
            inFlight += 1
            readingBody = true
            if phase != .busy {
                phase = .busy
                if let id { owner.mark(id, spare: nil) }
            }
            rearm(context)
        case .body:
            break
        case .end:
            readingBody = false
        }
        context.fireChannelRead(data)
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        switch unwrapOutboundIn(data) {
        case .head(let head):
            if head.headerFields[.contentType]?.hasPrefix("text/event-stream") == true {
                streaming = true
                if let id { owner.mark(id, spare: .streaming) }
            }
        case .body:
            break
        case .end:
            inFlight = max(0, inFlight - 1)
            if inFlight == 0 && phase == .busy {
                streaming = false
                phase = .idle(since: .now())
                if let id { owner.mark(id, spare: .waiting) }
                rearm(context)
            }
        }
        context.write(data, promise: promise)
    }

    /// Called by the `ByteWatcher` for every read from the socket.
    fileprivate func bytesArrived(_ context: ChannelHandlerContext) {
        lastRead = .now()
        if case .idle = phase {
            phase = .awaitingHead(since: lastRead)
            rearm(context)
        }
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        if context.channel.isWritable {
            unwritableSince = nil
        } else if unwritableSince == nil {
            unwritableSince = .now()
            rearm(context)
        }
        context.fireChannelWritabilityChanged()
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        // The client closed its side of an event stream: nobody will read
        // it again (the stream's task ends at its next write, which fails).
        if case ChannelEvent.inputClosed = event, streaming, id != nil {
            owner.closed(.clientGone)
            context.close(promise: nil)
        }
        context.fireUserInboundEventTriggered(event)
    }

    // MARK: Deadlines

    /// When the connection is closed if nothing happens, and why.
    private var deadline: (at: NIODeadline, reason: ConnectionGuard.Closing)? {
        switch phase {
        case .none:
            return nil
        case .awaitingHead(let since):
            return (since + owner.headerTimeout, .headerTimeout)
        case .idle(let since):
            return (since + owner.idleTimeout, .idleTimeout)
        case .busy:
            if readingBody { return (lastRead + owner.idleTimeout, .stalled) }
            if let unwritableSince { return (unwritableSince + owner.idleTimeout, .stalled) }
            return nil
        }
    }

    /// Makes sure a timer fires no later than the deadline. A deadline that
    /// moved later keeps the timer, which looks again when it fires.
    private func rearm(_ context: ChannelHandlerContext) {
        guard let deadline = deadline?.at else { return }
        if let timerDeadline, timerDeadline <= deadline { return }
        timer?.cancel()
        timerDeadline = deadline
        timer = context.eventLoop.assumeIsolated().scheduleTask(deadline: deadline) { [self] in
            fire(context)
        }
    }

    private func fire(_ context: ChannelHandlerContext) {
        timer = nil
        timerDeadline = nil
        guard let (at, reason) = deadline else { return }
        if at <= .now() {
            owner.closed(reason)
            stop()
            context.close(promise: nil)
        } else {
            rearm(context)
        }
    }

    /// First in the pipeline: sees every read before the HTTP decoder,
    /// which says nothing until a head is whole.
    final class ByteWatcher: ChannelInboundHandler, RemovableChannelHandler {
        typealias InboundIn = ByteBuffer
        typealias InboundOut = ByteBuffer

        private let handler: ConnectionGuardHandler
        private var handlerContext: ChannelHandlerContext?

        init(handler: ConnectionGuardHandler) {
            self.handler = handler
        }

        func handlerAdded(context: ChannelHandlerContext) {
            handlerContext = try? context.pipeline.syncOperations.context(handler: handler)
        }

        func handlerRemoved(context: ChannelHandlerContext) {
            handlerContext = nil
        }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            if let handlerContext { handler.bytesArrived(handlerContext) }
            context.fireChannelRead(data)
        }
    }
}
