import Foundation
import Testing
@testable import TumultFaults
@testable import TumultSystem

/// Root integration tests of `tumult attack process`: real processes,
/// started here so their wait status tells what killed them, and a counter
/// that shows whether a process runs.
@Suite(.serialized, .enabled(if: getuid() == 0, "needs root to signal, stop and freeze other processes"))
struct ProcessFaultTests {
    let cli = TumultCLI()
    let scratch = FileManager.default.temporaryDirectory.appendingPathComponent("tmt-proc-\(UUID().uuidString)").path

    @discardableResult
    func tumult(_ arguments: [String]) throws -> CommandResult { try cli.run(arguments) }

    /// Runs an attack that must succeed and returns its uid.
    func attack(_ arguments: [String]) throws -> String {
        let result = try tumult(["attack", "process"] + arguments)
        try #require(result.status == 0, "attack \(arguments) failed: \(result.stderr)")
        return result.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// Processes started by a test, killed and reaped by `cleanUp`.
    final class Started {
        var pids: [Int32] = []

        func start(_ arguments: [String]) throws -> Int32 {
            let child = try Spawn.start(arguments, captureOutput: false)
            pids.append(child.pid)
            return child.pid
        }

        /// The exit status of one of them (128 + signal when killed).
        func status(of pid: Int32) -> Int32 {
            pids.removeAll { $0 == pid }
            return Spawn.wait(for: pid)
        }

        func cleanUp() {
            for pid in pids {
                kill(pid, SIGKILL)
                kill(pid, SIGCONT)
                Spawn.wait(for: pid)
            }
            pids = []
        }
    }

    /// Recovers whatever this test left, then stops its processes and removes its files.
    func cleanUp(_ started: Started) {
        _ = try? tumult(["recover", "--all"])
        started.cleanUp()
        cli.removeHome()
        try? FileManager.default.removeItem(atPath: scratch)
    }

    /// A python3 process writing an incrementing counter to a file every 50 ms.
    func startCounter(_ started: Started, prefix: [String] = []) throws -> (pid: Int32, file: String) {
        try FileManager.default.createDirectory(atPath: scratch, withIntermediateDirectories: true)
        let file = scratch + "/counter-\(UUID().uuidString.prefix(8))"
        let script = """
            import os, sys, time
            n = 0
            while True:
                n += 1
                with open(sys.argv[1] + '.tmp', 'w') as f:
                    f.write(str(n))
                os.replace(sys.argv[1] + '.tmp', sys.argv[1])
                time.sleep(0.05)
            """
        let pid = try started.start(prefix + ["python3", "-c", script, file])
        #expect(eventually { counter(file) > 0 }, "the counter did not start")
        return (pid, file)
    }

    func counter(_ file: String) -> Int {
        Int((try? String(contentsOfFile: file, encoding: .utf8)) ?? "") ?? 0
    }

    /// Whether the counter moves within 0.4 s (it moves every 50 ms when running).
    func counts(_ file: String) -> Bool {
        let before = counter(file)
        usleep(400_000)
        return counter(file) > before
    }

    func eventually(_ timeout: TimeInterval = 5, _ condition: () -> Bool) -> Bool {
        let deadline = Date().addingTimeInterval(timeout)
        while !condition() {
            if Date() >= deadline { return false }
            usleep(20_000)
        }
        return true
    }

    func isStopped(_ pid: Int32) -> Bool { ProcessTable.entry(pid)?.isStopped ?? false }

    /// The cgroups Tumult made for attack `uid`, anywhere in the freezer hierarchy.
    func ownCgroups(_ uid: String) -> [Cgroup] {
        guard let hierarchy = CgroupHierarchy.freezer() else { return [] }
        return hierarchy.cgroup("/").descendants().filter { $0.name == "tmt-\(uid.prefix(8))" }
    }

    // MARK: kill

    @Test func killSendsTheRequestedSignalAndLeavesNothingToRecover() throws {
        let started = Started()
        defer { cleanUp(started) }
        let plain = try started.start(["sleep", "100"])
        let term = try started.start(["sleep", "100"])
        let user = try started.start(["sleep", "100"])
        let uid = try attack(["kill", "--pid", String(plain)])
        #expect(started.status(of: plain) == 128 + SIGKILL)
        _ = try attack(["kill", "--pid", String(term), "--signal", "SIGTERM"])
        #expect(started.status(of: term) == 128 + SIGTERM)
        _ = try attack(["kill", "--pid", String(user), "--signal", "10"])
        #expect(started.status(of: user) == 128 + SIGUSR1)

        // One-shot: nothing stays active, the journal keeps it as recovered, recovery has nothing to do.
        let active = try tumult(["attack", "list"]).stdout
        #expect(!active.contains(uid), "a kill is listed as active: \(active)")
        let all = try tumult(["attack", "list", "--all"]).stdout
        #expect(all.split(separator: "\n").contains { $0.contains(uid) && $0.contains("recovered") }, "\(all)")
        let recovered = try tumult(["recover", uid])
        #expect(recovered.status == 0, "\(recovered.stderr)")

        // Tumult's own caller (this test process) and a missing pid are refused.
        #expect(try tumult(["attack", "process", "kill", "--pid", String(getpid())]).status != 0)
        #expect(try tumult(["attack", "process", "kill", "--pid", "999999999"]).status != 0)
        #expect(try tumult(["attack", "process", "kill", "--pid", "1", "--signal", "NOPE"]).status != 0)
    }

    @Test func gracePeriodLetsTermHandlersRunThenKills() throws {
        let started = Started()
        defer { cleanUp(started) }
        try FileManager.default.createDirectory(atPath: scratch, withIntermediateDirectories: true)
        let farewell = scratch + "/bye"
        let polite = try started.start(["sh", "-c", "trap 'echo bye > \(farewell); exit 0' TERM; while :; do sleep 0.1; done"])
        let stubborn = try started.start(["sh", "-c", "trap '' TERM; while :; do sleep 0.1; done"])
        usleep(300_000)

        _ = try attack(["kill", "--pid", String(polite), "--grace-period", "5"])
        #expect(started.status(of: polite) == 0, "the TERM handler did not run to its exit")
        #expect((try? String(contentsOfFile: farewell, encoding: .utf8)) == "bye\n")

        let begun = Date()
        _ = try attack(["kill", "--pid", String(stubborn), "--grace-period", "1"])
        let took = Date().timeIntervalSince(begun)
        #expect(started.status(of: stubborn) == 128 + SIGKILL)
        #expect(took >= 0.9, "SIGKILL came after \(took) s, before the grace period ended")
    }

    // MARK: selection

    @Test func netnsAndNameSelectExactlyTheirProcesses() throws {
        let started = Started()
        let namespace = "tmt-\(String(UInt32.random(in: 0..<UInt32.max), radix: 36))"
        defer {
            cleanUp(started)
            _ = try? Spawn.run(["ip", "netns", "del", namespace])
        }
        try #require(try Spawn.run(["ip", "netns", "add", namespace]).succeeded)
        // `ip netns exec` execs its command: the pid is the command's.
        let inside = [try started.start(["ip", "netns", "exec", namespace, "sleep", "100"]),
                      try started.start(["ip", "netns", "exec", namespace, "sleep", "100"])]
        let outside = try started.start(["sleep", "100"])
        #expect(eventually { inside.allSatisfy { ProcessTable.entry($0)?.command == "sleep" } })
        _ = try attack(["kill", "--netns", namespace])
        for pid in inside { #expect(started.status(of: pid) == 128 + SIGKILL) }
        #expect(ProcessTable.entry(outside)?.isGone == false, "a process outside the namespace was killed")
        // Nothing left in it: the same attack finds no target.
        #expect(try tumult(["attack", "process", "kill", "--netns", namespace]).status != 0)

        // By name: comm (a link's name) or argv[0]'s base name, host-wide.
        try FileManager.default.createDirectory(atPath: scratch, withIntermediateDirectories: true)
        let name = "tmt\(String(UInt32.random(in: 0..<UInt32.max), radix: 36))"
        try FileManager.default.createSymbolicLink(atPath: scratch + "/" + name, withDestinationPath: "/bin/sleep")
        let named = [try started.start([scratch + "/" + name, "100"]), try started.start([scratch + "/" + name, "100"])]
        usleep(100_000)
        _ = try attack(["stop", "--process", name])
        #expect(eventually { named.allSatisfy(isStopped) })
        #expect(!isStopped(outside))
        _ = try tumult(["recover", "--all"])
        #expect(named.allSatisfy { !isStopped($0) })
    }

    // MARK: stop

    @Test func stopPausesAProcessUntilRecovery() throws {
        let started = Started()
        defer { cleanUp(started) }
        let (pid, file) = try startCounter(started)
        let uid = try attack(["stop", "--pid", String(pid)])
        #expect(isStopped(pid))
        #expect(!counts(file), "a stopped process counts")
        #expect(try tumult(["recover", uid]).status == 0)
        #expect(!isStopped(pid))
        #expect(counts(file), "the process does not count after recovery")

        // In the foreground for 2 s, then recovered by Tumult itself.
        let child = try cli.start(["attack", "process", "stop", "--pid", String(pid), "--duration", "2s"])
        defer { close(child.stdout); close(child.stderr) }
        #expect(eventually { isStopped(pid) })
        #expect(!counts(file))
        #expect(Spawn.wait(for: child.pid) == 0)
        #expect(counts(file), "the process does not count after the duration")
    }

    // MARK: freeze

    @Test func freezeMovesASharedCgroupsTargetAsideAndBack() throws {
        let started = Started()
        defer { cleanUp(started) }
        let hierarchy = try #require(CgroupHierarchy.freezer())
        let (pid, file) = try startCounter(started)
        let original = try #require(hierarchy.cgroup(of: pid))
        let uid = try attack(["freeze", "--pid", String(pid)])
        // This test process shares the counter's cgroup: the counter is moved aside.
        let own = original.child("tmt-\(uid.prefix(8))")
        #expect(hierarchy.cgroup(of: pid) == own)
        #expect(own.freezerState == .frozen)
        #expect(original.isRoot || !original.isFreezeRequested)
        #expect(!counts(file), "a frozen process counts")
        let recovered = try tumult(["recover", uid])
        #expect(recovered.status == 0, "\(recovered.stderr)")
        #expect(hierarchy.cgroup(of: pid) == original)
        #expect(!own.exists, "cgroup \(own) is left behind")
        #expect(counts(file), "the process does not count after recovery")

        let child = try cli.start(["attack", "process", "freeze", "--pid", String(pid), "--duration", "2s"])
        defer { close(child.stdout); close(child.stderr) }
        let foreground = TumultCLI.readUID(child)
        #expect(eventually { hierarchy.cgroup(of: pid)?.freezerState == .frozen })
        #expect(!counts(file))
        #expect(Spawn.wait(for: child.pid) == 0)
        #expect(counts(file), "the process does not count after the duration")
        #expect(ownCgroups(foreground).isEmpty)
        #expect(hierarchy.cgroup(of: pid) == original)
    }

    @Test func freezeFreezesANamedCgroupInPlace() throws {
        let started = Started()
        let hierarchy = try #require(CgroupHierarchy.freezer())
        let group = hierarchy.cgroup("/tmt-test-\(String(UInt32.random(in: 0..<UInt32.max), radix: 36))")
        defer {
            cleanUp(started)
            // Children other suites started while this process sat in the
            // group (below) went there too: hand them to the root, then remove it.
            if let root = group.parent {
                for _ in 0..<50 where group.exists {
                    try? group.write("freezer.state", "THAWED")
                    for pid in group.processes() { try? root.move(pid) }
                    if (try? group.remove()) != nil { break }
                    usleep(20_000)
                }
            }
        }
        try group.create()
        let (pid, file) = try startCounter(started)
        try group.move(pid)
        let uid = try attack(["freeze", "--cgroup", group.path])
        #expect(group.freezerState == .frozen)
        #expect(hierarchy.cgroup(of: pid) == group, "the process was moved")
        #expect(ownCgroups(uid).isEmpty, "a cgroup was made for a cgroup target")
        #expect(!counts(file))
        #expect(try tumult(["recover", uid]).status == 0)
        #expect(group.freezerState == .thawed)
        #expect(counts(file))

        // A cgroup that holds only targets is frozen where it is for --pid too.
        let again = try attack(["freeze", "--pid", String(pid)])
        #expect(group.freezerState == .frozen)
        #expect(ownCgroups(again).isEmpty)
        #expect(try tumult(["recover", again]).status == 0)
        #expect(group.freezerState == .thawed)

        // Never the root cgroup, never one holding Tumult itself.
        #expect(try tumult(["attack", "process", "freeze", "--cgroup", "/"]).status != 0)
        let runnerCgroup = try #require(hierarchy.cgroup(of: getpid()))
        try group.move(getpid())
        defer { try? runnerCgroup.move(getpid()) }
        let refused = try tumult(["attack", "process", "freeze", "--cgroup", group.path])
        #expect(refused.status != 0)
        #expect(refused.stderr.contains("Tumult itself"), "\(refused.stderr)")
        try runnerCgroup.move(getpid())
        #expect(group.freezerState == .thawed)
        #expect(counts(file))
    }

    // MARK: crash

    @Test(arguments: ["stop", "freeze"])
    func killedForegroundAttackIsRecoveredFromTheJournal(action: String) throws {
        let started = Started()
        defer { cleanUp(started) }
        let hierarchy = try #require(CgroupHierarchy.freezer())
        let (pid, file) = try startCounter(started)
        let original = hierarchy.cgroup(of: pid)
        let child = try cli.start(["attack", "process", action, "--pid", String(pid), "--duration", "60s"])
        defer { close(child.stdout); close(child.stderr) }
        let uid = TumultCLI.readUID(child)
        #expect(!uid.isEmpty)
        #expect(!counts(file), "the attack is not in place")
        kill(child.pid, SIGKILL)
        Spawn.wait(for: child.pid)

        let recovered = try tumult(["recover", "--all"])
        #expect(recovered.status == 0, "\(recovered.stderr)")
        #expect(recovered.stdout.contains(uid))
        #expect(!isStopped(pid))
        #expect(hierarchy.cgroup(of: pid) == original)
        #expect(hierarchy.cgroup(of: pid)?.freezerState != .frozen)
        #expect(ownCgroups(uid).isEmpty, "a tmt-* cgroup is left")
        #expect(counts(file), "the process does not count after recovery")
        #expect(!(try tumult(["attack", "list"]).stdout.contains(uid)))
    }
}

/// The pure parts: signal names and mountinfo's escapes.
@Suite struct ProcessFaultParsingTests {
    @Test func signalsParseByNameOrNumber() {
        #expect(SignalName.number(parsing: "SIGKILL") == 9)
        #expect(SignalName.number(parsing: "term") == 15)
        #expect(SignalName.number(parsing: "USR1") == 10)
        #expect(SignalName.number(parsing: "40") == 40)
        #expect(SignalName.number(parsing: "0") == nil)
        #expect(SignalName.number(parsing: "SIGNOPE") == nil)
        #expect(SignalName.name(of: 15) == "SIGTERM")
    }

    @Test func mountinfoEscapesAreUndone() {
        #expect(CgroupHierarchy.unescape("/sys/fs/cgroup/a\\040b") == "/sys/fs/cgroup/a b")
        #expect(CgroupHierarchy.unescape("/plain") == "/plain")
    }
}
