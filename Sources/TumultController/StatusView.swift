import Foundation
import TumultModel

/// How experiments look from outside: Chaos Mesh's `status` object and the
/// dashboard's list items, built from records (pure).
public enum StatusView {
    /// `status` as Chaos Mesh writes it on the object.
    public static func status(of record: ExperimentRecord, at now: Date) -> Value {
        let records: [Value] = record.records.map { target in
            .object(Value.Object([
                ("id", .string(target.id)),
                ("selectorKey", .string(target.selectorKey)),
                ("phase", .string(target.phase.rawValue)),
                ("injectedCount", .integer(target.injectedCount)),
                ("recoveredCount", .integer(target.recoveredCount)),
                // Which host the target is on (a machine of the fleet); Tumult's own field.
                ("nodeName", .string(target.pod.nodeName)),
                ("events", .array(target.events.map { event in
                    .object(Value.Object([
                        ("type", .string(event.type.rawValue)),
                        ("operation", .string(event.operation.rawValue)),
                        ("message", .string(event.message)),
                        ("timestamp", .string(timestamp(event.timestamp))),
                    ]))
                })),
            ]))
        }
        let conditions: [Value] = record.conditions(at: now).map { condition in
            var fields: [(String, Value)] = [("type", .string(condition.type)),
                                             ("status", .string(condition.status ? "True" : "False"))]
            if let message = condition.message { fields.append(("message", .string(message))) }
            return .object(Value.Object(fields))
        }
        return .object(Value.Object([
            ("experiment", .object(Value.Object([
                ("desiredPhase", .string(record.desiredPhase(at: now).rawValue)),
                ("containerRecords", .array(records)),
            ]))),
            ("conditions", .array(conditions)),
        ]))
    }

    /// The spec's `action`, when the kind has one (`delay`), else "".
    public static func action(of document: ChaosDocument) -> String {
        guard let spec = (try? ValueEncoder().encode(document.spec))?.objectValue else { return "" }
        if let action = spec["action"]?.stringValue { return action }
        // Kinds without an `action` field: what their spec does, in their own words.
        if case .array(let toxics)? = spec["toxics"] {
            return toxics.compactMap { $0.objectValue?["type"]?.stringValue }.joined(separator: ",")
        }
        for action in ["abort", "delay", "replace", "patch"] where spec[action] != nil && spec[action] != .bool(false) {
            return action
        }
        return ""
    }

    public static func timestamp(_ date: Date) -> String {
        date.formatted(.iso8601)
    }
}
