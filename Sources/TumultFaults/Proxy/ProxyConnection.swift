import Foundation
import NIOCore
import NIOPosix
import TumultModel

/// One connection through the proxy: the client's channel, the channel to
/// where the client meant to go, and between them two streams (upstream:
/// client to server; downstream: back), each through the HTTP rules (when
/// there are any) and then the toxics in force. Everything here runs on
/// the connection's event loop.
final class ProxyConnection: @unchecked Sendable {
    /// One direction of the connection.
    final class Stream {
        let kind: Toxic.Stream
        var schedule = ToxicSchedule()
        /// Pieces waiting for their time, oldest first.
        var queue: [(buffer: ByteBuffer, due: UInt64)] = []
        var queueHead = 0
        var queuedBytes = 0
        var timer: Scheduled<Void>?
        var timerDue: UInt64 = .max
        /// The sender closed its side; `finDue`: when the FIN follows.
        var inputClosed = false
        var finDue: UInt64?
        var outputClosed = false
        /// A read was wanted while the queue was full or the receiver not writable.
        var readPending = false
        var unflushed = false

        init(kind: Toxic.Stream) { self.kind = kind }

        var isEmpty: Bool { queueHead == queue.count }
    }

    /// Bytes held in one direction before the proxy stops reading from its sender.
    static let highWater = 4 << 20

    let client: Channel
    let server: Channel
    let upstream = Stream(kind: .upstream)
    let downstream = Stream(kind: .downstream)
    var http: HTTPExchange?
    /// Toxics drawn for this connection (toxicity), by name: drawn once each.
    private var drawn: [String: Bool] = [:]
    private var closed = false
    private var draining = false
    private let onClose: (ProxyConnection) -> Void
    private let onTLS: () -> Void

    init(client: Channel, server: Channel, configuration: ProxyConfiguration,
         onClose: @escaping (ProxyConnection) -> Void, onTLS: @escaping () -> Void) {
        self.client = client
        self.server = server
        self.onClose = onClose
        self.onTLS = onTLS
        if !configuration.httpRules.isEmpty {
            http = HTTPExchange(policy: HTTPFaultPolicy(rules: configuration.httpRules))
        }
        apply(configuration, now: Self.now())
    }

    static func now() -> UInt64 { NIODeadline.now().uptimeNanoseconds }

    var eventLoop: EventLoop { client.eventLoop }

    // MARK: Configuration

    /// Puts a new configuration in force on this connection: toxics are
    /// drawn (toxicity) when first seen; HTTP rules apply from the next message.
    func apply(_ configuration: ProxyConfiguration, now: UInt64) {
        for toxic in configuration.toxics where drawn[toxic.effectiveName] == nil {
            drawn[toxic.effectiveName] = Double.random(in: 0..<1) < toxic.effectiveToxicity
        }
        // Toxiproxy closes the connections a removed timeout toxic held (its data was dropped).
        let removedTimeout = (upstream.schedule.toxics + downstream.schedule.toxics).contains { old in
            old.type == .timeout && !configuration.toxics.contains { $0.effectiveName == old.effectiveName }
        }
        for stream in [upstream, downstream] {
            let toxics = configuration.toxics.filter { $0.effectiveStream == stream.kind && drawn[$0.effectiveName] == true }
            let plan = stream.schedule.update(toxics, now: now)
            schedule(plan, on: stream)
            // No toxic left: what they held goes on now (Toxiproxy drops nothing on the floor either).
            if stream.schedule.isPassThrough && !stream.isEmpty {
                for index in stream.queueHead..<stream.queue.count { stream.queue[index].due = min(stream.queue[index].due, now) }
                pump(stream)
            }
        }
        if var exchange = http, !configuration.httpRules.isEmpty {
            exchange.policy = HTTPFaultPolicy(rules: configuration.httpRules)
            http = exchange
        } else if http != nil && configuration.httpRules.isEmpty {
            http?.policy = HTTPFaultPolicy(rules: [])
        }
        if removedTimeout { close() }
    }

    /// Recovery: no toxics, no rules; an HTTP connection ends at its next
    /// idle moment so the client's next request goes straight to the server.
    func drain() {
        draining = true
        apply(ProxyConfiguration(generation: 0, toxics: [], httpRules: []), now: Self.now())
        if let http, http.isIdle { close() }
    }

