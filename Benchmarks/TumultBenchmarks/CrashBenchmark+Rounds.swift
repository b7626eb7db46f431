import Foundation
import TumultSystem

extension CrashBenchmark {
    /// One round: baseline, the run and its kill, Tumult's own recovery,
    /// and the comparison (looked at again for up to 2 s while it differs:
    /// a helper told to stop may take a moment to go).
    func execute(_ round: inout CrashRound, bed: CrashTestbed, context: Context) {
        let started = Clock.now
        let cleanup = SoakCleanup.shared
        let home = "\(context.work)/round-\(round.number)"
        do {
            try bed.ensureTarget()
            try FileManager.default.createDirectory(atPath: home, withIntermediateDirectories: true)
        } catch {
            round.findings.append("the round could not start: \(error)")
            round.seconds = Clock.now - started
            return
        }
        cleanup.addHome(home)
        let baseline = HostSnapshot.take(bed, ownership: cleanup.ownership, home: nil, tumult: context.tumult)
        do {
            switch round.mode {
            case .attack: try attackRound(&round, bed: bed, home: home, context: context)
            case .server: try serverRound(&round, bed: bed, home: home, context: context)
            }
        } catch {
            round.findings.append("the round stopped early: \(error)")
            // What the round started is stopped, and the journal recovered, so that the comparison shows what Tumult left.
            cleanup.killChildren()
            if !skipRecovery {
                _ = try? Relaunch.run([context.tumult, "recover", "--all"], environment: ["TUMULT_HOME": home])
                round.notes.append("recovered with recover --all after the error")
            }
        }
        var differences: [String] = []
        for attempt in 0..<9 {
            if attempt > 0 { usleep(250_000) }
            cleanup.learn(attacks: Self.journal(home, tumult: context.tumult).map(\.uid))
            let after = HostSnapshot.take(bed, ownership: cleanup.ownership, home: home, tumult: context.tumult)
            differences = after.differences(from: baseline)
            if differences.isEmpty { break }
        }
        round.leftovers = differences
        if differences.isEmpty {
            cleanup.removeHome(home)
            try? FileManager.default.removeItem(atPath: home)
        } else {
            scrub(round, bed: bed, home: home, context: context)
        }
        round.seconds = Clock.now - started
    }

    // MARK: tumult attack

    /// Kills `tumult attack` (or `tumult recover`), then `tumult recover --all`.
    func attackRound(_ round: inout CrashRound, bed: CrashTestbed, home: String, context: Context) throws {
        let environment = ["TUMULT_HOME": home]
        let attack = [context.tumult] + round.family.attackArguments(bed)
        let victim: SoakChild
        switch round.trigger {
        case .recoverCommand:
            let injecting = Clock.now
            let injected = try Relaunch.run(attack, environment: environment)
            windows.observe(round.family, .foreground, Clock.now - injecting)
            let uid = injected.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
            guard injected.succeeded, !uid.isEmpty else {
                round.findings.append("`tumult \(attack.dropFirst().joined(separator: " "))` failed (exit \(injected.status)): "
                                      + Self.lastLine(injected.stderr))
                try recoverAll(&round, home: home, context: context)
                return
            }
            victim = try start([context.tumult, "recover", uid], environment: environment)
            waitBeforeKill(round.delay)
        case .interrupt:
            victim = try start(attack + ["--duration", context.duration], environment: environment)
            guard victim.waitForLine(timeout: 15) != nil else {
                round.findings.append("the foreground attack printed no uid within 15 s: " + victim.tail(3).joined(separator: " / "))
                break
            }
            if let injected = victim.secondsToFirstOutput { windows.observe(round.family, .foreground, injected) }
            victim.send(SIGTERM)
            waitBeforeKill(round.delay)
        default:
            victim = try start(attack + ["--duration", context.duration], environment: environment)
            waitBeforeKill(round.delay)
        }
        let ended = victim.exitStatus()
        if round.trigger == .foreground, let injected = victim.secondsToFirstOutput {
            windows.observe(round.family, .foreground, injected)
        }
        victim.killNow()
        SoakCleanup.shared.remove(victim)
        if let ended {
            round.notes.append("had ended (exit \(ended))")
            // A recovery done before the kill: its window shrinks toward the delay.
            if round.phase == .recovery { windows.observe(round.family, round.trigger, round.delay * 0.9) }
        }
        land(&round, home: home, context: context)
        let recovering = Clock.now
        try recoverAll(&round, home: home, context: context)
        if !round.landingStates.isDisjoint(with: ["injected", "recovering"]) {
            // What was left to recover: how long a recovery takes, for the recovery kills' window.
            windows.observe(round.family, .recoverCommand, Clock.now - recovering)
            windows.observe(round.family, .interrupt, Clock.now - recovering)
        }
    }

