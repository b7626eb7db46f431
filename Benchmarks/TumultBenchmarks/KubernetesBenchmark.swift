import Foundation
import KubernetesSimulation
import Logging
import Synchronization
import TumultAgent
import TumultAgentHTTP
import TumultKubernetes
import TumultModel

/// `swift run -c release tumult-bench kubernetes [--pods 10000] [--experiments 1000] [--nodes 10] [--qps 50] [--burst 100]`
/// `[--phases cold,steady,delete] [--settle 12] [--timeout 900]` (the subcommand first; no root).
///
/// The operator at the scale where Chaos Mesh's controller stalls: the real
/// `ChaosOperator` in process, against the API server simulation over
/// HTTP, with one node daemon per node served over the agent protocol
/// (plain HTTP on loopback) by a `RecordingAgent` that injects nothing.
/// Each phase prints the time until every NetworkChaos shows
/// `AllInjected: True` (or, for `delete`, until every object is gone), the
/// injections the daemons saw, and every API request by verb and resource
/// against the goal of issue 13: one list and one watch per resource type,
/// one status write per experiment change.
///
/// - cold: the pods and objects exist before the operator starts.
/// - steady: the operator is running and synced, then the objects are created in a burst.
/// - delete: right after steady, every object is deleted in a burst (finalizers held
///   until each target is recovered).
struct KubernetesBenchmark {
    enum PhaseName: String, CaseIterable, Sendable {
        case cold, steady, delete
    }

    var pods = 10_000
    var experiments = 1_000
    var nodes = 10
    var qps = 50.0
    var burst = 100
    var phases: [PhaseName] = PhaseName.allCases
    /// How long requests are still counted once a phase is done: longer than
    /// the status sweep (10 s), so a sweep that writes what did not change shows.
    var settle = 12.0
    /// Longest wait for a phase to finish.
    var timeout = 900.0

    static let appNamespace = "apps"
    static let chaosResource = ResourceType.chaosMesh(kind: "NetworkChaos", plural: "networkchaos")

    init(arguments: [String]) throws {
        func value(_ flag: String) -> String? {
            guard let index = arguments.firstIndex(of: flag), index + 1 < arguments.count else { return nil }
            return arguments[index + 1]
        }
        func positive(_ flag: String) throws -> Int? {
            guard let text = value(flag) else { return nil }
            guard let number = Int(text), number > 0 else { throw BenchmarkError("\(flag): \"\(text)\" is not a positive integer") }
            return number
        }
        func seconds(_ flag: String) throws -> Double? {
            guard let text = value(flag) else { return nil }
            guard let number = Double(text), number >= 0 else { throw BenchmarkError("\(flag): \"\(text)\" is not a number of seconds") }
            return number
        }
        pods = try positive("--pods") ?? pods
        experiments = try positive("--experiments") ?? experiments
        nodes = try positive("--nodes") ?? nodes
        burst = try positive("--burst") ?? burst
        if let text = value("--qps") {
            guard let number = Double(text), number > 0 else { throw BenchmarkError("--qps: \"\(text)\" is not a positive number") }
            qps = number
        }
        settle = try seconds("--settle") ?? settle
        timeout = try seconds("--timeout") ?? timeout
        if let text = value("--phases") {
            phases = try text.split(separator: ",").map { name in
                guard let phase = PhaseName(rawValue: String(name)) else {
                    throw BenchmarkError("--phases: \"\(name)\" is not one of " + PhaseName.allCases.map(\.rawValue).joined(separator: ", "))
                }
                return phase
            }
            if phases.contains(.delete) && !phases.contains(.steady) {
                throw BenchmarkError("--phases: delete deletes what steady created; name steady too")
            }
        }
        // Every experiment must select at least one pod, or it never shows AllInjected.
        guard experiments <= pods else { throw BenchmarkError("--experiments (\(experiments)) must not exceed --pods (\(pods))") }
    }

