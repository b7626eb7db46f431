import Foundation
import TumultModel

/// Workflows and status checks: Chaos Mesh dashboard's `/api/workflows`
/// and Tumult's `/api/statuschecks`.
extension APIClient {
    /// `GET /api/workflows`, both filters optional; `status` is Chaos Mesh's
    /// word (`running`, `finished`, `failed`, `aborted`).
    func workflows(namespace: String? = nil, status: String? = nil) async throws -> [Received<WorkflowItem>] {
        let answer = try await call(.get, ObjectCollection.workflows.path, query: [("namespace", namespace), ("status", status)])
        return try Self.items(WorkflowItem.self, in: answer, what: "workflows")
    }

    /// `GET /api/workflows/:uid`: the meta with its node topology and the
    /// Workflow document (an archived workflow's too).
    func workflow(uid: String) async throws -> Received<WorkflowDetail> {
        let answer = try await call(.get, ObjectCollection.workflows.path + "/" + Self.pathComponent(uid))
        return Received(item: try Self.decode(WorkflowDetail.self, from: answer, what: "workflow \(uid)"), json: answer)
    }

    /// `GET /api/statuschecks`.
    func statusChecks(namespace: String? = nil) async throws -> [Received<StatusCheckItem>] {
        let answer = try await call(.get, ObjectCollection.statuschecks.path, query: [("namespace", namespace)])
        return try Self.items(StatusCheckItem.self, in: answer, what: "status checks")
    }

    /// `GET /api/statuschecks/:uid`: the item with the StatusCheck document and its records.
    func statusCheck(uid: String) async throws -> Received<StatusCheckDetail> {
        let answer = try await call(.get, ObjectCollection.statuschecks.path + "/" + Self.pathComponent(uid))
        return Received(item: try Self.decode(StatusCheckDetail.self, from: answer, what: "status check \(uid)"), json: answer)
    }
}
