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
    /// The object as it was at deletion, status included.
    public var object: Value

    public init(uid: String, kind: String, namespace: String, name: String, action: String, startTime: Date,
                finishTime: Date, object: Value) {
        self.uid = uid
        self.kind = kind
        self.namespace = namespace
        self.name = name
        self.action = action
        self.startTime = startTime
        self.finishTime = finishTime
        self.object = object
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
/// the benchmark.
public final class InMemoryExperimentStore: ExperimentStore, @unchecked Sendable {
    private let lock = NSLock()
    private var experiments: [String: ExperimentRecord] = [:]
    private var schedules: [String: ScheduleRecord] = [:]
    private var workflows: [String: WorkflowRecord] = [:]
    private var statusChecks: [String: StatusCheckRecord] = [:]
    private var eventList: [EventRecord] = []
    private var archiveList: [String: ArchiveRecord] = [:]
    private var halted = false
    /// Events kept (up to twice as many between trims); older ones are dropped.
    private let eventLimit = 10_000

    public init() {}

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
            for archive in batch.archives { archiveList[archive.uid] = archive }
            var nextID = (eventList.last?.id ?? 0) + 1
            for var event in batch.events {
                event.id = nextID
                nextID += 1
                eventList.append(event)
            }
            // Trimmed in one go once twice the limit is reached: dropping one
            // event per write would move the whole list each time (a write per
            // acknowledged apply or delete).
            if eventList.count > 2 * eventLimit { eventList.removeFirst(eventList.count - eventLimit) }
            if let value = batch.halted { halted = value }
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