    /// What one phase measured.
    struct Measurement: Sendable {
        var phase: PhaseName
        /// From the phase's start to every object done (all injected, or all gone); nil on timeout.
        var seconds: Double?
        /// Objects done when the clock stopped (all of them unless timed out).
        var done: Int
        /// Seconds until half and nine tenths of the objects were done.
        var half: Double?
        var ninety: Double?
        /// Cold start only: until this replica led, and until it logged "caches
        /// synced; controller started" (after its first pass over every object).
        var leading: Double?
        var synced: Double?
        /// Steady only: the time the burst of creates took (store writes, no HTTP).
        var createSeconds: Double?
        /// Calls the node daemons answered during the phase, by method.
        var agentCalls: [String: Int]
        /// Targets injected (or recovered, for delete) by the daemons during the phase.
        var targets: Int
        /// What the selectors should pick: every pod once.
        var expectedTargets: Int
        /// API requests from the phase's start until every object was done.
        var requests: [String: Int]
        /// Writes that changed an object, until done.
        var writes: WriteTally.Counts
        /// API requests in the `settle` seconds after.
        var settleRequests: [String: Int]
        /// Warnings and errors the operator logged, by message.
        var warnings: [String: Int]
        /// VmHWM at the end of the phase (KiB): the process's peak so far.
        var peakKiB: Int
    }

    func run() throws {
        let outcome = Mutex<Result<[Measurement], any Error>?>(nil)
        let done = DispatchSemaphore(value: 0)
        let benchmark = self
        Task {
            let result: Result<[Measurement], any Error>
            do { result = .success(try await benchmark.measure()) } catch { result = .failure(error) }
            outcome.withLock { $0 = result }
            done.signal()
        }
        done.wait()
        printReport(try outcome.withLock { $0! }.get())
    }

    func measure() async throws -> [Measurement] {
        var results: [Measurement] = []
        if phases.contains(.cold) {
            let cluster = try await BenchmarkCluster.start(self)
            progress("cold: cluster ready (\(pods) pods, \(nodes) nodes); creating \(experiments) NetworkChaos before the operator")
            for index in 0..<experiments { try cluster.simulation.put(json: experimentJSON("cold-\(index)", group: index)) }
            results.append(try await measureCold(cluster))
            await cluster.stop()
        }
        if phases.contains(.steady) {
            let cluster = try await BenchmarkCluster.start(self)
            progress("steady: cluster ready; starting the operator with no chaos object")
            try await cluster.startOperator()
            try await cluster.waitUntilSynced(timeout: timeout)
            // Let the start-up requests finish before counting.
            try await Task.sleep(for: .seconds(2))
            results.append(try await measureSteady(cluster))
            if phases.contains(.delete) { results.append(try await measureDelete(cluster)) }
            await cluster.stop()
        }
        return results
    }

    // MARK: Phases

    func measureCold(_ cluster: BenchmarkCluster) async throws -> Measurement {
        cluster.simulation.resetCounts()
        let calls = cluster.agentCalls()
        let writes = cluster.writes.counts
        let start = ContinuousClock.now
        try await cluster.startOperator()
        let outcome = try await waitForAll(cluster, start: start) { $0.injected }
        var measurement = try await finish(.cold, cluster, start: start, progress: outcome, calls: calls, writes: writes, targetCall: "inject")
        measurement.leading = cluster.tally.leadingAt.map { (start.duration(to: $0)).seconds }
        measurement.synced = cluster.tally.syncedAt.map { (start.duration(to: $0)).seconds }
        return measurement
    }

    func measureSteady(_ cluster: BenchmarkCluster) async throws -> Measurement {
        cluster.simulation.resetCounts()
        let calls = cluster.agentCalls()
        let writes = cluster.writes.counts
        let start = ContinuousClock.now
        for index in 0..<experiments { try cluster.simulation.put(json: experimentJSON("steady-\(index)", group: index)) }
        let created = start.duration(to: .now).seconds
        progress("steady: \(experiments) NetworkChaos created in \(String(format: "%.2f", created)) s")
        let outcome = try await waitForAll(cluster, start: start) { $0.injected }
        var measurement = try await finish(.steady, cluster, start: start, progress: outcome, calls: calls, writes: writes, targetCall: "inject")
        measurement.createSeconds = created
        return measurement
    }

