import CTumultSystem
import Foundation

/// How a process's clocks are shifted.
public struct ClockSkew: Codable, Sendable, Hashable {
    /// Negative: back in time.
    public var offsetNanoseconds: Int64
    /// Kernel clockid_t values (0 CLOCK_REALTIME, 1 CLOCK_MONOTONIC, ... 11
    /// CLOCK_TAI, as in uapi/linux/time.h). Empty means CLOCK_REALTIME, as in
    /// Chaos Mesh's TimeChaos.
    public var clockIDs: [Int32]

    public init(offsetNanoseconds: Int64, clockIDs: [Int32]) {
        self.offsetNanoseconds = offsetNanoseconds
        self.clockIDs = clockIDs
    }
}

/// What patching one process did: enough to undo it, even from another
/// process after a crash.
public struct ClockPatch: Codable, Sendable, Hashable {
    public var pid: Int32
    /// `Processes.startTime(of:)` at patch time: with the pid, names the process.
    public var startTime: UInt64?
    /// Address of the page mapped into the process.
    public var page: UInt64
    /// Who patched it (the attack uid, at most 64 bytes).
    public var marker: String

    public init(pid: Int32, startTime: UInt64?, page: UInt64, marker: String) {
        self.pid = pid
        self.startTime = startTime
        self.page = page
        self.marker = marker
    }
}

/// TimeChaos's kernel part: shifts the clocks a running x86_64 process reads,
/// including the calls its vDSO answers without entering the kernel.
///
/// Every thread is held under ptrace while one page is mapped into the
/// process (by running `mmap` in one of its threads) with fake clock
/// functions, and the vDSO's `__vdso_clock_gettime`, `__vdso_gettimeofday`
/// and `__vdso_time` entries are overwritten with a jump to them. The write
/// makes the vDSO page the process's own copy, so other processes are not
/// touched, while children it forks inherit it. The page records who patched
/// it and the bytes it replaced, so the patch can be found and undone from
/// the process alone, by a Tumult other than the one that made it.
public enum ClockPatcher {
    /// nil on x86_64 Linux; otherwise why TimeChaos cannot run here.
    public static var unsupportedReason: String? {
        #if os(Linux) && arch(x86_64)
        return nil
        #else
        var name = utsname()
        uname(&name)
        let machine = withUnsafeBytes(of: &name.machine) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
        return "TimeChaos patches the x86_64 vDSO; this host is \(machine)"
        #endif
    }

    /// Shifts every thread of `pid` (and, since forked children copy the
    /// address space, children it forks later). Patching a process already
    /// patched with the same marker updates the skew in place; one patched
    /// with another marker throws, naming the attack that holds it.
    public static func patch(pid: Int32, skew: ClockSkew, marker: String) throws -> ClockPatch {
        if let reason = unsupportedReason { throw SystemError.processFailed(reason) }
        try check(pid: pid)
        try check(marker: marker)
        let mask = try clockMask(skew.clockIDs)
        guard Tracee.isRunning(pid) else { throw SystemError.processFailed("no process \(pid)") }
        let startTime = Processes.startTime(of: pid)
        let page = try busy.exclusively(pid) {
            try Tracee.session {
                let tracee = try Tracee(pid: pid)
                defer { tracee.detach() }
                return try apply(tracee, offset: skew.offsetNanoseconds, mask: mask, marker: marker)
            }
        }
        return ClockPatch(pid: pid, startTime: startTime, page: page, marker: marker)
    }

    /// Puts the original vDSO code back and unmaps the page in `pid` if it
    /// carries Tumult's patch (with `marker`, or any Tumult marker when nil).
    /// An unpatched process, or one that is gone, returns false.
    @discardableResult
    public static func restore(pid: Int32, marker: String?) throws -> Bool {
        if unsupportedReason != nil { return false }
        try check(pid: pid)
        guard Tracee.isRunning(pid) else { return false }
        // Unpatched (the common case on recovery): no need to stop it to know.
        if clockGettimeOffset != nil && probe(pid, marker: marker) == nil { return false }
        do {
            return try busy.exclusively(pid) {
                try Tracee.session {
                    let tracee = try Tracee(pid: pid)
                    defer { tracee.detach() }
                    return try undo(tracee, marker: marker)
                }
            }
        } catch {
            // Gone while we worked on it: nothing left to restore.
            if !Tracee.isRunning(pid) { return false }
            throw error
        }
    }

