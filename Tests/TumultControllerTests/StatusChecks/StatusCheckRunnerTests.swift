import Foundation
import Testing
import TumultController
import TumultModel

/// The runner's loop in virtual time: a clock that sleeping moves forward,
/// and a prober that answers from a script (and may take time to).
@Suite struct StatusCheckRunnerTests {
    /// Virtual time: `sleep(until:)` returns at once with the clock moved there.
    final class VirtualClock: @unchecked Sendable {
        private let lock = NSLock()
        private var current: Date

        init(_ start: Date) { current = start }
        var now: Date { lock.withLock { current } }
        func advance(by seconds: TimeInterval) { lock.withLock { current += seconds } }
        func sleep(until date: Date) async throws {
            try Task.checkCancellation()
            lock.withLock { current = max(current, date) }
        }
    }

    /// Answers from `script` in order (the last one again when it runs
    /// out), each probe taking `takes` seconds of virtual time; keeps the
    /// virtual time each probe started at.
    final class ScriptedProber: StatusProber, @unchecked Sendable {
        private let lock = NSLock()
        private var script: [ProbeResult]
        private var starts: [Date] = []
        private var timeouts: [Duration] = []
        let clock: VirtualClock
        let takes: TimeInterval

        init(_ script: [ProbeResult], clock: VirtualClock, takes: TimeInterval = 0) {
            self.script = script
            self.clock = clock
            self.takes = takes
        }

        var startTimes: [Date] { lock.withLock { starts } }
        var timeoutsGiven: [Duration] { lock.withLock { timeouts } }

        func probe(_ check: HTTPStatusCheck, timeout: Duration) async -> ProbeResult {
            let result = lock.withLock {
                starts.append(clock.now)
                timeouts.append(timeout)
                return script.count > 1 ? script.removeFirst() : script[0]
            }
            clock.advance(by: takes)
            return result
        }
    }

    static let start = StatusCheckStateTests.start
    static func at(_ seconds: Double) -> Date { StatusCheckStateTests.at(seconds) }
    static let pass = StatusCheckStateTests.pass
    static let fail = StatusCheckStateTests.fail

    static func runner(_ prober: ScriptedProber) -> StatusCheckRunner {
        let clock = prober.clock
        return StatusCheckRunner(prober: prober, now: { clock.now }, sleep: { try await clock.sleep(until: $0) })
    }

    static func begin(_ spec: StatusCheckSpec) -> (StatusCheckState, HTTPStatusCheck) {
        (StatusCheckState(spec: spec, startedAt: start), spec.http!)
    }

    @Test func synchronousFailsAtTheThirdFailureOnTheIntervalGrid() async {
        let clock = VirtualClock(Self.start)
        let prober = ScriptedProber([Self.fail], clock: clock)
        var spec = StatusCheckStateTests.spec()
        spec.timeoutSeconds = 2
        let (state, check) = Self.begin(spec)
        let end = await Self.runner(prober).run(check, from: state)
        #expect(end.outcome == .failed && end.verdict == .failed)
        #expect(prober.startTimes == [Self.at(10), Self.at(20), Self.at(30)])
        #expect(prober.timeoutsGiven == [.seconds(2), .seconds(2), .seconds(2)])
        #expect(end.completedAt == Self.at(30))
    }

    /// Go's ticker keeps one tick while a probe outlasts the interval: the
    /// next probe starts as soon as the slow one ends, then the grid resumes.
    @Test func aProbeSlowerThanTheIntervalIsFollowedAtOnce() async {
        let clock = VirtualClock(Self.start)
        let prober = ScriptedProber([Self.fail, Self.fail, Self.pass], clock: clock, takes: 15)
        let (state, check) = Self.begin(StatusCheckStateTests.spec(.continuous, duration: "50s"))
        let end = await Self.runner(prober).run(check, from: state)
        #expect(prober.startTimes == [Self.at(10), Self.at(25), Self.at(40)])
        // The probe started at 40 counts: it began within the duration.
        #expect(end.count == 3)
        #expect(end.outcome == .durationExceeded && end.verdict == .succeeded)
        #expect(end.completedAt == Self.at(55))
    }

    @Test func continuousRunsToItsDurationAndReportsEveryChange() async {
        let clock = VirtualClock(Self.start)
        let prober = ScriptedProber([Self.pass], clock: clock, takes: 0.5)
        let (state, check) = Self.begin(StatusCheckStateTests.spec(.continuous, duration: "35s"))
        let changes = Changes()
        let end = await Self.runner(prober).run(check, from: state) { state, events in
            changes.append(state.count, events.map(\.reason))
        }
        #expect(prober.startTimes == [Self.at(10), Self.at(20), Self.at(30)])
        #expect(end.outcome == .durationExceeded && end.verdict == .succeeded && end.completedAt == Self.at(35))
        #expect(changes.seen.map(\.count) == [1, 2, 3, 3])
        #expect(changes.seen.last?.reasons == ["StatusCheckDurationExceed", "StatusCheckCompleted"])
    }

    @Test func aStoredCheckResumesWithTheProbeItMissed() async {
        var stored = StatusCheckState(spec: StatusCheckStateTests.spec(successThreshold: 2), startedAt: Self.start)
        stored.record(Self.pass, at: Self.at(10))
        // The controller was away from 15 s to 47 s.
        let clock = VirtualClock(Self.at(47))
        let prober = ScriptedProber([Self.pass], clock: clock)
        let end = await Self.runner(prober).run(StatusCheckStateTests.spec().http!, from: stored)
        #expect(prober.startTimes == [Self.at(47)])
        #expect(end.outcome == .succeeded && end.count == 2)
    }

    @Test func cancellingStopsTheRunWhereItIs() async {
        let prober = ScriptedProber([Self.pass], clock: VirtualClock(Self.start))
        let state = StatusCheckState(spec: StatusCheckStateTests.spec(), startedAt: Date())
        let runner = StatusCheckRunner(prober: prober)
        let task = Task { await runner.run(StatusCheckStateTests.spec().http!, from: state) }
        try? await Task.sleep(for: .milliseconds(50))
        task.cancel()
        let end = await task.value
        #expect(end.outcome == .running && end.count == 0)
        #expect(prober.startTimes.isEmpty)
    }

    final class Changes: @unchecked Sendable {
        private let lock = NSLock()
        private var changes: [(count: Int, reasons: [String])] = []
        func append(_ count: Int, _ reasons: [String]) { lock.withLock { changes.append((count, reasons)) } }
        var seen: [(count: Int, reasons: [String])] { lock.withLock { changes } }
    }
}
