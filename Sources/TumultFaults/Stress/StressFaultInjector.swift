import Foundation
import TumultSystem

/// Applies a `StressFault`: starts workers (`tumult-stress`, or stress-ng
/// when raw options are given) that join the target's cgroup in every
/// hierarchy before doing any work, and stops them on recovery.
public struct StressFaultInjector: FaultInjector {
    public typealias Fault = StressFault
    public typealias UndoStep = StressUndoStep
    public static let family = "stress"

    /// The worker executable; default: `tumult-stress` beside the running program.
    public var workerExecutable: String
    /// Foreground attacks tie the workers to their process (they die with
    /// it); detached ones leave them in a session of their own.
    public var detachWorkers: Bool

    public init(workerExecutable: String? = nil, detachWorkers: Bool = true) {
        self.workerExecutable = workerExecutable ?? Self.defaultWorkerExecutable()
        self.detachWorkers = detachWorkers
    }

    public static func defaultWorkerExecutable() -> String {
        HelperExecutable.locate("tumult-stress", environmentOverride: "TUMULT_STRESS")
    }

    // MARK: Apply

    public func apply(_ fault: StressFault, attack: String, recorder: ChangeRecorder) throws {
        try check(fault)
        let targetPID = try resolve(fault.target)
        let cgroups = try targetCgroups(targetPID, fault.target)
        let commands = try workerCommands(fault, targetPID: targetPID, cgroups: cgroups)

        let summary = "stress \(fault.summary) in \(fault.target)"
        let sequence = try recorder.willApply(summary, undo: Self.encodeStep(.stopWorkers(attack: attack, workers: [])))
        var started: [StressUndoStep.Worker] = []
        do {
            for command in commands {
                let worker = try HelperProcess.start(command, environment: ["TUMULT_ATTACK": attack],
                                                     readyPrefix: "ready", detached: detachWorkers)
                started.append(StressUndoStep.Worker(pid: worker.pid, startTime: worker.startTime))
                try verify(worker.pid, joined: cgroups)
            }
            if !fault.stressNGOptions.isEmpty { try checkStillRunning(started, fault: fault) }
            try recorder.didApply(sequence, undo: Self.encodeStep(.stopWorkers(attack: attack, workers: started)))
        } catch {
            try? recover([.stopWorkers(attack: attack, workers: started)], attack: attack)
            if error is FaultError { throw error }
            throw FaultError(.applyFailed, "could not start \(summary)", cause: error)
        }
    }

    func check(_ fault: StressFault) throws {
        guard (1...8192).contains(fault.workers) else {
            throw FaultError(.invalidFault, "workers must be from 1 to 8192, not \(fault.workers)")
        }
        guard (0...100).contains(fault.load) else {
            throw FaultError(.invalidFault, "load must be a percentage from 0 to 100, not \(fault.load)")
        }
        if let adj = fault.oomScoreAdj, !(-1000...1000).contains(adj) {
            throw FaultError(.invalidFault, "oom_score_adj must be from -1000 to 1000, not \(adj)")
        }
        if fault.action == .memory {
            switch fault.size {
            case nil: throw FaultError(.invalidFault, "memory stress needs a size")
            case .percent(let percent)? where !(percent > 0 && percent <= 100):
                throw FaultError(.invalidFault, "a memory size percentage must be above 0 and at most 100")
            case .bytes(0)?: throw FaultError(.invalidFault, "a memory size must be above 0 bytes")
            default: break
            }
        }
    }

    /// The process whose cgroups the workers join; nil for the host.
    func resolve(_ target: StressFault.Target) throws -> Int32? {
        switch target {
        case .host:
            return nil
        case .process(let pid):
            guard Processes.isAlive(pid) else { throw FaultError(.invalidFault, "there is no process \(pid)") }
            return pid
        case .networkNamespace(let name):
            guard let inode = NetworkNamespace.named(name).inode else {
                throw FaultError(.invalidFault, "netns \(name) does not exist")
            }
            guard let first = ProcessTable.pids().first(where: { ProcessTable.networkNamespaceInode(of: $0) == inode }) else {
                throw FaultError(.invalidFault, "no process runs in netns \(name), so it has no cgroup to stress")
            }
            return first
        }
    }

    /// The target's cgroup in every hierarchy it is in.
    func targetCgroups(_ pid: Int32?, _ target: StressFault.Target) throws -> [Cgroup] {
        guard let cgroups = CgroupHierarchy.cgroups(of: pid) else { throw FaultError(.invalidFault, "\(target) is gone") }
        guard !cgroups.isEmpty else {
            throw FaultError(.unsupported, "no cgroup hierarchy of \(target) is mounted here")
        }
        return cgroups
    }