    /// Deletes go over HTTP (a deletionTimestamp, the finalizer kept): the
    /// benchmark's own `delete` requests are taken out of the counts.
    func measureDelete(_ cluster: BenchmarkCluster) async throws -> Measurement {
        cluster.simulation.resetCounts()
        let calls = cluster.agentCalls()
        let writes = cluster.writes.counts
        let start = ContinuousClock.now
        let admin = cluster.admin
        try await withThrowingTaskGroup(of: Void.self) { group in
            var running = 0
            for index in 0..<experiments {
                if running >= 32 { try await group.next(); running -= 1 }
                group.addTask {
                    try await admin.delete(Self.chaosResource, namespace: Self.appNamespace, name: "steady-\(index)")
                }
                running += 1
            }
            try await group.waitForAll()
        }
        progress("delete: \(experiments) deletes sent in \(String(format: "%.2f", start.duration(to: .now).seconds)) s")
        let outcome = try await waitForAll(cluster, start: start) { experiments - $0.present }
        if outcome.seconds == nil {
            // What is left, to tell a finalizer never removed from a recovery never done.
            let left = cluster.simulation.objects(resource: "networkchaos")
            let finalized = left.filter { (($0["metadata"] as? [String: Any])?["finalizers"] as? [String] ?? []).isEmpty == false }
            progress("delete: \(left.count) objects left, \(finalized.count) of them with a finalizer; "
                     + "\(cluster.agentCalls()["recover targets", default: 0] - calls["recover targets", default: 0]) targets recovered")
        }
        var measurement = try await finish(.delete, cluster, start: start, progress: outcome, calls: calls, writes: writes, targetCall: "recover")
        measurement.requests["delete networkchaos", default: 0] -= experiments
        if measurement.requests["delete networkchaos"] == 0 { measurement.requests["delete networkchaos"] = nil }
        return measurement
    }

    /// How far a phase got: objects present, and those showing AllInjected.
    struct Census {
        var present: Int
        var injected: Int
    }

    /// Polls the simulation's store every 200 ms until `done` counts every
    /// object; the times at which half and nine tenths of them were done.
    func waitForAll(_ cluster: BenchmarkCluster, start: ContinuousClock.Instant,
                    done: (Census) -> Int) async throws -> PhaseProgress {
        var result = PhaseProgress(seconds: nil, done: 0, half: nil, ninety: nil)
        var lastReport = ContinuousClock.now
        while true {
            let count = done(cluster.census())
            let elapsed = start.duration(to: .now).seconds
            result.done = count
            if result.half == nil, count * 2 >= experiments { result.half = elapsed }
            if result.ninety == nil, count * 10 >= experiments * 9 { result.ninety = elapsed }
            if count == experiments {
                result.seconds = elapsed
                return result
            }
            if elapsed > timeout { return result }
            if lastReport.duration(to: .now) > .seconds(10) {
                lastReport = .now
                progress(String(format: "%.0f s: %d of %d done, %d requests so far", elapsed, count, experiments,
                                cluster.simulation.requestCounts().values.reduce(0, +)))
            }
            try await Task.sleep(for: .milliseconds(200))
        }
    }

    /// How far a phase got: seconds to done (nil on timeout), objects done, and the milestones.
    struct PhaseProgress {
        var seconds: Double?
        var done: Int
        var half: Double?
        var ninety: Double?
    }

    /// Takes the phase's counts, then those of the settle period after it.
    func finish(_ phase: PhaseName, _ cluster: BenchmarkCluster, start: ContinuousClock.Instant,
                progress result: PhaseProgress,
                calls before: [String: Int], writes writesBefore: WriteTally.Counts,
                targetCall: String) async throws -> Measurement {
        let requests = cluster.simulation.requestCounts()
        let writes = cluster.writes.counts - writesBefore
        let callsAtEnd = cluster.agentCalls()
        progress("\(phase.rawValue): " + (result.seconds.map { String(format: "done in %.2f s", $0) } ?? "timed out")
                 + String(format: "; counting requests for %.0f s more", settle))
        cluster.simulation.resetCounts()
        try await Task.sleep(for: .seconds(settle))
        let settleRequests = cluster.simulation.requestCounts()
        var calls: [String: Int] = [:]
        for (method, count) in callsAtEnd where count - before[method, default: 0] > 0 {
            calls[method] = count - before[method, default: 0]
        }
        return Measurement(
            phase: phase, seconds: result.seconds, done: result.done, half: result.half, ninety: result.ninety,
            agentCalls: calls, targets: calls[targetCall + " targets", default: 0], expectedTargets: pods,
            requests: requests, writes: writes, settleRequests: settleRequests, warnings: cluster.tally.takeWarnings(),
            peakKiB: Self.peakResidentKiB())
    }

    func progress(_ message: String) {
        FileHandle.standardError.write(Data("kubernetes benchmark: \(message)\n".utf8))
    }

    // MARK: Objects

    /// Experiment `group` selects the pods labelled `group: g<group>`: pod
    /// `j` is in group `j % experiments`, so each selects pods/experiments of
    /// them (one more for the first pods % experiments groups).
    func experimentJSON(_ name: String, group: Int) -> [String: Any] {
        ["apiVersion": "chaos-mesh.org/v1alpha1", "kind": "NetworkChaos",
         "metadata": ["name": name, "namespace": Self.appNamespace],
         "spec": ["action": "delay", "mode": "all",
                  "selector": ["namespaces": [Self.appNamespace], "labelSelectors": ["group": "g\(group)"]],
                  "delay": ["latency": "10ms"], "duration": "1h"] as [String: Any]]
    }

