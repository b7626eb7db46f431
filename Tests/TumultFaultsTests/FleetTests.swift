import Foundation
import Testing
import TumultSystem

/// A fleet of three test hosts (network namespaces on a bridge, each with
/// its own `tumult daemon` inside, joined to `tumult server` outside) and
/// real traffic between them: PhysicalMachineChaos and pod kinds across
/// daemons, mutual TLS refusals, Chaos Mesh's own chaosd request, and the
/// dead-man's switch and journal replay after kill -9.
@Suite(.serialized, .enabled(if: getuid() == 0))
struct FleetTests {
    /// A delayed machine answers pings from the hub in at least this many ms (100 ms set).
    static let delayed = 90.0
    /// An undelayed one well under it.
    static let clear = 30.0

    /// A fleet of three daemons labelled tier=front, front, back, joined to a server.
    func frontFrontBack(lease: Int = 30, inventories: [String?] = [nil, nil, nil]) throws -> TestFleet {
        let fleet = try TestFleet()
        do {
            try fleet.startServer(lease: lease)
            for (index, tier) in ["front", "front", "back"].enumerated() {
                try fleet.startDaemon(index, labels: ["tier": tier], inventory: inventories[index])
            }
            try waitForMachines(fleet, count: 4)
        } catch {
            fleet.tearDown()
            throw error
        }
        return fleet
    }

    /// Waits until the server lists `count` machines (its own and the joined daemons), all reachable.
    func waitForMachines(_ fleet: TestFleet, count: Int) throws {
        let deadline = Date().addingTimeInterval(30)
        var last = ""
        while Date() < deadline {
            let (status, body) = try fleet.api("GET", "/api/machines")
            last = body
            if status == 200, let list = try? JSONSerialization.jsonObject(with: Data(body.utf8)) as? [[String: Any]],
               list.count == count, list.allSatisfy({ $0["reachable"] as? Bool == true }) { return }
            usleep(300_000)
        }
        throw SystemError.processFailed("the server does not list \(count) reachable machines: \(last)")
    }

    /// Applies a document and returns its uid.
    func apply(_ fleet: TestFleet, _ yaml: String) throws -> String {
        let (status, body) = try fleet.api("POST", "/api/experiments", body: yaml)
        guard status == 200 || status == 201,
              let object = try JSONSerialization.jsonObject(with: Data(body.utf8)) as? [String: Any],
              let uid = object["uid"] as? String else {
            throw SystemError.processFailed("apply failed (\(status)): \(body)")
        }
        return uid
    }

    /// The experiment's container records.
    func records(_ fleet: TestFleet, _ uid: String) throws -> [[String: Any]] {
        let (_, body) = try fleet.api("GET", "/api/experiments/\(uid)")
        let object = try JSONSerialization.jsonObject(with: Data(body.utf8)) as? [String: Any]
        let status = (object?["kube_object"] as? [String: Any])?["status"] as? [String: Any]
        return ((status?["experiment"] as? [String: Any])?["containerRecords"] as? [[String: Any]]) ?? []
    }

    /// Waits until `count` records are Injected; returns them.
    func waitInjected(_ fleet: TestFleet, _ uid: String, count: Int, timeout: TimeInterval = 30) throws -> [[String: Any]] {
        let deadline = Date().addingTimeInterval(timeout)
        var found: [[String: Any]] = []
        while Date() < deadline {
            found = try records(fleet, uid)
            if found.count == count && found.allSatisfy({ $0["phase"] as? String == "Injected" }) { return found }
            usleep(200_000)
        }
        let (_, body) = try fleet.api("GET", "/api/experiments/\(uid)")
        throw SystemError.processFailed("not injected on \(count) targets within \(Int(timeout)) s: \(body)")
    }

    /// RTTs from the hub to every machine.
    func rtts(_ fleet: TestFleet) throws -> [Double] {
        try fleet.machines.indices.map { try fleet.rtt(to: $0) }
    }

