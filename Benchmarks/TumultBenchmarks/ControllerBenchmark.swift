import Foundation
import Synchronization
import TumultAgent
import TumultController
import TumultModel
import TumultSystem

/// `swift run -c release tumult-bench controller [--experiments 10000] [--pods 5000] [--store memory|sqlite]`
/// `[--hold SECONDS] [--tick MS] [--watch SECONDS|off]` (the subcommand first).
///
/// The controller alone, with every injector replaced by `NoOpDaemon`: how
/// long `experiments` NetworkChaos documents over `pods` pods take from
/// `apply` to every target injected, and from delete to every experiment
/// recovered and archived, and the process's peak resident memory.
///
/// Documents are built as YAML text and loaded through `DocumentLoader`
/// before the clock starts (their parse time is printed on its own). Without
/// `--store`, each store runs in a process of its own (this executable again)
/// so that each peak RSS is that store's alone.
struct ControllerBenchmark {
    enum StoreKind: String, CaseIterable, Codable, Sendable {
        case memory, sqlite
    }

    /// What one store's run measured.
    struct Measurement: Codable, Sendable {
        var store: StoreKind
        var experiments: Int
        var pods: Int
        var parseSeconds: Double
        var targets: Int
        var peers: Int
        var failed: Int
        var apply: Phase
        /// From `start()` to every experiment injected (or failed with no target).
        var inject: Phase
        /// One reconcile pass once everything is injected (nothing to do): the fastest of 5.
        var idlePassMilliseconds: Double
        /// The process's CPU time over `hold` seconds with everything injected,
        /// as a share of one core: what the loop costs while nothing changes.
        var idleCPUPercent: Double
        /// From the first delete to no experiment left (recovered and archived).
        var delete: Phase
        /// `ru_maxrss` once the pods and documents are built, before the controller.
        var baselineKiB: Int
        /// `ru_maxrss` once everything is injected, before the deletes.
        var injectedKiB: Int
        var hold: Double
        /// `ru_maxrss` at the end.
        var peakKiB: Int
    }

    /// Wall and CPU (user+sys, the whole process) time of one phase.
    struct Phase: Codable, Sendable {
        var seconds: Double
        var cpuSeconds: Double
    }

    var experiments = 10_000
    var pods = 5_000
    /// How long the steady state is watched for `idleCPUPercent`.
    var hold = 3.0
    var stores: [StoreKind] = StoreKind.allCases
    /// Print the measurement as one JSON line (the child of a run over every store).
    var json = false
    /// The controller's loop period in ms (its default unless `--tick MS`).
    var tickMilliseconds: Int?
    /// The liveness check's interval (`--watch SECONDS`; `off`: none; the
    /// controller's default, 2 s, otherwise): the idle figures with and
    /// without it tell the loop's own cost from the check's.
    var watch: Watch = .standard

    enum Watch: Equatable {
        case standard, off, every(Double)
        var argument: String? {
            switch self {
            case .standard: nil
            case .off: "off"
            case .every(let seconds): String(seconds)
            }
        }
        var label: String {
            switch self {
            case .standard: "2 s (default)"
            case .off: "off"
            case .every(let seconds): String(format: "%g s", seconds)
            }
        }
    }

    init(arguments: [String]) throws {
        func value(_ flag: String) -> String? {
            guard let index = arguments.firstIndex(of: flag), index + 1 < arguments.count else { return nil }
            return arguments[index + 1]
        }
        if let text = value("--experiments") {
            guard let number = Int(text), number > 0 else { throw BenchmarkError("--experiments: \"\(text)\" is not a positive integer") }
            experiments = number
        }
        if let text = value("--pods") {
            guard let number = Int(text), number > 0 else { throw BenchmarkError("--pods: \"\(text)\" is not a positive integer") }
            pods = number
        }
        if let text = value("--store") {
            guard let kind = StoreKind(rawValue: text) else {
                throw BenchmarkError("--store: \"\(text)\" is not one of " + StoreKind.allCases.map(\.rawValue).joined(separator: ", "))
            }
            stores = [kind]
        }
        if let text = value("--tick") {
            guard let number = Int(text), number > 0 else { throw BenchmarkError("--tick: \"\(text)\" is not a positive number of ms") }
            tickMilliseconds = number
        }
        if let text = value("--hold") {
            guard let number = Double(text), number > 0 else { throw BenchmarkError("--hold: \"\(text)\" is not a positive number of seconds") }
            hold = number
        }
        if let text = value("--watch") {
            if text == "off" {
                watch = .off
            } else {
                guard let number = Double(text), number > 0 else { throw BenchmarkError("--watch: \"\(text)\" is not a positive number of seconds or off") }
                watch = .every(number)
            }
        }
        json = arguments.contains("--json")
    }