    /// One command per worker, or one stress-ng for them all.
    func workerCommands(_ fault: StressFault, targetPID: Int32?, cgroups: [Cgroup]) throws -> [Command] {
        var common = cgroups.flatMap { ["--cgroup", $0.directory] }
        if let adj = fault.oomScoreAdj { common += ["--oom-score-adj", String(adj)] }
        if !detachWorkers { common.append("--die-with-parent") }
        let bytes = fault.action == .memory ? memoryBytes(fault.size!, cgroups: cgroups) : 0

        guard fault.stressNGOptions.isEmpty else {
            let stressNG: String
            do { stressNG = try ProcessCommandRunner.locate("stress-ng").path } catch {
                throw FaultError(.unsupported, "--options runs stress-ng, which is not installed "
                                 + "(apt-get install stress-ng), or drop --options to use Tumult's own workers")
            }
            let options = fault.stressNGOptions.flatMap { $0.split(separator: " ").map(String.init) }
            let stressors = fault.action == .cpu
                ? ["--cpu", String(fault.workers), "--cpu-load", String(fault.load)]
                : ["--vm", String(fault.workers), "--vm-bytes", String(bytes), "--vm-keep"]
            let arguments = [stressNG] + stressors + options
            let dry = try Spawn.run(arguments + ["--dry-run"])
            guard dry.succeeded else {
                let detail = (dry.stderr + dry.stdout).trimmingCharacters(in: .whitespacesAndNewlines)
                throw FaultError(.invalidFault, "stress-ng rejects the options \(options): \(detail)")
            }
            return [Command([workerExecutable, "exec"] + common + ["--"] + arguments)]
        }
        let work = fault.action == .cpu ? ["cpu", "--load", String(fault.load)] : ["memory", "--bytes", String(bytes)]
        return Array(repeating: Command([workerExecutable] + work + common), count: fault.workers)
    }

    /// Bytes per worker: a percentage is of the target's memory limit, or
    /// of the host's memory when it has none (or a larger one).
    func memoryBytes(_ size: StressFault.Size, cgroups: [Cgroup]) -> UInt64 {
        switch size {
        case .bytes(let bytes): return bytes
        case .percent(let percent):
            let host = Cgroup.hostMemory()
            let memory = cgroups.first { $0.hierarchy.controllers.contains("memory") } ?? cgroups.first { $0.hierarchy.version == 2 }
            let available = min(memory?.memoryLimit ?? host, host)
            return UInt64(Double(available) * percent / 100)
        }
    }

    // MARK: Read back

    /// The worker is where its target is, in every hierarchy.
    func verify(_ pid: Int32, joined cgroups: [Cgroup]) throws {
        for wanted in cgroups {
            guard let actual = wanted.hierarchy.cgroup(of: pid) else {
                throw FaultError(.readBackFailed, "worker \(pid) exited right after it started")
            }
            guard actual == wanted else {
                throw FaultError(.readBackFailed, "worker \(pid) is in \(actual), not in the target's \(wanted)")
            }
        }
    }

    /// stress-ng that dies at once (bad options the dry run let through) is an apply failure.
    func checkStillRunning(_ workers: [StressUndoStep.Worker], fault: StressFault) throws {
        usleep(300_000)
        for worker in workers where !Processes.isAlive(worker.pid) {
            throw FaultError(.applyFailed, "stress-ng \(fault.stressNGOptions.joined(separator: " ")) exited at once")
        }
    }

    // MARK: Recover

    public func recover(_ steps: [StressUndoStep], attack: String) throws {
        for step in steps.reversed() {
            switch step {
            case .stopWorkers(let owner, let workers):
                stopWorkers(attack: owner, workers: workers)
            }
        }
        let left = Processes.withEnvironment("TUMULT_ATTACK", equalTo: attack).filter { $0 != getpid() }
        if !left.isEmpty {
            throw FaultError(.recoverFailed, "stress workers of \(attack) still run: \(left)")
        }
    }

    /// Stops the recorded workers that are still the same processes, and
    /// every process carrying the attack's mark (workers, stress-ng's
    /// children). Workers hold no state worth a graceful end: no grace.
    func stopWorkers(attack: String, workers: [StressUndoStep.Worker]) {
        Processes.stopHelpers(of: attack, recorded: workers.map { ($0.pid, $0.startTime) }, grace: 0)
    }
}