    /// Every process on the host whose vDSO carries Tumult's patch (with
    /// `marker`, or any when nil), found by reading each one's
    /// clock_gettime entry and the page it jumps to through /proc/PID/mem:
    /// children forked during the fault and processes patched by a Tumult
    /// that was killed are found too. Processes we may not read are skipped.
    public static func patchedProcesses(marker: String?) -> [ClockPatch] {
        guard unsupportedReason == nil else { return [] }
        let own = getpid()
        let entries = (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []
        return entries.compactMap(Int32.init).filter { $0 != own }.sorted().compactMap { probe($0, marker: marker) }
    }

    /// Whether `pid` still carries the patch of `marker` (the read-back and liveness check).
    public static func isPatched(pid: Int32, marker: String) -> Bool {
        guard unsupportedReason == nil, pid > 0 else { return false }
        return probe(pid, marker: marker) != nil
    }
}

// MARK: - checks

extension ClockPatcher {
    static func check(pid: Int32) throws {
        guard pid > 0 else { throw SystemError.processFailed("no process \(pid)") }
        guard pid != getpid() else {
            throw SystemError.processFailed("TimeChaos cannot shift the clocks of Tumult's own process (\(pid))")
        }
    }

    static func check(marker: String) throws {
        let bytes = Array(marker.utf8)
        guard !bytes.isEmpty, bytes.count <= ClockPage.markerCapacity, !bytes.contains(0) else {
            throw SystemError.processFailed(
                "TimeChaos marker must be 1 to \(ClockPage.markerCapacity) bytes without NUL, got \(bytes.count): \(marker)")
        }
    }