    static func peakResidentKiB() -> Int {
        guard let text = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8),
              let line = text.split(separator: "\n").first(where: { $0.hasPrefix("VmHWM:") }) else { return 0 }
        return Int(line.split(separator: " ", omittingEmptySubsequences: true).dropFirst().first ?? "") ?? 0
    }

    // MARK: Printing

    func printReport(_ results: [Measurement]) {
        print("kubernetes benchmark: ChaosOperator in process against the API server simulation (HTTP/1.1 on loopback), "
              + "\(ProcessInfo.processInfo.activeProcessorCount) cores")
        print("\(pods) pods over \(nodes) nodes, \(experiments) NetworkChaos (delay 10ms, 1h, mode all, \(pods / experiments)"
              + "\(pods % experiments == 0 ? "" : "-\(pods / experiments + 1)") pods each); client QPS \(String(format: "%g", qps)), burst \(burst)")
        print("operator: kinds NetworkChaos, PodChaos, StressChaos, DNSChaos (+ Schedules); lease 4 s / renew 3 s / retry 1 s; "
              + "daemon lease 60 s (default), read-back every 5 s (default), status sweep 10 s (default)")
        print("node daemons: \(nodes) RecordingAgents over the agent protocol, plain HTTP on 127.0.0.1")
        print("")
        let widths = [34] + Array(repeating: 14, count: results.count)
        func line(_ name: String, _ cell: (Measurement) -> String) { print(row(widths, [name] + results.map(cell))) }
        func seconds(_ value: Double?) -> String { value.map { String(format: "%.2f", $0) } ?? "-" }
        line("phase") { $0.phase.rawValue }
        line("-----") { String(repeating: "-", count: $0.phase.rawValue.count) }
        line("seconds to all done") { $0.seconds.map { String(format: "%.2f", $0) } ?? "timeout (\($0.done))" }
        line("  to 50 % / 90 % done") { "\(seconds($0.half)) / \(seconds($0.ninety))" }
        line("  to leading / first pass done") { $0.phase == .cold ? "\(seconds($0.leading)) / \(seconds($0.synced))" : "-" }
        line("  creating the objects") { $0.createSeconds.map { String(format: "%.2f", $0) } ?? "-" }
        line("targets at the daemons (expected)") { "\($0.targets) (\($0.expectedTargets))" }
        line("API requests") { "\($0.requests.values.reduce(0, +))" }
        line("  per experiment") { String(format: "%.2f", Double($0.requests.values.reduce(0, +)) / Double(experiments)) }
        line("patch networkchaos per experiment") { String(format: "%.2f", Double($0.requests["patch networkchaos", default: 0]) / Double(experiments)) }
        line("  status writes per experiment") { String(format: "%.2f", Double($0.writes.status) / Double(experiments)) }
        line("  finalizer writes per experiment") { String(format: "%.2f", Double($0.writes.finalizer) / Double(experiments)) }
        line("  changed nothing (409 ...)") { "\(unchangedPatches($0))" }
        line("create events per experiment") { String(format: "%.2f", Double($0.requests["create events", default: 0]) / Double(experiments)) }
        line("requests in \(String(format: "%g", settle)) s after") { "\($0.settleRequests.values.reduce(0, +))" }
        line("peak RSS (VmHWM, MiB)") { String(format: "%.0f", Double($0.peakKiB) / 1024) }
        for result in results {
            print("")
            print("\(result.phase.rawValue): API requests by verb and resource (simulation's count), goal of issue 13 beside")
            let keys = Set(result.requests.keys).union(result.settleRequests.keys)
            let columns = [30, 12, 12, 46]
            print(row(columns, ["verb resource", "until done", "settle", "goal"]))
            print(row(columns, ["-------------", "----------", "------", "----"]))
            for key in keys.sorted() {
                print(row(columns, [key, "\(result.requests[key, default: 0])", "\(result.settleRequests[key, default: 0])",
                                    goal(key, result)]))
            }
            print(row(columns, ["total", "\(result.requests.values.reduce(0, +))", "\(result.settleRequests.values.reduce(0, +))", ""]))
            let calls = result.agentCalls.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", ")
            print("node daemons answered: \(calls.isEmpty ? "nothing" : calls)")
            if !result.warnings.isEmpty {
                print("operator warnings: " + result.warnings.sorted { $0.key < $1.key }.map { "\($0.key) ×\($0.value)" }.joined(separator: "; "))
            }
        }
        print("")
        print("done: cold/steady, every object's status has condition AllInjected True (the simulation's store polled every 200 ms);")
        print("delete, every object gone (finalizer removed once its targets were recovered). Requests: the simulation's count")
        print("of every HTTP request, reset at the phase's start (delete: the benchmark's own deletes taken out). Status and")
        print("finalizer writes: the objects' MODIFIED events (a watch of the benchmark's own, opened before the phases) whose")
        print("status or finalizers changed; both go through patch networkchaos (no status subresource, as in Chaos Mesh's CRDs).")
    }

    /// Patches of the objects that changed neither finalizers nor status:
    /// refused on a stale resourceVersion, or writing what was there.
    func unchangedPatches(_ result: Measurement) -> Int {
        result.requests["patch networkchaos", default: 0] - result.writes.status - result.writes.finalizer
    }

    /// The goal of issue 13 for one "verb resource", in this phase.
    func goal(_ key: String, _ result: Measurement) -> String {
        let parts = key.split(separator: " ")
        guard parts.count == 2 else { return "" }
        let (verb, resource) = (String(parts[0]), String(parts[1]))
        let cold = result.phase == .cold
        switch (verb, resource) {
        case ("list", "pods"):
            let objects = pods + nodes
            return cold ? "1 list (\((objects + 499) / 500) pages of 500)" : "0 (listed at start)"
        case ("list", _): return cold ? "1 list" : "0 (listed at start)"
        case ("watch", _): return cold ? "1 watch" : "0 (watching since start)"
        case ("patch", "networkchaos"):
            switch result.phase {
            case .cold, .steady: return "\(experiments) finalizer + \(experiments) status (1 per object)"
            case .delete: return "\(experiments) finalizer removals"
            }
        case ("get", "networkchaos"): return result.phase == .delete ? "0 (cache has the latest version)" : "0"
        case ("get", "leases"), ("update", "leases"), ("create", "leases"):
            return "a get and an update per retry period (1 s)"
        case ("create", "events"), ("patch", "events"): return "none set"
        default: return ""
        }
    }

    func row(_ widths: [Int], _ columns: [String]) -> String {
        zip(columns, widths).map { $0.padding(toLength: max($1, $0.count + 1), withPad: " ", startingAt: 0) }.joined(separator: " ")
    }
}

