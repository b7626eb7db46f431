import Foundation
import TumultDaemon
import TumultFaults
import TumultModel
import TumultSystem

/// One chaosd attack request body: decoded from chaosd's JSON (kebab-case
/// keys, numbers as strings) and turned into the fault it asks for. Tumult
/// adds `netns` (a named network namespace) and `pid` to aim an attack at
/// a target instead of the whole host.
protocol ChaosdCommand: Decodable, Sendable {
    func planned() throws(APIError) -> PlannedFault
    /// What the journal names as the target.
    var targetDescription: String { get }
}

extension ChaosdCommand {
    static func invalid(_ path: String, _ message: String) -> APIError {
        APIError(.badRequest, "ValidationError", "\(path): \(message)", errors: [.init(path: path, message: message)])
    }

    static func parse<T>(_ path: String, _ text: String?, _ parser: (String) throws -> T) throws(APIError) -> T? {
        guard let text, !text.isEmpty else { return nil }
        do { return try parser(text) } catch { throw invalid(path, String(describing: error)) }
    }

    static func numbers<T: FixedWidthInteger>(_ path: String, _ text: String?) throws(APIError) -> [T] {
        guard let text, !text.isEmpty else { return [] }
        var values: [T] = []
        for part in text.split(separator: ",") {
            guard let value = T(part.trimmingCharacters(in: .whitespaces)) else {
                throw invalid(path, "\"\(text)\" is not a comma-separated list of numbers")
            }
            values.append(value)
        }
        return values
    }
}

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
    var limit: UInt32?
    var buffer: UInt32?
    var netns: String?
    var pid: Int32?

    enum CodingKeys: String, CodingKey {
        case action, device, latency, jitter, correlation, percent, hostname, direction, rate, limit, buffer, netns, pid
        case ipAddress = "ip-address", ipProtocol = "ip-protocol", sourcePort = "source-port", egressPort = "egress-port"
    }

    var namespace: NetworkNamespace {
        if let netns { return .named(netns) }
        if let pid { return .process(pid) }
        return .host
    }

    var targetDescription: String { namespace.description }

    func planned() throws(APIError) -> PlannedFault {
        guard let kind = NetworkFault.Action(rawValue: action), kind != .netem else {
            throw Self.invalid("action", "\"\(action)\" is not delay, loss, duplicate, corrupt, partition or bandwidth")
        }
        var fault = NetworkFault(action: kind, namespace: namespace)
        fault.device = device
        if let direction {
            guard let value = NetworkFault.Direction(rawValue: direction) else {
                throw Self.invalid("direction", "\"\(direction)\" is not to, from or both")
            }
            fault.direction = value
        }
        fault.peers = (ipAddress ?? "").split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }
        for peer in fault.peers where NetworkAddress.problem(withTarget: peer) != nil {
            throw Self.invalid("ip-address", "\"\(peer)\" is not an IP address or CIDR")
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
            fault.netem.latency = latency.nanoseconds
            fault.netem.jitter = try Self.parse("jitter", jitter) { try GoDuration(parsing: $0) }?.nanoseconds ?? 0
            fault.netem.delayCorrelation = correlationValue
        case .loss, .duplicate, .corrupt:
            guard let percentage else { throw Self.invalid("percent", "required for \(action)") }
            switch kind {
            case .loss: (fault.netem.loss, fault.netem.lossCorrelation) = (percentage, correlationValue)
            case .duplicate: (fault.netem.duplicate, fault.netem.duplicateCorrelation) = (percentage, correlationValue)
            default: (fault.netem.corrupt, fault.netem.corruptCorrelation) = (percentage, correlationValue)
            }
        case .bandwidth:
            guard let rate = try Self.parse("rate", rate, { try DataRate(parsing: $0) }) else {
                throw Self.invalid("rate", "required for bandwidth (e.g. \"1mbps\")")
            }
            fault.bandwidth = .init(bitsPerSecond: rate.bitsPerSecond, limit: limit ?? 100_000, buffer: buffer ?? 10_000)
        case .partition, .netem:
            break
        }
        return PlannedFault(fault, injector: NetworkFaultInjector(), action: "network \(kind.rawValue)", summary: fault.summary)
    }
}

/// `POST /api/attack/process`: `process` is a name or a pid.
struct ChaosdProcessCommand: ChaosdCommand {
    var action: String
    var process: String?
    var signal: Int32?
    var netns: String?

    var target: ProcessTarget? {
        if let process, let pid = Int32(process) { return .pid(pid) }
        if let process, !process.isEmpty { return .name(process) }
        return netns.map { .networkNamespace($0) }
    }