    @Test func physicalMachineChaosDelaysExactlyTheMachinesItsSelectorChooses() throws {
        let fleet = try frontFrontBack()
        defer { fleet.tearDown() }
        let baseline = try fleet.machines.indices.map { try fleet.snapshot($0) }
        let before = try rtts(fleet)
        #expect(before.allSatisfy { $0 < Self.clear }, "RTTs before: \(before)")

        let uid = try apply(fleet, """
            apiVersion: chaos-mesh.org/v1alpha1
            kind: PhysicalMachineChaos
            metadata: {name: front-delay, namespace: default}
            spec:
              action: network-delay
              mode: all
              selector:
                labelSelectors: {tier: front}
              network-delay:
                device: eth0
                latency: 100ms
              duration: 20s
            """)
        let injected = try waitInjected(fleet, uid, count: 2)
        #expect(Set(injected.compactMap { $0["nodeName"] as? String }) == Set([fleet.names[0], fleet.names[1]]))
        let start = Date()
        // Early, middle and late in the 20 s.
        for second in [2.0, 9.0, 16.0] {
            sleepUntil(start.addingTimeInterval(second))
            let now = try rtts(fleet)
            #expect(now[0] >= Self.delayed && now[1] >= Self.delayed && now[2] < Self.clear, "at \(Int(second)) s: \(now)")
        }
        let after = try waitUntil(timeout: 20) { try rtts(fleet).allSatisfy { $0 < Self.clear } }
        let left = try rtts(fleet)
        #expect(after, "the delay outlived the experiment: \(left)")
        #expect(try waitUntil(timeout: 10) { try fleet.machines.indices.map { try fleet.snapshot($0) } == baseline })
        let final = try records(fleet, uid)
        #expect(final.count == 2 && final.allSatisfy { $0["phase"] as? String == "Not Injected" && $0["recoveredCount"] as? Int == 1 })
    }

    @Test func aNetworkChaosSelectsPodsReportedByDifferentDaemons() throws {
        func pod(_ name: String, _ app: String, _ netns: String) -> String {
            "pods:\n  - {name: \(name), namespace: shop, netns: \(netns), labels: {app: \(app)}}\n"
        }
        let fleet = try TestFleet()
        defer { fleet.tearDown() }
        try fleet.startServer()
        for (index, app) in ["web", "web", "db"].enumerated() {
            try fleet.startDaemon(index, labels: [:], inventory: pod("\(app)-\(index + 1)", app, fleet.machines[index]))
        }
        try waitForMachines(fleet, count: 4)
        let (status, podsBody) = try fleet.api("GET", "/api/pods")
        #expect(status == 200 && podsBody.contains(fleet.names[0]) && podsBody.contains(fleet.names[2]), "pods: \(podsBody)")

        let uid = try apply(fleet, """
            apiVersion: chaos-mesh.org/v1alpha1
            kind: NetworkChaos
            metadata: {name: web-delay, namespace: shop}
            spec:
              action: delay
              mode: all
              selector: {namespaces: [shop], labelSelectors: {app: web}}
              delay: {latency: 100ms}
              duration: 15s
            """)
        let injected = try waitInjected(fleet, uid, count: 2)
        #expect(Set(injected.compactMap { $0["nodeName"] as? String }) == Set([fleet.names[0], fleet.names[1]]))
        #expect(Set(injected.compactMap { $0["id"] as? String }) == ["shop/web-1", "shop/web-2"])
        let start = Date()
        for second in [1.0, 7.0, 12.0] {
            sleepUntil(start.addingTimeInterval(second))
            let now = try rtts(fleet)
            #expect(now[0] >= Self.delayed && now[1] >= Self.delayed && now[2] < Self.clear, "at \(Int(second)) s: \(now)")
        }
        // Each daemon holds exactly its own target's attack.
        for (index, expected) in [(0, true), (2, false)] {
            let answer = try fleet.agent(index, "GET", "/agent/v1/status")
            #expect(answer.status == 200 && answer.body.contains("\"activeAttacks\":0") != expected, "daemon \(index + 1): \(answer.body)")
        }
        #expect(try waitUntil(timeout: 20) { try rtts(fleet).allSatisfy { $0 < Self.clear } })
    }

