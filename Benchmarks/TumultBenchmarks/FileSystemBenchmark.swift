import Foundation
import TumultSystem

/// `swift run -c release tumult-bench io` (root): what Tumult's IO file
/// system costs when no rule matches, against the same workload on the bare
/// tmpfs directory in the same run. A 256 MiB file read in 1 MiB `pread`s
/// (the first pass through the file system's server, then from the page
/// cache the server lets the kernel keep), and `stat` of a small file (each
/// one a round trip to the server when attributes may not be cached, as
/// with a rule on getattr; cached for a second otherwise).
struct FileSystemBenchmark {
    var tumult: String
    var seconds: Double

    func run() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("tmt-iobench-\(UUID().uuidString.prefix(8))").path
        let volume = directory + "/vol"
        try FileManager.default.createDirectory(atPath: volume, withIntermediateDirectories: true)
        defer {
            _ = try? Spawn.run(["umount", "-l", volume])
            try? FileManager.default.removeItem(atPath: directory)
        }
        _ = try Spawn.run(["mount", "-t", "tmpfs", "-o", "size=300m", "tmpfs", volume])
        let big = volume + "/big.bin", small = volume + "/small.txt"
        try writeFile(big, bytes: 256 << 20)
        try writeFile(small, bytes: 100)

        print("io benchmark: tmpfs, 256 MiB file in 1 MiB reads, stat of a 100-byte file; \(ProcessInfo.processInfo.activeProcessorCount) cores")
        print("")
        print(row("workload", "bare", "tumult io-fs", "ratio / added"))
        print(row("--------", "----", "------------", "-------------"))
        let bareRead = try readThroughput(big)
        let bareStat = statCost(small)

        // No rule at all: what the file system costs by itself.
        var results: [(String, Double, Double)] = []
        try withFileSystem(volume, rules: "[]") {
            let first = try readThroughput(big, passes: 1)
            let warm = try readThroughput(big)
            results.append(("1 MiB reads, first pass", bareRead, first))
            results.append(("1 MiB reads, later passes", bareRead, warm))
            results.append(("stat, attributes cached", bareStat, statCost(small)))
        }
        // A rule on getattr elsewhere: attributes may not be cached, every stat reaches the server.
        let uncached = #"[{"action":"latency","path":"/nowhere/*","methods":["getattr"],"percent":100,"delayNanoseconds":1000000}]"#
        try withFileSystem(volume, rules: uncached) {
            results.append(("stat, every one to the server", bareStat, statCost(small)))
        }
        // The floor of any request a file-system server answers: one thread
        // waking another and being woken back (FUSE does this per request).
        let wakeup = pipeRoundTrip()
        results.append(("anchor: pipe round trip (threads)", 0, wakeup))
        for (name, bare, fuse) in results {
            if name.hasPrefix("anchor") {
                print(row(name, "", String(format: "%.2f us", fuse), ""))
            } else if name.hasPrefix("stat") {
                print(row(name, String(format: "%.2f us", bare), String(format: "%.2f us", fuse), String(format: "+%.2f us", fuse - bare)))
            } else {
                print(row(name, String(format: "%.0f MiB/s", bare), String(format: "%.0f MiB/s", fuse), String(format: "%.2f", fuse / bare)))
            }
        }
    }

    func writeFile(_ path: String, bytes: Int) throws {
        let chunk = Data((0..<(1 << 20)).map { UInt8(truncatingIfNeeded: $0 &* 31) })
        FileManager.default.createFile(atPath: path, contents: nil)
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: path))
        defer { try? handle.close() }
        var written = 0
        while written < bytes {
            let part = min(chunk.count, bytes - written)
            try handle.write(contentsOf: chunk.prefix(part))
            written += part
        }
    }

    /// MiB/s reading the whole file in 1 MiB preads, over `passes` passes
    /// (default: as many as fit in `seconds`).
    func readThroughput(_ path: String, passes: Int? = nil) throws -> Double {
        let fd = open(path, O_RDONLY)
        guard fd >= 0 else { throw BenchmarkError("cannot open \(path)") }
        defer { close(fd) }
        var buffer = [UInt8](repeating: 0, count: 1 << 20)
        var bytes = 0, done = 0
        let start = Date()
        while passes.map({ done < $0 }) ?? (Date().timeIntervalSince(start) < seconds || done == 0) {
            var offset: off_t = 0
            while true {
                let count = buffer.withUnsafeMutableBytes { pread(fd, $0.baseAddress, $0.count, offset) }
                if count <= 0 { break }
                bytes += count
                offset += off_t(count)
            }
            done += 1
        }
        return Double(bytes) / Double(1 << 20) / Date().timeIntervalSince(start)
    }

    /// Microseconds per round trip of one byte over two pipes between two threads.
    func pipeRoundTrip() -> Double {
        var there: [Int32] = [0, 0], back: [Int32] = [0, 0]
        guard pipe(&there) == 0, pipe(&back) == 0 else { return .nan }
        defer { for fd in there + back { close(fd) } }
        let count = 20_000
        let (input, output) = (there[0], back[1])
        let echo = Thread {
            var byte: UInt8 = 0
            for _ in 0..<count {
                _ = read(input, &byte, 1)
                _ = write(output, &byte, 1)
            }
        }
        echo.start()
        var byte: UInt8 = 0
        let start = Date()
        for _ in 0..<count {
            _ = write(there[1], &byte, 1)
            _ = read(back[0], &byte, 1)
        }
        return Date().timeIntervalSince(start) / Double(count) * 1e6
    }

    /// Microseconds per `stat`.
    func statCost(_ path: String) -> Double {
        var info = stat()
        let count = 200_000
        for _ in 0..<1000 { _ = stat(path, &info) }
        let start = Date()
        for _ in 0..<count { _ = stat(path, &info) }
        return Date().timeIntervalSince(start) / Double(count) * 1e6
    }

    func withFileSystem(_ volume: String, rules: String, _ body: () throws -> Void) throws {
        let encoded = Data(rules.utf8).base64EncodedString()
        let helper = try HelperProcess.start(Command([tumult, "io-fs", "--volume", volume, "--rules", encoded]),
                                             environment: ["TUMULT_ATTACK": "bench-\(UUID().uuidString)"],
                                             readyPrefix: "ready", detached: true)
        defer { Processes.stop(helper.pid, grace: 2) }
        try body()
    }

    func row(_ columns: String...) -> String {
        zip(columns, [32, 14, 16, 14]).map { $0.padding(toLength: $1, withPad: " ", startingAt: 0) }.joined(separator: " ")
    }
}
