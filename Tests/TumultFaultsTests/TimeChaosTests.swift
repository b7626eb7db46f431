import Foundation
import Testing
import TumultSystem

/// TimeChaos end to end: the real `tumult` (attack, run, server) on a
/// Python probe whose clocks come from the vDSO (`time.time()`) and from
/// libc's `time()`, read early, in the middle and late, in the probe and in
/// a child it forks during the fault.
@Suite(.serialized, .enabled(if: getuid() == 0 && ClockPatcherSupport.isX86))
struct TimeChaosTests {
    /// Reads the probe's clocks (or a freshly forked child's) and returns
    /// how far its realtime is from the test's, with the probe's answer.
    func skew(_ target: ProbeTarget, forked: Bool = false) throws -> (realtime: Double, time: Double, answer: [String: Any]) {
        let before = Date().timeIntervalSince1970
        let answer = try target.ask(["op": forked ? "forkclocks" : "clocks"])
        let after = Date().timeIntervalSince1970
        let middle = (before + after) / 2
        let realtime = (answer["realtime"] as? Double ?? 0) - middle
        let time = Double(answer["time"] as? Int ?? 0) - middle
        // The answer's own latency bounds how exactly the skew is known.
        #expect(after - before < 0.05, "the probe took \(after - before) s to answer")
        return (realtime, time, answer)
    }