    var targetDescription: String { target?.description ?? "" }

    func planned() throws(APIError) -> PlannedFault {
        guard let target else { throw Self.invalid("process", "required: a process name or pid (or netns)") }
        var fault: ProcessFault
        switch action {
        case "kill":
            fault = ProcessFault(action: .kill, target: target)
            fault.signal = signal ?? SIGKILL
        case "stop": fault = ProcessFault(action: .stop, target: target)
        default: throw Self.invalid("action", "\"\(action)\" is not kill or stop")
        }
        return PlannedFault(fault, injector: ProcessFaultInjector(), action: "process \(action)", summary: fault.summary)
    }
}

/// `POST /api/attack/stress`.
struct ChaosdStressCommand: ChaosdCommand {
    var action: String
    var load: Int?
    var workers: Int?
    var size: String?
    var options: [String]?
    var netns: String?
    var pid: Int32?

    var target: StressFault.Target {
        if let netns { return .networkNamespace(netns) }
        if let pid { return .process(pid) }
        return .host
    }

    var targetDescription: String { target.description }

    func planned() throws(APIError) -> PlannedFault {
        var fault: StressFault
        switch action {
        case "cpu":
            fault = StressFault(action: .cpu, target: target)
            fault.load = load ?? 100
            guard (0...100).contains(fault.load) else { throw Self.invalid("load", "\(fault.load) is not from 0 to 100") }
        case "mem", "memory":
            fault = StressFault(action: .memory, target: target)
            guard let size = try Self.parse("size", size, { try MemorySize(parsing: $0) }) else {
                throw Self.invalid("size", "required for mem (e.g. \"256MB\" or \"25%\")")
            }
            switch size.amount {
            case .bytes(let bytes)?: fault.size = .bytes(bytes)
            case .percent(let percent)?: fault.size = .percent(Double(percent))
            case nil: throw Self.invalid("size", "\"\(size.text)\" is not a size")
            }
        default:
            throw Self.invalid("action", "\"\(action)\" is not cpu or mem")
        }
        fault.workers = workers ?? 1
        guard fault.workers >= 1 else { throw Self.invalid("workers", "must be at least 1") }
        fault.stressNGOptions = options ?? []
        return PlannedFault(fault, injector: StressFaultInjector(), action: "stress \(fault.action.rawValue)", summary: fault.summary)
    }
}

/// `POST /api/attack/disk`.
struct ChaosdDiskCommand: ChaosdCommand {
    var action: String
    var size: String?
    var path: String?
    var percent: String?
    var payloadProcessNum: Int?
    var fillByFallocate: Bool?

    enum CodingKeys: String, CodingKey {
        case action, size, path, percent
        case payloadProcessNum = "payload-process-num", fillByFallocate = "fill-by-fallocate"
    }

    var directory: String { (path?.isEmpty == false ? path : nil) ?? "/tmp" }
    var targetDescription: String { directory }

    func planned() throws(APIError) -> PlannedFault {
        var fault: DiskFault
        switch action {
        case "fill":
            fault = DiskFault(action: .fill, directory: directory)
            fault.size = try Self.parse("size", size) { try ChaosdSize(parsing: $0).bytes }
            fault.percent = try Self.parse("percent", percent) { try Percentage(parsing: $0).value }
            fault.fillByFallocate = fillByFallocate ?? true
            guard fault.size != nil || fault.percent != nil else { throw Self.invalid("size", "size or percent is required for fill") }
        case "write-payload", "read-payload":
            fault = DiskFault(action: .payload, directory: directory)
            fault.mode = action == "read-payload" ? .read : .write
            guard let bytes = try Self.parse("size", size, { try ChaosdSize(parsing: $0).bytes }) else {
                throw Self.invalid("size", "required for \(action)")
            }
            fault.size = bytes
            fault.processes = payloadProcessNum ?? 1
        default:
            throw Self.invalid("action", "\"\(action)\" is not fill, write-payload or read-payload")
        }
        return PlannedFault(fault, injector: DiskFaultInjector(), action: "disk \(action)", summary: fault.summary)
    }
}

/// The chaosd attack kinds, by the last component of their path.
enum ChaosdCommands {
    static let kinds: [String: any ChaosdCommand.Type] = [
        "network": ChaosdNetworkCommand.self,
        "process": ChaosdProcessCommand.self,
        "stress": ChaosdStressCommand.self,
        "disk": ChaosdDiskCommand.self,
    ]
}
