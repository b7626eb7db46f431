import Foundation
import Hummingbird
import HummingbirdTesting
import Testing
import TumultController
@testable import TumultDaemon
import TumultFaults
import TumultSystem
@testable import TumultServer

/// `/metrics` of a real `tumult server`, read back as Prometheus text:
/// every sample is parsed (a line that is not the text format fails the
/// test) and checked by name and labels.
@Suite struct MetricsTests {
    static func scrape(_ client: any TestClientProtocol, headers: HTTPFields = [:]) async throws -> PrometheusText {
        let response = try await client.execute(uri: "/metrics", method: .get, headers: headers)
        #expect(response.status == .ok)
        #expect(response.headers[.contentType] == "text/plain; version=0.0.4; charset=utf-8")
        return try PrometheusText(String(buffer: response.body))
    }

    @Test func workflowsByNamespaceAndPhase() async throws {
        try await LiveTestServer().run { client, parts in
            let created = try await client.execute(uri: "/api/workflows", method: .post,
                                                   headers: [.contentType: "application/yaml"],
                                                   body: ByteBuffer(string: """
                                                       apiVersion: chaos-mesh.org/v1alpha1
                                                       kind: Workflow
                                                       metadata: {name: waits, namespace: shop}
                                                       spec:
                                                         entry: entry
                                                         templates:
                                                           - {name: entry, templateType: Suspend, deadline: 1h}
                                                       """))
            #expect(created.status == .ok, "\(String(buffer: created.body))")
            await parts.controller.reconcile()
            let metrics = try await Self.scrape(client)
            #expect(metrics.types["chaos_controller_manager_chaos_workflows"] == "gauge")
            #expect(metrics.value("chaos_controller_manager_chaos_workflows", ["namespace": "shop", "phase": "Running"]) == 1)
            let uid = try #require(await parts.controller.allWorkflows().first?.uid)
            #expect(try await client.execute(uri: "/api/workflows/\(uid)", method: .delete).status == .ok)
            await parts.controller.reconcile()
            let after = try await Self.scrape(client)
            #expect(after.value("chaos_controller_manager_chaos_workflows", ["namespace": "shop", "phase": "Running"]) == 0)
        }
    }

