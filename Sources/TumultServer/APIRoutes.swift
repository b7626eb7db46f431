import Foundation
import Hummingbird
import TumultController
import TumultHandoff
import TumultModel

/// Chaos Mesh dashboard's REST paths over the controller, plus Tumult's
/// own (`/api/pods`, `/api/halt`). Shapes follow the dashboard's JSON
/// (snake_case) so that its clients keep working.
struct APIRoutes: Sendable {
    let parts: ServerParts
    var controller: any ExperimentService { parts.experiments }

    /// The largest document body accepted.
    static let bodyLimit = 4 << 20

    func register(on router: Router<BasicRequestContext>) {
        for collection in ["experiments", "schedules"] {
            let isSchedule = collection == "schedules"
            let group = router.group(RouterPath("/api/\(collection)"))
            group.get { request, _ in
                if !isSchedule && request.uri.path.hasSuffix("/"), let agent = parts.agent {
                    return try await ServerChaosdRoutes(agent: agent).listAttacks()
                }
                return try await list(request, schedules: isSchedule)
            }
            group.post { request, _ in try await create(request, only: isSchedule ? .schedule : nil) }
            group.delete { request, _ in
                let uids = (request.uri.queryParameters.get("uids") ?? "").split(separator: ",").map(String.init)
                guard !uids.isEmpty else { throw APIError(.badRequest, "BadRequest", "uids is required (?uids=a,b)") }
                // All or none: an unknown uid deletes nothing.
                try await controller.delete(all: uids)
                return JSONResponse.make(["status": "success"])
            }
            group.get("state") { request, _ in try await state(request, schedules: isSchedule) }
            group.get(":uid") { _, context in
                try await detail(try context.parameters.require("uid"), schedules: isSchedule)
            }
            group.delete(":uid") { _, context in
                try await controller.delete(try context.parameters.require("uid"))
                return JSONResponse.make(["status": "success"])
            }
            group.put("pause/:uid") { _, context in
                try await controller.setPaused(try context.parameters.require("uid"), true)
                return JSONResponse.make(["status": "success"])
            }
            group.put("start/:uid") { _, context in
                try await controller.setPaused(try context.parameters.require("uid"), false)
                return JSONResponse.make(["status": "success"])
            }
        }
        router.get("/api/archives") { request, _ in try await archives(request) }
        router.get("/api/archives/:uid") { _, context in
            let uid = try context.parameters.require("uid")
            guard let archive = try parts.controllerStore(controller).archive(uid) else {
                throw APIError(.notFound, "NotFound", "no archive with uid \(uid)")
            }
            return JSONResponse.make(ArchiveDetail(archive))
        }
        router.get("/api/events") { request, _ in
            let query = request.uri.queryParameters
            let filter = EventFilter(namespace: query.get("namespace"), name: query.get("name"),
                                     objectID: query.get("object_id"), kind: query.get("kind"),
                                     limit: query.get("limit").flatMap(Int.init) ?? 100,
                                     since: query.get("start").flatMap(Self.parseDate))
            return JSONResponse.make(try await controller.events(filter).map(EventItem.init))
        }
        router.get("/api/common/kinds") { _, _ in
            JSONResponse.make(parts.supportedKinds.map(\.rawValue).sorted() + ["Schedule"])
        }
        router.get("/api/common/namespaces") { _, _ in
            JSONResponse.make(Array(Set(await parts.fleet.pods().pods.map(\.namespace)).union(["default"])).sorted())
        }
        router.get("/api/common/chaos-available-namespaces") { _, _ in
            JSONResponse.make(Array(Set(await parts.fleet.pods().pods.map(\.namespace)).union(["default"])).sorted())
        }
        router.get("/api/common/labels") { request, _ in
            let namespaces = Set((request.uri.queryParameters.get("podNamespaceList") ?? "").split(separator: ",").map(String.init))
            var labels: [String: Set<String>] = [:]
            for pod in await parts.fleet.pods().pods where namespaces.isEmpty || namespaces.contains(pod.namespace) {
                for (key, value) in pod.labels { labels[key, default: []].insert(value) }
            }
            return JSONResponse.make(labels.mapValues { $0.sorted() })
        }
        router.get("/api/common/config") { _, _ in
            JSONResponse.make(["security_mode": parts.tokenRequired ? "true" : "false", "version": TumultVersion.text,
                               "dns_server_create": "false"])
        }
        router.get("/api/pods") { _, _ in JSONResponse.make(await parts.fleet.pods().pods) }
        router.get("/api/halt") { _, _ in JSONResponse.make(["halted": await controller.halted]) }
        router.post("/api/halt") { _, _ in
            let started = ContinuousClock.now
            let recovered = try await controller.halt()
            let elapsed = ContinuousClock.now - started
            struct Halted: Encodable { var halted: Bool; var recovered: Int; var elapsed_ms: Double }
            return JSONResponse.make(Halted(halted: true, recovered: recovered,
                                            elapsed_ms: Double(elapsed.components.attoseconds) / 1e15 + Double(elapsed.components.seconds) * 1000))
        }
        router.delete("/api/halt") { _, _ in
            try await controller.unhalt()
            return JSONResponse.make(["halted": false])
        }
    }

