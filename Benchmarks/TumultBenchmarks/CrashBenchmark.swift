import Foundation
import TumultSystem

/// `swift run tumult-bench crash [--kills N] [--seed S] [--modes attack,server]
/// [--families delay,partition,...] [--window MS] [--skip-recovery] [--tumult PATH]` (as root)
///
/// The crash-consistency soak: kills Tumult with SIGKILL at random moments
/// while it injects and while it recovers, across fault families, both as
/// `tumult attack` and as `tumult server`, then lets Tumult clean up the
/// way the README promises — `tumult recover --all` after an attack; after
/// a server, a new `tumult server` on the same port and `TUMULT_HOME`
/// (which takes back what its journal holds), the experiment deleted
/// through the API until archived, and SIGTERM — and compares everything
/// the round could have touched with a baseline taken before it: qdiscs,
/// filters, iptables and nftables rules and chains, ipsets and links in
/// both namespaces, the soak's processes (engines, responders, workers,
/// `dd`, anything with `TUMULT_ATTACK`, any `tumult` left running), the
/// target's state and cgroups, `tmt-*` and frozen cgroups, the files in
/// the disk directory, and the journal (every attack recovered or failed).
/// Every difference is a leftover, printed with the round. It prints
/// each round, a summary, and last `N kills, M leftovers`; the exit status
/// is 1 when there is a leftover or a finding (a restart that could not
/// bind its port, a recovery that failed, a server that would not stop).
///
/// Each round has a fresh `TUMULT_HOME`. Each family has its own pair of
/// namespaces (`CrashTestbed`), built once and again after a round that
/// left something. Everything is removed at the end, also on an error or
/// a signal.
struct CrashBenchmark {
    enum Mode: String, CaseIterable, Sendable { case attack, server }
    enum Phase: String, Sendable { case injection, recovery }

    /// What the round does just before the kill.
    enum Trigger: String, Sendable {
        /// `tumult attack ... --duration`, killed as it starts.
        case foreground = "attack --duration"
        /// A detached attack, then `tumult recover UID`, killed as it starts.
        case recoverCommand = "recover UID"
        /// A foreground attack in place, then SIGTERM (it recovers), then the kill.
        case interrupt = "attack, SIGTERM"
        /// `POST` of the experiment (or chaosd attack), then the kill.
        case apply = "POST"
        /// The experiment running, `DELETE` (recovery starts), then the kill.
        case delete = "DELETE"
        /// The experiment running, SIGTERM to the server (it recovers), then the kill.
        case stop = "server SIGTERM"
    }

    var tumult: String
    var kills = 200
    var seed: UInt64 = UInt64.random(in: 0..<1_000_000)
    var modes: [Mode] = Mode.allCases
    var families: [CrashFamily] = CrashFamily.standard
    /// Kills land uniformly in [0, window] seconds after the trigger: fixed
    /// by `--window`, else learnt per family and trigger (`KillWindows`).
    var window: Double?
    let windows: KillWindows
    /// How long each fault is asked to last: long enough that it is still
    /// running whenever the kill lands.
    var duration = "30s"
    /// `--skip-recovery`: kill and compare without letting Tumult recover,
    /// to check the checker (every round that injected must then show leftovers).
    var skipRecovery = false

