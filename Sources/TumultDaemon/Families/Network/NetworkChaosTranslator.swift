import Foundation
import TumultFaults
import TumultModel
import TumultSystem

/// NetworkChaos as `NetworkFault`s in the target pod's network namespace.
///
/// The other end of the traffic is the IPv4 addresses of the `peers` (the
/// pods `spec.target` chose) and the `externalTargets`: addresses and CIDRs
/// as they are, host names resolved when the fault is applied. Tumult's
/// rules are IPv4 only, so IPv6 peers are left out (the summary says which);
/// when a spec names peers and none is left, translation fails instead of
/// acting on all traffic.
///
/// Chaos Mesh applies `from` and `both` on the peers' side; Tumult acts on
/// the traffic the target receives, in the target's own namespace, so
/// `targetDevice` has no use here. An external target with a port
/// (`example.com:443`) becomes a fault of its own limited to that remote
/// port (TCP, as Chaos Mesh's `hash:net,port` sets).
public struct NetworkChaosTranslator: FaultTranslator {
    public init() {}

    /// The smallest bucket and queue, in bytes, of the tbf that stands in
    /// for netem's `rate` (the CLI's bandwidth defaults).
    static let rateBufferBytes: UInt32 = 10_000
    static let rateLimitBytes: UInt32 = 20_000

    public func faults(for spec: NetworkChaosSpec, target: Pod, peers: [Pod],
                       options: TranslationOptions) throws -> [PlannedFault] {
        let namespace = try target.networkNamespace()
        let direction = NetworkFault.Direction(spec.direction ?? .to)
        let others = try Others(spec: spec, peers: peers)

        var base = NetworkFault(action: NetworkFault.Action(spec.action), namespace: namespace)
        base.device = spec.device.map { String($0.split(separator: "@", maxSplits: 1).first ?? Substring($0)) }
        base.direction = direction
        base.backend = options.networkBackend

        // What each fault does, before the traffic it acts on is chosen.
        var shapes: [NetworkFault] = []
        switch spec.action {
        case .partition:
            shapes.append(base)
        case .bandwidth:
            guard let bandwidth = spec.bandwidth else {
                throw FaultError(.invalidFault, "spec.bandwidth: required when action is bandwidth")
            }
            try requireOutgoing(direction, field: "spec.direction", what: "bandwidth")
            var fault = base
            fault.bandwidth = NetworkFault.Bandwidth(bitsPerSecond: bandwidth.rate.bitsPerSecond, limit: bandwidth.limit,
                                                     buffer: bandwidth.buffer, peakrate: bandwidth.peakrate,
                                                     minburst: bandwidth.minburst)
            shapes.append(fault)
        case .delay, .loss, .duplicate, .corrupt, .netem:
            var fault = base
            try Self.fillNetem(&fault.netem, spec: spec)
            if !fault.netem.isEmpty { shapes.append(fault) }
            if spec.action == .netem, let rate = spec.rate {
                try requireOutgoing(direction, field: "spec.rate", what: "netem's rate")
                shapes.append(Self.rateFault(base, rate: rate.rate))
            }
            guard !shapes.isEmpty else {
                throw FaultError(.invalidFault, "spec: \(spec.action.rawValue) has no latency, percentage or rate above 0 to apply")
            }
        }

        // Each tbf or kernel netem fault takes the device's root qdisc:
        // two of them on one device cannot be applied.
        let groups = others.groups
        let takesRoot = shapes.contains { $0.action == .bandwidth || $0.bandwidth != nil }
            || (options.networkBackend == .kernel && shapes.contains { $0.action != .partition })
        if shapes.count > 1 && options.networkBackend == .kernel {
            throw FaultError(.unsupported, "spec.rate: with the kernel backend netem and the tbf that stands in for rate "
                             + "both need the device's root qdisc; use the userspace or auto backend, or drop rate")
        }
        if groups.count > 1 && takesRoot {
            throw FaultError(.unsupported, "spec.externalTargets: targets with different ports need one fault each, "
                             + "and this fault holds the device's root qdisc, which only one of them can have; "
                             + "give the targets without ports (or all with the same port)")
        }

        var planned: [PlannedFault] = []
        for shape in shapes {
            for group in groups {
                var fault = shape
                fault.peers = group.peers
                fault.hostnames = group.hostnames
                if let port = group.port { fault.egressPorts = [port] }
                var summary = "\(fault.summary) in \(namespace)"
                if !others.notes.isEmpty { summary += " (\(others.notes.joined(separator: "; ")))" }
                planned.append(PlannedFault(fault, injector: NetworkFaultInjector(detachEngine: options.detachHelpers),
                                            action: "network \(fault.action.rawValue)", summary: summary))
            }
        }
        return planned
    }

