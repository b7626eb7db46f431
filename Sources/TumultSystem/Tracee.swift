import CTumultSystem
import Foundation

/// Every thread of one process held stopped under ptrace, for the few
/// milliseconds it takes to rewrite some of its memory and run a system
/// call in it.
///
/// ptrace ties a tracee to the one thread that attached it: only that thread
/// may issue requests, and when it exits the kernel detaches whatever it still
/// traces. So a session is made, used and ended on one dedicated OS thread
/// (`Tracee.session`), never on a caller's thread, which may be a Swift
/// concurrency thread that runs other work in between. Stops are waited for
/// per thread id (`waitpid(tid, __WALL)`), never with -1: the rest of the
/// process reaps its own children.
final class Tracee {
    let pid: Int32
    /// The threads seized and stopped, in the order they were found.
    private(set) var threads: [Int32] = []
    /// Signals a thread received while we held it: given back on detach.
    private var heldSignals: [(tid: Int32, signal: Int32)] = []
    /// /proc/PID/task/TID/mem of a live thread: a main thread that called
    /// pthread_exit has no memory left to read through /proc/PID/mem.
    private var memory: Int32 = -1

    // ptrace requests (<sys/ptrace.h>).
    private static let singleStep: Int32 = 9
    private static let detachRequest: Int32 = 17
    private static let seize: Int32 = 0x4206
    private static let interrupt: Int32 = 0x4207
    /// `__WALL`: wait for clone children (threads) as well as processes.
    private static let waitAll: Int32 = 0x4000_0000
    /// How long a thread may take to stop: one sleeping uninterruptibly (in
    /// a hung FUSE or NFS call, say) never does, and must not hang the caller.
    static let stopTimeout: TimeInterval = 2

    /// Runs `body` on a new OS thread and returns its result: ptrace requests
    /// are only honoured from the thread that attached, and that thread's
    /// exit detaches anything left traced, whatever went wrong.
    static func session<T: Sendable>(_ body: @escaping @Sendable () throws -> T) throws -> T {
        let outcome = SessionOutcome<T>()
        let done = DispatchSemaphore(value: 0)
        let thread = Thread {
            outcome.result = Result { try body() }
            done.signal()
        }
        thread.name = "tumult-ptrace"
        thread.stackSize = 1 << 20
        thread.start()
        done.wait()
        return try outcome.result!.get()
    }

    /// Seizes and stops every thread of `pid`, rescanning /proc/PID/task until
    /// no new thread appears (a thread may be cloning while we look).
    /// Must be called on the session thread.
    init(pid: Int32) throws {
        self.pid = pid
        do {
            try stopAllThreads()
            memory = open("\(directory)/mem", O_RDWR | O_CLOEXEC)
            guard memory >= 0 else {
                throw SystemError.processFailed("cannot open \(directory)/mem: \(String(cString: strerror(errno)))")
            }
        } catch {
            detach()
            throw error
        }
    }

    deinit { if memory >= 0 { close(memory) } }

    /// The /proc directory of a stopped live thread, for maps and mem.
    var directory: String { "/proc/\(pid)/task/\(threads[0])" }

    private func stopAllThreads() throws {
        var seen = Set<Int32>()
        while true {
            let found = Self.threadIDs(of: pid).filter { !seen.contains($0) }
            if found.isEmpty { break }
            var seized: [Int32] = []
            for tid in found {
                seen.insert(tid)
                if Self.isZombie(pid: pid, tid: tid) { continue }
                if tumult_ptrace(Self.seize, tid, nil, nil) != 0 {
                    let reason = errno
                    // The thread exited between the listing and now.
                    if reason == ESRCH { continue }
                    throw SystemError.processFailed(Self.seizeFailure(pid: pid, reason: reason))
                }
                seized.append(tid)
                threads.append(tid)
            }
            for tid in seized where tumult_ptrace(Self.interrupt, tid, nil, nil) != 0 {
                threads.removeAll { $0 == tid }
            }
            for tid in seized where threads.contains(tid) {
                guard let status = try waitForStop(tid) else {
                    threads.removeAll { $0 == tid }
                    continue
                }
                let (signal, event) = (status >> 8 & 0xff, status >> 16)
                // A signal-delivery stop that came before our interrupt: the
                // signal would be lost on detach, so hold it and give it back.
                if event == 0 && signal != SIGTRAP { heldSignals.append((tid, signal)) }
            }
        }
        guard !threads.isEmpty else { throw SystemError.processFailed("no process \(pid)") }
    }

