import Foundation
import Testing
import TumultController
import TumultModel

/// The rules of a running StatusCheck, with constructed dates: Chaos Mesh's
/// thresholds, modes, duration, history and conditions.
@Suite struct StatusCheckStateTests {
    static let start = Date(timeIntervalSince1970: 1_800_000_000)
    /// `seconds` after the start.
    static func at(_ seconds: Double) -> Date { start.addingTimeInterval(seconds) }

    static func spec(_ mode: StatusCheckSpec.Mode = .synchronous, duration: String? = nil, interval: Int? = nil,
                     failureThreshold: Int? = nil, successThreshold: Int? = nil,
                     historyLimit: Int? = nil) -> StatusCheckSpec {
        var spec = StatusCheckSpec(mode: mode, http: HTTPStatusCheck(
            url: "http://127.0.0.1:1/health", criteria: HTTPCriteria(statusCode: StatusCodeRange(200...299))))
        spec.duration = duration.map { try! GoDuration(parsing: $0) }
        spec.intervalSeconds = interval
        spec.failureThreshold = failureThreshold
        spec.successThreshold = successThreshold
        spec.recordsHistoryLimit = historyLimit
        return spec
    }

    static let pass = ProbeResult(success: true, statusCode: 200)
    static let fail = ProbeResult.failure("unexpected status code: 503", statusCode: 503)

    /// Records `results` at the interval's ticks (10 s by default), from the first.
    static func run(_ state: inout StatusCheckState, _ results: [ProbeResult], every interval: Double = 10) {
        for (index, result) in results.enumerated() {
            state.record(result, at: at(interval * Double(index + 1)))
        }
    }

    /// type -> (status, reason) of every condition.
    static func summary(_ state: StatusCheckState) -> [String: String] {
        Dictionary(uniqueKeysWithValues: state.conditions.map {
            ($0.type.rawValue, "\($0.status)" + ($0.reason.map { " \($0.rawValue)" } ?? ""))
        })
    }

    @Test func startsWithFourFalseConditionsAndTheFirstProbeOneIntervalLater() {
        let state = StatusCheckState(spec: Self.spec(), startedAt: Self.start)
        #expect(state.conditions.map(\.type) == [.completed, .durationExceed, .failureThresholdExceed, .successThresholdExceed])
        #expect(state.conditions.allSatisfy { !$0.status && $0.reason == nil && $0.lastTransitionTime == Self.start })
        #expect(state.outcome == .running && state.verdict == .running && !state.isOver)
        #expect(state.nextProbeAt == Self.at(10))
        #expect(state.wakeAt == Self.at(10))
        #expect(!state.isProbeDue(at: Self.at(9.9)))
        #expect(state.isProbeDue(at: Self.at(10)))
        #expect(state.count == 0 && state.records.isEmpty && state.completedAt == nil && state.endsAt == nil)
    }

    @Test func defaultsAreChaosMeshs() {
        let policy = StatusCheckPolicy(StatusCheckSpec(http: HTTPStatusCheck(
            url: "http://127.0.0.1/", criteria: HTTPCriteria(statusCode: StatusCodeRange(200...200)))))
        #expect(policy.mode == .synchronous)
        #expect(policy.timeoutSeconds == 1 && policy.intervalSeconds == 10)
        #expect(policy.failureThreshold == 3 && policy.successThreshold == 1 && policy.recordsHistoryLimit == 100)
        #expect(policy.duration == nil && policy.timeout == .seconds(1))
    }

