import Foundation
import TumultController
import TumultModel

/// Chaos objects as the server's records: the document the object holds
/// and, read back from the `status` the operator wrote
/// (`StatusView.status(of:at:)`), what happened to each target. Pure: the
/// same object always makes the same record, so it is converted once per
/// resourceVersion.
enum ClusterRecords {
    /// What one chaos object stands for.
    enum Converted: Sendable, Equatable {
        case experiment(ExperimentRecord)
        case schedule(ScheduleRecord)
        /// Not a document Tumult reads; kept so that it is not parsed again.
        case unreadable(String)
    }

    /// The object's document (status removed: it is not the document's)
    /// and its status turned back into records.
    static func convert(_ object: UnstructuredObject) -> Converted {
        let metadata = object.metadata
        guard let uid = metadata.uid, !uid.isEmpty else { return .unreadable("no metadata.uid") }
        let report = ChaosObjects.check(object.value)
        guard var document = report.document else { return .unreadable(ChaosObjects.problems(of: report)) }
        document.metadata.uid = uid
        let createdAt = metadata.creationTimestamp.flatMap(MicroTime.parse) ?? Date(timeIntervalSince1970: 0)
        let deletedAt = metadata.deletionTimestamp.flatMap(MicroTime.parse)
        let status = object.status?.objectValue
        if document.kind == .schedule {
            var record = ScheduleRecord(uid: uid, document: document, createdAt: createdAt)
            record.deletedAt = deletedAt
            record.lastScheduleTime = status?["time"]?.stringValue.flatMap(MicroTime.parse)
            record.runs = array(status?["active"]).compactMap { $0.objectValue?["uid"]?.stringValue }
            return .schedule(record)
        }
        var record = ExperimentRecord(uid: uid, document: document, createdAt: createdAt,
                                      scheduleUID: metadata.ownerReferences.first { $0.kind == ChaosKind.schedule.rawValue }?.uid)
        record.deletedAt = deletedAt
        let experiment = status?["experiment"]?.objectValue
        record.records = array(experiment?["containerRecords"]).compactMap(target)
        let conditions = array(status?["conditions"]).compactMap(\.objectValue)
        if let selected = conditions.first(where: { $0["type"]?.stringValue == "Selected" }) {
            record.selected = selected["status"]?.stringValue == "True"
            // The controller writes a message on Selected only when selection failed.
            if let message = selected["message"]?.stringValue, !message.isEmpty {
                record.failure = message
                record.selected = true
            }
        }
        return .experiment(record)
    }

    /// One `containerRecords` entry. The pod is as much of it as the record
    /// names: the server shows targets, it never injects into them.
    static func target(_ value: Value) -> TargetRecord? {
        guard let fields = value.objectValue, let id = fields["id"]?.stringValue else { return nil }
        let parts = id.split(separator: "/", maxSplits: 1).map(String.init)
        let pod = Pod(name: parts.count == 2 ? parts[1] : id, namespace: parts.count == 2 ? parts[0] : "default",
                      nodeName: fields["nodeName"]?.stringValue ?? "", source: .kubernetes)
        var record = TargetRecord(pod: pod)
        record.id = id
        record.selectorKey = fields["selectorKey"]?.stringValue ?? "."
        record.phase = fields["phase"]?.stringValue.flatMap(TargetRecord.Phase.init(rawValue:)) ?? .notInjected
        record.injectedCount = integer(fields["injectedCount"]) ?? 0
        record.recoveredCount = integer(fields["recoveredCount"]) ?? 0
        record.events = array(fields["events"]).compactMap { event in
            guard let event = event.objectValue,
                  let type = event["type"]?.stringValue.flatMap(RecordEvent.Outcome.init(rawValue:)),
                  let operation = event["operation"]?.stringValue.flatMap(RecordEvent.Operation.init(rawValue:)) else { return nil }
            return RecordEvent(type: type, operation: operation, message: event["message"]?.stringValue ?? "",
                               timestamp: event["timestamp"]?.stringValue.flatMap(MicroTime.parse) ?? Date(timeIntervalSince1970: 0))
        }
        return record
    }

    /// An events.k8s.io Event about a chaos object, as the dashboard lists
    /// it; nil for events about anything else.
    static func event(_ object: EventObject) -> EventRecord? {
        guard let regarding = object.regarding,
              let group = regarding.apiVersion?.split(separator: "/").first.map(String.init),
              group == ChaosKind.chaosMeshGroup || group == ChaosKind.tumultGroup else { return nil }
        let moment = object.series.flatMap { MicroTime.parse($0.lastObservedTime) }
            ?? object.eventTime.flatMap(MicroTime.parse)
            ?? object.metadata.creationTimestamp.flatMap(MicroTime.parse)
            ?? Date(timeIntervalSince1970: 0)
        return EventRecord(id: number(object.metadata.uid ?? object.key), objectID: regarding.uid ?? "",
                           namespace: regarding.namespace ?? object.metadata.namespace ?? "default",
                           name: regarding.name ?? "", kind: regarding.kind ?? "",
                           type: object.type == EventType.warning.rawValue ? .warning : .normal,
                           reason: object.reason ?? "", message: object.note ?? "", createdAt: moment)
    }

    /// A stable positive number for an event's uid (the dashboard numbers
    /// its events; Kubernetes names them): FNV-1a, 63 bits.
    static func number(_ text: String) -> Int64 {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in text.utf8 {
            hash ^= UInt64(byte)
            hash = hash &* 0x0000_0100_0000_01b3
        }
        return Int64(hash >> 1)
    }

    /// The RFC 7386 merge patch that turns `old` into `new`: changed keys
    /// with their new values, removed ones as null, objects diffed key by
    /// key (arrays are replaced whole); nil when they are equal.
    static func mergePatch(from old: Value?, to new: Value) -> Value? {
        guard let old, old != new else { return old == nil ? new : nil }
        guard case .object(let before) = old, case .object(let after) = new else { return new }
        var fields: [(String, Value)] = []
        for (key, value) in after.pairs {
            if let change = mergePatch(from: before[key], to: value) { fields.append((key, change)) }
        }
        for key in before.keys where after[key] == nil { fields.append((key, .null)) }
        return fields.isEmpty ? nil : .object(Value.Object(fields))
    }

    private static func array(_ value: Value?) -> [Value] {
        if case .array(let items)? = value { return items }
        return []
    }

    private static func integer(_ value: Value?) -> Int? {
        switch value {
        case .integer(let number)?: number
        case .double(let number)?: Int(number)
        case .string(let text)?: Int(text)
        default: nil
        }
    }
}