    /// Waits until `tid` stops; nil when it exited instead.
    private func waitForStop(_ tid: Int32) throws -> Int32? {
        let deadline = Date().addingTimeInterval(Self.stopTimeout)
        var spins = 0
        while true {
            var status: Int32 = 0
            let result = waitpid(tid, &status, WNOHANG | Self.waitAll)
            if result == tid {
                if status & 0xff == 0x7f { return status }
                return nil
            }
            if result < 0 {
                if errno == EINTR { continue }
                return nil
            }
            if Date() > deadline {
                throw SystemError.processFailed(
                    "thread \(tid) of process \(pid) did not stop within \(Int(Self.stopTimeout)) s "
                    + "(state \(Self.state(pid: pid, tid: tid) ?? "?"), probably blocked in the kernel); try again later")
            }
            spins += 1
            if spins < 50 { sched_yield() } else { usleep(spins < 200 ? 20 : 200) }
        }
    }

    /// Releases every thread, giving back the signals they received while held.
    /// Safe to call more than once.
    func detach() {
        for held in heldSignals { _ = tumult_tgkill(pid, held.tid, held.signal) }
        heldSignals = []
        for tid in threads { _ = tumult_ptrace(Self.detachRequest, tid, nil, nil) }
        threads = []
    }

    // MARK: registers and stepping

    func registers(_ tid: Int32) throws -> tumult_user_regs {
        var registers = tumult_user_regs()
        guard tumult_ptrace_getregs(tid, &registers) == 0 else {
            throw SystemError.processFailed("cannot read the registers of thread \(tid): \(String(cString: strerror(errno)))")
        }
        return registers
    }

    func setRegisters(_ registers: tumult_user_regs, of tid: Int32) throws {
        var registers = registers
        guard tumult_ptrace_setregs(tid, &registers) == 0 else {
            throw SystemError.processFailed("cannot set the registers of thread \(tid): \(String(cString: strerror(errno)))")
        }
    }

    /// Executes one instruction of `tid`. A signal that arrives meanwhile
    /// stops the thread first: it is held (given back on detach) and the
    /// step is retried, as is a late interrupt stop.
    func step(_ tid: Int32) throws {
        for _ in 0..<16 {
            guard tumult_ptrace(Self.singleStep, tid, nil, nil) == 0 else {
                throw SystemError.processFailed("cannot single-step thread \(tid): \(String(cString: strerror(errno)))")
            }
            guard let status = try waitForStop(tid) else {
                threads.removeAll { $0 == tid }
                throw SystemError.processFailed("thread \(tid) of process \(pid) exited while being patched")
            }
            let (signal, event) = (status >> 8 & 0xff, status >> 16)
            if event == 0 && signal == SIGTRAP { return }
            if event == 0 { heldSignals.append((tid, signal)) }
        }
        throw SystemError.processFailed("thread \(tid) of process \(pid) keeps stopping instead of stepping")
    }

    /// Steps `tid` until its instruction pointer leaves `range` (at most
    /// `limit` instructions).
    func step(_ tid: Int32, outOf range: Range<UInt64>, limit: Int = 10_000) throws {
        for _ in 0..<limit {
            guard range.contains(try registers(tid).rip) else { return }
            try step(tid)
        }
        throw SystemError.processFailed(
            "thread \(tid) of process \(pid) did not leave 0x\(String(range.lowerBound, radix: 16)) within \(limit) instructions")
    }

    /// Runs system call `number` in the stopped thread `tid`, with its
    /// instruction pointer on an existing `syscall` instruction at `site`,
    /// then puts every register back. `orig_rax = -1` keeps the kernel's
    /// restart logic away from a thread stopped inside another system call;
    /// the restored registers give that call back its own restart.
    /// Returns rax (a negative errno on failure).
    func syscall(_ number: Int64, _ arguments: [UInt64], in tid: Int32, site: UInt64) throws -> Int64 {
        let saved = try registers(tid)
        var call = saved
        call.rax = UInt64(bitPattern: number)
        call.orig_rax = UInt64(bitPattern: -1)
        call.rip = site
        let padded = arguments + Array(repeating: 0, count: max(0, 6 - arguments.count))
        (call.rdi, call.rsi, call.rdx, call.r10, call.r8, call.r9) =
            (padded[0], padded[1], padded[2], padded[3], padded[4], padded[5])
        try setRegisters(call, of: tid)
        do {
            try step(tid)
            let result = Int64(bitPattern: try registers(tid).rax)
            try setRegisters(saved, of: tid)
            return result
        } catch {
            try? setRegisters(saved, of: tid)
            throw error
        }
    }

    // MARK: memory

    /// Reads `count` bytes at `address` through /proc/PID/mem.
    func read(_ address: UInt64, count: Int) throws -> [UInt8] {
        guard let bytes = Self.read(fd: memory, address, count: count) else {
            throw SystemError.processFailed(
                "cannot read \(count) bytes at 0x\(String(address, radix: 16)) of process \(pid): \(String(cString: strerror(errno)))")
        }
        return bytes
    }

