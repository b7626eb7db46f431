import Foundation
import TumultSystem

/// Applies a `DiskFault` to the filesystem holding a directory and undoes it.
///
/// fill reserves a file's worth of space with `fallocate`, or writes zeros
/// with `dd` where fallocate fails; payload starts processes that read or
/// write files there with `dd`, direct I/O where the filesystem has it, in
/// a loop until recovery stops them. Both leave only `tumult-*` files,
/// which recovery deletes.
public struct DiskFaultInjector: FaultInjector {
    public typealias Fault = DiskFault
    public typealias UndoStep = DiskUndoStep
    public static let family = "disk"

    public var runner: any CommandRunner
    /// Foreground attacks tie the workers to their process (PR_SET_PDEATHSIG,
    /// through `setpriv`); detached ones leave them in a session of their
    /// own, to be stopped by recovery.
    public var detachWorkers: Bool

    public init(runner: any CommandRunner = ProcessCommandRunner(), detachWorkers: Bool = true) {
        self.runner = runner
        self.detachWorkers = detachWorkers
    }

    /// A filesystem's size and use as `statvfs` reports them (what `df` shows).
    public struct Usage: Sendable, Hashable {
        public var total: UInt64
        /// Free to root, reserved blocks included.
        public var free: UInt64

        public init(total: UInt64, free: UInt64) {
            self.total = total
            self.free = free
        }

        public var used: UInt64 { total - min(free, total) }
        public var percentUsed: Double { total == 0 ? 0 : Double(used) / Double(total) * 100 }

        /// The filesystem holding `path`, or nil if it cannot be read.
        public static func of(_ path: String) -> Usage? {
            var stats = statvfs()
            guard statvfs(path, &stats) == 0 else { return nil }
            let unit = UInt64(stats.f_frsize)
            return Usage(total: UInt64(stats.f_blocks) * unit, free: UInt64(stats.f_bfree) * unit)
        }
    }

    // MARK: Apply

    public func apply(_ fault: DiskFault, attack: String, recorder: ChangeRecorder) throws {
        try check(fault)
        guard let usage = Usage.of(fault.directory) else {
            throw FaultError(.invalidFault, "cannot read the filesystem of \(fault.directory): \(String(cString: strerror(errno)))")
        }
        switch fault.action {
        case .fill: try fill(fault, usage: usage, attack: attack, recorder: recorder)
        case .payload: try payload(fault, usage: usage, attack: attack, recorder: recorder)
        }
    }

