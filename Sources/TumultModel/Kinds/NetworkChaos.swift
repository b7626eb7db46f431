/// NetworkChaos: delay, loss, duplication, corruption, bandwidth limits and
/// partitions on the selected pods' traffic.
public struct NetworkChaosSpec: PodTargetedSpec {
    public static let kind = ChaosKind.networkChaos

    public enum Action: String, ChaosEnum {
        case netem, delay, loss, duplicate, corrupt, partition, bandwidth
    }

    public enum Direction: String, ChaosEnum {
        case to, from, both
    }

    public var action: Action
    public var mode: SelectorMode
    public var value: String?
    public var selector: PodSelectorSpec
    public var duration: GoDuration?
    public var remoteCluster: String?
    /// The device to act on; default: the target's first non-loopback one.
    public var device: String?
    /// `to` (default): traffic from the selected pods to the targets.
    public var direction: Direction?
    /// The other end of the traffic, chosen among pods.
    public var target: NetworkTarget?
    public var targetDevice: String?
    /// IPs, CIDRs or host names outside the cluster.
    public var externalTargets: [String]?
    public var delay: DelaySpec?
    public var loss: LossSpec?
    public var duplicate: DuplicateSpec?
    public var corrupt: CorruptSpec?
    public var bandwidth: BandwidthSpec?
    public var rate: RateSpec?

    public init(action: Action, mode: SelectorMode = .all, value: String? = nil,
                selector: PodSelectorSpec = PodSelectorSpec()) {
        self.action = action
        self.mode = mode
        self.value = value
        self.selector = selector
    }

    /// Chaos Mesh's defaults: direction `to`, correlations `"0"`, jitter
    /// `0ms`, and a device name cut at `@` (`eth0@if12` is how `ip link`
    /// prints a veth, but the device is `eth0`).
    public mutating func applyDefaults() {
        if direction == nil { direction = .to }
        if let at = device?.firstIndex(of: "@") { device = String(device![..<at]) }
        if delay != nil {
            if delay!.jitter == nil { delay!.jitter = (try? GoDuration(parsing: "0ms")) ?? .zero }
            if delay!.correlation == nil { delay!.correlation = Percentage(0) }
            if delay!.reorder != nil && delay!.reorder!.correlation == nil { delay!.reorder!.correlation = Percentage(0) }
        }
        if loss != nil && loss!.correlation == nil { loss!.correlation = Percentage(0) }
        if duplicate != nil && duplicate!.correlation == nil { duplicate!.correlation = Percentage(0) }
        if corrupt != nil && corrupt!.correlation == nil { corrupt!.correlation = Percentage(0) }
    }

    public func validate(at path: FieldPath, into diagnostics: inout Diagnostics) {
        validateTargeting(at: path, into: &diagnostics)
        validateDuration(duration, at: path.child("duration"), into: &diagnostics)
        let direction = self.direction ?? .to

        // What each action needs.
        let needed: [Action: (String, Bool)] = [
            .delay: ("delay", delay != nil), .loss: ("loss", loss != nil),
            .duplicate: ("duplicate", duplicate != nil), .corrupt: ("corrupt", corrupt != nil),
            .bandwidth: ("bandwidth", bandwidth != nil),
        ]
        if let (field, present) = needed[action], !present, !diagnostics.hasError(touching: path.child(field)) {
            diagnostics.error(path.child(field), "required when action is \(action.rawValue)")
        }
        if action == .netem && delay == nil && loss == nil && duplicate == nil && corrupt == nil && rate == nil
            && !["delay", "loss", "duplicate", "corrupt", "rate"].contains(where: { diagnostics.hasError(touching: path.child($0)) }) {
            diagnostics.error(path.child("action"),
                              "netem needs at least one of delay, loss, duplicate, corrupt or rate")
        }

        // Chaos Mesh's target rules: a partition may go any way on its own;
        // a netem-style fault from or both ways needs pods to come from.
        if action != .partition {
            if (direction == .from || direction == .both) && target == nil {
                diagnostics.error(path.child("direction"),
                                  "\"\(direction.rawValue)\" needs spec.target (the pods traffic comes from), except for partition")
            }
            if direction != .to && !(externalTargets ?? []).isEmpty {
                diagnostics.error(path.child("externalTargets"),
                                  "can only be used with direction \"to\", except for partition")
            }
        }

        if let target {
            target.validate(at: path.child("target"), into: &diagnostics)
        }
        for (position, external) in (externalTargets ?? []).enumerated() {
            if let problem = NetworkAddress.problem(withTarget: external) {
                diagnostics.error(path.child("externalTargets").index(position), problem)
            }
        }
        for (field, name) in [("device", device), ("targetDevice", targetDevice)] {
            if let name, let problem = HostNames.problem(withDevice: name) {
                diagnostics.error(path.child(field), problem)
            }
        }
        delay?.validate(at: path.child("delay"), into: &diagnostics)
        bandwidth?.validate(at: path.child("bandwidth"), into: &diagnostics)
    }
}

