/// BlockChaos: delays the block IO of a volume of the selected pods.
public struct BlockChaosSpec: PodTargetedSpec {
    public static let kind = ChaosKind.blockChaos

    public enum Action: String, ChaosEnum {
        case delay
    }

    public var action: Action
    public var mode: SelectorMode
    public var value: String?
    public var selector: PodSelectorSpec
    public var containerNames: [String]?
    /// The delay added to each IO request (action delay).
    public var delay: BlockDelay?
    /// The volume (as the pod names it) whose device is slowed down.
    public var volumeName: String
    public var duration: GoDuration?
    public var remoteCluster: String?

    public init(action: Action = .delay, volumeName: String, delay: BlockDelay? = nil, mode: SelectorMode = .all,
                value: String? = nil, selector: PodSelectorSpec = PodSelectorSpec()) {
        self.action = action
        self.volumeName = volumeName
        self.delay = delay
        self.mode = mode
        self.value = value
        self.selector = selector
    }

    public mutating func applyDefaults() {
        if delay != nil {
            if delay?.correlation == nil { delay?.correlation = Percentage(0) }
            if delay?.jitter == nil { delay?.jitter = try! GoDuration(parsing: "0ms") }
        }
    }

    public func validate(at path: FieldPath, into diagnostics: inout Diagnostics) {
        validateTargeting(at: path, into: &diagnostics)
        validateDuration(duration, at: path.child("duration"), into: &diagnostics)
        if action == .delay && delay == nil && !diagnostics.hasError(touching: path.child("delay")) {
            diagnostics.error(path.child("delay"), "required when action is delay")
        }
        if volumeName.isEmpty && !diagnostics.hasError(touching: path.child("volumeName")) {
            diagnostics.error(path.child("volumeName"), "must not be empty: the name of the pod's volume to slow down")
        }
        delay?.validate(at: path.child("delay"), into: &diagnostics)
    }

    /// Latency per IO request, with jitter and correlation.
    public struct BlockDelay: Codable, Sendable, Hashable {
        public var latency: GoDuration?
        /// How much each request's latency depends on the previous one's.
        public var correlation: Percentage?
        public var jitter: GoDuration?

        public init(latency: GoDuration, correlation: Percentage? = nil, jitter: GoDuration? = nil) {
            self.latency = latency
            self.correlation = correlation
            self.jitter = jitter
        }

        func validate(at path: FieldPath, into diagnostics: inout Diagnostics) {
            // Chaos Mesh's controller cannot inject without a latency.
            if latency == nil && !diagnostics.hasError(touching: path.child("latency")) {
                diagnostics.error(path.child("latency"), "required: the latency added to each IO request, e.g. \"10ms\"")
            }
            for (field, value) in [("latency", latency), ("jitter", jitter)]
            where !diagnostics.hasError(touching: path.child(field)) {
                validateDuration(value, at: path.child(field), into: &diagnostics)
            }
        }
    }
}
