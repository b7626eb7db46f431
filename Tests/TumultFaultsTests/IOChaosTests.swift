import Foundation
import Testing
import TumultSystem

/// IOChaos end to end: the real `tumult` (attack, run, server) over a
/// probe's tmpfs volume in a mount namespace of its own, measured by the
/// probe's own file operations, early, in the middle and late.
@Suite(.serialized, .enabled(if: getuid() == 0 && FileManager.default.fileExists(atPath: "/dev/fuse")))
struct IOChaosTests {
    /// Whether a Tumult file system is over the probe's volume.
    func mounted(_ target: ProbeTarget) -> Bool {
        target.mountTable.contains { $0.contains(" \(target.volume) ") && $0.contains("fuse.tumult") }
    }

    func waitUntil(_ timeout: TimeInterval = 15, _ condition: () -> Bool) -> Bool {
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            if condition() { return true }
            usleep(20_000)
        }
        return condition()
    }

    /// Tumult's file-system helpers still running for any attack.
    var helpers: [Int32] {
        ProcessTable.pids().filter { Processes.isTumultHelper($0) && ProcessTable.arguments(of: $0).contains("io-fs") }
    }

    func document(_ name: String, netns: String, spec: String) -> String {
        """
        apiVersion: chaos-mesh.org/v1alpha1
        kind: IOChaos
        metadata: {name: \(name), namespace: default}
        spec:
          selector: {namespaces: [default], labelSelectors: {app: \(name)}}
          mode: all
        \(spec)
        """
    }

    func inventory(_ target: ProbeTarget, app: String) throws -> String {
        try writeTemporary("pods:\n  - {name: \(target.netns), namespace: default, netns: \(target.netns), labels: {app: \(app)}}\n",
                           "inventory.yaml")
    }

    @Test func latencyOnWritesOfDatabaseFilesHoldsForTheWholeDurationAndNothingElseIsSlowed() throws {
        let target = try ProbeTarget()
        defer { target.tearDown() }
        let cli = TumultCLI()
        defer { cli.removeHome() }
        let baseline = target.mountTable
        // A descriptor opened before the fault: moved onto Tumult's file system.
        _ = try target.ask(["op": "open", "name": "early", "path": target.volume + "/early.db"])
        _ = try target.ask(["op": "create", "path": target.volume + "/r.db", "hex": String(repeating: "ab", count: 4096)])

        let attack = try RunningTumult(cli, ["attack", "io", "latency", "--pid", String(target.pid), "--volume-path", target.volume,
                                             "--path", "*.db", "--methods", "write", "--delay", "100ms", "--duration", "14s"])
        defer { attack.signal(SIGKILL); _ = attack.wait() }
        #expect(waitUntil { mounted(target) }, "no Tumult mount over the volume: \(attack.text)")
        // One opened during the fault: must keep working after recovery.
        _ = try target.ask(["op": "open", "name": "during", "path": target.volume + "/during.db"])
        let start = Date()
        for (phase, at) in [("early", 1.0), ("middle", 6.0), ("late", 11.0)] {
            let wait = start.addingTimeInterval(at).timeIntervalSinceNow
            if wait > 0 { usleep(UInt32(wait * 1e6)) }
            let slow = try target.writes("a.db", count: 10)
            #expect(slow.errors.allSatisfy { $0 == 0 })
            for ms in slow.milliseconds {
                #expect(abs(ms - 100) <= 10, "\(phase): a write to a.db took \(ms) ms, expected 100 ± 10")
            }
            let other = try target.writes("b.txt", count: 10)
            #expect(other.milliseconds.allSatisfy { $0 < 10 }, "\(phase): writes to b.txt were slowed: \(other.milliseconds)")
            let reads = try target.ask(["op": "reads", "path": target.volume + "/r.db", "count": 10])
            #expect((reads["ms"] as? [Double] ?? [100]).allSatisfy { $0 < 10 }, "\(phase): reads of r.db were slowed")
            #expect((reads["data"] as? [String] ?? []).allSatisfy { $0 == String(repeating: "ab", count: 4096) })
            let early = try target.ask(["op": "fdwrites", "name": "early", "count": 5])
            #expect((early["ms"] as? [Double] ?? []).allSatisfy { abs($0 - 100) <= 10 },
                    "\(phase): a descriptor opened before the fault was not moved onto Tumult's file system: \(early)")
        }
        #expect(attack.wait() == 0, "\(attack.text)")
        #expect(target.mountTable == baseline)
        #expect(helpers.isEmpty)
        let after = try target.writes("a.db", count: 10)
        #expect(after.milliseconds.allSatisfy { $0 < 10 }, "writes stay slow after recovery: \(after.milliseconds)")
        // Both descriptors were moved back to the original: they work, fast.
        for name in ["early", "during"] {
            let writes = try target.ask(["op": "fdwrites", "name": name, "count": 5])
            #expect((writes["ms"] as? [Double] ?? [100]).allSatisfy { $0 < 10 }, "\(name): \(writes)")
        }
        let during = try target.ask(["op": "stat", "path": target.volume + "/during.db"])
        #expect(during["size"] as? Int == 5 * 4096)
        let early = try target.ask(["op": "stat", "path": target.volume + "/early.db"])
        #expect(early["size"] as? Int == 4 * 5 * 4096)
        // Everything written through Tumult's file system is in the original.
        let stat = try target.ask(["op": "stat", "path": target.volume + "/a.db"])
        #expect(stat["size"] as? Int == 40 * 4096)
    }

    @Test func faultWithErrnoFiveAndPercentFiftyFailsAboutHalfTheWritesThroughTumultRun() throws {
        let target = try ProbeTarget()
        defer { target.tearDown() }
        let cli = TumultCLI()
        defer { cli.removeHome() }
        let baseline = target.mountTable
        let inventory = try inventory(target, app: "eio")
        defer { try? FileManager.default.removeItem(atPath: inventory) }
        let file = try writeTemporary(document("eio", netns: target.netns, spec: """
              action: fault
              volumePath: \(target.volume)
              path: '*.db'
              methods: [write]
              errno: 5
              percent: 50
              duration: 20s
            """), "eio.yaml")
        defer { try? FileManager.default.removeItem(atPath: file) }
        let run = try RunningTumult(cli, ["run", "-f", file, "--inventory", inventory, "--journal", cli.home + "/journal"])
        defer { run.signal(SIGKILL); _ = run.wait() }
        #expect(waitUntil { mounted(target) }, "no Tumult mount over the volume: \(run.text)")
        let result = try target.writes("data.db", count: 1000, size: 512)
        let failed = result.errors.filter { $0 == 5 }.count
        // Binomial(1000, 0.5): ±5 standard deviations (15.8) around 500.
        #expect((421...579).contains(failed), "\(failed) of 1000 writes failed with EIO")
        #expect(result.errors.allSatisfy { $0 == 0 || $0 == 5 })
        let others = try target.writes("other.txt", count: 200, size: 512)
        #expect(others.errors.allSatisfy { $0 == 0 }, "writes to other.txt failed")
        #expect(run.wait() == 0, "\(run.text)")
        #expect(target.mountTable == baseline)
        #expect(helpers.isEmpty)
    }

    @Test func attrOverrideThroughTheServerChangesWhatStatReports() async throws {
        let target = try ProbeTarget()
        defer { target.tearDown() }
        let cli = TumultCLI()
        defer { cli.removeHome() }
        let baseline = target.mountTable
        _ = try target.ask(["op": "create", "path": target.volume + "/conf.json", "hex": "7b7d"])
        let inventory = try inventory(target, app: "attr")
        defer { try? FileManager.default.removeItem(atPath: inventory) }
        let server = try await offPool { try TestServer(cli, inventory: inventory) }
        defer { server.stop() }
        let file = try writeTemporary(document("attr", netns: target.netns, spec: """
              action: attrOverride
              volumePath: \(target.volume)
              path: '*.json'
              attr: {size: 123456, perm: 72, nlink: 7}
              duration: 30s
            """), "attr.yaml")
        defer { try? FileManager.default.removeItem(atPath: file) }
        let applied = try await offPool { try cli.run(["apply", "-f", file, "--server", server.url]) }
        #expect(applied.status == 0, "\(applied.stdout)\(applied.stderr)")
        #expect(waitUntil { mounted(target) })
        let stat = try target.ask(["op": "stat", "path": target.volume + "/conf.json"])
        #expect(stat["size"] as? Int == 123_456)
        #expect((stat["mode"] as? Int).map { $0 & 0o7777 } == 0o110)
        #expect(stat["nlink"] as? Int == 7)
        // Reads still return the real bytes.
        let read = try target.ask(["op": "reads", "path": target.volume + "/conf.json", "count": 1])
        #expect((read["data"] as? [String])?.first == "7b7d")
        let deleted = try await offPool { try cli.run(["delete", "iochaos/attr", "--server", server.url]) }
        #expect(deleted.status == 0, "\(deleted.stdout)\(deleted.stderr)")
        #expect(waitUntil { target.mountTable == baseline }, "the mount table did not return to its baseline")
        let real = try target.ask(["op": "stat", "path": target.volume + "/conf.json"])
        #expect(real["size"] as? Int == 2)
        #expect(waitUntil { helpers.isEmpty })
    }

    @Test func mistakeCorruptsReadsInAtMostMaxOccurrencesSegmentsOfMaxLength() throws {
        let target = try ProbeTarget()
        defer { target.tearDown() }
        let cli = TumultCLI()
        defer { cli.removeHome() }
        let original = String(repeating: "5a", count: 4096)
        _ = try target.ask(["op": "create", "path": target.volume + "/blob.bin", "hex": original])
        let attacked = try cli.run(["attack", "io", "mistake", "--pid", String(target.pid), "--volume-path", target.volume,
                                    "--methods", "read", "--filling", "zero", "--max-occurrences", "3", "--max-length", "10"])
        #expect(attacked.status == 0, "\(attacked.stderr)")
        let uid = attacked.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        defer { _ = try? cli.run(["recover", "--all"]) }
        let reads = try target.ask(["op": "reads", "path": target.volume + "/blob.bin", "count": 50])
        var corrupted = 0
        for hex in reads["data"] as? [String] ?? [] {
            let bytes = Array(hex.utf8)
            #expect(bytes.count == original.utf8.count, "a read returned another length")
            // Runs of wrong bytes (each byte is two hex digits).
            var segments = 0, run = 0, longest = 0
            for index in stride(from: 0, to: min(bytes.count, original.utf8.count), by: 2) {
                let wrong = bytes[index] != Array(original.utf8)[index] || bytes[index + 1] != Array(original.utf8)[index + 1]
                if wrong { run += 1; if run == 1 { segments += 1 } } else { run = 0 }
                longest = max(longest, run)
            }
            if segments > 0 { corrupted += 1 }
            // Adjacent segments may merge: never more bytes than 3 × 10 in all.
            #expect(segments <= 3 && longest <= 30, "a read had \(segments) wrong segments, the longest \(longest) bytes")
        }
        #expect(corrupted > 0, "no read was corrupted")
        let recovered = try cli.run(["recover", uid])
        #expect(recovered.status == 0, "\(recovered.stderr)")
        let clean = try target.ask(["op": "reads", "path": target.volume + "/blob.bin", "count": 5])
        #expect((clean["data"] as? [String] ?? []).allSatisfy { $0 == original })
    }

    @Test func killNineOfTumultAndItsFileSystemThenRecoverAllRestoresTheMountTable() throws {
        let target = try ProbeTarget()
        defer { target.tearDown() }
        let cli = TumultCLI()
        defer { cli.removeHome() }
        let baseline = target.mountTable

        // A foreground attack killed with SIGKILL.
        let attack = try RunningTumult(cli, ["attack", "io", "latency", "--pid", String(target.pid), "--volume-path", target.volume,
                                             "--delay", "50ms", "--duration", "60s"])
        #expect(waitUntil { mounted(target) }, "\(attack.text)")
        attack.signal(SIGKILL)
        _ = attack.wait()
        var recovered = try cli.run(["recover", "--all"])
        #expect(recovered.status == 0, "\(recovered.stderr)")
        #expect(target.mountTable == baseline)
        #expect(waitUntil { helpers.isEmpty })

        // A detached attack whose file system is killed too: its dead mount stays until recovery.
        let detached = try cli.run(["attack", "io", "fault", "--pid", String(target.pid), "--volume-path", target.volume,
                                    "--errno", "5", "--methods", "write"])
        #expect(detached.status == 0, "\(detached.stderr)")
        #expect(mounted(target))
        for pid in helpers { kill(pid, SIGKILL) }
        #expect(waitUntil { helpers.isEmpty })
        #expect(mounted(target), "a SIGKILLed file system left no mount behind")
        recovered = try cli.run(["recover", "--all"])
        #expect(recovered.status == 0, "\(recovered.stderr)")
        #expect(target.mountTable == baseline)
        #expect(helpers.isEmpty)
        let writes = try target.writes("x.db", count: 3)
        #expect(writes.errors.allSatisfy { $0 == 0 })
    }

    @Test func aKilledFileSystemIsNoticedAndRestoredWhileTheAttackHolds() throws {
        let target = try ProbeTarget()
        defer { target.tearDown() }
        let cli = TumultCLI()
        defer { cli.removeHome() }
        let baseline = target.mountTable
        let attack = try RunningTumult(cli, ["attack", "io", "latency", "--pid", String(target.pid), "--volume-path", target.volume,
                                             "--methods", "write", "--delay", "100ms", "--duration", "20s"])
        defer { attack.signal(SIGKILL); _ = attack.wait() }
        #expect(waitUntil { mounted(target) && !helpers.isEmpty }, "\(attack.text)")
        let first = helpers
        for pid in first { kill(pid, SIGKILL) }
        // The liveness check (every 2 s) finds it lost and applies it again.
        #expect(waitUntil(10) { attack.text.contains("restored") }, "\(attack.text)")
        #expect(waitUntil { !helpers.isEmpty && Set(helpers).isDisjoint(with: first) && mounted(target) })
        let slow = try target.writes("after.db", count: 3)
        #expect(slow.milliseconds.allSatisfy { abs($0 - 100) <= 10 }, "writes after the restore: \(slow.milliseconds)")
        attack.signal(SIGINT)
        #expect(attack.wait() == 0, "\(attack.text)")
        #expect(target.mountTable == baseline)
        #expect(helpers.isEmpty)
    }

    @Test func aTargetThatExitedIsRecovered() throws {
        let target = try ProbeTarget()
        defer { target.tearDown() }
        let cli = TumultCLI()
        defer { cli.removeHome() }
        let attacked = try cli.run(["attack", "io", "fault", "--pid", String(target.pid), "--volume-path", target.volume, "--errno", "5"])
        #expect(attacked.status == 0, "\(attacked.stderr)")
        #expect(mounted(target))
        kill(target.pid, SIGKILL)
        Spawn.wait(for: target.pid)
        let recovered = try cli.run(["recover", attacked.stdout.trimmingCharacters(in: .whitespacesAndNewlines)])
        #expect(recovered.status == 0, "\(recovered.stderr)")
        #expect(waitUntil { helpers.isEmpty })
        let listed = try cli.run(["attack", "list"])
        #expect(!listed.stdout.contains("io fault"), "\(listed.stdout)")
    }
}