    /// The clocks to shift as the mask the fakes test (bit n: clock id n).
    static func clockMask(_ clockIDs: [Int32]) throws -> UInt64 {
        var mask: UInt64 = 0
        for id in clockIDs.isEmpty ? [0] : clockIDs {
            guard (0...63).contains(id) else {
                throw SystemError.processFailed("clock id \(id) cannot be shifted: TimeChaos shifts clock ids 0 to 63 (uapi/linux/time.h)")
            }
            mask |= 1 << UInt64(id)
        }
        return mask
    }
}

// MARK: - patching, on the session thread

extension ClockPatcher {
    /// Patches (or updates the patch of) a stopped process; returns the page.
    static func apply(_ tracee: Tracee, offset: Int64, mask: UInt64, marker: String) throws -> UInt64 {
        let vdso = try VDSO(tracee)
        guard let clock = vdso.symbols[.clockGettime] else {
            throw SystemError.processFailed("process \(tracee.pid)'s vDSO has no __vdso_clock_gettime")
        }
        for (entry, symbol) in vdso.symbols where symbol.size < UInt64(ClockPage.jumpLength) {
            throw SystemError.processFailed(
                "process \(tracee.pid)'s vDSO symbol \(entry.symbol) is \(symbol.size) bytes, too short for a \(ClockPage.jumpLength)-byte jump")
        }
        var existing: (page: UInt64, header: ClockPage.Header)?
        let current = vdso.bytes(at: clock.address, count: ClockPage.jumpLength)
        if let target = ClockPage.jumpTarget(current) {
            guard let page = ClockPage.page(ofJumpTarget: target, entry: .clockGettime),
                  let header = ClockPage.Header(try tracee.read(page, count: ClockPage.headerSize)) else {
                throw SystemError.processFailed(
                    "process \(tracee.pid)'s vDSO clock_gettime already jumps to 0x\(String(target, radix: 16)), "
                    + "which is not a Tumult page: another tool patched it")
            }
            guard header.marker == marker else {
                throw SystemError.processFailed(
                    "process \(tracee.pid)'s clocks are already shifted by attack \(header.marker); recover it before shifting them again")
            }
            existing = (page, header)
        }

        let page: UInt64
        if let existing {
            page = existing.page
        } else {
            let result = try tracee.syscall(9 /* mmap */, [0, UInt64(ClockPage.size), 5 /* PROT_READ | PROT_EXEC */,
                                                           0x22 /* MAP_PRIVATE | MAP_ANONYMOUS */, UInt64.max /* fd -1 */, 0],
                                            in: tracee.threads[0], site: try vdso.syscallSite())
            guard result > 0 || result < -4095 else {
                throw SystemError.processFailed("mmap of a page in process \(tracee.pid) failed: \(String(cString: strerror(Int32(-result))))")
            }
            page = UInt64(bitPattern: result)
        }

        var written: [ClockPage.Entry] = []
        do {
            var entries = existing?.header.entries ?? [:]
            for (entry, symbol) in vdso.symbols where entries[entry] == nil {
                entries[entry] = (symbol.address, try vdso.originalBytes(of: entry, tracee: tracee))
            }
            let header = ClockPage.Header(marker: marker, offset: offset, clockMask: mask, entries: entries)
            if existing == nil {
                var bytes = ClockPage.template
                bytes.replaceSubrange(0..<ClockPage.headerSize, with: header.encoded())
                try tracee.write(bytes, at: page)
            } else {
                try tracee.write(header.encoded(), at: page)
            }
            let pending = ClockPage.Entry.allCases.filter { entry in
                guard let symbol = vdso.symbols[entry] else { return false }
                return ClockPage.jumpTarget(vdso.bytes(at: symbol.address, count: ClockPage.jumpLength))
                    != page + entry.fakeOffset
            }
            try stepOut(tracee, of: pending.map { vdso.symbols[$0]!.address + 1..<vdso.symbols[$0]!.address + UInt64(ClockPage.jumpLength) })
            for entry in pending {
                try tracee.write(ClockPage.jump(to: page + entry.fakeOffset), at: vdso.symbols[entry]!.address)
                written.append(entry)
            }
            // Read back: every entry jumps to its fake, the page says who we are.
            for (entry, symbol) in vdso.symbols {
                let bytes = try tracee.read(symbol.address, count: ClockPage.jumpLength)
                guard ClockPage.jumpTarget(bytes) == page + entry.fakeOffset else {
                    throw SystemError.processFailed(
                        "process \(tracee.pid)'s vDSO \(entry.symbol) does not read back as the jump just written")
                }
            }
            guard let back = ClockPage.Header(try tracee.read(page, count: ClockPage.headerSize)),
                  back.marker == marker, back.clockMask == mask,
                  back.offsetSeconds == header.offsetSeconds, back.offsetNanoseconds == header.offsetNanoseconds else {
                throw SystemError.processFailed("the page written into process \(tracee.pid) does not read back")
            }
        } catch {
            // Leave the process as it was: original bytes back, page gone.
            if existing == nil {
                for entry in written.reversed() {
                    if let original = try? vdso.originalBytes(of: entry, tracee: tracee) {
                        try? tracee.write(original, at: vdso.symbols[entry]!.address)
                    }
                }
                try? stepOut(tracee, of: [page..<page + UInt64(ClockPage.size)])
                _ = try? tracee.syscall(11 /* munmap */, [page, UInt64(ClockPage.size)], in: tracee.threads[0],
                                        site: try vdso.syscallSite())
            }
            throw error
        }
        return page
    }

