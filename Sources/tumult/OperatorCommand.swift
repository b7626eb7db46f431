import ArgumentParser
import Foundation
import Logging
import NIOSSL
import ServiceLifecycle
import TumultAgentHTTP
import TumultDaemon
import TumultFaults
import TumultKubernetes
import TumultModel

/// Where a command finds the cluster: a kubeconfig and its context, or the pod's service account.
struct KubernetesOptions: ParsableArguments {
    @Option(help: ArgumentHelp("The kubeconfig (default $KUBECONFIG, else ~/.kube/config, else the pod's service account).", valueName: "file"))
    var kubeconfig: String?

    @Option(help: ArgumentHelp("The kubeconfig context (default its current-context).", valueName: "name"))
    var context: String?

    @Option(help: ArgumentHelp("Requests per second to the API server, on average.", valueName: "n"))
    var qps: Double = 50

    @Option(help: ArgumentHelp("Requests the client may send at once above --qps.", valueName: "n"))
    var burst: Int = 100

    func configuration() throws -> KubernetesConfiguration {
        var configuration = try KubernetesConfiguration.resolve(kubeconfig: kubeconfig, context: context)
        configuration.qps = qps
        configuration.burst = burst
        return configuration
    }
}

/// How a controller reaches the fleet's daemons: the fleet CA, its client
/// certificate and the daemons' token (`tumult server` and `tumult operator`).
struct FleetClientOptions: ParsableArguments {
    @Option(name: .customLong("fleet-ca"), help: ArgumentHelp("The fleet CA (PEM) daemons' certificates are checked against (tumult certs init).", valueName: "file"))
    var fleetCA: String?

    @Option(name: .customLong("fleet-cert"), help: ArgumentHelp("This controller's client certificate (PEM) for the daemons (tumult certs issue client NAME).", valueName: "file"))
    var fleetCert: String?

    @Option(name: .customLong("fleet-key"), help: ArgumentHelp("The private key (PEM) of --fleet-cert.", valueName: "file"))
    var fleetKey: String?

    @Option(name: .customLong("fleet-token"), help: ArgumentHelp("The daemons' bearer token (default $TUMULT_FLEET_TOKEN).", valueName: "token"))
    var fleetToken: String?

    /// The three files go together; `required`: they must be given.
    func validate(required: Bool) throws {
        let files = [fleetCA, fleetCert, fleetKey].compactMap { $0 }
        if required && files.count != 3 {
            throw ValidationError("the daemons are reached over mutual TLS: give --fleet-ca, --fleet-cert and --fleet-key (or --insecure-fleet for loopback tests).")
        }
        guard files.isEmpty || files.count == 3 else { throw ValidationError("--fleet-ca, --fleet-cert and --fleet-key go together.") }
    }

    var tls: AgentTLS? {
        guard let fleetCA, let fleetCert, let fleetKey else { return nil }
        return AgentTLS(ca: fleetCA, certificate: fleetCert, privateKey: fleetKey)
    }

    var token: String? {
        fleetToken ?? ProcessInfo.processInfo.environment["TUMULT_FLEET_TOKEN"].flatMap { $0.isEmpty ? nil : $0 }
    }
}