    // MARK: Data

    /// Bytes from `source`.
    func received(_ buffer: ByteBuffer, fromClient: Bool) {
        guard !closed else { return }
        let now = Self.now()
        let stream = fromClient ? upstream : downstream
        guard var exchange = http else {
            send(buffer, notBefore: now, on: stream, now: now)
            return
        }
        let outputs = fromClient ? exchange.fromClient(buffer, now: now) : exchange.fromServer(buffer, now: now)
        if exchange.sawTLS && http?.sawTLS == false { onTLS() }
        http = exchange
        deliver(outputs, now: now)
        if draining, let http, http.isIdle { close() }
    }

    /// The sender of `stream` closed its side (a FIN).
    func inputClosed(fromClient: Bool) {
        guard !closed else { return }
        let now = Self.now()
        let stream = fromClient ? upstream : downstream
        if var exchange = http {
            let outputs = fromClient ? exchange.clientClosed(now: now) : exchange.serverClosed(now: now)
            http = exchange
            deliver(outputs, now: now)
        }
        stream.inputClosed = true
        stream.finDue = stream.schedule.closeDue(now: now)
        pump(stream)
    }

    private func deliver(_ outputs: [HTTPExchange.Output], now: UInt64) {
        for output in outputs {
            switch output {
            case .bytes(let bytes, let notBefore, let toServer):
                send(bytes, notBefore: notBefore, on: toServer ? upstream : downstream, now: now)
            case .abort:
                close()
                return
            }
        }
    }

    private func send(_ buffer: ByteBuffer, notBefore: UInt64, on stream: Stream, now: UInt64) {
        guard buffer.readableBytes > 0 else { return }
        if stream.schedule.isPassThrough && stream.isEmpty && notBefore <= now {
            // The fast path: no toxic, nothing queued.
            receiver(of: stream).write(NIOAny(buffer), promise: nil)
            stream.unflushed = true
            return
        }
        let plan = stream.schedule.plan(length: buffer.readableBytes, now: max(now, notBefore))
        for piece in plan.pieces {
            stream.queue.append((buffer.getSlice(at: buffer.readerIndex + piece.offset, length: piece.length)!, piece.due))
            stream.queuedBytes += piece.length
        }
        schedule(plan, on: stream)
        pump(stream)
    }

    private func schedule(_ plan: ToxicSchedule.Plan, on stream: Stream) {
        if let at = plan.closeAt {
            eventLoop.scheduleTask(deadline: NIODeadline.uptimeNanoseconds(at)) { [self] in close() }
        }
        if let at = plan.resetAt {
            eventLoop.scheduleTask(deadline: NIODeadline.uptimeNanoseconds(at)) { [self] in reset() }
        }
    }

    /// Writes what is due on `stream`, arms the timer for what is not, and
    /// sends the FIN once everything ahead of it went out.
    func pump(_ stream: Stream) {
        guard !closed else { return }
        let now = Self.now()
        let channel = receiver(of: stream)
        while stream.queueHead < stream.queue.count, stream.queue[stream.queueHead].due <= now {
            let piece = stream.queue[stream.queueHead].buffer
            stream.queueHead += 1
            stream.queuedBytes -= piece.readableBytes
            // Each piece its own segment (the slicer's point): written and flushed alone.
            channel.writeAndFlush(NIOAny(piece), promise: nil)
        }
        if stream.queueHead == stream.queue.count {
            stream.queue.removeAll(keepingCapacity: true)
            stream.queueHead = 0
        } else if stream.queueHead > 1024 {
            stream.queue.removeFirst(stream.queueHead)
            stream.queueHead = 0
        }
        if stream.unflushed {
            channel.flush()
            stream.unflushed = false
        }
        var next = stream.isEmpty ? UInt64.max : stream.queue[stream.queueHead].due
        if stream.isEmpty, stream.inputClosed, !stream.outputClosed, let finDue = stream.finDue {
            if finDue <= now {
                stream.outputClosed = true
                channel.close(mode: .output, promise: nil)
                if upstream.outputClosed && downstream.outputClosed { close() }
                return
            }
            next = finDue
        }
        if next != .max && (stream.timer == nil || next < stream.timerDue) {
            stream.timer?.cancel()
            stream.timerDue = next
            stream.timer = eventLoop.scheduleTask(deadline: NIODeadline.uptimeNanoseconds(next)) { [self] in
                stream.timer = nil
                stream.timerDue = .max
                pump(stream)
            }
        }
        resumeReading(stream)
    }

