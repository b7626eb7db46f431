import Foundation
import Hummingbird
import HummingbirdTesting
import Testing
import TumultController
import TumultModel
import TumultSystem
@testable import TumultServer

/// Unknown fields are refused by default, as kubectl 1.27 and later refuse
/// them: through the API's `?fieldValidation=` over live HTTP, through the
/// dry-run validation the dashboard's editor calls, and through the real
/// `tumult apply` binary against a live server. The experiments select
/// pods that do not exist, so nothing touches the host.
@Suite struct FieldValidationAPITests {
    /// `jitter` mistyped: without the check, the delay runs without its jitter.
    static let typo = APITests.nowhere.replacingOccurrences(of: "delay: {latency: 100ms}",
                                                            with: "delay: {latency: 100ms, jiter: 20ms}")
    static let path = "spec.delay.jiter"
    static let message = #"unknown field "jiter" (did you mean "jitter"?)"#

    static func errors(_ body: ByteBuffer?) throws -> [[String: Any]] {
        try #require(try APITests.object(body)["errors"] as? [[String: Any]])
    }

    @Test func theAPIRefusesUnknownFieldsByDefaultNamingTheirPath() async throws {
        #expect(Self.typo.contains("jiter"))
        try await LiveTestServer().run { client, parts in
            for uri in ["/api/experiments", "/api/experiments?fieldValidation=Strict"] {
                let refused = try await APITests.post(client, uri, Self.typo)
                #expect(refused.status == .badRequest, "\(uri)")
                let body = try APITests.object(refused.body)
                #expect(body["code"] as? Int == 400 && body["type"] as? String == "ValidationError")
                #expect(try Self.errors(refused.body).contains {
                    $0["path"] as? String == Self.path && $0["message"] as? String == Self.message
                }, "\(uri)")
                #expect((body["full_text"] as? String)?.contains("\(Self.path): \(Self.message)") == true)
            }
            // Schedules too: the path runs through the embedded spec.
            let schedule = APITests.schedule.replacingOccurrences(of: "historyLimit: 2", with: "historyLimt: 2")
            let refusedSchedule = try await APITests.post(client, "/api/schedules", schedule)
            #expect(refusedSchedule.status == .badRequest)
            #expect(try Self.errors(refusedSchedule.body).map { $0["path"] as? String } == ["spec.historyLimt"])
            #expect(await parts.controller.allExperiments().isEmpty)
            #expect(await parts.controller.allSchedules().isEmpty)
        }
    }

    @Test func warnAppliesAndSendsTheWarningInTheAnswerAndAsAHeader() async throws {
        try await LiveTestServer().run { client, parts in
            let applied = try await APITests.post(client, "/api/experiments?fieldValidation=Warn", Self.typo)
            #expect(applied.status == .ok)
            let body = try APITests.object(applied.body)
            #expect(body["result"] as? String == "created")
            let warnings = try #require(body["warnings"] as? [[String: Any]])
            #expect(warnings.count == 1)
            #expect(warnings.first?["path"] as? String == Self.path && warnings.first?["message"] as? String == Self.message)
            #expect(applied.headers[values: APIRoutes.warningHeader]
                    == [#"299 - "spec.delay.jiter: unknown field \"jiter\" (did you mean \"jitter\"?)""#])
            // Applied without the field it did not know.
            let uid = try #require(body["uid"] as? String)
            let record = try #require(await parts.controller.experiment(uid))
            let delay = try record.document.encoded().objectValue?["spec"]?.objectValue?["delay"]?.objectValue
            #expect(delay?["jiter"] == nil)
        }
    }

    @Test func ignoreAppliesSilentlyAndAnythingElseIsRefused() async throws {
        try await LiveTestServer().run { client, parts in
            let applied = try await APITests.post(client, "/api/experiments?fieldValidation=Ignore", Self.typo)
            #expect(applied.status == .ok)
            #expect(try APITests.object(applied.body)["warnings"] == nil)
            #expect(applied.headers[values: APIRoutes.warningHeader].isEmpty)
            #expect(await parts.controller.allExperiments().count == 1)

            let unknown = try await APITests.post(client, "/api/experiments?fieldValidation=Lenient", Self.typo)
            #expect(unknown.status == .badRequest)
            #expect(try Self.errors(unknown.body).first?["path"] as? String == "fieldValidation")
        }
    }

    /// The dashboard's editor calls `/api/validate` as the user types and
    /// its Create button posts the text; both ask for Strict.
    @Test func theEditorsValidationShowsUnknownFieldsAsErrors() async throws {
        try await LiveTestServer().run { client, parts in
            for uri in ["/api/validate", "/api/validate?fieldValidation=Strict"] {
                let strict = try APITests.object(try await APITests.post(client, uri, Self.typo).body)
                #expect(strict["valid"] as? Bool == false, "\(uri)")
                #expect((strict["errors"] as? [[String: Any]])?.contains {
                    $0["path"] as? String == Self.path && $0["message"] as? String == Self.message && $0["document"] as? Int == 1
                } == true, "\(uri)")
            }
            let warn = try APITests.object(try await APITests.post(client, "/api/validate?fieldValidation=Warn", Self.typo).body)
            #expect(warn["valid"] as? Bool == true)
            #expect((warn["warnings"] as? [[String: Any]])?.first?["path"] as? String == Self.path)
            #expect(await parts.controller.allExperiments().isEmpty)

            let api = String(buffer: try await client.execute(uri: "/assets/\(DashboardAssets.version)/api.js", method: .get).body)
            #expect(api.contains("request('POST', '/api/experiments?fieldValidation=Strict'"))
            #expect(api.contains("request('POST', '/api/validate?fieldValidation=Strict'"))
        }
    }

    // MARK: tumult apply

    @Test func applyRefusesATypoWithItsPathAndExitStatus1() async throws {
        let file = try Self.write(Self.typo)
        defer { try? FileManager.default.removeItem(atPath: file) }
        try await LiveTestServer().run { client, parts in
            let server = try Self.serverURL(client)
            let result = try await Self.tumult(["apply", "-f", file, "--server", server])
            #expect(result.status == 1, "\(result)")
            #expect(result.stderr.contains("\(file): doc 1 (NetworkChaos web-delay): \(Self.path): \(Self.message)"), "\(result.stderr)")
            #expect(result.stdout.isEmpty)
            let explicit = try await Self.tumult(["apply", "-f", file, "--server", server, "--validate=true"])
            #expect(explicit.status == 1 && explicit.stderr.contains(Self.path))
            #expect(await parts.controller.allExperiments().isEmpty)
        }
    }

    @Test func applyWithValidateWarnAppliesAndPrintsTheWarning() async throws {
        let file = try Self.write(Self.typo)
        defer { try? FileManager.default.removeItem(atPath: file) }
        try await LiveTestServer().run { client, parts in
            let server = try Self.serverURL(client)
            let result = try await Self.tumult(["apply", "-f", file, "--server", server, "--validate=warn"])
            #expect(result.status == 0, "\(result)")
            #expect(result.stderr.contains("\(file): doc 1 (NetworkChaos web-delay): warning: \(Self.path): \(Self.message)"),
                    "\(result.stderr)")
            #expect(result.stdout.contains("networkchaos/web-delay created"))
            #expect(await parts.controller.allExperiments().count == 1)

            let ignored = try await Self.tumult(["apply", "-f", file, "--server", server, "--validate=false"])
            #expect(ignored.status == 0 && !ignored.stderr.contains("jiter"), "\(ignored)")
            #expect(ignored.stdout.contains("networkchaos/web-delay unchanged"))

            let misused = try await Self.tumult(["apply", "-f", file, "--server", server, "--validate=maybe"])
            #expect(misused.status == 2)
        }
    }

    // MARK: Helpers

    static func write(_ text: String) throws -> String {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("tmt-\(UUID().uuidString)-typo.yaml").path
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    static func serverURL(_ client: any TestClientProtocol) throws -> String {
        "http://localhost:\(try #require(client.port))"
    }

    /// `tumult` beside the test bundle (or one directory up), else the
    /// package's `.build/debug/tumult`.
    static var executable: String {
        let bundle = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
        for candidate in [bundle.appendingPathComponent("tumult"), bundle.deletingLastPathComponent().appendingPathComponent("tumult")]
        where FileManager.default.isExecutableFile(atPath: candidate.path) {
            return candidate.path
        }
        var url = URL(fileURLWithPath: #filePath)
        for _ in 0..<3 { url.deleteLastPathComponent() }
        return url.appendingPathComponent(".build/debug/tumult").path
    }

    /// Runs the real CLI on a thread of its own, never on one of the few
    /// cooperative threads the server in this process needs to answer it.
    static func tumult(_ arguments: [String]) async throws -> CommandResult {
        try await withCheckedThrowingContinuation { continuation in
            Thread { continuation.resume(with: Result { try Spawn.run([executable] + arguments) }) }.start()
        }
    }
}
