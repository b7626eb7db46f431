/// TimeChaos: shifts the clocks the selected containers' processes read
/// (their vDSO `clock_gettime`) by a fixed offset.
public struct TimeChaosSpec: PodTargetedSpec {
    public static let kind = ChaosKind.timeChaos

    public var mode: SelectorMode
    public var value: String?
    public var selector: PodSelectorSpec
    public var containerNames: [String]?
    /// How far to shift the clocks; negative goes back in time (`-10m100ns`).
    public var timeOffset: GoDuration
    /// The clocks shifted; default `[CLOCK_REALTIME]`.
    public var clockIds: [ClockID]?
    public var duration: GoDuration?
    public var remoteCluster: String?

    public init(timeOffset: GoDuration, clockIds: [ClockID]? = nil, mode: SelectorMode = .all,
                value: String? = nil, selector: PodSelectorSpec = PodSelectorSpec()) {
        self.timeOffset = timeOffset
        self.clockIds = clockIds
        self.mode = mode
        self.value = value
        self.selector = selector
    }

    /// The clocks shifted once defaults apply.
    public var effectiveClockIds: [ClockID] { (clockIds ?? []).isEmpty ? [.realtime] : clockIds! }

    public mutating func applyDefaults() {
        if (clockIds ?? []).isEmpty { clockIds = [.realtime] }
    }

    public func validate(at path: FieldPath, into diagnostics: inout Diagnostics) {
        validateTargeting(at: path, into: &diagnostics)
        validateDuration(duration, at: path.child("duration"), into: &diagnostics)
    }
}
