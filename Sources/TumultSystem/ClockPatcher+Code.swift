import Foundation

/// The page TimeChaos maps into a patched process: a header that says who
/// patched it, by how much, and what the vDSO entries held before (so any
/// process, the patched one's forked children included, can be restored from
/// the page alone), then the fake clock functions the entries jump to.
///
///     0x000  "TUMULTCK"                magic
///     0x008  u32 version, u32 reserved
///     0x010  i64 offset seconds        (offset = seconds + nanoseconds, nanoseconds in [0, 1e9))
///     0x018  i64 offset nanoseconds
///     0x020  u64 clock mask            (bit n: clock id n is shifted)
///     0x028  i64 offset microseconds   (nanoseconds / 1000, for gettimeofday)
///     0x040  marker, 64 bytes, NUL padded
///     0x080  3 entries of 32 bytes: u64 vDSO address (0: not patched), u8 length,
///            7 reserved, 16 bytes: the original bytes of the entry
///     0x100  fake clock_gettime, 0x180 fake gettimeofday, 0x200 fake time
enum ClockPage {
    static let size = 4096
    static let magic: [UInt8] = Array("TUMULTCK".utf8)
    static let version: UInt32 = 1
    static let offsetSecondsField = 0x10
    static let offsetNanosecondsField = 0x18
    static let clockMaskField = 0x20
    static let offsetMicrosecondsField = 0x28
    static let markerField = 0x40
    static let markerCapacity = 64
    static let entriesField = 0x80
    static let entrySize = 32
    /// What `patchedProcesses` reads of a page: everything but the code.
    static let headerSize = 0x100

    /// `movabs rax, imm64; jmp rax`: what each patched vDSO entry becomes.
    static let jumpLength = 12

    /// The vDSO functions TimeChaos replaces, in patch order: clock_gettime
    /// first (and restored last), so a Tumult killed half-way leaves a
    /// process whose clock_gettime entry still leads to the page, which is
    /// what `patchedProcesses` looks at.
    enum Entry: Int, CaseIterable, Sendable {
        case clockGettime, gettimeofday, time

        var symbol: String {
            switch self {
            case .clockGettime: "__vdso_clock_gettime"
            case .gettimeofday: "__vdso_gettimeofday"
            case .time: "__vdso_time"
            }
        }

        /// Where its fake starts in the page.
        var fakeOffset: UInt64 {
            switch self {
            case .clockGettime: 0x100
            case .gettimeofday: 0x180
            case .time: 0x200
            }
        }
    }

    /// The fake functions, assembled (GNU as, Intel syntax) from the listing in
    /// the comments with the page layout above, so the rip-relative loads
    /// reach the header fields. They follow the vDSO's contract: System V
    /// calling convention, touch only caller-saved registers, return -errno.
    ///
    /// Each makes the real system call (not shifted by anything), then adds
    /// the offset when the clock is one of the shifted ones.
    static let fakeClockGettime: [UInt8] = [
        // fake_clock_gettime(clockid_t clk /* edi */, struct timespec *ts /* rsi */):
        0xb8, 0xe4, 0x00, 0x00, 0x00,                   // 100: mov eax, 228              ; SYS_clock_gettime
        0x0f, 0x05,                                     // 105: syscall
        0x48, 0x85, 0xc0,                               // 107: test rax, rax
        0x75, 0x41,                                     // 10a: jnz done                  ; -errno: return as is
        0x83, 0xff, 0x3f,                               // 10c: cmp edi, 63
        0x77, 0x3c,                                     // 10f: ja done                   ; unsigned: negative (CPU-time) clocks too
        0x48, 0x8b, 0x15, 0x08, 0xff, 0xff, 0xff,       // 111: mov rdx, [rip + clock_mask]
        0x48, 0x0f, 0xa3, 0xfa,                         // 118: bt rdx, rdi
        0x73, 0x2f,                                     // 11c: jnc done
        0x48, 0x8b, 0x56, 0x08,                         // 11e: mov rdx, [rsi + 8]        ; tv_nsec
        0x48, 0x03, 0x15, 0xef, 0xfe, 0xff, 0xff,       // 122: add rdx, [rip + offset_nsec]
        0x48, 0x8b, 0x0e,                               // 129: mov rcx, [rsi]            ; tv_sec
        0x48, 0x03, 0x0d, 0xdd, 0xfe, 0xff, 0xff,       // 12c: add rcx, [rip + offset_sec]
        0x48, 0x81, 0xfa, 0x00, 0xca, 0x9a, 0x3b,       // 133: cmp rdx, 1000000000
        0x72, 0x0a,                                     // 13a: jb store
        0x48, 0x81, 0xea, 0x00, 0xca, 0x9a, 0x3b,       // 13c: sub rdx, 1000000000
        0x48, 0xff, 0xc1,                               // 143: inc rcx
        0x48, 0x89, 0x0e,                               // 146: store: mov [rsi], rcx
        0x48, 0x89, 0x56, 0x08,                         // 149: mov [rsi + 8], rdx
        0xc3,                                           // 14d: done: ret
    ]