    @Test func ioChaosAndTimeChaosRunThroughARemoteDaemon() throws {
        let target = try ProbeTarget()
        defer { target.tearDown() }
        let fleet = try TestFleet(machines: 1)
        defer { fleet.tearDown() }
        try fleet.startServer()
        try fleet.startDaemon(0, labels: [:], inventory:
            "pods:\n  - {name: probe, namespace: shop, netns: \(target.netns), labels: {app: probe}}\n")
        try waitForMachines(fleet, count: 2)
        let baseline = target.mountTable
        func realtimeSkew() throws -> Double {
            let before = Date().timeIntervalSince1970
            let answer = try target.ask(["op": "clocks"])
            return (answer["realtime"] as? Double ?? 0) - (before + Date().timeIntervalSince1970) / 2
        }
        let head = { (kind: String, name: String) in
            "apiVersion: chaos-mesh.org/v1alpha1\nkind: \(kind)\nmetadata: {name: \(name), namespace: shop}\nspec:\n"
                + "  mode: all\n  selector: {namespaces: [shop], labelSelectors: {app: probe}}\n  duration: 60s\n"
        }
        let time = try apply(fleet, head("TimeChaos", "skew") + "  timeOffset: -10m\n")
        let io = try apply(fleet, head("IOChaos", "slow") + "  action: latency\n  volumePath: \(target.volume)\n"
                           + "  methods: [write]\n  delay: 100ms\n")
        for uid in [time, io] {
            let injected = try waitInjected(fleet, uid, count: 1)
            #expect(injected.first?["nodeName"] as? String == fleet.names[0])
        }
        #expect(abs(try realtimeSkew() + 600) < 0.03)
        let slow = try target.writes("remote.db", count: 5)
        #expect(slow.milliseconds.allSatisfy { abs($0 - 100) <= 10 }, "\(slow.milliseconds)")

        for uid in [time, io] {
            let (status, body) = try fleet.api("DELETE", "/api/experiments/\(uid)")
            #expect(status == 200, "\(body)")
        }
        #expect(try waitUntil(timeout: 15) { abs(try realtimeSkew()) < 0.03 })
        #expect(try waitUntil(timeout: 15) { target.mountTable == baseline })
        let fast = try target.writes("remote.db", count: 5)
        #expect(fast.milliseconds.allSatisfy { $0 < 10 }, "\(fast.milliseconds)")
    }

    @Test func theAgentRefusesClientsWithoutTheFleetsCertificateTheTokenOrTLS() throws {
        let fleet = try TestFleet(machines: 1)
        defer { fleet.tearDown() }
        try fleet.startDaemon(0, labels: [:])
        let good = try fleet.agent(0, "GET", "/agent/v1/status")
        #expect(good.status == 200 && good.body.contains(fleet.names[0]), "\(good)")
        let anonymous = try fleet.agent(0, "GET", "/agent/v1/status", certificate: nil)
        #expect(anonymous.status != 200, "a client without a certificate was served: \(anonymous)")
        let intruder = try fleet.agent(0, "GET", "/agent/v1/status", certificate: "intruder")
        #expect(intruder.status != 200, "a certificate from another CA was served: \(intruder)")
        let wrongToken = try fleet.agent(0, "GET", "/agent/v1/status", token: "not-the-token")
        #expect(wrongToken.status == 401, "\(wrongToken)")
        let plain = try fleet.agent(0, "GET", "/agent/v1/status", scheme: "http")
        #expect(plain.status != 200, "plain HTTP was served: \(plain)")
        // And an injection attempt by the intruder changed nothing.
        let body = #"{"action":"delay","device":"eth0","latency":"100ms"}"#
        let attempt = try fleet.agent(0, "POST", "/api/attack/network", body: body, certificate: "intruder")
        #expect(attempt.status != 200)
        #expect(try fleet.rtt(to: 0) < Self.clear)
    }

