import Foundation

/// How long after its trigger each kind of kill may land, learnt as the
/// soak goes: for each family and trigger, an average of how long the
/// operation it interrupts takes when left alone (an attack until its uid,
/// a recovery until it is done, a server until it stops). A kill lands
/// uniformly in [0, 1.3 × that], so most land in the middle of the work
/// and some just after it. `--window MS` fixes the window instead.
final class KillWindows: @unchecked Sendable {
    private let lock = NSLock()
    private var estimates: [String: Double] = [:]
    let fixed: Double?

    init(fixed: Double?) {
        self.fixed = fixed
    }

    static func key(_ family: CrashFamily, _ trigger: CrashBenchmark.Trigger) -> String {
        "\(family.rawValue)/\(trigger.rawValue)"
    }

    /// The window for a kill after `trigger`, in seconds.
    func window(_ family: CrashFamily, _ trigger: CrashBenchmark.Trigger) -> Double {
        if let fixed { return fixed }
        let initial = [.foreground, .apply].contains(trigger) ? 0.3 : 0.2
        let estimate = lock.withLock { estimates[Self.key(family, trigger)] } ?? initial
        return min(2, max(0.02, estimate * 1.3))
    }

    /// One measured duration of what a kill after `trigger` interrupts.
    func observe(_ family: CrashFamily, _ trigger: CrashBenchmark.Trigger, _ seconds: Double) {
        guard seconds > 0, seconds < 30 else { return }
        let key = Self.key(family, trigger)
        lock.withLock { estimates[key] = estimates[key].map { 0.7 * $0 + 0.3 * seconds } ?? seconds }
    }

    /// The learnt windows, for the summary.
    var summary: [(key: String, window: Double)] {
        lock.withLock { estimates.map { ($0.key, min(2, max(0.02, $0.value * 1.3))) }.sorted { $0.key < $1.key } }
    }
}