    static let fakeGettimeofday: [UInt8] = [
        // fake_gettimeofday(struct timeval *tv /* rdi */, struct timezone *tz /* rsi */):
        0xb8, 0x60, 0x00, 0x00, 0x00,                   // 180: mov eax, 96               ; SYS_gettimeofday
        0x0f, 0x05,                                     // 185: syscall
        0x48, 0x85, 0xc0,                               // 187: test rax, rax
        0x75, 0x3d,                                     // 18a: jnz done
        0x48, 0x85, 0xff,                               // 18c: test rdi, rdi
        0x74, 0x38,                                     // 18f: jz done                   ; tv == NULL
        0xf6, 0x05, 0x88, 0xfe, 0xff, 0xff, 0x01,       // 191: test byte [rip + clock_mask], 1 ; CLOCK_REALTIME
        0x74, 0x2f,                                     // 198: jz done
        0x48, 0x8b, 0x57, 0x08,                         // 19a: mov rdx, [rdi + 8]        ; tv_usec
        0x48, 0x03, 0x15, 0x83, 0xfe, 0xff, 0xff,       // 19e: add rdx, [rip + offset_usec]
        0x48, 0x8b, 0x0f,                               // 1a5: mov rcx, [rdi]            ; tv_sec
        0x48, 0x03, 0x0d, 0x61, 0xfe, 0xff, 0xff,       // 1a8: add rcx, [rip + offset_sec]
        0x48, 0x81, 0xfa, 0x40, 0x42, 0x0f, 0x00,       // 1af: cmp rdx, 1000000
        0x72, 0x0a,                                     // 1b6: jb store
        0x48, 0x81, 0xea, 0x40, 0x42, 0x0f, 0x00,       // 1b8: sub rdx, 1000000
        0x48, 0xff, 0xc1,                               // 1bf: inc rcx
        0x48, 0x89, 0x0f,                               // 1c2: store: mov [rdi], rcx
        0x48, 0x89, 0x57, 0x08,                         // 1c5: mov [rdi + 8], rdx
        0xc3,                                           // 1c9: done: ret
    ]

    static let fakeTime: [UInt8] = [
        // fake_time(time_t *tloc /* rdi */): the fake clock_gettime(CLOCK_REALTIME) on the stack.
        0x57,                                           // 200: push rdi                  ; rsp 16-aligned again
        0x48, 0x83, 0xec, 0x10,                         // 201: sub rsp, 16               ; struct timespec
        0x31, 0xff,                                     // 205: xor edi, edi              ; CLOCK_REALTIME
        0x48, 0x89, 0xe6,                               // 207: mov rsi, rsp
        0xe8, 0xf1, 0xfe, 0xff, 0xff,                   // 20a: call fake_clock_gettime
        0x48, 0x85, 0xc0,                               // 20f: test rax, rax
        0x75, 0x06,                                     // 212: jnz failed
        0x48, 0x8b, 0x04, 0x24,                         // 214: mov rax, [rsp]            ; tv_sec
        0xeb, 0x07,                                     // 218: jmp out
        0x48, 0xc7, 0xc0, 0xff, 0xff, 0xff, 0xff,       // 21a: failed: mov rax, -1
        0x48, 0x83, 0xc4, 0x10,                         // 221: out: add rsp, 16
        0x5f,                                           // 225: pop rdi
        0x48, 0x85, 0xff,                               // 226: test rdi, rdi
        0x74, 0x03,                                     // 229: jz done
        0x48, 0x89, 0x07,                               // 22b: mov [rdi], rax
        0xc3,                                           // 22e: done: ret
    ]

    /// The fixed part of the page: zeroed header, the fakes at their
    /// offsets, int3 between them.
    static let template: [UInt8] = {
        var page = [UInt8](repeating: 0, count: size)
        for index in headerSize..<size { page[index] = 0xcc }
        for (entry, code) in zip(Entry.allCases, [fakeClockGettime, fakeGettimeofday, fakeTime]) {
            let start = Int(entry.fakeOffset)
            page.replaceSubrange(start..<start + code.count, with: code)
        }
        page.replaceSubrange(0..<magic.count, with: magic)
        withUnsafeBytes(of: version.littleEndian) { page.replaceSubrange(8..<12, with: $0) }
        return page
    }()

