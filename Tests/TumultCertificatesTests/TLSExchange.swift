import NIOCore
import NIOPosix
import NIOSSL
import TumultCertificates

/// One TLS connection between a NIO server and client on 127.0.0.1 (port 0):
/// the client sends a message, the server echoes it. What each side saw is
/// kept apart, because with TLS 1.3 the client finishes its handshake before
/// the server has judged the client's certificate.
struct TLSExchange {
    /// What the client read back, or why it read nothing.
    var reply: Result<String, any Error>
    /// The certificate the client presented, as the server saw it after its
    /// handshake, or why the server's handshake failed.
    var serverSawClient: Result<NIOSSLCertificate?, any Error>

    /// Why the client got no reply, as NIOSSL describes it (BoringSSL's reason, the alert received).
    var clientFailure: String? {
        guard case .failure(let error) = reply else { return nil }
        return String(describing: error)
    }

    /// Why the server's handshake failed, as NIOSSL describes it.
    var serverFailure: String? {
        guard case .failure(let error) = serverSawClient else { return nil }
        return String(describing: error)
    }

    struct Timeout: Error {}
    struct ClosedEarly: Error {}

    static func run(
        server: TLSConfiguration,
        client: TLSConfiguration,
        serverHostname: String? = nil,
        message: String = "ping from the controller"
    ) async throws -> TLSExchange {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let serverContext = try NIOSSLContext(configuration: server)
        let clientContext = try NIOSSLContext(configuration: client)
        let loop = group.next()
        let handshake = loop.makePromise(of: NIOSSLCertificate?.self)
        let reply = loop.makePromise(of: String.self)
        let deadline = loop.scheduleTask(in: .seconds(10)) {
            handshake.fail(Timeout())
            reply.fail(Timeout())
        }

        let listener = try await ServerBootstrap(group: group)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(NIOSSLServerHandler(context: serverContext))
                    try channel.pipeline.syncOperations.addHandler(EchoHandler(handshake: handshake))
                }
            }
            .bind(host: "127.0.0.1", port: 0).get()
        let connection = try await ClientBootstrap(group: group)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(
                        NIOSSLClientHandler(context: clientContext, serverHostname: serverHostname))
                    try channel.pipeline.syncOperations.addHandler(ReplyHandler(message: message, reply: reply))
                }
            }
            .connect(to: listener.localAddress!).get()

        var exchange = TLSExchange(reply: .failure(Timeout()), serverSawClient: .failure(Timeout()))
        do { exchange.reply = .success(try await reply.futureResult.get()) } catch { exchange.reply = .failure(error) }
        do {
            exchange.serverSawClient = .success(try await handshake.futureResult.get())
        } catch {
            exchange.serverSawClient = .failure(error)
        }
        deadline.cancel()
        try? await connection.close()
        try await listener.close()
        try await group.shutdownGracefully()
        return exchange
    }
}

/// Server side: reports the client's certificate with the first bytes, and
/// echoes them.
private final class EchoHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    let handshake: EventLoopPromise<NIOSSLCertificate?>

    init(handshake: EventLoopPromise<NIOSSLCertificate?>) {
        self.handshake = handshake
    }

    /// Data only reaches this handler once NIOSSL has finished the handshake
    /// and accepted the client's certificate chain.
    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let tls = try? context.pipeline.syncOperations.handler(type: NIOSSLServerHandler.self)
        handshake.succeed(tls?.peerCertificate)
        context.writeAndFlush(data, promise: nil)
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        handshake.fail(error)
        context.close(promise: nil)
    }

    func channelInactive(context: ChannelHandlerContext) {
        handshake.fail(TLSExchange.ClosedEarly())
        context.fireChannelInactive()
    }
}

/// Client side: sends the message once connected (NIOSSL holds it until the
/// handshake is done) and reports the echo.
private final class ReplyHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    let message: String
    let reply: EventLoopPromise<String>
    var received = ""

    init(message: String, reply: EventLoopPromise<String>) {
        self.message = message
        self.reply = reply
    }

    func channelActive(context: ChannelHandlerContext) {
        context.writeAndFlush(wrapOutboundOut(ByteBuffer(string: message)), promise: nil)
        context.fireChannelActive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        received += String(buffer: unwrapInboundIn(data))
        if received.utf8.count >= message.utf8.count {
            reply.succeed(received)
        }
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        reply.fail(error)
        context.close(promise: nil)
    }

    func channelInactive(context: ChannelHandlerContext) {
        reply.fail(TLSExchange.ClosedEarly())
        context.fireChannelInactive()
    }
}

/// The settings `tumult daemon` (server) and the controller (client) use:
/// both sides present a certificate from the fleet CA and trust only that CA.
enum FleetTLS {
    static func server(
        authority: FleetAuthority, identity: IssuedCertificate, version: TLSVersion = .tlsv13
    ) throws -> TLSConfiguration {
        var configuration = TLSConfiguration.makeServerConfiguration(
            certificateChain: [.certificate(try NIOSSLCertificate(bytes: Array(identity.certificatePEM.utf8), format: .pem))],
            privateKey: .privateKey(try NIOSSLPrivateKey(bytes: Array(identity.privateKeyPEM.utf8), format: .pem)))
        // Requires a client certificate (SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT)
        // chaining to the fleet CA; a client has no host name to check.
        configuration.certificateVerification = .noHostnameVerification
        configuration.trustRoots = .certificates([try authorityCertificate(authority)])
        configuration.minimumTLSVersion = version
        configuration.maximumTLSVersion = version
        return configuration
    }

    static func client(
        trusting authority: FleetAuthority, identity: IssuedCertificate?, version: TLSVersion = .tlsv13
    ) throws -> TLSConfiguration {
        var configuration = TLSConfiguration.makeClientConfiguration()
        // The daemon's certificate must chain to the fleet CA and name the host
        // dialled: its IP SAN when serverHostname is nil, else its DNS SAN.
        configuration.certificateVerification = .fullVerification
        configuration.trustRoots = .certificates([try authorityCertificate(authority)])
        if let identity {
            configuration.certificateChain = [
                .certificate(try NIOSSLCertificate(bytes: Array(identity.certificatePEM.utf8), format: .pem))
            ]
            configuration.privateKey = .privateKey(
                try NIOSSLPrivateKey(bytes: Array(identity.privateKeyPEM.utf8), format: .pem))
        }
        configuration.minimumTLSVersion = version
        configuration.maximumTLSVersion = version
        return configuration
    }

    static func authorityCertificate(_ authority: FleetAuthority) throws -> NIOSSLCertificate {
        try NIOSSLCertificate(bytes: Array(authority.certificatePEM.utf8), format: .pem)
    }
}
