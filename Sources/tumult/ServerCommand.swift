import ArgumentParser
import Foundation
import Logging
import TumultAgentHTTP
import TumultDaemon
import TumultKubernetes
import TumultServer

/// `tumult server`: the controller as a service with its REST API.
struct ServerCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "server",
        abstract: "Run experiments from Chaos Mesh documents, with Chaos Mesh's dashboard API (default 127.0.0.1:2333).",
        discussion: """
            Keeps experiments, schedules, events and archives in $TUMULT_HOME/tumult.sqlite. On SIGTERM or \
            Ctrl-C it recovers every fault its experiments injected before exiting (chaosd attacks stay until deleted); \
            after a crash it starts again from the \
            store, ending running experiments on time. Off loopback every API call needs the bearer token \
            (--token or $TUMULT_TOKEN).

            With --kubeconfig FILE or --in-cluster it serves the same dashboard and API over a Kubernetes \
            cluster's chaos objects instead: the operator (tumult operator) runs the experiments and writes \
            their status; this server lists them, creates and patches them, pauses them with Chaos Mesh's \
            annotation and deletes them. No store, no journal and no agent on this host; no emergency stop \
            (pause or delete the objects).
            """
    )

    @Option(help: ArgumentHelp("Address and port to listen on.", valueName: "host:port"))
    var listen: String = "127.0.0.1:2333"

    @Option(help: ArgumentHelp("Bearer token API calls must carry (default $TUMULT_TOKEN); required off loopback.", valueName: "token"))
    var token: String?

    @Option(help: ArgumentHelp("Labels and namespaces of the pods (default $TUMULT_INVENTORY, else $TUMULT_HOME/inventory.yaml).", valueName: "file"))
    var inventory: String?

    @Option(name: .customLong("network-backend"),
            help: "kernel: sch_netem; userspace: Tumult's NFQUEUE engine; auto: the kernel when it has netem.")
    var networkBackend: String = "auto"

    @Option(name: .customLong("allowed-origin"),
            help: ArgumentHelp("""
                An origin (https://chaos.example.com) or host name that browsers may reach the server by, besides its \
                listen address and localhost; repeat for several. Requests with any other Host or Origin get 403.
                """, valueName: "origin"))
    var allowedOrigins: [String] = []

    @Option(help: ArgumentHelp("Where the store and the journal live (default $TUMULT_HOME, else /var/lib/tumult).", valueName: "directory"))
    var home: String?

    @Option(name: .customLong("max-connections"),
            help: "Connections served at once; at the limit the oldest idle one makes room (default 1024).")
    var maxConnections: Int = 1024

    @Option(name: .customLong("header-timeout"), help: ArgumentHelp("Seconds a connection has to send a request head.", valueName: "seconds"))
    var headerTimeout: Double = 10

    @Option(name: .customLong("idle-timeout"), help: ArgumentHelp("Seconds a kept-alive connection may wait for its next request.", valueName: "seconds"))
    var idleTimeout: Double = 30

    @OptionGroup var fleet: FleetClientOptions

    @Flag(name: .customLong("allow-tasks"),
          help: "Accept Workflow Task templates: each runs its container's command on this host as this process's user (root).")
    var allowTasks = false

    @Option(help: ArgumentHelp("The dead-man's switch: a daemon that hears nothing from this server for this long recovers what it injected there.", valueName: "seconds"))
    var lease: Double = 30

    @Option(help: ArgumentHelp("This host's machine name (default: its host name); pods here get it as spec.nodeName.", valueName: "name"))
    var machine: String?

    @OptionGroup var cluster: KubernetesOptions

    @Flag(name: .customLong("in-cluster"), help: "Serve the chaos objects of the cluster this pod runs in (its service account).")
    var inCluster = false

    @Option(name: .customLong("watch-namespace"),
            help: ArgumentHelp("With --kubeconfig or --in-cluster: show only this namespace's objects (default: every namespace).",
                               valueName: "name"))
    var watchNamespace: String?

    /// Whether the server shows a cluster's objects rather than running experiments itself.
    var servesCluster: Bool { inCluster || cluster.kubeconfig != nil }

    func validate() throws {
        _ = try address()
        if inCluster && cluster.kubeconfig != nil { throw ValidationError("Give --kubeconfig or --in-cluster, not both.") }
        if !servesCluster && (cluster.context != nil || watchNamespace != nil) {
            throw ValidationError("--context and --watch-namespace go with --kubeconfig or --in-cluster.")
        }
        if servesCluster {
            let hostOnly = [("--inventory", inventory), ("--fleet-ca", fleet.fleetCA), ("--fleet-cert", fleet.fleetCert),
                            ("--fleet-key", fleet.fleetKey), ("--fleet-token", fleet.fleetToken), ("--machine", machine), ("--home", home)].filter { $0.1 != nil }.map(\.0)
            if !hostOnly.isEmpty {
                throw ValidationError("\(hostOnly.joined(separator: ", ")): a server over a cluster has no host agent, store or fleet of its own.")
            }
        }
        try fleet.validate(required: false)
        guard lease >= 3, lease <= 86_400 else { throw ValidationError("--lease: \(lease) is out of range: from 3 to 86400 seconds.") }
        guard maxConnections > 0, headerTimeout > 0, idleTimeout > 0 else {
            throw ValidationError("--max-connections, --header-timeout and --idle-timeout must be positive.")
        }
        for origin in allowedOrigins {
            if let problem = RequestOrigins.problem(withAllowed: origin) { throw ValidationError("--allowed-origin: \(problem).") }
        }
        guard ["auto", "kernel", "userspace"].contains(networkBackend) else {
            throw ValidationError("--network-backend: \"\(networkBackend)\" is not kernel, userspace or auto.")
        }
    }

    /// `host:port`, `[v6]:port` or `:port`.
    func address() throws -> (host: String, port: Int) {
        guard let colon = listen.lastIndex(of: ":"), let port = Int(listen[listen.index(after: colon)...]),
              (0...65_535).contains(port) else {
            throw ValidationError("--listen: \"\(listen)\" is not host:port (e.g. 127.0.0.1:2333).")
        }
        var host = String(listen[..<colon])
        if host.hasPrefix("[") && host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
        return (host.isEmpty ? "0.0.0.0" : host, port)
    }

    func run() async throws {
        let (host, port) = try address()
        var configuration = ServerConfiguration(home: home.map { URL(fileURLWithPath: $0) } ?? Journal.defaultDirectory())
        configuration.host = host
        configuration.port = port
        configuration.token = token ?? ProcessInfo.processInfo.environment["TUMULT_TOKEN"].flatMap { $0.isEmpty ? nil : $0 }
        configuration.inventoryPath = inventory
        if let path = LocalPodInventory.defaultPath(given: inventory, home: configuration.home) {
            // A broken inventory is reported now, not at the first selection.
            do { _ = try InventoryFile.load(path: path) } catch let error as InventoryFileError {
                throw RunFailure(status: 2, error.lines.joined(separator: "\n"))
            }
        }
        configuration.networkBackend = networkBackend
        configuration.connectionLimit = maxConnections
        (configuration.headerTimeout, configuration.idleTimeout) = (.seconds(headerTimeout), .seconds(idleTimeout))
        configuration.allowedOrigins = allowedOrigins
        configuration.fleet.tls = fleet.tls
        configuration.fleet.token = fleet.token
        configuration.fleet.leaseSeconds = lease
        if !configuration.listensOnLoopback && (configuration.token ?? "").isEmpty {
            throw ValidationError("--listen \(listen): listening beyond loopback needs a bearer token (--token or $TUMULT_TOKEN).")
        }
        var logger = Logger(label: "tumult.server")
        logger.logLevel = ProcessInfo.processInfo.environment["LOG_LEVEL"].flatMap(Logger.Level.init(rawValue:)) ?? .info
        if servesCluster {
            try await serveCluster(configuration, host: host, logger: logger)
            return
        }
        var agent = try LocalHostAgent.serving(home: configuration.home, inventoryPath: inventory,
                                               networkBackend: networkBackend, machine: machine)
        agent.allowsTasks = allowTasks
        configuration.allowsTasks = allowTasks
        configuration.commandLines = AgentCommandLines.run
        let (application, _) = try await buildApplication(configuration: configuration, agent: agent, logger: logger) { port in
            print("tumult server listening on http://\(host.contains(":") ? "[\(host)]" : host):\(port)")
            fflush(nil)
        }
        try await application.runService()
    }

    /// `--kubeconfig` / `--in-cluster`: the dashboard and API over the
    /// cluster's chaos objects, read from informer caches.
    func serveCluster(_ configuration: ServerConfiguration, host: String, logger: Logger) async throws {
        var kubernetes: KubernetesConfiguration
        do {
            kubernetes = inCluster ? try KubernetesConfiguration.inCluster() : try cluster.configuration()
        } catch let error as KubernetesConfigurationError {
            throw RunFailure(status: 2, error.message)
        }
        kubernetes.qps = cluster.qps
        kubernetes.burst = cluster.burst
        let client = KubernetesClient(configuration: kubernetes, logger: logger)
        let experiments = ClusterExperiments(client: client, namespace: watchNamespace, defaultNamespace: kubernetes.namespace, logger: logger)
        let apiServer = kubernetes.server.absoluteString
        let (application, _) = try buildApplication(configuration: configuration, experiments: experiments,
                                                    supportedKinds: ClusterExperiments.kinds, logger: logger) { port in
            print("tumult server listening on http://\(host.contains(":") ? "[\(host)]" : host):\(port) "
                  + "(the chaos objects of \(apiServer))")
            fflush(nil)
        }
        do {
            try await application.runService()
        } catch {
            try? await client.shutdown()
            throw error
        }
        try? await client.shutdown()
    }
}
