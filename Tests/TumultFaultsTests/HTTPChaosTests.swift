import Foundation
import Testing
import TumultSystem

/// HTTPChaos end to end: python3's http.server in B (keep-alive), clients
/// in A, the real `tumult` (run and server) injecting documents whose
/// selector picks B. Each rule acts on what it matches and nothing else.
@Suite(.serialized, .enabled(if: getuid() == 0, "needs root for network namespaces"))
struct HTTPChaosTests {
    let cli = TumultCLI()

    func document(_ name: String, spec: String) -> String {
        """
        apiVersion: chaos-mesh.org/v1alpha1
        kind: HTTPChaos
        metadata: {name: \(name), namespace: default}
        spec:
          selector: {namespaces: [default], labelSelectors: {app: web}}
          mode: all
          port: \(ProxyTestbed.httpPort)
        \(spec)
        """
    }

    /// Runs `tumult run` of one HTTPChaos document on B; `body` once the
    /// proxy is in place; then waits for the run to end and checks B.
    func whileRunning(_ bed: ProxyTestbed, _ name: String, _ spec: String, _ body: () throws -> Void) throws {
        let before = try bed.snapshot()
        let inventory = try bed.inventory(app: "web")
        let file = try writeTemporary(document(name, spec: spec), "\(name).yaml")
        defer {
            try? FileManager.default.removeItem(atPath: inventory)
            try? FileManager.default.removeItem(atPath: file)
        }
        let run = try RunningTumult(cli, ["run", "-f", file, "--inventory", inventory, "--journal", cli.home + "/journal"])
        defer { run.signal(SIGKILL); _ = run.wait() }
        #expect(ProxyTestbed.waitUntil { (try? bed.snapshot()) != before }, "no redirect: \(run.text)")
        try body()
        // Ctrl-C ends the run early; it recovers before it exits.
        run.signal(SIGINT)
        _ = run.wait()
        #expect(try bed.snapshot() == before, "B's namespace is not at its baseline")
        #expect(ProxyTestbed.waitUntil { ProxyTestbed.proxies.isEmpty }, "a proxy is left")
    }

    /// `tumult server` over B with `spec` applied as HTTPChaos `name`, once
    /// it is in place; the caller stops the server.
    func serverApplying(_ bed: ProxyTestbed, _ name: String, _ spec: String) async throws -> (TestServer, inventory: String, file: String) {
        let before = try bed.snapshot()
        let inventory = try bed.inventory(app: "web")
        let file = try writeTemporary(document(name, spec: spec), "\(name).yaml")
        let server = try await offPool { [cli] in try TestServer(cli, inventory: inventory) }
        let applied = try await offPool { [cli] in try cli.run(["apply", "-f", file, "--server", server.url]) }
        #expect(applied.status == 0, "\(applied.stdout)\(applied.stderr)")
        #expect(ProxyTestbed.waitUntil { (try? bed.snapshot()) != before }, "no redirect")
        return (server, inventory, file)
    }

    func withBed(_ body: (ProxyTestbed) throws -> Void) throws {
        try ProxyTestbed.with(cli, body)
    }

    @Test func abortClosesMatchingRequestsWhileOthersAnswer() throws {
        try withBed { bed in
            try whileRunning(bed, "abort", """
                  target: Request
                  method: GET
                  path: /api/*
                  abort: true
                  duration: 60s
                """) {
                for path in ["/api/users", "/api/orders/7"] {
                    let answer = try bed.http("GET", path)
                    #expect(answer["status"] == nil && answer["error"] != nil, "\(path): \(answer)")
                }
                #expect(try bed.http("GET", "/health")["status"] as? Int == 200)
                #expect(try bed.http("POST", "/api/users", body: "{}")["status"] as? Int == 200, "POST is not GET")
                #expect(try bed.http("GET", "/other")["status"] as? Int == 200)
            }
            #expect(try bed.http("GET", "/api/users")["status"] as? Int == 200)
        }
    }

