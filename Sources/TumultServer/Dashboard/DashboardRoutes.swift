import Foundation
import Hummingbird
import ServiceLifecycle
import TumultController
import TumultModel

/// The web dashboard: the single-page app embedded in the binary
/// (`DashboardAssets`), the live stream its pages refresh from, and a
/// dry-run validation route for its YAML editor.
///
/// Everything the pages show comes from the REST API; these routes only
/// add what a browser needs on top of it.
struct DashboardRoutes: Sendable {
    let parts: ServerParts
    var controller: any ExperimentService { parts.experiments }

    /// Server-sent events of the controller's changes.
    static let streamPath = "/api/stream"
    /// A comment line keeps proxies from closing an idle stream and lets
    /// the handler notice a client that went away.
    static let heartbeat: Duration = .seconds(15)
    /// How often the stream looks at the emergency stop, which the
    /// controller does not report as an update, and writes nothing to
    /// learn whether its connection was closed: a write to a closed
    /// connection fails at once, so a stream whose client went away (the
    /// connection guard closes it) ends within this, not at the heartbeat.
    static let haltPoll: Duration = .milliseconds(250)

    /// Paths the bearer token does not guard: the page must load before it
    /// can ask for the token, and it holds no data. The stream checks the
    /// token itself, from `?token=` (EventSource cannot send headers).
    static func isPublic(_ path: String) -> Bool {
        path == "/" || path == "/index.html" || path.hasPrefix("/assets/")
    }

    func register(on router: Router<BasicRequestContext>) {
        for path in ["/", "/index.html"] {
            router.get(RouterPath(path)) { request, _ in DashboardAssets.index.response(to: request, cacheControl: "no-cache") }
            router.head(RouterPath(path)) { request, _ in
                DashboardAssets.index.response(to: request, cacheControl: "no-cache", withBody: false)
            }
        }
        router.get("/assets/:version/:file") { request, context in try asset(request, context) }
        router.head("/assets/:version/:file") { request, context in try asset(request, context, withBody: false) }
        router.post("/api/validate") { request, _ in try await validate(request) }
        router.get(RouterPath(Self.streamPath)) { _, _ in stream() }
    }

    /// `/assets/<version>/<file>`. Asset URLs carry the build's version,
    /// so a browser may keep them for good; an old version's URL is
    /// revalidated instead.
    func asset(_ request: Request, _ context: BasicRequestContext, withBody: Bool = true) throws -> Response {
        let name = try context.parameters.require("file")
        guard let asset = DashboardAssets.files[name] else {
            throw APIError(.notFound, "NotFound", "no dashboard asset \(name)")
        }
        let current = context.parameters.get("version") == DashboardAssets.version
        return asset.response(to: request, cacheControl: current ? "public, max-age=31536000, immutable" : "no-cache",
                              withBody: withBody)
    }

    // MARK: Validation

    /// One problem of a validated text, as the editor shows it.
    struct Problem: Encodable, Sendable {
        var path: String
        var message: String
        /// 1-based document of the text.
        var document: Int
        /// The line a YAML syntax error is on, when the parser said.
        var line: Int?
    }

    struct DocumentSummary: Encodable, Sendable {
        var index: Int
        var kind: String?
        var name: String?
        var namespace: String?
    }

    struct Validation: Encodable, Sendable {
        var valid: Bool
        var errors: [Problem]
        var warnings: [Problem]
        var documents: [DocumentSummary]
    }

    /// Checks documents exactly as `POST /api/experiments` would, with the
    /// same `?fieldValidation=` (Strict by default), and says so without
    /// applying anything: the editor calls it as the user types.
    func validate(_ request: Request) async throws -> Response {
        let validation = try APIRoutes.fieldValidation(of: request)
        try TypedBody.require(request)
        let body = try await request.body.collect(upTo: APIRoutes.bodyLimit)
        let text = String(buffer: body)
        let routes = self
        return JSONResponse.make(try await DocumentParsing.run(bytes: body.readableBytes) {
            routes.check(text, fieldValidation: validation)
        })
    }

    func check(_ text: String, fieldValidation validation: FieldValidation = .strict) -> Validation {
        let reports: [DocumentLoader.Report]
        do {
            reports = try DocumentLoader().load(text, fieldValidation: validation)
        } catch {
            let message = String(describing: error)
            return Validation(valid: false, errors: [Problem(path: FieldPath.root.description, message: message,
                                                             document: 1, line: Self.line(in: message))],
                              warnings: [], documents: [])
        }
        guard !reports.isEmpty else {
            return Validation(valid: false, errors: [Problem(path: FieldPath.root.description, message: "the text holds no document",
                                                             document: 1)],
                              warnings: [], documents: [])
        }
        let supported = Set(parts.supportedKinds)
        var errors: [Problem] = [], warnings: [Problem] = [], documents: [DocumentSummary] = []
        for report in reports {
            errors += report.diagnostics.errors.map { Problem(path: $0.path.description, message: $0.message, document: report.index) }
            warnings += report.diagnostics.warnings.map { Problem(path: $0.path.description, message: $0.message, document: report.index) }
            documents.append(DocumentSummary(index: report.index, kind: report.kind, name: report.name,
                                             namespace: report.document?.namespace))
            switch report.outcome {
            case .valid(let document):
                if let unsupported = Self.unsupportedKind(of: document, supported: supported) {
                    errors.append(Problem(path: unsupported.path, message: "\(unsupported.kind) is not supported on this host yet (supported: "
                                          + supported.map(\.rawValue).sorted().joined(separator: ", ") + ")",
                                          document: report.index))
                }
            case .invalid:
                break
            case .skipped(let reason):
                errors.append(Problem(path: "kind", message: reason, document: report.index))
            }
        }
        return Validation(valid: errors.isEmpty, errors: errors, warnings: warnings, documents: documents)
    }

