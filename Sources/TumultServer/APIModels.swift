import Foundation
import TumultController
import TumultModel

/// `/api/experiments` list item (the dashboard's `core.Experiment`).
struct ExperimentItem: Encodable, Sendable {
    var uid: String
    var kind: String
    var namespace: String
    var name: String
    var action: String
    var created_at: Date
    var status: String

    init(_ record: ExperimentRecord, at now: Date) {
        uid = record.uid
        kind = record.kind.rawValue
        namespace = record.namespace
        name = record.name
        action = StatusView.action(of: record.document)
        created_at = record.createdAt
        status = record.status(at: now).rawValue
    }
}

/// A list item with more keys beside its own, in one JSON object: the
/// dashboard's detail answers are its list items plus the object.
struct Detailed<Item: Encodable & Sendable, Extra: Encodable & Sendable>: Encodable, Sendable {
    var item: Item
    var extra: Extra

    func encode(to encoder: Encoder) throws {
        try item.encode(to: encoder)
        try extra.encode(to: encoder)
    }
}

/// `/api/experiments/:uid`: the item plus the object with its status.
typealias ExperimentDetail = Detailed<ExperimentItem, ExperimentExtra>

struct ExperimentExtra: Encodable, Sendable {
    var failure: String?
    var schedule_uid: String?
    var kube_object: Value
}

extension Detailed where Item == ExperimentItem, Extra == ExperimentExtra {
    init(_ record: ExperimentRecord, at now: Date) {
        var object = (try? record.document.encoded()) ?? .null
        if case .object(var fields) = object {
            fields["status"] = StatusView.status(of: record, at: now)
            object = .object(fields)
        }
        self.init(item: ExperimentItem(record, at: now),
                  extra: ExperimentExtra(failure: record.failure, schedule_uid: record.scheduleUID, kube_object: object))
    }
}

struct ScheduleItem: Encodable, Sendable {
    var uid: String
    var kind = "Schedule"
    var namespace: String
    var name: String
    var type: String
    var schedule: String
    var created_at: Date
    var status: String

    init(_ record: ScheduleRecord) {
        uid = record.uid
        namespace = record.namespace
        name = record.name
        type = record.spec?.type.rawValue ?? ""
        schedule = record.spec?.schedule.text ?? ""
        created_at = record.createdAt
        status = record.deletedAt != nil ? "deleting" : record.isPaused ? "paused" : "running"
    }
}

typealias ScheduleDetail = Detailed<ScheduleItem, ScheduleExtra>

struct ScheduleExtra: Encodable, Sendable {
    var last_schedule_time: Date?
    var experiment_uids: [String]
    var kube_object: Value
}

extension Detailed where Item == ScheduleItem, Extra == ScheduleExtra {
    init(_ record: ScheduleRecord) {
        self.init(item: ScheduleItem(record),
                  extra: ScheduleExtra(last_schedule_time: record.lastScheduleTime, experiment_uids: record.runs,
                                       kube_object: (try? record.document.encoded()) ?? .null))
    }
}

/// What `POST` answers for each document.
struct AppliedObject: Encodable, Sendable {
    var experiment: ExperimentDetail?
    var schedule: ScheduleDetail?
    var result: String
    /// A workflow's or status check's detail, `result` already in it.
    var other: Value? = nil

    func encode(to encoder: Encoder) throws {
        if let other {
            try other.encode(to: encoder)
            return
        }
        if let experiment { try experiment.encode(to: encoder) } else if let schedule { try schedule.encode(to: encoder) }
        var container = encoder.container(keyedBy: Key.self)
        try container.encode(result, forKey: .result)
    }

    enum Key: String, CodingKey { case result }
}

struct ArchiveItem: Encodable, Sendable {
    var uid: String
    var kind: String
    var namespace: String
    var name: String
    var action: String
    var start_time: Date
    var finish_time: Date

    init(_ archive: ArchiveRecord) {
        uid = archive.uid
        kind = archive.kind
        namespace = archive.namespace
        name = archive.name
        action = archive.action
        start_time = archive.startTime
        finish_time = archive.finishTime
    }
}

typealias ArchiveDetail = Detailed<ArchiveItem, ArchiveExtra>

struct ArchiveExtra: Encodable, Sendable {
    var kube_object: Value
}

extension Detailed where Item == ArchiveItem, Extra == ArchiveExtra {
    init(_ archive: ArchiveRecord) {
        self.init(item: ArchiveItem(archive), extra: ArchiveExtra(kube_object: archive.object))
    }
}

struct EventItem: Encodable, Sendable {
    var id: Int64
    var object_id: String
    var created_at: Date
    var namespace: String
    var name: String
    var kind: String
    var type: String
    var reason: String
    var message: String

    init(_ event: EventRecord) {
        id = event.id
        object_id = event.objectID
        created_at = event.createdAt
        namespace = event.namespace
        name = event.name
        kind = event.kind
        type = event.type.rawValue
        reason = event.reason
        message = event.message
    }
}