    func run() throws {
        var results: [Measurement] = []
        if stores.count == 1 {
            results = [try measureHere(stores[0])]
        } else {
            for store in stores { results.append(try measureInChild(store)) }
        }
        if json {
            let line = try JSONEncoder().encode(results[0])
            print(String(decoding: line, as: UTF8.self))
            return
        }
        printTable(results)
    }

    // MARK: Printing

    func printTable(_ results: [Measurement]) {
        let first = results[0]
        print("controller benchmark: \(first.experiments) NetworkChaos (delay, 1h) over \(first.pods) pods in "
              + "\(namespaceCount) namespaces, no-op daemon, \(ProcessInfo.processInfo.activeProcessorCount) cores")
        print("documents built as YAML and loaded (parse + validate) before the clock starts: "
              + results.map { String(format: "%.2f s", $0.parseSeconds) + " (\($0.store.rawValue))" }.joined(separator: ", "))
        print("tick \(tickMilliseconds.map { "\($0) ms" } ?? "30 s (default, a safety net: the loop is woken by changes and due moments)"), watch \(watch.label), concurrency 32 (default); "
              + (results.count > 1 ? "each store in its own process" : "one process"))
        print("")
        let widths = [28] + Array(repeating: 18, count: results.count)
        print(row(widths, ["store"] + results.map(\.store.rawValue)))
        print(row(widths, ["-----"] + results.map { String(repeating: "-", count: $0.store.rawValue.count) }))
        func line(_ name: String, _ cell: (Measurement) -> String) { print(row(widths, [name] + results.map(cell))) }
        line("targets injected") { "\($0.targets)" }
        line("peers chosen (spec.target)") { "\($0.peers)" }
        line("failed: no target") { "\($0.failed)" }
        func phase(_ value: Phase) -> String { String(format: "%.2f (%.2f)", value.seconds, value.cpuSeconds) }
        line("apply all: s (CPU s)") { phase($0.apply) }
        line("start -> all injected") { phase($0.inject) }
        line("apply + inject: s") { String(format: "%.2f", $0.apply.seconds + $0.inject.seconds) }
        line("injections/s") { String(format: "%.0f", Double($0.targets) / $0.inject.seconds) }
        line("idle reconcile pass: ms") { String(format: "%.1f", $0.idlePassMilliseconds) }
        line("idle loop: % of a core") { String(format: "%.0f %%", $0.idleCPUPercent) }
        line("delete -> all archived") { phase($0.delete) }
        line("RSS before controller (MiB)") { String(format: "%.0f", Double($0.baselineKiB) / 1024) }
        line("peak RSS, all injected (MiB)") { String(format: "%.0f", Double($0.injectedKiB) / 1024) }
        line("peak RSS, end (MiB)") { String(format: "%.0f", Double($0.peakKiB) / 1024) }
        print("")
        print("apply: controller.apply of every parsed document. start -> all injected: controller.start() until every")
        print("experiment's records are all Injected (or it failed with no target), polling allExperiments() every 50 ms.")
        print("idle reconcile pass: reconcile() with nothing to do, fastest of 5; idle loop: process CPU over \(String(format: "%g", first.hold)) s")
        print("with everything injected. delete: controller.delete of every uid until allExperiments() is empty.")
        print("CPU: user+sys time of the whole process. RSS: getrusage ru_maxrss (peak resident set) of the process.")
    }

    func row(_ widths: [Int], _ columns: [String]) -> String {
        zip(columns, widths).map { $0.padding(toLength: $1, withPad: " ", startingAt: 0) }.joined(separator: " ")
    }

    // MARK: Running one store

    /// Runs this executable for one store and reads its JSON line.
    func measureInChild(_ store: StoreKind) throws -> Measurement {
        let executable = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
        var arguments = [executable, "controller", "--store", store.rawValue, "--experiments", String(experiments),
                         "--pods", String(pods), "--json"]
        arguments += ["--hold", String(hold)]
        if let tickMilliseconds { arguments += ["--tick", String(tickMilliseconds)] }
        if let argument = watch.argument { arguments += ["--watch", argument] }
        let result = try ProcessCommandRunner().check(Command(arguments), doing: "running the controller benchmark for the \(store.rawValue) store")
        guard let line = result.stdout.split(separator: "\n").last,
              let measurement = try? JSONDecoder().decode(Measurement.self, from: Data(line.utf8)) else {
            throw BenchmarkError("the \(store.rawValue) run printed no measurement: \(result.stdout) \(result.stderr)")
        }
        return measurement
    }

