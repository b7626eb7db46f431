import ArgumentParser
import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1
import TumultModel

/// Talks to `tumult server` over its REST API (Chaos Mesh's dashboard
/// paths). Answers are parsed into `Value` trees first, so that `-o json`
/// and `-o yaml` print them with the server's key order, then into the typed
/// values below with the model's lenient `ValueDecoder`.
struct APIClient: Sendable {
    var baseURL: URL
    var token: String?
    /// Seconds before a request with no answer fails.
    var timeout: TimeInterval = 30

    enum Method: String, Sendable {
        case get = "GET", post = "POST", put = "PUT", delete = "DELETE"
    }

    // MARK: Endpoints

    /// `GET /api/experiments|schedules|archives`, every filter optional.
    func list(_ collection: ObjectCollection, namespace: String? = nil, name: String? = nil,
              kind: String? = nil) async throws -> [Received<ExperimentItem>] {
        let answer = try await call(.get, collection.path,
                              query: [("namespace", namespace), ("name", name), ("kind", kind)])
        return try Self.items(ExperimentItem.self, in: answer, what: collection.rawValue)
    }

    /// `GET /api/experiments/:uid` (or schedules, archives).
    func detail(_ collection: ObjectCollection, uid: String) async throws -> Received<ExperimentDetail> {
        let answer = try await call(.get, collection.path + "/" + Self.pathComponent(uid))
        return Received(item: try Self.decode(ExperimentDetail.self, from: answer, what: "\(collection.singular) \(uid)"),
                        json: answer)
    }

    /// `POST /api/experiments` (or schedules) with one document as JSON.
    /// `fieldValidation` says what the server does with fields it does not
    /// know (Kubernetes' query parameter; strict refuses them with their paths).
    func apply(_ document: Value, to collection: ObjectCollection,
               fieldValidation: FieldValidation = .strict) async throws -> [Received<ExperimentDetail>] {
        let body = Data(DocumentText.json([document]).utf8)
        let answer = try await call(.post, collection.path, query: [("fieldValidation", fieldValidation.queryValue)],
                                    body: body, contentType: "application/json")
        if case .array = answer { return try Self.items(ExperimentDetail.self, in: answer, what: "the applied documents") }
        return [Received(item: try Self.decode(ExperimentDetail.self, from: answer, what: "the applied document"),
                         json: answer)]
    }

    /// `DELETE /api/experiments/:uid` (or schedules).
    func delete(_ collection: ObjectCollection, uid: String) async throws {
        _ = try await call(.delete, collection.path + "/" + Self.pathComponent(uid))
    }

    /// `PUT /api/experiments/pause/:uid` (or schedules). Workflows and
    /// status checks go to the experiments' path too: the server refuses to
    /// pause them, with its reason.
    func pause(_ collection: ObjectCollection, uid: String) async throws {
        _ = try await call(.put, collection.controlPath + "/pause/" + Self.pathComponent(uid))
    }

    /// `PUT /api/experiments/start/:uid` (or schedules).
    func resume(_ collection: ObjectCollection, uid: String) async throws {
        _ = try await call(.put, collection.controlPath + "/start/" + Self.pathComponent(uid))
    }

    /// `GET /api/events`, newest first.
    func events(namespace: String? = nil, name: String? = nil, objectID: String? = nil,
                limit: Int? = nil) async throws -> [Received<Event>] {
        let answer = try await call(.get, "/api/events", query: [("namespace", namespace), ("name", name),
                                                           ("object_id", objectID), ("limit", limit.map(String.init))])
        return try Self.items(Event.self, in: answer, what: "events")
    }

    /// `GET /api/archives`: experiments that were deleted.
    func archives(namespace: String? = nil, name: String? = nil) async throws -> [Received<ArchiveItem>] {
        let answer = try await call(.get, ObjectCollection.archives.path, query: [("namespace", namespace), ("name", name)])
        return try Self.items(ArchiveItem.self, in: answer, what: "archives")
    }

