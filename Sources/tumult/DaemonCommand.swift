import ArgumentParser
import Foundation
import Hummingbird
import Logging
import ServiceLifecycle
import TumultAgent
import TumultAgentHTTP
import TumultDaemon
import TumultModel

/// `tumult daemon`: this host's agent as a service, for a `tumult server`
/// elsewhere (and for Chaos Mesh's PhysicalMachineChaos, which calls it as
/// it calls chaosd). Mutual TLS with the fleet CA and a bearer token; plain
/// HTTP only with `--insecure` on loopback.
struct DaemonCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "daemon",
        abstract: "Serve this host's agent to a tumult server over mutual TLS (and chaosd's API, for Chaos Mesh).",
        discussion: """
            At start it replays its journal (half-done attacks are undone) and gives every controller's lease a \
            full period. A controller that sends no heartbeat within its lease (the server killed, the network \
            cut) has every fault it injected here recovered: the dead-man's switch. Certificates: `tumult certs`.
            """
    )

    @Option(help: ArgumentHelp("Address and port to listen on (default 0.0.0.0:31768 with TLS, 127.0.0.1:31767 with --insecure).",
                               valueName: "host:port"))
    var listen: String?

    @Option(name: .customLong("CA"), help: ArgumentHelp("The fleet CA (PEM): clients must present a certificate it signed.", valueName: "file"))
    var ca: String?

    @Option(help: ArgumentHelp("This daemon's server certificate (PEM).", valueName: "file"))
    var cert: String?

    @Option(help: ArgumentHelp("The private key (PEM) of --cert.", valueName: "file"))
    var key: String?

    @Option(help: ArgumentHelp("Bearer token the agent API requires (default $TUMULT_FLEET_TOKEN).", valueName: "token"))
    var token: String?

    @Flag(help: "Plain HTTP without certificates: loopback only (tests, local tools).")
    var insecure = false

    @Option(help: ArgumentHelp("Where the journal lives (default $TUMULT_HOME, else /var/lib/tumult).", valueName: "directory"))
    var home: String?

    @Option(help: ArgumentHelp("Labels and namespaces of this host's pods (default $TUMULT_INVENTORY, else HOME/inventory.yaml).", valueName: "file"))
    var inventory: String?

    @Option(help: ArgumentHelp("This machine's name (default: its host name); its pods get it as spec.nodeName.", valueName: "name"))
    var machine: String?

    @Option(name: .customLong("network-backend"),
            help: "kernel: sch_netem; userspace: Tumult's NFQUEUE engine; auto: the kernel when it has netem.")
    var networkBackend: String = "auto"

    @Option(help: ArgumentHelp("Join this tumult server: register this machine there as a PhysicalMachine.", valueName: "url"))
    var join: String?

    @Option(name: .customLong("join-token"), help: ArgumentHelp("The server's API token for --join (default $TUMULT_TOKEN).", valueName: "token"))
    var joinToken: String?

    @Option(help: ArgumentHelp("The URL the server reaches this daemon by (default https://HOST:PORT of --listen).", valueName: "url"))
    var advertise: String?

    @Option(name: .customLong("label"), help: ArgumentHelp("A label of this machine for PhysicalMachineChaos selectors; repeat for several.", valueName: "key=value"))
    var labels: [String] = []

    @Flag(help: ArgumentHelp("Run as a Kubernetes node's daemon (the DaemonSet's, with hostPID): the machine is the node ($NODE_NAME); "
                             + "pods arrive from the operator with their container ids and are found by their cgroups in /proc "
                             + "(containerd as the fallback); mutual TLS is required."))
    var kubernetes = false

    func validate() throws {
        _ = try address()
        let files = [ca, cert, key].compactMap { $0 }
        if insecure {
            guard files.isEmpty else { throw ValidationError("--insecure serves plain HTTP: give no --CA, --cert or --key.") }
        } else if files.count != 3 {
            throw ValidationError("mutual TLS needs --CA, --cert and --key (`tumult certs init`, `tumult certs issue server NAME`); or --insecure on loopback.")
        }
        guard ["auto", "kernel", "userspace"].contains(networkBackend) else {
            throw ValidationError("--network-backend: \"\(networkBackend)\" is not kernel, userspace or auto.")
        }
        _ = try machineLabels()
        if kubernetes {
            guard !insecure else { throw ValidationError("--kubernetes: the operator reaches node daemons over mutual TLS; --insecure is for loopback only.") }
            guard join == nil else { throw ValidationError("--kubernetes: the operator finds node daemons by their pods; --join is for a tumult server.") }
            guard nodeName != nil else {
                throw ValidationError("--kubernetes: no node name: give --machine or set $NODE_NAME (the downward API's spec.nodeName).")
            }
        }
        if let join {
            _ = try ServerOptions.url(from: join, source: "--join")
            let host = try address().host
            if advertise == nil && (host == "0.0.0.0" || host == "::") {
                throw ValidationError("--join: the daemon listens on every address (\(host)); give --advertise https://ADDRESS:PORT, the URL the server reaches it by.")
            }
        }
        if let advertise { _ = try ServerOptions.url(from: advertise, source: "--advertise") }
    }

    /// The machine's name: `--machine`, or in a cluster the node the pod runs on.
    var nodeName: String? {
        if let machine { return machine }
        guard kubernetes else { return nil }
        return ProcessInfo.processInfo.environment["NODE_NAME"].flatMap { $0.isEmpty ? nil : $0 }
    }

    func address() throws -> (host: String, port: Int) {
        guard let listen else { return insecure ? ("127.0.0.1", ChaosdRoutes.plainPort) : ("0.0.0.0", ChaosdRoutes.tlsPort) }
        guard let colon = listen.lastIndex(of: ":"), let port = Int(listen[listen.index(after: colon)...]),
              (0...65_535).contains(port) else {
            throw ValidationError("--listen: \"\(listen)\" is not host:port (e.g. 0.0.0.0:31768).")
        }
        var host = String(listen[..<colon])
        if host.hasPrefix("[") && host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
        return (host.isEmpty ? "0.0.0.0" : host, port)
    }

    func machineLabels() throws -> [String: String] {
        var result: [String: String] = [:]
        for label in labels {
            let parts = label.split(separator: "=", maxSplits: 1).map(String.init)
            guard parts.count == 2, !parts[0].isEmpty else { throw ValidationError("--label: \"\(label)\" is not key=value.") }
            if let problem = LabelSelectorRequirement.labelKeyProblem(parts[0]) { throw ValidationError("--label \(parts[0]): \(problem).") }
            result[parts[0]] = parts[1]
        }
        return result
    }

    func run() async throws {
        let (host, port) = try address()
        var logger = Logger(label: "tumult.daemon")
        logger.logLevel = ProcessInfo.processInfo.environment["LOG_LEVEL"].flatMap(Logger.Level.init(rawValue:)) ?? .info
        let home = self.home.map { URL(fileURLWithPath: $0) } ?? Journal.defaultDirectory()
        let agent = try LocalHostAgent.serving(home: home, inventoryPath: inventory, networkBackend: networkBackend, machine: nodeName)
        let undone = await agent.replayJournal()
        if undone > 0 { logger.warning("journal replayed", metadata: ["attacks.undone": "\(undone)"]) }

        var settings = AgentServerConfiguration(host: host, port: port, insecure: insecure)
        if let ca, let cert, let key { settings.tls = AgentTLS(ca: ca, certificate: cert, privateKey: key) }
        settings.token = token ?? ProcessInfo.processInfo.environment["TUMULT_FLEET_TOKEN"].flatMap { $0.isEmpty ? nil : $0 }
        let joining = try joinRequest(host: host)
        let log = logger
        let application = try buildAgentApplication(agent: agent, configuration: settings, logger: logger) { bound in
            let scheme = insecure ? "http" : "https"
            print("tumult daemon \(agent.machine) listening on \(scheme)://\(host.contains(":") ? "[\(host)]" : host):\(bound)")
            fflush(nil)
            if let joining { Task { await joining.run(port: bound, logger: log) } }
        }
        let watch = HostWatchService(agent: agent, logger: logger)
        var services: [any Service] = [application, watch]
        // `tumult attack` and `tumult recover` on this host hand their work to this agent.
        if let path = LocalAgentSocket.path(home: home),
           let local = LocalAgentSocket.application(agent: agent, path: path, logger: logger, commands: AgentCommandLines.run) {
            services.append(local)
        }
        let group = ServiceGroup(configuration: .init(services: services, gracefulShutdownSignals: [.sigterm, .sigint],
                                                      logger: logger))
        try await group.run()
    }

    /// What `--join` sends, once the port is known.
    func joinRequest(host: String) throws -> JoinRequest? {
        guard let join else { return nil }
        let bearer = joinToken ?? ProcessInfo.processInfo.environment["TUMULT_TOKEN"].flatMap { $0.isEmpty ? nil : $0 }
        return JoinRequest(server: try ServerOptions.url(from: join, source: "--join"), token: bearer,
                           machine: machine ?? ProcessInfo.processInfo.hostName, labels: try machineLabels(),
                           advertise: advertise, scheme: insecure ? "http" : "https", host: host)
    }
}

