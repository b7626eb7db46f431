import Foundation
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import TumultModel

/// Tumult's transparent TCP proxy (`tumult proxy`): runs inside the
/// target's network namespace, takes the connections the fault's redirect
/// sends it, finds where each was going (SO_ORIGINAL_DST), connects there
/// itself — its socket marked so the redirect lets it pass — and relays
/// the bytes through the fault's HTTP rules and toxics.
public final class TransparentProxy: Sendable {
    /// The packet mark of the proxy's own connections ("tmp").
    public static let upstreamMark: Int32 = 0x746d70

    public struct Options: Sendable {
        public var listenPort: Int
        public var configurationPath: String
        public var statePath: String?

        public init(listenPort: Int, configurationPath: String, statePath: String?) {
            self.listenPort = listenPort
            self.configurationPath = configurationPath
            self.statePath = statePath
        }
    }

    private struct Shared {
        var configuration: ProxyConfiguration
        var connections: [ObjectIdentifier: ProxyConnection] = [:]
        var accepted = 0
        var tls = 0
        var draining = false
    }

    let options: Options
    let group: MultiThreadedEventLoopGroup
    private let listeners: [Channel]
    private let shared: NIOLockedValueBox<Shared>

    /// Reads the configuration, binds the port; relays from then on.
    public init(_ options: Options) throws {
        self.options = options
        let configuration = try ProxyConfiguration.read(from: options.configurationPath)
        let shared = NIOLockedValueBox(Shared(configuration: configuration))
        self.shared = shared
        // One event loop per two cores: the proxy shares the machine with the
        // service it sits in front of and with that service's clients, and a
        // second loop on two cores cost more in wake-ups and switches than it
        // gave (wrk through the relay: 29k requests/s with two loops, 37k
        // with one; tumult-bench proxy).
        let group = MultiThreadedEventLoopGroup(numberOfThreads: max(1, min(4, System.coreCount / 2)))
        self.group = group
        let reference = ProxyReference()
        func listen(on host: String, _ configure: (ServerBootstrap) -> ServerBootstrap) throws -> Channel {
            try configure(ServerBootstrap(group: group))
                .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
                .serverChannelOption(.backlog, value: 1024)
                .childChannelOption(.autoRead, value: false)
                .childChannelOption(.allowRemoteHalfClosure, value: true)
                .childChannelOption(.socketOption(.tcp_nodelay), value: 1)
                .childChannelOption(.recvAllocator, value: AdaptiveRecvByteBufferAllocator(minimum: 1024, initial: 16_384, maximum: 262_144))
                .childChannelInitializer { channel in
                    channel.eventLoop.makeCompletedFuture {
                        try channel.pipeline.syncOperations.addHandler(ProxyRelayHandler(fromClient: true) { channel in
                            reference.proxy?.accepted(channel)
                        })
                    }
                }
                .bind(host: host, port: options.listenPort).wait()
        }
        do {
            var listeners = [try listen(on: "0.0.0.0") { $0 }]
            // IPv6 beside it, when the namespace has IPv6 at all (its own socket: v6 only).
            if let six = try? listen(on: "::", {
                $0.serverChannelOption(.socket(SocketOptionLevel(IPPROTO_IPV6), SocketOptionName(IPV6_V6ONLY)), value: 1)
            }) {
                listeners.append(six)
            }
            self.listeners = listeners
        } catch {
            try? group.syncShutdownGracefully()
            throw error
        }
        reference.proxy = self
        writeState()
    }

    /// Reads the configuration file again and puts it in force on every
    /// connection (not once draining: recovery has begun).
    public func reload() throws {
        let configuration = try ProxyConfiguration.read(from: options.configurationPath)
        let connections = shared.withLockedValue { state -> [ProxyConnection] in
            guard !state.draining else { return [] }
            state.configuration = configuration
            return Array(state.connections.values)
        }
        for connection in connections {
            connection.eventLoop.execute { connection.apply(configuration, now: ProxyConnection.now()) }
        }
        writeState()
    }

    /// Recovery begins (SIGUSR1): no toxic and no rule from now on, for the
    /// open connections and for those still redirected here until the
    /// redirect is gone; an HTTP connection ends at its next idle moment.
    /// The redirect stays until the connections are done: changing the
    /// `nat` table cuts the address translation of connections it made.
    public func beginDrain() {
        let connections = shared.withLockedValue { state -> [ProxyConnection] in
            state.draining = true
            state.configuration = ProxyConfiguration(generation: state.configuration.generation, toxics: [], httpRules: [])
            return Array(state.connections.values)
        }
        for connection in connections { connection.eventLoop.execute { connection.drain() } }
        writeState()
    }

    /// Stopping (SIGTERM): takes no more connections, drains, and waits up
    /// to `timeout` seconds for the open connections to end.
    public func drain(timeout: TimeInterval) {
        for listener in listeners { try? listener.close().wait() }
        beginDrain()
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline && openConnections > 0 { usleep(20_000) }
    }

    public var isDraining: Bool { shared.withLockedValue { $0.draining } }

    public var openConnections: Int { shared.withLockedValue { $0.connections.count } }