    /// `GET /api/pods`: what selectors choose from.
    func pods() async throws -> [Received<Pod>] {
        try Self.items(Pod.self, in: try await call(.get, "/api/pods"), what: "pods")
    }

    /// `GET /api/machines`: the fleet's machines and whether each answers.
    func machines() async throws -> [Received<MachineItem>] {
        try Self.items(MachineItem.self, in: try await call(.get, "/api/machines"), what: "machines")
    }

    /// `POST /api/halt`: recover everything, refuse new injections.
    func halt() async throws -> HaltAnswer {
        try Self.decode(HaltAnswer.self, from: try await call(.post, "/api/halt"), what: "the halt")
    }

    /// `DELETE /api/halt`: allow injections again.
    func unhalt() async throws -> HaltAnswer {
        try Self.decode(HaltAnswer.self, from: try await call(.delete, "/api/halt"), what: "the unhalt")
    }

    // MARK: Transport

    /// One request. A 2xx answer is returned as a tree (`null`
    /// when empty); any other status becomes the server's `ClientError`.
    func call(_ method: Method, _ path: String, query: [(String, String?)] = [], body: Data? = nil,
              contentType: String? = nil) async throws -> Value {
        let request = makeRequest(method, path, query: query, body: body, contentType: contentType)
        let data: Data
        let status: Int
        do {
            // AsyncHTTPClient over NIO, not URLSession: FoundationNetworking
            // would load libcurl and its ~30 libraries into every start of the CLI.
            var outgoing = HTTPClientRequest(url: request.url.absoluteString)
            outgoing.method = HTTPMethod(rawValue: method.rawValue)
            for (name, value) in request.headers { outgoing.headers.add(name: name, value: value) }
            if let body = request.body { outgoing.body = .bytes(ByteBuffer(bytes: body)) }
            let response = try await HTTPClient.shared.execute(outgoing, timeout: .milliseconds(Int64(timeout * 1000)))
            status = Int(response.status.code)
            data = Data(try await response.body.collect(upTo: 256 << 20).readableBytesView)
        } catch {
            throw ClientError.transport(error, server: baseURL)
        }
        guard (200..<300).contains(status) else { throw ClientError(status: status, body: data) }
        if data.allSatisfy({ [0x20, 0x0A, 0x0D, 0x09].contains($0) }) { return .null }
        do {
            return try Self.parseJSON(data)
        } catch {
            throw ClientError.unexpectedAnswer("\(method.rawValue) \(path) answered with text that is not JSON: \(error)")
        }
    }

    /// What one call sends: the URL, the headers, the body.
    struct Request: Sendable {
        var method: Method
        var url: URL
        var headers: [(String, String)] = []
        var body: Data?

        func value(forHTTPHeaderField name: String) -> String? {
            headers.first { $0.0.lowercased() == name.lowercased() }?.1
        }
    }

    func makeRequest(_ method: Method, _ path: String, query: [(String, String?)] = [], body: Data? = nil,
                     contentType: String? = nil) -> Request {
        var request = Request(method: method, url: url(path, query: query))
        request.headers.append(("Accept", "application/json"))
        if let token { request.headers.append(("Authorization", "Bearer \(token)")) }
        if let body {
            request.body = body
            request.headers.append(("Content-Type", contentType ?? "application/json"))
        }
        return request
    }

    /// `path` under the base URL (which may carry a path prefix of its own),
    /// with the query items that have a value.
    func url(_ path: String, query: [(String, String?)] = []) -> URL {
        var base = baseURL.absoluteString
        while base.hasSuffix("/") { base.removeLast() }
        var components = URLComponents(string: base + path)!
        let items = query.compactMap { key, value in value.map { URLQueryItem(name: key, value: $0) } }
        if !items.isEmpty { components.queryItems = items }
        return components.url!
    }

    static func pathComponent(_ text: String) -> String {
        var allowed = CharacterSet.urlPathAllowed
        allowed.remove("/")
        return text.addingPercentEncoding(withAllowedCharacters: allowed) ?? text
    }

    // MARK: Decoding

