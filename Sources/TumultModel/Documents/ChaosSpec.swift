/// The `spec` of one kind of Chaos Mesh document.
///
/// Decoding and the schema's shape come from `Codable`; `validate` adds the
/// rules Chaos Mesh's admission webhooks enforce that a schema cannot say
/// (cross-field rules, ranges, what an action needs).
public protocol ChaosSpec: Codable, Sendable, Hashable {
    static var kind: ChaosKind { get }

    /// Reports every rule this spec breaks; `path` is where the spec sits
    /// (`spec`, or `spec.templates[2].networkChaos` inside a Workflow).
    func validate(at path: FieldPath, into diagnostics: inout Diagnostics)

    /// Fills in the values Chaos Mesh's defaulting webhook would.
    mutating func applyDefaults()

    /// How long the fault stays; nil means until it is deleted or paused.
    var duration: GoDuration? { get }

    /// One-shot actions (pod-kill, container-kill) are done once and never
    /// recovered.
    var isOneShot: Bool { get }
}

extension ChaosSpec {
    public mutating func applyDefaults() {}
    public var duration: GoDuration? { nil }
    public var isOneShot: Bool { false }

    /// Equality across existentials, for documents that hold `any ChaosSpec`.
    public func isEqual(to other: any ChaosSpec) -> Bool {
        guard let other = other as? Self else { return false }
        return self == other
    }
}

/// A spec that picks its targets among pods with `selector`, `mode` and
/// `value` (every kind but the cloud ones, PhysicalMachine and the
/// orchestration kinds).
public protocol PodTargetedSpec: ChaosSpec {
    var selector: PodSelectorSpec { get }
    var mode: SelectorMode { get }
    var value: String? { get }
}

extension PodTargetedSpec {
    /// `mode` and `value` read together; nil when they are invalid.
    public var selection: Selection? {
        try? Selection.parse(mode: mode, value: value).get()
    }

    /// The checks every pod-targeted kind shares: the selector and the mode's value.
    public func validateTargeting(at path: FieldPath, into diagnostics: inout Diagnostics) {
        selector.validate(at: path.child("selector"), into: &diagnostics)
        if case .failure(let problem) = Selection.parse(mode: mode, value: value),
           !diagnostics.hasError(touching: path.child("mode")) {
            diagnostics.error(path.child("value"), problem.message)
        }
    }
}

/// Checks a duration field that must not be negative.
func validateDuration(_ duration: GoDuration?, at path: FieldPath, into diagnostics: inout Diagnostics) {
    if let duration, duration.isNegative {
        diagnostics.error(path, "\"\(duration.text)\" must not be negative")
    }
}

/// A spec with a second selector choosing the pods its fault concerns
/// (NetworkChaos `target`: the other side of the traffic). The controller
/// chooses them once per run, like the targets, without knowing the kind.
public protocol PeerTargetedSpec: PodTargetedSpec {
    var peerSelector: (selector: PodSelectorSpec, mode: SelectorMode, value: String?)? { get }
}

/// A kind whose targets are whole machines (PhysicalMachineChaos): chosen
/// among the machines a controller knows by a selector read as a pod
/// selector reads pods, or named by their agents' addresses.
public protocol MachineTargetedSpec: ChaosSpec {
    var mode: SelectorMode { get }
    var value: String? { get }
    /// The selector over machines, as a pod selector (namespaces, labels,
    /// annotations, fields, names); nil when machines are named by address.
    var machineSelector: PodSelectorSpec? { get }
    /// Agents' URLs, when machines are named by address.
    var machineAddresses: [String] { get }
}