    init(arguments: [String], tumult: String, tumultGiven: Bool) throws {
        self.tumult = tumult
        if !tumultGiven && !FileManager.default.isExecutableFile(atPath: tumult) {
            // Beside the running executable, else the package's own build.
            let package = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
                .deletingLastPathComponent().path
            let candidates = [FileManager.default.currentDirectoryPath, package].flatMap {
                ["\($0)/.build/debug/tumult", "\($0)/.build/release/tumult"]
            }
            if let found = candidates.first(where: FileManager.default.isExecutableFile(atPath:)) { self.tumult = found }
        }
        func value(_ flag: String) -> String? {
            guard let index = arguments.firstIndex(of: flag), index + 1 < arguments.count else { return nil }
            return arguments[index + 1]
        }
        if let text = value("--kills") {
            guard let count = Int(text), count >= 1 else { throw BenchmarkError("--kills: \"\(text)\" is not a count of at least 1") }
            kills = count
        }
        if let text = value("--seed") {
            guard let number = UInt64(text) else { throw BenchmarkError("--seed: \"\(text)\" is not a number") }
            seed = number
        }
        if let text = value("--window") {
            guard let milliseconds = Double(text), milliseconds >= 0 else { throw BenchmarkError("--window: \"\(text)\" is not milliseconds") }
            window = milliseconds / 1000
        }
        if let text = value("--duration") { duration = text }
        skipRecovery = arguments.contains("--skip-recovery")
        if let text = value("--modes") {
            modes = try text.split(separator: ",").map { name in
                guard let mode = Mode(rawValue: String(name)) else { throw BenchmarkError("--modes: no mode \"\(name)\" (attack, server)") }
                return mode
            }
        }
        if let text = value("--families") {
            families = try text.split(separator: ",").map { name in
                guard let family = CrashFamily(rawValue: String(name)) else {
                    throw BenchmarkError("--families: no family \"\(name)\" (\(CrashFamily.allCases.map(\.rawValue).joined(separator: ", ")))")
                }
                return family
            }
        }
        guard !modes.isEmpty, !families.isEmpty else { throw BenchmarkError("--modes and --families need at least one each") }
        windows = KillWindows(fixed: window)
    }

    // MARK: Running

    /// Runs every round and returns the exit status: 0 only with no leftover and no finding.
    func run() throws -> Int32 {
        guard getuid() == 0 else { throw BenchmarkError("the crash soak needs root (network namespaces, cgroups)") }
        guard FileManager.default.isExecutableFile(atPath: tumult) else {
            throw BenchmarkError("no tumult executable at \(tumult) (swift build --product tumult-cli, then --product tumult; or pass --tumult PATH)")
        }
        for helper in ["tumult-netem", "tumult-stress"] {
            let path = URL(fileURLWithPath: tumult).deletingLastPathComponent().appendingPathComponent(helper).path
            guard FileManager.default.isExecutableFile(atPath: path) else {
                throw BenchmarkError("no \(helper) beside \(tumult) (swift build --product \(helper))")
            }
        }
        for tool in ["ip", "tc", "iptables-save", "nft", "ipset", "ss"] { _ = try ProcessCommandRunner.locate(tool) }

        let started = Clock.now
        let tag = String(UInt32.random(in: 0..<UInt32.max), radix: 36)
        let work = "/tmp/tmt-crash-\(tag)"
        let cleanup = SoakCleanup.shared
        cleanup.configure(work: work, tumult: tumult)
        cleanup.installSignalHandlers()
        defer {
            cleanup.perform()
            // After a signal, the handler exits once it has cleaned up.
            while cleanup.interrupted { pause() }
        }
        try FileManager.default.createDirectory(atPath: work, withIntermediateDirectories: true)

        var beds: [CrashFamily: CrashTestbed] = [:]
        for (index, family) in families.enumerated() where beds[family] == nil {
            let bed = CrashTestbed(tag: tag, index: index, work: work)
            cleanup.add(bed)
            try bed.build()
            cleanup.refreshInodes()
            beds[family] = bed
        }
        let inventory = work + "/inventory.yaml"
        try Self.inventory(Array(beds.values)).write(toFile: inventory, atomically: true, encoding: .utf8)
        let port = try LoopbackHTTP.freePort()
        let context = Context(tumult: tumult, work: work, inventory: inventory, port: port, duration: duration)

        let kernel = (try? String(contentsOfFile: "/proc/sys/kernel/osrelease", encoding: .utf8))?
            .trimmingCharacters(in: .whitespacesAndNewlines) ?? "?"
        print("crash soak: \(kills) kills, seed \(seed), kill within "
              + (window.map { "\(Int($0 * 1000)) ms" } ?? "1.3x the learnt length of the work") + " after the trigger; "
              + "\(ProcessInfo.processInfo.activeProcessorCount) cores, Linux \(kernel)")
        print("modes \(modes.map(\.rawValue).joined(separator: ", ")); families \(families.map(\.rawValue).joined(separator: ", "))")
        if skipRecovery { print("--skip-recovery: Tumult does not recover after the kill; every injected round must show leftovers") }
        print("tumult: \(tumult); server port 127.0.0.1:\(port); work directory \(work)")
        print("namespaces " + families.compactMap { beds[$0].map { "\($0.a)/\($0.b)" } }.joined(separator: ", "))
        print("")
        let widths = [5, 7, 15, 10, 18, 7, 22, 8]
        print(Self.columns(widths, ["#", "mode", "family", "phase", "trigger", "kill", "journal at the kill", "result"]))
        print(Self.columns(widths, ["-", "----", "------", "-----", "-------", "----", "-------------------", "------"]))

        var generator = SeededGenerator(seed: seed)
        var rounds: [CrashRound] = []
        for number in 1...kills {
            var round = plan(number, using: &generator)
            round.delay = round.fraction * windows.window(round.family, round.trigger)
            let bed = beds[round.family]!
            execute(&round, bed: bed, context: context)
            let result = !round.leftovers.isEmpty ? "LEFTOVER" : round.findings.isEmpty ? "ok" : "FINDING"
            print(Self.columns(widths, ["\(number)", round.mode.rawValue, round.family.rawValue, round.phase.rawValue,
                                        round.trigger.rawValue, String(format: "%.0fms", round.delay * 1000), round.landing, result])
                  + "  " + (round.notes + [String(format: "round %.1fs", round.seconds)]).joined(separator: ", "))
            for finding in round.findings { print("      finding: \(finding)") }
            for leftover in round.leftovers { print("      leftover: \(leftover)") }
            for line in round.evidence { print("      | \(line)") }
            fflush(nil)
            rounds.append(round)
        }
        let elapsed = Clock.now - started
        summarize(rounds, elapsed: elapsed)
        let leftovers = rounds.reduce(0) { $0 + $1.leftovers.count }
        let findings = rounds.reduce(0) { $0 + $1.findings.count }
        return leftovers == 0 && findings == 0 ? 0 : 1
    }