/// `tumult daemon --join`: applies this machine's PhysicalMachine to the
/// server (annotated as joined), again every 5 s until the server takes it.
struct JoinRequest: Sendable {
    var server: URL
    var token: String?
    var machine: String
    var labels: [String: String]
    var advertise: String?
    var scheme: String
    var host: String

    func document(port: Int) -> Value {
        let address = advertise ?? "\(scheme)://\(host.contains(":") ? "[\(host)]" : host):\(port)"
        var metadata = Value.Object()
        metadata["name"] = .string(machine)
        metadata["namespace"] = .string("default")
        var labelObject = Value.Object()
        for (key, value) in labels.sorted(by: { $0.key < $1.key }) { labelObject[key] = .string(value) }
        metadata["labels"] = .object(labelObject)
        var annotations = Value.Object()
        annotations[Machine.joinedAnnotation] = .string("true")
        metadata["annotations"] = .object(annotations)
        var spec = Value.Object()
        spec["address"] = .string(address)
        var document = Value.Object()
        document["apiVersion"] = .string(ChaosDocument.apiVersion)
        document["kind"] = .string(ChaosKind.physicalMachine.rawValue)
        document["metadata"] = .object(metadata)
        document["spec"] = .object(spec)
        return .object(document)
    }

    func run(port: Int, logger: Logger) async {
        let client = APIClient(baseURL: server, token: token)
        while !Task.isCancelled {
            do {
                _ = try await client.apply(document(port: port), to: .experiments)
                logger.info("joined", metadata: ["server": "\(server)", "machine": "\(machine)"])
                return
            } catch {
                logger.warning("join failed; trying again in 5 s", metadata: ["server": "\(server)", "error": "\(error)"])
                try? await Task.sleep(for: .seconds(5))
            }
        }
    }
}

/// The daemon's own watch every 2 s: the dead-man's switch and the
/// liveness of attacks made outside experiments, each finding logged.
struct HostWatchService: Service {
    let agent: any HostWatching
    let logger: Logger

    func run() async throws {
        try? await cancelWhenGracefulShutdown {
            // An idle agent gives back what starting and each piece of work
            // read (`watchOnce`, at the first quiet round after work).
            while !Task.isCancelled {
                try await Task.sleep(for: .seconds(1))
                for report in await agent.watchOnce() {
                    let metadata: Logger.Metadata = ["reason": "\(report.reason)", "message": "\(report.message)",
                                                     "attack.uid": "\(report.attack?.id.uid ?? "")"]
                    if report.warning { logger.warning("host watch", metadata: metadata) } else { logger.info("host watch", metadata: metadata) }
                }
            }
        }
    }
}