    @Test func delayAddsTwoSecondsToOnePathOnlyEarlyMiddleAndLate() throws {
        try withBed { bed in
            let direct = try bed.http("GET", "/slow")["elapsed"] as? Double ?? 1
            try whileRunning(bed, "delay", """
                  target: Request
                  path: /slow
                  delay: 2s
                  duration: 60s
                """) {
                for _ in 0..<3 {
                    let slow = try bed.http("GET", "/slow")
                    let elapsed = slow["elapsed"] as? Double ?? 0
                    #expect(slow["status"] as? Int == 200)
                    #expect(abs(elapsed - direct - 2) <= 0.05, "/slow took \(elapsed) s (direct \(direct) s)")
                    let health = try bed.http("GET", "/health")["elapsed"] as? Double ?? 9
                    #expect(health < direct + 0.05, "/health took \(health) s")
                }
            }
        }
    }

    @Test func replaceCodeAndPatchBodyAndHeaderShowInResponses() throws {
        try withBed { bed in
            try whileRunning(bed, "unavailable", """
                  target: Response
                  path: /api/*
                  replace:
                    code: 503
                  duration: 60s
                """) {
                let replaced = try bed.http("GET", "/api/users")
                #expect(replaced["status"] as? Int == 503, "\(replaced)")
                let health = try bed.http("GET", "/health")
                #expect(health["status"] as? Int == 200)
            }
            try whileRunning(bed, "patched", """
                  target: Response
                  path: /api/*
                  patch:
                    body: {type: JSON, value: '{"injected": true, "nested": {"b": 2}, "status": null}'}
                    headers: [[X-Chaos, "yes"]]
                  duration: 60s
                """) {
                let answer = try bed.http("GET", "/api/users")
                #expect(answer["status"] as? Int == 200)
                let headers = answer["headers"] as? [String: String] ?? [:]
                #expect(headers["x-chaos"] == "yes", "\(headers)")
                let body = (answer["body"] as? String).flatMap { try? JSONSerialization.jsonObject(with: Data($0.utf8)) } as? [String: Any]
                #expect(body?["injected"] as? Bool == true, "\(answer)")
                #expect((body?["nested"] as? [String: Any])?["a"] as? Int == 1)
                #expect((body?["nested"] as? [String: Any])?["b"] as? Int == 2)
                #expect(body?["status"] == nil, "null deletes a key")
                #expect(body?["path"] as? String == "/api/users")
                #expect(try bed.http("GET", "/health")["body"] as? String == "ok")
            }
        }
    }

    @Test func aRequestMatchedByMethodAndHeaderOnlyIsReplaced() throws {
        try withBed { bed in
            try whileRunning(bed, "tenant", """
                  target: Request
                  method: POST
                  request_headers: {X-Tenant: blue}
                  replace:
                    path: /api/replaced
                    queries: {v: "2"}
                    headers: {X-Replaced: "1"}
                    body: \(Data("swapped".utf8).base64EncodedString())
                  duration: 60s
                """) {
                let blue = try bed.http("POST", "/api/orders", headers: ["X-Tenant": "blue"], body: "original")
                let echoed = (blue["body"] as? String).flatMap { try? JSONSerialization.jsonObject(with: Data($0.utf8)) } as? [String: Any]
                #expect(echoed?["path"] as? String == "/api/replaced?v=2", "\(blue)")
                #expect((echoed?["headers"] as? [String: String])?["x-replaced"] == "1")
                #expect(echoed?["body"] as? String == "swapped")
                for (method, tenant) in [("POST", "red"), ("GET", "blue")] {
                    let other = try bed.http(method, "/api/orders", headers: ["X-Tenant": tenant], body: method == "POST" ? "original" : nil)
                    let seen = (other["body"] as? String).flatMap { try? JSONSerialization.jsonObject(with: Data($0.utf8)) } as? [String: Any]
                    #expect(seen?["path"] as? String == "/api/orders", "\(method) \(tenant): \(other)")
                }
            }
        }
    }

    /// Pipelined keep-alive requests, a chunked response among them: the
    /// bytes through the proxy (no rule matching) equal the direct ones.
    @Test func unmatchedTrafficIsByteIdenticalThroughTheProxy() throws {
        try withBed { bed in
            let request = Array(("GET /api/a?x=1 HTTP/1.1\r\nHost: b\r\n\r\n"
                + "GET /chunked HTTP/1.1\r\nHost: b\r\n\r\n"
                + "POST /api/p HTTP/1.1\r\nHost: b\r\nContent-Length: 5\r\n\r\nhello"
                + "HEAD /health HTTP/1.1\r\nHost: b\r\n\r\n"
                + "GET /health HTTP/1.1\r\nHost: b\r\nConnection: close\r\n\r\n").utf8)
            let direct = try bed.raw(request)
            #expect(direct.count > 1500, "direct answer: \(direct.count) bytes")
            try whileRunning(bed, "unmatched", """
                  target: Response
                  path: /nowhere/*
                  replace: {code: 500}
                  duration: 60s
                """) {
                let proxied = try bed.raw(request)
                #expect(proxied == direct, "through the proxy: \(proxied.count) bytes, direct \(direct.count)")
            }
        }
    }

