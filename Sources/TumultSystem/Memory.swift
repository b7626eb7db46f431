import Foundation
import CTumultSystem

/// The process's heap.
public enum Memory {
    /// Asks glibc to hand the heap's free pages back to the kernel
    /// (`malloc_trim(0)`). glibc keeps freed memory for reuse, so after one
    /// large allocation burst (a big request body parsed) the resident size
    /// would otherwise stay at its peak for the life of a long-running server.
    public static func returnFreedToTheSystem() {
        _ = malloc_trim(0)
    }
}

extension Memory {
    /// Gives back the pages of this program's own file mappings (its code
    /// and read-only data) that starting touched: a long-running agent
    /// reads much of its 200 MB binary once while it starts (the runtime's
    /// type lookups, every library's initialisation, the kernel's fault-around
    /// mapping 64 KB per fault) and little of it afterwards. MADV_PAGEOUT
    /// reclaims those clean, file-backed pages; what the idle agent runs
    /// comes back on its next touch. Its own heap is left alone. Best effort:
    /// a kernel without MADV_PAGEOUT (before 5.4) changes nothing.
    public static func releaseStartupPages() {
        guard let maps = try? String(contentsOfFile: "/proc/self/maps", encoding: .utf8),
              let executable = try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe") else { return }
        for line in maps.split(separator: "\n") {
            let fields = line.split(separator: " ", omittingEmptySubsequences: true)
            guard fields.count >= 6, fields[5] == executable, !fields[1].contains("w") else { continue }
            let bounds = fields[0].split(separator: "-").compactMap { UInt(String($0), radix: 16) }
            guard bounds.count == 2, bounds[1] > bounds[0], let start = UnsafeMutableRawPointer(bitPattern: bounds[0]) else { continue }
            _ = madvise(start, Int(bounds[1] - bounds[0]), 21)  // MADV_PAGEOUT
        }
    }
}
