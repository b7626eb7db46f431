import Foundation
import TumultModel

/// One StatusCheck as it runs: Chaos Mesh's `status` (start, count,
/// bounded records, the four conditions, completion) and when the next
/// probe is due, so that a loop sleeps until then instead of polling.
///
/// Pure: every change is a function of the spec, the results and the times
/// it is given. The controller stores it as is; tests build any history
/// with constructed dates. The rules are Chaos Mesh's
/// (`controllers/statuscheck/worker.go`, `conditions.go`):
/// - probes run every `intervalSeconds`, the first one interval after the
///   start (Chaos Mesh's ticker never fires at zero);
/// - `failureThreshold` failures in a row end the check, in either mode;
/// - `successThreshold` successes in a row end a Synchronous check; a
///   Continuous one only raises SuccessThresholdExceed and goes on;
/// - the end of `duration` ends any check that is still running;
/// - once over, nothing changes it.
public struct StatusCheckState: Codable, Sendable, Hashable {
    /// How the check ended, or that it has not.
    public enum Outcome: String, Codable, Sendable {
        case running
        /// A Synchronous check saw `successThreshold` successes in a row.
        case succeeded
        /// `failureThreshold` failures in a row.
        case failed
        /// The duration passed first; `verdict` says whether it was healthy then.
        case durationExceeded
    }

    /// What a Workflow asks of a check: is it done, and did it pass.
    public enum Verdict: String, Codable, Sendable {
        case running, succeeded, failed
    }

    public let policy: StatusCheckPolicy
    /// Chaos Mesh's `status.startTime`; the probe times and the duration
    /// count from it.
    public let startedAt: Date
    /// Chaos Mesh's `status.count`: every probe recorded, beyond the history kept.
    public private(set) var count = 0
    /// The newest last; at most `policy.recordsHistoryLimit`.
    public private(set) var records: [ProbeRecord] = []
    public private(set) var consecutiveSuccesses = 0
    public private(set) var consecutiveFailures = 0
    /// Completed, DurationExceed, FailureThresholdExceed,
    /// SuccessThresholdExceed, in that order, all present from the start
    /// (Chaos Mesh sets them at its first reconcile).
    public private(set) var conditions: [StatusCheckCondition]
    public private(set) var outcome: Outcome = .running
    /// Chaos Mesh's `status.completionTime`.
    public private(set) var completedAt: Date?
    /// When the next probe is due; nil once over. May be in the past (the
    /// last probe outlasted the interval, or the loop was away): probe at
    /// once then, as Go's ticker delivers the tick it kept.
    public private(set) var nextProbeAt: Date?

    public init(spec: StatusCheckSpec, startedAt: Date) {
        self.init(policy: StatusCheckPolicy(spec), startedAt: startedAt)
    }

    public init(policy: StatusCheckPolicy, startedAt: Date) {
        self.policy = policy
        self.startedAt = startedAt
        conditions = StatusCheckCondition.Kind.allCases.map {
            StatusCheckCondition(type: $0, status: false, lastProbeTime: startedAt, lastTransitionTime: startedAt)
        }
        nextProbeAt = startedAt.addingTimeInterval(policy.interval)
    }

    // MARK: - What a caller asks

    public var isOver: Bool { outcome != .running }

    /// Running until over; then succeeded exactly when Chaos Mesh's
    /// Workflow would not abort on it (`needToAbort` in
    /// `pkg/workflow/controllers/statuscheck_reconciler.go`): when
    /// SuccessThresholdExceed is True at completion. So a check whose
    /// duration ran out is a success if its last `successThreshold`
    /// probes passed, and a failure otherwise (no probe at all included).
    public var verdict: Verdict {
        switch outcome {
        case .running: .running
        case .succeeded: .succeeded
        case .failed: .failed
        case .durationExceeded: condition(.successThresholdExceed).status ? .succeeded : .failed
        }
    }

    /// Start plus duration; nil without a duration.
    public var endsAt: Date? {
        policy.duration.map { startedAt.addingTimeInterval($0.seconds) }
    }

    /// The next moment something is due, a probe or the end of the
    /// duration: what a loop sleeps until. Nil once over.
    public var wakeAt: Date? {
        guard let nextProbeAt else { return nil }
        guard let endsAt else { return nextProbeAt }
        return min(nextProbeAt, endsAt)
    }

    /// Whether a probe should start at `now` (a running check, due, and
    /// within its duration).
    public func isProbeDue(at now: Date) -> Bool {
        guard let nextProbeAt, now >= nextProbeAt else { return false }
        if let endsAt, now >= endsAt { return false }
        return true
    }

