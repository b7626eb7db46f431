import Foundation
import NIOCore
import NIOPosix

/// The DNS server a DNS fault points its target at: it answers queries the
/// policy claims and relays every other one, unchanged, to the upstream
/// resolver, over UDP and TCP (two-byte length prefix) alike.
///
/// It runs as its own process (`tumult dns-responder`) started inside the
/// target's network namespace; its sockets to the upstream carry
/// `upstreamMark`, which the fault's redirect rules skip.
public final class DNSResponder: Sendable {
    /// The packet mark of the responder's own queries ("tmu").
    public static let upstreamMark: Int32 = 0x746d75

    public struct Configuration: Sendable {
        public var listen: DNSEndpoint
        public var upstream: DNSEndpoint
        public var policy: DNSFaultPolicy
        /// How long an upstream answer may take before the query is dropped.
        public var timeout: TimeAmount = .seconds(4)

        public init(listen: DNSEndpoint, upstream: DNSEndpoint, policy: DNSFaultPolicy) {
            self.listen = listen
            self.upstream = upstream
            self.policy = policy
        }
    }

    let group: MultiThreadedEventLoopGroup
    let channels: [Channel]

    /// Binds UDP and TCP on the listen address; returns once both are bound.
    public init(_ configuration: Configuration) throws {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        do {
            let listen = try SocketAddress(ipAddress: configuration.listen.host, port: configuration.listen.port)
            let upstream = Upstream(address: try SocketAddress(ipAddress: configuration.upstream.host,
                                                               port: configuration.upstream.port),
                                    timeout: configuration.timeout)
            let policy = configuration.policy
            let udp = try DatagramBootstrap(group: group)
                .channelOption(.socketOption(.so_reuseaddr), value: 1)
                .channelOption(.recvAllocator, value: FixedSizeRecvByteBufferAllocator(capacity: 65_536))
                .channelInitializer { channel in
                    channel.eventLoop.makeCompletedFuture {
                        try channel.pipeline.syncOperations.addHandler(UDPQueryHandler(policy: policy, upstream: upstream))
                    }
                }
                .bind(to: listen).wait()
            let tcp = try ServerBootstrap(group: group)
                .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
                .childChannelInitializer { channel in
                    channel.eventLoop.makeCompletedFuture {
                        try channel.pipeline.syncOperations.addHandler(ByteToMessageHandler(DNSFrameDecoder()))
                        try channel.pipeline.syncOperations.addHandler(TCPQueryHandler(policy: policy, upstream: upstream))
                    }
                }
                .bind(to: listen).wait()
            self.group = group
            self.channels = [udp, tcp]
        } catch {
            try? group.syncShutdownGracefully()
            throw error
        }
    }

    /// Closes both sockets and stops the event loop.
    public func shutdown() {
        for channel in channels { try? channel.close().wait() }
        try? group.syncShutdownGracefully()
    }
}

/// Sends queries to the upstream resolver from sockets of their own, marked
/// so that the redirect skips them, and hands back the first answer.
struct Upstream: Sendable {
    var address: SocketAddress
    var timeout: TimeAmount

    struct Failure: Error {
        var reason: String
    }

    var wildcard: String { address.protocol == .inet6 ? "::" : "0.0.0.0" }

    func exchangeUDP(_ query: ByteBuffer, on eventLoop: EventLoop) -> EventLoopFuture<ByteBuffer> {
        let promise = eventLoop.makePromise(of: ByteBuffer.self)
        let id = query.getInteger(at: query.readerIndex, as: UInt16.self)
        let address = self.address
        DatagramBootstrap(group: eventLoop)
            .channelOption(.socket(SocketOptionLevel(SOL_SOCKET), SocketOptionName(SO_MARK)), value: SocketOptionValue(DNSResponder.upstreamMark))
            .channelOption(.recvAllocator, value: FixedSizeRecvByteBufferAllocator(capacity: 65_536))
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(UDPReplyHandler(promise: promise, from: address, id: id))
                }
            }
            .bind(host: wildcard, port: 0)
            .whenComplete { result in
                switch result {
                case .success(let channel):
                    channel.writeAndFlush(AddressedEnvelope(remoteAddress: address, data: query)).cascadeFailure(to: promise)
                    finish(promise, channel: channel, on: eventLoop)
                case .failure(let error):
                    promise.fail(error)
                }
            }
        return promise.futureResult
    }

    func exchangeTCP(_ query: ByteBuffer, on eventLoop: EventLoop) -> EventLoopFuture<ByteBuffer> {
        let promise = eventLoop.makePromise(of: ByteBuffer.self)
        ClientBootstrap(group: eventLoop)
            .channelOption(.socket(SocketOptionLevel(SOL_SOCKET), SocketOptionName(SO_MARK)), value: SocketOptionValue(DNSResponder.upstreamMark))
            .connectTimeout(timeout)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(ByteToMessageHandler(DNSFrameDecoder()))
                    try channel.pipeline.syncOperations.addHandler(TCPReplyHandler(promise: promise))
                }
            }
            .connect(to: address)
            .whenComplete { result in
                switch result {
                case .success(let channel):
                    channel.writeAndFlush(DNSFrameDecoder.frame(query)).cascadeFailure(to: promise)
                    finish(promise, channel: channel, on: eventLoop)
                case .failure(let error):
                    promise.fail(error)
                }
            }
        return promise.futureResult
    }

    /// Gives up after the timeout, and closes the socket either way.
    private func finish(_ promise: EventLoopPromise<ByteBuffer>, channel: Channel, on eventLoop: EventLoop) {
        let timer = eventLoop.scheduleTask(in: timeout) {
            promise.fail(Failure(reason: "no answer from the upstream resolver"))
        }
        promise.futureResult.whenComplete { _ in
            timer.cancel()
            channel.close(promise: nil)
        }
    }
}