    /// `tumult recover --all` in the round's home: what the README says to run after a `kill -9`.
    func recoverAll(_ round: inout CrashRound, home: String, context: Context) throws {
        if skipRecovery { return }
        let before = Clock.now
        let recovered = try Relaunch.run([context.tumult, "recover", "--all"], environment: ["TUMULT_HOME": home])
        round.notes.append(String(format: "recover --all %.2fs", Clock.now - before))
        if !recovered.succeeded {
            round.findings.append("`tumult recover --all` exited \(recovered.status): " + Self.lastLine(recovered.stderr))
        }
    }

    // MARK: tumult server

    /// Kills `tumult server` mid-apply or mid-recovery, starts a new one on
    /// the same port and home, deletes the experiment (or chaosd attack)
    /// through the API until it is archived, and stops the server with SIGTERM.
    func serverRound(_ round: inout CrashRound, bed: CrashTestbed, home: String, context: Context) throws {
        let http = LoopbackHTTP(port: context.port)
        let name = "soak-\(round.number)"
        let document = round.family.experiment(named: name, bed, duration: context.duration)
        let chaosd = round.family.chaosdAttack(bed)
        guard let first = startServer(&round, home: home, context: context, restart: false) else {
            try recoverAll(&round, home: home, context: context)
            return
        }
        func post() throws -> Int32 {
            if let document {
                return try http.send("POST", "/api/experiments", body: document, contentType: "application/yaml")
            }
            return try http.send("POST", "/api/attack/\(chaosd!.kind)", body: chaosd!.body, contentType: "application/json")
        }
        var uid: String?
        switch round.trigger {
        case .apply:
            let request = try post()
            waitBeforeKill(round.delay)
            first.killNow()
            uid = http.receive(request, timeout: 0.2)?.object?["uid"] as? String
        default:
            let posting = Clock.now
            let answer = http.receive(try post())
            if document == nil { windows.observe(round.family, .apply, Clock.now - posting) }
            uid = answer?.object?["uid"] as? String
            guard let answer, answer.status == 200, let uid else {
                round.findings.append("POST was answered \(answer.map { "\($0.status): \($0.text.prefix(200))" } ?? "with nothing")")
                first.killNow()
                break
            }
            if document != nil, let running = waitUntilRunning(&round, uid: uid, http: http) {
                windows.observe(round.family, .apply, running)
            }
            if round.trigger == .delete {
                let request = try http.send("DELETE", document != nil ? "/api/experiments/\(uid)" : "/api/attack/\(uid)")
                waitBeforeKill(round.delay)
                first.killNow()
                close(request)
            } else {
                first.send(SIGTERM)
                waitBeforeKill(round.delay)
                // A shutdown that recovers is seen only through the kill: done
                // before it, the window shrinks toward the delay; not, it grows past it.
                if let ended = first.exitStatus() {
                    round.notes.append("had stopped (exit \(ended))")
                    windows.observe(round.family, .stop, round.delay * 0.9)
                } else {
                    windows.observe(round.family, .stop, round.delay + 0.05)
                }
                first.killNow()
            }
        }
        SoakCleanup.shared.remove(first)
        land(&round, home: home, context: context)
        if round.trigger == .delete && round.landingStates == ["recovered"] {
            windows.observe(round.family, .delete, round.delay * 0.9)
        }
        if skipRecovery { return }

        guard let second = startServer(&round, home: home, context: context, restart: true) else {
            round.notes.append("no server: recovered with recover --all")
            try recoverAll(&round, home: home, context: context)
            return
        }
        if document != nil {
            let acknowledged = uid != nil
            if uid == nil {
                let listed = try? http.request("GET", "/api/experiments?namespace=\(CrashFamily.namespace)&name=\(name)")
                uid = (listed?.json as? [[String: Any]])?.first?["uid"] as? String
            }
            if let uid {
                if let archived = deleteUntilArchived(&round, uid: uid, acknowledged: acknowledged, http: http),
                   round.landingStates.contains("injected") {
                    windows.observe(round.family, .delete, archived)
                }
            } else {
                round.notes.append("never stored")
            }
        }
        if chaosd != nil {
            // chaosd's list: every attack in the journal; the ones not destroyed (recovered) or in error are deleted.
            let listed = (try? http.request("GET", "/api/experiments/"))?.json as? [[String: Any]] ?? []
            for attack in listed {
                guard let uid = attack["uid"] as? String, let status = attack["status"] as? String,
                      !["destroyed", "error"].contains(status) else { continue }
                let deleting = Clock.now
                let deleted = try? http.request("DELETE", "/api/attack/\(uid)")
                if deleted?.status == 200 { windows.observe(round.family, .delete, Clock.now - deleting) }
                if deleted?.status != 200 {
                    round.findings.append("DELETE /api/attack/\(uid) answered \(deleted.map { "\($0.status): \($0.text.prefix(200))" } ?? "nothing")")
                }
            }
        }
        if let ended = second.exitStatus() {
            round.findings.append("the restarted server had exited by itself (exit \(ended))")
            round.evidence += second.tail(8)
        }
        let stopping = Clock.now
        second.send(SIGTERM)
        if let status = second.wait(timeout: 30) {
            round.notes.append(String(format: "stop %.2fs", Clock.now - stopping))
            if status != 0 {
                round.findings.append("the restarted server exited \(status) on SIGTERM: " + second.tail(3).joined(separator: " / "))
            }
        } else {
            round.findings.append("the restarted server did not exit within 30 s of SIGTERM: " + second.tail(3).joined(separator: " / "))
            second.killNow()
        }
        SoakCleanup.shared.remove(second)
    }