    /// The netem fields the action uses: its own block, or for `netem`
    /// every block present.
    static func fillNetem(_ netem: inout NetworkFault.Netem, spec: NetworkChaosSpec) throws {
        let all = spec.action == .netem
        func missing(_ field: String) -> FaultError {
            FaultError(.invalidFault, "spec.\(field): required when action is \(spec.action.rawValue)")
        }
        if spec.action == .delay || all, let delay = spec.delay {
            guard !delay.latency.isNegative, !(delay.jitter?.isNegative ?? false) else {
                throw FaultError(.invalidFault, "spec.delay: latency and jitter must not be negative")
            }
            netem.latency = delay.latency.nanoseconds
            netem.jitter = delay.jitter?.nanoseconds ?? 0
            netem.delayCorrelation = delay.correlation?.value ?? 0
            if let reorder = delay.reorder {
                netem.reorder = reorder.reorder.value
                netem.reorderCorrelation = reorder.correlation?.value ?? 0
                netem.gap = reorder.gap
            }
        } else if spec.action == .delay {
            throw missing("delay")
        }
        if spec.action == .loss || all, let loss = spec.loss {
            (netem.loss, netem.lossCorrelation) = (loss.loss.value, loss.correlation?.value ?? 0)
        } else if spec.action == .loss {
            throw missing("loss")
        }
        if spec.action == .duplicate || all, let duplicate = spec.duplicate {
            (netem.duplicate, netem.duplicateCorrelation) = (duplicate.duplicate.value, duplicate.correlation?.value ?? 0)
        } else if spec.action == .duplicate {
            throw missing("duplicate")
        }
        if spec.action == .corrupt || all, let corrupt = spec.corrupt {
            (netem.corrupt, netem.corruptCorrelation) = (corrupt.corrupt.value, corrupt.correlation?.value ?? 0)
        } else if spec.action == .corrupt {
            throw missing("corrupt")
        }
    }

    /// netem's `rate` as a token bucket: Tumult's userspace engine has no
    /// rate, and tbf (which every kernel has) limits the same outgoing
    /// traffic. The bucket holds 10 ms of traffic (at least 10 kB, a few
    /// full frames) and 50 ms may queue (at least 20 kB), like the CLI's
    /// bandwidth defaults at low rates.
    static func rateFault(_ base: NetworkFault, rate: DataRate) -> NetworkFault {
        var fault = base
        fault.action = .bandwidth
        let bytesPerSecond = rate.bytesPerSecond
        let buffer = UInt32(clamping: max(UInt64(rateBufferBytes), bytesPerSecond / 100))
        let limit = UInt32(clamping: max(UInt64(rateLimitBytes), bytesPerSecond / 20))
        fault.bandwidth = NetworkFault.Bandwidth(bitsPerSecond: rate.bitsPerSecond, limit: limit, buffer: buffer)
        return fault
    }

    /// tbf shapes what a device sends, so only traffic the target sends.
    func requireOutgoing(_ direction: NetworkFault.Direction, field: String, what: String) throws {
        guard direction == .to else {
            throw FaultError(.unsupported, "\(field): \(what) shapes only the traffic the target sends (direction to), "
                             + "not \"\(direction.rawValue)\"")
        }
    }

    /// The other end of the traffic, split by remote port.
    struct Others {
        struct Group: Equatable {
            var port: UInt16?
            var peers: [String] = []
            var hostnames: [String] = []
        }

        /// The port-less group first (with the pods' addresses), then one per port.
        var groups: [Group]
        /// What was left out, for the summary: IPv6 peers, pods without IPv4.
        var notes: [String] = []