/// One simulated cluster: the API server simulation with Tumult's CRDs,
/// `nodes` Nodes each with its daemon pod and in-process agent, `pods` app
/// pods, and (once started) the operator.
final class BenchmarkCluster: @unchecked Sendable {
    let benchmark: KubernetesBenchmark
    let simulation: APIServerSimulation
    /// The benchmark's own client, not rate limited: CRDs and deletes.
    let admin: KubernetesClient
    let tally = LogTally()
    private(set) var agents: [RecordingAgent] = []
    private var agentServers: [Task<Void, any Error>] = []
    private var operatorClient: KubernetesClient?
    private var operatorTask: Task<Void, any Error>?
    let writes = WriteTally()
    private var writesTask: Task<Void, Never>?
    static let quiet = Logger(label: "tumult.bench.quiet", factory: { _ in SwiftLogNoOpLogHandler() })

    private init(_ benchmark: KubernetesBenchmark, simulation: APIServerSimulation) {
        self.benchmark = benchmark
        self.simulation = simulation
        admin = KubernetesClient(configuration: KubernetesConfiguration(server: simulation.url, qps: 0), logger: Self.quiet)
    }

    /// A running simulation holding the whole cluster but no chaos object.
    static func start(_ benchmark: KubernetesBenchmark) async throws -> BenchmarkCluster {
        // Every change of the phase stays resumable for the watches.
        let simulation = APIServerSimulation(configuration: .init(historyLimit: 200_000))
        try await simulation.start()
        let cluster = BenchmarkCluster(benchmark, simulation: simulation)
        try await cluster.populate()
        cluster.watchWrites()
        return cluster
    }

