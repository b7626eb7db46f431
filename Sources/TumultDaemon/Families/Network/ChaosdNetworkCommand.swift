import Foundation
import TumultAgent
import TumultFaults
import TumultModel
import TumultSystem

/// `POST /api/attack/network`.
struct ChaosdNetworkCommand: ChaosdCommand {
    var action: String
    var device: String?
    var latency: String?
    var jitter: String?
    var correlation: String?
    var percent: String?
    var ipAddress: String?
    var ipProtocol: String?
    var hostname: String?
    var sourcePort: String?
    var egressPort: String?
    var direction: String?
    var rate: String?
    var limit: ChaosdNumber?
    var buffer: ChaosdNumber?
    var netns: String?
    var pid: ChaosdNumber?

    enum CodingKeys: String, CodingKey {
        case action, device, latency, jitter, correlation, percent, hostname, direction, rate, limit, buffer, netns, pid
        case ipAddress = "ip-address", ipProtocol = "ip-protocol", sourcePort = "source-port", egressPort = "egress-port"
    }

    /// Where the fault acts; valid once `planned()` succeeded.
    var namespace: NetworkNamespace {
        (try? Self.namespace(netns: netns, pid: pid)) ?? .host
    }

    var targetDescription: String { namespace.description }

    var hostChecks: [ChaosdHost.Check] {
        let namespace = namespace
        return Self.checks(of: namespace) + (device.map { [.device(field: "device", name: $0, in: namespace)] } ?? [])
    }

    func planned() throws(AgentError) -> PlannedFault {
        guard let kind = NetworkFault.Action(rawValue: action), kind != .netem else {
            throw Self.invalid("action", "\"\(action)\" is not delay, loss, duplicate, corrupt, partition or bandwidth")
        }
        var fault = NetworkFault(action: kind, namespace: try Self.namespace(netns: netns, pid: pid))
        if let device, let problem = HostNames.problem(withDevice: device) { throw Self.invalid("device", problem) }
        fault.device = device
        if let direction {
            guard let value = NetworkFault.Direction(rawValue: direction) else {
                throw Self.invalid("direction", "\"\(direction)\" is not to, from or both")
            }
            fault.direction = value
        }
        fault.peers = (ipAddress ?? "").split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }
        // Addresses only (names go in `hostname`), and IPv4: what the injector filters on.
        for peer in fault.peers where !(NetworkAddress.isIPv4(peer) || (NetworkAddress.isCIDR(peer) && !peer.contains(":"))) {
            throw Self.invalid("ip-address", "\"\(peer)\" is not an IPv4 address or CIDR")
        }
        fault.hostnames = (hostname ?? "").split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }
        if let ipProtocol, !ipProtocol.isEmpty {
            guard ["tcp", "udp", "icmp", "all"].contains(ipProtocol) else {
                throw Self.invalid("ip-protocol", "\"\(ipProtocol)\" is not tcp, udp, icmp or all")
            }
            fault.ipProtocol = ipProtocol
        }
        fault.sourcePorts = try Self.numbers("source-port", sourcePort)
        fault.egressPorts = try Self.numbers("egress-port", egressPort)
        let percentage = try Self.parse("percent", percent) { try Percentage(parsing: $0).value }
        let correlationValue = try Self.parse("correlation", correlation) { try Percentage(parsing: $0).value } ?? 0
        switch kind {
        case .delay:
            guard let latency = try Self.parse("latency", latency, { try GoDuration(parsing: $0) }) else {
                throw Self.invalid("latency", "required for delay")
            }
            guard !latency.isNegative else { throw Self.invalid("latency", "\"\(latency.text)\" is negative") }
            let jitterValue = try Self.parse("jitter", jitter) { try GoDuration(parsing: $0) }
            if let jitterValue, jitterValue.isNegative { throw Self.invalid("jitter", "\"\(jitterValue.text)\" is negative") }
            fault.netem.latency = latency.nanoseconds
            fault.netem.jitter = jitterValue?.nanoseconds ?? 0
            fault.netem.delayCorrelation = correlationValue
        case .loss, .duplicate, .corrupt:
            guard let percentage else { throw Self.invalid("percent", "required for \(action)") }
            guard percentage > 0 else { throw Self.invalid("percent", "\"\(percent ?? "")\" must be above 0 for \(action)") }
            switch kind {
            case .loss: (fault.netem.loss, fault.netem.lossCorrelation) = (percentage, correlationValue)
            case .duplicate: (fault.netem.duplicate, fault.netem.duplicateCorrelation) = (percentage, correlationValue)
            default: (fault.netem.corrupt, fault.netem.corruptCorrelation) = (percentage, correlationValue)
            }
        case .bandwidth:
            guard let rate = try Self.parse("rate", rate, { try DataRate(parsing: $0) }) else {
                throw Self.invalid("rate", "required for bandwidth (e.g. \"1mbps\")")
            }
            guard fault.direction == .to else {
                throw Self.invalid("direction", "\"\(direction ?? "")\": bandwidth shapes outgoing traffic only (to)")
            }
            let limitValue = try Self.integer("limit", limit, in: 1...UInt32.max) ?? 100_000
            let bufferValue = try Self.integer("buffer", buffer, in: 1...UInt32.max) ?? 10_000
            fault.bandwidth = .init(bitsPerSecond: rate.bitsPerSecond, limit: limitValue, buffer: bufferValue)
        case .partition, .netem:
            break
        }
        return PlannedFault(fault, injector: NetworkFaultInjector(), action: "network \(kind.rawValue)", summary: fault.summary)
    }
}