    public func condition(_ kind: StatusCheckCondition.Kind) -> StatusCheckCondition {
        conditions.first { $0.type == kind }!
    }

    // MARK: - Changes

    /// Records a probe that started at `time`: the history (bounded), the
    /// counts in a row, the conditions, and the end if a threshold is
    /// reached. A probe that started at or after the end of the duration
    /// ends the check instead of counting, and a result given to a check
    /// that is over is ignored (Chaos Mesh drops a worker's late result
    /// once it has completed). Returns the events to publish.
    @discardableResult
    public mutating func record(_ result: ProbeResult, at time: Date) -> [StatusCheckEvent] {
        guard !isOver else { return [] }
        if let endsAt, time >= endsAt { return expire(at: time) }
        count += 1
        records.append(ProbeRecord(startTime: time, outcome: result.success ? .success : .failure,
                                   statusCode: result.statusCode, message: result.message))
        if records.count > policy.recordsHistoryLimit {
            records.removeFirst(records.count - policy.recordsHistoryLimit)
        }
        if result.success {
            consecutiveSuccesses += 1
            consecutiveFailures = 0
        } else {
            consecutiveFailures += 1
            consecutiveSuccesses = 0
        }
        nextProbeAt = nextTick(after: time)
        return [StatusCheckEvent.execution(result, checkType: policy.type.rawValue, at: time)] + evaluate(at: time)
    }

    /// Ends the check if its duration has passed at `now`; otherwise
    /// nothing changes. Returns the events to publish.
    @discardableResult
    public mutating func expire(at now: Date) -> [StatusCheckEvent] {
        guard !isOver, let endsAt, now >= endsAt else { return [] }
        return evaluate(at: now)
    }

    /// Chaos Mesh's `generateConditions`: the three observations first,
    /// then Completed from them, in its order of precedence (duration,
    /// failures, then successes in Synchronous mode only).
    ///
    /// The thresholds are judged on the counts in a row, not on the kept
    /// records as Chaos Mesh's conditions are: with a history shorter than
    /// a threshold, Chaos Mesh's worker stops while its condition never
    /// turns True, and the check hangs until its duration (or for ever).
    private mutating func evaluate(at now: Date) -> [StatusCheckEvent] {
        let durationExceeded = endsAt.map { now >= $0 } ?? false
        let observed: [(StatusCheckCondition.Kind, Bool)] = [
            (.durationExceed, durationExceeded),
            (.failureThresholdExceed, consecutiveFailures >= policy.failureThreshold),
            (.successThresholdExceed, consecutiveSuccesses >= policy.successThreshold),
        ]
        var events: [StatusCheckEvent] = []
        for (kind, status) in observed {
            let index = conditions.firstIndex { $0.type == kind }!
            if status && !conditions[index].status, let event = StatusCheckEvent.raised(kind, at: now) {
                events.append(event)
            }
            conditions[index].set(status, reason: nil, at: now)
        }

        let end: (Outcome, StatusCheckCondition.Reason)?
        if durationExceeded {
            end = (.durationExceeded, .durationExceed)
        } else if condition(.failureThresholdExceed).status {
            end = (.failed, .failureThresholdExceed)
        } else if policy.mode == .synchronous && condition(.successThresholdExceed).status {
            end = (.succeeded, .successThresholdExceed)
        } else {
            end = nil
        }
        let completed = conditions.firstIndex { $0.type == .completed }!
        conditions[completed].set(end != nil, reason: end?.1, at: now)
        if let end {
            outcome = end.0
            completedAt = now
            nextProbeAt = nil
            events.append(.completed(end.1, at: now))
        }
        return events
    }

    /// The first tick of the interval grid (start + k × interval, k ≥ 1)
    /// after `time`: Go's ticker keeps its grid whatever the probes take.
    /// A slow probe makes this already past when its result comes, and the
    /// next probe then starts at once, as Go's ticker delivers the tick it
    /// buffered meanwhile.
    private func nextTick(after time: Date) -> Date {
        let interval = policy.interval
        let ticks = max(1, (time.timeIntervalSince(startedAt) / interval).rounded(.down) + 1)
        let next = startedAt.addingTimeInterval(ticks * interval)
        // A probe started on a tick reads as a hair before it in floating
        // point: that tick is the one it used, not the next.
        return next.timeIntervalSince(time) < 0.001 ? next.addingTimeInterval(interval) : next
    }
}
