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
    /// Gives back what an idle agent holds without using it: the heap's
    /// free pages (`malloc_trim`), then the pages of the program's private
    /// file mappings (its own binary's code and data, and its libraries')
    /// that only this process maps. A long-running agent reads much of its
    /// 200 MB binary once while it starts or works (the runtime's type
    /// lookups, every library's initialisation, each family's code) and
    /// little of it while idle. MADV_PAGEOUT reclaims those clean,
    /// file-backed pages; pages other processes map, and pages a private
    /// mapping has written (relocated data), stay. What the idle agent runs
    /// comes back on its next touch.
    ///
    /// The mappings are listed first and paged out in a loop that runs no
    /// other code: paging out while still parsing /proc/self/maps faulted the
    /// string code back in at once, with the kernel's read-around, and left
    /// 4 MB more resident. Shared mappings are left alone (SQLite's -shm
    /// may hold dirty pages a page-out would write). Best effort: a kernel
    /// without MADV_PAGEOUT (before 5.4) changes nothing.
    public static func releasePages() {
        returnFreedToTheSystem()
        guard let maps = try? String(contentsOfFile: "/proc/self/maps", encoding: .utf8) else { return }
        var ranges: [(start: UnsafeMutableRawPointer, length: Int)] = []
        for line in maps.split(separator: "\n") {
            let fields = line.split(separator: " ", omittingEmptySubsequences: true)
            guard fields.count >= 6, fields[5].hasPrefix("/"), fields[1].hasSuffix("p") else { continue }
            let bounds = fields[0].split(separator: "-").compactMap { UInt(String($0), radix: 16) }
            guard bounds.count == 2, bounds[1] > bounds[0], let start = UnsafeMutableRawPointer(bitPattern: bounds[0]) else { continue }
            ranges.append((start, Int(bounds[1] - bounds[0])))
        }
        ranges.withUnsafeBufferPointer { ranges in
            for range in ranges { _ = madvise(range.start, range.length, 21) }  // MADV_PAGEOUT
        }
    }
}
