import Foundation
import Logging
import ServiceLifecycle
import TumultAgent
import TumultController
import TumultModel

/// `tumult operator`: one leader at a time (a `coordination.k8s.io/v1`
/// Lease) watches every chaos kind it runs and Schedules, selects pods
/// from its cache of the API server, and drives the nodes' daemons
/// through the same controller as `tumult server`; its replicas wait,
/// and one takes over within the lease period when the leader is gone.
public final class ChaosOperator: Service, Sendable {
    let client: KubernetesClient
    let configuration: OperatorConfiguration
    let logger: Logger
    /// Told when this replica starts or stops leading (tests, logs).
    let onLeading: (@Sendable (Bool) -> Void)?

    public init(client: KubernetesClient, configuration: OperatorConfiguration, logger: Logger,
                onLeading: (@Sendable (Bool) -> Void)? = nil) {
        self.client = client
        self.configuration = configuration
        self.logger = logger
        self.onLeading = onLeading
    }

    /// The resource of every kind watched: the kinds the daemons run, and Schedules.
    public static func resources(for kinds: Set<ChaosKind>) -> [(kind: ChaosKind, resource: ResourceType)] {
        (kinds.filter(\.isFault) .union([.schedule])).sorted { $0.rawValue < $1.rawValue }.compactMap { kind in
            guard let plural = CustomResourceDefinitions.plural(of: kind) else { return nil }
            return (kind, ResourceType.chaosMesh(kind: kind.rawValue, plural: plural, group: kind.group))
        }
    }

    public func run() async throws {
        let elector = LeaderElector(client: client, namespace: configuration.namespace, name: configuration.leaseName,
                                    identity: configuration.identity, leaseDuration: configuration.leaseDuration,
                                    renewDeadline: configuration.renewDeadline, retryPeriod: configuration.retryPeriod,
                                    logger: logger)
        try await cancelWhenGracefulShutdown {
            try await elector.run { try await self.lead() }
        }
    }

