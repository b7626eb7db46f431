import Foundation
import TumultDaemon
import TumultFaults
import TumultModel
import TumultSystem

/// One chaosd attack request body: decoded from chaosd's JSON (kebab-case
/// keys, numbers as strings) and turned into the fault it asks for. Tumult
/// adds `netns` (a named network namespace) and `pid` to aim an attack at
/// a target instead of the whole host.
///
/// A body is checked as a document is: every field by what it is, names
/// that reach the host by `HostNames`, each problem a 400 naming its field,
/// all before anything is journaled.
protocol ChaosdCommand: Decodable, Sendable {
    /// The fault, with every field checked; nothing is asked of the host.
    func planned() throws(APIError) -> PlannedFault
    /// What must be on the host for the fault to apply (asked by
    /// `ChaosdHost` after `planned()` succeeded).
    var hostChecks: [ChaosdHost.Check] { get }
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

    /// A whole number of `range`, or nil when the field is absent.
    static func integer<T: FixedWidthInteger>(_ path: String, _ number: ChaosdNumber?,
                                              in range: ClosedRange<T>) throws(APIError) -> T? {
        guard let number else { return nil }
        guard number.value.isFinite, number.value.rounded() == number.value else {
            throw invalid(path, "\(number) is not a whole number")
        }
        guard let value = T(exactly: number.value), range.contains(value) else {
            throw invalid(path, "\(number) is out of range: from \(range.lowerBound) to \(range.upperBound)")
        }
        return value
    }

    /// A network namespace name checked as one.
    static func networkNamespace(_ path: String, _ name: String) throws(APIError) -> String {
        if let problem = HostNames.problem(withNetworkNamespace: name) { throw invalid(path, problem) }
        return name
    }

    /// A pid checked as one Tumult may act on (not init, not this server).
    static func process(_ path: String, _ pid: Int64) throws(APIError) -> Int32 {
        if let problem = HostNames.problem(withPID: pid, tumult: getpid()) { throw invalid(path, problem) }
        return Int32(pid)
    }

    static func process(_ path: String, _ number: ChaosdNumber) throws(APIError) -> Int32 {
        guard number.value.rounded() == number.value, number.value.isFinite, abs(number.value) < 1e18 else {
            throw invalid(path, "\(number) is not a process id (a number from 1 to \(HostNames.maximumPID))")
        }
        return try process(path, Int64(number.value))
    }

    /// The namespace of `netns` or of `pid` (not both), or the host's.
    static func namespace(netns: String?, pid: ChaosdNumber?) throws(APIError) -> NetworkNamespace {
        switch (netns, pid) {
        case (let netns?, nil): .named(try networkNamespace("netns", netns))
        case (nil, let pid?): .process(try process("pid", pid))
        case (nil, nil): .host
        case (_?, _?): throw invalid("pid", "give netns or pid, not both")
        }
    }

    /// What must exist for a fault in `namespace`.
    static func checks(of namespace: NetworkNamespace) -> [ChaosdHost.Check] {
        switch namespace {
        case .host: []
        case .named(let name): [.networkNamespace(field: "netns", name: name)]
        case .process(let pid): [.process(field: "pid", pid: pid)]
        }
    }
}

/// A number in a chaosd body, read as a Double and then checked against
/// its field's range: Foundation's decoder answers a number that does not
/// fit the field's integer type (`"limit": -1`) with "not valid JSON" and
/// no field path.
struct ChaosdNumber: Decodable, Sendable, Hashable, CustomStringConvertible {
    var value: Double

    init(_ value: Double) {
        self.value = value
    }

    init(from decoder: any Decoder) throws {
        value = try decoder.singleValueContainer().decode(Double.self)
    }