        init(spec: NetworkChaosSpec, peers: [Pod]) throws {
            var byPort: [UInt16?: Group] = [nil: Group()]
            var order: [UInt16?] = [nil]
            var skipped: [String] = []
            var podsWithoutIPv4: [String] = []
            for pod in peers {
                let ipv4 = pod.ips.filter(NetworkAddress.isIPv4)
                if ipv4.isEmpty { podsWithoutIPv4.append(pod.id) }
                byPort[nil]!.peers += ipv4
                skipped += pod.ips.filter(NetworkAddress.isIPv6).map { "\($0) (\(pod.id))" }
            }
            for (position, external) in (spec.externalTargets ?? []).enumerated() {
                let (host, portText) = NetworkAddress.splitPort(external)
                var port: UInt16?
                if let portText {
                    guard let value = UInt16(portText), value > 0 else {
                        throw FaultError(.invalidFault, "spec.externalTargets[\(position)]: \"\(external)\" has a bad port")
                    }
                    port = value
                }
                if byPort[port] == nil {
                    byPort[port] = Group(port: port)
                    order.append(port)
                }
                if NetworkAddress.isIPv4(host) || (NetworkAddress.isCIDR(host) && !host.contains(":")) {
                    byPort[port]!.peers.append(host)
                } else if NetworkAddress.isIPv6(host) || NetworkAddress.isCIDR(host) {
                    skipped.append(external)
                } else if NetworkAddress.isHostName(host) {
                    byPort[port]!.hostnames.append(host)
                } else {
                    throw FaultError(.invalidFault, "spec.externalTargets[\(position)]: \"\(external)\" is not an IP address, "
                                     + "a CIDR or a host name")
                }
            }
            if !skipped.isEmpty { notes.append("IPv6 peers skipped, rules are IPv4: \(skipped.joined(separator: ", "))") }
            if !podsWithoutIPv4.isEmpty { notes.append("pods without IPv4 skipped: \(podsWithoutIPv4.joined(separator: ", "))") }
            groups = order.compactMap { byPort[$0] }.map { group in
                var unique = group
                unique.peers = Self.deduplicated(group.peers)
                unique.hostnames = Self.deduplicated(group.hostnames)
                return unique
            }
            let named = spec.target != nil || !peers.isEmpty || !(spec.externalTargets ?? []).isEmpty
            let filtered = groups.filter { !$0.peers.isEmpty || !$0.hostnames.isEmpty }
            // A spec that names peers must never fall back to all traffic.
            if named && filtered.isEmpty {
                if spec.target != nil && peers.isEmpty && (spec.externalTargets ?? []).isEmpty {
                    throw FaultError(.invalidFault, "spec.target: selected no pods, so there is no traffic to act on")
                }
                if !podsWithoutIPv4.isEmpty {
                    throw FaultError(.invalidFault, "spec.target: the pods selected (\(podsWithoutIPv4.joined(separator: ", "))) "
                                     + "have no IPv4 address, and Tumult's rules are IPv4 only"
                                     + (skipped.isEmpty ? "" : " (IPv6 skipped: \(skipped.joined(separator: ", ")))"))
                }
                throw FaultError(.invalidFault, "spec.externalTargets: only IPv6 peers (\(skipped.joined(separator: ", "))), "
                                 + "and Tumult's rules are IPv4 only")
            }
            // Without named peers, the one port-less group stands for all traffic.
            groups = named ? filtered : [Group()]
        }

        static func deduplicated(_ values: [String]) -> [String] {
            var seen = Set<String>()
            return values.filter { seen.insert($0).inserted }
        }
    }
}

extension NetworkFault.Action {
    init(_ action: NetworkChaosSpec.Action) {
        switch action {
        case .netem: self = .netem
        case .delay: self = .delay
        case .loss: self = .loss
        case .duplicate: self = .duplicate
        case .corrupt: self = .corrupt
        case .partition: self = .partition
        case .bandwidth: self = .bandwidth
        }
    }
}

extension NetworkFault.Direction {
    init(_ direction: NetworkChaosSpec.Direction) {
        switch direction {
        case .to: self = .to
        case .from: self = .from
        case .both: self = .both
        }
    }
}