    /// Which mode, family, phase, trigger and delay round `number` gets:
    /// modes alternate, families follow in turn, and each family meets
    /// both phases within its first two rounds.
    func plan(_ number: Int, using generator: inout SeededGenerator) -> CrashRound {
        let index = number - 1
        let (modeIndex, familyIndex) = (index % modes.count, (index / modes.count) % families.count)
        let (mode, family) = (modes[modeIndex], families[familyIndex])
        // A family's phase flips from one mode to the next and from one cycle to the next.
        let cycle = index / (modes.count * families.count)
        let phase: Phase = (familyIndex + modeIndex + cycle) % 2 == 0 ? .injection : .recovery
        let choice = Double.random(in: 0..<1, using: &generator)
        let trigger: Trigger = switch (mode, phase) {
        case (.attack, .injection): .foreground
        case (.attack, .recovery): choice < 0.5 ? .recoverCommand : .interrupt
        case (.server, .injection): .apply
        case (.server, .recovery): !family.runsAsExperiment || choice < 0.6
            ? .delete : .stop
        }
        let fraction = Double.random(in: 0...1, using: &generator)
        return CrashRound(number: number, mode: mode, family: family, phase: phase, trigger: trigger, fraction: fraction)
    }

    /// The inventory `tumult server` selects from: each target namespace a
    /// pod of the soak's namespace (the peers are not listed).
    static func inventory(_ beds: [CrashTestbed]) -> String {
        "pods:\n" + beds.map { "  - {name: \($0.a), namespace: \(CrashFamily.namespace), netns: \($0.a), labels: {app: crash-soak}}\n" }
            .joined()
    }

    // MARK: The summary

    /// Columns padded to their widths; a longer value pushes the rest right instead of being cut.
    static func columns(_ widths: [Int], _ values: [String]) -> String {
        zip(values, widths).map { $0.padding(toLength: max($1, $0.count), withPad: " ", startingAt: 0) }.joined(separator: " ")
    }