/// `tumult operator`: Tumult in a Kubernetes cluster.
struct OperatorCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "operator",
        abstract: "Reconcile chaos-mesh.org (and tumult.dev) objects of a Kubernetes cluster through the nodes' tumult daemons.",
        discussion: """
            Watches every chaos kind Tumult runs and Schedules, cluster-wide or in the --watch-namespace given; \
            selects pods from its cache of the API server; injects through the daemon on each target's node \
            (the DaemonSet's pods, over mutual TLS); writes status, conditions and events as Chaos Mesh does; \
            holds the chaos-mesh/records finalizer until every target is recovered. Replicas elect one leader \
            with a Lease. With --webhook-cert and --webhook-key it also serves the validating webhook.
            """
    )

    @OptionGroup var cluster: KubernetesOptions

    @Option(help: ArgumentHelp("Tumult's namespace: its Lease and the daemons' pods (default $POD_NAMESPACE, else tumult).", valueName: "name"))
    var namespace: String?

    @Option(name: .customLong("watch-namespace"), help: ArgumentHelp("Watch only this namespace; repeat for several (default: every namespace).", valueName: "name"))
    var watchNamespaces: [String] = []

    @Option(help: ArgumentHelp("This replica's name in the leader Lease (default $POD_NAME, else the host name).", valueName: "name"))
    var identity: String?

    @Option(name: .customLong("lease-duration"), help: ArgumentHelp("Seconds a leader holds the Lease without renewing it; a replica takes over after.", valueName: "seconds"))
    var leaseDuration: Int = 15

    @OptionGroup var fleet: FleetClientOptions

    @Flag(name: .customLong("insecure-fleet"), help: "Reach daemons over plain HTTP (daemons on loopback, tests only).")
    var insecureFleet = false

    @Option(name: .customLong("daemon-lease"), help: ArgumentHelp("The dead-man's switch: a node daemon that hears from no leader for this long recovers what the operator injected there.", valueName: "seconds"))
    var daemonLease: Double = 60

    @Option(name: .customLong("webhook-listen"), help: ArgumentHelp("Where the validating webhook listens.", valueName: "host:port"))
    var webhookListen: String = "0.0.0.0:9443"

    @Option(name: .customLong("webhook-cert"), help: ArgumentHelp("The webhook's serving certificate (PEM); with --webhook-key, the webhook runs.", valueName: "file"))
    var webhookCert: String?

    @Option(name: .customLong("webhook-key"), help: ArgumentHelp("The private key (PEM) of --webhook-cert.", valueName: "file"))
    var webhookKey: String?

    func validate() throws {
        if insecureFleet {
            guard fleet.tls == nil else { throw ValidationError("--insecure-fleet: give no --fleet-ca, --fleet-cert or --fleet-key.") }
        } else {
            try fleet.validate(required: true)
        }
        if (webhookCert == nil) != (webhookKey == nil) { throw ValidationError("--webhook-cert and --webhook-key go together.") }
        _ = try Self.hostPort(webhookListen, option: "--webhook-listen")
        guard leaseDuration >= 2 else { throw ValidationError("--lease-duration: at least 2 seconds.") }
    }

    static func hostPort(_ text: String, option: String) throws -> (host: String, port: Int) {
        guard let colon = text.lastIndex(of: ":"), let port = Int(text[text.index(after: colon)...]), (0...65_535).contains(port) else {
            throw ValidationError("\(option): \"\(text)\" is not host:port.")
        }
        var host = String(text[..<colon])
        if host.hasPrefix("[") && host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
        return (host.isEmpty ? "0.0.0.0" : host, port)
    }

    /// The kinds the nodes' daemons run: every pod-targeted family's.
    static func runnableKinds() -> Set<ChaosKind> {
        let families = FamilyRegistry.standard(options: TranslationOptions(detachHelpers: true, networkBackend: .auto))
        return Set(families.translators.kinds).subtracting([.physicalMachineChaos, .physicalMachine])
    }

    func run() async throws {
        var logger = Logger(label: "tumult.operator")
        logger.logLevel = ProcessInfo.processInfo.environment["LOG_LEVEL"].flatMap(Logger.Level.init(rawValue:)) ?? .info
        let environment = ProcessInfo.processInfo.environment
        let client = KubernetesClient(configuration: try cluster.configuration(), logger: logger)
        var settings = OperatorConfiguration(kinds: Self.runnableKinds())
        settings.namespaces = watchNamespaces
        settings.namespace = namespace ?? environment["POD_NAMESPACE"].flatMap { $0.isEmpty ? nil : $0 } ?? "tumult"
        settings.identity = identity ?? environment["POD_NAME"].flatMap { $0.isEmpty ? nil : $0 } ?? ProcessInfo.processInfo.hostName
        settings.leaseDuration = .seconds(leaseDuration)
        settings.renewDeadline = .milliseconds(leaseDuration * 2000 / 3)
        settings.retryPeriod = .milliseconds(max(500, leaseDuration * 1000 / 7))
        // The daemons' certificates are checked against the fleet's CA, not
        // their names: a DaemonSet pod's address is not known when its
        // certificate is issued.
        settings.fleetTLS = try fleet.tls?.clientConfiguration(verifyHostname: false)
        settings.fleetToken = fleet.token
        settings.daemonLeaseSeconds = daemonLease
        var services: [any Service] = [ChaosOperator(client: client, configuration: settings, logger: logger)]
        if let webhookCert, let webhookKey {
            let (host, port) = try Self.hostPort(webhookListen, option: "--webhook-listen")
            let tls = TLSConfiguration.makeServerConfiguration(
                certificateChain: try NIOSSLCertificate.fromPEMFile(webhookCert).map { .certificate($0) },
                privateKey: .privateKey(try NIOSSLPrivateKey(file: webhookKey, format: .pem)))
            services.append(try AdmissionWebhook.application(host: host, port: port, tls: tls, runnable: settings.kinds, logger: logger) { bound in
                print("tumult operator: webhook listening on https://\(host):\(bound)\(AdmissionWebhook.path)")
                fflush(nil)
            })
        }
        print("tumult operator \(settings.identity): namespace \(settings.namespace), watching "
              + (watchNamespaces.isEmpty ? "every namespace" : watchNamespaces.joined(separator: ", ")))
        fflush(nil)
        let group = ServiceGroup(configuration: .init(services: services, gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
        try await group.run()
        try? await client.shutdown()
    }
}

/// `tumult crds`: the chaos-mesh.org CustomResourceDefinitions, and Tumult's own
/// tcpchaos.tumult.dev, generated from Tumult's model.
struct CRDsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "crds",
        abstract: "Print the chaos-mesh.org CRDs (and Tumult's own tcpchaos.tumult.dev) generated from Tumult's model (kubectl apply -f -).",
        discussion: "Interchangeable with Chaos Mesh's own: docs/crds.md lists every difference and why none changes what a document means."
    )

    func run() throws {
        print(CustomResourceDefinitions.yaml(), terminator: "")
    }
}
