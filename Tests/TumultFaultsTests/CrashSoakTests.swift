import Foundation
import Testing
import TumultSystem

/// The crash-consistency soak (`tumult-bench crash`, Benchmarks/TumultBenchmarks/CrashBenchmark.swift)
/// at a small count: 16 kills -9 of `tumult attack` and `tumult server`,
/// each family once in each mode (mid-injection in one, mid-recovery in the
/// other), then `tumult recover --all` or a restarted server; nothing may
/// differ from the baseline afterwards.
@Suite(.serialized, .enabled(if: getuid() == 0))
struct CrashSoakTests {
    /// `tumult-bench` beside the test bundle (or one directory up), else the package's `.build/debug/tumult-bench`.
    static var bench: URL {
        let bundle = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
        for candidate in [bundle.appendingPathComponent("tumult-bench"),
                          bundle.deletingLastPathComponent().appendingPathComponent("tumult-bench")]
        where FileManager.default.isExecutableFile(atPath: candidate.path) {
            return candidate
        }
        var url = URL(fileURLWithPath: #filePath)
        for _ in 0..<3 { url.deleteLastPathComponent() }
        return url.appendingPathComponent(".build/debug/tumult-bench")
    }

    @Test func killedAtRandomMomentsTumultLeavesNothingBehind() throws {
        let kills = 16
        let families = ["delay", "partition", "stress-cpu", "process-freeze", "dns-error", "disk-fill", "io-latency", "time-skew", "tcp-latency"]
        let result = try Spawn.run([Self.bench.path, "crash", "--kills", String(kills), "--modes", "attack,server",
                                    "--families", families.joined(separator: ",")])
        let lines = result.stdout.split(separator: "\n").map(String.init)
        // What went wrong, for the failure message: every round that was not ok, and the summary.
        let report = lines.filter { $0.contains("LEFTOVER") || $0.contains("FINDING") || $0.hasPrefix("      ") }
            .prefix(80).joined(separator: "\n")
            + "\n" + lines.suffix(8).joined(separator: "\n") + "\n" + result.stderr.suffix(2000)
        #expect(lines.last == "\(kills) kills, 0 leftovers", "\(report)")
        #expect(result.status == 0, "tumult-bench crash exited \(result.status) (a leftover or a finding):\n\(report)")
    }
}