    /// Through the server: apply, measure, delete; and kill -9 of `tumult run`
    /// followed by `recover --all`.
    @Test func theServerAppliesAndDeletesAndAKilledRunIsRecovered() async throws {
        let bed = try ProxyTestbed()
        defer { bed.tearDown(); cli.removeHome() }
        let before = try bed.snapshot()
        let (server, inventory, file) = try await serverApplying(bed, "teapot", """
              target: Response
              path: /api/*
              replace: {code: 418}
              duration: 60s
            """)
        defer {
            server.stop()
            try? FileManager.default.removeItem(atPath: inventory)
            try? FileManager.default.removeItem(atPath: file)
        }
        #expect(ProxyTestbed.waitUntil { (try? bed.http("GET", "/api/x"))?["status"] as? Int == 418 }, "no 418 through the server")
        let deleted = try await offPool { [cli] in try cli.run(["delete", "httpchaos/teapot", "--server", server.url]) }
        #expect(deleted.status == 0, "\(deleted.stdout)\(deleted.stderr)")
        #expect(ProxyTestbed.waitUntil { (try? bed.snapshot()) == before }, "B is not at its baseline after delete")
        #expect(try bed.http("GET", "/api/x")["status"] as? Int == 200)

        let run = try RunningTumult(cli, ["run", "-f", file, "--inventory", inventory, "--journal", cli.home + "/journal"])
        #expect(ProxyTestbed.waitUntil { (try? bed.http("GET", "/api/x"))?["status"] as? Int == 418 }, "no 418 through tumult run")
        run.signal(SIGKILL)
        _ = run.wait()
        #expect(try bed.snapshot() != before)
        let recovered = try cli.run(["recover", "--all"])
        #expect(recovered.status == 0, "\(recovered.stdout)\(recovered.stderr)")
        #expect(try bed.snapshot() == before, "B is not at its baseline after recover --all")
        #expect(ProxyTestbed.proxies.isEmpty)
        #expect(try bed.http("GET", "/api/x")["status"] as? Int == 200)
    }

    /// A request held by a delay when the experiment is deleted still gets
    /// its answer, at once (the fault is over); the next one goes straight
    /// to the server.
    @Test func aRequestInFlightAtRecoveryIsAnswered() async throws {
        let bed = try ProxyTestbed()
        defer { bed.tearDown(); cli.removeHome() }
        let before = try bed.snapshot()
        let (server, inventory, file) = try await serverApplying(bed, "held", """
              target: Request
              path: /slow
              delay: 1500ms
              duration: 60s
            """)
        defer {
            server.stop()
            try? FileManager.default.removeItem(atPath: inventory)
            try? FileManager.default.removeItem(atPath: file)
        }
        let result = FileManager.default.temporaryDirectory.appendingPathComponent("tmt-held-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: result) }
        let client = try Spawn.start(["sh", "-c", "ip netns exec \(bed.network.a) python3 \(bed.script) http \(bed.network.addressB) \(ProxyTestbed.httpPort) GET /slow > \(result)"],
                                     captureOutput: false)
        await pause(0.4)
        let deleted = try await offPool { [cli] in try cli.run(["delete", "httpchaos/held", "--server", server.url]) }
        #expect(deleted.status == 0, "\(deleted.stdout)\(deleted.stderr)")
        _ = try await offPool { Spawn.wait(for: client.pid) }
        let answer = (try? JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: result)))) as? [String: Any] ?? [:]
        #expect(answer["status"] as? Int == 200, "the request in flight was cut: \(answer)")
        #expect((answer["elapsed"] as? Double ?? 9) < 1.4, "it was held past the recovery: \(answer)")
        #expect(ProxyTestbed.waitUntil { (try? bed.snapshot()) == before }, "B is not at its baseline")
        let after = try bed.http("GET", "/slow")
        #expect((after["elapsed"] as? Double ?? 9) < 0.5, "still delayed after recovery: \(after)")
    }
}