    /// The request Chaos Mesh's PhysicalMachineChaos controller sends to
    /// chaosd (`controllers/chaosimpl/physicalmachinechaos/impl.go`): Go's
    /// headers in Go's order, the body's keys sorted as `json.Marshal` of a
    /// map sorts them, TLS with chaosd's server name; then its DELETE.
    @Test func chaosMeshsPhysicalMachineChaosRequestInjectsAndItsDeleteRecovers() throws {
        let fleet = try TestFleet(machines: 1)
        defer { fleet.tearDown() }
        try fleet.startDaemon(0, labels: [:])
        let baseline = try fleet.snapshot(0)
        let uid = UUID().uuidString.lowercased()
        let body = #"{"action":"delay","correlation":"0","device":"eth0","jitter":"0ms","latency":"100ms","uid":"\#(uid)"}"#
        let host = "\(fleet.address(of: 0)):31768"
        let post = "POST /api/attack/network HTTP/1.1\r\nHost: \(host)\r\nUser-Agent: Go-http-client/1.1\r\n"
            + "Content-Length: \(body.utf8.count)\r\nContent-Type: application/json\r\nAccept-Encoding: gzip\r\n\r\n" + body
        let injected = try chaosMeshCall(fleet, post)
        #expect(injected.hasPrefix("HTTP/1.1 200"), "\(injected)")
        #expect(injected.contains(#"{"status":200,"message":"attack successfully","uid":"\#(uid)"}"#), "\(injected)")
        #expect(try fleet.rtt(to: 0) >= Self.delayed)
        // Chaos Mesh retries with the same uid: the attack is not doubled.
        let again = try chaosMeshCall(fleet, post)
        #expect(again.hasPrefix("HTTP/1.1 200"), "\(again)")
        let listed = try fleet.agent(0, "GET", "/api/experiments/")
        #expect(listed.body.components(separatedBy: uid).count - 1 == 1, "\(listed.body)")

        let delete = "DELETE /api/attack/\(uid) HTTP/1.1\r\nHost: \(host)\r\nUser-Agent: Go-http-client/1.1\r\n"
            + "Content-Type: application/json\r\nAccept-Encoding: gzip\r\n\r\n"
        let recovered = try chaosMeshCall(fleet, delete)
        #expect(recovered.hasPrefix("HTTP/1.1 200"), "\(recovered)")
        #expect(recovered.contains(#"{"status":200,"message":"attack recover successfully","uid":"\#(uid)"}"#), "\(recovered)")
        #expect(try fleet.rtt(to: 0) < Self.clear)
        #expect(try waitUntil(timeout: 5) { try fleet.snapshot(0) == baseline })
        // Its retry of the DELETE changes nothing and succeeds (Chaos Mesh
        // takes 200 and 404 as recovered; chaosd's 500 here makes it retry forever).
        let retried = try chaosMeshCall(fleet, delete)
        #expect(retried.hasPrefix("HTTP/1.1 200") || retried.hasPrefix("HTTP/1.1 404"), "\(retried)")
        #expect(try fleet.snapshot(0) == baseline)
        // An id it never sent is chaosd's 404.
        let unknown = try chaosMeshCall(fleet, delete.replacingOccurrences(of: uid, with: UUID().uuidString.lowercased()))
        #expect(unknown.hasPrefix("HTTP/1.1 404"), "\(unknown)")
        // The health check chaosd answers.
        let health = try fleet.agent(0, "GET", "/api/system/health")
        #expect(health.status == 200 && health.body == #"{"status":0,"message":""}"#, "\(health)")
    }

    /// Sends raw request bytes over mutual TLS as Chaos Mesh's client does
    /// (its client certificate, `chaosd.chaos-mesh.org` as the server name)
    /// and returns what came back before the connection went quiet.
    func chaosMeshCall(_ fleet: TestFleet, _ request: String) throws -> String {
        let file = fleet.cli.home + "/request-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: fleet.cli.home, withIntermediateDirectories: true)
        try request.write(toFile: file, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(atPath: file) }
        let result = try fleet.runner.run(Command(["sh", "-c", """
            timeout 2 openssl s_client -quiet -ign_eof -connect "$1" -servername chaosd.chaos-mesh.org \
              -CAfile "$2/ca.pem" -cert "$2/controller.pem" -key "$2/controller-key.pem" -verify_return_error < "$3" 2>/dev/null
            """, "sh", "\(fleet.address(of: 0)):31768", fleet.certificates, file]))
        return result.stdout
    }