    /// `48 B8 imm64 FF E0`: movabs rax, target; jmp rax.
    static func jump(to target: UInt64) -> [UInt8] {
        [0x48, 0xb8] + withUnsafeBytes(of: target.littleEndian) { Array($0) } + [0xff, 0xe0]
    }

    /// The target of a `jump(to:)`, nil when `bytes` is anything else.
    static func jumpTarget(_ bytes: some Collection<UInt8>) -> UInt64? {
        let bytes = Array(bytes)
        guard bytes.count >= jumpLength, bytes[0] == 0x48, bytes[1] == 0xb8, bytes[10] == 0xff, bytes[11] == 0xe0
        else { return nil }
        return bytes[2..<10].reversed().reduce(UInt64(0)) { $0 << 8 | UInt64($1) }
    }

    /// The page a jump to the fake of `entry` belongs to.
    static func page(ofJumpTarget target: UInt64, entry: Entry) -> UInt64? {
        guard target >= entry.fakeOffset else { return nil }
        let page = target - entry.fakeOffset
        return page % UInt64(size) == 0 ? page : nil
    }

    /// What a page's header says.
    struct Header: Sendable {
        var marker: String
        var offsetSeconds: Int64
        var offsetNanoseconds: Int64
        var clockMask: UInt64
        /// The vDSO address and original bytes of each patched entry.
        var entries: [Entry: (address: UInt64, original: [UInt8])]

        /// The offset split as the fakes add it: whole seconds rounded
        /// down, nanoseconds in [0, 1e9), so one carry normalises the sum
        /// whichever way the clock is moved.
        static func split(_ offset: Int64) -> (seconds: Int64, nanoseconds: Int64) {
            var (seconds, nanoseconds) = offset.quotientAndRemainder(dividingBy: 1_000_000_000)
            if nanoseconds < 0 { seconds -= 1; nanoseconds += 1_000_000_000 }
            return (seconds, nanoseconds)
        }

        /// The header bytes (`headerSize`), to write over the template's.
        func encoded() -> [UInt8] {
            var bytes = Array(template[0..<headerSize])
            func put(_ value: UInt64, at offset: Int) {
                withUnsafeBytes(of: value.littleEndian) { bytes.replaceSubrange(offset..<offset + 8, with: $0) }
            }
            put(UInt64(bitPattern: offsetSeconds), at: offsetSecondsField)
            put(UInt64(bitPattern: offsetNanoseconds), at: offsetNanosecondsField)
            put(clockMask, at: clockMaskField)
            put(UInt64(bitPattern: offsetNanoseconds / 1000), at: offsetMicrosecondsField)
            let name = Array(marker.utf8.prefix(markerCapacity))
            bytes.replaceSubrange(markerField..<markerField + name.count, with: name)
            for (entry, value) in entries {
                let base = entriesField + entry.rawValue * entrySize
                put(value.address, at: base)
                bytes[base + 8] = UInt8(value.original.count)
                bytes.replaceSubrange(base + 16..<base + 16 + value.original.count, with: value.original)
            }
            return bytes
        }

        /// Decodes a page's first `headerSize` bytes; nil when they are not a Tumult page.
        init?(_ bytes: [UInt8]) {
            guard bytes.count >= headerSize, Array(bytes[0..<magic.count]) == magic else { return nil }
            func get(_ offset: Int) -> UInt64 {
                bytes[offset..<offset + 8].reversed().reduce(UInt64(0)) { $0 << 8 | UInt64($1) }
            }
            let name = bytes[markerField..<markerField + markerCapacity].prefix { $0 != 0 }
            marker = String(decoding: name, as: UTF8.self)
            offsetSeconds = Int64(bitPattern: get(offsetSecondsField))
            offsetNanoseconds = Int64(bitPattern: get(offsetNanosecondsField))
            clockMask = get(clockMaskField)
            entries = [:]
            for entry in Entry.allCases {
                let base = entriesField + entry.rawValue * entrySize
                let address = get(base), length = Int(bytes[base + 8])
                guard address != 0, length == jumpLength else { continue }
                entries[entry] = (address, Array(bytes[base + 16..<base + 16 + length]))
            }
        }

        init(marker: String, offset: Int64, clockMask: UInt64, entries: [Entry: (address: UInt64, original: [UInt8])]) {
            self.marker = marker
            (offsetSeconds, offsetNanoseconds) = Self.split(offset)
            self.clockMask = clockMask
            self.entries = entries
        }
    }
}