    /// `tumult server` on the round's home and the soak's port, once it says
    /// it listens. A bind refused with "Address already in use" is tried
    /// again for up to 10 s and reported as a finding with the port's owner.
    func startServer(_ round: inout CrashRound, home: String, context: Context, restart: Bool) -> SoakChild? {
        let arguments = [context.tumult, "server", "--listen", "127.0.0.1:\(context.port)", "--inventory", context.inventory]
        let started = Clock.now
        var refused = 0
        while true {
            guard let child = try? start(arguments, environment: ["TUMULT_HOME": home]) else {
                round.findings.append("tumult server could not be started")
                return nil
            }
            if child.waitForLine(containing: "tumult server listening on", timeout: 30) != nil {
                if restart {
                    round.restartSeconds = Clock.now - started
                    round.notes.append(String(format: "restart %.2fs", Clock.now - started)
                                       + (refused > 0 ? " after \(refused) refused binds" : ""))
                }
                return child
            }
            let output = child.output
            child.killNow()
            SoakCleanup.shared.remove(child)
            let busy = output.lowercased().contains("address already in use")
            if busy && refused == 0 {
                round.findings.append("\(restart ? "the restarted" : "a new") tumult server could not bind 127.0.0.1:\(context.port): "
                                      + "Address already in use")
                round.evidence += Self.portOwners(context.port)
            }
            guard busy, Clock.now - started < 10 else {
                round.findings.append(busy ? "the port was still in use after 10 s"
                                      : "tumult server did not start: " + Self.lastLine(output))
                return nil
            }
            refused += 1
            usleep(200_000)
        }
    }

    /// Polls the experiment until the API says `running` (every target
    /// injected), for up to 15 s; returns how long that took.
    func waitUntilRunning(_ round: inout CrashRound, uid: String, http: LoopbackHTTP) -> Double? {
        let started = Clock.now
        var status = "?"
        while Clock.now - started < 15 {
            status = (try? http.request("GET", "/api/experiments/\(uid)"))?.object?["status"] as? String ?? "?"
            if status == "running" { return Clock.now - started }
            usleep(20_000)
        }
        round.findings.append("the experiment was not running 15 s after it was applied (status \(status))")
        return nil
    }

    /// `DELETE /api/experiments/UID`, then waits (up to 10 s) for `GET
    /// /api/archives/UID`; returns how long that took. An experiment the
    /// restarted server does not know although the first one answered its
    /// POST is a finding at once; one not archived in time is a finding,
    /// with its status and events, and is deleted once more (10 s more).
    @discardableResult
    func deleteUntilArchived(_ round: inout CrashRound, uid: String, acknowledged: Bool, http: LoopbackHTTP) -> Double? {
        let started = Clock.now
        for attempt in 1...2 {
            let deleted = try? http.request("DELETE", "/api/experiments/\(uid)")
            if attempt == 1, deleted?.status == 404, (try? http.request("GET", "/api/archives/\(uid)"))?.status != 200 {
                if acknowledged {
                    round.findings.append("experiment \(uid) was acknowledged by POST (200) before the kill, "
                                          + "but the restarted server does not know it (DELETE: 404, no archive)")
                } else {
                    round.notes.append("never stored")
                }
                return nil
            }
            if let deleted, deleted.status != 200 && deleted.status != 404 {
                round.findings.append("DELETE /api/experiments/\(uid) answered \(deleted.status): \(deleted.text.prefix(200))")
            }
            let deadline = Clock.now + 10
            while Clock.now < deadline {
                if (try? http.request("GET", "/api/archives/\(uid)"))?.status == 200 {
                    round.notes.append(String(format: "archived %.2fs", Clock.now - started) + (attempt > 1 ? " after a second DELETE" : ""))
                    return attempt == 1 ? Clock.now - started : nil
                }
                usleep(20_000)
            }
            let detail = try? http.request("GET", "/api/experiments/\(uid)")
            let status = detail?.object?["status"] as? String ?? "no answer"
            round.findings.append("experiment \(uid) was not archived within 10 s of DELETE number \(attempt) "
                                  + "(DELETE answered \(deleted.map { String($0.status) } ?? "nothing"), status now \(status))")
            let events = (try? http.request("GET", "/api/events?object_id=\(uid)&limit=12"))?.json as? [[String: Any]] ?? []
            round.evidence += events.reversed().map {
                "event \($0["created_at"] as? String ?? ""): \($0["reason"] as? String ?? "") \($0["message"] as? String ?? "")"
            }
        }
        return nil
    }

