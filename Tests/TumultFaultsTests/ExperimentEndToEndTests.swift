import Foundation
import Testing
import TumultSystem

/// A `tumult` process the test leaves running: its output is read on a
/// thread of its own (so it never blocks on a full pipe) and can be waited
/// for line by line.
final class RunningTumult: @unchecked Sendable {
    /// What the process printed, filled by the reader thread.
    final class Output: @unchecked Sendable {
        private let lock = NSLock()
        private var text = ""
        func append(_ more: String) { lock.withLock { text += more } }
        var value: String { lock.withLock { text } }
    }

    let child: Spawn.Child
    private let output = Output()
    private let reader: Thread
    private var exitStatus: Int32?

    convenience init(_ cli: TumultCLI, _ arguments: [String]) throws {
        self.init(child: try cli.start(arguments))
    }

    /// Reads the output of a process started elsewhere (`ip netns exec ... tumult daemon`).
    init(child: Spawn.Child) {
        let output = self.output
        self.child = child
        reader = Thread {
            var buffer = [UInt8](repeating: 0, count: 8192)
            var open = [child.stdout, child.stderr]
            while !open.isEmpty {
                var descriptors = open.map { pollfd(fd: $0, events: Int16(POLLIN), revents: 0) }
                if poll(&descriptors, nfds_t(descriptors.count), 200) <= 0 { continue }
                for descriptor in descriptors where descriptor.revents != 0 {
                    let count = read(descriptor.fd, &buffer, buffer.count)
                    if count > 0 {
                        output.append(String(decoding: buffer[0..<count], as: UTF8.self))
                    } else {
                        open.removeAll { $0 == descriptor.fd }
                    }
                }
            }
            close(child.stdout)
            close(child.stderr)
        }
        reader.start()
    }

    var text: String { output.value }

    /// Waits until the output contains `needle` `times` times; returns whether it did.
    @discardableResult
    func waitFor(_ needle: String, times: Int = 1, timeout: TimeInterval = 20) async -> Bool {
        let deadline = Date().addingTimeInterval(timeout)
        while text.components(separatedBy: needle).count - 1 < times && Date() < deadline { await pause(0.05) }
        return text.components(separatedBy: needle).count - 1 >= times
    }

    /// The same, blocking (for set-up code that is not async).
    @discardableResult
    func waitForBlocking(_ needle: String, timeout: TimeInterval = 20) -> Bool {
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            if text.contains(needle) { return true }
            usleep(50_000)
        }
        return text.contains(needle)
    }

    /// Waits for the process to end and returns its exit status.
    func wait() -> Int32 {
        if let exitStatus { return exitStatus }
        let status = Spawn.wait(for: child.pid)
        exitStatus = status
        while !reader.isFinished { usleep(10_000) }
        return status
    }

    func signal(_ number: Int32) { kill(child.pid, number) }
}

/// A `tumult server` on a free loopback port, with the test's own home.
final class TestServer: @unchecked Sendable {
    let process: RunningTumult
    let url: String

    init(_ cli: TumultCLI, inventory: String) throws {
        process = try RunningTumult(cli, ["server", "--listen", "127.0.0.1:0", "--inventory", inventory])
        guard process.waitForBlocking("listening on http://"),
              let line = process.text.split(separator: "\n").first(where: { $0.contains("listening on http://") }),
              let address = line.split(separator: " ").last else {
            process.signal(SIGKILL)
            _ = process.wait()
            throw SystemError.processFailed("tumult server did not start: \(process.text)")
        }
        url = String(address)
    }

    func stop() {
        process.signal(SIGTERM)
        _ = process.wait()
    }
}

/// Runs blocking work (commands, pings, waits) on a thread of its own, so
/// that long root tests never hold one of the few cooperative threads the
/// other suites' servers and clients need.
func offPool<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
    try await withCheckedThrowingContinuation { continuation in
        Thread { continuation.resume(with: Result { try body() }) }.start()
    }
}

func pause(_ seconds: Double) async {
    try? await Task.sleep(for: .milliseconds(Int(seconds * 1000)))
}

func writeTemporary(_ text: String, _ name: String) throws -> String {
    let path = FileManager.default.temporaryDirectory.appendingPathComponent("tmt-\(UUID().uuidString)-\(name)").path
    try text.write(toFile: path, atomically: true, encoding: .utf8)
    return path
}

