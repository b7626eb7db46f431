import Foundation
import Testing
import TumultSystem

/// Workflows from document to host and back: the real `tumult run` and
/// `tumult server`, real namespaces, real traffic and real processes.
@Suite(.serialized, .enabled(if: getuid() == 0))
struct WorkflowEndToEndTests {
    static func delayLeaf(_ name: String, app: String, deadline: String, latency: String = "100ms") -> String {
        """
            - name: \(name)
              templateType: NetworkChaos
              deadline: \(deadline)
              networkChaos:
                action: delay
                mode: all
                selector: {labelSelectors: {app: \(app)}}
                delay: {latency: \(latency)}
        """
    }

    static func workflow(_ name: String, _ templates: String) -> String {
        """
        apiVersion: chaos-mesh.org/v1alpha1
        kind: Workflow
        metadata: {name: \(name), namespace: default}
        spec:
          entry: entry
          templates:
        \(templates)
        """
    }

    /// A process in the pod's network namespace, for pod-kill to kill.
    static func startSleeper(in namespace: String) throws -> Int32 {
        try Spawn.start(["ip", "netns", "exec", namespace, "sleep", "600"], captureOutput: false).pid
    }

    /// Whether our child `pid` has ended (reaping it if so).
    static func ended(_ pid: Int32) -> Bool {
        var status: Int32 = 0
        return waitpid(pid, &status, WNOHANG) == pid
    }

