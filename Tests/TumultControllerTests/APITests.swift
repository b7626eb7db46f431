import Foundation
import Hummingbird
import HummingbirdTesting
import Testing
import TumultController
import TumultModel
@testable import TumultServer

/// Every route of `tumult server`'s API against a real server (live HTTP on
/// a free loopback port, real store and journal in a temporary home). The
/// experiments here select pods that do not exist, so nothing touches the
/// host; injection for real is in the root end-to-end tests.
@Suite struct APITests {
    static let nowhere = """
        apiVersion: chaos-mesh.org/v1alpha1
        kind: NetworkChaos
        metadata: {name: web-delay, namespace: shop}
        spec:
          action: delay
          mode: all
          selector: {pods: {shop: [no-such-pod]}}
          delay: {latency: 100ms}
          duration: 1h
        """

    static let schedule = """
        apiVersion: chaos-mesh.org/v1alpha1
        kind: Schedule
        metadata: {name: nightly, namespace: shop}
        spec:
          schedule: "0 3 * * *"
          type: NetworkChaos
          historyLimit: 2
          networkChaos:
            action: loss
            mode: one
            selector: {pods: {shop: [no-such-pod]}}
            loss: {loss: "10"}
            duration: 10s
        """

    static let yaml: HTTPFields = [.contentType: "application/yaml"]

    static func json(_ body: ByteBuffer?) throws -> Any {
        try JSONSerialization.jsonObject(with: Data(buffer: body ?? ByteBuffer()), options: [.fragmentsAllowed])
    }

    static func object(_ body: ByteBuffer?) throws -> [String: Any] {
        try #require(try json(body) as? [String: Any])
    }

    static func array(_ body: ByteBuffer?) throws -> [[String: Any]] {
        try #require(try json(body) as? [[String: Any]])
    }

    static func post(_ client: any TestClientProtocol, _ path: String, _ text: String) async throws -> TestResponse {
        try await client.execute(uri: path, method: .post, headers: yaml, body: ByteBuffer(string: text))
    }