/// The pods at the other end of a NetworkChaos (`spec.target`).
public struct NetworkTarget: Codable, Sendable, Hashable {
    public var mode: SelectorMode
    public var value: String?
    public var selector: PodSelectorSpec

    public init(mode: SelectorMode, value: String? = nil, selector: PodSelectorSpec) {
        self.mode = mode
        self.value = value
        self.selector = selector
    }

    func validate(at path: FieldPath, into diagnostics: inout Diagnostics) {
        selector.validate(at: path.child("selector"), into: &diagnostics)
        if case .failure(let problem) = Selection.parse(mode: mode, value: value) {
            diagnostics.error(path.child("value"), problem.message)
        }
    }
}

/// `tc netem delay`: latency with jitter, correlation and reordering.
public struct DelaySpec: Codable, Sendable, Hashable {
    public var latency: GoDuration
    public var jitter: GoDuration?
    public var correlation: Percentage?
    public var reorder: ReorderSpec?

    public init(latency: GoDuration, jitter: GoDuration? = nil, correlation: Percentage? = nil,
                reorder: ReorderSpec? = nil) {
        self.latency = latency
        self.jitter = jitter
        self.correlation = correlation
        self.reorder = reorder
    }

    func validate(at path: FieldPath, into diagnostics: inout Diagnostics) {
        for (field, duration) in [("latency", Optional(latency)), ("jitter", jitter)] {
            guard let duration, !diagnostics.hasError(touching: path.child(field)) else { continue }
            if !duration.isSingleUnsignedUnit {
                diagnostics.error(path.child(field),
                                  "\"\(duration.text)\" must be one unsigned number and one unit (ns, us, ms, s, m or h), e.g. \"90ms\"")
            }
        }
    }
}

/// Packets sent at once instead of delayed (`reorder`% of them), every
/// `gap`-th packet.
public struct ReorderSpec: Codable, Sendable, Hashable {
    public var reorder: Percentage
    public var correlation: Percentage?
    public var gap: Int

    public init(reorder: Percentage, correlation: Percentage? = nil, gap: Int) {
        self.reorder = reorder
        self.correlation = correlation
        self.gap = gap
    }
}

public struct LossSpec: Codable, Sendable, Hashable {
    public var loss: Percentage
    public var correlation: Percentage?

    public init(loss: Percentage, correlation: Percentage? = nil) {
        self.loss = loss
        self.correlation = correlation
    }
}

public struct DuplicateSpec: Codable, Sendable, Hashable {
    public var duplicate: Percentage
    public var correlation: Percentage?

    public init(duplicate: Percentage, correlation: Percentage? = nil) {
        self.duplicate = duplicate
        self.correlation = correlation
    }
}

public struct CorruptSpec: Codable, Sendable, Hashable {
    public var corrupt: Percentage
    public var correlation: Percentage?

    public init(corrupt: Percentage, correlation: Percentage? = nil) {
        self.corrupt = corrupt
        self.correlation = correlation
    }
}

/// A token bucket (`tc tbf`): `rate`, with `limit` bytes queued and a
/// `buffer`-byte bucket.
public struct BandwidthSpec: Codable, Sendable, Hashable {
    public var rate: DataRate
    public var limit: UInt32
    public var buffer: UInt32
    public var peakrate: UInt64?
    public var minburst: UInt32?

    public init(rate: DataRate, limit: UInt32, buffer: UInt32, peakrate: UInt64? = nil, minburst: UInt32? = nil) {
        self.rate = rate
        self.limit = limit
        self.buffer = buffer
        self.peakrate = peakrate
        self.minburst = minburst
    }

    func validate(at path: FieldPath, into diagnostics: inout Diagnostics) {
        if limit < 1 && !diagnostics.hasError(touching: path.child("limit")) {
            diagnostics.error(path.child("limit"), "must be at least 1")
        }
        if buffer < 1 && !diagnostics.hasError(touching: path.child("buffer")) {
            diagnostics.error(path.child("buffer"), "must be at least 1")
        }
        if rate.bitsPerSecond == 0 && !diagnostics.hasError(touching: path.child("rate")) {
            diagnostics.error(path.child("rate"), "must be greater than 0")
        }
    }
}

public struct RateSpec: Codable, Sendable, Hashable {
    public var rate: DataRate

    public init(rate: DataRate) {
        self.rate = rate
    }
}

extension NetworkChaosSpec: PeerTargetedSpec {
    public var peerSelector: (selector: PodSelectorSpec, mode: SelectorMode, value: String?)? {
        target.map { ($0.selector, $0.mode, $0.value) }
    }
}