    func summarize(_ rounds: [CrashRound], elapsed: Double) {
        print("")
        print("where the kills landed (the journal's states at the kill) and what was left, by mode and family")
        print("")
        let landings = ["not journaled", "injecting", "injected", "recovering", "recovered", "failed"]
        let widths = [8, 16, 6, 10, 10, 14, 10, 9, 11, 10, 7, 10, 9]
        print(Self.columns(widths, ["mode", "family", "kills", "injection", "recovery"] + landings + ["leftovers", "findings"]))
        print(Self.columns(widths, ["----", "------", "-----", "---------", "--------"] + landings.map { String(repeating: "-", count: $0.count) }
                  + ["---------", "--------"]))
        for mode in modes {
            for family in families {
                let mine = rounds.filter { $0.mode == mode && $0.family == family }
                guard !mine.isEmpty else { continue }
                let landed = landings.map { state in mine.filter { $0.landingStates.contains(state) }.count }
                print(Self.columns(widths, [mode.rawValue, family.rawValue, "\(mine.count)",
                                   "\(mine.filter { $0.phase == .injection }.count)", "\(mine.filter { $0.phase == .recovery }.count)"]
                          + landed.map(String.init)
                          + ["\(mine.reduce(0) { $0 + $1.leftovers.count })", "\(mine.reduce(0) { $0 + $1.findings.count })"]))
            }
        }
        if window == nil {
            print("")
            print("kill windows learnt (family/trigger: 1.3x the work's average length): "
                  + windows.summary.map { "\($0.key) \(Int($0.window * 1000))ms" }.joined(separator: ", "))
        }
        let restarts = rounds.compactMap(\.restartSeconds).sorted()
        if !restarts.isEmpty {
            print("")
            print(String(format: "server restarts on the same port: %d, until listening p50 %.2f s, max %.2f s; %d over 1 s",
                         restarts.count, percentile(restarts, 0.5), restarts.last!, restarts.filter { $0 > 1 }.count))
        }
        let findings = rounds.flatMap { round in round.findings.map { "round \(round.number) (\(round.mode.rawValue) \(round.family.rawValue)): \($0)" } }
        if !findings.isEmpty {
            print("")
            print("findings: \(findings.count)")
            for finding in findings { print("  \(finding)") }
        }
        let leftovers = rounds.reduce(0) { $0 + $1.leftovers.count }
        let kinds = Dictionary(grouping: rounds.flatMap(\.leftovers), by: CrashRound.kind(ofLeftover:)).mapValues(\.count)
        if !kinds.isEmpty {
            print("")
            print("leftovers by kind: " + kinds.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", "))
            print("rounds with a leftover: \(rounds.filter { !$0.leftovers.isEmpty }.count) of \(rounds.count)")
        }
        print("")
        print(String(format: "time: %.0f s in all, %.1f s per kill", elapsed, elapsed / Double(max(1, rounds.count))))
        print("\(rounds.count) kills, \(leftovers) leftovers")
    }
}

/// What every round needs to know about the run.
struct Context {
    var tumult: String
    var work: String
    var inventory: String
    var port: Int
    var duration: String
}

/// One kill: what was planned, where it landed, what came after.
struct CrashRound {
    var number: Int
    var mode: CrashBenchmark.Mode
    var family: CrashFamily
    var phase: CrashBenchmark.Phase
    var trigger: CrashBenchmark.Trigger
    /// Where in its window the kill lands (from the seed) and the delay that makes.
    var fraction: Double
    var delay = 0.0
    /// The journal's attack states right after the kill, e.g. `injecting`, `injected x2`, `not journaled`.
    var landing = "-"
    var landingStates: Set<String> = []
    var notes: [String] = []
    var findings: [String] = []
    var leftovers: [String] = []
    var evidence: [String] = []
    var restartSeconds: Double?
    var seconds = 0.0

    /// The area of a leftover line (`+ ns-a qdisc: ...` is `qdisc`).
    static func kind(ofLeftover line: String) -> String {
        let area = line.dropFirst(2).prefix { $0 != ":" }
        return String(area.split(separator: " ").last ?? Substring(area))
    }
}

/// splitmix64: the same seed, the same rounds.
struct SeededGenerator: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9e37_79b9_7f4a_7c15
        var z = state
        z = (z ^ (z >> 30)) &* 0xbf58_476d_1ce4_e5b9
        z = (z ^ (z >> 27)) &* 0x94d0_49bb_1331_11eb
        return z ^ (z >> 31)
    }
}