/// Experiments from document to host and back, as a user runs them: the
/// real `tumult run` and `tumult server`, real namespaces, real traffic.
@Suite(.serialized, .enabled(if: getuid() == 0))
struct ExperimentEndToEndTests {
    func delay(_ name: String, selector: String, mode: String = "mode: all", duration: String? = "30s", latency: String = "100ms") -> String {
        """
        apiVersion: chaos-mesh.org/v1alpha1
        kind: NetworkChaos
        metadata: {name: \(name), namespace: default}
        spec:
          action: delay
          \(mode)
          selector: \(selector)
          delay: {latency: \(latency)}
        \(duration.map { "  duration: \($0)" } ?? "")
        """
    }

    @Test func runDelaysExactlyTwoOfThreeLabelledPods() async throws {
        let star = try TestStar(pods: 4)
        defer { star.tearDown() }
        let cli = TumultCLI()
        defer { cli.removeHome() }
        let inventory = try star.inventory(labels: [["app": "web"], ["app": "web"], ["app": "web"], ["app": "db"]])
        defer { try? FileManager.default.removeItem(atPath: inventory) }
        let before = try await offPool { try (0..<4).map(star.snapshot) }
        let baseline = try await offPool { try (0..<4).map { try star.rtt(to: $0) } }
        let file = try writeTemporary(delay("two-of-three", selector: "{labelSelectors: {app: web}}",
                                            mode: "mode: fixed\n  value: \"2\"", duration: "12s"), "run.yaml")
        let journal = file + ".journal.json"
        defer { try? FileManager.default.removeItem(atPath: file); try? FileManager.default.removeItem(atPath: journal) }

        let run = try RunningTumult(cli, ["run", "-f", file, "--inventory", inventory, "--journal", journal])
        // Both injections are reported before the measurement.
        #expect(await run.waitFor("Applied", times: 2, timeout: 15), "\(run.text)")
        let during = try await offPool { try (0..<4).map { try star.rtt(to: $0) } }
        let delayed = (0..<4).filter { during[$0] - baseline[$0] > 70 }
        #expect(delayed.count == 2, "RTT before \(baseline), during \(during)")
        #expect(!delayed.contains(3), "the db pod was delayed")
        for index in delayed { #expect(during[index] - baseline[index] < 160) }

        let status = try await offPool { run.wait() }
        #expect(status == 0, "\(run.text)")
        #expect(run.text.contains("ok: 1 experiment, 2 targets injected and recovered"))
        #expect(try await offPool { try (0..<4).map(star.snapshot) } == before)
        let after = try await offPool { try (0..<4).map { try star.rtt(to: $0) } }
        for index in 0..<4 { #expect(after[index] - baseline[index] < 20) }

        let record = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: journal))) as? [String: Any]
        let steps = try #require(record?["steps"] as? [[String: Any]])
        let names = steps.compactMap { $0["step"] as? String }
        #expect(names.filter { $0 == "Applied" }.count == 2)
        #expect(names.filter { $0 == "Recovered" }.count == 2)
        #expect(steps.allSatisfy { ($0["time"] as? String)?.contains("T") == true })
    }

    @Test func runRecoversAtOnceWhenTheSteadyStateCheckFails() async throws {
        let star = try TestStar(pods: 1)
        defer { star.tearDown() }
        let cli = TumultCLI()
        defer { cli.removeHome() }
        let inventory = try star.inventory(labels: [["app": "web"]])
        defer { try? FileManager.default.removeItem(atPath: inventory) }
        let before = try star.snapshot(0)
        // A check that is healthy before the run and fails once the fault
        // is in: an HTTP server on loopback that answers 200 twice (before,
        // first probe), then 500.
        let server = try Spawn.start(["python3", "-c", """
            import http.server, sys
            count = 0
            class H(http.server.BaseHTTPRequestHandler):
                def do_GET(self):
                    global count
                    count += 1
                    self.send_response(200 if count <= 2 else 500)
                    self.end_headers()
                def log_message(self, *a): pass
            s = http.server.HTTPServer(("127.0.0.1", 0), H)
            print(s.server_address[1], flush=True)
            s.serve_forever()
            """])
        defer { kill(server.pid, SIGKILL); Spawn.wait(for: server.pid) }
        let port = try await offPool { TumultCLI.readUID(server) }
        let file = try writeTemporary(delay("checked", selector: "{labelSelectors: {app: web}}", duration: "60s"), "checked.yaml")
        defer { try? FileManager.default.removeItem(atPath: file) }
        let started = Date()
        let result = try await offPool {
            try cli.run(["run", "-f", file, "--inventory", inventory, "--check-url", "http://127.0.0.1:\(port)/",
                         "--check-interval", "0.3"])
        }
        #expect(result.status == 3, "\(result.stdout)\(result.stderr)")
        #expect(result.stderr.contains("steady state failed during the run"))
        #expect(Date().timeIntervalSince(started) < 15)
        #expect(try star.snapshot(0) == before)
    }

    @Test func aServerKilledWithSIGKILLIsReplacedAndTheNewOneEndsTheExperimentOnTime() async throws {
        let star = try TestStar(pods: 1)
        defer { star.tearDown() }
        let cli = TumultCLI()
        defer { cli.removeHome() }
        let inventory = try star.inventory(labels: [["app": "web"]])
        defer { try? FileManager.default.removeItem(atPath: inventory) }
        let before = try star.snapshot(0)
        let baseline = try await offPool { try star.rtt(to: 0) }

        let first = try await offPool { try TestServer(cli, inventory: inventory) }
        let file = try writeTemporary(delay("survivor", selector: "{labelSelectors: {app: web}}", duration: "30s"), "survivor.yaml")
        defer { try? FileManager.default.removeItem(atPath: file) }
        let applied = try await offPool { try cli.run(["apply", "-f", file, "--server", first.url]) }
        #expect(applied.status == 0, "\(applied.stdout)\(applied.stderr)")
        let created = Date()
        var waited = Date().addingTimeInterval(10)
        while try star.snapshot(0) == before && Date() < waited { await pause(0.1) }
        #expect(try await offPool { try star.rtt(to: 0) } - baseline > 70)

        first.process.signal(SIGKILL)
        _ = try await offPool { first.process.wait() }
        // The fault outlives the server: it is the host's, journaled.
        #expect(try await offPool { try star.rtt(to: 0) } - baseline > 70)
        let second = try await offPool { try TestServer(cli, inventory: inventory) }
        defer { second.stop() }
        let listed = try await offPool { try cli.run(["get", "experiments", "--server", second.url, "-o", "json"]) }
        #expect(listed.stdout.contains("survivor"))
        #expect(listed.stdout.contains("\"running\""), "\(listed.stdout)")

        // Still in place a little before the end, gone on time after it.
        let early = created.addingTimeInterval(27).timeIntervalSinceNow
        if early > 0 { await pause(early) }
        #expect(try star.snapshot(0) != before, "recovered before its 30 s were over")
        waited = created.addingTimeInterval(34)
        while try star.snapshot(0) != before && Date() < waited { await pause(0.1) }
        let recoveredAt = Date().timeIntervalSince(created)
        #expect(try star.snapshot(0) == before)
        #expect(recoveredAt < 33, "recovered \(recoveredAt) s after creation")
        #expect(try await offPool { try star.rtt(to: 0) } - baseline < 20)
    }

    @Test func haltRecoversFiveFaultsInUnderASecondAndRefusesUntilUnhalt() async throws {
        let star = try TestStar(pods: 5)
        defer { star.tearDown() }
        let cli = TumultCLI()
        defer { cli.removeHome() }
        let inventory = try star.inventory(labels: (1...5).map { ["app": "web-\($0)"] })
        defer { try? FileManager.default.removeItem(atPath: inventory) }
        let before = try (0..<5).map(star.snapshot)
        let server = try await offPool { try TestServer(cli, inventory: inventory) }
        defer { server.stop() }
        let documents = (1...5).map { delay("halt-\($0)", selector: "{labelSelectors: {app: web-\($0)}}", duration: nil) }
        let file = try writeTemporary(documents.joined(separator: "\n---\n"), "five.yaml")
        defer { try? FileManager.default.removeItem(atPath: file) }
        #expect(try await offPool { try cli.run(["apply", "-f", file, "--server", server.url]) }.status == 0)
        let deadline = Date().addingTimeInterval(20)
        while try (0..<5).contains(where: { try star.snapshot($0) == before[$0] }) && Date() < deadline { await pause(0.1) }
        #expect(try (0..<5).allSatisfy { try star.snapshot($0) != before[$0] }, "not all five faults were injected")

        let started = Date()
        let halt = try await offPool { try cli.run(["halt", "--server", server.url]) }
        let elapsed = Date().timeIntervalSince(started)
        #expect(halt.status == 0, "\(halt.stdout)\(halt.stderr)")
        print("tumult halt: \(halt.stdout.trimmingCharacters(in: .whitespacesAndNewlines)) (\(Int(elapsed * 1000)) ms with process start)")
        #expect(try (0..<5).map(star.snapshot) == before)
        #expect(elapsed < 1.5, "tumult halt took \(elapsed) s, process start included")
        let words = halt.stdout.split(separator: " ")
        let reported = words.firstIndex { $0 == "in" }.flatMap { $0 + 1 < words.count ? Double(words[$0 + 1]) : nil }
        #expect((reported ?? 1e9) < 1000, "\(halt.stdout)")

        let late = try writeTemporary(delay("late", selector: "{labelSelectors: {app: web-1}}"), "late.yaml")
        let later = try writeTemporary(delay("later", selector: "{labelSelectors: {app: web-1}}", duration: "2s"), "later.yaml")
        defer { try? FileManager.default.removeItem(atPath: late); try? FileManager.default.removeItem(atPath: later) }
        let refused = try await offPool { try cli.run(["apply", "-f", late, "--server", server.url]) }
        #expect(refused.status != 0)
        #expect((refused.stdout + refused.stderr).contains("halted"))
        #expect(try await offPool { try cli.run(["unhalt", "--server", server.url]) }.status == 0)
        let accepted = try await offPool { try cli.run(["apply", "-f", later, "--server", server.url]) }
        #expect(accepted.status == 0, "\(accepted.stdout)\(accepted.stderr)")
    }

    @Test func haltWithoutAServerStopsTheHostsOwnAttacks() async throws {
        let star = try TestStar(pods: 1)
        defer { star.tearDown() }
        let cli = TumultCLI()
        defer { cli.removeHome() }
        let before = try star.snapshot(0)
        let nowhere = "http://127.0.0.1:9"
        let attack = try await offPool { try cli.run(["attack", "network", "delay", "--netns", star.pods[0], "--latency", "50ms"]) }
        #expect(attack.status == 0, "\(attack.stderr)")
        #expect(try star.snapshot(0) != before)
        let halt = try await offPool { try cli.run(["halt", "--server", nowhere]) }
        #expect(halt.status == 0, "\(halt.stdout)\(halt.stderr)")
        #expect(halt.stdout.contains("halted: 1 fault recovered"))
        #expect(try star.snapshot(0) == before)
        let refused = try await offPool { try cli.run(["attack", "network", "loss", "--netns", star.pods[0], "--percent", "10"]) }
        #expect(refused.status != 0)
        #expect(refused.stderr.contains("halted"))
        #expect(try star.snapshot(0) == before)
        #expect(try await offPool { try cli.run(["unhalt", "--server", nowhere]) }.status == 0)
        let again = try await offPool { try cli.run(["attack", "network", "loss", "--netns", star.pods[0], "--percent", "10"]) }
        #expect(again.status == 0, "\(again.stderr)")
        #expect(try await offPool { try cli.run(["recover", "--all"]) }.status == 0)
        #expect(try star.snapshot(0) == before)
    }

    @Test func chaosdAttackAPIInjectsIntoANamespaceAndRecovers() async throws {
        let star = try TestStar(pods: 1)
        defer { star.tearDown() }
        let cli = TumultCLI()
        defer { cli.removeHome() }
        let inventory = try star.inventory(labels: [["app": "web"]])
        defer { try? FileManager.default.removeItem(atPath: inventory) }
        let before = try star.snapshot(0)
        let baseline = try await offPool { try star.rtt(to: 0) }
        let server = try await offPool { try TestServer(cli, inventory: inventory) }
        defer { server.stop() }
        // chaosd's client is curl; python's urllib stands in for it here.
        func call(_ method: String, _ path: String, _ body: String? = nil) async throws -> String {
            let script = """
                import sys, urllib.request, urllib.error
                request = urllib.request.Request(sys.argv[1], data=sys.argv[3].encode() if len(sys.argv) > 3 else None,
                                                 method=sys.argv[2], headers={"Content-Type": "application/json"})
                try:
                    print(urllib.request.urlopen(request).read().decode())
                except urllib.error.HTTPError as error:
                    print(error.code, error.read().decode())
                """
            let result = try await offPool { try Spawn.run(["python3", "-c", script, server.url + path, method] + (body.map { [$0] } ?? [])) }
            return result.stdout + result.stderr
        }
        let answer = try await call("POST", "/api/attack/network",
                                    #"{"action": "delay", "latency": "100ms", "device": "eth0", "netns": "\#(star.pods[0])"}"#)
        let reply = try #require(try JSONSerialization.jsonObject(with: Data(answer.utf8)) as? [String: Any], "\(answer)")
        let uid = try #require(reply["uid"] as? String)
        #expect(reply["message"] as? String == "attack successfully")
        #expect(try await offPool { try star.rtt(to: 0) } - baseline > 70)
        let listed = try await call("GET", "/api/experiments/")
        #expect(listed.contains(uid) && listed.contains("\"success\""))
        _ = try await call("DELETE", "/api/attack/\(uid)")
        #expect(try star.snapshot(0) == before)
        #expect(try await offPool { try star.rtt(to: 0) } - baseline < 20)
        #expect(try await call("GET", "/api/experiments/").contains("\"destroyed\""))
    }
}
