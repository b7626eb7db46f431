import Foundation
import TumultModel

/// Something that happened to an experiment or schedule, as the dashboard's
/// `/api/events` lists it (Kubernetes events' fields).
public struct EventRecord: Codable, Sendable, Hashable {
    public enum EventType: String, Codable, Sendable { case normal = "Normal", warning = "Warning" }

    public var id: Int64
    public var objectID: String
    public var namespace: String
    public var name: String
    public var kind: String
    public var type: EventType
    public var reason: String
    public var message: String
    public var createdAt: Date

    public init(id: Int64 = 0, objectID: String, namespace: String, name: String, kind: String, type: EventType,
                reason: String, message: String, createdAt: Date) {
        self.id = id
        self.objectID = objectID
        self.namespace = namespace
        self.name = name
        self.kind = kind
        self.type = type
        self.reason = reason
        self.message = message
        self.createdAt = createdAt
    }
}

/// A deleted experiment or schedule, kept for the dashboard's archives.
public struct ArchiveRecord: Codable, Sendable, Hashable {
    public var uid: String
    public var kind: String
    public var namespace: String
    public var name: String
    public var action: String
    public var startTime: Date
    public var finishTime: Date
    /// The object as it was at deletion, status included: kept packed
    /// (`PackedValue`, about 60 bytes a target instead of 2.4 KiB as a
    /// tree) and unpacked each time it is read.
    public var object: Value {
        get { packedObject.value }
        set { packedObject = PackedValue(newValue) }
    }
    private var packedObject: PackedValue
    /// The bytes the packed object takes (the memory store's bound).
    var packedSize: Int { packedObject.bytes.count }

    public init(uid: String, kind: String, namespace: String, name: String, action: String, startTime: Date,
                finishTime: Date, object: Value) {
        self.uid = uid
        self.kind = kind
        self.namespace = namespace
        self.name = name
        self.action = action
        self.startTime = startTime
        self.finishTime = finishTime
        self.packedObject = PackedValue(object)
    }

    enum CodingKeys: String, CodingKey {
        case uid, kind, namespace, name, action, startTime, finishTime, object
    }

    public init(from decoder: Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        self.init(uid: try container.decode(String.self, forKey: .uid), kind: try container.decode(String.self, forKey: .kind),
                  namespace: try container.decode(String.self, forKey: .namespace),
                  name: try container.decode(String.self, forKey: .name), action: try container.decode(String.self, forKey: .action),
                  startTime: try container.decode(Date.self, forKey: .startTime),
                  finishTime: try container.decode(Date.self, forKey: .finishTime),
                  object: try container.decode(Value.self, forKey: .object))
    }

    public func encode(to encoder: Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(uid, forKey: .uid)
        try container.encode(kind, forKey: .kind)
        try container.encode(namespace, forKey: .namespace)
        try container.encode(name, forKey: .name)
        try container.encode(action, forKey: .action)
        try container.encode(startTime, forKey: .startTime)
        try container.encode(finishTime, forKey: .finishTime)
        try container.encode(object, forKey: .object)
    }

    // Equal and hashed as the tree is (`Value.Object` compares keys in any
    // order), not as its bytes.
    public static func == (lhs: ArchiveRecord, rhs: ArchiveRecord) -> Bool {
        lhs.uid == rhs.uid && lhs.kind == rhs.kind && lhs.namespace == rhs.namespace && lhs.name == rhs.name
            && lhs.action == rhs.action && lhs.startTime == rhs.startTime && lhs.finishTime == rhs.finishTime
            && (lhs.packedObject == rhs.packedObject || lhs.object == rhs.object)
    }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(uid)
        hasher.combine(kind)
        hasher.combine(namespace)
        hasher.combine(name)
        hasher.combine(action)
        hasher.combine(startTime)
        hasher.combine(finishTime)
        hasher.combine(object)
    }
}