    /// Everything the leader does, until it is cancelled (leadership lost, shutdown).
    func lead() async throws {
        logger.info("leading", metadata: ["identity": "\(configuration.identity)"])
        onLeading?(true)
        defer { onLeading?(false) }
        let scopes: [String?] = configuration.namespaces.isEmpty ? [nil] : configuration.namespaces.map(Optional.some)
        var podInformers = scopes.map { Informer<PodObject>(client: client, resource: .pods, namespace: $0, logger: logger) }
        // The daemons' pods come from the same cache when it covers Tumult's namespace.
        let daemonInformer: Informer<PodObject>
        if scopes.contains(where: { $0 == nil || $0 == configuration.namespace }) {
            daemonInformer = podInformers[scopes.firstIndex { $0 == nil || $0 == configuration.namespace }!]
        } else {
            daemonInformer = Informer<PodObject>(client: client, resource: .pods, namespace: configuration.namespace,
                                                 labelSelector: configuration.daemonSelector, logger: logger)
            podInformers.append(daemonInformer)
        }
        let nodeInformer = Informer<NodeObject>(client: client, resource: .nodes, namespace: nil, logger: logger)
        let watched = Self.resources(for: configuration.kinds)
        var chaosInformers: [ResourceType: [Informer<UnstructuredObject>]] = [:]
        for (_, resource) in watched {
            chaosInformers[resource] = scopes.map { Informer<UnstructuredObject>(client: client, resource: resource, namespace: $0, logger: logger) }
        }
        let inventory = ClusterInventory(pods: scopes.indices.map { podInformers[$0] }, nodes: nodeInformer)
        let fleet = AgentFleet(cluster: inventory)
        let relay = EventRelay()
        var settings = Controller.Configuration(supportedKinds: configuration.kinds)
        // Workflow and StatusCheck objects have no status written back yet.
        settings.runsWorkflows = false
        settings.refusal = configuration.refusal
        settings.controllerID = configuration.controllerID
        settings.keepsDocumentUIDs = true
        settings.recoversOrphans = true
        settings.leaseSeconds = configuration.daemonLeaseSeconds
        settings.watchInterval = configuration.watchInterval
        settings.observer = relay
        let controller = try Controller(fleet: fleet, store: InMemoryExperimentStore(), configuration: settings)
        let directory = DaemonDirectory(fleet: fleet, configuration: configuration, logger: logger)
        let recorder = EventRecorder(client: client, reportingController: "tumult.dev/operator",
                                     reportingInstance: configuration.identity, logger: logger)
        let reconciler = ChaosReconciler(client: client, controller: controller, caches: chaosInformers,
                                         events: recorder, logger: logger)

        try await withThrowingTaskGroup(of: Void.self) { group in
            // Subscribed before the caches fill: nothing listed is missed.
            let daemonEvents = daemonInformer.events()
            let chaosEvents = watched.flatMap { entry in chaosInformers[entry.resource, default: []].map { (entry.resource, $0.events()) } }
            for informer in podInformers { group.addTask { try await informer.run() } }
            group.addTask { try await nodeInformer.run() }
            for informers in chaosInformers.values { for informer in informers { group.addTask { try await informer.run() } } }
            for informer in podInformers { await informer.waitForSync() }
            await nodeInformer.waitForSync()
            for informers in chaosInformers.values { for informer in informers { await informer.waitForSync() } }
            directory.sync(daemonInformer.list())
            let controllerUpdates = await controller.updates()

            // Every live object applied before the controller looks at the
            // nodes, so that what the last leader injected is matched, not
            // taken for an orphan.
            let pods = (try? await inventory.pods()) ?? []
            for (resource, informers) in chaosInformers {
                for informer in informers {
                    for object in informer.list() where object.metadata.deletionTimestamp == nil {
                        await reconciler.reconcile(object, resource: resource, adopting: pods)
                    }
                }
            }
            await controller.start()
            let records = await controller.allExperiments().flatMap(\.records)
            logger.info("caches synced; controller started",
                        metadata: ["pods": "\(podInformers.map { $0.list().count }.reduce(0, +))",
                                   "objects": "\(reconciler.index.count)", "nodes": "\(fleet.machines().count)",
                                   "targets.injected": "\(records.filter { $0.phase == .injected }.count)",
                                   "targets": "\(records.count)"])

            group.addTask {
                // The daemons' informer may be the cluster's pod cache:
                // only a daemon pod's change (or a relist) is looked at,
                // not each of thousands of pods.
                for await event in daemonEvents {
                    switch event {
                    case .added(let pod), .deleted(let pod):
                        if directory.isDaemon(pod) { directory.sync(daemonInformer.list()) }
                    case .updated(let old, let new):
                        if directory.isDaemon(old) || directory.isDaemon(new) { directory.sync(daemonInformer.list()) }
                    case .synced:
                        directory.sync(daemonInformer.list())
                    }
                }
            }
            for (resource, stream) in chaosEvents {
                group.addTask {
                    for await event in stream {
                        switch event {
                        case .added(let object), .updated(_, let object): await reconciler.reconcile(object, resource: resource)
                        case .deleted(let object): await reconciler.forget(object, resource: resource)
                        case .synced: continue
                        }
                    }
                }
            }
            group.addTask { await reconciler.followController(controllerUpdates) }
            group.addTask { await reconciler.addFinalizers() }
            group.addTask { await reconciler.forward(relay.stream) }
            group.addTask { await reconciler.sweep(every: self.configuration.statusSweep) }
            if let seconds = configuration.daemonLeaseSeconds {
                let leases = FleetLeases(fleet: fleet, controller: configuration.controllerID, seconds: seconds, logger: logger)
                group.addTask { await leases.run() }
            }
            defer { relay.finish() }
            do {
                try await group.next()
                group.cancelAll()
            } catch {
                group.cancelAll()
                await controller.shutdown(recover: false)
                await directory.shutdown()
                throw error
            }
            await controller.shutdown(recover: false)
            await directory.shutdown()
        }
    }
}
