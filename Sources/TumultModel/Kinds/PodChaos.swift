/// PodChaos: kills pods or containers, or makes pods fail (their containers'
/// images replaced by one that never starts) for a while.
public struct PodChaosSpec: PodTargetedSpec {
    public static let kind = ChaosKind.podChaos

    public enum Action: String, ChaosEnum {
        case podKill = "pod-kill"
        case podFailure = "pod-failure"
        case containerKill = "container-kill"
    }

    public var action: Action
    public var mode: SelectorMode
    public var value: String?
    public var selector: PodSelectorSpec
    /// The containers to act on; required for container-kill.
    public var containerNames: [String]?
    public var duration: GoDuration?
    /// Seconds the pod has to shut down (pod-kill only); 0, the default,
    /// deletes it at once.
    public var gracePeriod: Int64?
    public var remoteCluster: String?

    public init(action: Action, mode: SelectorMode = .all, value: String? = nil,
                selector: PodSelectorSpec = PodSelectorSpec(), containerNames: [String]? = nil) {
        self.action = action
        self.mode = mode
        self.value = value
        self.selector = selector
        self.containerNames = containerNames
    }

    /// A kill happens once and is never recovered.
    public var isOneShot: Bool { action == .podKill || action == .containerKill }

    public func validate(at path: FieldPath, into diagnostics: inout Diagnostics) {
        validateTargeting(at: path, into: &diagnostics)
        validateDuration(duration, at: path.child("duration"), into: &diagnostics)
        if action == .containerKill && (containerNames ?? []).isEmpty
            && !diagnostics.hasError(touching: path.child("containerNames")) {
            diagnostics.error(path.child("containerNames"),
                              "required when action is container-kill: name at least one container to kill")
        }
        diagnostics.checkBounds(gracePeriod, min: 0, at: path.child("gracePeriod"),
                                meaning: "gracePeriod (seconds before the pod is deleted)")
    }
}
