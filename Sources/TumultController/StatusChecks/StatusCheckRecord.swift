import Foundation
import TumultModel

/// One StatusCheck as the controller keeps it: its document and its
/// running state (history of results, conditions). A check applied on its
/// own runs until its duration or its thresholds end it, as Chaos Mesh's
/// do; one a Workflow started is stopped by the Workflow.
public struct StatusCheckRecord: Sendable, Equatable {
    public var uid: String
    public var document: ChaosDocument
    public var createdAt: Date
    public var deletedAt: Date?
    /// The Workflow that started it, if any.
    public var workflowUID: String?
    public var state: StatusCheckState

    public init(uid: String, document: ChaosDocument, createdAt: Date, workflowUID: String? = nil) {
        self.uid = uid
        self.document = document
        self.createdAt = createdAt
        self.workflowUID = workflowUID
        let spec = (document.spec as? StatusCheckSpec) ?? StatusCheckSpec(type: .http)
        state = StatusCheckState(spec: spec, startedAt: createdAt)
    }

    public var spec: StatusCheckSpec? { document.spec as? StatusCheckSpec }
    public var name: String { document.name }
    public var namespace: String { document.namespace }
    public var isDeleted: Bool { deletedAt != nil }

    /// Chaos Mesh's StatusCheck `status`: startTime, completionTime, count,
    /// records and conditions.
    public var status: Value {
        var fields: [(String, Value)] = [("startTime", .string(Controller.timestamp(state.startedAt)))]
        if let completed = state.completedAt { fields.append(("completionTime", .string(Controller.timestamp(completed)))) }
        fields.append(("count", .integer(state.count)))
        fields.append(("records", .array(state.records.map { record in
            var entry: [(String, Value)] = [("startTime", .string(Controller.timestamp(record.startTime))),
                                            ("outcome", .string(record.outcome.rawValue))]
            if let code = record.statusCode { entry.append(("statusCode", .integer(code))) }
            if let message = record.message { entry.append(("message", .string(message))) }
            return .object(Value.Object(entry))
        })))
        fields.append(("conditions", .array(state.conditions.map { condition in
            var entry: [(String, Value)] = [("type", .string(condition.type.rawValue)),
                                            ("status", .string(condition.status ? "True" : "False"))]
            if let reason = condition.reason { entry.append(("reason", .string(reason.rawValue))) }
            entry.append(("lastProbeTime", .string(Controller.timestamp(condition.lastProbeTime))))
            entry.append(("lastTransitionTime", .string(Controller.timestamp(condition.lastTransitionTime))))
            return .object(Value.Object(entry))
        })))
        return .object(Value.Object(fields))
    }
}

extension StatusCheckRecord: NamedDocumentRecord {}

extension StatusCheckRecord: Codable {
    enum CodingKeys: String, CodingKey { case uid, document, createdAt, deletedAt, workflowUID, state }

    public init(from decoder: Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        uid = try container.decode(String.self, forKey: .uid)
        document = try ChaosDocument.decodeStored(try container.decode(Value.self, forKey: .document))
        createdAt = try container.decode(Date.self, forKey: .createdAt)
        deletedAt = try container.decodeIfPresent(Date.self, forKey: .deletedAt)
        workflowUID = try container.decodeIfPresent(String.self, forKey: .workflowUID)
        state = try container.decode(StatusCheckState.self, forKey: .state)
    }

    public func encode(to encoder: Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(uid, forKey: .uid)
        try container.encode(try document.encoded(), forKey: .document)
        try container.encode(createdAt, forKey: .createdAt)
        try container.encodeIfPresent(deletedAt, forKey: .deletedAt)
        try container.encodeIfPresent(workflowUID, forKey: .workflowUID)
        try container.encode(state, forKey: .state)
    }
}