    /// Blocks the main thread on the async run (the entry point is synchronous).
    func measureHere(_ store: StoreKind) throws -> Measurement {
        let outcome = Mutex<Result<Measurement, any Error>?>(nil)
        let done = DispatchSemaphore(value: 0)
        let benchmark = self
        Task {
            let result: Result<Measurement, any Error>
            do { result = .success(try await benchmark.measure(store)) } catch { result = .failure(error) }
            outcome.withLock { $0 = result }
            done.signal()
        }
        done.wait()
        return try outcome.withLock { $0! }.get()
    }

    func measure(_ storeKind: StoreKind) async throws -> Measurement {
        let inventory = makePods()
        let text = makeDocuments()
        let parseStart = ContinuousClock.now
        // In texts of 1,000 documents: one text may hold at most 1 MiB
        // (the loader's budget), as a request or file would.
        var reports: [DocumentLoader.Report] = []
        let pieces = text.components(separatedBy: "---\n")
        for start in stride(from: 0, to: pieces.count, by: 1000) {
            reports += try DocumentLoader().load(pieces[start..<min(start + 1000, pieces.count)].joined(separator: "---\n"))
        }
        let parseSeconds = (ContinuousClock.now - parseStart).seconds
        var documents: [ChaosDocument] = []
        documents.reserveCapacity(reports.count)
        for report in reports {
            guard let document = report.document else {
                throw BenchmarkError("\(report.label) is invalid: " + report.diagnostics.errors.map(\.description).joined(separator: "; "))
            }
            documents.append(document)
        }
        let baseline = peakResidentKiB()
        memoryReport("before the controller")

        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("tmt-bench-\(UUID().uuidString.prefix(8))")
        defer { try? FileManager.default.removeItem(at: directory) }
        let store: any ExperimentStore = switch storeKind {
        case .memory: InMemoryExperimentStore()
        case .sqlite: try SQLiteExperimentStore(directory: directory)
        }
        var configuration = Controller.Configuration(supportedKinds: [.networkChaos])
        if let tickMilliseconds { configuration.tick = .milliseconds(tickMilliseconds) }
        switch watch {
        case .standard: break
        case .off: configuration.watchInterval = nil
        case .every(let seconds): configuration.watchInterval = seconds
        }
        let controller = try Controller(agent: NoOpDaemon(), inventory: StaticInventory(inventory), store: store,
                                        configuration: configuration)

        var clock = PhaseClock()
        var uids: [String] = []
        uids.reserveCapacity(documents.count)
        for document in documents { uids.append(try await controller.apply(document).uid) }
        let apply = clock.lap()
        progress("applied \(uids.count) in \(String(format: "%.2f", apply.seconds)) s")

        await controller.start()
        // Counted, not kept: a copy of every record held until the end
        // would keep the injected targets' records alive through the
        // deletes and count them in the controller's peak.
        var (targets, peers, failed) = (0, 0, 0)
        while true {
            let all = await controller.allExperiments()
            if all.count == uids.count && all.allSatisfy({ $0.selected && ($0.failure != nil || $0.allInjected) }) {
                targets = all.reduce(0) { $0 + $1.records.count }
                peers = all.reduce(0) { $0 + $1.peers.count }
                failed = all.filter { $0.failure != nil }.count
                break
            }
            try await Task.sleep(for: .milliseconds(50))
        }
        let inject = clock.lap()
        let injectedKiB = peakResidentKiB()
        memoryReport("all injected")
        progress("injected \(targets) targets in \(String(format: "%.2f", inject.seconds)) s")

        try await Task.sleep(for: .seconds(hold))
        let idle = clock.lap()
        var passes: [Double] = []
        for _ in 0..<5 {
            let passStart = ContinuousClock.now
            await controller.reconcile()
            passes.append((ContinuousClock.now - passStart).seconds * 1000)
        }

        _ = clock.lap()
        for uid in uids { try await controller.delete(uid) }
        while !(await controller.allExperiments().isEmpty) {
            try await Task.sleep(for: .milliseconds(50))
        }
        let delete = clock.lap()
        progress("recovered and archived in \(String(format: "%.2f", delete.seconds)) s")
        await controller.shutdown(recover: false)
        memoryReport("end")

        return Measurement(
            store: storeKind, experiments: documents.count, pods: inventory.count, parseSeconds: parseSeconds,
            targets: targets, peers: peers, failed: failed, apply: apply, inject: inject,
            idlePassMilliseconds: passes.min() ?? 0, idleCPUPercent: idle.cpuSeconds / idle.seconds * 100,
            delete: delete, baselineKiB: baseline, injectedKiB: injectedKiB, hold: hold, peakKiB: peakResidentKiB())
    }