    func check(_ fault: DiskFault) throws {
        guard fault.directory.hasPrefix("/") else {
            throw FaultError(.invalidFault, "the path \(fault.directory) is not absolute")
        }
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: fault.directory, isDirectory: &isDirectory), isDirectory.boolValue else {
            throw FaultError(.invalidFault, "there is no directory \(fault.directory)")
        }
        if let size = fault.size, size == 0 { throw FaultError(.invalidFault, "the size must be above 0") }
        switch fault.action {
        case .fill:
            guard (fault.size == nil) != (fault.percent == nil) else {
                throw FaultError(.invalidFault, "fill needs a size or a percentage, not both")
            }
            if let percent = fault.percent, !(percent > 0 && percent <= 100) {
                throw FaultError(.invalidFault, "the percentage \(percent) is not above 0 and at most 100")
            }
        case .payload:
            guard fault.size != nil else { throw FaultError(.invalidFault, "payload needs a size per process") }
            guard fault.percent == nil else { throw FaultError(.invalidFault, "payload takes a size, not a percentage") }
            guard (1...255).contains(fault.processes) else {
                throw FaultError(.invalidFault, "the number of processes \(fault.processes) is not from 1 to 255")
            }
        }
    }

    /// The bytes a fill adds: `size`, or what brings the filesystem to
    /// `percent` of its total; never more than is free.
    public static func fillBytes(size: UInt64?, percent: Double?, usage: Usage) throws -> UInt64 {
        var bytes = size ?? 0
        if let percent {
            let target = UInt64((Double(usage.total) * percent / 100).rounded(.down))
            guard target > usage.used else {
                throw FaultError(.invalidFault, String(format: "the filesystem is already %.1f%% used, not below %@%%",
                                                       usage.percentUsed, String(describing: percent)))
            }
            bytes = target - usage.used
        }
        guard bytes <= usage.free else {
            throw FaultError(.invalidFault, "filling \(bytes) bytes needs more than the \(usage.free) bytes free")
        }
        return bytes
    }

    func fill(_ fault: DiskFault, usage: Usage, attack: String, recorder: ChangeRecorder) throws {
        let bytes = try Self.fillBytes(size: fault.size, percent: fault.percent, usage: usage)
        let path = Self.file(in: fault.directory, "fill", attack: attack)
        guard !FileManager.default.fileExists(atPath: path) else {
            throw FaultError(.invalidFault, "\(path) already exists")
        }
        let undo = DiskUndoStep.removeFiles(paths: [path])
        let sequence = try recorder.willApply("create \(path) of \(bytes) bytes", undo: Self.encodeStep(undo))
        do {
            try Self.createExclusively(path)
            let reserved = fault.fillByFallocate
                && ((try? runner.run(Command(["fallocate", "--length", String(bytes), path])))?.succeeded ?? false)
            if !reserved {
                try runner.check(Self.zeroFill(path, bytes: bytes), doing: "writing \(bytes) bytes of zeros to \(path)")
            }
            try Self.verifyAllocated(path, bytes: bytes)
            try recorder.didApply(sequence, undo: nil)
        } catch {
            try? recover([undo], attack: attack)
            if error is FaultError { throw error }
            throw FaultError(.applyFailed, "could not \(fault.summary)", cause: error)
        }
    }

    func payload(_ fault: DiskFault, usage: Usage, attack: String, recorder: ChangeRecorder) throws {
        let pass = Self.pass(for: fault.size ?? 0)
        let paths = (0..<fault.processes).map { Self.file(in: fault.directory, "payload", attack: attack, index: $0) }
        for path in paths where FileManager.default.fileExists(atPath: path) {
            throw FaultError(.invalidFault, "\(path) already exists")
        }
        let needed = pass.bytes * UInt64(fault.processes)
        guard needed <= usage.free else {
            throw FaultError(.invalidFault, "\(fault.processes) files of \(pass.bytes) bytes need more than the \(usage.free) bytes free")
        }
        var done: [DiskUndoStep] = []
        do {
            let files = DiskUndoStep.removeFiles(paths: paths)
            let filesSequence = try recorder.willApply("create \(paths.count) payload files under \(fault.directory)",
                                                       undo: Self.encodeStep(files))
            done.append(files)
            for path in paths {
                try Self.createExclusively(path)
                if fault.mode == .read {
                    try runner.check(Self.zeroFill(path, bytes: pass.bytes), doing: "writing the file \(path) to read")
                }
            }
            try recorder.didApply(filesSequence, undo: nil)

            // One pass first, to learn whether the filesystem takes direct I/O and that dd works there.
            var direct = true
            if !(try runner.run(Self.dd(fault.mode, paths[0], pass: pass, direct: true, count: 1))).succeeded {
                direct = false
                try runner.check(Self.dd(fault.mode, paths[0], pass: pass, direct: false, count: 1),
                                 doing: "trying a \(fault.mode.rawValue) under \(fault.directory)")
            }

            let summary = "start \(paths.count) \(fault.mode.rawValue) workers under \(fault.directory)"
            let workersSequence = try recorder.willApply(summary, undo: Self.encodeStep(.stopWorkers(attack: attack, workers: [])))
            done.append(.stopWorkers(attack: attack, workers: []))
            var workers: [DiskUndoStep.Worker] = []
            for path in paths {
                let child = try Spawn.start(workerCommand(Self.dd(fault.mode, path, pass: pass, direct: direct), mode: fault.mode),
                                            environment: ["TUMULT_ATTACK": attack], newSession: detachWorkers,
                                            captureOutput: false)
                workers.append(DiskUndoStep.Worker(pid: child.pid, startTime: Processes.startTime(of: child.pid)))
                done[done.count - 1] = .stopWorkers(attack: attack, workers: workers)
            }
            // Read back: the loops are still running once the first dd is under way.
            usleep(200_000)
            for worker in workers where !Processes.isAlive(worker.pid) {
                throw FaultError(.readBackFailed, "a \(fault.mode.rawValue) worker (pid \(worker.pid)) exited at once")
            }
            try recorder.didApply(workersSequence, undo: Self.encodeStep(done[done.count - 1]))
        } catch {
            try? recover(done, attack: attack)
            if error is FaultError { throw error }
            throw FaultError(.applyFailed, "could not start the \(fault.summary)", cause: error)
        }
    }

    // MARK: Commands

    /// `<directory>/tumult-<kind>-<first 8 characters of the attack>[-<index>]`.
    static func file(in directory: String, _ kind: String, attack: String, index: Int? = nil) -> String {
        let base = directory.hasSuffix("/") ? String(directory.dropLast()) : directory
        return "\(base)/tumult-\(kind)-\(attack.prefix(8))" + (index.map { "-\($0)" } ?? "")
    }

    /// The I/O of one payload pass: `count` blocks of `block` bytes.
    public struct Pass: Sendable, Hashable {
        public var block: UInt64
        public var count: UInt64
        public var bytes: UInt64 { block * count }

        public init(block: UInt64, count: UInt64) {
            self.block = block
            self.count = count
        }
    }

    /// 1 MiB blocks, or below 1 MiB one block rounded up to 4 KiB (direct I/O
    /// wants whole sectors).
    public static func pass(for size: UInt64) -> Pass {
        let mebibyte: UInt64 = 1 << 20
        if size >= mebibyte { return Pass(block: mebibyte, count: (size + mebibyte - 1) / mebibyte) }
        return Pass(block: max(4096, (size + 4095) / 4096 * 4096), count: 1)
    }

    /// `dd` writing `bytes` zeros to `path` and syncing them.
    public static func zeroFill(_ path: String, bytes: UInt64) -> Command {
        Command(["dd", "if=/dev/zero", "of=\(path)", "bs=1M", "count=\(bytes)", "iflag=count_bytes", "conv=fsync",
                 "status=none"])
    }

    /// One pass of a payload worker over `path`; `count` overrides the pass's.
    public static func dd(_ mode: DiskFault.Mode, _ path: String, pass: Pass, direct: Bool, count: UInt64? = nil) -> Command {
        let blocks = ["bs=\(pass.block)", "count=\(count ?? pass.count)"]
        switch mode {
        case .write:
            // notrunc: the file keeps its size between passes, as the space check assumed.
            return Command(["dd", "if=/dev/zero", "of=\(path)"] + blocks + (direct ? ["oflag=direct"] : [])
                           + ["conv=notrunc,fsync", "status=none"])
        case .read:
            // Without direct I/O, nocache keeps the reads from being served by the page cache.
            return Command(["dd", "if=\(path)", "of=/dev/null"] + blocks + [direct ? "iflag=direct" : "iflag=nocache", "status=none"])
        }
    }

    /// Repeats `pass` until stopped: a fixed loop whose command comes in as
    /// arguments, so nothing in a path is read as shell syntax. In the
    /// foreground each pass dies with the loop, and the loop with Tumult.
    func workerCommand(_ pass: Command, mode: DiskFault.Mode) -> [String] {
        var repeated = pass.arguments
        if !detachWorkers, (try? ProcessCommandRunner.locate("setpriv")) != nil {
            repeated = ["setpriv", "--pdeathsig", "KILL"] + repeated
        }
        let loop = ["sh", "-c", "while :; do \"$@\" || sleep 1; done", "tumult-disk-\(mode.rawValue)"] + repeated
        if !detachWorkers, (try? ProcessCommandRunner.locate("setpriv")) != nil {
            return ["setpriv", "--pdeathsig", "KILL"] + loop
        }
        return loop
    }

    static func createExclusively(_ path: String) throws {
        let descriptor = open(path, O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC, 0o600)
        guard descriptor >= 0 else {
            throw FaultError(.applyFailed, "cannot create \(path): \(String(cString: strerror(errno)))")
        }
        close(descriptor)
    }

    /// Read back: the file has its size, and the filesystem has the blocks.
    static func verifyAllocated(_ path: String, bytes: UInt64) throws {
        var info = stat()
        guard stat(path, &info) == 0 else {
            throw FaultError(.readBackFailed, "\(path) is not there: \(String(cString: strerror(errno)))")
        }
        let allocated = UInt64(info.st_blocks) * 512
        guard UInt64(info.st_size) == bytes, allocated >= bytes else {
            throw FaultError(.readBackFailed, "\(path) holds \(info.st_size) bytes in \(allocated) allocated, not \(bytes)")
        }
    }

    // MARK: Recover

    public func recover(_ steps: [DiskUndoStep], attack: String) throws {
        var failures: [String] = []
        for step in steps.reversed() {
            switch step {
            case .stopWorkers(let owner, let workers):
                stopWorkers(attack: owner, workers: workers)
            case .removeFiles(let paths):
                for path in paths {
                    // Only ever Tumult's own files, whatever the journal says.
                    guard URL(fileURLWithPath: path).lastPathComponent.hasPrefix("tumult-") else {
                        failures.append("refusing to delete \(path), which is not a Tumult file")
                        continue
                    }
                    if unlink(path) != 0 && errno != ENOENT && errno != ENOTDIR {
                        failures.append("cannot delete \(path): \(String(cString: strerror(errno)))")
                    }
                }
            }
        }
        if !failures.isEmpty {
            throw FaultError(.recoverFailed, "could not undo everything: " + failures.joined(separator: "; "))
        }
    }

    /// Stops the recorded loops first (so they start no more passes), then
    /// whatever else carries this attack's mark, until nothing does.
    func stopWorkers(attack: String, workers: [DiskUndoStep.Worker]) {
        Processes.stopHelpers(of: attack, recorded: workers.map { ($0.pid, $0.startTime) })
    }
}
