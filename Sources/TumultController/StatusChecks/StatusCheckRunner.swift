import Foundation
import TumultModel

/// Runs one StatusCheck to its end: sleeps until the state's next due
/// moment, probes, records, and says what changed. Thin on purpose: the
/// rules are `StatusCheckState`'s, the I/O is the prober's, and time is
/// injected, so that tests run a whole check in virtual time and a
/// controller with its own loop can skip this and follow `wakeAt` itself.
public struct StatusCheckRunner: Sendable {
    /// Returns once `date` is reached; throws when the task is cancelled.
    public typealias Sleep = @Sendable (_ until: Date) async throws -> Void

    let prober: any StatusProber
    let now: @Sendable () -> Date
    let sleep: Sleep

    public init(prober: any StatusProber, now: @escaping @Sendable () -> Date = { Date() },
                sleep: @escaping Sleep = { try await StatusCheckRunner.sleep(until: $0) }) {
        self.prober = prober
        self.now = now
        self.sleep = sleep
    }

    /// Runs `check` from `state` (new, or as stored before a restart) until
    /// it is over or the task is cancelled, and returns where it got to.
    /// `changed` sees every new state with its events, to store and publish.
    ///
    /// A probe is recorded at its start time. One under way when the
    /// duration ends is waited for (it takes at most `timeoutSeconds`) and
    /// counts, since it started within the duration.
    public func run(_ check: HTTPStatusCheck, from state: StatusCheckState,
                    changed: (StatusCheckState, [StatusCheckEvent]) async -> Void = { _, _ in }) async -> StatusCheckState {
        var state = state
        while let wake = state.wakeAt {
            do { try await sleep(wake) } catch { break }
            let time = now()
            let ended = state.expire(at: time)
            if state.isOver {
                await changed(state, ended)
                break
            }
            // Woken early (a clock that moved back): sleep again.
            guard state.isProbeDue(at: time) else { continue }
            let result = await prober.probe(check, timeout: state.policy.timeout)
            if Task.isCancelled { break }
            let events = state.record(result, at: time)
            await changed(state, events)
        }
        return state
    }

    /// The real sleep: the wall clock's `date`, or at once if it is past.
    public static func sleep(until date: Date) async throws {
        let delay = date.timeIntervalSinceNow
        if delay > 0 {
            try await Task.sleep(for: .seconds(delay))
        } else {
            try Task.checkCancellation()
        }
    }
}
