import Foundation
import Testing
import TumultDaemon
import TumultFaults
import TumultSystem

/// The liveness check, in the three ways a fault runs: a fault whose helper
/// is killed by hand, whose rules are flushed, or whose stopped process is
/// resumed by someone else is noticed and restored within 5 s, with its
/// event and metric; one that cannot be restored fails `tumult run`.
@Suite(.serialized, .enabled(if: getuid() == 0))
struct FaultWatchTests {
    /// Tumult's helpers (they carry `TUMULT_ATTACK`) whose command line
    /// contains `name`, optionally only those in network namespace `netns`.
    static func helpers(_ name: String, netns: String? = nil) -> [Int32] {
        let inode = netns.flatMap { NetworkNamespace.named($0).inode }
        return ProcessTable.pids().filter { pid in
            guard Processes.environment(of: pid, "TUMULT_ATTACK") != nil,
                  let data = FileManager.default.contents(atPath: "/proc/\(pid)/cmdline"),
                  String(decoding: data, as: UTF8.self).contains(name) else { return false }
            return inode == nil || ProcessTable.networkNamespaceInode(of: pid) == inode
        }
    }

    /// Waits up to `timeout` for `condition`; returns the seconds it took, or nil.
    static func within(_ timeout: TimeInterval, _ condition: () throws -> Bool) rethrows -> TimeInterval? {
        let start = Date()
        while Date().timeIntervalSince(start) < timeout {
            if try condition() { return Date().timeIntervalSince(start) }
            usleep(50_000)
        }
        return try condition() ? Date().timeIntervalSince(start) : nil
    }

    static func state(of pid: Int32) -> Character? { ProcessTable.entry(pid)?.state }

    /// Flushes the first Tumult chain (`TMT-...`) of `table` in `netns`, as an operator cleaning up by hand would.
    static func flushTumultChain(in netns: String, table: String = "mangle") throws {
        let runner = ProcessCommandRunner()
        let saved = try runner.check(Command(["ip", "netns", "exec", netns, "iptables-save", "-t", table]), doing: "reading the rules")
        guard let chain = saved.stdout.split(separator: "\n").first(where: { $0.hasPrefix(":TMT-") })
            .map({ String($0.dropFirst().split(separator: " ")[0]) }) else {
            throw SystemError.processFailed("no Tumult chain in \(netns): \(saved.stdout)")
        }
        _ = try runner.check(Command(["ip", "netns", "exec", netns, "iptables", "-w", "-t", table, "-F", chain]),
                             doing: "flushing \(chain)")
    }

    /// `curl` against the test's own loopback server.
    static func get(_ url: String) throws -> String {
        try Spawn.run(["curl", "-s", "--max-time", "5", url]).stdout
    }

    func delay(_ name: String, pod: String, duration: String) -> String {
        """
        apiVersion: chaos-mesh.org/v1alpha1
        kind: NetworkChaos
        metadata: {name: \(name), namespace: default}
        spec:
          action: delay
          mode: all
          selector: {pods: {default: [\(pod)]}}
          delay: {latency: 100ms}
          duration: \(duration)
        """
    }