    /// Undoes the patch of a stopped process; false when it carries none (of `marker`).
    static func undo(_ tracee: Tracee, marker: String?) throws -> Bool {
        let vdso = try VDSO(tracee)
        // The page: where any patched entry leads, clock_gettime first.
        var found: (page: UInt64, header: ClockPage.Header)?
        for entry in ClockPage.Entry.allCases {
            guard let symbol = vdso.symbols[entry],
                  let target = ClockPage.jumpTarget(vdso.bytes(at: symbol.address, count: ClockPage.jumpLength)),
                  let page = ClockPage.page(ofJumpTarget: target, entry: entry),
                  let bytes = try? tracee.read(page, count: ClockPage.headerSize),
                  let header = ClockPage.Header(bytes) else { continue }
            found = (page, header)
            break
        }
        guard let (page, header) = found, marker == nil || header.marker == marker else { return false }

        let patched = ClockPage.Entry.allCases.filter { entry in
            guard let recorded = header.entries[entry], vdso.contains(recorded.address) else { return false }
            return ClockPage.jumpTarget(vdso.bytes(at: recorded.address, count: ClockPage.jumpLength)) == page + entry.fakeOffset
        }
        // A thread between the movabs and the jmp would resume mid-instruction in the original code.
        try stepOut(tracee, of: patched.map { header.entries[$0]!.address + 1..<header.entries[$0]!.address + UInt64(ClockPage.jumpLength) })
        // clock_gettime last, so a Tumult killed half-way leaves it findable.
        for entry in patched.reversed() {
            try tracee.write(header.entries[entry]!.original, at: header.entries[entry]!.address)
        }
        for entry in patched {
            let recorded = header.entries[entry]!
            guard try tracee.read(recorded.address, count: ClockPage.jumpLength) == recorded.original else {
                throw SystemError.processFailed("process \(tracee.pid)'s vDSO \(entry.symbol) does not read back as its original code")
            }
        }
        // No thread may be left running the fakes when the page goes.
        try stepOut(tracee, of: [page..<page + UInt64(ClockPage.size)])
        let result = try tracee.syscall(11 /* munmap */, [page, UInt64(ClockPage.size)], in: tracee.threads[0],
                                        site: try vdso.syscallSite())
        guard result == 0 else {
            throw SystemError.processFailed(
                "the vDSO of process \(tracee.pid) is restored but munmap of its page failed: \(String(cString: strerror(Int32(-result))))")
        }
        return true
    }

