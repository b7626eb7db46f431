import Foundation
import Hummingbird
import HummingbirdTesting
import Testing
import TumultModel
@testable import TumultServer

/// `GET /api/openapi.json` stays true: every route the server's router
/// really has (read from the application `buildApplication` builds, not
/// from a list kept here) is described and every described operation is
/// a route; and real answers of a live server conform to the schemas the
/// description gives for their status and content type.
@Suite struct OpenAPITests {
    static let methods = ["get", "put", "post", "delete", "head", "options", "patch", "trace"]

    // MARK: Routes against the description

    @Test func everyRouteIsDescribedAndEveryDescribedOperationIsARoute() async throws {
        let home = FileManager.default.temporaryDirectory.appendingPathComponent("tmt-openapi-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: home) }
        var configuration = ServerConfiguration(home: home)
        configuration.port = 0
        let (application, _) = try await buildApplication(configuration: configuration, agent: try localAgent(configuration))
        let routes = Self.routes(of: try await application.responder)
        // The walk found the router (GET /api/experiments is the oldest route there is).
        #expect(routes.contains { $0.pattern == "/api/experiments" && $0.method == "GET" })
        #expect(routes.count >= 40)

        let problems = Self.mismatches(between: try Self.value(TumultOpenAPI.json), and: routes)
        #expect(problems.isEmpty, "\(problems.joined(separator: "\n"))")
    }

    /// The comparison finds a route left out of the description, an
    /// operation described on no route, and a path parameter misnamed.
    @Test func aMissingOrExtraOperationIsFound() async throws {
        let home = FileManager.default.temporaryDirectory.appendingPathComponent("tmt-openapi-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: home) }
        var configuration = ServerConfiguration(home: home)
        configuration.port = 0
        let (application, _) = try await buildApplication(configuration: configuration, agent: try localAgent(configuration))
        let routes = Self.routes(of: try await application.responder)
        let document = try Self.value(TumultOpenAPI.json)
        #expect(Self.mismatches(between: document, and: routes).isEmpty)

        func edited(_ path: String, _ change: (inout Value.Object) -> Void) throws -> Value {
            var top = try #require(document.objectValue)
            var paths = try #require(top["paths"]?.objectValue)
            var item = paths[path]?.objectValue ?? Value.Object()
            change(&item)
            paths[path] = item.isEmpty ? nil : .object(item)
            top["paths"] = .object(paths)
            return .object(top)
        }
        let halt = try #require(document.objectValue?["paths"]?.objectValue?["/api/halt"]?.objectValue?["get"])
        #expect(Self.mismatches(between: try edited("/api/halt") { $0["delete"] = nil }, and: routes)
                == ["routed but not described: DELETE /api/halt"])
        #expect(Self.mismatches(between: try edited("/api/halt") { $0["put"] = halt }, and: routes)
                == ["described but not routed: PUT /api/halt (route /api/halt)"])
        #expect(Self.mismatches(between: try edited("/api/nothing") { $0["get"] = halt }, and: routes)
                == ["described but no route has the path: GET /api/nothing"])
        let detail = try #require(document.objectValue?["paths"]?.objectValue?["/api/experiments/{uid}"]?.objectValue)
        #expect(Self.mismatches(between: try edited("/api/experiments/{id}") { $0 = detail }, and: routes).contains(
            "GET /api/experiments/{id}: path parameters [\"uid\"], path names [\"id\"]"))
    }

    /// The request examples (what schemathesis's examples phase sends)
    /// conform to their schemas, and the server applies them.
    @Test func requestExamplesConformAndApply() async throws {
        let document = try Self.value(TumultOpenAPI.json)
        let validator = OpenAPISchemaValidator(document: document)
        var examples: [(path: String, method: String, body: Value)] = []
        for (path, item) in document.objectValue?["paths"]?.objectValue?.pairs ?? [] {
            for (method, operation) in item.objectValue?.pairs ?? [] {
                for (_, media) in operation.objectValue?["requestBody"]?.objectValue?["content"]?.objectValue?.pairs ?? [] {
                    guard let example = media.objectValue?["example"], let schema = media.objectValue?["schema"] else { continue }
                    #expect(example != .null, "\(method.uppercased()) \(path): the example is null")
                    let problems = validator.problems(example, against: schema)
                    #expect(problems.isEmpty, "\(method.uppercased()) \(path): \(problems)")
                    examples.append((path, method, example))
                }
            }
        }
        #expect(Set(examples.map { "\($0.method.uppercased()) \($0.path)" })
                == ["POST /api/experiments", "POST /api/schedules", "POST /api/validate", "POST /api/workflows",
                    "POST /api/workflows/render-task/http", "POST /api/workflows/parse-task/http",
                    "POST /api/workflows/validate-task/http"])
        let applied = examples
        try await LiveTestServer().run { client, _ in
            for example in applied {
                let body = try JSONEncoder().encode(example.body)
                let answer = try await client.execute(uri: example.path, method: .post, headers: [.contentType: "application/json"],
                                                      body: ByteBuffer(bytes: body))
                #expect(answer.status == .ok, "POST \(example.path): \(String(buffer: answer.body))")
                if example.path == "/api/validate" {
                    #expect(try Self.value(Data(buffer: answer.body)).objectValue?["valid"] == .bool(true))
                }
                if example.path == "/api/workflows/validate-task/http" {
                    #expect(try Self.value(Data(buffer: answer.body)) == .bool(true))
                }
                if example.path == "/api/workflows/render-task/http" {
                    #expect(try Self.value(Data(buffer: answer.body)) == TumultOpenAPI.httpTaskExample,
                            "the parse and validate examples are what render answers")
                }
            }
        }
    }

    /// Every operation of a description: `METHOD path`.
    static func operations(of document: Value) -> [String] {
        (document.objectValue?["paths"]?.objectValue?.pairs ?? []).flatMap { path, item in
            (item.objectValue?.keys ?? []).map { "\($0.uppercased()) \(path)" }
        }.sorted()
    }

    /// What differs between the described operations and the router's
    /// routes, both ways; empty when they agree.
    static func mismatches(between document: Value, and routes: Set<Route>) -> [String] {
        var problems: [String] = []
        var covered: Set<String> = []
        for (path, item) in document.objectValue?["paths"]?.objectValue?.pairs ?? [] {
            for method in item.objectValue?.keys ?? [] {
                if !Self.methods.contains(method) { problems.append("\(path): \(method) is not an HTTP method") }
                let operation = item.objectValue?[method]
                // Path parameters: declared exactly as the path names them.
                let named = Set(path.split(separator: "/").filter { $0.hasPrefix("{") }.map { String($0.dropFirst().dropLast()) })
                let declared = Set(operation?.objectValue?["parameters"].flatMap { parameters -> [String]? in
                    guard case .array(let list) = parameters else { return nil }
                    return list.compactMap { $0.objectValue?["in"]?.stringValue == "path" ? $0.objectValue?["name"]?.stringValue : nil }
                } ?? [])
                if named != declared { problems.append("\(method.uppercased()) \(path): path parameters \(declared.sorted()), path names \(named.sorted())") }
                guard let pattern = Self.resolve(path, in: routes) else {
                    problems.append("described but no route has the path: \(method.uppercased()) \(path)")
                    continue
                }
                guard routes.contains(where: { $0.pattern == pattern && $0.method == method.uppercased() }) else {
                    problems.append("described but not routed: \(method.uppercased()) \(path) (route \(pattern))")
                    continue
                }
                covered.insert("\(method.uppercased()) \(pattern)")
            }
        }
        for route in routes where !covered.contains("\(route.method) \(route.pattern)") {
            problems.append("routed but not described: \(route.method) \(route.pattern)")
        }
        return problems.sorted()
    }

    /// One route of the router: its pattern (`/api/experiments/{uid}`) and method.
    struct Route: Hashable {
        var pattern: String
        var method: String
        var segments: [String?] {
            pattern.split(separator: "/").map { $0.hasPrefix("{") || $0.hasPrefix(":") || $0.hasPrefix("*") ? nil : String($0) }
        }
    }

    /// The routes in a built responder. Hummingbird 2.28 lists them on the
    /// `Router` (`router.routes`), which `buildApplication` does not hand
    /// out; its responder keeps the same endpoints (`path` and `methods`,
    /// one per path), which a mirror reads without changing the server.
    static func routes(of responder: Any) -> Set<Route> {
        var found: Set<Route> = []
        func visit(_ value: Any, depth: Int) {
            guard depth < 8 else { return }
            let children = Array(Mirror(reflecting: value).children)
            if let path = children.first(where: { $0.label == "path" })?.value as? RouterPath,
               let methods = children.first(where: { $0.label == "methods" })?.value {
                for entry in Mirror(reflecting: methods).children {
                    if let method = Mirror(reflecting: entry.value).children.first?.value as? HTTPRequest.Method {
                        found.insert(Route(pattern: path.description, method: method.rawValue))
                    }
                }
                return
            }
            for child in children { visit(child.value, depth: depth + 1) }
        }
        // The trie holds the endpoints; the rest of the responder is middleware.
        let trie = Mirror(reflecting: responder).children.first { $0.label == "trie" }?.value ?? responder
        visit(trie, depth: 0)
        return found
    }

    /// The route the router would pick for a described path: fixed
    /// segments before parameters, as Hummingbird resolves. A described
    /// `{parameter}` matches only a route's parameter; a route's parameter
    /// matches a described fixed segment (`/api/attack/network` is
    /// `/api/attack/{uid}`). A trailing slash is the same path to the router.
    static func resolve(_ path: String, in routes: Set<Route>) -> String? {
        let given = path.split(separator: "/").map(String.init)
        var best: (rank: [Int], pattern: String)?
        for pattern in Set(routes.map(\.pattern)) {
            let segments = Route(pattern: pattern, method: "").segments
            guard segments.count == given.count else { continue }
            var rank: [Int] = []
            var matches = true
            for (segment, described) in zip(segments, given) {
                if let segment {
                    guard segment == described else { matches = false; break }
                    rank.append(1)
                } else {
                    rank.append(0)
                }
            }
            guard matches else { continue }
            if best == nil || best!.rank.lexicographicallyPrecedes(rank) { best = (rank, pattern) }
        }
        return best?.pattern
    }

    // MARK: Real answers against the schemas

    @Test func realAnswersConformToTheirSchemas() async throws {
        try await LiveTestServer().run { client, parts in
            let served = try await client.execute(uri: "/api/openapi.json", method: .get)
            #expect(served.status == .ok)
            #expect(served.headers[.contentType]?.hasPrefix("application/json") == true)
            #expect(Data(buffer: served.body) == TumultOpenAPI.json)
            let document = try Self.value(Data(buffer: served.body))
            #expect(document.objectValue?["openapi"]?.stringValue == "3.0.3")
            let check = Conformance(document: document)
            check(served, "/api/openapi.json", "get")
            let yaml: HTTPFields = [.contentType: "application/yaml"]
            let json: HTTPFields = [.contentType: "application/json"]

            // Apply, list, detail, state, pause, start.
            let applied = try await client.execute(uri: "/api/experiments", method: .post, headers: yaml, body: ByteBuffer(string: APITests.nowhere))
            #expect(applied.status == .ok)
            check(applied, "/api/experiments", "post")
            let uid = try #require(try Self.value(Data(buffer: applied.body)).objectValue?["uid"]?.stringValue)
            await parts.controller.reconcile()
            check(try await client.execute(uri: "/api/experiments", method: .get), "/api/experiments", "get")
            check(try await client.execute(uri: "/api/experiments/\(uid)", method: .get), "/api/experiments/{uid}", "get")
            check(try await client.execute(uri: "/api/experiments/state", method: .get), "/api/experiments/state", "get")
            check(try await client.execute(uri: "/api/experiments/pause/\(uid)", method: .put), "/api/experiments/pause/{uid}", "put")
            check(try await client.execute(uri: "/api/experiments/start/\(uid)", method: .put), "/api/experiments/start/{uid}", "put")
            // Two documents: an array of answers, with a warning under Warn.
            let two = APITests.nowhere.replacingOccurrences(of: "web-delay", with: "second") + "\n---\n"
                + APITests.nowhere.replacingOccurrences(of: "web-delay", with: "third").replacingOccurrences(of: "duration: 1h", with: "duration: 1h\n  jiter: 1")
            let many = try await client.execute(uri: "/api/experiments?fieldValidation=Warn", method: .post, headers: yaml, body: ByteBuffer(string: two))
            #expect(many.status == .ok)
            check(many, "/api/experiments", "post")

            // Schedules.
            let schedule = try await client.execute(uri: "/api/schedules", method: .post, headers: yaml, body: ByteBuffer(string: APITests.schedule))
            #expect(schedule.status == .ok)
            check(schedule, "/api/schedules", "post")
            let scheduleUID = try #require(try Self.value(Data(buffer: schedule.body)).objectValue?["uid"]?.stringValue)
            check(try await client.execute(uri: "/api/schedules", method: .get), "/api/schedules", "get")
            check(try await client.execute(uri: "/api/schedules/\(scheduleUID)", method: .get), "/api/schedules/{uid}", "get")
            check(try await client.execute(uri: "/api/schedules/state", method: .get), "/api/schedules/state", "get")
            check(try await client.execute(uri: "/api/schedules/pause/\(scheduleUID)", method: .put), "/api/schedules/pause/{uid}", "put")
            check(try await client.execute(uri: "/api/schedules/start/\(scheduleUID)", method: .put), "/api/schedules/start/{uid}", "put")

            // Validation, events, the rest of the dashboard's reads.
            check(try await client.execute(uri: "/api/validate", method: .post, headers: yaml, body: ByteBuffer(string: APITests.nowhere)),
                  "/api/validate", "post")
            check(try await client.execute(uri: "/api/validate", method: .post, headers: yaml, body: ByteBuffer(string: "kind: [unclosed")),
                  "/api/validate", "post")
            let events = try await client.execute(uri: "/api/events?limit=50", method: .get)
            check(events, "/api/events", "get")
            #expect(try Self.value(Data(buffer: events.body)) != .array([]), "applying made events to check")
            for path in ["/api/archives", "/api/common/kinds", "/api/common/namespaces", "/api/common/chaos-available-namespaces",
                         "/api/common/labels", "/api/common/config", "/api/pods", "/api/machines", "/api/experiments/", "/metrics", "/"] {
                check(try await client.execute(uri: path, method: .get), path, "get")
            }

            // The dashboard's page and assets: bodies, headers alone, and 304.
            check(try await client.execute(uri: "/index.html", method: .get), "/index.html", "get")
            for path in ["/", "/index.html"] {
                check(try await client.execute(uri: path, method: .head), path, "head")
            }
            let asset = "/assets/\(DashboardAssets.version)/app.js"
            let script = try await client.execute(uri: asset, method: .get)
            check(script, "/assets/{version}/{file}", "get")
            check(try await client.execute(uri: "/assets/old/app.css", method: .head), "/assets/{version}/{file}", "head")
            check(try await client.execute(uri: asset, method: .get, headers: [.ifNoneMatch: script.headers[.eTag] ?? ""]),
                  "/assets/{version}/{file}", "get")
            check(try await client.execute(uri: "/assets/old/no-such.js", method: .get), "/assets/{version}/{file}", "get")

            // Halt and unhalt.
            check(try await client.execute(uri: "/api/halt", method: .post), "/api/halt", "post")
            check(try await client.execute(uri: "/api/halt", method: .get), "/api/halt", "get")
            let refused = try await client.execute(uri: "/api/experiments", method: .post, headers: yaml,
                                                   body: ByteBuffer(string: APITests.nowhere.replacingOccurrences(of: "web-delay", with: "late")))
            #expect(refused.status == .conflict)
            check(refused, "/api/experiments", "post")
            check(try await client.execute(uri: "/api/halt", method: .delete), "/api/halt", "delete")

            // Errors: each the error body, under a status the operation lists.
            let invalid = try await client.execute(uri: "/api/experiments", method: .post, headers: yaml,
                                                   body: ByteBuffer(string: APITests.nowhere.replacingOccurrences(of: "latency: 100ms", with: "latency: soon")))
            #expect(invalid.status == .badRequest)
            check(invalid, "/api/experiments", "post")
            let untyped = try await client.execute(uri: "/api/experiments", method: .post, body: ByteBuffer(string: APITests.nowhere))
            #expect(untyped.status == .unsupportedMediaType)
            check(untyped, "/api/experiments", "post")
            let notASchedule = try await client.execute(uri: "/api/schedules", method: .post, headers: yaml, body: ByteBuffer(string: APITests.nowhere))
            #expect(notASchedule.status == .badRequest)
            check(notASchedule, "/api/schedules", "post")
            check(try await client.execute(uri: "/api/experiments/no-such-uid", method: .get), "/api/experiments/{uid}", "get")
            check(try await client.execute(uri: "/api/archives/no-such-uid", method: .get), "/api/archives/{uid}", "get")
            check(try await client.execute(uri: "/api/experiments", method: .delete), "/api/experiments", "delete")
            check(try await client.execute(uri: "/api/experiments/state", method: .get, headers: [.origin: "http://evil.example"]),
                  "/api/experiments/state", "get")
            let noProcess = try await client.execute(uri: "/api/attack/process", method: .post, headers: json,
                                                     body: ByteBuffer(string: #"{"action": "kill"}"#))
            #expect(noProcess.status == .badRequest)
            check(noProcess, "/api/attack/process", "post")
            for kind in ["network", "stress", "disk"] {
                let refusedAttack = try await client.execute(uri: "/api/attack/\(kind)", method: .post, headers: json,
                                                            body: ByteBuffer(string: #"{"action": "no-such-action"}"#))
                #expect(refusedAttack.status == .badRequest)
                check(refusedAttack, "/api/attack/\(kind)", "post")
            }
            check(try await client.execute(uri: "/api/attack/no-such-attack", method: .delete), "/api/attack/{uid}", "delete")
            // The live toxics of a TCPChaos there is none of (ToxicRoutesTests has the rest).
            let toxics = "/api/tcpchaos/shop/no-such-chaos/toxics"
            let toxic = #"{"type": "latency", "attributes": {"latency": 10}}"#
            check(try await client.execute(uri: toxics, method: .get), "/api/tcpchaos/{namespace}/{name}/toxics", "get")
            check(try await client.execute(uri: toxics, method: .post, headers: json, body: ByteBuffer(string: toxic)),
                  "/api/tcpchaos/{namespace}/{name}/toxics", "post")
            check(try await client.execute(uri: toxics + "/latency_downstream", method: .get),
                  "/api/tcpchaos/{namespace}/{name}/toxics/{toxic}", "get")
            check(try await client.execute(uri: toxics + "/latency_downstream", method: .post, headers: json,
                                           body: ByteBuffer(string: #"{"toxicity": 0.5}"#)),
                  "/api/tcpchaos/{namespace}/{name}/toxics/{toxic}", "post")
            check(try await client.execute(uri: toxics + "/latency_downstream", method: .delete),
                  "/api/tcpchaos/{namespace}/{name}/toxics/{toxic}", "delete")

            // Workflows, their HTTP task helpers and status checks (WorkflowControllerTests has the engine).
            let workflow = try await client.execute(uri: "/api/workflows", method: .post, headers: yaml, body: ByteBuffer(string: Self.workflow))
            #expect(workflow.status == .ok)
            check(workflow, "/api/workflows", "post")
            let workflowUID = try #require(try Self.value(Data(buffer: workflow.body)).objectValue?["uid"]?.stringValue)
            await parts.controller.reconcile()
            check(try await client.execute(uri: "/api/workflows", method: .get), "/api/workflows", "get")
            let workflowDetail = try await client.execute(uri: "/api/workflows/\(workflowUID)", method: .get)
            check(workflowDetail, "/api/workflows/{uid}", "get")
            #expect(try Self.value(Data(buffer: workflowDetail.body)).objectValue?["topology"]?.objectValue?["nodes"] != .array([]),
                    "the pass started its nodes")
            let renamed = try await client.execute(uri: "/api/workflows/\(workflowUID)", method: .put, headers: yaml,
                                                   body: ByteBuffer(string: Self.workflow.replacingOccurrences(of: "pause-then-done", with: "other")))
            #expect(renamed.status == .badRequest)
            check(renamed, "/api/workflows/{uid}", "put")
            let unchanged = try await client.execute(uri: "/api/workflows/\(workflowUID)", method: .put, headers: yaml,
                                                     body: ByteBuffer(string: Self.workflow))
            #expect(unchanged.status == .ok)
            check(unchanged, "/api/workflows/{uid}", "put")
            check(try await client.execute(uri: "/api/workflows/no-such-uid", method: .put, headers: yaml, body: ByteBuffer(string: Self.workflow)),
                  "/api/workflows/{uid}", "put")
            check(try await client.execute(uri: "/api/workflows/\(workflowUID)", method: .delete), "/api/workflows/{uid}", "delete")
            await parts.controller.reconcile()
            // Deleted: answered from the archive once every node stopped.
            check(try await client.execute(uri: "/api/workflows/\(workflowUID)", method: .get), "/api/workflows/{uid}", "get")
            check(try await client.execute(uri: "/api/workflows/no-such-uid", method: .get), "/api/workflows/{uid}", "get")
            check(try await client.execute(uri: "/api/workflows/no-such-uid", method: .delete), "/api/workflows/{uid}", "delete")
            let form = #"{"name": "ping", "url": "http://127.0.0.1:2333/api/common/config", "method": "GET"}"#
            let rendered = try await client.execute(uri: "/api/workflows/render-task/http", method: .post, headers: json,
                                                    body: ByteBuffer(string: form))
            #expect(rendered.status == .ok)
            check(rendered, "/api/workflows/render-task/http", "post")
            check(try await client.execute(uri: "/api/workflows/render-task/http", method: .post, headers: json,
                                           body: ByteBuffer(string: #"{"name": "ping", "url": "ftp://example.com/"}"#)),
                  "/api/workflows/render-task/http", "post")
            let parsed = try await client.execute(uri: "/api/workflows/parse-task/http", method: .post, headers: json, body: rendered.body)
            #expect(parsed.status == .ok)
            check(parsed, "/api/workflows/parse-task/http", "post")
            check(try await client.execute(uri: "/api/workflows/parse-task/http", method: .post, headers: json, body: ByteBuffer(string: "{}")),
                  "/api/workflows/parse-task/http", "post")
            check(try await client.execute(uri: "/api/workflows/validate-task/http", method: .post, headers: json, body: rendered.body),
                  "/api/workflows/validate-task/http", "post")
            check(try await client.execute(uri: "/api/workflows/validate-task/http", method: .post, headers: json,
                                           body: ByteBuffer(string: "not json")),
                  "/api/workflows/validate-task/http", "post")
            let statusCheck = try await client.execute(uri: "/api/experiments", method: .post, headers: yaml, body: ByteBuffer(string: Self.statusCheck))
            #expect(statusCheck.status == .ok)
            check(statusCheck, "/api/experiments", "post")
            let statusCheckUID = try #require(try Self.value(Data(buffer: statusCheck.body)).objectValue?["uid"]?.stringValue)
            check(try await client.execute(uri: "/api/statuschecks", method: .get), "/api/statuschecks", "get")
            check(try await client.execute(uri: "/api/statuschecks/\(statusCheckUID)", method: .get), "/api/statuschecks/{uid}", "get")
            check(try await client.execute(uri: "/api/statuschecks/\(statusCheckUID)", method: .delete), "/api/statuschecks/{uid}", "delete")
            check(try await client.execute(uri: "/api/statuschecks/no-such-uid", method: .get), "/api/statuschecks/{uid}", "get")
            check(try await client.execute(uri: "/api/statuschecks/no-such-uid", method: .delete), "/api/statuschecks/{uid}", "delete")

            // Deletes.
            check(try await client.execute(uri: "/api/experiments/\(uid)", method: .delete), "/api/experiments/{uid}", "delete")
            check(try await client.execute(uri: "/api/schedules/no-such-uid", method: .delete), "/api/schedules/{uid}", "delete")
            check(try await client.execute(uri: "/api/schedules?uids=\(scheduleUID)", method: .delete), "/api/schedules", "delete")

            #expect(check.problems.isEmpty, "\(check.problems.joined(separator: "\n"))")
            // Every described operation met at least one real answer, but the
            // live stream, which never ends (DashboardRoutesTests reads it).
            let unchecked = Set(Self.operations(of: document)).subtracting(check.covered)
            #expect(unchecked == ["GET /api/stream"], "not checked against a real answer: \(unchecked.sorted())")
        }
    }

    /// A Workflow that only waits (nothing is injected).
    static let workflow = """
        apiVersion: chaos-mesh.org/v1alpha1
        kind: Workflow
        metadata: {name: pause-then-done, namespace: shop}
        spec:
          entry: entry
          templates:
            - {name: entry, templateType: Serial, children: [wait]}
            - {name: wait, templateType: Suspend, deadline: 5s}
        """

    /// A StatusCheck of a port nothing listens on, probed first a minute
    /// after it starts (the test is over by then).
    static let statusCheck = """
        apiVersion: chaos-mesh.org/v1alpha1
        kind: StatusCheck
        metadata: {name: api-health, namespace: shop}
        spec:
          mode: Synchronous
          type: HTTP
          intervalSeconds: 60
          http: {url: "http://127.0.0.1:9/health", criteria: {statusCode: "200"}}
        """

    /// The validator finds what is wrong: a real answer with an extra key,
    /// without a required one, or with a wrong type fails its schema.
    @Test func aWrongAnswerFailsItsSchema() async throws {
        try await LiveTestServer().run { client, _ in
            let document = try Self.value(TumultOpenAPI.json)
            let validator = OpenAPISchemaValidator(document: document)
            let applied = try await client.execute(uri: "/api/experiments", method: .post, headers: [.contentType: "application/yaml"],
                                                   body: ByteBuffer(string: APITests.nowhere))
            let uid = try #require(try Self.value(Data(buffer: applied.body)).objectValue?["uid"]?.stringValue)
            let answer = try Self.value(Data(buffer: try await client.execute(uri: "/api/experiments/\(uid)", method: .get).body))
            let schema = Value.object(Value.Object([("$ref", .string("#/components/schemas/ExperimentDetail"))]))
            #expect(validator.problems(answer, against: schema).isEmpty)
            var object = try #require(answer.objectValue)
            object["surprise"] = .integer(1)
            #expect(validator.problems(.object(object), against: schema) == ["$: key surprise is not in the schema"])
            object["surprise"] = nil
            object["uid"] = nil
            #expect(validator.problems(.object(object), against: schema) == ["$: required key uid is missing"])
            object["uid"] = .integer(7)
            #expect(validator.problems(.object(object), against: schema) == ["$.uid: 7 is not of type string"])
            object["uid"] = .string(uid)
            object["created_at"] = .string("yesterday")
            #expect(validator.problems(.object(object), against: schema) == ["$.created_at: \"yesterday\" is not an RFC 3339 date-time"])
            object["created_at"] = answer.objectValue?["created_at"]
            object["status"] = .string("exploded")
            #expect(validator.problems(.object(object), against: schema).count == 1)
        }
    }

    /// Checks answers against the operation the description gives for
    /// their path and method, and keeps every problem.
    final class Conformance {
        let document: Value
        private(set) var problems: [String] = []
        /// `METHOD path` of every operation an answer was checked against.
        private(set) var covered: Set<String> = []

        init(document: Value) {
            self.document = document
        }

        func callAsFunction(_ response: TestResponse, _ path: String, _ method: String) {
            covered.insert("\(method.uppercased()) \(path)")
            let label = "\(method.uppercased()) \(path) → \(response.status.code)"
            guard let operation = document.objectValue?["paths"]?.objectValue?[path]?.objectValue?[method]?.objectValue else {
                problems.append("\(label): not described")
                return
            }
            guard let described = operation["responses"]?.objectValue?[String(response.status.code)]?.objectValue else {
                problems.append("\(label): the status is not described")
                return
            }
            guard let content = described["content"]?.objectValue else {
                if response.body.readableBytes > 0 { problems.append("\(label): a body where none is described") }
                return
            }
            let media = (response.headers[.contentType] ?? "").split(separator: ";").first.map {
                $0.trimmingCharacters(in: .whitespaces).lowercased()
            } ?? ""
            guard let schema = content[media]?.objectValue?["schema"] else {
                problems.append("\(label): content type \(media) is not described (\(content.keys.joined(separator: ", ")))")
                return
            }
            guard media == "application/json" else { return }
            do {
                let value = try OpenAPITests.value(Data(buffer: response.body))
                problems += OpenAPISchemaValidator(document: document).problems(value, against: schema).map { "\(label): \($0)" }
            } catch {
                problems.append("\(label): the body is not JSON: \(error)")
            }
        }
    }

    static func value(_ data: Data) throws -> Value {
        try JSONDecoder().decode(Value.self, from: data)
    }
}