    @Test func experimentsEventsAndRequestsByNameAndLabel() async throws {
        try await LiveTestServer().run { client, parts in
            let created = try await client.execute(uri: "/api/experiments", method: .post,
                                                   headers: [.contentType: "application/yaml"],
                                                   body: ByteBuffer(string: APITests.nowhere))
            #expect(created.status == .ok)
            let body = try JSONSerialization.jsonObject(with: Data(buffer: created.body)) as? [String: Any]
            let uid = try #require(body?["uid"] as? String)
            await parts.controller.reconcile()
            let metrics = try await Self.scrape(client)
            #expect(metrics.types["chaos_controller_manager_chaos_experiments"] == "gauge")
            #expect(metrics.value("chaos_controller_manager_chaos_experiments",
                                  ["kind": "NetworkChaos", "namespace": "shop", "phase": "failed"]) == 1)
            #expect(metrics.types["chaos_controller_manager_emitted_event_total"] == "counter")
            #expect(metrics.value("chaos_controller_manager_emitted_event_total",
                                  ["type": "Normal", "reason": "Created", "namespace": "shop"]) == 1)
            #expect(metrics.value("chaos_controller_manager_emitted_event_total",
                                  ["type": "Warning", "reason": "Failed", "namespace": "shop"]) == 1)
            #expect(metrics.value("tumult_halted", [:]) == 0)
            // Every kind's series exist from the start, at zero, so that rate() sees the first injection.
            for kind in parts.supportedKinds {
                #expect(metrics.value("tumult_active_faults", ["kind": kind.rawValue]) == 0)
                #expect(metrics.value("tumult_injection_duration_seconds_count", ["kind": kind.rawValue]) == 0)
                #expect(metrics.value("tumult_injections_total", ["kind": kind.rawValue, "result": "succeeded"]) == 0)
            }

            // The POST is timed under its route pattern.
            #expect(metrics.types["chaos_dashboard_http_request_duration_seconds"] == "histogram")
            let post = ["path": "/api/experiments", "method": "POST", "status": "200"]
            #expect(metrics.value("chaos_dashboard_http_request_duration_seconds_count", post) == 1)
            let buckets = metrics.buckets("chaos_dashboard_http_request_duration_seconds", post)
            #expect(buckets.first?.le == 0.0005 && buckets.last?.le == .infinity)
            #expect(buckets.last?.count == 1)
            #expect(zip(buckets, buckets.dropFirst()).allSatisfy { $0.count <= $1.count })

            // An experiment that is gone leaves its phase at 0, not stale at 1.
            #expect(try await client.execute(uri: "/api/experiments/\(uid)", method: .delete).status == .ok)
            await parts.controller.reconcile()
            let after = try await Self.scrape(client)
            #expect(after.value("chaos_controller_manager_chaos_experiments",
                                ["kind": "NetworkChaos", "namespace": "shop", "phase": "failed"]) == 0)
            #expect(after.value("chaos_controller_manager_emitted_event_total",
                                ["type": "Normal", "reason": "Archived", "namespace": "shop"]) == 1)
            // The previous scrape is timed under /metrics, and an id in a path is not a label.
            #expect(after.value("chaos_dashboard_http_request_duration_seconds_count",
                                ["path": "/metrics", "method": "GET", "status": "200"]) == 1)
            #expect(after.value("chaos_dashboard_http_request_duration_seconds_count",
                                ["path": "/api/experiments/{uid}", "method": "DELETE", "status": "200"]) == 1)
        }
    }

    @Test func metricsNeedTheBearerTokenWhenOneIsSet() async throws {
        try await LiveTestServer(token: "s3cret").run { client, _ in
            let refused = try await client.execute(uri: "/metrics", method: .get)
            #expect(refused.status == .unauthorized)
            let metrics = try await Self.scrape(client, headers: [.authorization: "Bearer s3cret"])
            #expect(metrics.value("chaos_dashboard_http_request_duration_seconds_count",
                                  ["path": "/metrics", "method": "GET", "status": "401"]) == 1)
        }
    }

    // MARK: Pure parts

    @Test func tcRulesCountTumultQdiscsAndFilters() {
        let qdiscs = """
            qdisc noqueue 0: dev lo root refcnt 2
            qdisc ingress ffff: dev veth-b parent ffff:fff1 ----------------
            qdisc htb 746d: dev veth-a root refcnt 3 r2q 10 default 0x1 direct_packets_stat 1 direct_qlen 1000
            qdisc tbf 746e: dev veth-a parent 746d:2 rate 1Mbit burst 10000b lat 0us
            qdisc netem 746d: dev tmt-ab12cd34 root refcnt 2 limit 1000 delay 100ms
            """
        let listing = HostRules.QdiscListing(qdiscs)
        #expect(listing.tumultQdiscs == 3)
        #expect(listing.classifyingDevices == ["veth-a"])
        #expect(listing.ingressDevices == ["veth-b"])
        #expect(listing.hasTumultDevice)
        let htbFilters = """
            filter protocol ip pref 1 u32 chain 0
            filter protocol ip pref 1 u32 chain 0 fh 800: ht divisor 1
            filter protocol ip pref 1 u32 chain 0 fh 800::800 order 2048 key ht 800 bkt 0 *flowid 746d:2 not_in_hw
              match 0a010203/ffffffff at 16
            filter protocol ip pref 1 u32 chain 0 fh 800::801 order 2049 key ht 800 bkt 0 *flowid 746d:2 not_in_hw
              match 0a010204/ffffffff at 16
            """
        #expect(HostRules.tumultFilters(htbFilters) == 2)
        let redirect = """
            filter protocol ip pref 49152 u32 chain 0 fh 800::800 order 2048 key ht 800 bkt 0 terminal flowid not_in_hw
              match 00000000/00000000 at 0
            \taction order 1: mirred (Egress Redirect to device tmt-ab12cd34) stolen
            """
        #expect(HostRules.tumultFilters(redirect) == 1)
        #expect(HostRules.QdiscListing("qdisc noqueue 0: dev lo root refcnt 2\n").tumultQdiscs == 0)
    }

    @Test func iptablesAndIpsetCountersOfTumultChainsAndSets() {
        let save = """
            # Generated by iptables-save v1.8.9 (nf_tables)
            *mangle
            :OUTPUT ACCEPT [0:0]
            :TMT-AB12CD34-OUT - [0:0]
            :TMT-AB12CD34-IN - [0:0]
            [4:336] -A OUTPUT -j TMT-AB12CD34-OUT
            [4:336] -A TMT-AB12CD34-OUT -o veth-a -j NFQUEUE --queue-num 1234 --queue-bypass
            [2:100] -A TMT-AB12CD34-OUT -o veth-a -p udp -j NFQUEUE --queue-num 1234 --queue-bypass
            [9:900] -A OTHER -j ACCEPT
            COMMIT
            """
        #expect(HostRules.chainPackets(iptablesSave: save) == ["TMT-AB12CD34-OUT": 6, "TMT-AB12CD34-IN": 0])
        let sets = """
            Name: tmt-ab12cd34
            Type: hash:net
            Number of entries: 3
            Name: someone-else
            Number of entries: 7
            """
        #expect(HostRules.setMembers(ipsetList: sets) == ["tmt-ab12cd34": 3])
    }

    @Test func requestPathsWithoutARouteAreCut() {
        #expect(HTTPMetricsMiddleware<BasicRequestContext>.pathLabel(route: "/api/experiments/{uid}", path: "/api/experiments/x") == "/api/experiments/{uid}")
        #expect(HTTPMetricsMiddleware<BasicRequestContext>.pathLabel(route: nil, path: "/a/b/c/d") == "/a/b/...")
        #expect(HTTPMetricsMiddleware<BasicRequestContext>.pathLabel(route: nil, path: "/") == "/")
    }

    @Test func engineStatisticsReadOlderFilesAndNameFilesSafely() throws {
        let old = try JSONDecoder().decode(EngineStatistics.self, from: Data(#"{"received":5,"dropped":1,"held":2}"#.utf8))
        #expect(old.received == 5 && old.dropped == 1 && old.delayed == 0 && old.held == 2)
        #expect(EngineStatistics.path(forAttack: "../../etc/x", in: "/run/d") == "/run/d/etcx.json")
    }
}

/// Real experiments on real namespaces, scraped while they run.
@Suite(.serialized, .enabled(if: getuid() == 0))
struct MetricsRootTests {
    /// Two namespaces joined by a veth pair; traffic stays between them.
    final class Pair: Sendable {
        let a: String
        let b: String
        let subnet: String
        var addressA: String { "\(subnet).1" }
        var addressB: String { "\(subnet).2" }
        static let runner = ProcessCommandRunner()

        init() throws {
            let tag = String(UInt32.random(in: 0..<UInt32.max), radix: 36)
            a = "tmt-\(tag)-a"
            b = "tmt-\(tag)-b"
            subnet = "10.\(Int.random(in: 200...249)).\(Int.random(in: 0...255))"
            do {
                try Self.sh(["ip", "netns", "add", a])
                try Self.sh(["ip", "netns", "add", b])
                try Self.sh(["ip", "link", "add", "tmt\(tag)a", "type", "veth", "peer", "name", "tmt\(tag)b"])
                try Self.sh(["ip", "link", "set", "tmt\(tag)a", "netns", a, "name", "veth-a"])
                try Self.sh(["ip", "link", "set", "tmt\(tag)b", "netns", b, "name", "veth-b"])
                try Self.sh(["ip", "-n", a, "addr", "add", "\(addressA)/24", "dev", "veth-a"])
                try Self.sh(["ip", "-n", b, "addr", "add", "\(addressB)/24", "dev", "veth-b"])
                for (ns, device) in [(a, "veth-a"), (b, "veth-b")] {
                    try Self.sh(["ip", "-n", ns, "link", "set", device, "up"])
                    try Self.sh(["ip", "-n", ns, "link", "set", "lo", "up"])
                }
            } catch {
                tearDown()
                throw error
            }
        }

        func tearDown() {
            _ = try? Self.runner.run(Command(["ip", "netns", "del", a]))
            _ = try? Self.runner.run(Command(["ip", "netns", "del", b]))
        }

        @discardableResult
        static func sh(_ arguments: [String]) throws -> CommandResult {
            try runner.check(Command(arguments), doing: "setting up the test namespaces")
        }

        /// What a fault could leave in A (counters left out: traffic changes them).
        func snapshot() throws -> String {
            var parts: [String] = []
            for command in [["tc", "qdisc", "show"], ["iptables-save"], ["ipset", "list", "-n"], ["ip", "-o", "link", "show"]] {
                let result = try Self.runner.run(NetworkNamespace.named(a).wrap(Command(command)))
                parts.append(result.stdout.split(separator: "\n").filter { !$0.hasPrefix("#") }.joined(separator: "\n"))
            }
            return parts.joined(separator: "\n---\n")
        }

        /// Pings B from A: traffic for the chains and the engine to count.
        func ping(count: Int) throws {
            _ = try Self.runner.run(NetworkNamespace.named(a).wrap(
                Command(["ping", "-c", String(count), "-i", "0.2", "-W", "2", addressB])))
        }
    }

    func document(_ name: String, pod: String, spec: String) -> String {
        """
        apiVersion: chaos-mesh.org/v1alpha1
        kind: NetworkChaos
        metadata: {name: \(name), namespace: shop}
        spec:
          mode: all
          selector: {pods: {shop: [\(pod)]}}
          duration: 5m
        \(spec)
        """
    }

    @Test func runningExperimentsShowInTheGaugesHistogramsAndHostCounters() async throws {
        let pair = try await offPool { try Pair() }
        defer { pair.tearDown() }
        let pod = "web-\(pair.a)"
        let inventory = FileManager.default.temporaryDirectory.appendingPathComponent("tmt-metrics-inventory-\(UUID().uuidString).yaml").path
        try """
            pods:
              - name: \(pod)
                namespace: shop
                netns: \(pair.a)
                labels: {app: metrics}
            """.write(toFile: inventory, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(atPath: inventory) }
        let before = try await offPool { try pair.snapshot() }

        var server = LiveTestServer()
        server.configuration.inventoryPath = inventory
        // The userspace backend on every kernel: iptables chains, an ipset and the engine.
        server.configuration.networkBackend = "userspace"
        let delay = document("metrics-delay", pod: pod, spec: """
              action: delay
              delay: {latency: 20ms}
              externalTargets: ["\(pair.addressB)"]
            """)
        // A tbf under Tumult's HTB for one peer: two qdiscs and one filter.
        let bandwidth = document("metrics-bandwidth", pod: pod, spec: """
              action: bandwidth
              bandwidth: {rate: 100mbps, limit: 100000, buffer: 100000}
              externalTargets: ["\(pair.addressB)"]
            """)

        try await server.run { client, parts in
            var failure: (any Error)?
            do {
                try await exercise(client, pair: pair, documents: [delay, bandwidth], before: before)
            } catch {
                failure = error
            }
            // Whatever happened, nothing stays on the host.
            guard let agent = parts.agent as? LocalHostAgent else { throw failure ?? CancellationError() }
            let journal = agent.journal, runner = agent.agent.runner
            _ = try? await offPool {
                let left = try journal.attacks().filter(\.needsRecovery).map(\.uid)
                return LocalHostAgent.recoverConcurrently(left, with: runner)
            }
            if let failure { throw failure }
        }
    }

    func exercise(_ client: any TestClientProtocol, pair: Pair, documents: [String], before: String) async throws {
        var uids: [String] = []
        for document in documents {
            let created = try await client.execute(uri: "/api/experiments", method: .post,
                                                   headers: [.contentType: "application/yaml"], body: ByteBuffer(string: document))
            #expect(created.status == .ok, "\(String(buffer: created.body))")
            let body = try JSONSerialization.jsonObject(with: Data(buffer: created.body)) as? [String: Any]
            uids.append(try #require(body?["uid"] as? String))
        }
        for uid in uids {
            let running = try await waitFor(timeout: 20) { try await status(client, uid) == "running" }
            let now = try await status(client, uid)
            #expect(running, "\(uid) is \(now ?? "gone")")
        }
        try await offPool { try pair.ping(count: 5) }

        // Engines write their counters once a second: wait for the write
        // that holds all five (a loaded machine may show four first).
        var metrics = try await MetricsTests.scrape(client)
        let deadline = ContinuousClock.now + .seconds(5)
        while (metrics.value("tumult_engine_packets_total", ["netns": pair.a, "verdict": "delayed"]) ?? 0) < 5
                || (metrics.value("tumult_engine_packets_total", ["netns": pair.a, "verdict": "queued"]) ?? 0) < 5,
              ContinuousClock.now < deadline {
            try await Task.sleep(for: .milliseconds(250))
            metrics = try await MetricsTests.scrape(client)
        }

        #expect(metrics.value("chaos_controller_manager_chaos_experiments",
                              ["namespace": "shop", "kind": "NetworkChaos", "phase": "running"]) == 2)
        #expect(metrics.value("tumult_active_faults", ["kind": "NetworkChaos"]) == 2)
        #expect(metrics.types["tumult_injection_duration_seconds"] == "histogram")
        let buckets = metrics.buckets("tumult_injection_duration_seconds", ["kind": "NetworkChaos"])
        #expect(buckets.first?.le == 0.001 && buckets.dropLast().last?.le == 10 && buckets.last?.le == .infinity)
        let injections = try #require(metrics.value("tumult_injection_duration_seconds_count", ["kind": "NetworkChaos"]))
        #expect(injections >= 2)
        #expect(buckets.last?.count == injections)
        #expect((metrics.value("tumult_injection_duration_seconds_sum", ["kind": "NetworkChaos"]) ?? 0) > 0)
        #expect(metrics.value("tumult_injections_total", ["kind": "NetworkChaos", "result": "succeeded"]) == injections)

        // The host: HTB + tbf + one u32 filter; the delay's chain and set; the engine.
        #expect(metrics.value("chaos_daemon_tcs_rules", ["netns": pair.a]) == 3)
        let chains = metrics.samples("chaos_daemon_iptables_packets", ["netns": pair.a])
        #expect(chains.count == 1 && chains.allSatisfy { $0.labels["chain"]?.hasPrefix("TMT-") == true })
        #expect(chains.allSatisfy { $0.value >= 5 }, "\(chains)")
        let sets = metrics.samples("chaos_daemon_ipset_members", ["netns": pair.a])
        #expect(sets.map(\.value) == [1, 1], "\(sets)")
        #expect((metrics.value("tumult_engine_packets_total", ["netns": pair.a, "verdict": "queued"]) ?? 0) >= 5)
        #expect((metrics.value("tumult_engine_packets_total", ["netns": pair.a, "verdict": "delayed"]) ?? 0) >= 5)
        #expect(metrics.value("tumult_engine_packets_total", ["netns": pair.a, "verdict": "duplicated"]) == 0)
        #expect(metrics.value("chaos_daemon_tcs_rules", ["netns": pair.b]) == 0)

        for uid in uids {
            #expect(try await client.execute(uri: "/api/experiments/\(uid)", method: .delete).status == .ok)
        }
        for uid in uids {
            #expect(try await waitFor(timeout: 20) { try await status(client, uid) == nil })
        }
        #expect(try await offPool { try pair.snapshot() } == before)

        let after = try await MetricsTests.scrape(client)
        #expect(after.value("chaos_controller_manager_chaos_experiments",
                            ["namespace": "shop", "kind": "NetworkChaos", "phase": "running"]) == 0)
        #expect(after.value("tumult_active_faults", ["kind": "NetworkChaos"]) == 0)
        #expect(after.value("chaos_daemon_tcs_rules", ["netns": pair.a]) == 0)
        #expect(after.samples("chaos_daemon_iptables_packets", ["netns": pair.a]).isEmpty)
        #expect(after.samples("chaos_daemon_ipset_members", ["netns": pair.a]).isEmpty)
        #expect((after.value("tumult_recovery_duration_seconds_count", ["kind": "NetworkChaos"]) ?? 0) >= 2)
        // The counters stay (they are totals), and the engine's file is gone with it.
        #expect((after.value("tumult_engine_packets_total", ["netns": pair.a, "verdict": "queued"]) ?? 0) >= 5)
    }

    /// The dashboard status of an experiment, nil once it is archived.
    func status(_ client: any TestClientProtocol, _ uid: String) async throws -> String? {
        let response = try await client.execute(uri: "/api/experiments/\(uid)", method: .get)
        guard response.status == .ok else { return nil }
        return (try JSONSerialization.jsonObject(with: Data(buffer: response.body)) as? [String: Any])?["status"] as? String
    }

    func waitFor(timeout seconds: Int, _ condition: () async throws -> Bool) async throws -> Bool {
        let deadline = ContinuousClock.now + .seconds(seconds)
        while ContinuousClock.now < deadline {
            if try await condition() { return true }
            try await Task.sleep(for: .milliseconds(100))
        }
        return try await condition()
    }

    /// Blocking work (commands, pings) on a thread of its own, never on one
    /// of the few cooperative threads the server needs.
    private func offPool<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { continuation in
            Thread { continuation.resume(with: Result { try body() }) }.start()
        }
    }
}