/// Which events to list; nil fields match everything.
public struct EventFilter: Sendable, Hashable {
    public var namespace: String?
    public var name: String?
    public var objectID: String?
    public var kind: String?
    public var limit: Int?
    public var since: Date?

    public init(namespace: String? = nil, name: String? = nil, objectID: String? = nil, kind: String? = nil,
                limit: Int? = nil, since: Date? = nil) {
        self.namespace = namespace
        self.name = name
        self.objectID = objectID
        self.kind = kind
        self.limit = limit
        self.since = since
    }

    public func matches(_ event: EventRecord) -> Bool {
        (namespace == nil || event.namespace == namespace) && (name == nil || event.name == name)
            && (objectID == nil || event.objectID == objectID) && (kind == nil || event.kind == kind)
            && (since == nil || event.createdAt >= since!)
    }
}

/// Everything one controller pass changed, written in one transaction.
public struct StoreBatch: Sendable {
    public var experiments: [ExperimentRecord] = []
    public var schedules: [ScheduleRecord] = []
    public var workflows: [WorkflowRecord] = []
    public var statusChecks: [StatusCheckRecord] = []
    public var removedExperiments: [String] = []
    public var removedSchedules: [String] = []
    public var removedWorkflows: [String] = []
    public var removedStatusChecks: [String] = []
    public var archives: [ArchiveRecord] = []
    public var events: [EventRecord] = []
    public var halted: Bool?

    public init() {}

    public var isEmpty: Bool {
        experiments.isEmpty && schedules.isEmpty && removedExperiments.isEmpty && removedSchedules.isEmpty
            && workflows.isEmpty && statusChecks.isEmpty && removedWorkflows.isEmpty && removedStatusChecks.isEmpty
            && archives.isEmpty && events.isEmpty && halted == nil
    }
}

/// Where the controller keeps experiments, schedules, events and archives,
/// so that a new controller picks up where a crashed one stopped.
public protocol ExperimentStore: Sendable {
    func loadExperiments() throws -> [ExperimentRecord]
    func loadSchedules() throws -> [ScheduleRecord]
    func loadWorkflows() throws -> [WorkflowRecord]
    func loadStatusChecks() throws -> [StatusCheckRecord]
    func isHalted() throws -> Bool
    func write(_ batch: StoreBatch) throws
    /// Newest first.
    func events(_ filter: EventFilter) throws -> [EventRecord]
    func archives() throws -> [ArchiveRecord]
    func archive(_ uid: String) throws -> ArchiveRecord?
}

/// A store that forgets everything when the process ends: `tumult run` and
/// the benchmark. What it keeps of the past is bounded: the newest
/// `eventLimit` events (up to twice as many between trims) and the newest
/// `archiveLimit` archives, fewer if their objects take more than
/// `archiveByteLimit` bytes packed; older ones are dropped first.
public final class InMemoryExperimentStore: ExperimentStore, @unchecked Sendable {
    private let lock = NSLock()
    private var experiments: [String: ExperimentRecord] = [:]
    private var schedules: [String: ScheduleRecord] = [:]
    private var workflows: [String: WorkflowRecord] = [:]
    private var statusChecks: [String: StatusCheckRecord] = [:]
    private var eventList: [EventRecord] = []
    private var nextEventID: Int64 = 1
    private var archiveList: [String: ArchiveRecord] = [:]
    /// Archive uids in the order they were written (oldest first, from
    /// `archiveHead`; a uid written again is counted where it was last).
    private var archiveOrder: [String] = []
    private var archiveHead = 0
    private var archiveBytes = 0
    private var halted = false
    /// Events kept (up to twice as many between trims); older ones are dropped.
    public let eventLimit: Int
    /// Archives kept at most, and the most their packed objects take.
    public let archiveLimit: Int
    public let archiveByteLimit: Int

    public init(eventLimit: Int = 10_000, archiveLimit: Int = 10_000, archiveByteLimit: Int = 32 << 20) {
        self.eventLimit = max(1, eventLimit)
        self.archiveLimit = max(1, archiveLimit)
        self.archiveByteLimit = archiveByteLimit
    }