    @Test func synchronousEndsAtTheSuccessThreshold() {
        var state = StatusCheckState(spec: Self.spec(), startedAt: Self.start)
        let events = state.record(Self.pass, at: Self.at(10))
        #expect(state.outcome == .succeeded && state.verdict == .succeeded && state.isOver)
        #expect(Self.summary(state) == ["Completed": "true StatusCheckSuccessThresholdExceed", "DurationExceed": "false",
                                        "FailureThresholdExceed": "false", "SuccessThresholdExceed": "true"])
        #expect(state.condition(.completed).lastTransitionTime == Self.at(10))
        #expect(state.condition(.durationExceed).lastTransitionTime == Self.start)
        #expect(state.condition(.durationExceed).lastProbeTime == Self.at(10))
        #expect(state.completedAt == Self.at(10))
        #expect(state.nextProbeAt == nil && state.wakeAt == nil && !state.isProbeDue(at: Self.at(100)))
        #expect(events.map(\.reason) == ["StatusCheckExecutionSucceed", "StatusCheckSuccessThresholdExceed",
                                         "StatusCheckCompleted"])
        #expect(events.last?.message == "status check completed: StatusCheckSuccessThresholdExceed")
        #expect(events.allSatisfy { $0.time == Self.at(10) && $0.type == .normal })
    }

    @Test func successesMustBeInARow() {
        var state = StatusCheckState(spec: Self.spec(successThreshold: 3), startedAt: Self.start)
        Self.run(&state, [Self.pass, Self.pass, Self.fail, Self.pass, Self.pass])
        #expect(state.outcome == .running)
        #expect(state.consecutiveSuccesses == 2 && state.consecutiveFailures == 0)
        state.record(Self.pass, at: Self.at(60))
        #expect(state.outcome == .succeeded && state.count == 6 && state.completedAt == Self.at(60))
    }

    @Test func failureThresholdEndsASynchronousCheck() {
        var state = StatusCheckState(spec: Self.spec(successThreshold: 5), startedAt: Self.start)
        Self.run(&state, [Self.fail, Self.fail, Self.pass, Self.fail, Self.fail])
        #expect(state.outcome == .running && state.consecutiveFailures == 2)
        let events = state.record(Self.fail, at: Self.at(60))
        #expect(state.outcome == .failed && state.verdict == .failed)
        #expect(Self.summary(state) == ["Completed": "true StatusCheckFailureThresholdExceed", "DurationExceed": "false",
                                        "FailureThresholdExceed": "true", "SuccessThresholdExceed": "false"])
        #expect(state.condition(.failureThresholdExceed).lastTransitionTime == Self.at(60))
        #expect(events.map(\.reason) == ["StatusCheckExecutionFailed", "StatusCheckFailureThresholdExceed",
                                         "StatusCheckCompleted"])
        #expect(events[0].message == "HTTP execution of status check failed: unexpected status code: 503")
        #expect(events.map(\.type) == [.warning, .warning, .normal])
    }

    @Test func continuousGoesOnPastTheSuccessThresholdAndEndsOnFailures() {
        var state = StatusCheckState(spec: Self.spec(.continuous, successThreshold: 2), startedAt: Self.start)
        Self.run(&state, [Self.pass, Self.pass, Self.pass])
        #expect(state.outcome == .running)
        #expect(state.condition(.successThresholdExceed).status)
        #expect(state.condition(.successThresholdExceed).lastTransitionTime == Self.at(20))
        #expect(state.condition(.successThresholdExceed).lastProbeTime == Self.at(30))
        #expect(!state.condition(.completed).status)

        state.record(Self.fail, at: Self.at(40))
        #expect(!state.condition(.successThresholdExceed).status)
        #expect(state.condition(.successThresholdExceed).lastTransitionTime == Self.at(40))
        state.record(Self.fail, at: Self.at(50))
        let events = state.record(Self.fail, at: Self.at(60))
        #expect(state.outcome == .failed && state.verdict == .failed && state.completedAt == Self.at(60))
        #expect(state.condition(.completed).reason == .failureThresholdExceed)
        #expect(events.last?.reason == "StatusCheckCompleted")
    }

    @Test func theSuccessThresholdEventIsSentWhenItTurnsTrueOnly() {
        var state = StatusCheckState(spec: Self.spec(.continuous), startedAt: Self.start)
        #expect(state.record(Self.pass, at: Self.at(10)).map(\.reason)
            == ["StatusCheckExecutionSucceed", "StatusCheckSuccessThresholdExceed"])
        #expect(state.record(Self.pass, at: Self.at(20)).map(\.reason) == ["StatusCheckExecutionSucceed"])
    }

    @Test func durationEndsASynchronousCheckThatNeverReachedItsThreshold() {
        var state = StatusCheckState(spec: Self.spec(duration: "25s", successThreshold: 3), startedAt: Self.start)
        #expect(state.endsAt == Self.at(25))
        Self.run(&state, [Self.pass, Self.pass])
        #expect(state.wakeAt == Self.at(25))
        #expect(state.expire(at: Self.at(24.9)).isEmpty && state.outcome == .running)
        let events = state.expire(at: Self.at(25))
        #expect(state.outcome == .durationExceeded && state.isOver && state.completedAt == Self.at(25))
        // Two successes of three: Chaos Mesh's Workflow would abort on it.
        #expect(state.verdict == .failed)
        #expect(Self.summary(state) == ["Completed": "true StatusCheckDurationExceed", "DurationExceed": "true",
                                        "FailureThresholdExceed": "false", "SuccessThresholdExceed": "false"])
        #expect(events.map(\.reason) == ["StatusCheckDurationExceed", "StatusCheckCompleted"])
        #expect(state.count == 2)
    }

    @Test func durationEndsAContinuousCheckHealthyOrNotByItsLastProbes() {
        var healthy = StatusCheckState(spec: Self.spec(.continuous, duration: "35s"), startedAt: Self.start)
        Self.run(&healthy, [Self.fail, Self.pass, Self.pass])
        healthy.expire(at: Self.at(35))
        #expect(healthy.outcome == .durationExceeded && healthy.verdict == .succeeded)
        #expect(healthy.condition(.successThresholdExceed).status)

        var unhealthy = StatusCheckState(spec: Self.spec(.continuous, duration: "35s"), startedAt: Self.start)
        Self.run(&unhealthy, [Self.pass, Self.pass, Self.fail])
        unhealthy.expire(at: Self.at(35))
        #expect(unhealthy.outcome == .durationExceeded && unhealthy.verdict == .failed)

        var unprobed = StatusCheckState(spec: Self.spec(.continuous, duration: "5s"), startedAt: Self.start)
        #expect(unprobed.wakeAt == Self.at(5))
        unprobed.expire(at: Self.at(5))
        #expect(unprobed.outcome == .durationExceeded && unprobed.verdict == .failed && unprobed.count == 0)
    }

    @Test func aProbeStartedAtTheEndOfTheDurationEndsItInsteadOfCounting() {
        var state = StatusCheckState(spec: Self.spec(duration: "20s", successThreshold: 2), startedAt: Self.start)
        state.record(Self.pass, at: Self.at(10))
        #expect(!state.isProbeDue(at: Self.at(20)))
        let events = state.record(Self.pass, at: Self.at(20))
        #expect(state.outcome == .durationExceeded && state.count == 1 && state.records.count == 1)
        #expect(!events.contains { $0.reason == "StatusCheckExecutionSucceed" })
    }

    @Test func nothingChangesOnceOver() {
        var state = StatusCheckState(spec: Self.spec(duration: "1m"), startedAt: Self.start)
        state.record(Self.pass, at: Self.at(10))
        let over = state
        #expect(state.record(Self.fail, at: Self.at(20)).isEmpty)
        #expect(state.expire(at: Self.at(100)).isEmpty)
        #expect(state == over)
    }

    @Test func historyKeepsTheNewestRecordsAndCountsThemAll() {
        var state = StatusCheckState(spec: Self.spec(.continuous, failureThreshold: 10, historyLimit: 3),
                                     startedAt: Self.start)
        Self.run(&state, [Self.pass, Self.fail, Self.pass, Self.fail, Self.pass])
        #expect(state.count == 5)
        #expect(state.records.map(\.startTime) == [Self.at(30), Self.at(40), Self.at(50)])
        #expect(state.records.map(\.outcome) == [.success, .failure, .success])
        #expect(state.records[1].statusCode == 503 && state.records[1].message == "unexpected status code: 503")
        #expect(state.records[0].message == nil)
    }

    /// Chaos Mesh judges its conditions on the kept records, so there a
    /// history shorter than the threshold never completes; here it does.
    @Test func aHistoryShorterThanTheThresholdStillEnds() {
        var state = StatusCheckState(spec: Self.spec(failureThreshold: 3, historyLimit: 1), startedAt: Self.start)
        Self.run(&state, [Self.fail, Self.fail, Self.fail])
        #expect(state.outcome == .failed && state.records.count == 1 && state.count == 3)
    }

    @Test func probesFollowTheIntervalGrid() {
        var state = StatusCheckState(spec: Self.spec(.continuous, interval: 5, failureThreshold: 100),
                                     startedAt: Self.start)
        #expect(state.nextProbeAt == Self.at(5))
        // On time: the next tick.
        state.record(Self.pass, at: Self.at(5))
        #expect(state.nextProbeAt == Self.at(10))
        // Late (a busy loop): still the grid, not five seconds later.
        state.record(Self.pass, at: Self.at(12))
        #expect(state.nextProbeAt == Self.at(15))
        // On a tick reached by adding intervals (floating point): the next one.
        state.record(Self.pass, at: Self.start.addingTimeInterval(5).addingTimeInterval(5).addingTimeInterval(5))
        #expect(state.nextProbeAt == Self.at(20))
        // A probe recorded after a long pause: due at once at the next tick after its start.
        state.record(Self.pass, at: Self.at(101))
        #expect(state.nextProbeAt == Self.at(105))
        #expect(state.isProbeDue(at: Self.at(130)))
    }

    @Test func roundTripsAndEncodesConditionsAsChaosMeshDoes() throws {
        var state = StatusCheckState(spec: Self.spec(.continuous, duration: "1m", historyLimit: 2),
                                     startedAt: Self.start)
        Self.run(&state, [Self.pass, Self.fail, Self.pass])
        let encoder = JSONEncoder()
        encoder.dateEncodingStrategy = .iso8601
        let data = try encoder.encode(state)
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .iso8601
        #expect(try decoder.decode(StatusCheckState.self, from: data) == state)

        let json = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
        let conditions = try #require(json["conditions"] as? [[String: Any]])
        #expect(conditions[0]["type"] as? String == "Completed")
        #expect(conditions[0]["status"] as? String == "False")
        #expect(conditions[0]["reason"] as? String == "")
        #expect(conditions[3]["status"] as? String == "True")
        #expect(conditions[3]["lastTransitionTime"] as? String == "2027-01-15T08:00:30Z")
        let records = try #require(json["records"] as? [[String: Any]])
        #expect(records.map { $0["outcome"] as? String } == ["Failure", "Success"])
    }
}
