import Foundation
import Hummingbird
import HummingbirdTesting
import Testing
import TumultController
import TumultModel
@testable import TumultServer

/// The dashboard's routes without a browser: assets and their caching, the
/// dry-run validation, the live stream, and which paths the token guards.
@Suite struct DashboardRoutesTests {
    func withServer(token: String? = nil,
                    _ test: @escaping @Sendable (any TestClientProtocol, ServerParts) async throws -> Void) async throws {
        let home = FileManager.default.temporaryDirectory.appendingPathComponent("tmt-dash-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: home) }
        var configuration = ServerConfiguration(home: home)
        configuration.port = 0
        configuration.token = token
        let (application, parts) = try await buildApplication(configuration: configuration, agent: try localAgent(configuration))
        try await application.test(.router) { client in try await test(client, parts) }
    }

    static func object(_ body: ByteBuffer?) throws -> [String: Any] {
        try #require(try JSONSerialization.jsonObject(with: Data(buffer: body ?? ByteBuffer())) as? [String: Any])
    }

    @Test func thePageAndItsAssetsAreServedWithTypesAndValidators() async throws {
        try await withServer { client, _ in
            let page = try await client.execute(uri: "/", method: .get)
            #expect(page.status == .ok)
            #expect(page.headers[.contentType] == "text/html; charset=utf-8")
            #expect(page.headers[.cacheControl] == "no-cache")
            let html = String(buffer: page.body)
            #expect(html.contains("id=\"emergency-stop\"") && html.contains("/assets/\(DashboardAssets.version)/app.js"))
            let etag = try #require(page.headers[.eTag])
            let again = try await client.execute(uri: "/", method: .get, headers: [.ifNoneMatch: etag])
            #expect(again.status == .notModified && again.body.readableBytes == 0)

            let head = try await client.execute(uri: "/", method: .head)
            #expect(head.status == .ok && head.headers[.eTag] == etag && head.body.readableBytes == 0)

            var total = page.body.readableBytes
            for (name, type) in [("app.js", "text/javascript; charset=utf-8"), ("api.js", "text/javascript; charset=utf-8"),
                                 ("ui.js", "text/javascript; charset=utf-8"), ("yaml.js", "text/javascript; charset=utf-8"),
                                 ("views.js", "text/javascript; charset=utf-8"), ("editor.js", "text/javascript; charset=utf-8"),
                                 ("app.css", "text/css; charset=utf-8")] {
                let asset = try await client.execute(uri: "/assets/\(DashboardAssets.version)/\(name)", method: .get)
                #expect(asset.status == .ok, "\(name)")
                #expect(asset.headers[.contentType] == type, "\(name)")
                #expect(asset.headers[.cacheControl] == "public, max-age=31536000, immutable", "\(name)")
                #expect(asset.headers[.eTag] != nil, "\(name)")
                total += asset.body.readableBytes
            }
            #expect(total < 200_000, "the first page weighs \(total) bytes")
            let old = try await client.execute(uri: "/assets/0123456789ab/app.js", method: .get)
            #expect(old.status == .ok && old.headers[.cacheControl] == "no-cache")
            #expect(try await client.execute(uri: "/assets/\(DashboardAssets.version)/nope.js", method: .get).status == .notFound)
        }
    }

    @Test func validateReportsEveryProblemWithItsPathAndAppliesNothing() async throws {
        try await withServer { client, parts in
            let bad = DashboardBrowserTests.nowhere.replacingOccurrences(of: "100ms", with: "90xs")
            let answer = try Self.object(try await client.execute(uri: "/api/validate", method: .post, headers: [.contentType: "application/yaml"],
                                                                  body: ByteBuffer(string: bad)).body)
            #expect(answer["valid"] as? Bool == false)
            let errors = try #require(answer["errors"] as? [[String: Any]])
            #expect(errors.contains { $0["path"] as? String == "spec.delay.latency" && $0["document"] as? Int == 1 })

            let good = try Self.object(try await client.execute(uri: "/api/validate", method: .post, headers: [.contentType: "application/yaml"],
                                                                body: ByteBuffer(string: DashboardBrowserTests.nowhere)).body)
            #expect(good["valid"] as? Bool == true)
            #expect((good["documents"] as? [[String: Any]])?.first?["kind"] as? String == "NetworkChaos")

            let syntax = try Self.object(try await client.execute(uri: "/api/validate", method: .post, headers: [.contentType: "application/yaml"],
                                                                  body: ByteBuffer(string: "spec:\n  a: [1, 2\n  b: 3\n")).body)
            #expect(syntax["valid"] as? Bool == false)
            #expect((syntax["errors"] as? [[String: Any]])?.first?["line"] as? Int != nil)

            let unsupported = try Self.object(try await client.execute(uri: "/api/validate", method: .post, headers: [.contentType: "application/yaml"], body: ByteBuffer(string: """
                apiVersion: chaos-mesh.org/v1alpha1
                kind: JVMChaos
                metadata: {name: web}
                spec: {mode: all, selector: {}, action: latency, class: Main, method: hello, latency: 1000, port: 9277}
                """)).body)
            #expect((unsupported["errors"] as? [[String: Any]])?.first?["path"] as? String == "kind")
            #expect(await parts.controller.allExperiments().isEmpty)
        }
    }

    @Test func theStreamSendsTheHaltStateAndEachUpdate() async throws {
        try await withServer { client, parts in
            async let streamed = client.execute(uri: "/api/stream", method: .get)
            try await Task.sleep(for: .milliseconds(500))
            let document = try #require(try DocumentLoader().load(DashboardBrowserTests.nowhere).first?.document)
            let (uid, _) = try await parts.controller.apply(document)
            await parts.controller.reconcile()
            // The stream ends when the controller does.
            await parts.controller.shutdown(recover: false)
            let response = try await streamed
            #expect(response.headers[.contentType] == "text/event-stream; charset=utf-8")
            let text = String(buffer: response.body)
            #expect(text.hasPrefix("retry: 2000\n"))
            #expect(text.contains("event: halt\ndata: {\"halted\":false}\n\n"))
            let update = try #require(text.components(separatedBy: "\n\n").first { $0.hasPrefix("event: update\n") && $0.contains(uid) }, "\(text)")
            let data = try Self.object(ByteBuffer(string: String(update.dropFirst("event: update\ndata: ".count))))
            #expect(data["kind"] as? String == "NetworkChaos" && data["uid"] as? String == uid)
            #expect(ExperimentStatusName(rawValue: data["status"] as? String ?? "") != nil)
        }
    }

    @Test func withATokenThePageIsOpenAndTheStreamTakesItInTheQuery() async throws {
        try await withServer(token: "s3cret") { (client: any TestClientProtocol, _: ServerParts) async throws in
            #expect(try await client.execute(uri: "/", method: .get).status == .ok)
            #expect(try await client.execute(uri: "/assets/\(DashboardAssets.version)/app.js", method: .get).status == .ok)
            #expect(try await client.execute(uri: "/api/validate", method: .post, headers: [.contentType: "application/yaml"], body: ByteBuffer(string: "{}")).status == .unauthorized)
            #expect(try await client.execute(uri: "/api/stream", method: .get).status == .unauthorized)
            #expect(try await client.execute(uri: "/api/stream?token=nope", method: .get).status == .unauthorized)
            // The query token opens only the stream.
            #expect(try await client.execute(uri: "/api/experiments?token=s3cret", method: .get).status == .unauthorized)
            #expect(try await client.execute(uri: "/api/experiments", method: .get, headers: [.authorization: "Bearer s3cret"]).status == .ok)
        }
    }
}
