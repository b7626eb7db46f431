import Foundation
import Hummingbird
import TumultController
import TumultModel

/// Chaos Mesh dashboard's workflow paths (`pkg/dashboard/apiserver/workflow`):
/// list, create, detail with the node topology, update, delete, and the
/// HTTP task helpers (render a request as a curl Task, parse it back,
/// validate); plus Tumult's `/api/statuschecks` for the StatusCheck
/// documents applied on their own (Chaos Mesh's dashboard has no page for
/// them; their status is what `kubectl get statuscheck -o yaml` shows).
struct WorkflowRoutes: Sendable {
    let parts: ServerParts
    var controller: any ExperimentService { parts.experiments }

    func register(on router: Router<BasicRequestContext>) {
        let group = router.group(RouterPath("/api/workflows"))
        group.get { request, _ in
            let query = request.uri.queryParameters
            let namespace = query.get("namespace"), status = query.get("status")
            let items = await controller.allWorkflows().filter { record in
                !record.isDeleted && (namespace == nil || record.namespace == namespace)
                    && (status == nil || WorkflowView.statusWord(of: record) == status?.lowercased())
            }
            return JSONResponse.make(Value.array(items.map(WorkflowView.meta)))
        }
        group.post { request, _ in try await APIRoutes(parts: parts).create(request, only: .workflow) }
        group.get(":uid") { _, context in
            let uid = try context.parameters.require("uid")
            if let record = await controller.workflow(uid) { return JSONResponse.make(WorkflowView.detail(of: record)) }
            // As Chaos Mesh: a workflow no longer live is answered from what was kept.
            if let archive = try parts.controllerStore(controller).archive(uid), archive.kind == "Workflow" {
                return JSONResponse.make(Self.archivedDetail(archive))
            }
            throw APIError(.notFound, "NotFound", "no workflow with uid \(uid)")
        }
        group.put(":uid") { request, context in
            let uid = try context.parameters.require("uid")
            guard let existing = await controller.workflow(uid), !existing.isDeleted else {
                throw APIError(.notFound, "NotFound", "no workflow with uid \(uid)")
            }
            try TypedBody.require(request)
            let body = try await request.body.collect(upTo: APIRoutes.bodyLimit)
            let reports: [DocumentLoader.Report]
            do {
                reports = try await DocumentParsing.load(String(buffer: body), fieldValidation: .strict)
            } catch {
                throw APIError(.badRequest, "ValidationError", "the body is not YAML or JSON: \(error)")
            }
            guard reports.count == 1, let report = reports.first else {
                throw APIError(.badRequest, "ValidationError", "the body must hold exactly one Workflow")
            }
            guard let document = report.document else {
                let errors = report.diagnostics.errors.map { APIError.FieldError(path: $0.path.description, message: $0.message, document: nil) }
                throw APIError(.badRequest, "ValidationError",
                               "invalid document: " + (errors.first.map { "\($0.path): \($0.message)" } ?? "not a Workflow"), errors: errors)
            }
            guard document.kind == .workflow else {
                throw APIError(.badRequest, "ValidationError", "kind: \(document.kind.rawValue): only a Workflow can be updated here")
            }
            // Chaos Mesh's checks: the path's workflow and the body's must be the same object.
            guard document.namespace == existing.namespace else {
                throw APIError(.badRequest, "BadRequest",
                               "metadata.namespace: namespace is not consistent, pathParameter: \(existing.namespace), metaInRaw: \(document.namespace)")
            }
            guard document.name == existing.name else {
                throw APIError(.badRequest, "BadRequest",
                               "metadata.name: name is not consistent, pathParameter: \(existing.name), metaInRaw: \(document.name)")
            }
            let applied = try await controller.apply(all: [document])
            guard let (newUID, result) = applied.first, let record = await controller.workflow(newUID) else {
                throw APIError(.internalServerError, "InternalError", "the workflow was applied but cannot be read back")
            }
            return JSONResponse.make(Self.withResult(WorkflowView.detail(of: record), result.rawValue))
        }
        group.delete(":uid") { _, context in
            let uid = try context.parameters.require("uid")
            guard await controller.workflow(uid) != nil else { throw APIError(.notFound, "NotFound", "no workflow with uid \(uid)") }
            try await controller.delete(uid)
            return JSONResponse.make(["status": "success"])
        }
        group.post("render-task/http") { request, _ in
            let form: HTTPTaskForm = try await Self.decode(request)
            return JSONResponse.make(try form.renderedTemplate())
        }
        group.post("parse-task/http") { request, _ in
            let template: Value = try await Self.decode(request)
            return JSONResponse.make(try HTTPTaskForm(parsing: template))
        }
        group.post("validate-task/http") { request, _ in
            let template: Value = try await Self.decode(request)
            return JSONResponse.make((try? HTTPTaskForm(parsing: template)) != nil)
        }

        let checks = router.group(RouterPath("/api/statuschecks"))
        checks.get { request, _ in
            let namespace = request.uri.queryParameters.get("namespace")
            let items = await controller.allStatusChecks().filter { namespace == nil || $0.namespace == namespace }
            return JSONResponse.make(Value.array(items.map(Self.statusCheckItem)))
        }
        checks.get(":uid") { _, context in
            let uid = try context.parameters.require("uid")
            guard let record = await controller.statusCheck(uid) else {
                throw APIError(.notFound, "NotFound", "no status check with uid \(uid)")
            }
            return JSONResponse.make(Self.statusCheckDetail(record))
        }
        checks.delete(":uid") { _, context in
            let uid = try context.parameters.require("uid")
            guard await controller.statusCheck(uid) != nil else { throw APIError(.notFound, "NotFound", "no status check with uid \(uid)") }
            try await controller.delete(uid)
            return JSONResponse.make(["status": "success"])
        }
    }