    @Test func aKilledServersFaultsAreRecoveredByEveryDaemonWithinTheLease() throws {
        let lease = 6
        let fleet = try frontFrontBack(lease: lease)
        defer { fleet.tearDown() }
        let baseline = try fleet.machines.indices.map { try fleet.snapshot($0) }
        let uid = try apply(fleet, """
            apiVersion: chaos-mesh.org/v1alpha1
            kind: PhysicalMachineChaos
            metadata: {name: all-delay, namespace: default}
            spec:
              action: network-delay
              mode: all
              selector:
                labelSelectors: {tier: front}
              network-delay: {device: eth0, latency: 100ms}
              duration: 10m
            """)
        _ = try waitInjected(fleet, uid, count: 2)
        #expect(try rtts(fleet)[0] >= Self.delayed)
        // Every daemon holds the server's lease, and the server renews it (every lease / 3).
        func renewedAt(_ index: Int) throws -> String? {
            let status = try fleet.agent(index, "GET", "/agent/v1/status")
            let object = try JSONSerialization.jsonObject(with: Data(status.body.utf8)) as? [String: Any]
            return ((object?["leases"] as? [[String: Any]])?.first?["renewedAt"]) as? String
        }
        let first = try (0..<2).map(renewedAt)
        #expect(first.allSatisfy { $0 != nil }, "a daemon holds no lease: \(first)\n\(fleet.server?.text ?? "")")
        usleep(useconds_t(lease) * 1_000_000 / 3 + 700_000)
        let later = try (0..<2).map(renewedAt)
        #expect(zip(first, later).allSatisfy { $0 != $1 && $1 != nil }, "not renewed: \(first) then \(later)\n\(fleet.server?.text ?? "")")

        // Frozen (SIGSTOP) past its lease, as a server cut off from its
        // daemons would be: both recover; thawed, its liveness check finds
        // the faults gone (FaultLost, saying why) and injects them afresh.
        let server = try #require(fleet.server)
        server.signal(SIGSTOP)
        let frozen = Date()
        let switched = try waitUntil(timeout: TimeInterval(lease + 5)) { try rtts(fleet).allSatisfy { $0 < Self.clear } }
        let frozenFor = Date().timeIntervalSince(frozen)
        server.signal(SIGCONT)
        #expect(switched, "a frozen server's faults were not recovered within the lease + 5 s")
        let again = try waitUntil(timeout: 20) { let now = try rtts(fleet); return now[0] >= Self.delayed && now[1] >= Self.delayed }
        let (_, events) = try fleet.api("GET", "/api/events?object_id=\(uid)")
        print("server frozen: recovered by the daemons in \(String(format: "%.1f", frozenFor)) s; thawed, injected again: \(again)")
        #expect(again && events.contains("FaultLost") && events.contains("dead-man"), "\(events)")

        fleet.killServer()
        let killed = Date()
        let recovered = try waitUntil(timeout: TimeInterval(lease + 5)) {
            try rtts(fleet).allSatisfy { $0 < Self.clear } && fleet.machines.indices.map { try fleet.snapshot($0) } == baseline
        }
        let took = Date().timeIntervalSince(killed)
        print("server killed with SIGKILL: every daemon recovered in \(String(format: "%.1f", took)) s (lease \(lease) s)")
        let left = try rtts(fleet)
        #expect(recovered, "not recovered within the lease + 5 s: \(left)")
        for index in 0..<2 {
            let status = try fleet.agent(index, "GET", "/agent/v1/status")
            #expect(status.body.contains("\"activeAttacks\":0"), "daemon \(index + 1): \(status.body)")
            #expect(fleet.daemons[index]?.text.contains("LeaseExpired") == true, "daemon \(index + 1) did not say why")
        }

        // The server back on the same port and home, its experiment still
        // running: it re-attaches (same controller id), matches the records
        // with what the daemons hold, and injects afresh what the switch recovered.
        try fleet.startServer(lease: lease, port: fleet.serverPort)
        let back = try waitUntil(timeout: 20) { let now = try rtts(fleet); return now[0] >= Self.delayed && now[1] >= Self.delayed }
        let detail = try fleet.api("GET", "/api/experiments/\(uid)").1
        #expect(back, "the restarted server did not inject again: \(detail)")
    }