    /// `GET` on the server, through curl (a few ms, no client state).
    static func get(_ url: String) throws -> [String: Any] {
        let result = try Spawn.run(["curl", "-s", "--max-time", "5", url])
        return (try? JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any]) ?? [:]
    }

    static func workflowUID(_ server: TestServer, name: String) throws -> String? {
        let result = try Spawn.run(["curl", "-s", "--max-time", "5", "\(server.url)/api/workflows"])
        let items = (try? JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [[String: Any]]) ?? []
        return items.first { $0["name"] as? String == name }?["uid"] as? String
    }

    /// A Serial workflow under `tumult run`: a delay on the web pod for its
    /// whole deadline (measured early, in the middle and late), recovered,
    /// and only then the db pod's process killed.
    @Test func serialDelayThenPodKillUnderTumultRun() async throws {
        let star = try TestStar(pods: 2)
        defer { star.tearDown() }
        let cli = TumultCLI()
        defer { cli.removeHome() }
        let inventory = try star.inventory(labels: [["app": "web"], ["app": "db"]])
        defer { try? FileManager.default.removeItem(atPath: inventory) }
        let sleeper = try Self.startSleeper(in: star.pods[1])
        defer { kill(sleeper, SIGKILL); _ = Self.ended(sleeper) }
        let before = try star.snapshot(0)
        let baseline = try await offPool { try star.rtt(to: 0, count: 5) }
        let file = try writeTemporary(Self.workflow("serial", """
                - name: entry
                  templateType: Serial
                  children: [delay, kill]
            \(Self.delayLeaf("delay", app: "web", deadline: "6s"))
                - name: kill
                  templateType: PodChaos
                  deadline: 2s
                  podChaos:
                    action: pod-kill
                    mode: one
                    selector: {labelSelectors: {app: db}}
            """), "serial.yaml")
        defer { try? FileManager.default.removeItem(atPath: file) }

        let run = try RunningTumult(cli, ["run", "-f", file, "--inventory", inventory])
        let started = Date()
        var injectedAt: Date?
        while injectedAt == nil && Date().timeIntervalSince(started) < 10 {
            if try star.snapshot(0) != before { injectedAt = Date() } else { await pause(0.05) }
        }
        let injected = try #require(injectedAt, "the delay never came: \(run.text)")
        // Early, middle, late in the 6 s deadline: delayed, and the db pod's process untouched.
        var samples: [Double] = []
        for offset in [0.5, 2.5, 4.5] {
            let wait = injected.addingTimeInterval(offset).timeIntervalSinceNow
            if wait > 0 { await pause(wait) }
            samples.append(try await offPool { try star.rtt(to: 0, count: 3) } - baseline)
            #expect(!Self.ended(sleeper), "the pod-kill came before the delay's deadline (at \(offset) s)")
        }
        for sample in samples { #expect(sample > 70 && sample < 160, "added RTT \(samples)") }
        // Then: the delay recovered, and after it the kill.
        var recoveredAt: Date?, killedAt: Date?
        let deadline = Date().addingTimeInterval(15)
        while (recoveredAt == nil || killedAt == nil) && Date() < deadline {
            if recoveredAt == nil, try star.snapshot(0) == before { recoveredAt = Date() }
            if killedAt == nil, Self.ended(sleeper) { killedAt = Date() }
            await pause(0.02)
        }
        let recovered = try #require(recoveredAt, "\(run.text)")
        let killed = try #require(killedAt, "the db pod's process was never killed: \(run.text)")
        #expect(recovered <= killed.addingTimeInterval(0.05), "killed \(killed.timeIntervalSince(recovered)) s after the recovery")
        #expect(recovered.timeIntervalSince(injected) > 5.5, "the delay ended early: \(recovered.timeIntervalSince(injected)) s")
        #expect(try await offPool { try star.rtt(to: 0, count: 3) } - baseline < 20)

        let status = try await offPool { run.wait() }
        #expect(status == 0, "\(run.text)")
        #expect(run.text.contains("workflow serial accomplished"), "\(run.text)")
        #expect(try star.snapshot(0) == before)
    }

    /// A Task under `tumult run`: its command runs on the host, and its
    /// output picks the branch (a delay), not the other (a pod-kill).
    @Test func taskOutputPicksTheBranchThatRuns() async throws {
        let star = try TestStar(pods: 2)
        defer { star.tearDown() }
        let cli = TumultCLI()
        defer { cli.removeHome() }
        let inventory = try star.inventory(labels: [["app": "web"], ["app": "db"]])
        defer { try? FileManager.default.removeItem(atPath: inventory) }
        let sleeper = try Self.startSleeper(in: star.pods[1])
        defer { kill(sleeper, SIGKILL); _ = Self.ended(sleeper) }
        let before = try star.snapshot(0)
        let baseline = try await offPool { try star.rtt(to: 0, count: 5) }
        let file = try writeTemporary(Self.workflow("branching", """
                - name: entry
                  templateType: Task
                  task:
                    container:
                      name: decide
                      image: busybox
                      command: [sh, -c, 'test -d "$CHECK_DIR" && echo delay || echo kill']
                      env: [{name: CHECK_DIR, value: /proc}]
                  conditionalBranches:
                    - {target: delay, expression: 'exitCode == 0 && stdout == "delay"'}
                    - {target: kill, expression: 'stdout == "kill"'}
            \(Self.delayLeaf("delay", app: "web", deadline: "3s"))
                - name: kill
                  templateType: PodChaos
                  deadline: 2s
                  podChaos:
                    action: pod-kill
                    mode: one
                    selector: {labelSelectors: {app: db}}
            """), "branching.yaml")
        defer { try? FileManager.default.removeItem(atPath: file) }
        let run = try RunningTumult(cli, ["run", "-f", file, "--inventory", inventory])
        let started = Date()
        while try star.snapshot(0) == before && Date().timeIntervalSince(started) < 10 { await pause(0.05) }
        await pause(0.5)
        #expect(try await offPool { try star.rtt(to: 0, count: 3) } - baseline > 70, "the delay branch did not run: \(run.text)")
        let status = try await offPool { run.wait() }
        #expect(status == 0, "\(run.text)")
        #expect(!Self.ended(sleeper), "the kill branch ran")
        #expect(run.text.contains("workflow branching accomplished"), "\(run.text)")
        #expect(try star.snapshot(0) == before)
    }

    /// A Parallel workflow on `tumult server`: both delays are in place at
    /// the same time; the shorter ends at its deadline, the other at its own.
    @Test func parallelFaultsOverlapOnTheServer() async throws {
        let star = try TestStar(pods: 2)
        defer { star.tearDown() }
        let cli = TumultCLI()
        defer { cli.removeHome() }
        let inventory = try star.inventory(labels: [["app": "web"], ["app": "api"]])
        defer { try? FileManager.default.removeItem(atPath: inventory) }
        let before = try (0..<2).map(star.snapshot)
        let baseline = try await offPool { try (0..<2).map { try star.rtt(to: $0, count: 5) } }
        let server = try await offPool { try TestServer(cli, inventory: inventory) }
        defer { server.stop() }
        let file = try writeTemporary(Self.workflow("both", """
                - name: entry
                  templateType: Parallel
                  children: [slow-web, slow-api]
            \(Self.delayLeaf("slow-web", app: "web", deadline: "8s"))
            \(Self.delayLeaf("slow-api", app: "api", deadline: "4s", latency: "60ms"))
            """), "parallel.yaml")
        defer { try? FileManager.default.removeItem(atPath: file) }
        let applied = try await offPool { try cli.run(["apply", "-f", file, "--server", server.url]) }
        #expect(applied.status == 0, "\(applied.stdout)\(applied.stderr)")
        let started = Date()
        while try (0..<2).contains(where: { try star.snapshot($0) == before[$0] }) && Date().timeIntervalSince(started) < 10 {
            await pause(0.05)
        }
        let both = Date()
        // Overlap: each pod delayed by its own latency at the same moment
        // (measured once both engines are up).
        await pause(0.5)
        let during = try await offPool { try (0..<2).map { try star.rtt(to: $0, count: 3) } }
        #expect(during[0] - baseline[0] > 70 && during[0] - baseline[0] < 160, "web \(during[0])")
        #expect(during[1] - baseline[1] > 40 && during[1] - baseline[1] < 110, "api \(during[1])")
        var apiRecovered: Date?, webRecovered: Date?
        while webRecovered == nil && Date().timeIntervalSince(both) < 15 {
            if apiRecovered == nil, try star.snapshot(1) == before[1] { apiRecovered = Date() }
            if webRecovered == nil, try star.snapshot(0) == before[0] { webRecovered = Date() }
            await pause(0.05)
        }
        let api = try #require(apiRecovered), web = try #require(webRecovered)
        #expect(api < web, "the 4 s branch ends first")
        #expect(api.timeIntervalSince(both) > 2.5 && api.timeIntervalSince(both) < 5.5, "api after \(api.timeIntervalSince(both)) s")
        #expect(web.timeIntervalSince(both) > 6.5 && web.timeIntervalSince(both) < 9.5, "web after \(web.timeIntervalSince(both)) s")

        let uid = try #require(try Self.workflowUID(server, name: "both"))
        var phase = ""
        let deadline = Date().addingTimeInterval(5)
        while phase != "Accomplished" && Date() < deadline {
            phase = try Self.get("\(server.url)/api/workflows/\(uid)")["phase"] as? String ?? ""
            await pause(0.1)
        }
        #expect(phase == "Accomplished")
        let listed = try await offPool { try cli.run(["get", "workflows", "--server", server.url]) }
        #expect(listed.status == 0 && listed.stdout.contains("both") && listed.stdout.contains("Accomplished"), "\(listed.stdout)\(listed.stderr)")
        let described = try await offPool { try cli.run(["describe", "workflow/both", "--server", server.url]) }
        #expect(described.stdout.contains("slow-web") && described.stdout.contains("slow-api"), "\(described.stdout)\(described.stderr)")
    }

    /// A StatusCheck against a local HTTP server that starts failing aborts
    /// the workflow, and every fault is gone within a second of the abort.
    @Test func failingStatusCheckAbortsAndEveryFaultIsRecoveredWithinASecond() async throws {
        let star = try TestStar(pods: 2)
        defer { star.tearDown() }
        let cli = TumultCLI()
        defer { cli.removeHome() }
        let inventory = try star.inventory(labels: [["app": "web"], ["app": "api"]])
        defer { try? FileManager.default.removeItem(atPath: inventory) }
        let before = try (0..<2).map(star.snapshot)
        let flag = FileManager.default.temporaryDirectory.appendingPathComponent("tmt-fail-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: flag) }
        // Healthy until the flag file exists, then 500.
        let health = try Spawn.start(["python3", "-c", """
            import http.server, os
            class H(http.server.BaseHTTPRequestHandler):
                def do_GET(self):
                    self.send_response(500 if os.path.exists(\(String(reflecting: flag))) else 200)
                    self.end_headers()
                def log_message(self, *a): pass
            s = http.server.ThreadingHTTPServer(("127.0.0.1", 0), H)
            print(s.server_address[1], flush=True)
            s.serve_forever()
            """])
        defer { kill(health.pid, SIGKILL); Spawn.wait(for: health.pid) }
        let port = try await offPool { TumultCLI.readUID(health) }
        let server = try await offPool { try TestServer(cli, inventory: inventory) }
        defer { server.stop() }
        let file = try writeTemporary(Self.workflow("guarded", """
                - name: entry
                  templateType: Parallel
                  children: [slow-web, slow-api, health]
            \(Self.delayLeaf("slow-web", app: "web", deadline: "120s"))
            \(Self.delayLeaf("slow-api", app: "api", deadline: "120s"))
                - name: health
                  templateType: StatusCheck
                  deadline: 120s
                  abortWithStatusCheck: true
                  statusCheck:
                    mode: Continuous
                    type: HTTP
                    intervalSeconds: 1
                    timeoutSeconds: 1
                    failureThreshold: 2
                    http: {url: "http://127.0.0.1:\(port)/", criteria: {statusCode: "200"}}
            """), "guarded.yaml")
        defer { try? FileManager.default.removeItem(atPath: file) }
        let applied = try await offPool { try cli.run(["apply", "-f", file, "--server", server.url]) }
        #expect(applied.status == 0, "\(applied.stdout)\(applied.stderr)")
        let started = Date()
        while try (0..<2).contains(where: { try star.snapshot($0) == before[$0] }) && Date().timeIntervalSince(started) < 10 {
            await pause(0.05)
        }
        #expect(try (0..<2).allSatisfy { try star.snapshot($0) != before[$0] })
        let uid = try #require(try Self.workflowUID(server, name: "guarded"))
        // Healthy probes do not stop anything.
        await pause(3)
        #expect(try (0..<2).allSatisfy { try star.snapshot($0) != before[$0] }, "recovered while the service was healthy")
        #expect(try Self.get("\(server.url)/api/workflows/\(uid)")["phase"] as? String == "Running")

        FileManager.default.createFile(atPath: flag, contents: Data())
        let failing = Date()
        var abortSeen: Date?, recoveredAt: Date?
        while (abortSeen == nil || recoveredAt == nil) && Date().timeIntervalSince(failing) < 10 {
            if abortSeen == nil, try Self.get("\(server.url)/api/workflows/\(uid)")["phase"] as? String == "Aborted" { abortSeen = Date() }
            if recoveredAt == nil, try (0..<2).allSatisfy({ try star.snapshot($0) == before[$0] }) { recoveredAt = Date() }
            await pause(0.02)
        }
        let aborted = try #require(abortSeen, "the workflow was never aborted")
        let recovered = try #require(recoveredAt, "the faults outlived the abort")
        print("status check abort: aborted \(String(format: "%.2f", aborted.timeIntervalSince(failing))) s after the service failed, "
              + "every fault recovered \(String(format: "%+.3f", recovered.timeIntervalSince(aborted))) s from the abort")
        #expect(recovered.timeIntervalSince(aborted) < 1.0)
        #expect(aborted.timeIntervalSince(failing) < 4.5, "two failed probes at 1 s intervals")
        let detail = try Self.get("\(server.url)/api/workflows/\(uid)")
        let nodes = ((detail["topology"] as? [String: Any])?["nodes"] as? [[String: Any]]) ?? []
        let check = nodes.first { $0["template"] as? String == "health" }
        #expect(check?["phase"] as? String == "Aborted")
        #expect(try (0..<2).map { try star.rtt(to: $0, count: 3) }.allSatisfy { $0 < 20 })
    }
}