    /// JSON text as a tree, keeping key order (the model's parser does; Foundation's does not).
    static func parseJSON(_ data: Data) throws -> Value {
        let text = String(decoding: data, as: UTF8.self)
        let values = try DocumentText.parse(text)
        // The parser hands an array back as its elements.
        if text.drop(while: { $0.isWhitespace }).first == "[" { return .array(values) }
        guard values.count == 1 else { throw DocumentText.ParseError("expected one JSON value") }
        return values[0]
    }

    /// A typed value from a tree. Missing or mistyped fields take their
    /// fallback, so a server a little newer or older than this client still
    /// prints; only an answer of the wrong shape altogether is an error.
    static func decode<T: Decodable>(_ type: T.Type, from value: Value, what: String) throws -> T {
        var diagnostics = Diagnostics()
        guard let decoded = ValueDecoder().decode(type, from: value, diagnostics: &diagnostics) else {
            let problems = diagnostics.items.filter { $0.severity == .error }.prefix(3).map(\.description)
            throw ClientError.unexpectedAnswer("the server's answer for \(what) has an unexpected shape: "
                                               + problems.joined(separator: "; "))
        }
        return decoded
    }

    static func items<T: Decodable>(_ type: T.Type, in value: Value, what: String) throws -> [Received<T>] {
        guard case .array(let elements) = value else {
            throw ClientError.unexpectedAnswer("the server's answer for \(what) is \(value.typeDescription), not a list")
        }
        return try elements.map { Received(item: try decode(type, from: $0, what: what), json: $0) }
    }
}

/// A typed value together with the JSON it came from, which `-o json|yaml` prints.
struct Received<Item> {
    var item: Item
    var json: Value
}

extension Received: Sendable where Item: Sendable {}

/// The REST collections that hold Chaos Mesh objects.
enum ObjectCollection: String, Sendable, CaseIterable {
    case experiments, schedules, archives, workflows, statuschecks

    var path: String { "/api/\(rawValue)" }
    var singular: String { String(rawValue.dropLast()) }

    /// Where `pause/:uid` and `start/:uid` are: workflows and status checks
    /// have no such routes, and the experiments' reach the controller, which
    /// answers for any uid (refusing to pause these two with its reason).
    var controlPath: String {
        switch self {
        case .workflows, .statuschecks: ObjectCollection.experiments.path
        case .experiments, .schedules, .archives: path
        }
    }
}

/// `KIND/NAME` on the command line: `networkchaos/web-delay`, `schedule/nightly`,
/// `workflow/steady-state`. Kinds are Chaos Mesh's, in any case; `schedules`,
/// `workflows` and `statuschecks` are accepted too.
struct ObjectReference: Sendable, Equatable, CustomStringConvertible {
    enum Kind: Sendable, Equatable {
        case experiment(ChaosKind)
        case schedule
        case workflow
        case statusCheck
    }

    /// The kinds that are not experiments: each has its own case and collection.
    static let organisingKinds: Set<ChaosKind> = [.schedule, .workflow, .statusCheck]

    var kind: Kind
    var name: String

    init(kind: Kind, name: String) {
        self.kind = kind
        self.name = name
    }

    init(parsing text: String) throws {
        let parts = text.split(separator: "/", maxSplits: 1, omittingEmptySubsequences: false)
        guard parts.count == 2, !parts[1].isEmpty, !parts[1].contains("/") else {
            throw ValidationError("\"\(text)\" is not KIND/NAME (e.g. networkchaos/web-delay or schedule/nightly).")
        }
        guard let kind = Self.kind(named: String(parts[0])) else {
            throw ValidationError("\"\(parts[0])\" in \"\(text)\" is not a kind; use one of "
                                  + Self.kindNames.joined(separator: ", ") + ".")
        }
        self.init(kind: kind, name: String(parts[1]))
    }