    /// `ipv4`, and `ipv6` when the proxy listens there too.
    public var families: [String] { listeners.count > 1 ? ["ipv4", "ipv6"] : ["ipv4"] }

    /// Closes what is left and stops the event loops.
    public func shutdown() {
        for listener in listeners { try? listener.close().wait() }
        let connections = shared.withLockedValue { Array($0.connections.values) }
        for connection in connections { connection.eventLoop.execute { connection.close() } }
        try? group.syncShutdownGracefully()
        if let statePath = options.statePath { unlink(statePath) }
    }

    /// The state file: the generation in force and the counters.
    public func writeState() {
        guard let statePath = options.statePath else { return }
        let state = shared.withLockedValue {
            ProxyState(generation: $0.configuration.generation, open: $0.connections.count, accepted: $0.accepted,
                       tlsPassedThrough: $0.tls, draining: $0.draining)
        }
        guard let data = try? JSONEncoder().encode(state) else { return }
        // Plain write and rename: on tmpfs, and read by polling, it needs no fsync.
        let temporary = statePath + ".new"
        let descriptor = open(temporary, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
        guard descriptor >= 0 else { return }
        let written = data.withUnsafeBytes { write(descriptor, $0.baseAddress, $0.count) }
        close(descriptor)
        if written == data.count { rename(temporary, statePath) }
    }

    // MARK: Connections

    /// A connection was accepted: connect to where it was going, then relay.
    fileprivate func accepted(_ client: Channel) {
        guard let provider = client as? SocketOptionProvider else {
            client.close(promise: nil)
            return
        }
        // SO_ORIGINAL_DST (80) at the socket's own level: IP, or IPv6 (IP6T_SO_ORIGINAL_DST).
        if case .v6? = client.localAddress {
            let asked: EventLoopFuture<sockaddr_in6> = provider.unsafeGetSocketOption(
                level: SocketOptionLevel(IPPROTO_IPV6), name: SocketOptionName(80))
            asked.whenComplete { [self] result in
                guard case .success(let address) = result else { return client.close(promise: nil) }
                connect(client, to: SocketAddress(address, host: ""))
            }
        } else {
            let asked: EventLoopFuture<sockaddr_in> = provider.unsafeGetSocketOption(
                level: SocketOptionLevel(IPPROTO_IP), name: SocketOptionName(80))
            asked.whenComplete { [self] result in
                guard case .success(let address) = result else { return client.close(promise: nil) }
                connect(client, to: SocketAddress(address, host: ""))
            }
        }
    }

    /// Connects to where the client was going (the address the `nat`
    /// table rewrote, asked of the socket with SO_ORIGINAL_DST).
    private func connect(_ client: Channel, to destination: SocketAddress) {
        // While draining, the configuration is empty: relayed untouched.
        let configuration = shared.withLockedValue { state -> ProxyConfiguration in
            state.accepted += 1
            return state.configuration
        }
        ClientBootstrap(group: client.eventLoop)
            .channelOption(.socket(SocketOptionLevel(SOL_SOCKET), SocketOptionName(SO_MARK)), value: SocketOptionValue(Self.upstreamMark))
            .channelOption(.autoRead, value: false)
            .channelOption(.allowRemoteHalfClosure, value: true)
            .channelOption(.socketOption(.tcp_nodelay), value: 1)
            .channelOption(.recvAllocator, value: AdaptiveRecvByteBufferAllocator(minimum: 1024, initial: 16_384, maximum: 262_144))
            .connectTimeout(.seconds(10))
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(ProxyRelayHandler(fromClient: false))
                }
            }
            .connect(to: destination)
            .whenComplete { [self] result in
                switch result {
                case .failure:
                    // Where it was going refuses: the client learns it the same way, by a reset.
                    _ = (client as? SocketOptionProvider)?.setSoLinger(linger(l_onoff: 1, l_linger: 0))
                    client.close(promise: nil)
                case .success(let server):
                    start(client: client, server: server, configuration: configuration)
                }
            }
    }

    private func start(client: Channel, server: Channel, configuration: ProxyConfiguration) {
        let connection = ProxyConnection(
            client: client, server: server, configuration: configuration,
            onClose: { [weak self] connection in
                self?.shared.withLockedValue { _ = $0.connections.removeValue(forKey: ObjectIdentifier(connection)) }
            },
            onTLS: { [weak self] in self?.shared.withLockedValue { $0.tls += 1 } })
        let current = shared.withLockedValue { state -> ProxyConfiguration in
            state.connections[ObjectIdentifier(connection)] = connection
            return state.configuration
        }
        // A reload between accept and here: the newest configuration wins.
        if current.generation != configuration.generation { connection.apply(current, now: ProxyConnection.now()) }
        for (channel, handler) in [(client, try? client.pipeline.syncOperations.handler(type: ProxyRelayHandler.self)),
                                   (server, try? server.pipeline.syncOperations.handler(type: ProxyRelayHandler.self))] {
            handler?.connection = connection
            channel.read()
        }
        if !client.isActive || !server.isActive { connection.close() }
    }
}

/// Lets the listener's child handlers reach the proxy, which exists only
/// once the listener is bound.
private final class ProxyReference: @unchecked Sendable {
    weak var proxy: TransparentProxy?
}
