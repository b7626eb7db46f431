import Synchronization

/// Client-side rate limiting as client-go does it: `qps` tokens a second,
/// at most `burst` saved up. Each request takes a token; when none is left
/// it reserves the next one and sleeps until then, so waiting costs a
/// suspended task, not a thread, and callers are served in order.
public final class TokenBucket: Sendable {
    public let qps: Double
    public let burst: Int
    private let state: Mutex<State>

    private struct State {
        var tokens: Double
        var last: ContinuousClock.Instant?
    }

    /// `qps` of zero or less turns limiting off.
    public init(qps: Double, burst: Int) {
        self.qps = qps
        self.burst = max(1, burst)
        state = Mutex(State(tokens: Double(max(1, burst)), last: nil))
    }

    /// Takes a token at `now` and returns how long to wait before using it
    /// (zero when one was available). Pure apart from the bucket's state, so
    /// tests drive it with instants of their own.
    public func reserve(at now: ContinuousClock.Instant) -> Duration {
        guard qps > 0 else { return .zero }
        return state.withLock { state in
            if let last = state.last, now > last {
                let elapsed = last.duration(to: now)
                let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) * 1e-18
                state.tokens = min(Double(burst), state.tokens + seconds * qps)
            }
            if state.last == nil || now > state.last! { state.last = now }
            state.tokens -= 1
            guard state.tokens < 0 else { return .zero }
            return .nanoseconds(Int64((-state.tokens / qps * 1e9).rounded(.up)))
        }
    }

    /// Waits for a token; throws `CancellationError` if the task is cancelled meanwhile.
    public func wait() async throws {
        let delay = reserve(at: .now)
        if delay > .zero { try await Task.sleep(for: delay) }
    }
}