    static func kind(named text: String) -> Kind? {
        switch text.lowercased() {
        case "schedule", "schedules": return .schedule
        case "workflow", "workflows": return .workflow
        case "statuscheck", "statuschecks": return .statusCheck
        case let lowered:
            return ChaosKind.allCases.first { !Self.organisingKinds.contains($0) && $0.rawValue.lowercased() == lowered }
                .map(Kind.experiment)
        }
    }

    /// Every kind a reference can name, lower-cased as typed.
    static var kindNames: [String] {
        ChaosKind.allCases.filter { !Self.organisingKinds.contains($0) }.map { $0.rawValue.lowercased() }
            + ["schedule", "workflow", "statuscheck"]
    }

    /// The kind named from a document's `kind` field (what `-f` gives).
    init(documentKind: ChaosKind, name: String) {
        let kind: Kind = switch documentKind {
        case .schedule: .schedule
        case .workflow: .workflow
        case .statusCheck: .statusCheck
        default: .experiment(documentKind)
        }
        self.init(kind: kind, name: name)
    }

    var collection: ObjectCollection {
        switch kind {
        case .experiment: .experiments
        case .schedule: .schedules
        case .workflow: .workflows
        case .statusCheck: .statuschecks
        }
    }

    /// Whether only `tumult server` reads it (workflows, status checks):
    /// `--kubeconfig` reads experiments and schedules only.
    var needsServer: Bool {
        kind == .workflow || kind == .statusCheck
    }

    /// `networkchaos`, `schedule`, `workflow`: how kubectl writes kinds in messages.
    var kindName: String {
        switch kind {
        case .experiment(let chaosKind): chaosKind.rawValue.lowercased()
        case .schedule: "schedule"
        case .workflow: "workflow"
        case .statusCheck: "statuscheck"
        }
    }

    var description: String { "\(kindName)/\(name)" }
}

// MARK: The API's values

/// One experiment or schedule in a list (Chaos Mesh dashboard shape).
struct ExperimentItem: Decodable, Sendable, Equatable {
    var uid: String
    var kind: String
    var namespace: String
    var name: String
    var action: String?
    /// RFC 3339.
    var createdAt: String?
    /// `injecting`, `running`, `paused`, `finished`, `failed` or `deleting`.
    var status: String
    /// Schedules: the cron text.
    var schedule: String?
    /// Schedules: the kind of experiment each run creates.
    var type: String?

    init(uid: String, kind: String, namespace: String, name: String, action: String? = nil,
         createdAt: String? = nil, status: String, schedule: String? = nil, type: String? = nil) {
        self.uid = uid
        self.kind = kind
        self.namespace = namespace
        self.name = name
        self.action = action
        self.createdAt = createdAt
        self.status = status
        self.schedule = schedule
        self.type = type
    }

    enum CodingKeys: String, CodingKey {
        case uid, kind, namespace, name, action, status, schedule, type
        case createdAt = "created_at"
    }
}

/// An experiment or schedule with its Kubernetes object and status.
struct ExperimentDetail: Decodable, Sendable, Equatable {
    var item: ExperimentItem
    var kubeObject: KubeObject?
    /// Schedules: the runs it created.
    var experimentUIDs: [String]?
    /// After an apply: `created`, `configured` or `unchanged`.
    var result: String?

    init(item: ExperimentItem, kubeObject: KubeObject? = nil, experimentUIDs: [String]? = nil, result: String? = nil) {
        self.item = item
        self.kubeObject = kubeObject
        self.experimentUIDs = experimentUIDs
        self.result = result
    }

    enum CodingKeys: String, CodingKey {
        case kubeObject = "kube_object"
        case experimentUIDs = "experiment_uids"
        case result
    }

    init(from decoder: Decoder) throws {
        item = try ExperimentItem(from: decoder)
        let container = try decoder.container(keyedBy: CodingKeys.self)
        kubeObject = try container.decodeIfPresent(KubeObject.self, forKey: .kubeObject)
        experimentUIDs = try container.decodeIfPresent([String].self, forKey: .experimentUIDs)
        result = try container.decodeIfPresent(String.self, forKey: .result)
    }
}