    // MARK: Handlers

    func list(_ request: Request, schedules: Bool) async throws -> Response {
        let query = request.uri.queryParameters
        let namespace = query.get("namespace"), name = query.get("name"), kind = query.get("kind"), status = query.get("status")
        if schedules {
            let items = await controller.allSchedules().filter { $0.deletedAt == nil }.map { ScheduleItem($0) }.filter {
                (namespace == nil || $0.namespace == namespace) && (name == nil || $0.name == name)
                    && (kind == nil || $0.type == kind) && (status == nil || $0.status == status)
            }
            return JSONResponse.make(items)
        }
        // Served from the items encoded at earlier requests; the controller
        // hands its records over only when they changed.
        let cache = parts.experimentList
        let snapshot = await controller.experimentsSnapshot(changedSince: cache.revision)
        return cache.response(revision: snapshot.revision, records: snapshot.records, at: snapshot.now,
                              filter: .init(namespace: namespace, name: name, kind: kind, status: status))
    }

    func detail(_ uid: String, schedules: Bool) async throws -> Response {
        let moment = await controller.currentDate()
        if schedules {
            guard let record = await controller.schedule(uid) else {
                throw APIError(.notFound, "NotFound", "no schedule with uid \(uid)")
            }
            return JSONResponse.make(ScheduleDetail(record))
        }
        guard let record = await controller.experiment(uid) else {
            throw APIError(.notFound, "NotFound", "no experiment with uid \(uid)")
        }
        return JSONResponse.make(ExperimentDetail(record, at: moment))
    }

    func state(_ request: Request, schedules: Bool) async throws -> Response {
        let namespace = request.uri.queryParameters.get("namespace")
        let moment = await controller.currentDate()
        var counts = Dictionary(uniqueKeysWithValues: ExperimentStatusName.allCases.map { ($0.stateKey, 0) })
        if schedules {
            for record in await controller.allSchedules() where record.deletedAt == nil && (namespace == nil || record.namespace == namespace) {
                counts[record.isPaused ? "Paused" : "Running", default: 0] += 1
            }
        } else {
            for record in await controller.allExperiments() where namespace == nil || record.namespace == namespace {
                counts[record.status(at: moment).stateKey, default: 0] += 1
            }
        }
        return JSONResponse.make(counts)
    }

