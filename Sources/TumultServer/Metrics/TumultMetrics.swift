import Foundation
import Prometheus
import TumultAgent
import TumultController

/// Tumult's Prometheus metrics, under Chaos Mesh's names where Chaos Mesh
/// has one (so its Grafana panels and alerts keep working) and Tumult's own
/// for what Chaos Mesh does not measure. Events and injection latencies
/// arrive as they happen (`ControllerObserver`); experiment counts, host
/// rules and engine counters are read when `/metrics` is scraped, so a
/// scrape always shows the present and nothing polls in between.
public final class TumultMetrics: ControllerObserver, @unchecked Sendable {
    /// Exposition goes through swift-prometheus; nothing here writes the text format.
    public let registry = PrometheusCollectorRegistry()

    /// Injections run commands and start helpers: 1 ms to 10 s.
    static let latencyBuckets: [Double] = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10]
    /// API calls answer from memory: 0.5 ms to 10 s.
    static let httpBuckets: [Double] = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10]

    /// Label sets set at the previous scrape, per gauge, to zero or drop
    /// the ones that are gone.
    private var published: [String: Set<Labels>] = [:]
    /// Engine counters already added, per machine, attack and verdict
    /// (agents report totals; the exported counters are sums over engines,
    /// so they add differences).
    private var engineTotals: [String: Double] = [:]
    private let lock = NSLock()
    /// One refresh at a time: two scrapes at once must not add an engine's
    /// difference twice or publish gauges half and half.
    private let refreshGate = AsyncGate()

    /// `kinds`: the kinds the host can inject, whose series start at zero.
    public init(kinds: [String] = []) {
        registerKinds(kinds)
    }

    // MARK: Names

    /// Every metric, with its help text (swift-prometheus requires one help per name).
    struct Metric: Sendable {
        let name: String
        let help: String

        var descriptor: MetricNameDescriptor { MetricNameDescriptor(metricName: name, unitName: "", helpText: help) }

        static let events = descriptor("chaos_controller_manager_emitted_event_total",
                                       "Events the controller emitted, by type, reason and the object's namespace.")
        static let experiments = descriptor("chaos_controller_manager_chaos_experiments",
                                            "Experiments by namespace, kind and dashboard phase.")
        static let schedules = descriptor("chaos_controller_manager_chaos_schedules", "Schedules by namespace.")
        static let workflows = descriptor("chaos_controller_manager_chaos_workflows", "Workflows by namespace and phase.")
        static let tcRules = descriptor("chaos_daemon_tcs_rules",
                                        "Tumult's qdiscs and tc filters in a network namespace.")
        static let iptablesPackets = descriptor("chaos_daemon_iptables_packets",
                                                "Packets matched by the rules of a Tumult iptables chain.")
        static let ipsetMembers = descriptor("chaos_daemon_ipset_members", "Entries of a Tumult ipset.")
        static let httpDuration = descriptor("chaos_dashboard_http_request_duration_seconds",
                                             "Time until the response head, by route pattern, method and status.")
        static let injectionDuration = descriptor("tumult_injection_duration_seconds",
                                                  "Time the host took to inject one target.")
        static let recoveryDuration = descriptor("tumult_recovery_duration_seconds",
                                                 "Time the host took to recover one target.")
        static let injections = descriptor("tumult_injections_total", "Injections of one target, by kind and result.")
        static let recoveries = descriptor("tumult_recoveries_total", "Recoveries of one target, by kind and result.")
        static let activeFaults = descriptor("tumult_active_faults", "Targets whose record is Injected, by kind.")
        static let halted = descriptor("tumult_halted", "1 while the emergency stop is in force.")
        static let faultsLost = descriptor("tumult_faults_lost_total",
                                           "Faults found lost by the liveness check while they should hold, by kind.")
        static let faultsRestored = descriptor("tumult_faults_restored_total",
                                               "Lost faults applied again by the liveness check, by kind.")
        static let enginePackets = descriptor("tumult_engine_packets_total",
                                              "Packets the userspace engines handled, by network namespace and verdict.")

        static func descriptor(_ name: String, _ help: String) -> Metric { Metric(name: name, help: help) }
    }

    /// A metric's labels in a fixed order (Prometheus output keeps it).
    struct Labels: Hashable, Sendable {
        var pairs: [Pair]
        struct Pair: Hashable, Sendable { var name: String; var value: String }

        init(_ pairs: KeyValuePairs<String, String>) {
            self.pairs = pairs.map { Pair(name: $0.key, value: $0.value) }
        }

        /// Labels from a dictionary (an agent's census), in name order.
        init(_ dictionary: [String: String]) {
            self.pairs = dictionary.sorted { $0.key < $1.key }.map { Pair(name: $0.key, value: $0.value) }
        }

        var tuples: [(String, String)] { pairs.map { ($0.name, $0.value) } }
    }

    // MARK: ControllerObserver

    public func didEmit(_ event: EventRecord) {
        registry.makeCounter(descriptor: Metric.events.descriptor, labels: [
            ("type", event.type.rawValue), ("reason", event.reason), ("namespace", event.namespace),
        ]).increment()
    }

    public func didFinish(_ operation: ControllerOperation, kind: String, seconds: Double, succeeded: Bool) {
        latency(operation, kind: kind).record(seconds)
        outcomes(operation, kind: kind, succeeded: succeeded).increment()
    }

    public func didLoseFault(kind: String, restored: Bool) {
        lossCounters(kind: kind).lost.increment()
        if restored { lossCounters(kind: kind).restored.increment() }
    }

    func lossCounters(kind: String) -> (lost: Prometheus.Counter, restored: Prometheus.Counter) {
        (registry.makeCounter(descriptor: Metric.faultsLost.descriptor, labels: [("kind", kind)]),
         registry.makeCounter(descriptor: Metric.faultsRestored.descriptor, labels: [("kind", kind)]))
    }

    func latency(_ operation: ControllerOperation, kind: String) -> ValueHistogram {
        let metric = operation == .inject ? Metric.injectionDuration : Metric.recoveryDuration
        return registry.makeValueHistogram(descriptor: metric.descriptor, labels: [("kind", kind)], buckets: Self.latencyBuckets)
    }

    func outcomes(_ operation: ControllerOperation, kind: String, succeeded: Bool) -> Prometheus.Counter {
        registry.makeCounter(descriptor: (operation == .inject ? Metric.injections : Metric.recoveries).descriptor,
                             labels: [("kind", kind), ("result", succeeded ? "succeeded" : "failed")])
    }

    /// Creates the latency and outcome series of `kinds` at zero, so that
    /// `rate()` sees a kind's first injection (a series born at 1 shows none).
    func registerKinds(_ kinds: [String]) {
        for kind in kinds {
            for operation in [ControllerOperation.inject, .recover] {
                _ = latency(operation, kind: kind)
                _ = outcomes(operation, kind: kind, succeeded: true)
                _ = outcomes(operation, kind: kind, succeeded: false)
            }
            _ = lossCounters(kind: kind)
        }
    }

    // MARK: HTTP

    /// One API call, timed until its response head.
    func didServe(path: String, method: String, status: Int, seconds: Double) {
        registry.makeValueHistogram(descriptor: Metric.httpDuration.descriptor,
                                    labels: [("path", path), ("method", method), ("status", String(status))],
                                    buckets: Self.httpBuckets)
            .record(seconds)
    }

    // MARK: Scrape

    /// Reads the controller, the host and the engines, sets the gauges, and
    /// returns the exposition text.
    public func scrape(_ parts: ServerParts) async -> [UInt8] {
        await refreshGate.run { await self.refresh(parts) }
        return registry.emitToBuffer()
    }

    func refresh(_ parts: ServerParts) async {
        let controller = parts.experiments
        let moment = await controller.currentDate()
        let experiments = await controller.allExperiments()
        let schedules = await controller.allSchedules()
        let workflows = await controller.allWorkflows()
        let halted = await controller.halted

        var byPhase: [Labels: Double] = [:]
        var active: [Labels: Double] = [:]
        for kind in parts.supportedKinds { active[Labels(["kind": kind.rawValue])] = 0 }
        for record in experiments {
            byPhase[Labels(["namespace": record.namespace, "kind": record.kind.rawValue,
                            "phase": record.status(at: moment).rawValue]), default: 0] += 1
            for target in record.records where target.phase == .injected {
                active[Labels(["kind": record.kind.rawValue]), default: 0] += 1
            }
        }
        var scheduleCounts: [Labels: Double] = [:]
        for schedule in schedules where schedule.deletedAt == nil {
            scheduleCounts[Labels(["namespace": schedule.namespace]), default: 0] += 1
        }
        publish(Metric.experiments, byPhase, whenGone: .zero)
        publish(Metric.schedules, scheduleCounts, whenGone: .zero)
        var workflowCounts: [Labels: Double] = [:]
        for workflow in workflows {
            workflowCounts[Labels(["namespace": workflow.namespace, "phase": workflow.phase.rawValue]), default: 0] += 1
        }
        publish(Metric.workflows, workflowCounts, whenGone: .zero)
        publish(Metric.activeFaults, active, whenGone: .zero)
        registry.makeGauge(descriptor: Metric.halted.descriptor).set(to: halted ? 1.0 : 0.0)

        // The host gauges: each agent's census, added up (a namespace is
        // labelled with its machine when the fleet has more than one).
        let censuses = await Self.censuses(parts.fleet)
        let labelMachines = parts.fleet.all().count > 1
        var gauges: [String: [Labels: Double]] = [:]
        var engines: [(key: String, labels: Labels, total: Double)] = []
        for (machine, census) in censuses {
            for sample in census.samples {
                var labels = sample.labels
                if labelMachines { labels["machine"] = machine }
                if sample.name == "tumult_engine_packets" {
                    let attack = labels.removeValue(forKey: "attack") ?? ""
                    engines.append(("\(machine)/\(attack)/\(labels["verdict"] ?? "")", Labels(labels), sample.value))
                } else {
                    gauges[sample.name, default: [:]][Labels(labels), default: 0] += sample.value
                }
            }
        }
        publish(Metric.tcRules, gauges[Metric.tcRules.name] ?? [:], whenGone: .drop)
        publish(Metric.iptablesPackets, gauges[Metric.iptablesPackets.name] ?? [:], whenGone: .drop)
        publish(Metric.ipsetMembers, gauges[Metric.ipsetMembers.name] ?? [:], whenGone: .drop)
        addEngineCounters(engines)
    }

    /// Every agent's census, side by side, under the name the fleet gives
    /// its machine (a daemon may call itself otherwise); a host that does
    /// not answer adds nothing.
    static func censuses(_ fleet: AgentFleet) async -> [(machine: String, census: AgentCensus)] {
        await withTaskGroup(of: (String, AgentCensus)?.self) { group in
            for member in fleet.all() {
                group.addTask { (try? await member.agent.census()).map { (member.machine.name, $0) } }
            }
            var all: [(machine: String, census: AgentCensus)] = []
            for await found in group { if let found { all.append(found) } }
            return all
        }
    }

    enum Gone { case zero, drop }

    /// Sets a gauge family to `values`. Label sets set before and absent
    /// now are set to 0 (`.zero`: counts that went to nothing, which a
    /// graph should show) or removed (`.drop`: things that no longer exist,
    /// such as a deleted chain, so that series do not pile up).
    func publish(_ metric: Metric, _ values: [Labels: Double], whenGone: Gone) {
        let descriptor = metric.descriptor
        lock.withLock {
            let previous = published[metric.name] ?? []
            for (labels, value) in values {
                registry.makeGauge(descriptor: descriptor, labels: labels.tuples).set(to: value)
            }
            let gone = previous.subtracting(values.keys)
            for labels in gone {
                let gauge = registry.makeGauge(descriptor: descriptor, labels: labels.tuples)
                switch whenGone {
                case .zero: gauge.set(to: 0.0)
                case .drop: registry.unregisterGauge(gauge)
                }
            }
            published[metric.name] = whenGone == .zero ? previous.union(values.keys) : Set(values.keys)
        }
    }

    /// Adds what each engine counted since the previous scrape. An engine
    /// whose totals went down was restarted: its totals count in full.
    func addEngineCounters(_ readings: [(key: String, labels: Labels, total: Double)]) {
        lock.withLock {
            var seen: [String: Double] = [:]
            for reading in readings {
                let previous = engineTotals[reading.key] ?? 0
                let added = reading.total >= previous ? reading.total - previous : reading.total
                registry.makeCounter(descriptor: Metric.enginePackets.descriptor, labels: reading.labels.tuples)
                    .increment(by: Int64(clamping: Int64(added)))
                seen[reading.key] = reading.total
            }
            engineTotals = seen
        }
    }
}