    // MARK: Helpers

    func start(_ arguments: [String], environment: [String: String]) throws -> SoakChild {
        let child = try SoakChild.start(arguments, environment: environment)
        SoakCleanup.shared.add(child)
        return child
    }

    func waitBeforeKill(_ seconds: Double) {
        if seconds > 0 { usleep(UInt32(seconds * 1_000_000)) }
    }

    /// Where the kill landed: the journal's states just after it.
    func land(_ round: inout CrashRound, home: String, context: Context) {
        let attacks = Self.journal(home, tumult: context.tumult)
        SoakCleanup.shared.learn(attacks: attacks.map(\.uid))
        let states = Dictionary(grouping: attacks.map(\.state), by: { $0 }).mapValues(\.count)
        round.landingStates = attacks.isEmpty ? ["not journaled"] : Set(states.keys)
        round.landing = attacks.isEmpty ? "not journaled"
            : states.sorted { $0.key < $1.key }.map { $0.value > 1 ? "\($0.key) x\($0.value)" : $0.key }.joined(separator: ", ")
    }

    /// Every attack of a journal with its state (`tumult attack list --all`).
    static func journal(_ home: String, tumult: String) -> [(uid: String, state: String)] {
        guard FileManager.default.fileExists(atPath: home + "/journal.sqlite"),
              let listed = try? Relaunch.run([tumult, "attack", "list", "--all", "--state-dir", home], environment: ["TUMULT_HOME": home]),
              listed.succeeded else { return [] }
        return listed.stdout.split(separator: "\n").dropFirst().compactMap { line in
            let fields = line.split(separator: "\t", omittingEmptySubsequences: false)
            return fields.count >= 5 ? (String(fields[0]), String(fields[4])) : nil
        }
    }

    /// Who listens on the port, for a refused bind: `ss`'s line and each owner's command line.
    static func portOwners(_ port: Int) -> [String] {
        let listing = (try? Spawn.run(["ss", "-Hltnp", "sport = :\(port)"]))?.stdout ?? ""
        var lines = listing.split(separator: "\n").map { "ss -ltnp: " + $0.trimmingCharacters(in: .whitespaces) }
        let pids = listing.components(separatedBy: "pid=").dropFirst().compactMap { Int32($0.prefix { $0.isNumber }) }
        for pid in Set(pids).sorted() {
            if let process = ProcessEntry.read(pid) { lines.append("owner: \(process.summary)") }
        }
        return lines.isEmpty ? ["ss -ltnp shows nothing listening on \(port) now"] : lines
    }

    static func lastLine(_ text: String) -> String {
        String(text.split(separator: "\n").last { !$0.trimmingCharacters(in: .whitespaces).isEmpty }?.prefix(300) ?? "")
    }

    /// After a round that left something: Tumult's recovery once more, the
    /// soak's leftover processes and cgroups removed by hand, the throwaway
    /// probe namespaces it left deleted, and the family's namespaces built
    /// afresh, so that the next round starts from a clean host.
    func scrub(_ round: CrashRound, bed: CrashTestbed, home: String, context: Context) {
        let cleanup = SoakCleanup.shared
        _ = try? Relaunch.run([context.tumult, "recover", "--all"], environment: ["TUMULT_HOME": home])
        CgroupScan.remove(ownedBy: cleanup.ownership)
        SoakCleanup.killOwnedProcesses(cleanup.ownership, sparing: [bed.targetPID])
        for line in round.leftovers where line.hasPrefix("+ netns: tmt-probe-") {
            _ = try? Spawn.run(["ip", "netns", "del", String(line.dropFirst("+ netns: ".count))])
        }
        for file in (try? FileManager.default.contentsOfDirectory(atPath: bed.disk)) ?? [] {
            try? FileManager.default.removeItem(atPath: bed.disk + "/" + file)
        }
        do {
            try bed.rebuild()
        } catch {
            FileHandle.standardError.write(Data("tumult-bench crash: could not rebuild \(bed.a): \(error)\n".utf8))
        }
        cleanup.refreshInodes()
    }
}
