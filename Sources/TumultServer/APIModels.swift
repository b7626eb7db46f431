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

/// `/api/experiments/:uid`: the item plus the object with its status.
struct ExperimentDetail: Encodable, Sendable {
    var uid: String
    var kind: String
    var namespace: String
    var name: String
    var action: String
    var created_at: Date
    var status: String
    var failure: String?
    var schedule_uid: String?
    var kube_object: Value

    init(_ record: ExperimentRecord, at now: Date) {
        let item = ExperimentItem(record, at: now)
        uid = item.uid
        kind = item.kind
        namespace = item.namespace
        name = item.name
        action = item.action
        created_at = item.created_at
        status = item.status
        failure = record.failure
        schedule_uid = record.scheduleUID
        var object = (try? record.document.encoded()) ?? .null
        if case .object(var fields) = object {
            fields["status"] = StatusView.status(of: record, at: now)
            object = .object(fields)
        }
        kube_object = object
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

struct ScheduleDetail: Encodable, Sendable {
    var uid: String
    var kind = "Schedule"
    var namespace: String
    var name: String
    var type: String
    var schedule: String
    var created_at: Date
    var status: String
    var last_schedule_time: Date?
    var experiment_uids: [String]
    var kube_object: Value

    init(_ record: ScheduleRecord) {
        let item = ScheduleItem(record)
        uid = item.uid
        namespace = item.namespace
        name = item.name
        type = item.type
        schedule = item.schedule
        created_at = item.created_at
        status = item.status
        last_schedule_time = record.lastScheduleTime
        experiment_uids = record.runs
        kube_object = (try? record.document.encoded()) ?? .null
    }
}

/// What `POST` answers for each document.
struct AppliedObject: Encodable, Sendable {
    var experiment: ExperimentDetail?
    var schedule: ScheduleDetail?
    var result: String

    func encode(to encoder: Encoder) throws {
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

struct ArchiveDetail: Encodable, Sendable {
    var uid: String
    var kind: String
    var namespace: String
    var name: String
    var action: String
    var start_time: Date
    var finish_time: Date
    var kube_object: Value

    init(_ archive: ArchiveRecord) {
        uid = archive.uid
        kind = archive.kind
        namespace = archive.namespace
        name = archive.name
        action = archive.action
        start_time = archive.startTime
        finish_time = archive.finishTime
        kube_object = archive.object
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