    private func populate() async throws {
        for definition in CustomResourceDefinitions.definitions() {
            _ = try await admin.create(.customResourceDefinitions, namespace: nil, try UnstructuredObject(definition))
        }
        for namespace in ["tumult", KubernetesBenchmark.appNamespace] {
            try simulation.put(json: ["apiVersion": "v1", "kind": "Namespace", "metadata": ["name": namespace]])
        }
        for index in 0..<benchmark.nodes {
            let name = "node-\(index)"
            try simulation.put(json: ["apiVersion": "v1", "kind": "Node",
                                      "metadata": ["name": name, "labels": ["kubernetes.io/hostname": name]]])
            try await startDaemon(on: name)
        }
        for index in 0..<benchmark.pods {
            let ip = "10.\(index / 65_536 % 256).\(index / 256 % 256).\(index % 256)"
            let hex = String(index, radix: 16)
            let container = String(repeating: "0", count: 64 - hex.count) + hex
            try simulation.put(json: [
                "apiVersion": "v1", "kind": "Pod",
                "metadata": ["name": "app-\(index)", "namespace": KubernetesBenchmark.appNamespace,
                             "labels": ["app": "shop", "group": "g\(index % benchmark.experiments)"]],
                "spec": ["nodeName": "node-\(index % benchmark.nodes)", "containers": [["name": "app"]]],
                "status": ["phase": "Running", "podIP": ip, "podIPs": [["ip": ip]],
                           "containerStatuses": [["name": "app", "containerID": "containerd://\(container)", "ready": true]]],
            ] as [String: Any])
        }
    }

    /// The node's daemon: a `RecordingAgent` behind the agent protocol on a
    /// loopback port, and its pod as the DaemonSet's would be.
    private func startDaemon(on node: String) async throws {
        let agent = RecordingAgent(node)
        agents.append(agent)
        let (ports, portContinuation) = AsyncStream<Int>.makeStream()
        let application = try buildAgentApplication(
            agent: agent, configuration: AgentServerConfiguration(host: "127.0.0.1", port: 0, insecure: true),
            logger: Self.quiet) { port in portContinuation.yield(port) }
        agentServers.append(Task { try await application.run() })
        var iterator = ports.makeAsyncIterator()
        guard let port = await iterator.next() else { throw BenchmarkError("the daemon of \(node) did not listen") }
        try simulation.put(json: [
            "apiVersion": "v1", "kind": "Pod",
            "metadata": ["name": "tumult-daemon-\(node)", "namespace": "tumult",
                         "labels": ["app.kubernetes.io/name": "tumult", "app.kubernetes.io/component": "daemon"],
                         "annotations": ["tumult.dev/agent-port": String(port)]],
            "spec": ["nodeName": node, "containers": [["name": "daemon"]]],
            "status": ["phase": "Running", "podIP": "127.0.0.1", "podIPs": [["ip": "127.0.0.1"]]],
        ] as [String: Any])
    }

    /// The benchmark's own watch of the chaos objects, opened before any
    /// phase (its one request is never in a phase's count): which writes
    /// changed an object's finalizers, which its status.
    private func watchWrites() {
        let stream = admin.watch(KubernetesBenchmark.chaosResource, namespace: nil,
                                 resourceVersion: String(simulation.resourceVersion), as: UnstructuredObject.self)
        let writes = self.writes
        writesTask = Task {
            do {
                for try await event in stream { writes.note(event) }
            } catch where !Task.isCancelled {
                FileHandle.standardError.write(Data("kubernetes benchmark: the benchmark's watch ended: \(error)\n".utf8))
            } catch {}
        }
    }

    /// The operator in process, with its own rate-limited client.
    func startOperator() async throws {
        let client = KubernetesClient(
            configuration: KubernetesConfiguration(server: simulation.url, qps: benchmark.qps, burst: benchmark.burst),
            logger: tally.logger(label: "tumult.bench.client"))
        operatorClient = client
        var configuration = OperatorConfiguration(kinds: [.networkChaos, .podChaos, .stressChaos, .dnsChaos])
        configuration.namespace = "tumult"
        configuration.identity = "bench"
        configuration.leaseDuration = .seconds(4)
        configuration.renewDeadline = .seconds(3)
        configuration.retryPeriod = .seconds(1)
        // Plain HTTP to the loopback daemons; the daemon lease (60 s), the
        // read-back (5 s) and the status sweep (10 s) keep their defaults.
        configuration.fleetTLS = nil
        let tally = self.tally
        let chaosOperator = ChaosOperator(client: client, configuration: configuration,
                                          logger: tally.logger(label: "tumult.bench.operator"),
                                          onLeading: { leading in if leading { tally.noteLeading() } })
        operatorTask = Task { try await chaosOperator.run() }
    }

