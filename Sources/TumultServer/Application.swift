import Foundation
import Hummingbird
import Logging
import ServiceLifecycle
import TumultAgent
import TumultAgentHTTP
import TumultController
import TumultModel

/// How `tumult server` runs.
public struct ServerConfiguration: Sendable {
    public var host: String = "127.0.0.1"
    public var port: Int = 2333
    /// Required in `Authorization: Bearer` on every API call; must be set
    /// when the server listens on anything but loopback.
    public var token: String?
    /// `$TUMULT_HOME`: the store and the journal.
    public var home: URL
    public var inventoryPath: String?
    public var networkBackend: String = "auto"
    /// The fleet: how remote daemons are reached (mutual TLS), and how
    /// long each may go without hearing from this controller.
    public var fleet = FleetConfiguration()
    /// `--allowed-origin`: origins (`https://chaos.example.com`) or host
    /// names besides the listen address that browsers may reach it by.
    public var allowedOrigins: [String] = []
    /// Connections served at once (`--max-connections`); at the limit the
    /// oldest idle one, or one still sending its head, makes room.
    public var connectionLimit: Int = 1024
    /// Time a connection has to send a whole request head (slowloris).
    public var headerTimeout: Duration = .seconds(10)
    /// Time a kept-alive connection may wait for its next request.
    public var idleTimeout: Duration = .seconds(30)
    /// `--allow-tasks`: Workflow Task templates run their command on this
    /// host, as the server's user (root). Off by default: whoever may call
    /// the API could otherwise run any command here.
    public var allowsTasks = false
    /// Runs the command lines `tumult` hands to this agent over its home's
    /// socket (the CLI's parser, which this library does not link).
    public var commandLines: LocalAgentSocket.CommandLines?

    public init(home: URL) {
        self.home = home
    }

    /// True for 127.0.0.0/8, ::1 and localhost, parsed as addresses: a
    /// name such as `127.attacker.invalid` is not loopback.
    public var listensOnLoopback: Bool {
        host.lowercased() == "localhost" || IPAddressText(RequestOrigins.normalisedHost(host))?.isLoopback == true
    }
}

/// How `tumult server` reaches the daemons of its fleet.
public struct FleetConfiguration: Sendable {
    /// The fleet CA and this controller's client certificate and key (PEM files).
    public var tls: AgentTLS?
    /// The daemons' bearer token.
    public var token: String?
    /// The dead-man's switch: a daemon that hears nothing from this
    /// controller for this long recovers what it injected there.
    public var leaseSeconds: Double = 30

    public init() {}
}

/// The server's parts, for the command that runs it and for tests.
public struct ServerParts: Sendable {
    /// What the API shows and changes: this host's controller, or a
    /// cluster's chaos objects.
    public let experiments: any ExperimentService
    /// This host's agent (in process); nil over a cluster, where the
    /// nodes' daemons belong to the operator.
    public let agent: (any HostWatching)?
    /// Every host the controller drives, this one first (a cluster: its pods).
    public var fleet: AgentFleet { experiments.fleet }
    /// The single-host server's controller, whose loop tests drive.
    public var controller: Controller {
        guard let controller = experiments as? Controller else {
            preconditionFailure("a server over a cluster has no controller of its own")
        }
        return controller
    }
    /// Kinds the controller runs.
    public let supportedKinds: [ChaosKind]
    /// Whether API calls need the bearer token.
    public let requiresToken: Bool
    /// `GET /api/experiments`' encoded items, kept between requests.
    let experimentList = ExperimentListCache()
}

/// Builds the controller over the local host agent and the store, and the
/// HTTP application serving the API. `tumult server` and the tests both
/// call this (tests with port 0).
public func buildApplication(configuration: ServerConfiguration, agent: any HostWatching,
                             logger: Logger = Logger(label: "tumult.server"),
                             onServerRunning: @escaping @Sendable (Int) async -> Void = { _ in })
async throws -> (application: some ApplicationProtocol, parts: ServerParts) {
    if !configuration.listensOnLoopback && (configuration.token ?? "").isEmpty {
        throw ControllerError(.invalidDocument, "--listen \(configuration.host): a bearer token is required off loopback (--token or $TUMULT_TOKEN)")
    }
    let store = try SQLiteExperimentStore(directory: configuration.home)
    let status = try await agent.status()
    var kinds = Set(status.kinds.compactMap(ChaosKind.init(rawValue:)))
    // Machines are reached over the agent protocol: with fleet
    // certificates, remote ones too; without, only this one.
    kinds.insert(.physicalMachine)
    let connections = try FleetConnections(configuration.fleet)
    let metrics = TumultMetrics(kinds: kinds.map(\.rawValue).sorted())
    var controllerConfiguration = Controller.Configuration(supportedKinds: kinds)
    controllerConfiguration.observer = metrics
    controllerConfiguration.recoversOrphans = true
    controllerConfiguration.controllerID = try ControllerIdentity.load(home: configuration.home)
    controllerConfiguration.leaseSeconds = configuration.fleet.leaseSeconds
    // PhysicalMachineChaos actions no family runs are refused by name at apply.
    let machineActions = Set(status.machineActions)
    controllerConfiguration.refusal = { document in
        guard let spec = document.spec as? PhysicalMachineChaosSpec, !machineActions.contains(spec.action.rawValue) else { return nil }
        return "spec.action: PhysicalMachineChaos action \(spec.action.rawValue) is not supported by Tumult's daemons yet (supported: "
            + machineActions.sorted().joined(separator: ", ") + ")"
    }
    // StatusChecks (alone and in Workflows) probe over HTTP from here.
    let prober = HTTPStatusProber()
    controllerConfiguration.statusProber = prober
    controllerConfiguration.runsTasks = configuration.allowsTasks
    let fleet = AgentFleet(local: agent, connector: connections.connector)
    let controller: Controller
    do {
        controller = try Controller(fleet: fleet, store: store, configuration: controllerConfiguration)
    } catch {
        try? await prober.shutdown()
        throw error
    }
    let parts = ServerParts(experiments: controller, agent: agent, supportedKinds: kinds.sorted { $0.rawValue < $1.rawValue },
                            requiresToken: !(configuration.token ?? "").isEmpty)
    let listening = ListeningSignal()
    // Shut down in reverse order: the leases and the daemons' clients
    // last, after the controller has recovered what it injected on them.
    var services: [any Service] = [
        StatusProberService(prober: prober),
        LeaseService(fleet: fleet, controller: controllerConfiguration.controllerID,
                     seconds: configuration.fleet.leaseSeconds, connections: connections, logger: logger),
        ControllerService(controller: controller, listening: listening, logger: logger),
        FaultWatchService(agent: agent, controller: controller, listening: listening, metrics: metrics, logger: logger),
    ]
    // `tumult attack` and `tumult recover` hand their work to this agent over its home's socket.
    if let path = LocalAgentSocket.path(home: configuration.home),
       let local = LocalAgentSocket.application(agent: agent, path: path, logger: logger, commands: configuration.commandLines) {
        services.append(local)
    }
    let application = makeApplication(configuration: configuration, parts: parts, metrics: metrics, listening: listening,
                                      services: services, logger: logger, onServerRunning: onServerRunning)
    return (application, parts)
}

