/// CPU or memory stress on one target: workers placed in the target's
/// cgroups (every hierarchy it belongs to), so they compete with it for its
/// CPU share and count against its memory limit.
public struct StressFault: Codable, Sendable, Hashable {
    public enum Action: String, Codable, Sendable, CaseIterable {
        case cpu, memory
    }

    /// Whose cgroups the workers join.
    public enum Target: Codable, Sendable, Hashable, CustomStringConvertible {
        /// The root cgroups: stress the whole host.
        case host
        /// The cgroups of this process.
        case process(Int32)
        /// The cgroups of the first process (lowest pid) in this named network namespace.
        case networkNamespace(String)

        public var description: String {
            switch self {
            case .host: "the host"
            case .process(let pid): "the cgroups of pid \(pid)"
            case .networkNamespace(let name): "the cgroups of netns \(name)"
            }
        }
    }

    /// Memory per worker: bytes, or a share of the target's memory limit
    /// (of the host's memory when the target has none).
    public enum Size: Codable, Sendable, Hashable, CustomStringConvertible {
        case bytes(UInt64)
        case percent(Double)

        public var description: String {
            switch self {
            case .bytes(let bytes): "\(bytes) bytes"
            case .percent(let percent): "\(percent)%"
            }
        }
    }

    public var action: Action
    public var target: Target
    /// How many workers (processes) to start.
    public var workers: Int = 1
    /// cpu: percent of one CPU each worker keeps busy, 0-100.
    public var load: Int = 100
    /// memory: what each worker allocates and keeps in use.
    public var size: Size?
    /// The workers' `oom_score_adj` (-1000..1000); unchanged when nil.
    public var oomScoreAdj: Int?
    /// Raw stress-ng options: when given, stress-ng runs instead of Tumult's workers.
    public var stressNGOptions: [String] = []

    public init(action: Action, target: Target) {
        self.action = action
        self.target = target
    }

    /// A one-line account for lists and logs: `cpu 2 workers at 50%`.
    public var summary: String {
        var text = "\(action.rawValue) \(workers) worker\(workers == 1 ? "" : "s")"
        switch action {
        case .cpu: text += " at \(load)%"
        case .memory: text += size.map { " of \($0)" } ?? ""
        }
        if !stressNGOptions.isEmpty { text += " (stress-ng \(stressNGOptions.joined(separator: " ")))" }
        return text
    }
}
