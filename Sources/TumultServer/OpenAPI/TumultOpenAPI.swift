import Foundation
import TumultHandoff
import TumultModel

/// The OpenAPI description of everything `tumult server` answers, served
/// at `GET /api/openapi.json`. `OpenAPITests` checks it against the routes
/// the router really has and against real answers, and CI runs
/// schemathesis against it (`scripts/schemathesis.sh`), so that it stays
/// true as routes change.
enum TumultOpenAPI {
    static let document = OpenAPIDocument(
        info: .init(title: "Tumult", version: TumultVersion.text, description: """
            Chaos Mesh's dashboard API over Tumult's controller (snake_case keys, as the dashboard sends them), \
            chaosd's attack API on the same port, the web dashboard and Prometheus metrics. \
            Every error answer is the JSON body `Error`. Writes (POST, PUT, DELETE) with a body must say \
            `Content-Type: application/json` or `application/yaml` (else 415); a `Host` or `Origin` naming another \
            site gets 403; a known path asked with another method gets 405 with `Allow`. When the server was started \
            with a token, every call but the dashboard's page and assets needs `Authorization: Bearer TOKEN` (else 401).
            """),
        paths: paths,
        components: .init(schemas: schemas, securitySchemes: [
            "bearerAuth": .init(type: "http", scheme: "bearer",
                                description: "The token given to `tumult server --token` (or $TUMULT_TOKEN); required off loopback."),
            "streamToken": .init(type: "apiKey", name: "token", location: "query",
                                 description: "The same token in the query, for EventSource (which cannot send headers): /api/stream only."),
        ]),
        // The token, or none: a server on loopback may run without one.
        security: [["bearerAuth": []], [:]],
        tags: Tag.allCases.map { .init(name: $0.rawValue, description: $0.description) })

    /// The document as served.
    static let json: Data = document.encoded()

    enum Tag: String, CaseIterable {
        case experiments, schedules, archives, events, common, pods, halt, dashboard, chaosd, metrics, meta, toxics, workflows
        case statusChecks = "statuschecks"

        var description: String {
            switch self {
            case .experiments: "Chaos Mesh experiments: apply, list, pause, delete."
            case .schedules: "Schedules that start experiments on a cron."
            case .archives: "Experiments that finished or were deleted."
            case .events: "What happened to experiments and schedules."
            case .common: "What the dashboard's forms offer."
            case .pods: "The targets and machines of the fleet."
            case .halt: "The emergency stop: recover everything and refuse new faults."
            case .dashboard: "The web dashboard's page, assets, live stream and editor validation."
            case .chaosd: "chaosd's attacks on this host, outside any experiment."
            case .metrics: "Prometheus metrics."
            case .meta: "This description."
            case .toxics: "Toxiproxy's live toxics of a running TCPChaos: list, add, update, remove, its connections kept."
            case .workflows: "Chaos Mesh workflows: apply, list, their node topology, update, delete; the HTTP task helpers."
            case .statusChecks: "StatusChecks applied on their own: list, status, delete."
            }
        }
    }

    // MARK: Building operations

    /// Who may call an operation.
    enum Access {
        /// The bearer token when the server has one.
        case token
        /// The token in the header or in `?token=` (the live stream).
        case tokenOrQuery
        /// No token: the dashboard's page and assets hold no data.
        case open
    }

    typealias Operation = OpenAPIDocument.Operation
    typealias Response = OpenAPIDocument.Response
    typealias Parameter = OpenAPIDocument.Parameter

    /// One operation, with the error answers every route can give added:
    /// 403 (foreign Host or Origin), 401 (no token, when one is needed),
    /// 413 and 415 for writes, 500.
    static func operation(_ id: String, _ summary: String, tag: Tag, description: String? = nil,
                          parameters: [Parameter] = [], body: OpenAPIDocument.RequestBody? = nil,
                          answers: [Int: Response], errors: Set<Int> = [], access: Access = .token,
                          write: Bool = false) -> Operation {
        var codes = errors.union([403, 500])
        if access != .open { codes.insert(401) }
        if write { codes.formUnion([413, 415]) }
        var responses: [String: Response] = [:]
        for (code, response) in answers { responses[String(code)] = response }
        for code in codes { responses[String(code)] = errorResponse(code) }
        let security: [[String: [String]]]? = switch access {
        case .token: nil
        case .tokenOrQuery: [["bearerAuth": []], ["streamToken": []], [:]]
        case .open: []
        }
        return Operation(operationId: id, summary: summary, description: description, tags: [tag.rawValue],
                         parameters: parameters.isEmpty ? nil : parameters, requestBody: body, responses: responses,
                         security: security)
    }

    static func errorResponse(_ code: Int) -> Response {
        let description = switch code {
        case 400: "The request is invalid: every problem with its field path."
        case 401: "The bearer token is missing or wrong (only when the server was started with one)."
        case 403: "Host or Origin names another site (DNS rebinding, cross-site request)."
        case 404: "Nothing with that id."
        case 409: "Refused now: Tumult is halted (emergency stop), or the object conflicts."
        case 413: "The body is larger than the route accepts."
        case 415: "The body is not JSON or YAML."
        case 500: "The store or the host failed."
        default: "Error."
        }
        return json(.ref("Error"), description)
    }

    static func json(_ schema: JSONSchema, _ description: String, headers: [String: OpenAPIDocument.Header]? = nil) -> Response {
        Response(description: description, headers: headers, content: ["application/json": .init(schema: schema)])
    }

    static func text(_ contentType: String, _ description: String) -> Response {
        Response(description: description, content: [contentType: .init(schema: .string())])
    }

    static func query(_ name: String, _ description: String, _ schema: JSONSchema = .string(), required: Bool = false) -> Parameter {
        Parameter(name: name, location: "query", required: required, description: description, schema: schema)
    }

    static func path(_ name: String, _ description: String, _ schema: JSONSchema = .string()) -> Parameter {
        Parameter(name: name, location: "path", required: true, description: description, schema: schema)
    }

    /// A body of Chaos Mesh documents, as JSON or YAML.
    static func documents(_ schema: String, _ description: String, example: Value? = nil) -> OpenAPIDocument.RequestBody {
        .init(description: description, required: true, content: [
            "application/json": .init(schema: .ref(schema), example: example),
            "application/yaml": .init(schema: .ref(schema)),
        ])
    }

    /// A JSON text as a value (the examples are constants: a typo is an empty example, which OpenAPITests refuses).
    static func value(_ json: String) -> Value {
        (try? JSONDecoder().decode(Value.self, from: Data(json.utf8))) ?? .null
    }

    /// An experiment that selects no pod: applying it injects nothing.
    static let experimentExample = value("""
        {"apiVersion": "chaos-mesh.org/v1alpha1", "kind": "NetworkChaos",
         "metadata": {"name": "web-delay", "namespace": "shop"},
         "spec": {"action": "delay", "mode": "all", "selector": {"pods": {"shop": ["no-such-pod"]}},
                  "delay": {"latency": "100ms"}, "duration": "1h"}}
        """)

    /// A schedule whose experiments select no pod.
    static let scheduleExample = value("""
        {"apiVersion": "chaos-mesh.org/v1alpha1", "kind": "Schedule",
         "metadata": {"name": "nightly", "namespace": "shop"},
         "spec": {"schedule": "0 3 * * *", "type": "NetworkChaos", "historyLimit": 2,
                  "networkChaos": {"action": "loss", "mode": "one", "selector": {"pods": {"shop": ["no-such-pod"]}},
                                   "loss": {"loss": "10"}, "duration": "10s"}}}
        """)
}