/// `kube_object`: the document as stored, with Chaos Mesh's status.
struct KubeObject: Decodable, Sendable, Equatable {
    struct Metadata: Decodable, Sendable, Equatable {
        var name: String?
        var namespace: String?
        var uid: String?
        var creationTimestamp: String?
        var labels: [String: String]?
        var annotations: [String: String]?
    }

    var apiVersion: String?
    var kind: String?
    var metadata: Metadata?
    /// Kept as a tree: `describe` prints it as YAML in the written order.
    var spec: Value?
    var status: ChaosStatus?
}

/// Chaos Mesh's `status` of an experiment.
struct ChaosStatus: Decodable, Sendable, Equatable {
    struct Experiment: Decodable, Sendable, Equatable {
        var desiredPhase: String?
        var containerRecords: [Record]?
    }

    /// What happened to one selected target.
    struct Record: Decodable, Sendable, Equatable {
        var id: String
        var selectorKey: String?
        var phase: String?
        var injectedCount: Int?
        var recoveredCount: Int?
        /// The machine of the fleet the target is on (Tumult's own field).
        var nodeName: String?
        var events: [RecordEvent]?
    }

    struct RecordEvent: Decodable, Sendable, Equatable {
        /// `Succeeded` or `Failed`.
        var type: String?
        /// `Apply` or `Recover`.
        var operation: String?
        var message: String?
        var timestamp: String?
    }

    struct Condition: Decodable, Sendable, Equatable {
        var type: String
        var status: String
        var reason: String?
        var message: String?
    }

    var experiment: Experiment?
    var conditions: [Condition]?
}

/// One event of the server's log (`GET /api/events`).
struct Event: Decodable, Sendable, Equatable {
    var id: String
    var objectID: String?
    var createdAt: String?
    var namespace: String?
    var name: String?
    var kind: String?
    /// `Normal` or `Warning`.
    var type: String?
    var reason: String?
    var message: String?

    init(id: String, objectID: String? = nil, createdAt: String? = nil, namespace: String? = nil, name: String? = nil,
         kind: String? = nil, type: String? = nil, reason: String? = nil, message: String? = nil) {
        self.id = id
        self.objectID = objectID
        self.createdAt = createdAt
        self.namespace = namespace
        self.name = name
        self.kind = kind
        self.type = type
        self.reason = reason
        self.message = message
    }

    enum CodingKeys: String, CodingKey {
        case id, namespace, name, kind, type, reason, message
        case objectID = "object_id"
        case createdAt = "created_at"
    }

    init(from decoder: Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        // Chaos Mesh numbers its events; a string id is fine too.
        id = switch try container.decodeIfPresent(Value.self, forKey: .id) {
        case .string(let text)?: text
        case .integer(let number)?: String(number)
        default: ""
        }
        objectID = try container.decodeIfPresent(String.self, forKey: .objectID)
        createdAt = try container.decodeIfPresent(String.self, forKey: .createdAt)
        namespace = try container.decodeIfPresent(String.self, forKey: .namespace)
        name = try container.decodeIfPresent(String.self, forKey: .name)
        kind = try container.decodeIfPresent(String.self, forKey: .kind)
        type = try container.decodeIfPresent(String.self, forKey: .type)
        reason = try container.decodeIfPresent(String.self, forKey: .reason)
        message = try container.decodeIfPresent(String.self, forKey: .message)
    }
}

/// A deleted experiment, kept for the record (`GET /api/archives`).
struct ArchiveItem: Decodable, Sendable, Equatable {
    var uid: String
    var kind: String
    var namespace: String
    var name: String
    var action: String?
    var startTime: String?
    var finishTime: String?

    init(uid: String, kind: String, namespace: String, name: String, action: String? = nil,
         startTime: String? = nil, finishTime: String? = nil) {
        self.uid = uid
        self.kind = kind
        self.namespace = namespace
        self.name = name
        self.action = action
        self.startTime = startTime
        self.finishTime = finishTime
    }