/// The Prometheus text format (0.0.4) as a test reads it: `# TYPE` lines
/// and samples `name{label="value",...} value`. Anything else that is not a
/// comment or blank is an error, so a malformed exposition fails the test.
struct PrometheusText: Sendable {
    struct Sample: Sendable, CustomStringConvertible {
        var name: String
        var labels: [String: String]
        var value: Double
        var description: String { "\(name)\(labels.sorted { $0.key < $1.key }) \(value)" }
    }

    struct ParseError: Error, CustomStringConvertible {
        var line: String
        var description: String { "not Prometheus text: \(line)" }
    }

    var types: [String: String] = [:]
    var samples: [Sample] = []

    init(_ text: String) throws {
        for line in text.split(separator: "\n", omittingEmptySubsequences: true) {
            if line.hasPrefix("#") {
                let fields = line.split(separator: " ", maxSplits: 3)
                if fields.count == 4, fields[1] == "TYPE" { types[String(fields[2])] = String(fields[3]) }
                continue
            }
            samples.append(try Self.sample(String(line)))
        }
    }

    static func sample(_ line: String) throws -> Sample {
        var rest = Substring(line)
        let name = rest.prefix { $0.isLetter || $0.isNumber || $0 == "_" || $0 == ":" }
        guard !name.isEmpty, !(name.first?.isNumber ?? true) else { throw ParseError(line: line) }
        rest = rest.dropFirst(name.count)
        var labels: [String: String] = [:]
        if rest.first == "{" {
            rest = rest.dropFirst()
            while rest.first != "}" {
                let key = rest.prefix { $0 != "=" }
                rest = rest.dropFirst(key.count)
                guard !key.isEmpty, rest.hasPrefix("=\"") else { throw ParseError(line: line) }
                rest = rest.dropFirst(2)
                var value = ""
                while let character = rest.first, character != "\"" {
                    rest = rest.dropFirst()
                    if character == "\\", let escaped = rest.first {
                        rest = rest.dropFirst()
                        value.append(escaped == "n" ? "\n" : escaped)
                    } else {
                        value.append(character)
                    }
                }
                guard rest.first == "\"" else { throw ParseError(line: line) }
                rest = rest.dropFirst()
                labels[String(key)] = value
                if rest.first == "," { rest = rest.dropFirst() }
                guard !rest.isEmpty else { throw ParseError(line: line) }
            }
            rest = rest.dropFirst()
        }
        let fields = rest.split(separator: " ")
        guard (1...2).contains(fields.count), let value = Self.number(fields[0]) else { throw ParseError(line: line) }
        return Sample(name: String(name), labels: labels, value: value)
    }

    static func number(_ text: Substring) -> Double? {
        switch text {
        case "+Inf": .infinity
        case "-Inf": -.infinity
        case "NaN": .nan
        default: Double(text)
        }
    }

    /// Samples of `name` whose labels include `labels`.
    func samples(_ name: String, _ labels: [String: String]) -> [Sample] {
        samples.filter { sample in sample.name == name && labels.allSatisfy { sample.labels[$0.key] == $0.value } }
    }

    /// The value of the one sample of `name` with exactly these labels.
    func value(_ name: String, _ labels: [String: String]) -> Double? {
        samples.first { $0.name == name && $0.labels == labels }?.value
    }

    /// A histogram's cumulative buckets for these labels, by `le`.
    func buckets(_ name: String, _ labels: [String: String]) -> [(le: Double, count: Double)] {
        samples(name + "_bucket", labels).filter { $0.labels.count == labels.count + 1 }
            .compactMap { sample in sample.labels["le"].flatMap { Self.number(Substring($0)) }.map { (le: $0, count: sample.value) } }
            .sorted { $0.le < $1.le }
    }
}