/// Splits a TCP stream into DNS messages (each after a two-byte length).
struct DNSFrameDecoder: ByteToMessageDecoder {
    typealias InboundOut = ByteBuffer

    mutating func decode(context: ChannelHandlerContext, buffer: inout ByteBuffer) throws -> DecodingState {
        guard let length = buffer.getInteger(at: buffer.readerIndex, as: UInt16.self),
              buffer.readableBytes >= 2 + Int(length) else { return .needMoreData }
        buffer.moveReaderIndex(forwardBy: 2)
        context.fireChannelRead(Self.wrapInboundOut(buffer.readSlice(length: Int(length))!))
        return .continue
    }

    /// `message` with its length in front, as TCP carries it.
    static func frame(_ message: ByteBuffer) -> ByteBuffer {
        var framed = ByteBuffer()
        framed.writeInteger(UInt16(truncatingIfNeeded: message.readableBytes))
        framed.writeImmutableBuffer(message)
        return framed
    }
}

/// Queries arriving over UDP.
final class UDPQueryHandler: ChannelInboundHandler, Sendable {
    typealias InboundIn = AddressedEnvelope<ByteBuffer>
    typealias OutboundOut = AddressedEnvelope<ByteBuffer>

    let policy: DNSFaultPolicy
    let upstream: Upstream

    init(policy: DNSFaultPolicy, upstream: Upstream) {
        self.policy = policy
        self.upstream = upstream
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let envelope = Self.unwrapInboundIn(data)
        let client = envelope.remoteAddress
        switch policy.decide(Array(envelope.data.readableBytesView)) {
        case .answer(let bytes):
            context.writeAndFlush(Self.wrapOutboundOut(AddressedEnvelope(remoteAddress: client, data: ByteBuffer(bytes: bytes))),
                                  promise: nil)
        case .forward:
            let channel = context.channel
            upstream.exchangeUDP(envelope.data, on: context.eventLoop).whenSuccess { reply in
                channel.writeAndFlush(AddressedEnvelope(remoteAddress: client, data: reply), promise: nil)
            }
        }
    }

    /// A client that went away (ICMP unreachable) is no reason to stop.
    func errorCaught(context: ChannelHandlerContext, error: Error) {}
}

/// Queries arriving over TCP, each answered on the same connection.
final class TCPQueryHandler: ChannelInboundHandler, Sendable {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    let policy: DNSFaultPolicy
    let upstream: Upstream

    init(policy: DNSFaultPolicy, upstream: Upstream) {
        self.policy = policy
        self.upstream = upstream
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let query = Self.unwrapInboundIn(data)
        switch policy.decide(Array(query.readableBytesView)) {
        case .answer(let bytes):
            context.writeAndFlush(Self.wrapOutboundOut(DNSFrameDecoder.frame(ByteBuffer(bytes: bytes))), promise: nil)
        case .forward:
            let channel = context.channel
            upstream.exchangeTCP(query, on: context.eventLoop).whenComplete { result in
                switch result {
                case .success(let reply): channel.writeAndFlush(DNSFrameDecoder.frame(reply), promise: nil)
                case .failure: channel.close(promise: nil)
                }
            }
        }
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        context.close(promise: nil)
    }
}

/// The upstream's UDP answer: the first datagram from it with the query's id.
final class UDPReplyHandler: ChannelInboundHandler, Sendable {
    typealias InboundIn = AddressedEnvelope<ByteBuffer>

    let promise: EventLoopPromise<ByteBuffer>
    let from: SocketAddress
    let id: UInt16?

    init(promise: EventLoopPromise<ByteBuffer>, from: SocketAddress, id: UInt16?) {
        self.promise = promise
        self.from = from
        self.id = id
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let envelope = Self.unwrapInboundIn(data)
        guard envelope.remoteAddress == from,
              envelope.data.getInteger(at: envelope.data.readerIndex, as: UInt16.self) == id else { return }
        promise.succeed(envelope.data)
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        promise.fail(error)
    }
}

/// The upstream's TCP answer: the first message on the connection.
final class TCPReplyHandler: ChannelInboundHandler, Sendable {
    typealias InboundIn = ByteBuffer

    let promise: EventLoopPromise<ByteBuffer>

    init(promise: EventLoopPromise<ByteBuffer>) {
        self.promise = promise
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        promise.succeed(Self.unwrapInboundIn(data))
    }

    func channelInactive(context: ChannelHandlerContext) {
        promise.fail(Upstream.Failure(reason: "the upstream resolver closed the connection"))
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        promise.fail(error)
    }
}
