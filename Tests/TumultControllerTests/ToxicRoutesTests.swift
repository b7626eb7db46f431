import Foundation
import Hummingbird
import HummingbirdTesting
import Testing
import TumultAgent
import TumultController
import TumultModel
@testable import TumultServer

/// `tumult server`'s live toxics API (Toxiproxy's) over a running TCPChaos:
/// each change edits the experiment's toxics and reaches every injected
/// target through `reconfigure`, never a recovery. The host is a
/// recording fake; the proxy's real traffic is in the TCP fault's tests.
@Suite struct ToxicRoutesTests {
    static let json: HTTPFields = [.contentType: "application/json"]
    static let base = "/api/tcpchaos/shop/redis-slow/toxics"

    /// A server over a controller of `daemon` (TCPChaos and NetworkChaos
    /// supported), with one TCPChaos injected into the three web pods.
    static func withServer(_ daemon: ReconfiguringDaemon,
                           _ test: @escaping @Sendable (any TestClientProtocol, Controller) async throws -> Void) async throws {
        let home = FileManager.default.temporaryDirectory.appendingPathComponent("tmt-toxics-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: home) }
        var configuration = ServerConfiguration(home: home)
        configuration.port = 0
        let controller = try reconfiguringController(daemon, clock: ManualClock())
        let (application, _) = try buildApplication(configuration: configuration, experiments: controller,
                                                    supportedKinds: [.tcpChaos, .networkChaos])
        try await application.test(.router) { client in
            let applied = try await client.execute(uri: "/api/experiments", method: .post, headers: [.contentType: "application/yaml"],
                                                   body: ByteBuffer(string: tcpChaosYAML(toxics: "[{type: latency, attributes: {latency: 100}}]")))
            #expect(applied.status == .ok, "\(String(buffer: applied.body))")
            await controller.reconcile()
            try await test(client, controller)
        }
    }

    static func value(_ response: TestResponse) throws -> Value {
        try JSONDecoder().decode(Value.self, from: Data(buffer: response.body))
    }

    static func post(_ client: any TestClientProtocol, _ path: String, _ body: String) async throws -> TestResponse {
        try await client.execute(uri: path, method: .post, headers: json, body: ByteBuffer(string: body))
    }

    @Test func listAddUpdateRemove() async throws {
        let daemon = ReconfiguringDaemon()
        try await Self.withServer(daemon) { client, _ in
            // Toxiproxy's shape, every value in effect filled in.
            let listed = try await client.execute(uri: Self.base, method: .get)
            #expect(listed.status == .ok)
            #expect(String(buffer: listed.body) == #"[{"attributes":{"jitter":0,"latency":100},"name":"latency_downstream","#
                    + #""stream":"downstream","toxicity":1,"type":"latency"}]"#)

            let added = try await Self.post(client, Self.base, #"{"type": "bandwidth", "stream": "upstream", "attributes": {"rate": 64}}"#)
            #expect(added.status == .ok, "\(String(buffer: added.body))")
            #expect(String(buffer: added.body) == #"{"attributes":{"rate":64},"name":"bandwidth_upstream","stream":"upstream","toxicity":1,"type":"bandwidth"}"#)
            // Every injected target took the new toxics in place.
            #expect(await daemon.reconfigurations.count == 3)
            #expect(await daemon.recovered.isEmpty)
            #expect(await daemon.toxicsByTarget.values.allSatisfy { $0.map(\.effectiveName) == ["latency_downstream", "bandwidth_upstream"] })

            // Update merges attributes by key; the rest stays.
            let updated = try await Self.post(client, Self.base + "/latency_downstream", #"{"attributes": {"jitter": 20}, "toxicity": 0.5}"#)
            #expect(updated.status == .ok, "\(String(buffer: updated.body))")
            let toxic = try Self.value(updated).objectValue
            #expect(toxic?["attributes"] == .object(Value.Object([("jitter", .integer(20)), ("latency", .integer(100))])))
            #expect(toxic?["toxicity"] == .double(0.5))
            #expect(toxic?["stream"] == .string("downstream"))
            let one = try await client.execute(uri: Self.base + "/latency_downstream", method: .get)
            #expect(one.status == .ok)
            #expect(try Self.value(one) == Self.value(updated))
            // The stream of a toxic named by default changes; its name stays.
            let moved = try await Self.post(client, Self.base + "/latency_downstream", #"{"stream": "upstream"}"#)
            #expect(try Self.value(moved).objectValue?["name"] == .string("latency_downstream"))
            #expect(await daemon.reconfigurations.count == 9)

            let removed = try await client.execute(uri: Self.base + "/bandwidth_upstream", method: .delete)
            #expect(removed.status == .noContent)
            let after = try Self.value(try await client.execute(uri: Self.base, method: .get))
            guard case .array(let remaining) = after else { Issue.record("not a list: \(after)"); return }
            #expect(remaining.count == 1)
            #expect(await daemon.toxicsByTarget.values.allSatisfy { $0.map(\.effectiveName) == ["latency_downstream"] })
            #expect(await daemon.recovered.isEmpty)
        }
    }

    @Test func refusalsNameTheirCause() async throws {
        let daemon = ReconfiguringDaemon()
        try await Self.withServer(daemon) { client, controller in
            // A toxic of that name exists (given, or Toxiproxy's default).
            let duplicate = try await Self.post(client, Self.base, #"{"type": "latency", "attributes": {"latency": 5}}"#)
            #expect(duplicate.status == .conflict)
            let named = try await Self.post(client, Self.base, #"{"type": "timeout", "name": "latency_downstream"}"#)
            #expect(named.status == .conflict)

            // A bad toxic: 400 naming its field in the document.
            let negative = try await Self.post(client, Self.base, #"{"type": "latency", "name": "more", "attributes": {"latency": -5}}"#)
            #expect(negative.status == .badRequest)
            let problem = try Self.value(negative).objectValue
            #expect(problem?["message"]?.stringValue?.hasPrefix("invalid toxic: spec.toxics[1].attributes.latency:") == true)
            #expect(String(buffer: negative.body).contains(#""path":"spec.toxics[1].attributes.latency""#))
            let unknown = try await Self.post(client, Self.base, #"{"type": "slicer", "attributes": {"average_size": 10, "size": 3}}"#)
            #expect(unknown.status == .badRequest)
            #expect(String(buffer: unknown.body).contains("spec.toxics[1].attributes.size"))
            let badUpdate = try await Self.post(client, Self.base + "/latency_downstream", #"{"toxicity": 2}"#)
            #expect(badUpdate.status == .badRequest)
            #expect(String(buffer: badUpdate.body).contains("spec.toxics[0].toxicity"))
            let retyped = try await Self.post(client, Self.base + "/latency_downstream", #"{"type": "timeout"}"#)
            #expect(retyped.status == .badRequest)
            let notJSON = try await Self.post(client, Self.base, "[1, 2")
            #expect(notJSON.status == .badRequest)
            // Nothing of it reached the hosts.
            #expect(await daemon.reconfigurations.isEmpty)

            // Unknown experiment or toxic: 404; another kind by that name: 409.
            #expect(try await client.execute(uri: "/api/tcpchaos/shop/nothing/toxics", method: .get).status == .notFound)
            #expect(try await client.execute(uri: Self.base + "/no-such-toxic", method: .get).status == .notFound)
            #expect(try await client.execute(uri: Self.base + "/no-such-toxic", method: .delete).status == .notFound)
            #expect(try await Self.post(client, Self.base + "/no-such-toxic", #"{"toxicity": 1}"#).status == .notFound)
            let delay = try await client.execute(uri: "/api/experiments", method: .post, headers: [.contentType: "application/yaml"],
                                                 body: ByteBuffer(string: APITests.nowhere))
            #expect(delay.status == .ok)
            let otherKind = try await client.execute(uri: "/api/tcpchaos/shop/web-delay/toxics", method: .get)
            #expect(otherKind.status == .conflict)
            #expect(String(buffer: otherKind.body).contains("is a NetworkChaos"))
            // A body that is not JSON or YAML by its type is refused before it is read.
            let untyped = try await client.execute(uri: Self.base, method: .post, body: ByteBuffer(string: #"{"type": "timeout"}"#))
            #expect(untyped.status == .unsupportedMediaType)
            _ = controller
        }
    }

    /// A paused TCPChaos keeps its edited toxics for its next injection.
    @Test func aPausedExperimentsToxicsAreStoredForItsNextInjection() async throws {
        let daemon = ReconfiguringDaemon()
        try await Self.withServer(daemon) { client, controller in
            let uid = try #require(await controller.allExperiments().first?.uid)
            try await controller.setPaused(uid, true)
            await controller.reconcile()
            let added = try await Self.post(client, Self.base, #"{"type": "reset_peer", "attributes": {"timeout": 50}}"#)
            #expect(added.status == .ok)
            #expect(await daemon.reconfigurations.isEmpty)
            try await controller.setPaused(uid, false)
            await controller.reconcile()
            let injected = await daemon.toxicsByTarget
            #expect(injected.count == 3)
            #expect(injected.values.allSatisfy { $0.map(\.effectiveName) == ["latency_downstream", "reset_peer_downstream"] })
        }
    }
}