    func receiver(of stream: Stream) -> Channel { stream.kind == .upstream ? server : client }
    func sender(of stream: Stream) -> Channel { stream.kind == .upstream ? client : server }

    // MARK: Flow control

    /// The sender's read is over: flush, then read more if there is room.
    func readComplete(fromClient: Bool) {
        let stream = fromClient ? upstream : downstream
        if stream.unflushed {
            receiver(of: stream).flush()
            stream.unflushed = false
        }
        stream.readPending = true
        resumeReading(stream)
    }

    func resumeReading(_ stream: Stream) {
        guard stream.readPending, !stream.inputClosed, !closed,
              stream.queuedBytes < Self.highWater, receiver(of: stream).isWritable else { return }
        stream.readPending = false
        sender(of: stream).read()
    }

    /// `channel` became writable again: the stream into it may read on.
    func writabilityChanged(of channel: Channel) {
        let stream = channel === server ? upstream : downstream
        resumeReading(stream)
    }

    // MARK: Ending

    /// Closes both sides gracefully, once: what was written goes out first,
    /// then a FIN each way (a limit reached, a timeout, an abort, an idle
    /// connection at recovery).
    func close() { finish(sendingFINTo: [client, server]) }

    /// A peer went away entirely (its socket closed or failed): the other
    /// gets what was written to it, then a FIN.
    func peerClosed(_ channel: Channel) { finish(sendingFINTo: [channel === client ? server : client]) }

    /// Resets both sides (RST): SO_LINGER 0, then close at once.
    func reset() {
        guard !closed else { return }
        for channel in [client, server] {
            _ = (channel as? SocketOptionProvider)?.setSoLinger(linger(l_onoff: 1, l_linger: 0))
        }
        finish(sendingFINTo: [])
        client.close(promise: nil)
        server.close(promise: nil)
    }

    /// Ends the connection once: timers stop, `channels` are flushed and
    /// half-closed; the peers close their sides on the FIN, and whatever
    /// still lingers after 5 s is closed for good.
    private func finish(sendingFINTo channels: [Channel]) {
        guard !closed else { return }
        closed = true
        for stream in [upstream, downstream] { stream.timer?.cancel() }
        for channel in channels {
            channel.flush()
            channel.close(mode: .output, promise: nil)
        }
        let client = client, server = server
        eventLoop.scheduleTask(in: .seconds(5)) {
            client.close(promise: nil)
            server.close(promise: nil)
        }
        onClose(self)
    }
}

/// Hands one channel's events to its connection.
final class ProxyRelayHandler: ChannelInboundHandler, @unchecked Sendable {
    typealias InboundIn = ByteBuffer

    let fromClient: Bool
    var connection: ProxyConnection?
    /// The client side: the proxy connects the other side once it is active.
    let onActive: ((Channel) -> Void)?

    init(fromClient: Bool, onActive: ((Channel) -> Void)? = nil) {
        self.fromClient = fromClient
        self.onActive = onActive
    }

    func channelActive(context: ChannelHandlerContext) {
        onActive?(context.channel)
        context.fireChannelActive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        connection?.received(unwrapInboundIn(data), fromClient: fromClient)
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        connection?.readComplete(fromClient: fromClient)
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if let event = event as? ChannelEvent, event == .inputClosed {
            connection?.inputClosed(fromClient: fromClient)
        }
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        connection?.writabilityChanged(of: context.channel)
    }

    func channelInactive(context: ChannelHandlerContext) {
        connection?.peerClosed(context.channel)
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        // A reset from either peer: pass it on as one.
        if let error = error as? IOError, error.errnoCode == ECONNRESET {
            connection?.reset()
        } else {
            connection?.close()
        }
    }
}
