import Foundation
import TumultModel

/// One Schedule as the controller keeps it: its document, when it last
/// spawned a run, and the runs it owns (oldest first).
public struct ScheduleRecord: Sendable, Equatable {
    public var uid: String
    public var document: ChaosDocument
    public var createdAt: Date
    public var deletedAt: Date?
    /// The cron time of the newest run spawned (or skipped as missed).
    public var lastScheduleTime: Date?
    /// The uids of the runs it owns, oldest first.
    public var runs: [String] = []

    public init(uid: String, document: ChaosDocument, createdAt: Date) {
        self.uid = uid
        self.document = document
        self.createdAt = createdAt
    }

    public var spec: ScheduleSpec? { document.spec as? ScheduleSpec }
    public var name: String { document.name }
    public var namespace: String { document.namespace }
    public var isPaused: Bool { document.metadata.isPaused }
}

extension ScheduleRecord: Codable {
    enum CodingKeys: String, CodingKey { case uid, document, createdAt, deletedAt, lastScheduleTime, runs }

    public init(from decoder: Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        uid = try container.decode(String.self, forKey: .uid)
        document = try ChaosDocument.decodeStored(try container.decode(Value.self, forKey: .document))
        createdAt = try container.decode(Date.self, forKey: .createdAt)
        deletedAt = try container.decodeIfPresent(Date.self, forKey: .deletedAt)
        lastScheduleTime = try container.decodeIfPresent(Date.self, forKey: .lastScheduleTime)
        runs = try container.decode([String].self, forKey: .runs)
    }

    public func encode(to encoder: Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(uid, forKey: .uid)
        try container.encode(try document.encoded(), forKey: .document)
        try container.encode(createdAt, forKey: .createdAt)
        try container.encodeIfPresent(deletedAt, forKey: .deletedAt)
        try container.encodeIfPresent(lastScheduleTime, forKey: .lastScheduleTime)
        try container.encode(runs, forKey: .runs)
    }
}

/// What a schedule should do at a moment: Kubernetes CronJob's rules as
/// Chaos Mesh applies them. Pure, so its edge cases are unit-tested.
public enum ScheduleDecision: Sendable, Equatable {
    /// Nothing due yet.
    case wait(until: Date?)
    /// Spawn a run for this cron time.
    case spawn(Date)
    /// The newest due time is past `startingDeadlineSeconds`: skip it.
    case missed(Date)
    /// Due, but Forbid and a run is still active.
    case forbidden(Date)

    /// `activeRuns`: runs not yet finished. Only the newest due time counts:
    /// older missed ones are not run late.
    public static func decide(_ spec: ScheduleSpec, createdAt: Date, lastScheduleTime: Date?, activeRuns: Int,
                              now: Date) -> ScheduleDecision {
        let since = lastScheduleTime ?? createdAt
        guard var due = spec.schedule.next(after: since), due <= now else {
            return .wait(until: spec.schedule.next(after: since))
        }
        // The newest due time at or before now (bounded: a long outage
        // must not make this loop for ever).
        var steps = 0
        while steps < 100_000, let next = spec.schedule.next(after: due), next <= now {
            due = next
            steps += 1
        }
        if let deadline = spec.startingDeadlineSeconds, now.timeIntervalSince(due) > Double(deadline) {
            return .missed(due)
        }
        if (spec.concurrencyPolicy ?? .forbid) == .forbid && activeRuns > 0 {
            return .forbidden(due)
        }
        return .spawn(due)
    }
}