    /// Single-steps every thread whose instruction pointer is inside one of `ranges` until it is out.
    static func stepOut(_ tracee: Tracee, of ranges: [Range<UInt64>]) throws {
        guard !ranges.isEmpty else { return }
        for tid in tracee.threads {
            for _ in 0..<8 {
                let rip = try tracee.registers(tid).rip
                guard let range = ranges.first(where: { $0.contains(rip) }) else { break }
                try tracee.step(tid, outOf: range)
            }
        }
    }
}

// MARK: - finding patched processes without ptrace

extension ClockPatcher {
    /// Where our own vDSO keeps __vdso_clock_gettime, relative to its start:
    /// every 64-bit process on the host maps the same vDSO image, so a scan
    /// reads 12 bytes and a page header per process instead of parsing each.
    static let clockGettimeOffset: UInt64? = {
        guard let (base, size) = try? VDSO.locate("/proc/self", pid: getpid()) else { return nil }
        let fd = open("/proc/self/mem", O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        guard let image = Tracee.read(fd: fd, base, count: Int(size)),
              let symbols = try? VDSO.symbols(in: image, base: base, pid: getpid()),
              let clock = symbols[.clockGettime] else { return nil }
        return clock.address - base
    }()

    /// The patch `pid` carries (with `marker`, or any when nil), read without stopping it.
    static func probe(_ pid: Int32, marker: String?) -> ClockPatch? {
        guard let offset = clockGettimeOffset else { return nil }
        var directory = "/proc/\(pid)"
        var base = vdsoBase(directory)
        if base == nil {
            // A main thread that exited alone leaves no memory behind it: read through a live thread.
            guard let live = Tracee.threadIDs(of: pid).first(where: { !Tracee.isZombie(pid: pid, tid: $0) }) else { return nil }
            directory = "/proc/\(pid)/task/\(live)"
            base = vdsoBase(directory)
        }
        guard let base else { return nil }
        let fd = open("\(directory)/mem", O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        guard let bytes = Tracee.read(fd: fd, base + offset, count: ClockPage.jumpLength),
              let target = ClockPage.jumpTarget(bytes),
              let page = ClockPage.page(ofJumpTarget: target, entry: .clockGettime),
              let headerBytes = Tracee.read(fd: fd, page, count: ClockPage.headerSize),
              let header = ClockPage.Header(headerBytes),
              marker == nil || header.marker == marker else { return nil }
        return ClockPatch(pid: pid, startTime: Processes.startTime(of: pid), page: page, marker: header.marker)
    }

    /// AT_SYSINFO_EHDR from `directory`/auxv: a few hundred bytes, where
    /// /proc/PID/maps may be thousands of lines.
    static func vdsoBase(_ directory: String) -> UInt64? {
        guard let data = Tracee.contents(of: "\(directory)/auxv") else { return nil }
        let words = data.withUnsafeBytes { raw in
            (0..<raw.count / 8).map { raw.loadUnaligned(fromByteOffset: $0 * 8, as: UInt64.self) }
        }
        for index in stride(from: 0, to: words.count - 1, by: 2) where words[index] == 33 /* AT_SYSINFO_EHDR */ {
            return words[index + 1] == 0 ? nil : words[index + 1]
        }
        return nil
    }
}

// MARK: - the vDSO of a stopped process

extension ClockPatcher {
    /// A process's `[vdso]` mapping as read while it is stopped, and where its
    /// clock functions are (from its ELF dynamic symbol table).
    struct VDSO {
        var base: UInt64
        var image: [UInt8]
        var symbols: [ClockPage.Entry: (address: UInt64, size: UInt64)]

        init(_ tracee: Tracee) throws {
            let (base, size) = try Self.locate(tracee.directory, pid: tracee.pid)
            self.base = base
            image = try tracee.read(base, count: Int(size))
            symbols = try Self.symbols(in: image, base: base, pid: tracee.pid)
        }

        func contains(_ address: UInt64) -> Bool {
            address >= base && address + UInt64(ClockPage.jumpLength) <= base + UInt64(image.count)
        }

        /// The bytes at `address` as read when the process was stopped.
        func bytes(at address: UInt64, count: Int) -> ArraySlice<UInt8> {
            guard contains(address) else { return [] }
            let start = Int(address - base)
            return image[start..<min(start + count, image.count)]
        }

        /// The entry's bytes before any Tumult patch: as they are, or, when
        /// it already jumps to a Tumult page (one left behind half-restored),
        /// as that page recorded them.
        func originalBytes(of entry: ClockPage.Entry, tracee: Tracee) throws -> [UInt8] {
            let address = symbols[entry]!.address
            let current = Array(bytes(at: address, count: ClockPage.jumpLength))
            if let target = ClockPage.jumpTarget(current),
               let page = ClockPage.page(ofJumpTarget: target, entry: entry),
               let header = ClockPage.Header((try? tracee.read(page, count: ClockPage.headerSize)) ?? []),
               let recorded = header.entries[entry] {
                return recorded.original
            }
            return current
        }

        /// An existing `syscall` instruction (0f 05) in the vDSO, outside the
        /// entries we rewrite, to run injected system calls from: nothing of
        /// the process's own code has to be overwritten (and made private) for it.
        func syscallSite() throws -> UInt64 {
            let rewritten = symbols.values.map { Int($0.address - base)..<Int($0.address - base) + ClockPage.jumpLength }
            for index in 0..<image.count - 1 where image[index] == 0x0f && image[index + 1] == 0x05 {
                if !rewritten.contains(where: { $0.overlaps(index..<index + 2) }) { return base + UInt64(index) }
            }
            throw SystemError.processFailed("the vDSO has no syscall instruction to run mmap/munmap from")
        }

        /// The `[vdso]` line of `directory`/maps (/proc/PID or one of its tasks): start and size.
        static func locate(_ directory: String, pid: Int32) throws -> (base: UInt64, size: UInt64) {
            guard let maps = Tracee.contents(of: "\(directory)/maps").map({ String(decoding: $0, as: UTF8.self) }) else {
                throw SystemError.processFailed("no process \(pid)")
            }
            for line in maps.split(separator: "\n") where line.hasSuffix("[vdso]") {
                let range = line.prefix { $0 != " " }.split(separator: "-")
                if range.count == 2, let start = UInt64(range[0], radix: 16), let end = UInt64(range[1], radix: 16), end > start {
                    return (start, end - start)
                }
            }
            throw SystemError.processFailed("process \(pid) has no vDSO (booted with vdso=0, or it unmapped it): its clocks cannot be shifted")
        }

        /// The clock functions among the image's dynamic symbols, found
        /// through PT_DYNAMIC's DT_SYMTAB, DT_STRTAB and DT_HASH.
        static func symbols(in image: [UInt8], base: UInt64, pid: Int32) throws -> [ClockPage.Entry: (address: UInt64, size: UInt64)] {
            let malformed = SystemError.processFailed("process \(pid)'s vDSO is not an ELF image we can read")
            func integer(_ offset: UInt64, _ size: Int) throws -> UInt64 {
                guard offset <= UInt64(image.count - size) else { throw malformed }
                return image[Int(offset)..<Int(offset) + size].reversed().reduce(UInt64(0)) { $0 << 8 | UInt64($1) }
            }
            guard image.count > 64, Array(image[0..<4]) == [0x7f, 0x45, 0x4c, 0x46] else { throw malformed }
            guard image[4] == 2, image[5] == 1, try integer(18, 2) == 62 else {
                throw SystemError.processFailed("process \(pid)'s vDSO is not x86_64 (a 32-bit process?): its clocks cannot be shifted")
            }
            let headers = try integer(32, 8), headerSize = try integer(54, 2), count = try integer(56, 2)
            var load: (vaddr: UInt64, offset: UInt64)?, dynamic: UInt64?
            for index in 0..<count {
                let header = headers + index * headerSize
                switch try integer(header, 4) {
                case 1 where load == nil: load = (try integer(header + 16, 8), try integer(header + 8, 8))
                case 2: dynamic = try integer(header + 8, 8)
                default: break
                }
            }
            guard let load, let dynamic else { throw malformed }
            // A virtual address of the image to an offset in it.
            func offset(_ vaddr: UInt64) -> UInt64 { vaddr &- load.vaddr &+ load.offset }
            var table: [UInt64: UInt64] = [:]
            var entry = dynamic
            while true {
                let tag = try integer(entry, 8)
                if tag == 0 { break }
                table[tag] = try integer(entry + 8, 8)
                entry += 16
            }
            guard let symtab = table[6].map(offset), let strtab = table[5].map(offset) else { throw malformed }
            let symbolCount: UInt64
            if let hash = table[4] {
                symbolCount = try integer(offset(hash) + 4, 4)
            } else if strtab > symtab {
                symbolCount = (strtab - symtab) / 24
            } else {
                throw malformed
            }
            var found: [ClockPage.Entry: (address: UInt64, size: UInt64)] = [:]
            for index in 0..<min(symbolCount, 4096) {
                let symbol = symtab + index * 24
                let name = try integer(symbol, 4), section = try integer(symbol + 6, 2)
                guard section != 0, strtab + name < UInt64(image.count) else { continue }
                let text = String(decoding: image[Int(strtab + name)...].prefix { $0 != 0 }, as: UTF8.self)
                guard let clock = ClockPage.Entry.allCases.first(where: { $0.symbol == text }) else { continue }
                let value = try integer(symbol + 8, 8), size = try integer(symbol + 16, 8)
                found[clock] = (base &+ offset(value), size)
            }
            return found
        }
    }
}

// MARK: - one session per process at a time

extension ClockPatcher {
    /// Pids being patched or restored in this process: a second session on
    /// one would fail to attach (a tracee has one tracer), so it waits.
    final class Busy: @unchecked Sendable {
        private let condition = NSCondition()
        private var pids = Set<Int32>()

        func exclusively<T>(_ pid: Int32, _ body: () throws -> T) throws -> T {
            condition.lock()
            while pids.contains(pid) { condition.wait() }
            pids.insert(pid)
            condition.unlock()
            defer {
                condition.lock()
                pids.remove(pid)
                condition.broadcast()
                condition.unlock()
            }
            return try body()
        }
    }

    static let busy = Busy()
}