    /// The kind the controller would refuse at apply, with the field that names it.
    static func unsupportedKind(of document: ChaosDocument, supported: Set<ChaosKind>) -> (path: String, kind: String)? {
        switch document.kind {
        case .schedule:
            guard let spec = document.spec as? ScheduleSpec else { return nil }
            switch spec.type {
            case .chaos(let kind): return supported.contains(kind) ? nil : ("spec.type", kind.rawValue)
            case .workflow: return spec.workflow.flatMap { unsupportedLeaf(of: $0, supported: supported, at: "spec.workflow") }
            }
        case .workflow:
            return (document.spec as? WorkflowSpec).flatMap { unsupportedLeaf(of: $0, supported: supported, at: "spec") }
        case .statusCheck:
            return nil
        default:
            return supported.contains(document.kind) ? nil : ("kind", document.kind.rawValue)
        }
    }

    /// A Workflow's first chaos template of a kind the hosts do not run.
    static func unsupportedLeaf(of spec: WorkflowSpec, supported: Set<ChaosKind>, at path: String) -> (path: String, kind: String)? {
        for (index, template) in spec.templates.enumerated() {
            if case .chaos(let kind) = template.templateType, !supported.contains(kind) {
                return ("\(path).templates[\(index)].templateType", kind.rawValue)
            }
        }
        return nil
    }

    /// `... at line 7, column 3` in a parser message.
    static func line(in message: String) -> Int? {
        guard let range = message.range(of: #"line (\d+)"#, options: .regularExpression) else { return nil }
        return Int(message[range].dropFirst(5))
    }

    // MARK: Live stream

    /// `text/event-stream`: every controller update as `event: update`,
    /// the emergency stop as `event: halt` (now and on each change), and a
    /// comment every 15 s. Ends when the client goes away or the server
    /// shuts down.
    func stream() -> Response {
        let controller = self.controller
        let body = ResponseBody { writer in
            let (messages, continuation) = AsyncStream<String>.makeStream(bufferingPolicy: .bufferingNewest(4096))
            let updates = await controller.updates()
            try await withGracefulShutdownHandler {
                try await withThrowingTaskGroup(of: Void.self) { group in
                    group.addTask {
                        for await update in updates {
                            continuation.yield(Self.event("update", Self.json(UpdateEvent(update))))
                        }
                        continuation.finish()
                    }
                    group.addTask {
                        while !Task.isCancelled {
                            try await Task.sleep(for: Self.heartbeat)
                            continuation.yield(": heartbeat\n\n")
                        }
                    }
                    group.addTask {
                        var last: Bool?
                        while !Task.isCancelled {
                            let halted = await controller.halted
                            if halted != last {
                                continuation.yield(Self.event("halt", halted ? #"{"halted":true}"# : #"{"halted":false}"#))
                                last = halted
                            } else {
                                continuation.yield("")
                            }
                            try await Task.sleep(for: Self.haltPoll)
                        }
                    }
                    // The browser reconnects on its own after 2 s if the stream drops.
                    try await writer.write(ByteBuffer(string: "retry: 2000\n: tumult live updates\n\n"))
                    for await message in messages {
                        try await writer.write(ByteBuffer(string: message))
                    }
                    group.cancelAll()
                }
            } onGracefulShutdown: {
                continuation.finish()
            }
            try await writer.finish(nil)
        }
        return Response(status: .ok,
                        headers: [.contentType: "text/event-stream; charset=utf-8", .cacheControl: "no-cache",
                                  .init("X-Accel-Buffering")!: "no"],
                        body: body)
    }

    /// The stream's `data:` for one change.
    struct UpdateEvent: Encodable {
        var uid: String
        var kind: String
        var status: String

        init(_ update: Controller.Update) {
            uid = update.uid
            kind = update.kind
            status = update.status
        }
    }

    static func event(_ name: String, _ data: String) -> String {
        "event: \(name)\ndata: \(data)\n\n"
    }

    static func json(_ value: some Encodable) -> String {
        (try? JSONResponse.encoder.encode(value)).map { String(decoding: $0, as: UTF8.self) } ?? "{}"
    }
}