    /// Applies one or more documents (JSON, or YAML with any number of
    /// `---` documents). Nothing is applied when any document is invalid;
    /// unknown fields are errors unless `?fieldValidation=Warn|Ignore` says
    /// otherwise. Warnings come back in each answer and as `Warning` headers.
    /// The documents are applied all together or not at all; `/api/schedules`
    /// takes only Schedules, `/api/workflows` only Workflows (`only`).
    func create(_ request: Request, only: ChaosKind? = nil) async throws -> Response {
        let validation = try Self.fieldValidation(of: request)
        try TypedBody.require(request)
        let body = try await request.body.collect(upTo: Self.bodyLimit)
        let text = String(buffer: body)
        let reports: [DocumentLoader.Report]
        do {
            reports = try await DocumentParsing.load(text, fieldValidation: validation)
        } catch {
            throw APIError(.badRequest, "ValidationError", "the body is not YAML or JSON: \(error)")
        }
        guard !reports.isEmpty else { throw APIError(.badRequest, "ValidationError", "the body holds no document") }
        var errors: [APIError.FieldError] = []
        var documents: [ChaosDocument] = []
        for report in reports {
            switch report.outcome {
            case .valid(let document): documents.append(document)
            case .invalid:
                errors += report.diagnostics.errors.map {
                    APIError.FieldError(path: $0.path.description, message: $0.message, document: reports.count > 1 ? report.index : nil)
                }
            case .skipped(let reason):
                errors.append(.init(path: "kind", message: "not a chaos experiment: \(reason)",
                                    document: reports.count > 1 ? report.index : nil))
            }
        }
        if let only {
            for report in reports {
                guard let document = report.document, document.kind != only else { continue }
                errors.append(.init(path: "kind", message: "\(document.kind.rawValue): only a \(only.rawValue) can be created here (use /api/experiments)",
                                    document: reports.count > 1 ? report.index : nil))
            }
        }
        guard errors.isEmpty else {
            let first = errors[0]
            throw APIError(.badRequest, "ValidationError", "invalid document: \(first.path): \(first.message)", errors: errors)
        }
        // Every report is valid here: one document each, in order.
        let warnings = Self.warnings(of: reports)
        var bodies: [AppliedAnswer] = []
        let applied = try await controller.apply(all: documents)
        let moment = await controller.currentDate()
        for ((uid, result), documentWarnings) in zip(applied, warnings) {
            if let record = await controller.experiment(uid) {
                bodies.append(AppliedAnswer(applied: AppliedObject(experiment: ExperimentDetail(record, at: moment), schedule: nil,
                                                                   result: result.rawValue),
                                            warnings: documentWarnings))
            } else if let record = await controller.schedule(uid) {
                bodies.append(AppliedAnswer(applied: AppliedObject(experiment: nil, schedule: ScheduleDetail(record), result: result.rawValue),
                                            warnings: documentWarnings))
            } else if let record = await controller.workflow(uid) {
                bodies.append(AppliedAnswer(applied: AppliedObject(experiment: nil, schedule: nil, result: result.rawValue,
                                                                   other: WorkflowRoutes.withResult(WorkflowView.detail(of: record), result.rawValue)),
                                            warnings: documentWarnings))
            } else if let record = await controller.statusCheck(uid) {
                bodies.append(AppliedAnswer(applied: AppliedObject(experiment: nil, schedule: nil, result: result.rawValue,
                                                                   other: WorkflowRoutes.withResult(WorkflowRoutes.statusCheckDetail(record), result.rawValue)),
                                            warnings: documentWarnings))
            }
        }
        let response = bodies.count == 1 ? JSONResponse.make(bodies[0]) : JSONResponse.make(bodies)
        return Self.addingWarningHeaders(warnings.flatMap { $0 }, to: response)
    }

    func archives(_ request: Request) async throws -> Response {
        let query = request.uri.queryParameters
        let namespace = query.get("namespace"), name = query.get("name"), kind = query.get("kind")
        let items = try parts.controllerStore(controller).archives().filter {
            (namespace == nil || $0.namespace == namespace) && (name == nil || $0.name == name) && (kind == nil || $0.kind == kind)
        }.map(ArchiveItem.init)
        return JSONResponse.make(items)
    }

    static func parseDate(_ text: String) -> Date? {
        try? Date(text, strategy: .iso8601)
    }
}

extension ServerParts {
    func controllerStore(_ controller: any ExperimentService) -> any ExperimentStore { controller.store }
    var tokenRequired: Bool { requiresToken }
}
