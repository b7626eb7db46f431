import TumultSystem

/// One network fault on one target, with everything resolved that the
/// document or the command line left open except what only the host knows
/// (the default device, host names), which `apply` resolves.
public struct NetworkFault: Codable, Sendable, Hashable {
    public enum Action: String, Codable, Sendable, CaseIterable {
        case delay, loss, duplicate, corrupt, partition, bandwidth, netem
    }

    /// `to`: traffic the target sends; `from`: traffic it receives.
    public enum Direction: String, Codable, Sendable, CaseIterable {
        case to, from, both
    }

    /// Where netem-style faults run: the kernel's sch_netem, Tumult's
    /// userspace engine, or whichever the kernel allows (`auto`).
    public enum Backend: String, Codable, Sendable, CaseIterable {
        case kernel, userspace, auto
    }

    /// netem's parameters; durations in nanoseconds, percentages 0-100.
    public struct Netem: Codable, Sendable, Hashable {
        public var latency: Int64 = 0
        public var jitter: Int64 = 0
        public var delayCorrelation: Double = 0
        public var loss: Double = 0
        public var lossCorrelation: Double = 0
        public var duplicate: Double = 0
        public var duplicateCorrelation: Double = 0
        public var corrupt: Double = 0
        public var corruptCorrelation: Double = 0
        public var reorder: Double = 0
        public var reorderCorrelation: Double = 0
        public var gap: Int = 0
        /// Packets held at once; more are dropped (netem's `limit`).
        public var limit: Int = 1000

        public init() {}

        public var isEmpty: Bool {
            latency == 0 && jitter == 0 && loss == 0 && duplicate == 0 && corrupt == 0 && reorder == 0
        }
    }

    /// A token bucket (`tbf`).
    public struct Bandwidth: Codable, Sendable, Hashable {
        public var bitsPerSecond: UInt64
        /// Bytes that may wait for tokens.
        public var limit: UInt32
        /// The bucket's size in bytes.
        public var buffer: UInt32
        /// Bytes per second the bucket may drain at most (with `minburst`).
        public var peakrate: UInt64?
        public var minburst: UInt32?

        public init(bitsPerSecond: UInt64, limit: UInt32, buffer: UInt32, peakrate: UInt64? = nil, minburst: UInt32? = nil) {
            self.bitsPerSecond = bitsPerSecond
            self.limit = limit
            self.buffer = buffer
            self.peakrate = peakrate
            self.minburst = minburst
        }
    }

    public var action: Action
    public var namespace: NetworkNamespace
    /// The device; default: the namespace's first non-loopback one.
    public var device: String?
    public var direction: Direction = .to
    /// IPv4 addresses or CIDRs at the other end; empty means all traffic.
    public var peers: [String] = []
    /// Host names at the other end, resolved when the fault is applied.
    public var hostnames: [String] = []
    /// `tcp`, `udp` or `icmp`: only that protocol.
    public var ipProtocol: String?
    /// Only traffic from these local ports (`source-port`).
    public var sourcePorts: [UInt16] = []
    /// Only traffic to these remote ports (`egress-port`).
    public var egressPorts: [UInt16] = []
    public var netem = Netem()
    public var bandwidth: Bandwidth?
    public var backend: Backend = .auto

    public init(action: Action, namespace: NetworkNamespace) {
        self.action = action
        self.namespace = namespace
    }

    /// Whether the fault narrows the traffic it acts on.
    public var isFiltered: Bool {
        !peers.isEmpty || !hostnames.isEmpty || ipProtocol != nil || !sourcePorts.isEmpty || !egressPorts.isEmpty
    }

    /// A one-line account for lists and logs: `delay 100ms±20ms to 10.0.0.0/8`.
    public var summary: String {
        var parts = [action.rawValue]
        switch action {
        case .bandwidth:
            if let bandwidth { parts.append("\(bandwidth.bitsPerSecond)bit/s") }
        case .partition:
            break
        default:
            if netem.latency > 0 { parts.append("\(netem.latency / 1_000_000)ms" + (netem.jitter > 0 ? "±\(netem.jitter / 1_000_000)ms" : "")) }
            if netem.loss > 0 { parts.append("loss \(netem.loss)%") }
            if netem.duplicate > 0 { parts.append("duplicate \(netem.duplicate)%") }
            if netem.corrupt > 0 { parts.append("corrupt \(netem.corrupt)%") }
        }
        parts.append(direction.rawValue)
        let others = peers + hostnames
        parts.append(others.isEmpty ? "all" : others.joined(separator: ","))
        return parts.joined(separator: " ")
    }
}