    func progress(_ message: String) {
        FileHandle.standardError.write(Data("controller benchmark: \(message)\n".utf8))
    }

    /// With `TUMULT_BENCH_MEMORY` set, a line on standard error for each
    /// phase: the resident set split into the heap's and the binary's pages
    /// (`/proc/self/status`), and what glibc's malloc holds and hands out
    /// (`malloc_info`'s totals): RSS minus what is in use is memory freed
    /// but not returned (fragmentation, arenas).
    func memoryReport(_ phase: String) {
        guard ProcessInfo.processInfo.environment["TUMULT_BENCH_MEMORY"] != nil else { return }
        var fields: [String] = []
        if let status = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8) {
            for line in status.split(separator: "\n") where line.hasPrefix("VmRSS") || line.hasPrefix("RssAnon") || line.hasPrefix("RssFile") || line.hasPrefix("VmHWM") {
                fields.append(line.split(separator: " ", omittingEmptySubsequences: true).joined(separator: " "))
            }
        }
        typealias MallocInfo = @convention(c) (Int32, UnsafeMutablePointer<FILE>?) -> Int32
        if let symbol = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "malloc_info"),
           let file = tmpfile() {
            _ = unsafeBitCast(symbol, to: MallocInfo.self)(0, file)
            rewind(file)
            var text = ""
            var buffer = [CChar](repeating: 0, count: 4096)
            while fgets(&buffer, Int32(buffer.count), file) != nil { text += String(cString: buffer) }
            fclose(file)
            // The totals after the last heap: in use = system - free.
            let tail = text.components(separatedBy: "</heap>").last ?? text
            let free = (Self.size(in: tail, of: "<total type=\"fast\"") ?? 0) + (Self.size(in: tail, of: "<total type=\"rest\"") ?? 0)
            let system = Self.size(in: tail, of: "<system type=\"current\"") ?? 0
            let mmap = Self.size(in: tail, of: "<total type=\"mmap\"") ?? 0
            let heaps = text.components(separatedBy: "<heap nr=").count - 1
            fields.append(String(format: "malloc: arenas %d, held %.1f MiB, free in them %.1f MiB, in use %.1f MiB, mmapped %.1f MiB",
                                 heaps, Double(system) / 1_048_576, Double(free) / 1_048_576,
                                 Double(system - free) / 1_048_576, Double(mmap) / 1_048_576))
        }
        progress("memory \(phase): " + fields.joined(separator: ", "))
    }

    static func size(in text: String, of prefix: String) -> Int? {
        guard let range = text.range(of: prefix), let size = text[range.upperBound...].range(of: "size=\"") else { return nil }
        return Int(text[size.upperBound...].prefix { $0.isNumber })
    }

    // MARK: The cluster

    var namespaceCount: Int { min(50, pods) }
    static let tiers = ["front", "back", "data"]

    /// `pods` pods spread over the namespaces in turn: pod `j` is in
    /// `ns-(j % 50)` with `app: svc-(j % 100)` (so two apps per namespace),
    /// and a tier and zone that vary within each app.
    func makePods() -> [Pod] {
        (0..<pods).map { j in
            let row = j / namespaceCount
            return Pod(name: "pod-\(row)", namespace: "ns-\(j % namespaceCount)",
                       labels: ["app": "svc-\(j % 100)", "tier": Self.tiers[row % 3], "zone": "zone-\(row % 4)"],
                       netns: "pod-\(j)", ips: ["10.\(j / 65_536 % 256).\(j / 256 % 256).\(j % 256)"])
        }
    }

    /// One NetworkChaos delay per experiment, in five shapes taken in turn
    /// (about 6 targets each on average at 5,000 pods):
    /// one pod of an app; every pod of an app and tier; three front pods of
    /// two namespaces with one data pod as the peer (`spec.target`); 10 % of
    /// the pods an expression selects; up to 30 % of an app's non-data pods.
    func makeDocuments() -> String {
        var text = ""
        text.reserveCapacity(experiments * 260)
        for i in 0..<experiments {
            let namespace = i % namespaceCount
            // One of the two apps that live in this namespace.
            let app = "svc-\((namespace + namespaceCount * ((i / namespaceCount) % 2)) % 100)"
            let selection: String
            switch i % 5 {
            case 0:
                selection = """
                      mode: one
                      selector: {labelSelectors: {app: \(app)}}
                    """
            case 1:
                selection = """
                      mode: all
                      selector: {labelSelectors: {app: \(app), tier: \(Self.tiers[(i / 5) % 3])}}
                    """
            case 2:
                selection = """
                      mode: fixed
                      value: "3"
                      selector: {namespaces: [ns-\(namespace), ns-\((namespace + 1) % namespaceCount)], labelSelectors: {tier: front}}
                      direction: to
                      target:
                        mode: one
                        selector: {namespaces: [ns-\(namespace)], labelSelectors: {tier: data}}
                    """
            case 3:
                selection = """
                      mode: fixed-percent
                      value: "10"
                      selector:
                        expressionSelectors:
                          - {key: zone, operator: In, values: [zone-0, zone-1]}
                          - {key: app, operator: Exists}
                    """
            default:
                selection = """
                      mode: random-max-percent
                      value: "30"
                      selector:
                        labelSelectors: {app: \(app)}
                        expressionSelectors: [{key: tier, operator: NotIn, values: [data]}]
                    """
            }
            text += """
                apiVersion: chaos-mesh.org/v1alpha1
                kind: NetworkChaos
                metadata: {name: bench-\(i), namespace: ns-\(namespace)}
                spec:
                  action: delay
                \(selection)
                  delay: {latency: 10ms}
                  duration: 1h
                ---

                """
        }
        return text
    }

    // MARK: The process

    func peakResidentKiB() -> Int {
        var usage = rusage()
        getrusage(RUSAGE_SELF.rawValue, &usage)
        return usage.ru_maxrss
    }

}