/// The HTTP application over any `ExperimentService`, with no agent on
/// this host: `tumult server --kubeconfig|--in-cluster`, where the
/// operator runs the experiments and the nodes' daemons inject. chaosd's
/// routes, the host's fault watch and the fleet's leases belong to the
/// single-host server and are left out; `supportedKinds` are the kinds the
/// dashboard offers.
public func buildApplication(configuration: ServerConfiguration, experiments: any ExperimentService, supportedKinds: Set<ChaosKind>,
                             logger: Logger = Logger(label: "tumult.server"),
                             onServerRunning: @escaping @Sendable (Int) async -> Void = { _ in })
throws -> (application: some ApplicationProtocol, parts: ServerParts) {
    if !configuration.listensOnLoopback && (configuration.token ?? "").isEmpty {
        throw ControllerError(.invalidDocument, "--listen \(configuration.host): a bearer token is required off loopback (--token or $TUMULT_TOKEN)")
    }
    let metrics = TumultMetrics(kinds: supportedKinds.map(\.rawValue).sorted())
    let parts = ServerParts(experiments: experiments, agent: nil, supportedKinds: supportedKinds.sorted { $0.rawValue < $1.rawValue },
                            requiresToken: !(configuration.token ?? "").isEmpty)
    let listening = ListeningSignal()
    let application = makeApplication(configuration: configuration, parts: parts, metrics: metrics, listening: listening,
                                      services: [ControllerService(controller: experiments, listening: listening, logger: logger)],
                                      logger: logger, onServerRunning: onServerRunning)
    return (application, parts)
}

/// The router, its guards and routes, and the application running
/// `services`; chaosd's routes only with a host agent.
private func makeApplication(configuration: ServerConfiguration, parts: ServerParts, metrics: TumultMetrics,
                             listening: ListeningSignal, services: [any Service], logger: Logger,
                             onServerRunning: @escaping @Sendable (Int) async -> Void) -> some ApplicationProtocol {
    let port = ListeningPort()
    let routeMethods = RouteMethods()
    let router = Router(context: BasicRequestContext.self)
    // Metrics: first, to time every request, refused ones included.
    router.add(middleware: HTTPMetricsMiddleware(metrics: metrics))
    router.add(middleware: ErrorMiddleware())
    // Cross-site and rebinding requests are refused before the token is looked at.
    router.add(middleware: RequestGuardMiddleware(origins: RequestOrigins(listenHost: configuration.host, allowed: configuration.allowedOrigins),
                                                  listening: port, bodyLimit: APIRoutes.bodyLimit))
    if let token = configuration.token, !token.isEmpty {
        router.add(middleware: BearerTokenMiddleware(token: token))
    }
    router.add(middleware: MethodNotAllowedMiddleware(routes: routeMethods))
    APIRoutes(parts: parts).register(on: router)
    DashboardRoutes(parts: parts).register(on: router)
    if let agent = parts.agent { ServerChaosdRoutes(agent: agent).register(on: router) }
    MachineRoutes(parts: parts).register(on: router)
    ToxicRoutes(parts: parts).register(on: router)
    WorkflowRoutes(parts: parts).register(on: router)
    // Metrics: `GET /metrics`, behind the bearer token like the API.
    MetricsRoutes(parts: parts, metrics: metrics).register(on: router)
    OpenAPIRoutes().register(on: router)
    routeMethods.load(from: router)

    // Timeouts and a connection limit: a flood cannot lock out `POST /api/halt`.
    let guarded = ConnectionGuard.serving(configuration, registry: metrics.registry, logger: logger)
    return Application(
        router: router,
        server: guarded.server,
        configuration: .init(address: .hostname(configuration.host, port: configuration.port), serverName: "tumult",
                             backlog: guarded.backlog),
        services: services,
        onServerRunning: { channel in
            port.set(channel.localAddress?.port ?? configuration.port)
            listening.listening()
            await onServerRunning(channel.localAddress?.port ?? 0)
        },
        logger: logger)
}