    var description: String {
        value.rounded() == value && abs(value) < 1e15 ? String(Int64(value)) : String(value)
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

    func planned() throws(APIError) -> PlannedFault {
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

/// `POST /api/attack/process`: `process` is a name or a pid.
struct ChaosdProcessCommand: ChaosdCommand {
    var action: String
    var process: String?
    var signal: ChaosdNumber?
    var netns: String?

    /// The text of `process` when it is a number (a pid, however wrong).
    var pidText: Int64? {
        guard let process, !process.isEmpty else { return nil }
        let digits = process.hasPrefix("-") ? process.dropFirst() : Substring(process)
        guard !digits.isEmpty, digits.allSatisfy({ $0.isASCII && $0.isNumber }) else { return nil }
        return Int64(process) ?? (process.hasPrefix("-") ? Int64.min : Int64.max)
    }

    func checkedTarget() throws(APIError) -> ProcessTarget {
        switch (process.flatMap { $0.isEmpty ? nil : $0 }, netns) {
        case (_?, _?): throw Self.invalid("netns", "give process or netns, not both")
        case (let process?, nil):
            if let pid = pidText { return .pid(try Self.process("process", pid)) }
            return .name(process)
        case (nil, let netns?): return .networkNamespace(try Self.networkNamespace("netns", netns))
        case (nil, nil): throw Self.invalid("process", "required: a process name or pid (or netns)")
        }
    }

    var target: ProcessTarget? { try? checkedTarget() }

    var targetDescription: String { target?.description ?? "" }

    var hostChecks: [ChaosdHost.Check] {
        switch target {
        case .pid(let pid)?: [.process(field: "process", pid: pid)]
        case .networkNamespace(let name)?:
            [.networkNamespace(field: "netns", name: name), .processes(field: "netns", target: .networkNamespace(name))]
        case .name(let name)?: [.processes(field: "process", target: .name(name))]
        default: []
        }
    }

    func planned() throws(APIError) -> PlannedFault {
        let target = try checkedTarget()
        var fault: ProcessFault
        switch action {
        case "kill":
            fault = ProcessFault(action: .kill, target: target)
            fault.signal = try Self.integer("signal", signal, in: Int32(1)...64) ?? SIGKILL
        case "stop": fault = ProcessFault(action: .stop, target: target)
        default: throw Self.invalid("action", "\"\(action)\" is not kill or stop")
        }
        return PlannedFault(fault, injector: ProcessFaultInjector(), action: "process \(action)", summary: fault.summary)
    }
}

/// `POST /api/attack/stress`.
struct ChaosdStressCommand: ChaosdCommand {
    var action: String
    var load: ChaosdNumber?
    var workers: ChaosdNumber?
    var size: String?
    var options: [String]?
    var netns: String?
    var pid: ChaosdNumber?

    /// Where the workers go; valid once `planned()` succeeded.
    var target: StressFault.Target {
        switch try? Self.namespace(netns: netns, pid: pid) {
        case .named(let name)?: .networkNamespace(name)
        case .process(let pid)?: .process(pid)
        default: .host
        }
    }

    var targetDescription: String { target.description }

    var hostChecks: [ChaosdHost.Check] {
        var checks = Self.checks(of: (try? Self.namespace(netns: netns, pid: pid)) ?? .host)
        if action != "cpu", let size, let bytes = try? MemorySize(parsing: size), case .bytes(let count)? = bytes.amount {
            checks.append(.memory(field: "size", text: size, bytes: count))
        }
        return checks
    }

    func planned() throws(APIError) -> PlannedFault {
        _ = try Self.namespace(netns: netns, pid: pid)
        var fault: StressFault
        switch action {
        case "cpu":
            fault = StressFault(action: .cpu, target: target)
            fault.load = try Self.integer("load", load, in: 0...100) ?? 100
        case "mem", "memory":
            fault = StressFault(action: .memory, target: target)
            guard let size = try Self.parse("size", size, { try MemorySize(parsing: $0) }) else {
                throw Self.invalid("size", "required for mem (e.g. \"256MB\" or \"25%\")")
            }
            switch size.amount {
            case .bytes(let bytes)? where bytes > 0: fault.size = .bytes(bytes)
            case .percent(let percent)? where percent > 0: fault.size = .percent(Double(percent))
            case .bytes?, .percent?: throw Self.invalid("size", "\"\(size.text)\" must be above 0")
            case nil: throw Self.invalid("size", "\"\(size.text)\" is not a size")
            }
        default:
            throw Self.invalid("action", "\"\(action)\" is not cpu or mem")
        }
        fault.workers = try Self.integer("workers", workers, in: 1...8192) ?? 1
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
    var payloadProcessNum: ChaosdNumber?
    var fillByFallocate: Bool?

    enum CodingKeys: String, CodingKey {
        case action, size, path, percent
        case payloadProcessNum = "payload-process-num", fillByFallocate = "fill-by-fallocate"
    }

    var directory: String { (path?.isEmpty == false ? path : nil) ?? "/tmp" }
    var targetDescription: String { directory }
    var hostChecks: [ChaosdHost.Check] { [.directory(field: "path", path: directory)] }

    func planned() throws(APIError) -> PlannedFault {
        if let problem = HostNames.problem(withPath: directory) { throw Self.invalid("path", problem) }
        var fault: DiskFault
        switch action {
        case "fill":
            fault = DiskFault(action: .fill, directory: directory)
            fault.size = try Self.parse("size", size) { try ChaosdSize(parsing: $0).bytes }
            fault.percent = try Self.parse("percent", percent) { try Percentage(parsing: $0).value }
            fault.fillByFallocate = fillByFallocate ?? true
            guard fault.size != nil || fault.percent != nil else { throw Self.invalid("size", "size or percent is required for fill") }
            guard fault.size == nil || fault.percent == nil else { throw Self.invalid("percent", "give size or percent, not both") }
            if fault.size == 0 { throw Self.invalid("size", "\"\(size ?? "")\" must be above 0") }
            if fault.percent == 0 { throw Self.invalid("percent", "\"\(percent ?? "")\" must be above 0") }
        case "write-payload", "read-payload":
            fault = DiskFault(action: .payload, directory: directory)
            fault.mode = action == "read-payload" ? .read : .write
            guard let bytes = try Self.parse("size", size, { try ChaosdSize(parsing: $0).bytes }) else {
                throw Self.invalid("size", "required for \(action)")
            }
            guard bytes > 0 else { throw Self.invalid("size", "\"\(size ?? "")\" must be above 0") }
            if percent?.isEmpty == false { throw Self.invalid("percent", "\(action) takes a size, not a percent") }
            fault.size = bytes
            fault.processes = try Self.integer("payload-process-num", payloadProcessNum, in: 1...255) ?? 1
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

    /// Decodes a body as `type`; every problem is a 400 naming its field,
    /// and only a body that is not JSON at all says so.
    static func decode(_ type: any ChaosdCommand.Type, from data: Data, kind: String) throws(APIError) -> any ChaosdCommand {
        func invalid(_ path: [any CodingKey], _ message: String) -> APIError {
            let field = path.map(\.stringValue).joined(separator: ".")
            guard !field.isEmpty else {
                return APIError(.badRequest, "ValidationError", "the body is not a chaosd \(kind) command: \(message)")
            }
            return APIError(.badRequest, "ValidationError", "\(field): \(message)", errors: [.init(path: field, message: message)])
        }
        do {
            return try JSONDecoder().decode(type, from: data)
        } catch let DecodingError.keyNotFound(key, context) {
            throw invalid(context.codingPath + [key], "required field is missing")
        } catch let DecodingError.valueNotFound(_, context) {
            throw invalid(context.codingPath, "must not be null")
        } catch let DecodingError.typeMismatch(_, context) {
            throw invalid(context.codingPath, context.codingPath.isEmpty ? "it is not a JSON object" : context.debugDescription)
        } catch let DecodingError.dataCorrupted(context) where !context.codingPath.isEmpty {
            throw invalid(context.codingPath, context.debugDescription)
        } catch {
            throw APIError(.badRequest, "ValidationError", "the body is not valid JSON")
        }
    }
}