    func waitUntilSynced(timeout: Double) async throws {
        let deadline = ContinuousClock.now + .seconds(timeout)
        while tally.syncedAt == nil {
            guard ContinuousClock.now < deadline else { throw BenchmarkError("the operator's caches did not sync in \(timeout) s") }
            try await Task.sleep(for: .milliseconds(100))
        }
    }

    /// The chaos objects in the store, and those whose status shows AllInjected True.
    func census() -> KubernetesBenchmark.Census {
        let objects = simulation.objects(resource: "networkchaos")
        let injected = objects.filter { object in
            let conditions = (object["status"] as? [String: Any])?["conditions"] as? [[String: Any]] ?? []
            return conditions.contains { $0["type"] as? String == "AllInjected" && $0["status"] as? String == "True" }
        }
        return KubernetesBenchmark.Census(present: objects.count, injected: injected.count)
    }

    /// Every daemon's calls added up, by method.
    func agentCalls() -> [String: Int] {
        agents.reduce(into: [:]) { total, agent in
            for (method, count) in agent.calls { total[method, default: 0] += count }
        }
    }

    /// Whether the operator had returned 20 s after it was cancelled (nil: never started).
    private(set) var operatorStopped: Bool?

    func stop() async {
        if let operatorTask {
            operatorTask.cancel()
            // A benchmark must end even if the operator does not: its
            // failure to stop is reported, not waited for.
            let stopped = StopFlag()
            Task {
                _ = try? await operatorTask.value
                stopped.value.store(true, ordering: .relaxed)
            }
            let deadline = ContinuousClock.now + .seconds(20)
            while !stopped.value.load(ordering: .relaxed), ContinuousClock.now < deadline {
                try? await Task.sleep(for: .milliseconds(100))
            }
            operatorStopped = stopped.value.load(ordering: .relaxed)
            if operatorStopped == false {
                FileHandle.standardError.write(Data("kubernetes benchmark: the operator had not returned 20 s after it was cancelled\n".utf8))
            }
        }
        writesTask?.cancel()
        for task in agentServers { task.cancel() }
        agentServers = []
        try? await operatorClient?.shutdown()
        try? await admin.shutdown()
        await simulation.stop()
    }
}

/// Successful writes to the chaos objects, told apart by what they
/// changed: the patch requests that changed nothing were refused
/// (a conflict on a stale resourceVersion) or wrote what was there.
final class WriteTally: Sendable {
    struct Counts: Sendable {
        var finalizer = 0
        var status = 0
        /// Anything else (the deletionTimestamp of a delete).
        var other = 0

        static func - (lhs: Counts, rhs: Counts) -> Counts {
            Counts(finalizer: lhs.finalizer - rhs.finalizer, status: lhs.status - rhs.status, other: lhs.other - rhs.other)
        }
    }

    private struct State {
        var last: [String: (finalizers: [String], status: Value?)] = [:]
        var counts = Counts()
    }

    private let state = Mutex(State())

    var counts: Counts { state.withLock { $0.counts } }

    func note(_ event: WatchEvent<UnstructuredObject>) {
        state.withLock { state in
            switch event {
            case .added(let object):
                state.last[object.key] = (object.metadata.finalizers, object.status)
            case .modified(let object):
                let before = state.last[object.key]
                state.last[object.key] = (object.metadata.finalizers, object.status)
                guard let before else { return }
                let finalizers = before.finalizers != object.metadata.finalizers
                let status = before.status != object.status
                if finalizers { state.counts.finalizer += 1 }
                if status { state.counts.status += 1 }
                if !finalizers && !status { state.counts.other += 1 }
            case .deleted(let object):
                state.last[object.key] = nil
            case .bookmark:
                break
            }
        }
    }
}

/// Set once the cancelled operator has returned.
final class StopFlag: Sendable {
    let value = Atomic<Bool>(false)
}

/// A node's daemon that injects nothing and answers at once: one attack id
/// per target, held until recovered so that `attacks` and orphan recovery
/// answer as a real daemon's would; every call counted by method.
final class RecordingAgent: HostAgent {
    let machine: String
    private let held = Mutex<[String: HostAttack]>([:])
    private let counts = Mutex<[String: Int]>([:])
    private let next = Atomic<Int>(0)

    init(_ machine: String) { self.machine = machine }

    var calls: [String: Int] { counts.withLock { $0 } }

    private func count(_ method: String, _ amount: Int = 1) {
        counts.withLock { $0[method, default: 0] += amount }
    }