    @Test func experimentsCreateListGetStatePauseStartDelete() async throws {
        try await LiveTestServer().run { client, parts in
            let created = try await Self.post(client, "/api/experiments", Self.nowhere)
            #expect(created.status == .ok)
            let detail = try Self.object(created.body)
            let uid = try #require(detail["uid"] as? String)
            #expect(detail["result"] as? String == "created")
            #expect(detail["kind"] as? String == "NetworkChaos")
            let object = try #require(detail["kube_object"] as? [String: Any])
            #expect((object["metadata"] as? [String: Any])?["uid"] as? String == uid)
            #expect(try Self.object(try await Self.post(client, "/api/experiments", Self.nowhere).body)["result"] as? String == "unchanged")

            await parts.controller.reconcile()
            let list = try Self.array(try await client.execute(uri: "/api/experiments?namespace=shop&kind=NetworkChaos", method: .get).body)
            #expect(list.count == 1)
            #expect(list.first?["status"] as? String == "failed")
            #expect(try Self.array(try await client.execute(uri: "/api/experiments?namespace=other", method: .get).body).isEmpty)

            let got = try Self.object(try await client.execute(uri: "/api/experiments/\(uid)", method: .get).body)
            let status = try #require((got["kube_object"] as? [String: Any])?["status"] as? [String: Any])
            let conditions = try #require(status["conditions"] as? [[String: Any]])
            #expect(conditions.contains { $0["type"] as? String == "Selected" && $0["status"] as? String == "False" })
            #expect(got["failure"] as? String == "no target selected (selector matched 0 of \(await parts.fleet.pods().pods.count) pods)"
                    || (got["failure"] as? String)?.hasPrefix("no target selected") == true)
            #expect(((status["experiment"] as? [String: Any])?["desiredPhase"] as? String) == "Run")

            let state = try Self.object(try await client.execute(uri: "/api/experiments/state", method: .get).body)
            #expect(state["Failed"] as? Int == 1 && state["Running"] as? Int == 0)

            #expect(try await client.execute(uri: "/api/experiments/pause/\(uid)", method: .put).status == .ok)
            let paused = try Self.object(try await client.execute(uri: "/api/experiments/\(uid)", method: .get).body)
            let annotations = ((paused["kube_object"] as? [String: Any])?["metadata"] as? [String: Any])?["annotations"] as? [String: String]
            #expect(annotations?["experiment.chaos-mesh.org/pause"] == "true")
            #expect(try await client.execute(uri: "/api/experiments/start/\(uid)", method: .put).status == .ok)
            #expect(await parts.controller.experiment(uid)?.isPaused == false)

            #expect(try await client.execute(uri: "/api/experiments/\(uid)", method: .delete).status == .ok)
            await parts.controller.reconcile()
            #expect(try await client.execute(uri: "/api/experiments/\(uid)", method: .get).status == .notFound)
            let archives = try Self.array(try await client.execute(uri: "/api/archives?namespace=shop", method: .get).body)
            #expect(archives.first?["uid"] as? String == uid)
            let archive = try Self.object(try await client.execute(uri: "/api/archives/\(uid)", method: .get).body)
            #expect((archive["kube_object"] as? [String: Any])?["status"] != nil)

            let events = try Self.array(try await client.execute(uri: "/api/events?object_id=\(uid)&limit=50", method: .get).body)
            let reasons = events.compactMap { $0["reason"] as? String }
            #expect(reasons.contains("Created") && reasons.contains("Archived"))
            #expect(events.allSatisfy { $0["object_id"] as? String == uid && $0["namespace"] as? String == "shop" })
            #expect(try Self.array(try await client.execute(uri: "/api/events?limit=2", method: .get).body).count == 2)
        }
    }

    @Test func deletingSeveralByUIDs() async throws {
        try await LiveTestServer().run { client, parts in
            var uids: [String] = []
            for name in ["one", "two"] {
                let body = try Self.object(try await Self.post(client, "/api/experiments",
                                                               Self.nowhere.replacingOccurrences(of: "web-delay", with: name)).body)
                uids.append(try #require(body["uid"] as? String))
            }
            #expect(try await client.execute(uri: "/api/experiments?uids=\(uids.joined(separator: ","))", method: .delete).status == .ok)
            await parts.controller.reconcile()
            #expect(await parts.controller.allExperiments().isEmpty)
        }
    }

    @Test func anInvalidDocumentIs400WithEveryFieldPathAndChangesNothing() async throws {
        try await LiveTestServer().run { client, parts in
            let bad = Self.nowhere.replacingOccurrences(of: "100ms", with: "90xs").replacingOccurrences(of: "mode: all", with: "mode: fixed\n  value: \"0\"")
            let response = try await Self.post(client, "/api/experiments", bad)
            #expect(response.status == .badRequest)
            let body = try Self.object(response.body)
            #expect(body["code"] as? Int == 400)
            #expect(body["type"] as? String == "ValidationError")
            let paths = try #require(body["errors"] as? [[String: Any]]).compactMap { $0["path"] as? String }
            #expect(paths.contains("spec.delay.latency") && paths.contains("spec.value"))
            #expect((body["full_text"] as? String)?.contains("spec.delay.latency: \"90xs\" is not a duration") == true)
            #expect(await parts.controller.allExperiments().isEmpty)

            let notYAML = try await Self.post(client, "/api/experiments", "{ not: [yaml")
            #expect(notYAML.status == .badRequest)
            let unsupported = try await Self.post(client, "/api/experiments", """
                apiVersion: chaos-mesh.org/v1alpha1
                kind: JVMChaos
                metadata: {name: web}
                spec: {mode: all, selector: {}, action: latency, class: Main, method: hello, latency: 1000, port: 9277}
                """)
            #expect(unsupported.status == .badRequest)
            #expect(try Self.object(unsupported.body)["message"] as? String ?? "" == "JVMChaos is not supported on this host yet (supported: DNSChaos, HTTPChaos, IOChaos, NetworkChaos, PhysicalMachine, PhysicalMachineChaos, PodChaos, StressChaos, TCPChaos, TimeChaos)")
        }
    }

    @Test func aJSONDocumentAndSeveralYAMLDocumentsAreAccepted() async throws {
        try await LiveTestServer().run { client, parts in
            let json = """
                {"apiVersion": "chaos-mesh.org/v1alpha1", "kind": "NetworkChaos",
                 "metadata": {"name": "as-json", "namespace": "shop"},
                 "spec": {"action": "loss", "mode": "one", "selector": {"pods": {"shop": ["none"]}}, "loss": {"loss": "5"}}}
                """
            let response = try await client.execute(uri: "/api/experiments", method: .post, headers: [.contentType: "application/json"],
                                                    body: ByteBuffer(string: json))
            #expect(response.status == .ok)
            let many = try await Self.post(client, "/api/experiments", Self.nowhere + "\n---\n" + Self.schedule)
            #expect(try Self.array(many.body).map { $0["kind"] as? String } == ["NetworkChaos", "Schedule"])
            #expect(await parts.controller.allExperiments().count == 2)
            #expect(await parts.controller.allSchedules().count == 1)
        }
    }

    @Test func schedulesRoutes() async throws {
        try await LiveTestServer().run { client, parts in
            let created = try Self.object(try await Self.post(client, "/api/schedules", Self.schedule).body)
            let uid = try #require(created["uid"] as? String)
            #expect(created["schedule"] as? String == "0 3 * * *")
            let list = try Self.array(try await client.execute(uri: "/api/schedules?namespace=shop", method: .get).body)
            #expect(list.first?["type"] as? String == "NetworkChaos")
            let detail = try Self.object(try await client.execute(uri: "/api/schedules/\(uid)", method: .get).body)
            #expect(detail["experiment_uids"] as? [String] == [])
            #expect(try await client.execute(uri: "/api/schedules/pause/\(uid)", method: .put).status == .ok)
            #expect(try Self.object(try await client.execute(uri: "/api/schedules/state", method: .get).body)["Paused"] as? Int == 1)
            #expect(try await client.execute(uri: "/api/schedules/start/\(uid)", method: .put).status == .ok)
            #expect(await parts.controller.schedule(uid)?.isPaused == false)
            #expect(try await client.execute(uri: "/api/schedules/\(uid)", method: .delete).status == .ok)
            await parts.controller.reconcile()
            #expect(try await client.execute(uri: "/api/schedules/\(uid)", method: .get).status == .notFound)
            #expect(try Self.array(try await client.execute(uri: "/api/archives?kind=Schedule", method: .get).body).count == 1)
        }
    }

    @Test func commonRoutesAndPods() async throws {
        try await LiveTestServer().run { client, parts in
            let kinds = try #require(try Self.json(try await client.execute(uri: "/api/common/kinds", method: .get).body) as? [String])
            #expect(kinds.contains("NetworkChaos") && kinds.contains("Schedule"))
            let namespaces = try #require(try Self.json(try await client.execute(uri: "/api/common/namespaces", method: .get).body) as? [String])
            #expect(namespaces.contains("default"))
            let labels = try await client.execute(uri: "/api/common/labels?podNamespaceList=default", method: .get)
            let labelMap = try Self.json(labels.body) as? [String: [String]]
            #expect(labels.status == .ok && labelMap != nil)
            let config = try Self.object(try await client.execute(uri: "/api/common/config", method: .get).body)
            #expect(config["security_mode"] as? String == "false")
            let pods = try Self.array(try await client.execute(uri: "/api/pods", method: .get).body)
            #expect(pods.count == (await parts.fleet.pods().pods.count))
        }
    }

    @Test func haltRefusesNewExperimentsUntilUnhalt() async throws {
        try await LiveTestServer().run { client, _ in
            let halted = try Self.object(try await client.execute(uri: "/api/halt", method: .post).body)
            #expect(halted["halted"] as? Bool == true)
            // How long it takes is measured with real faults in the root
            // end-to-end test; here other suites may hold the CPU.
            #expect(halted["elapsed_ms"] as? Double != nil)
            #expect(try Self.object(try await client.execute(uri: "/api/halt", method: .get).body)["halted"] as? Bool == true)
            let refused = try await Self.post(client, "/api/experiments", Self.nowhere)
            #expect(refused.status == .conflict)
            #expect(try Self.object(refused.body)["type"] as? String == "Halted")
            #expect(try await client.execute(uri: "/api/halt", method: .delete).status == .ok)
            #expect(try await Self.post(client, "/api/experiments", Self.nowhere).status == .ok)
        }
    }

    @Test func aTokenIsRequiredWhenConfigured() async throws {
        try await LiveTestServer(token: "s3cret").run { client, _ in
            let without = try await client.execute(uri: "/api/experiments", method: .get)
            #expect(without.status == .unauthorized)
            #expect(try Self.object(without.body)["type"] as? String == "Unauthorized")
            let wrong = try await client.execute(uri: "/api/experiments", method: .get, headers: [.authorization: "Bearer nope"])
            #expect(wrong.status == .unauthorized)
            let right = try await client.execute(uri: "/api/experiments", method: .get, headers: [.authorization: "Bearer s3cret"])
            #expect(right.status == .ok)
        }
    }

    @Test func offLoopbackWithoutATokenDoesNotStart() async throws {
        var configuration = ServerConfiguration(home: FileManager.default.temporaryDirectory.appendingPathComponent("tmt-api-\(UUID().uuidString)"))
        configuration.host = "0.0.0.0"
        defer { try? FileManager.default.removeItem(at: configuration.home) }
        await #expect(throws: ControllerError.self) { _ = try await buildApplication(configuration: configuration, agent: try localAgent(configuration)) }
    }

    @Test func unknownUIDsAre404() async throws {
        try await LiveTestServer().run { client, _ in
            for (path, method) in [("/api/experiments/nope", HTTPRequest.Method.get), ("/api/experiments/nope", .delete),
                                   ("/api/experiments/pause/nope", .put), ("/api/schedules/nope", .get),
                                   ("/api/archives/nope", .get), ("/api/attack/nope", .delete)] {
                let response = try await client.execute(uri: path, method: method)
                #expect(response.status == .notFound, "\(method) \(path)")
                #expect(try Self.object(response.body)["type"] as? String == "NotFound")
            }
        }
    }

    @Test func chaosdAttackRoutesCheckTheirBodiesAndListTheJournal() async throws {
        try await LiveTestServer().run { client, _ in
            func attack(_ kind: String, _ json: String) async throws -> TestResponse {
                try await client.execute(uri: "/api/attack/\(kind)", method: .post, headers: [.contentType: "application/json"],
                                         body: ByteBuffer(string: json))
            }
            let badAction = try await attack("network", #"{"action": "explode", "netns": "nowhere"}"#)
            #expect(badAction.status == .badRequest)
            #expect(try #require(try Self.object(badAction.body)["errors"] as? [[String: Any]]).first?["path"] as? String == "action")
            let noLatency = try await attack("network", #"{"action": "delay", "netns": "nowhere"}"#)
            #expect(try Self.object(noLatency.body)["message"] as? String == "latency: required for delay")
            let badDuration = try await attack("network", #"{"action": "delay", "latency": "90xs", "netns": "nowhere"}"#)
            #expect((try Self.object(badDuration.body)["message"] as? String)?.hasPrefix("latency: \"90xs\" is not a duration") == true)
            let badPercent = try await attack("network", #"{"action": "loss", "percent": "150", "netns": "nowhere"}"#)
            #expect(badPercent.status == .badRequest)
            let missing = try await attack("stress", #"{"workers": 1}"#)
            #expect(try Self.object(missing.body)["message"] as? String == "action: required field is missing")
            let badSize = try await attack("stress", #"{"action": "mem", "size": "lots"}"#)
            #expect(badSize.status == .badRequest)
            let noProcess = try await attack("process", #"{"action": "kill"}"#)
            #expect(noProcess.status == .badRequest)
            let noSize = try await attack("disk", #"{"action": "fill", "path": "/tmp"}"#)
            #expect(noSize.status == .badRequest)
            #expect(try await attack("teleport", "{}").status == .notFound)
            // chaosd's list: the journal's attacks (none were made).
            let list = try await client.execute(uri: "/api/experiments/", method: .get)
            #expect(list.status == .ok)
            #expect(try Self.array(list.body).isEmpty)
        }
    }
}