    enum CodingKeys: String, CodingKey {
        case uid, kind, namespace, name, action
        case startTime = "start_time"
        case finishTime = "finish_time"
    }
}

/// The answer to `POST`/`DELETE /api/halt`.
struct HaltAnswer: Decodable, Sendable, Equatable {
    var halted: Bool
    var recovered: Int?
    var elapsedMilliseconds: Double?

    init(halted: Bool, recovered: Int? = nil, elapsedMilliseconds: Double? = nil) {
        self.halted = halted
        self.recovered = recovered
        self.elapsedMilliseconds = elapsedMilliseconds
    }

    enum CodingKeys: String, CodingKey {
        case halted, recovered
        case elapsedMilliseconds = "elapsed_ms"
    }
}

/// One problem with a document, as the server names it.
struct FieldError: Decodable, Sendable, Equatable {
    var path: String
    var message: String
}

/// What went wrong talking to `tumult server`: the server's own error (its
/// type, message and every field path), no answer at all, or an answer this
/// client cannot read. Its description is what the user sees.
struct ClientError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The HTTP status, when the server answered.
    var status: Int?
    /// The server's `type` (`ValidationError`, `NotFound`, `Conflict`, `Halted`,
    /// `Unauthorized`, `InternalError`), or `Unreachable` / `UnexpectedAnswer`.
    var type: String
    var message: String
    var errors: [FieldError]

    init(status: Int? = nil, type: String, message: String, errors: [FieldError] = []) {
        self.status = status
        self.type = type
        self.message = message
        self.errors = errors
    }

    var description: String {
        ([message] + errors.map { "\($0.path): \($0.message)" }).joined(separator: "\n")
    }

    var isUnreachable: Bool { type == "Unreachable" }

    static func notFound(_ message: String) -> ClientError {
        ClientError(status: 404, type: "NotFound", message: message)
    }

    static func unexpectedAnswer(_ message: String) -> ClientError {
        ClientError(type: "UnexpectedAnswer", message: message)
    }

    /// A failure before any answer: the server is down, or not where we look.
    static func transport(_ error: any Error, server: URL) -> ClientError {
        if let client = error as? HTTPClientError,
           [.deadlineExceeded, .readTimeout, .connectTimeout, .remoteConnectionClosed].contains(client) {
            let reason = client == .remoteConnectionClosed ? "" : " (no answer in time)"
            return ClientError(type: "Unreachable",
                               message: "cannot reach tumult server at \(server.absoluteString)\(reason) (is `tumult server` running?)")
        }
        if error is IOError || "\(error)".lowercased().contains("connect") {
            return ClientError(type: "Unreachable",
                               message: "cannot reach tumult server at \(server.absoluteString) (is `tumult server` running?)")
        }
        return ClientError(type: "Unreachable",
                           message: "cannot talk to tumult server at \(server.absoluteString): \(error)")
    }

    /// The server's JSON error, or a plain description when the body is not one.
    init(status: Int, body: Data) {
        struct Body: Decodable {
            var code: Int?
            var type: String?
            var message: String?
            var errors: [FieldError]?
        }
        if let value = try? APIClient.parseJSON(body), case .object = value,
           let decoded = try? APIClient.decode(Body.self, from: value, what: "an error"), let message = decoded.message {
            self.init(status: status, type: decoded.type ?? "HTTP\(status)", message: message, errors: decoded.errors ?? [])
        } else {
            let text = String(decoding: body.prefix(500), as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
            self.init(status: status, type: "HTTP\(status)",
                      message: "the server answered HTTP \(status)" + (text.isEmpty ? "" : ": \(text)"))
        }
        if status == 401 {
            message += " (give the server's token with --token or $TUMULT_TOKEN)"
        }
    }
}

/// One machine of `GET /api/machines`.
struct MachineItem: Decodable, Sendable, Equatable {
    var name: String
    var namespace: String
    var labels: [String: String]
    var address: String
    var source: String
    var reachable: Bool
    var lastSeen: String?
    var error: String?
    var version: Int?
    var activeAttacks: Int?
    var halted: Bool?
}