    @Test func aServerStoppedWithSIGTERMRecoversItsFaultsOnEveryDaemonFirst() throws {
        let fleet = try frontFrontBack()
        defer { fleet.tearDown() }
        let uid = try apply(fleet, """
            apiVersion: chaos-mesh.org/v1alpha1
            kind: PhysicalMachineChaos
            metadata: {name: front-delay, namespace: default}
            spec:
              action: network-delay
              mode: all
              selector: {labelSelectors: {tier: front}}
              network-delay: {device: eth0, latency: 100ms}
              duration: 10m
            """)
        _ = try waitInjected(fleet, uid, count: 2)
        let server = try #require(fleet.server)
        server.signal(SIGTERM)
        let status = server.wait()
        // Recovered by the server on its way out, not by the 30 s lease.
        let now = try rtts(fleet)
        #expect(status == 0 && now.allSatisfy { $0 < Self.clear }, "exit \(status), RTTs \(now)\n\(server.text)")
        for index in 0..<2 {
            let answer = try fleet.agent(index, "GET", "/agent/v1/status")
            #expect(answer.body.contains("\"activeAttacks\":0"), "daemon \(index + 1): \(answer.body)")
        }
    }

    @Test func aKilledDaemonReplaysItsJournalAndTheServerEndsItsFaultOnTime() throws {
        let fleet = try frontFrontBack()
        defer { fleet.tearDown() }
        let baseline = try fleet.snapshot(0)
        // By address, as Chaos Mesh's deprecated field names chaosd servers.
        let uid = try apply(fleet, """
            apiVersion: chaos-mesh.org/v1alpha1
            kind: PhysicalMachineChaos
            metadata: {name: one-delay, namespace: default}
            spec:
              action: network-delay
              mode: all
              address: ["\(fleet.agentURL(0))"]
              network-delay: {device: eth0, latency: 100ms}
              duration: 20s
            """)
        _ = try waitInjected(fleet, uid, count: 1)
        let start = Date()
        sleepUntil(start.addingTimeInterval(3))
        fleet.killDaemon(0)
        try fleet.startDaemon(0, labels: ["tier": "front"])
        for second in [6.0, 12.0, 17.0] {
            sleepUntil(start.addingTimeInterval(second))
            let now = try fleet.rtt(to: 0)
            #expect(now >= Self.delayed, "at \(Int(second)) s, after the daemon's restart: \(now) ms")
        }
        #expect(try waitUntil(timeout: 25) { try fleet.rtt(to: 0) < Self.clear && fleet.snapshot(0) == baseline },
                "the fault outlived its experiment")
        let final = try waitRecords(fleet, uid) { $0.first?["phase"] as? String == "Not Injected" }
        #expect(final.count == 1 && final[0]["injectedCount"] as? Int == 1 && final[0]["recoveredCount"] as? Int == 1
                && final[0]["nodeName"] as? String == fleet.names[0], "\(final)")
        let status = try fleet.agent(0, "GET", "/agent/v1/status")
        #expect(status.body.contains("\"activeAttacks\":0"), "\(status.body)")
    }

    func waitRecords(_ fleet: TestFleet, _ uid: String, until condition: ([[String: Any]]) -> Bool) throws -> [[String: Any]] {
        let deadline = Date().addingTimeInterval(15)
        var found = try records(fleet, uid)
        while !condition(found) && Date() < deadline {
            usleep(200_000)
            found = try records(fleet, uid)
        }
        return found
    }

    func waitUntil(timeout: TimeInterval, _ condition: () throws -> Bool) throws -> Bool {
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            if try condition() { return true }
            usleep(250_000)
        }
        return try condition()
    }
}