    func status() async throws -> AgentStatus {
        count("status")
        return AgentStatus(machine: machine, kinds: [], families: [], machineActions: [], halted: false,
                           activeAttacks: held.withLock { $0.count }, leases: [])
    }

    func pods() async throws -> [Pod] {
        count("pods")
        return []
    }

    func inject(_ request: InjectionRequest) async throws -> [AttackID] {
        count("inject")
        count("inject targets")
        let id = AttackID(machine: machine, uid: "a\(next.add(1, ordering: .relaxed).newValue)")
        let now = Date()
        let attack = HostAttack(id: id, owner: request.owner, family: "network", action: "network delay",
                                target: request.target.id, injected: true, state: "success", createdAt: now, updatedAt: now)
        held.withLock { $0[id.uid] = attack }
        return [id]
    }

    func recover(_ attacks: [AttackID]) async throws {
        count("recover")
        let recovered = held.withLock { held in attacks.filter { held.removeValue(forKey: $0.uid) != nil }.count }
        count("recover targets", recovered)
    }

    func heal(_ attacks: [AttackID]) async throws -> [LostFault] {
        count("heal")
        return []
    }

    func attacks(_ query: AttackQuery) async throws -> [HostAttack] {
        count("attacks")
        return held.withLock { Array($0.values) }.filter { attack in
            (query.experiment == nil || attack.owner?.experiment == query.experiment)
                && (query.controller == nil || attack.owner?.controller == query.controller)
        }
    }

    func recoverOrphans(controller: String, keeping experiments: Set<String>) async throws -> Int {
        count("recoverOrphans")
        return held.withLock { held in
            let orphans = held.filter { $0.value.owner?.controller == controller && !experiments.contains($0.value.owner?.experiment ?? "") }
            for key in orphans.keys { held[key] = nil }
            return orphans.count
        }
    }

    func setHalted(_ halted: Bool) async throws -> Int { 0 }

    func census() async throws -> AgentCensus { AgentCensus(machine: machine, samples: []) }

    func renewLease(_ lease: Lease) async throws -> LeaseGrant {
        count("renewLease")
        let now = Date()
        return LeaseGrant(controller: lease.controller, seconds: lease.seconds, renewedAt: now,
                          expiresAt: now.addingTimeInterval(lease.seconds))
    }

    func attack(_ request: DirectAttack) async throws -> AttackID {
        throw AgentError(.unsupported, "the benchmark's daemon runs experiments only")
    }

    func directAttacks() async throws -> [HostAttack] { [] }
}

/// What the operator logs, kept in memory: when it led and synced (the
/// cold start's milestones), and its warnings counted by message so that
/// a stream of them at scale shows in the report without flooding it.
final class LogTally: Sendable {
    private struct State {
        var leadingAt: ContinuousClock.Instant?
        var syncedAt: ContinuousClock.Instant?
        var warnings: [String: Int] = [:]
    }

    private let state = Mutex(State())

    var leadingAt: ContinuousClock.Instant? { state.withLock { $0.leadingAt } }
    var syncedAt: ContinuousClock.Instant? { state.withLock { $0.syncedAt } }

    func noteLeading() {
        state.withLock { if $0.leadingAt == nil { $0.leadingAt = .now } }
    }

    /// The warnings since the last call, by message.
    func takeWarnings() -> [String: Int] {
        state.withLock { state in
            defer { state.warnings = [:] }
            return state.warnings
        }
    }

    func logger(label: String) -> Logger {
        var logger = Logger(label: label) { _ in TallyHandler(tally: self) }
        logger.logLevel = .info
        return logger
    }

    fileprivate func note(_ level: Logger.Level, _ message: String, _ metadata: Logger.Metadata?) {
        state.withLock { state in
            if message == "caches synced; controller started", state.syncedAt == nil { state.syncedAt = .now }
            if level >= .warning { state.warnings[message, default: 0] += 1 }
        }
        // The first of each warning in full, for whoever watches the run.
        if level >= .warning, state.withLock({ $0.warnings[message] }) == 1 {
            let details = (metadata ?? [:]).sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: " ")
            FileHandle.standardError.write(Data("kubernetes benchmark: operator \(level): \(message) \(details)\n".utf8))
        }
    }
}

/// Hands every record to a `LogTally`.
private struct TallyHandler: LogHandler {
    let tally: LogTally
    var metadata: Logger.Metadata = [:]
    var logLevel: Logger.Level = .info

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    func log(event: LogEvent) {
        tally.note(event.level, "\(event.message)", metadata.merging(event.metadata ?? [:]) { _, new in new })
    }
}