    /// Writes through /proc/PID/mem, which like a debugger's breakpoint may
    /// write read-only private mappings (the copy becomes the process's
    /// own); where the kernel refuses that (proc_mem.force_override=never),
    /// word by word with PTRACE_POKEDATA.
    func write(_ bytes: [UInt8], at address: UInt64) throws {
        let written = bytes.withUnsafeBytes { pwrite(memory, $0.baseAddress, $0.count, off_t(Int64(bitPattern: address))) }
        if written == bytes.count { return }
        try poke(bytes, at: address)
    }

    private func poke(_ bytes: [UInt8], at address: UInt64) throws {
        let start = address & ~7, end = (address + UInt64(bytes.count) + 7) & ~7
        var words = try read(start, count: Int(end - start))
        words.replaceSubrange(Int(address - start)..<Int(address - start) + bytes.count, with: bytes)
        for index in stride(from: 0, to: words.count, by: 8) {
            let word = words[index..<index + 8].reversed().reduce(UInt64(0)) { $0 << 8 | UInt64($1) }
            let target = UnsafeMutableRawPointer(bitPattern: UInt(start) + UInt(index))
            let value = UnsafeMutableRawPointer(bitPattern: UInt(word))
            guard tumult_ptrace(5 /* PTRACE_POKEDATA */, threads.first ?? pid, target, value) == 0 else {
                throw SystemError.processFailed(
                    "cannot write process \(pid)'s memory at 0x\(String(start + UInt64(index), radix: 16)): \(String(cString: strerror(errno)))")
            }
        }
    }

    /// pread of another process's memory, nil (errno set) when it fails or is short.
    static func read(fd: Int32, _ address: UInt64, count: Int) -> [UInt8]? {
        var bytes = [UInt8](repeating: 0, count: count)
        let got = bytes.withUnsafeMutableBytes { pread(fd, $0.baseAddress, count, off_t(Int64(bitPattern: address))) }
        if got != count {
            if got >= 0 { errno = EIO }
            return nil
        }
        return bytes
    }

    // MARK: /proc

    /// A whole /proc file. Foundation's readers stop at the first 4 KiB of
    /// files that report size 0, which cuts /proc/PID/maps of any real
    /// program short of its `[vdso]` line.
    static func contents(of path: String) -> [UInt8]? {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var bytes: [UInt8] = [], chunk = [UInt8](repeating: 0, count: 16_384)
        while true {
            let count = Glibc.read(fd, &chunk, chunk.count)
            if count < 0 && errno == EINTR { continue }
            if count < 0 { return nil }
            if count == 0 { return bytes }
            bytes += chunk[0..<count]
        }
    }

    static func threadIDs(of pid: Int32) -> [Int32] {
        ((try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(pid)/task")) ?? []).compactMap(Int32.init).sorted()
    }

    /// Whether any thread of `pid` still runs (its main thread may have exited alone).
    static func isRunning(_ pid: Int32) -> Bool {
        threadIDs(of: pid).contains { !isZombie(pid: pid, tid: $0) }
    }

    static func state(pid: Int32, tid: Int32) -> String? {
        guard let stat = try? String(contentsOfFile: "/proc/\(pid)/task/\(tid)/stat", encoding: .utf8),
              let close = stat.lastIndex(of: ")") else { return nil }
        return stat[stat.index(after: close)...].split(separator: " ").first.map(String.init)
    }

    /// A thread that has exited but not been reaped (a main thread that
    /// called pthread_exit): it can be seized but never stops.
    static func isZombie(pid: Int32, tid: Int32) -> Bool {
        let state = state(pid: pid, tid: tid)
        return state == "Z" || state == "X"
    }

    private static func seizeFailure(pid: Int32, reason: Int32) -> String {
        guard reason == EPERM else {
            return "cannot attach to process \(pid) with ptrace: \(String(cString: strerror(reason)))"
        }
        let status = (try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8)) ?? ""
        let tracer = status.split(separator: "\n").first { $0.hasPrefix("TracerPid:") }?
            .split(separator: "\t").last.flatMap { Int32($0.trimmingCharacters(in: .whitespaces)) } ?? 0
        if tracer != 0 {
            return "ptrace not permitted on process \(pid): it is already traced by process \(tracer) (a debugger, strace, or another TimeChaos)"
        }
        let yama = (try? String(contentsOfFile: "/proc/sys/kernel/yama/ptrace_scope", encoding: .utf8))?
            .trimmingCharacters(in: .whitespacesAndNewlines)
        return "ptrace not permitted on process \(pid) (EPERM): run as root with CAP_SYS_PTRACE"
            + (yama.map { "; kernel.yama.ptrace_scope is \($0)" } ?? "")
    }
}

/// A session thread's result, handed to the waiting caller after the
/// semaphore (which orders the write before the read).
private final class SessionOutcome<T>: @unchecked Sendable {
    var result: Result<T, Error>?
}