    func expectShifted(_ target: ProbeTarget, by seconds: Double, _ phase: String) throws {
        for forked in [false, true] {
            let measured = try skew(target, forked: forked)
            #expect(abs(measured.realtime - seconds) < 0.005 + 0.025,
                    "\(phase)\(forked ? " (forked child)" : ""): realtime is \(measured.realtime) s off, expected \(seconds)")
            #expect(abs(measured.time - seconds) <= 1.5,
                    "\(phase)\(forked ? " (forked child)" : ""): time() is \(measured.time) s off, expected \(seconds)")
            if forked { #expect(measured.answer["pid"] as? Int != Int(target.pid)) }
        }
    }

    func waitUntil(_ timeout: TimeInterval = 15, _ condition: () throws -> Bool) rethrows -> Bool {
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            if try condition() { return true }
            usleep(50_000)
        }
        return try condition()
    }

    /// The probe's executable anonymous mappings (where a patch lives; the
    /// rest of its map moves as Python allocates).
    func maps(_ pid: Int32) -> [String] {
        let text = (try? String(contentsOfFile: "/proc/\(pid)/maps", encoding: .utf8)) ?? ""
        return text.split(separator: "\n").map(String.init).filter { $0.split(separator: " ").dropFirst().first?.contains("x") == true
            && $0.split(separator: " ").count < 6 }
    }

    @Test func backTenMinutesForTheWholeDurationThenRealTimeAgain() throws {
        let target = try ProbeTarget()
        defer { target.tearDown() }
        let other = try ProbeTarget()
        defer { other.tearDown() }
        let cli = TumultCLI()
        defer { cli.removeHome() }
        let baselineMaps = maps(target.pid)
        try expectShifted(target, by: 0, "before")

        let attack = try RunningTumult(cli, ["attack", "time", "--pid", String(target.pid), "--offset", "-10m", "--duration", "12s"])
        defer { attack.signal(SIGKILL); _ = attack.wait() }
        #expect(try waitUntil { try skew(target).realtime < -500 }, "\(attack.text)")
        let start = Date()
        for (phase, at) in [("early", 0.5), ("middle", 5.5), ("late", 10.5)] {
            let wait = start.addingTimeInterval(at).timeIntervalSinceNow
            if wait > 0 { usleep(UInt32(wait * 1e6)) }
            try expectShifted(target, by: -600, phase)
            // Another process and the host keep real time.
            let untouched = try skew(other)
            #expect(abs(untouched.realtime) < 0.03, "\(phase): another process is \(untouched.realtime) s off")
        }
        #expect(attack.wait() == 0, "\(attack.text)")
        try expectShifted(target, by: 0, "after recovery")
        #expect(maps(target.pid) == baselineMaps, "the probe's memory map is not back to its baseline")
    }

    @Test func timeChaosThroughTumultRunAndTheServer() async throws {
        let target = try ProbeTarget()
        defer { target.tearDown() }
        let cli = TumultCLI()
        defer { cli.removeHome() }
        let baselineMaps = maps(target.pid)
        let inventory = try writeTemporary("pods:\n  - {name: \(target.netns), namespace: default, netns: \(target.netns), labels: {app: clock}}\n",
                                           "inventory.yaml")
        defer { try? FileManager.default.removeItem(atPath: inventory) }
        func document(_ name: String, _ offset: String, _ duration: String) -> String {
            """
            apiVersion: chaos-mesh.org/v1alpha1
            kind: TimeChaos
            metadata: {name: \(name), namespace: default}
            spec:
              mode: all
              selector: {labelSelectors: {app: clock}}
              timeOffset: \(offset)
              clockIds: [CLOCK_REALTIME]
              duration: \(duration)
            """
        }
        // tumult run: holds for its duration, then recovers.
        let file = try writeTemporary(document("forward", "1h", "8s"), "time.yaml")
        defer { try? FileManager.default.removeItem(atPath: file) }
        let run = try RunningTumult(cli, ["run", "-f", file, "--inventory", inventory, "--journal", cli.home + "/journal"])
        defer { run.signal(SIGKILL); _ = run.wait() }
        #expect(try waitUntil { try skew(target).realtime > 3000 }, "\(run.text)")
        try expectShifted(target, by: 3600, "tumult run")
        #expect(run.wait() == 0, "\(run.text)")
        try expectShifted(target, by: 0, "after tumult run")
        #expect(maps(target.pid) == baselineMaps)

        // The server: applied, then deleted.
        let server = try await offPool { try TestServer(cli, inventory: inventory) }
        defer { server.stop() }
        let second = try writeTemporary(document("back", "-10m", "60s"), "time2.yaml")
        defer { try? FileManager.default.removeItem(atPath: second) }
        let applied = try await offPool { try cli.run(["apply", "-f", second, "--server", server.url]) }
        #expect(applied.status == 0, "\(applied.stdout)\(applied.stderr)")
        #expect(try waitUntil { try skew(target).realtime < -500 })
        try expectShifted(target, by: -600, "server")
        let deleted = try await offPool { try cli.run(["delete", "timechaos/back", "--server", server.url]) }
        #expect(deleted.status == 0, "\(deleted.stdout)\(deleted.stderr)")
        #expect(try waitUntil { abs(try skew(target).realtime) < 0.03 })
        #expect(maps(target.pid) == baselineMaps)
    }

    @Test func killNineOfTumultThenRecoverAllRestoresTheCode() throws {
        let target = try ProbeTarget()
        defer { target.tearDown() }
        let cli = TumultCLI()
        defer { cli.removeHome() }
        let baselineMaps = maps(target.pid)
        let attack = try RunningTumult(cli, ["attack", "clock", "--pid", String(target.pid), "--time-offset", "-10m",
                                             "--clock-ids-slice", "CLOCK_REALTIME,CLOCK_MONOTONIC", "--duration", "60s"])
        #expect(try waitUntil { try skew(target).realtime < -500 }, "\(attack.text)")
        // A child forked during the fault, alive across the crash: recovery finds it by its patch.
        let child = try target.ask(["op": "forkkeep"])["child"] as? Int ?? 0
        #expect(ClockPatcher.patchedProcesses(marker: nil).contains { $0.pid == Int32(child) })
        let monotonic = try target.ask(["op": "clocks"])["monotonic"] as? Double ?? 0
        #expect(monotonic < ProcessInfo.processInfo.systemUptime - 500, "CLOCK_MONOTONIC was not shifted")
        attack.signal(SIGKILL)
        _ = attack.wait()
        try expectShifted(target, by: -600, "after kill -9 of tumult")
        let recovered = try cli.run(["recover", "--all"])
        #expect(recovered.status == 0, "\(recovered.stderr)")
        try expectShifted(target, by: 0, "after recover --all")
        #expect(maps(target.pid) == baselineMaps)
        #expect(ClockPatcher.patchedProcesses(marker: nil).isEmpty, "a process still carries Tumult's patch")
    }

    @Test func codePutBackBySomeoneElseIsNoticedAndPatchedAgain() throws {
        let target = try ProbeTarget()
        defer { target.tearDown() }
        let cli = TumultCLI()
        defer { cli.removeHome() }
        let attack = try RunningTumult(cli, ["attack", "time", "--pid", String(target.pid), "--offset=-10m", "--duration", "20s"])
        defer { attack.signal(SIGKILL); _ = attack.wait() }
        #expect(try waitUntil { try skew(target).realtime < -500 }, "\(attack.text)")
        #expect(try ClockPatcher.restore(pid: target.pid, marker: nil))
        try expectShifted(target, by: 0, "put back by someone else")
        #expect(waitUntil(10) { attack.text.contains("restored") }, "\(attack.text)")
        try expectShifted(target, by: -600, "patched again")
        attack.signal(SIGINT)
        #expect(attack.wait() == 0, "\(attack.text)")
        try expectShifted(target, by: 0, "after recovery")
    }

    @Test func chaosdClockAttackThroughTheServerAsPhysicalMachineChaosSendsIt() async throws {
        let target = try ProbeTarget()
        defer { target.tearDown() }
        let cli = TumultCLI()
        defer { cli.removeHome() }
        let inventory = try writeTemporary("pods: []\n", "inventory.yaml")
        defer { try? FileManager.default.removeItem(atPath: inventory) }
        let server = try await offPool { try TestServer(cli, inventory: inventory) }
        defer { server.stop() }
        let body = #"{"pid": \#(target.pid), "time-offset": "-10m", "clock-ids-slice": "CLOCK_REALTIME"}"#
        let posted = try Spawn.run(["curl", "-sS", "-X", "POST", "-H", "Content-Type: application/json", "--data", body,
                                    server.url + "/api/attack/clock"])
        #expect(posted.status == 0, "\(posted.stderr)")
        let answer = try JSONSerialization.jsonObject(with: Data(posted.stdout.utf8)) as? [String: Any]
        let uid = try #require(answer?["uid"] as? String, "\(posted.stdout)")
        try expectShifted(target, by: -600, "chaosd clock attack")
        let deleted = try Spawn.run(["curl", "-sS", "-X", "DELETE", server.url + "/api/attack/" + uid])
        #expect(deleted.status == 0, "\(deleted.stderr)")
        #expect(try waitUntil { abs(try skew(target).realtime) < 0.03 }, "\(deleted.stdout)")
    }
}

/// Where TimeChaos can run: x86_64 only.
enum ClockPatcherSupport {
    static var isX86: Bool {
        #if arch(x86_64)
        true
        #else
        false
        #endif
    }
}