    static func decode<T: Decodable>(_ request: Request) async throws -> T {
        try TypedBody.require(request)
        let body = try await request.body.collect(upTo: 1 << 20)
        do {
            return try JSONDecoder().decode(T.self, from: Data(body.readableBytesView))
        } catch {
            throw APIError(.badRequest, "BadRequest", "failed to parse request body: \(error)")
        }
    }

    /// A `POST`'s answer: the detail with how it was applied.
    static func withResult(_ detail: Value, _ result: String) -> Value {
        guard case .object(var fields) = detail else { return detail }
        fields["result"] = .string(result)
        return .object(fields)
    }

    /// An archived workflow as a detail: its last status's nodes as the topology.
    static func archivedDetail(_ archive: ArchiveRecord) -> Value {
        let status = archive.object.objectValue?["status"]?.objectValue
        let spec = archive.object.objectValue?["spec"]?.objectValue
        var fields: [(String, Value)] = [
            ("uid", .string(archive.uid)), ("namespace", .string(archive.namespace)), ("name", .string(archive.name)),
            ("entry", spec?["entry"] ?? .string("")),
            ("created_at", .string(archive.startTime.formatted(.iso8601))),
            ("end_time", .string(archive.finishTime.formatted(.iso8601))),
            ("status", .string(Self.archivedStatus(status?["phase"]?.stringValue))),
            ("phase", status?["phase"] ?? .string("Archived")),
            ("archived", .bool(true)),
        ]
        fields.append(("topology", .object(Value.Object([("nodes", status?["nodes"] ?? .array([]))]))))
        fields.append(("kube_object", archive.object))
        return .object(Value.Object(fields))
    }

    static func archivedStatus(_ phase: String?) -> String {
        switch phase {
        case "Accomplished": "finished"
        case "Aborted": "aborted"
        case "Failed": "failed"
        default: "unknown"
        }
    }

    static func statusCheckItem(_ record: StatusCheckRecord) -> Value {
        var fields: [(String, Value)] = [
            ("uid", .string(record.uid)), ("namespace", .string(record.namespace)), ("name", .string(record.name)),
            ("created_at", .string(record.createdAt.formatted(.iso8601))),
            ("mode", .string(record.state.policy.mode.rawValue)),
            ("url", .string(record.spec?.http?.url ?? "")),
            ("status", .string(record.state.outcome.rawValue)),
            ("verdict", .string(record.state.verdict.rawValue)),
            ("count", .integer(record.state.count)),
        ]
        if let workflow = record.workflowUID { fields.append(("workflow_uid", .string(workflow))) }
        return .object(Value.Object(fields))
    }

    static func statusCheckDetail(_ record: StatusCheckRecord) -> Value {
        guard case .object(var fields) = statusCheckItem(record) else { return .null }
        var object = (try? record.document.encoded()) ?? .null
        if case .object(var objectFields) = object {
            objectFields["status"] = record.status
            object = .object(objectFields)
        }
        fields["kube_object"] = object
        return .object(fields)
    }
}