/// Wall and process CPU time since the previous lap.
struct PhaseClock {
    private var wall = ContinuousClock.now
    private var cpu = PhaseClock.processCPUSeconds()

    mutating func lap() -> ControllerBenchmark.Phase {
        let (nowWall, nowCPU) = (ContinuousClock.now, Self.processCPUSeconds())
        defer { (wall, cpu) = (nowWall, nowCPU) }
        return ControllerBenchmark.Phase(seconds: (nowWall - wall).seconds, cpuSeconds: nowCPU - cpu)
    }

    static func processCPUSeconds() -> Double {
        var usage = rusage()
        getrusage(RUSAGE_SELF.rawValue, &usage)
        func seconds(_ time: timeval) -> Double { Double(time.tv_sec) + Double(time.tv_usec) / 1e6 }
        return seconds(usage.ru_utime) + seconds(usage.ru_stime)
    }
}

/// A host that injects nothing: each inject returns one made-up attack id.
/// The benchmark measures the controller, not the faults.
final class NoOpDaemon: HostAgent {
    private let counter = Atomic<Int>(0)
    let machine = "bench"

    func status() async throws -> AgentStatus {
        AgentStatus(machine: machine, kinds: [], families: [], machineActions: [], halted: false, activeAttacks: 0, leases: [])
    }

    func pods() async throws -> [Pod] { [] }

    func inject(_ request: InjectionRequest) async throws -> [AttackID] {
        let number = counter.add(1, ordering: .relaxed).newValue
        return [AttackID(machine: machine, uid: "noop-\(number)")]
    }

    func recover(_ attacks: [AttackID]) async throws {}
    func attacks(_ query: AttackQuery) async throws -> [HostAttack] { [] }
    func heal(_ attacks: [AttackID]) async throws -> [LostFault] { [] }
    func recoverOrphans(controller: String, keeping experiments: Set<String>) async throws -> Int { 0 }
    func setHalted(_ halted: Bool) async throws -> Int { 0 }
    func census() async throws -> AgentCensus { AgentCensus(machine: machine, samples: []) }
    func renewLease(_ lease: Lease) async throws -> LeaseGrant {
        LeaseGrant(controller: lease.controller, seconds: lease.seconds, renewedAt: Date(), expiresAt: Date())
    }
    func attack(_ request: DirectAttack) async throws -> AttackID { throw AgentError(.unsupported, "the benchmark host injects nothing") }
    func directAttacks() async throws -> [HostAttack] { [] }
}

extension Duration {
    var seconds: Double {
        Double(components.seconds) + Double(components.attoseconds) / 1e18
    }
}
