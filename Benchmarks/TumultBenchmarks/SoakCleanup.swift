import Foundation
import TumultSystem

/// What the crash soak must undo however it ends (done, an error, or
/// SIGINT/SIGTERM/SIGHUP): its running `tumult` processes, every journal's
/// attacks (`tumult recover --all` in each `TUMULT_HOME`), any process or
/// `tmt-*` cgroup of its own still there, its namespaces, its files.
final class SoakCleanup: @unchecked Sendable {
    static let shared = SoakCleanup()

    private let lock = NSRecursiveLock()
    private var children: [Int32: SoakChild] = [:]
    private var homes: [String] = []
    private var testbeds: [CrashTestbed] = []
    private var work: String?
    private var tumult: String?
    private var _ownership = SoakOwnership(work: "/nonexistent")
    private var _interrupted = false
    private var done = false

    var interrupted: Bool { lock.withLock { _interrupted } }
    var ownership: SoakOwnership {
        get { lock.withLock { _ownership } }
        set { lock.withLock { _ownership = newValue } }
    }

    func configure(work: String, tumult: String) {
        lock.withLock {
            self.work = work
            self.tumult = tumult
            _ownership = SoakOwnership(work: work)
        }
    }

    func add(_ child: SoakChild) { lock.withLock { children[child.pid] = child } }
    func remove(_ child: SoakChild) { lock.withLock { children[child.pid] = nil } }
    /// Kills (and reaps) every child still running: after a round that stopped early.
    func killChildren() {
        let running = lock.withLock { children.values }
        for child in running { child.killNow() }
        lock.withLock { children = [:] }
    }
    func addHome(_ home: String) { lock.withLock { homes.append(home) } }
    func removeHome(_ home: String) { lock.withLock { homes.removeAll { $0 == home } } }
    func add(_ testbed: CrashTestbed) {
        lock.withLock {
            testbeds.append(testbed)
            _ownership.inodes.formUnion(testbed.inodes)
        }
    }
    /// The namespaces' inodes again after a rebuild (the old ones stay: a process left in one is still the soak's).
    func refreshInodes() { lock.withLock { _ownership.inodes.formUnion(testbeds.flatMap(\.inodes)) } }
    func learn(attacks: [String]) { lock.withLock { _ownership.attacks.formUnion(attacks) } }

    /// SIGINT, SIGTERM and SIGHUP (unless ignored, as under nohup) clean up,
    /// then exit (`CleanupSignals`); SIGPIPE is ignored.
    func installSignalHandlers() {
        CleanupSignals.install(
            program: "tumult-bench crash",
            interrupted: { SoakCleanup.shared.lock.withLock { SoakCleanup.shared._interrupted = true } },
            cleanUp: { SoakCleanup.shared.perform() })
        // A write to a server killed mid-request is an error to read, not a reason to die.
        signal(SIGPIPE, SIG_IGN)
    }

    /// Kills every process of the soak's still running (stopped ones are
    /// continued first, so that they can die).
    static func killOwnedProcesses(_ ownership: SoakOwnership, sparing: Set<Int32> = []) {
        for _ in 0..<3 {
            let owned = ProcessEntry.all().filter { !$0.isGone && !sparing.contains($0.pid) && ownership.owns($0) }
            if owned.isEmpty { return }
            for process in owned {
                kill(process.pid, SIGCONT)
                kill(process.pid, SIGKILL)
            }
            usleep(100_000)
        }
    }

    /// Undoes everything, once.
    func perform() {
        lock.lock()
        defer { lock.unlock() }
        guard !done else { return }
        done = true
        for child in children.values { child.killNow() }
        children = [:]
        if let tumult {
            for home in homes {
                _ = try? Relaunch.run([tumult, "recover", "--all", "--state-dir", home], environment: ["TUMULT_HOME": home])
            }
        }
        CgroupScan.remove(ownedBy: _ownership)
        Self.killOwnedProcesses(_ownership, sparing: Set(testbeds.map(\.targetPID)))
        for testbed in testbeds { testbed.tearDown() }
        Self.killOwnedProcesses(_ownership)
        if let work { try? FileManager.default.removeItem(atPath: work) }
    }
}