    @Test func runRestoresAKilledEngineAndFlushedRulesAndReportsBoth() async throws {
        let star = try TestStar(pods: 1)
        defer { star.tearDown() }
        let cli = TumultCLI()
        defer { cli.removeHome() }
        let before = try star.snapshot(0)
        let baseline = try await offPool { try star.rtt(to: 0) }
        let file = try writeTemporary(delay("watched", pod: star.pods[0], duration: "25s"), "watched.yaml")
        let journal = file + ".journal.json"
        defer { try? FileManager.default.removeItem(atPath: file); try? FileManager.default.removeItem(atPath: journal) }
        let run = try RunningTumult(cli, ["run", "-f", file, "--journal", journal])
        #expect(await run.waitFor("Applied", timeout: 15), "\(run.text)")
        #expect(try await offPool { try star.rtt(to: 0) } - baseline > 70)

        // The engine killed by hand: restored within 5 s, delay back.
        let engines = Self.helpers("tumult-netem", netns: star.pods[0])
        #expect(engines.count == 1)
        for pid in engines { kill(pid, SIGKILL) }
        let restored = try await offPool {
            Self.within(5) { Self.helpers("tumult-netem", netns: star.pods[0]).contains { !engines.contains($0) } }
        }
        #expect(restored != nil, "no new engine within 5 s: \(run.text)")
        #expect(await run.waitFor("FaultRestored", timeout: 5), "\(run.text)")
        #expect(try await offPool { try star.rtt(to: 0) } - baseline > 70)

        // Its iptables chain flushed by hand: refilled within 5 s.
        try Self.flushTumultChain(in: star.pods[0])
        #expect(await run.waitFor("FaultRestored", times: 2, timeout: 5), "\(run.text)")
        #expect(try await offPool { try star.rtt(to: 0) } - baseline > 70)

        let status = try await offPool { run.wait() }
        #expect(status == 0, "\(run.text)")
        #expect(run.text.contains("FaultLost"))
        #expect(try star.snapshot(0) == before)
        #expect(Self.helpers("tumult-netem", netns: star.pods[0]).isEmpty)
        let record = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: journal))) as? [String: Any]
        let steps = try #require(record?["steps"] as? [[String: Any]])
        #expect(steps.filter { $0["step"] as? String == "FaultLost" }.count == 2)
        #expect(steps.filter { $0["step"] as? String == "FaultRestored" }.count == 2)
        let experiments = try #require(record?["experiments"] as? [[String: Any]])
        let target = try #require((experiments.first?["targets"] as? [[String: Any]])?.first)
        #expect(target["lost"] as? Int == 2 && target["restored"] as? Int == 2, "\(target)")
    }

    @Test func runFailsWhenALostFaultCannotBeRestored() async throws {
        let star = try TestStar(pods: 1)
        defer { star.tearDown() }
        // An engine that disappears after the first injection: applying again must fail.
        let engine = FileManager.default.temporaryDirectory.appendingPathComponent("tmt-engine-\(star.tag)").path
        let original = URL(fileURLWithPath: TumultCLI.executable.path).deletingLastPathComponent().appendingPathComponent("tumult-netem").path
        try FileManager.default.copyItem(atPath: original, toPath: engine)
        defer { try? FileManager.default.removeItem(atPath: engine) }
        var cli = TumultCLI()
        cli.environment = ["TUMULT_NETEM": engine]
        defer { cli.removeHome() }
        let before = try star.snapshot(0)
        let file = try writeTemporary(delay("doomed", pod: star.pods[0], duration: "15s"), "doomed.yaml")
        defer { try? FileManager.default.removeItem(atPath: file) }
        let run = try RunningTumult(cli, ["run", "-f", file])
        #expect(await run.waitFor("Applied", timeout: 15), "\(run.text)")
        try FileManager.default.removeItem(atPath: engine)
        for pid in Self.helpers("tmt-engine-", netns: star.pods[0]) { kill(pid, SIGKILL) }
        #expect(await run.waitFor("FaultNotRestored", timeout: 5), "\(run.text)")
        let status = try await offPool { run.wait() }
        #expect(status == 1, "\(run.text)")
        #expect(run.text.contains("could not be restored"), "\(run.text)")
        #expect(try star.snapshot(0) == before)
    }

    @Test func serverRestoresExperimentsAndChaosdAttacksWithEventsAndMetrics() async throws {
        let star = try TestStar(pods: 1)
        defer { star.tearDown() }
        let cli = TumultCLI()
        defer { cli.removeHome() }
        let inventory = try star.inventory(labels: [["app": "web"]])
        defer { try? FileManager.default.removeItem(atPath: inventory) }
        let before = try star.snapshot(0)
        let baseline = try await offPool { try star.rtt(to: 0) }
        let sleeper = try Spawn.start(["ip", "netns", "exec", star.pods[0], "sleep", "300"], captureOutput: false)
        defer { kill(sleeper.pid, SIGCONT); kill(sleeper.pid, SIGKILL); Spawn.wait(for: sleeper.pid) }
        let server = try await offPool { try TestServer(cli, inventory: inventory) }
        defer { server.stop() }

        let file = try writeTemporary(delay("served", pod: star.pods[0], duration: "40s"), "served.yaml")
        defer { try? FileManager.default.removeItem(atPath: file) }
        let applied = try await offPool { try cli.run(["apply", "-f", file, "--server", server.url]) }
        #expect(applied.status == 0, "\(applied.stdout)\(applied.stderr)")
        let stopped = try await offPool {
            try Spawn.run(["curl", "-s", "-X", "POST", "-H", "Content-Type: application/json", "--data",
                           #"{"action": "stop", "process": "\#(sleeper.pid)"}"#, server.url + "/api/attack/process"]).stdout
        }
        #expect(stopped.contains("attack successfully"), "\(stopped)")
        #expect(try await offPool { Self.within(10) { !Self.helpers("tumult-netem", netns: star.pods[0]).isEmpty } } != nil)
        #expect(Self.state(of: sleeper.pid) == "T")

        let engines = Self.helpers("tumult-netem", netns: star.pods[0])
        for pid in engines { kill(pid, SIGKILL) }
        kill(sleeper.pid, SIGCONT)
        let engineBack = try await offPool {
            Self.within(5) { Self.helpers("tumult-netem", netns: star.pods[0]).contains { !engines.contains($0) } }
        }
        #expect(engineBack != nil, "the experiment's engine was not restored within 5 s")
        let stoppedAgain = try await offPool { Self.within(5) { Self.state(of: sleeper.pid) == "T" } }
        #expect(stoppedAgain != nil, "the chaosd attack's process was not stopped again within 5 s")
        #expect(try await offPool { try star.rtt(to: 0) } - baseline > 70)
        // The experiment's rules flushed by hand: put back within 5 s.
        try Self.flushTumultChain(in: star.pods[0])
        let refilled = try await offPool {
            Self.within(5) { (try? Self.get(server.url + "/metrics"))?.contains(#"tumult_faults_restored_total{kind="NetworkChaos"} 2"#) ?? false }
        }
        #expect(refilled != nil, "the flushed rules were not restored within 5 s")
        #expect(try await offPool { try star.rtt(to: 0) } - baseline > 70)

        let events = try await offPool { try Self.get(server.url + "/api/events?limit=100") }
        #expect(events.contains("FaultLost") && events.contains("FaultRestored"), "\(events)")
        #expect(events.contains("\"kind\":\"NetworkChaos\"") || events.contains("\"kind\" : \"NetworkChaos\""), "\(events)")
        let metrics = try await offPool { try Self.get(server.url + "/metrics") }
        let lines = metrics.split(separator: "\n").map(String.init).filter { $0.hasPrefix("tumult_faults_") }
        #expect(lines.contains(#"tumult_faults_lost_total{kind="NetworkChaos"} 2"#), "\(lines)")
        #expect(lines.contains(#"tumult_faults_restored_total{kind="NetworkChaos"} 2"#))
        #expect(lines.contains(#"tumult_faults_lost_total{kind="process"} 1"#), "\(lines)")
        #expect(lines.contains(#"tumult_faults_restored_total{kind="process"} 1"#))

        let reply = try #require(try JSONSerialization.jsonObject(with: Data(stopped.utf8)) as? [String: Any])
        let attack = try #require(reply["uid"] as? String)
        _ = try await offPool { try Spawn.run(["curl", "-s", "-X", "DELETE", server.url + "/api/attack/\(attack)"]) }
        let deleted = try await offPool { try cli.run(["delete", "networkchaos/served", "--server", server.url]) }
        #expect(deleted.status == 0, "\(deleted.stdout)\(deleted.stderr)")
        #expect(try await offPool { try Self.within(10) { try star.snapshot(0) == before } } != nil)
        #expect(try await offPool { Self.within(5) { Self.state(of: sleeper.pid) == "S" } } != nil)
    }

    @Test func foregroundAttacksRestoreAResumedProcessAKilledWorkerAndFlushedRules() async throws {
        let star = try TestStar(pods: 1)
        defer { star.tearDown() }
        let cli = TumultCLI()
        defer { cli.removeHome() }
        let before = try star.snapshot(0)
        let baseline = try await offPool { try star.rtt(to: 0) }
        let delay = try RunningTumult(cli, ["attack", "network", "delay", "--netns", star.pods[0], "--latency", "100ms",
                                            "--duration", "15s"])
        let sleeper = try Spawn.start(["sleep", "300"], captureOutput: false)
        defer { kill(sleeper.pid, SIGCONT); kill(sleeper.pid, SIGKILL); Spawn.wait(for: sleeper.pid) }
        let stop = try RunningTumult(cli, ["attack", "process", "stop", "--pid", String(sleeper.pid), "--duration", "15s"])
        let stress = try RunningTumult(cli, ["attack", "stress", "cpu", "--pid", String(sleeper.pid), "--load", "10",
                                             "--duration", "15s"])
        #expect(await stop.waitFor("\n", timeout: 10))
        #expect(await stress.waitFor("\n", timeout: 10))
        #expect(try await offPool { Self.within(5) { Self.state(of: sleeper.pid) == "T" } } != nil)
        let workers = try await offPool { () -> [Int32] in
            _ = Self.within(5) { !Self.helpers("tumult-stress").isEmpty }
            return Self.helpers("tumult-stress")
        }
        #expect(workers.count == 1)
        #expect(await delay.waitFor("\n", timeout: 10))
        #expect(try await offPool { try star.rtt(to: 0) } - baseline > 70)

        kill(sleeper.pid, SIGCONT)
        for pid in workers { kill(pid, SIGKILL) }
        try Self.flushTumultChain(in: star.pods[0])
        #expect(try await offPool { Self.within(5) { Self.state(of: sleeper.pid) == "T" } } != nil,
                "the resumed process was not stopped again within 5 s: \(stop.text)")
        #expect(try await offPool { Self.within(5) { Self.helpers("tumult-stress").contains { !workers.contains($0) } } } != nil,
                "no new stress worker within 5 s: \(stress.text)")
        #expect(await stop.waitFor("restored", timeout: 5), "\(stop.text)")
        #expect(await stress.waitFor("restored", timeout: 5), "\(stress.text)")
        #expect(await delay.waitFor("restored", timeout: 5), "\(delay.text)")
        #expect(try await offPool { try star.rtt(to: 0) } - baseline > 70)

        #expect(try await offPool { stop.wait() } == 0, "\(stop.text)")
        #expect(try await offPool { stress.wait() } == 0, "\(stress.text)")
        #expect(try await offPool { delay.wait() } == 0, "\(delay.text)")
        #expect(try star.snapshot(0) == before)
        #expect(Self.state(of: sleeper.pid) == "S")
        #expect(Self.helpers("tumult-stress").isEmpty)
    }
}

/// Helpers of `tumult run` live exactly as long as the run: past the few
/// idle seconds after which the threads that started them retire (they
/// used to die then, PR_SET_PDEATHSIG following the thread), and not a
/// moment after the run is killed.
@Suite(.serialized, .enabled(if: getuid() == 0))
struct RunHelperLifetimeTests {
    @Test func runHelpersOutliveIdleThreadsAndDieWithAKilledRun() async throws {
        let star = try TestStar(pods: 1)
        defer { star.tearDown() }
        let cli = TumultCLI()
        defer { cli.removeHome() }
        let before = try star.snapshot(0)
        let sleeper = try Spawn.start(["ip", "netns", "exec", star.pods[0], "sleep", "300"], captureOutput: false)
        defer { kill(sleeper.pid, SIGKILL); Spawn.wait(for: sleeper.pid) }
        let file = try writeTemporary("""
            apiVersion: chaos-mesh.org/v1alpha1
            kind: NetworkChaos
            metadata: {name: lasting, namespace: default}
            spec:
              action: delay
              mode: all
              selector: {pods: {default: [\(star.pods[0])]}}
              delay: {latency: 100ms}
              duration: 60s
            ---
            apiVersion: chaos-mesh.org/v1alpha1
            kind: StressChaos
            metadata: {name: lasting-cpu, namespace: default}
            spec:
              mode: all
              selector: {pods: {default: [\(star.pods[0])]}}
              stressors: {cpu: {workers: 1, load: 5}}
              duration: 60s
            """, "lasting.yaml")
        defer { try? FileManager.default.removeItem(atPath: file) }
        let run = try RunningTumult(cli, ["run", "-f", file])
        #expect(await run.waitFor("Applied", times: 2, timeout: 15), "\(run.text)")
        let engines = FaultWatchTests.helpers("tumult-netem", netns: star.pods[0])
        let workers = FaultWatchTests.helpers("tumult-stress")
        #expect(engines.count == 1 && workers.count == 1)
        // Dispatch's and Swift's idle threads retire after a few seconds.
        await pause(9)
        for pid in engines + workers { #expect(HostReadBack.helperAlive(pid, startTime: nil), "helper \(pid) died with its thread") }
        #expect(!run.text.contains("FaultLost"), "\(run.text)")

        run.signal(SIGKILL)
        _ = try await offPool { run.wait() }
        let gone = try await offPool {
            FaultWatchTests.within(2) { (engines + workers).allSatisfy { !HostReadBack.helperAlive($0, startTime: nil) } }
        }
        #expect(gone != nil, "helpers outlived the killed run")
        let recovered = try await offPool { try cli.run(["recover", "--all"]) }
        #expect(recovered.status == 0, "\(recovered.stdout)\(recovered.stderr)")
        #expect(try star.snapshot(0) == before)
    }
}

/// While the host is halted (`tumult halt`), the liveness check applies
/// nothing again, whoever runs it: an emergency stop wins over a restore.
@Suite(.serialized, .enabled(if: getuid() == 0))
struct HaltedHealTests {
    @Test func nothingIsRestoredWhileHalted() throws {
        let home = FileManager.default.temporaryDirectory.appendingPathComponent("tmt-home-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: home) }
        let sleeper = try Spawn.start(["sleep", "300"], captureOutput: false)
        defer { kill(sleeper.pid, SIGCONT); kill(sleeper.pid, SIGKILL); Spawn.wait(for: sleeper.pid) }
        usleep(100_000)
        let journal = try Journal(directory: home)
        let runner = AttackRunner(journal: journal, registry: .standard())
        let uid = try runner.inject(ProcessFault(action: .stop, target: .pid(sleeper.pid)), with: ProcessFaultInjector(),
                                    action: "process stop", target: "pid \(sleeper.pid)")
        defer { try? runner.recover(uid) }
        #expect(FaultWatchTests.state(of: sleeper.pid) == "T")

        try journal.setHalted(true)
        kill(sleeper.pid, SIGCONT)
        usleep(100_000)
        #expect(runner.heal(uid) == nil)
        #expect(FaultWatchTests.state(of: sleeper.pid) != "T")

        try journal.setHalted(false)
        let repair = try #require(runner.heal(uid))
        #expect(repair.restored && repair.lost.contains("runs again"), "\(repair)")
        #expect(FaultWatchTests.within(2) { FaultWatchTests.state(of: sleeper.pid) == "T" } != nil)
    }
}