    public func loadExperiments() throws -> [ExperimentRecord] { lock.withLock { Array(experiments.values) } }
    public func loadSchedules() throws -> [ScheduleRecord] { lock.withLock { Array(schedules.values) } }
    public func loadWorkflows() throws -> [WorkflowRecord] { lock.withLock { Array(workflows.values) } }
    public func loadStatusChecks() throws -> [StatusCheckRecord] { lock.withLock { Array(statusChecks.values) } }
    public func isHalted() throws -> Bool { lock.withLock { halted } }

    public func write(_ batch: StoreBatch) throws {
        lock.withLock {
            for record in batch.experiments { experiments[record.uid] = record }
            for record in batch.schedules { schedules[record.uid] = record }
            for uid in batch.removedExperiments { experiments[uid] = nil }
            for uid in batch.removedSchedules { schedules[uid] = nil }
            for record in batch.workflows { workflows[record.uid] = record }
            for record in batch.statusChecks { statusChecks[record.uid] = record }
            for uid in batch.removedWorkflows { workflows[uid] = nil }
            for uid in batch.removedStatusChecks { statusChecks[uid] = nil }
            for archive in batch.archives { keep(archive) }
            appendEvents(batch.events)
            if let value = batch.halted { halted = value }
        }
    }

    /// Numbers and appends `events`, trimmed in one go to the newest
    /// `eventLimit` once twice the limit is reached: dropping one event per
    /// write would move the whole list each time (a write per acknowledged
    /// apply or delete). Events a trim would drop at once (a first pass
    /// that injects 62,000 targets) are numbered but never stored.
    private func appendEvents(_ events: [EventRecord]) {
        guard !events.isEmpty else { return }
        let firstID = nextEventID
        nextEventID += Int64(events.count)
        let total = eventList.count + events.count
        var skipped = 0
        if total > 2 * eventLimit {
            let drop = total - eventLimit
            if drop >= eventList.count {
                skipped = drop - eventList.count
                eventList.removeAll(keepingCapacity: false)
            } else {
                eventList.removeFirst(drop)
            }
        }
        eventList.reserveCapacity(eventList.count + events.count - skipped)
        for (offset, var event) in events.enumerated().dropFirst(skipped) {
            event.id = firstID + Int64(offset)
            eventList.append(event)
        }
    }

    private func keep(_ archive: ArchiveRecord) {
        if let old = archiveList.updateValue(archive, forKey: archive.uid) {
            archiveBytes -= old.packedSize
            // Counted again where it is now written.
            if let position = archiveOrder[archiveHead...].firstIndex(of: archive.uid) { archiveOrder.remove(at: position) }
        }
        archiveOrder.append(archive.uid)
        archiveBytes += archive.packedSize
        while archiveList.count > archiveLimit || (archiveBytes > archiveByteLimit && archiveList.count > 1) {
            let oldest = archiveOrder[archiveHead]
            archiveHead += 1
            if let dropped = archiveList.removeValue(forKey: oldest) { archiveBytes -= dropped.packedSize }
        }
        if archiveHead > 1024 && archiveHead * 2 > archiveOrder.count {
            archiveOrder.removeFirst(archiveHead)
            archiveHead = 0
        }
    }

    public func events(_ filter: EventFilter) throws -> [EventRecord] {
        lock.withLock {
            var found: [EventRecord] = []
            for event in eventList.reversed() where filter.matches(event) {
                found.append(event)
                if let limit = filter.limit, found.count >= limit { break }
            }
            return found
        }
    }

    public func archives() throws -> [ArchiveRecord] {
        lock.withLock { archiveList.values.sorted { $0.finishTime > $1.finishTime } }
    }

    public func archive(_ uid: String) throws -> ArchiveRecord? { lock.withLock { archiveList[uid] } }
}
