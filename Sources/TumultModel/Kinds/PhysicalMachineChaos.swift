import Foundation

/// PhysicalMachineChaos: one chaosd attack (network, stress, disk, process,
/// JVM, clock, Redis, Kafka, file, ...) run on physical machines, chosen by
/// `selector` (PhysicalMachine objects) or by chaosd `address`.
///
/// The attack's parameters sit in a sub-object named after the action, with
/// chaosd's kebab-case keys: `action: network-delay` reads `network-delay:`.
/// Each action is listed once, as a case of `Action`: its raw value is also
/// its sub-object's key, and `Action.settingsType` names the type that reads,
/// checks and writes that sub-object. Decoding, encoding, validation and
/// equality all go through those two, so adding an action touches nothing else.
public struct PhysicalMachineChaosSpec: ChaosSpec {
    public static let kind = ChaosKind.physicalMachineChaos

    public enum Action: String, ChaosEnum {
        case stressCPU = "stress-cpu"
        case stressMem = "stress-mem"
        case diskReadPayload = "disk-read-payload"
        case diskWritePayload = "disk-write-payload"
        case diskFill = "disk-fill"
        case networkCorrupt = "network-corrupt"
        case networkDuplicate = "network-duplicate"
        case networkLoss = "network-loss"
        case networkDelay = "network-delay"
        case networkPartition = "network-partition"
        case networkDNS = "network-dns"
        case networkBandwidth = "network-bandwidth"
        case networkFlood = "network-flood"
        case networkDown = "network-down"
        case process
        case jvmException = "jvm-exception"
        case jvmGC = "jvm-gc"
        case jvmLatency = "jvm-latency"
        case jvmReturn = "jvm-return"
        case jvmStress = "jvm-stress"
        case jvmRuleData = "jvm-rule-data"
        case jvmMySQL = "jvm-mysql"
        case clock
        case redisExpiration = "redis-expiration"
        case redisPenetration = "redis-penetration"
        case redisCacheLimit = "redis-cacheLimit"
        case redisRestart = "redis-restart"
        case redisStop = "redis-stop"
        case kafkaFill = "kafka-fill"
        case kafkaFlood = "kafka-flood"
        case kafkaIO = "kafka-io"
        case fileCreate = "file-create"
        case fileModify = "file-modify"
        case fileDelete = "file-delete"
        case fileRename = "file-rename"
        case fileAppend = "file-append"
        case fileReplace = "file-replace"
        case vm
        case userDefined = "user_defined"

        /// The type of the action's sub-object (the one under `rawValue`).
        /// The only place an action is paired with its parameters; being a
        /// switch, the compiler refuses a new action without its type.
        public var settingsType: any PhysicalMachineActionSettings.Type {
            switch self {
            case .stressCPU: StressCPU.self
            case .stressMem: StressMemory.self
            case .diskReadPayload, .diskWritePayload: DiskPayload.self
            case .diskFill: DiskFill.self
            case .networkCorrupt, .networkDuplicate, .networkLoss: NetworkPacketFault.self
            case .networkDelay: NetworkDelay.self
            case .networkPartition: NetworkPartition.self
            case .networkDNS: NetworkDNS.self
            case .networkBandwidth: NetworkBandwidth.self
            case .networkFlood: NetworkFlood.self
            case .networkDown: NetworkDown.self
            case .process: ProcessSignal.self
            case .jvmException: JVMException.self
            case .jvmGC: JVMGC.self
            case .jvmLatency: JVMLatency.self
            case .jvmReturn: JVMReturn.self
            case .jvmStress: JVMStress.self
            case .jvmRuleData: JVMRuleData.self
            case .jvmMySQL: JVMMySQL.self
            case .clock: Clock.self
            case .redisExpiration: RedisExpiration.self
            case .redisPenetration: RedisPenetration.self
            case .redisCacheLimit: RedisCacheLimit.self
            case .redisRestart, .redisStop: RedisSentinel.self
            case .kafkaFill: KafkaFill.self
            case .kafkaFlood: KafkaFlood.self
            case .kafkaIO: KafkaIO.self
            case .fileCreate, .fileDelete: FileOrDirectory.self
            case .fileModify: FileModify.self
            case .fileRename: FileRename.self
            case .fileAppend: FileAppend.self
            case .fileReplace: FileReplace.self
            case .vm: VM.self
            case .userDefined: UserDefined.self
            }
        }
    }

    public var action: Action
    public var mode: SelectorMode
    public var value: String?
    /// The PhysicalMachine objects to act on. Exactly one of `selector` and
    /// `address` is given.
    public var selector: PhysicalMachineSelectorSpec?
    /// chaosd server URLs (deprecated in favour of `selector`).
    public var address: [String]?
    public var duration: GoDuration?
    public var remoteCluster: String?
    /// The experiment's id on the chaosd side; Chaos Mesh fills in a UUID.
    public var uid: String?
    /// Every sub-object the document holds: the action's parameters, and any
    /// written beside them (other actions', the HTTP attacks'), which are
    /// read, type-checked and written back like Chaos Mesh does, never run.
    public var subObjects: SubObjects

    /// The fields besides the sub-objects, which `SubObjects` reads and writes.
    enum CodingKeys: String, CodingKey {
        case action, mode, value, selector, address, duration, remoteCluster, uid
    }

    public init(action: Action, mode: SelectorMode = .all, value: String? = nil,
                selector: PhysicalMachineSelectorSpec? = nil, address: [String]? = nil,
                settings: (any PhysicalMachineActionSettings)? = nil) {
        self.action = action
        self.mode = mode
        self.value = value
        self.selector = selector
        self.address = address
        self.subObjects = SubObjects()
        self.settings = settings
    }

    /// The action's parameters: the sub-object under `action`'s key; nil
    /// when the document has none. A new value must be of `action.settingsType`.
    public var settings: (any PhysicalMachineActionSettings)? {
        get { subObjects[action.rawValue] }
        set {
            precondition(newValue.map { ObjectIdentifier(type(of: $0)) == ObjectIdentifier(action.settingsType) } ?? true,
                         "\(action.rawValue) takes \(action.settingsType) parameters")
            subObjects[action.rawValue] = newValue
        }
    }

    // Decoded and written field by field as the synthesized code would (the
    // same order, so the same diagnostics), then the sub-objects from the
    // same object.
    public init(from decoder: Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        action = try container.decode(Action.self, forKey: .action)
        mode = try container.decode(SelectorMode.self, forKey: .mode)
        value = try container.decodeIfPresent(String.self, forKey: .value)
        selector = try container.decodeIfPresent(PhysicalMachineSelectorSpec.self, forKey: .selector)
        address = try container.decodeIfPresent([String].self, forKey: .address)
        duration = try container.decodeIfPresent(GoDuration.self, forKey: .duration)
        remoteCluster = try container.decodeIfPresent(String.self, forKey: .remoteCluster)
        uid = try container.decodeIfPresent(String.self, forKey: .uid)
        subObjects = try SubObjects(from: decoder)
    }

    public func encode(to encoder: Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(action, forKey: .action)
        try container.encode(mode, forKey: .mode)
        try container.encodeIfPresent(value, forKey: .value)
        try container.encodeIfPresent(selector, forKey: .selector)
        try container.encodeIfPresent(address, forKey: .address)
        try container.encodeIfPresent(duration, forKey: .duration)
        try container.encodeIfPresent(remoteCluster, forKey: .remoteCluster)
        try container.encodeIfPresent(uid, forKey: .uid)
        try subObjects.encode(into: encoder)
    }

    /// Chaos Mesh's defaulting: `http://` before bare addresses. Chaos Mesh
    /// also draws a random `uid`; Tumult does not, so that `convert` prints
    /// the same output every time (attacks get their ids when they run).
    public mutating func applyDefaults() {
        if let address {
            self.address = address.map { $0.hasPrefix("http") ? $0 : "http://\($0)" }
        }
    }

    public func validate(at path: FieldPath, into diagnostics: inout Diagnostics) {
        validateDuration(duration, at: path.child("duration"), into: &diagnostics)
        if case .failure(let problem) = Selection.parse(mode: mode, value: value),
           !diagnostics.hasError(touching: path.child("mode")) {
            diagnostics.report(path.child("value"), problem.message)
        }

        // Targets: PhysicalMachine objects by selector, or chaosd addresses.
        selector?.validate(at: path.child("selector"), into: &diagnostics)
        let addresses = address ?? []
        let selectorEmpty = selector?.isEmpty ?? true
        if !diagnostics.hasError(touching: path.child("selector")) && !diagnostics.hasError(touching: path.child("address")) {
            if addresses.isEmpty && selectorEmpty {
                diagnostics.error(path.child("address"),
                                  "one of selector or address is required: the physical machines to act on")
            } else if !addresses.isEmpty && !selectorEmpty {
                diagnostics.error(path.child("address"),
                                  "only one of selector and address may be given (address is deprecated; prefer selector)")
            }
        }
        for (position, entry) in addresses.enumerated() {
            if let problem = PhysicalMachineSpec.addressProblem(entry) {
                diagnostics.report(path.child("address").index(position), problem)
            }
        }

        // CRD bounds hold whatever the action.
        for (key, settings) in subObjects.ordered {
            settings.validateBounds(at: path.child(key), into: &diagnostics)
        }

        // The action's own sub-object, with what chaosd needs to run it.
        let field = path.child(action.rawValue)
        if diagnostics.hasError(touching: path.child("action")) {
            return
        } else if let settings {
            settings.validate(at: field, action: action, into: &diagnostics)
        } else {
            diagnostics.report(field, "required when action is \(action.rawValue) (the attack's parameters)")
        }
    }
}

extension PhysicalMachineChaosSpec {
    /// The sub-objects of one spec by key, each decoded with its key's type
    /// and kept in `types` order. Compared and hashed by value, which lets
    /// the spec's Equatable and Hashable be synthesized over existentials.
    public struct SubObjects: Sendable, Hashable {
        /// The sub-objects present, in `types` order.
        public private(set) var ordered: [(key: String, settings: any PhysicalMachineActionSettings)] = []

        public init() {}

        /// Every key a sub-object may have, with the type that reads it, in
        /// the order of Chaos Mesh's `ExpInfo` (the order they are read,
        /// reported and written in): each action's, and the HTTP attacks',
        /// which the schema has but no action runs, after kafka-io.
        static let types: [(key: String, type: any PhysicalMachineActionSettings.Type)] =
            Action.allCases.flatMap { action in
                [(action.rawValue, action.settingsType)] + (action == .kafkaIO ? httpTypes : [])
            }

        static let httpTypes: [(key: String, type: any PhysicalMachineActionSettings.Type)] = [
            ("http-abort", HTTPAbort.self), ("http-config", HTTPConfig.self),
            ("http-delay", HTTPDelay.self), ("http-request", HTTPRequest.self),
        ]

        /// The sub-object under `key` (an action's raw value, or `http-abort` ...).
        public internal(set) subscript(key: String) -> (any PhysicalMachineActionSettings)? {
            get { ordered.first { $0.key == key }?.settings }
            set {
                precondition(Self.types.contains { $0.key == key }, "\(key) is not a PhysicalMachineChaos sub-object")
                let others = ordered.filter { $0.key != key }
                ordered = Self.types.compactMap { entry in
                    entry.key == key ? newValue.map { (key, $0) } : others.first { $0.key == entry.key }
                }
            }
        }

        /// Reads each known key of the spec's object as an optional field
        /// of its type, as a stored optional property would be read.
        init(from decoder: Decoder) throws {
            let container = try decoder.container(keyedBy: PathKey.self)
            for (key, type) in Self.types {
                if let settings = try type.decodeIfPresent(from: container, forKey: PathKey(stringValue: key)) {
                    ordered.append((key, settings))
                }
            }
        }

        /// Writes the sub-objects into the spec's object, after its other fields.
        func encode(into encoder: Encoder) throws {
            var container = encoder.container(keyedBy: PathKey.self)
            for (key, settings) in ordered {
                try container.encode(settings, forKey: PathKey(stringValue: key))
            }
        }

        public static func == (lhs: SubObjects, rhs: SubObjects) -> Bool {
            lhs.ordered.count == rhs.ordered.count
                && zip(lhs.ordered, rhs.ordered).allSatisfy { $0.key == $1.key && $0.settings.isEqual(to: $1.settings) }
        }

        public func hash(into hasher: inout Hasher) {
            for (key, settings) in ordered {
                hasher.combine(key)
                hasher.combine(settings)
            }
        }
    }
}

/// Which PhysicalMachine objects a PhysicalMachineChaos acts on. All fields
/// are ANDed; empty means none given.
public struct PhysicalMachineSelectorSpec: Codable, Sendable, Hashable {
    public var namespaces: [String]?
    public var labelSelectors: [String: String]?
    public var expressionSelectors: [LabelSelectorRequirement]?
    public var annotationSelectors: [String: String]?
    public var fieldSelectors: [String: String]?
    /// Namespace to PhysicalMachine names.
    public var physicalMachines: [String: [String]]?

    public init(namespaces: [String]? = nil, labelSelectors: [String: String]? = nil,
                expressionSelectors: [LabelSelectorRequirement]? = nil,
                annotationSelectors: [String: String]? = nil, fieldSelectors: [String: String]? = nil,
                physicalMachines: [String: [String]]? = nil) {
        self.namespaces = namespaces
        self.labelSelectors = labelSelectors
        self.expressionSelectors = expressionSelectors
        self.annotationSelectors = annotationSelectors
        self.fieldSelectors = fieldSelectors
        self.physicalMachines = physicalMachines
    }

    /// Chaos Mesh's `Empty()`: no field holds anything.
    public var isEmpty: Bool {
        (namespaces ?? []).isEmpty && (labelSelectors ?? [:]).isEmpty && (expressionSelectors ?? []).isEmpty
            && (annotationSelectors ?? [:]).isEmpty && (fieldSelectors ?? [:]).isEmpty
            && (physicalMachines ?? [:]).isEmpty
    }

    public func validate(at path: FieldPath, into diagnostics: inout Diagnostics) {
        for (position, requirement) in (expressionSelectors ?? []).enumerated() {
            requirement.validate(at: path.child("expressionSelectors").index(position), into: &diagnostics)
        }
        for (key, _) in labelSelectors ?? [:] {
            if let problem = LabelSelectorRequirement.labelKeyProblem(key) {
                diagnostics.error(path.child("labelSelectors").child(key), problem)
            }
        }
    }
}

/// The parameters in one PhysicalMachineChaos sub-object, checked with the
/// rules Chaos Mesh's webhook and chaosd apply to that attack. The spec
/// reads, writes, compares and checks its sub-objects only through this.
public protocol PhysicalMachineActionSettings: Codable, Sendable, Hashable {
    /// What chaosd needs to run `action` with these parameters; called for
    /// the action's own sub-object only.
    func validate(at path: FieldPath, action: PhysicalMachineChaosSpec.Action, into diagnostics: inout Diagnostics)

    /// Bounds the CRD schema sets, which hold whatever the action (a
    /// sub-object beside the action's is checked against them too).
    func validateBounds(at path: FieldPath, into diagnostics: inout Diagnostics)
}

extension PhysicalMachineActionSettings {
    public func validateBounds(at path: FieldPath, into diagnostics: inout Diagnostics) {}

    static func decodeIfPresent<Key: CodingKey>(from container: KeyedDecodingContainer<Key>, forKey key: Key) throws -> Self? {
        try container.decodeIfPresent(Self.self, forKey: key)
    }

    func isEqual(to other: any PhysicalMachineActionSettings) -> Bool {
        (other as? Self) == self
    }
}

extension PhysicalMachineChaosSpec {
    // MARK: Stress and disk

    /// `stress-ng --cpu workers --cpu-load load`.
    public struct StressCPU: Codable, Sendable, Hashable, PhysicalMachineActionSettings {
        /// Percent load per worker, 1-100.
        public var load: Int?
        public var workers: Int?
        /// Extra stress-ng options.
        public var options: [String]?

        public init(load: Int? = nil, workers: Int? = nil, options: [String]? = nil) {
            self.load = load
            self.workers = workers
            self.options = options
        }

        public func validate(at path: FieldPath, action: Action, into diagnostics: inout Diagnostics) {
            switch load {
            case nil, 0?:
                diagnostics.report(path.child("load"), "required and not 0 for \(action.rawValue): the percent load per worker, 1 to 100")
            case let load? where !(1...100).contains(load):
                diagnostics.report(path.child("load"), "\(load) is out of range: load is a percentage from 1 to 100")
            default: break
            }
            diagnostics.requirePositive(workers, at: path.child("workers"), for: action, "the number of workers")
        }
    }

    /// Memory held by chaosd's memory stressor.
    public struct StressMemory: Codable, Sendable, Hashable, PhysicalMachineActionSettings {
        /// Bytes to consume, e.g. `256MB`, `1GiB`.
        public var size: ChaosdSize?
        public var options: [String]?

        public init(size: ChaosdSize? = nil, options: [String]? = nil) {
            self.size = size
            self.options = options
        }

        public func validate(at path: FieldPath, action: Action, into diagnostics: inout Diagnostics) {
            if size == nil {
                diagnostics.report(path.child("size"), "required for \(action.rawValue): the memory to consume, e.g. \"256MB\"")
            }
        }
    }

    /// `dd` reading or writing `size` bytes at `path` with several processes.
    public struct DiskPayload: Codable, Sendable, Hashable, PhysicalMachineActionSettings {
        public var size: ChaosdSize?
        /// A file or directory; default: a temporary file (write) or the root device (read).
        public var path: String?
        /// 1-255 processes.
        public var payloadProcessNum: Int?

        enum CodingKeys: String, CodingKey {
            case size, path
            case payloadProcessNum = "payload-process-num"
        }

        public init(size: ChaosdSize? = nil, path: String? = nil, payloadProcessNum: Int? = nil) {
            self.size = size
            self.path = path
            self.payloadProcessNum = payloadProcessNum
        }

        public func validate(at path: FieldPath, action: Action, into diagnostics: inout Diagnostics) {
            switch payloadProcessNum {
            case nil, 0?:
                diagnostics.report(path.child("payload-process-num"),
                                   "required and not 0 for \(action.rawValue): the number of processes, 1 to 255")
            case let number? where !(1...255).contains(number):
                diagnostics.report(path.child("payload-process-num"), "\(number) is out of range: from 1 to 255")
            default: break
            }
            if size == nil {
                diagnostics.report(path.child("size"), "required for \(action.rawValue): the amount of data, e.g. \"1G\"")
            }
        }
    }

    /// Fills a disk by writing `size` bytes into `path`.
    public struct DiskFill: Codable, Sendable, Hashable, PhysicalMachineActionSettings {
        public var size: ChaosdSize?
        public var path: String?
        /// Allocate with fallocate instead of writing with dd.
        public var fillByFallocate: Bool?

        enum CodingKeys: String, CodingKey {
            case size, path
            case fillByFallocate = "fill-by-fallocate"
        }

        public init(size: ChaosdSize? = nil, path: String? = nil, fillByFallocate: Bool? = nil) {
            self.size = size
            self.path = path
            self.fillByFallocate = fillByFallocate
        }

        public func validate(at path: FieldPath, action: Action, into diagnostics: inout Diagnostics) {
            if size == nil {
                diagnostics.report(path.child("size"), "required for disk-fill: the amount of data to write, e.g. \"10G\"")
            }
        }
    }

    // MARK: Network

    /// `network-loss`, `network-duplicate` and `network-corrupt`: `percent`%
    /// of the device's egress packets, optionally filtered.
    public struct NetworkPacketFault: Codable, Sendable, Hashable, PhysicalMachineActionSettings {
        public var percent: Percentage?
        public var correlation: Percentage?
        public var device: String?
        /// Comma-separated ports or `low:high` ranges; needs ip-protocol tcp or udp.
        public var sourcePort: String?
        public var egressPort: String?
        /// Comma-separated IPs or CIDRs.
        public var ipAddress: String?
        /// `tcp`, `udp`, `icmp` or `all`.
        public var ipProtocol: String?
        public var hostname: String?

        enum CodingKeys: String, CodingKey {
            case percent, correlation, device, hostname
            case sourcePort = "source-port"
            case egressPort = "egress-port"
            case ipAddress = "ip-address"
            case ipProtocol = "ip-protocol"
        }

        public init(percent: Percentage? = nil, device: String? = nil) {
            self.percent = percent
            self.device = device
        }

        public func validate(at path: FieldPath, action: Action, into diagnostics: inout Diagnostics) {
            if let percent {
                if percent.value == 0 {
                    diagnostics.report(path.child("percent"), "\"\(percent.text)\" is out of range: percent must be greater than 0 and at most 100")
                }
            } else {
                diagnostics.report(path.child("percent"), "required for \(action.rawValue): the percentage of packets, e.g. \"10\"")
            }
            diagnostics.checkDevice(device, at: path.child("device"), for: action)
            diagnostics.checkIPs(ipAddress, at: path.child("ip-address"))
            diagnostics.checkProtocolAndPorts(ipProtocol, source: sourcePort, egress: egressPort, at: path)
        }
    }

    /// `tc netem delay` on the device's egress traffic, optionally filtered.
    public struct NetworkDelay: Codable, Sendable, Hashable, PhysicalMachineActionSettings {
        public var latency: GoDuration?
        public var jitter: GoDuration?
        public var correlation: Percentage?
        public var device: String?
        public var sourcePort: String?
        public var egressPort: String?
        public var ipAddress: String?
        public var ipProtocol: String?
        public var hostname: String?
        /// TCP flags of packets let through; needs ip-protocol tcp.
        public var acceptTCPFlags: String?

        enum CodingKeys: String, CodingKey {
            case latency, jitter, correlation, device, hostname
            case sourcePort = "source-port"
            case egressPort = "egress-port"
            case ipAddress = "ip-address"
            case ipProtocol = "ip-protocol"
            case acceptTCPFlags = "accept-tcp-flags"
        }

        public init(latency: GoDuration? = nil, device: String? = nil) {
            self.latency = latency
            self.device = device
        }

        public func validate(at path: FieldPath, action: Action, into diagnostics: inout Diagnostics) {
            if let latency {
                if latency.isNegative {
                    diagnostics.report(path.child("latency"), "\"\(latency.text)\" must not be negative")
                }
            } else {
                diagnostics.report(path.child("latency"), "required for network-delay: the delay to add, e.g. \"100ms\"")
            }
            if let jitter, jitter.isNegative {
                diagnostics.report(path.child("jitter"), "\"\(jitter.text)\" must not be negative")
            }
            diagnostics.checkDevice(device, at: path.child("device"), for: action)
            diagnostics.checkIPs(ipAddress, at: path.child("ip-address"))
            diagnostics.checkTCPFlags(acceptTCPFlags, protocol: ipProtocol, at: path)
            diagnostics.checkProtocolAndPorts(ipProtocol, source: sourcePort, egress: egressPort, at: path)
        }
    }

    /// Drops traffic to (`to`) or from (`from`) the given hosts.
    public struct NetworkPartition: Codable, Sendable, Hashable, PhysicalMachineActionSettings {
        public var device: String?
        public var hostname: String?
        public var ipAddress: String?
        /// `to` or `from`.
        public var direction: String?
        public var ipProtocol: String?
        public var acceptTCPFlags: String?

        enum CodingKeys: String, CodingKey {
            case device, hostname, direction
            case ipAddress = "ip-address"
            case ipProtocol = "ip-protocol"
            case acceptTCPFlags = "accept-tcp-flags"
        }

        public init(device: String? = nil, ipAddress: String? = nil, direction: String? = nil) {
            self.device = device
            self.ipAddress = ipAddress
            self.direction = direction
        }

        public func validate(at path: FieldPath, action: Action, into diagnostics: inout Diagnostics) {
            diagnostics.checkDevice(device, at: path.child("device"), for: action)
            if (ipAddress ?? "").isEmpty && (hostname ?? "").isEmpty {
                diagnostics.report(path.child("ip-address"),
                                   "one of ip-address and hostname is required for network-partition: the other end")
            }
            diagnostics.checkIPs(ipAddress, at: path.child("ip-address"))
            switch direction ?? "" {
            case "to", "from": break
            case "":
                diagnostics.report(path.child("direction"), "required for network-partition: \"to\" or \"from\"")
            case let other:
                diagnostics.report(path.child("direction"), "\"\(other)\" is not a direction: expected \"to\" or \"from\"")
            }
            diagnostics.checkTCPFlags(acceptTCPFlags, protocol: ipProtocol, at: path)
            diagnostics.checkProtocol(ipProtocol, at: path.child("ip-protocol"))
        }
    }

    /// Rewrites name resolution: a DNS server, or one host name mapped to an IP.
    public struct NetworkDNS: Codable, Sendable, Hashable, PhysicalMachineActionSettings {
        public var dnsServer: String?
        public var dnsIP: String?
        public var dnsDomainName: String?

        enum CodingKeys: String, CodingKey {
            case dnsServer = "dns-server"
            case dnsIP = "dns-ip"
            case dnsDomainName = "dns-domain-name"
        }

        public init(dnsServer: String? = nil, dnsIP: String? = nil, dnsDomainName: String? = nil) {
            self.dnsServer = dnsServer
            self.dnsIP = dnsIP
            self.dnsDomainName = dnsDomainName
        }

        public func validate(at path: FieldPath, action: Action, into diagnostics: inout Diagnostics) {
            diagnostics.checkIPs(dnsServer, at: path.child("dns-server"))
            diagnostics.checkIPs(dnsIP, at: path.child("dns-ip"))
            let hasName = !(dnsDomainName ?? "").isEmpty
            let hasIP = !(dnsIP ?? "").isEmpty
            if hasName && !hasIP {
                diagnostics.report(path.child("dns-ip"), "required when dns-domain-name is set: the IP the name resolves to")
            } else if hasIP && !hasName {
                diagnostics.report(path.child("dns-domain-name"), "required when dns-ip is set: the host name to map")
            }
        }
    }

    /// A `tc tbf` token bucket on the device.
    public struct NetworkBandwidth: Codable, Sendable, Hashable, PhysicalMachineActionSettings {
        public var rate: DataRate
        /// Bytes that may wait in the queue; at least 1.
        public var limit: UInt32
        /// The bucket size in bytes; at least 1.
        public var buffer: UInt32
        public var peakrate: UInt64?
        public var minburst: UInt32?
        public var device: String?
        public var ipAddress: String?
        public var hostname: String?

        enum CodingKeys: String, CodingKey {
            case rate, limit, buffer, peakrate, minburst, device, hostname
            case ipAddress = "ip-address"
        }

        public init(rate: DataRate, limit: UInt32, buffer: UInt32, device: String? = nil) {
            self.rate = rate
            self.limit = limit
            self.buffer = buffer
            self.device = device
        }

        /// The CRD's `minimum: 1` on limit and buffer.
        public func validateBounds(at path: FieldPath, into diagnostics: inout Diagnostics) {
            for (field, number) in [("limit", limit), ("buffer", buffer)] where number < 1 {
                diagnostics.report(path.child(field), "\(number) is out of range: must be at least 1")
            }
        }

        public func validate(at path: FieldPath, action: Action, into diagnostics: inout Diagnostics) {
            diagnostics.checkDevice(device, at: path.child("device"), for: action)
            if rate.bitsPerSecond == 0 {
                diagnostics.report(path.child("rate"), "\"\(rate.text)\" must be greater than 0")
            }
            diagnostics.checkIPs(ipAddress, at: path.child("ip-address"))
        }
    }

    /// UDP traffic sent with iperf to `ip-address`:`port`.
    public struct NetworkFlood: Codable, Sendable, Hashable, PhysicalMachineActionSettings {
        /// iperf's `-b` bandwidth, e.g. `10mbps` (bps means bytes per second).
        public var rate: String
        public var ipAddress: String?
        public var port: String?
        /// iperf client threads.
        public var parallel: Int32?
        /// iperf's `-t`: how many seconds to send for.
        public var duration: String

        enum CodingKeys: String, CodingKey {
            case rate, port, parallel, duration
            case ipAddress = "ip-address"
        }

        public init(rate: String, duration: String, ipAddress: String? = nil, port: String? = nil) {
            self.rate = rate
            self.duration = duration
            self.ipAddress = ipAddress
            self.port = port
        }

        public func validate(at path: FieldPath, action: Action, into diagnostics: inout Diagnostics) {
            if (ipAddress ?? "").isEmpty {
                diagnostics.report(path.child("ip-address"), "required for network-flood: the IP address to send traffic to")
            } else {
                diagnostics.checkIPs(ipAddress, at: path.child("ip-address"))
            }
            if let port, !port.isEmpty {
                if !(UInt16(port).map { $0 > 0 } ?? false) {
                    diagnostics.report(path.child("port"), "\"\(port)\" is not a port: expected a number from 1 to 65535")
                }
            } else {
                diagnostics.report(path.child("port"), "required for network-flood: the port to send traffic to")
            }
            if rate.isEmpty {
                diagnostics.report(path.child("rate"), "required for network-flood: the traffic rate, e.g. \"10mbps\"")
            }
            if duration.isEmpty {
                diagnostics.report(path.child("duration"), "required for network-flood: how many seconds to send for")
            }
            if let parallel, parallel < 0 {
                diagnostics.report(path.child("parallel"), "\(parallel) must not be negative")
            }
        }
    }

    /// Takes the device down for `duration`.
    public struct NetworkDown: Codable, Sendable, Hashable, PhysicalMachineActionSettings {
        public var device: String?
        public var duration: GoDuration?

        public init(device: String? = nil, duration: GoDuration? = nil) {
            self.device = device
            self.duration = duration
        }

        public func validate(at path: FieldPath, action: Action, into diagnostics: inout Diagnostics) {
            diagnostics.checkDevice(device, at: path.child("device"), for: action)
            if let duration {
                if duration.nanoseconds <= 0 {
                    diagnostics.report(path.child("duration"), "\"\(duration.text)\" must be greater than 0")
                }
            } else {
                diagnostics.report(path.child("duration"), "required for network-down: how long the device stays down, e.g. \"30s\"")
            }
        }
    }

    // MARK: Process and clock

    /// Sends `signal` to the processes named or numbered `process`.
    public struct ProcessSignal: Codable, Sendable, Hashable, PhysicalMachineActionSettings {
        /// A process name or PID.
        public var process: String?
        public var signal: Int?
        /// A command run on recovery, e.g. to restart the process.
        public var recoverCmd: String?

        public init(process: String? = nil, signal: Int? = nil, recoverCmd: String? = nil) {
            self.process = process
            self.signal = signal
            self.recoverCmd = recoverCmd
        }

        public func validate(at path: FieldPath, action: Action, into diagnostics: inout Diagnostics) {
            diagnostics.requireText(process, at: path.child("process"), for: action, "the process name or PID")
            switch signal {
            case nil, 0?:
                diagnostics.report(path.child("signal"), "required and not 0 for process: the signal number, e.g. 9")
            case let signal? where !(1...64).contains(signal):
                diagnostics.report(path.child("signal"), "\(signal) is not a signal number: expected 1 to 64")
            default: break
            }
        }
    }

    /// Shifts the clock of one process by `time-offset`.
    public struct Clock: Codable, Sendable, Hashable, PhysicalMachineActionSettings {
        public var pid: Int?
        /// Signed, e.g. `-10m`.
        public var timeOffset: GoDuration?
        /// Comma-separated clock names; chaosd's default is `CLOCK_REALTIME`.
        public var clockIdsSlice: String?

        enum CodingKeys: String, CodingKey {
            case pid
            case timeOffset = "time-offset"
            case clockIdsSlice = "clock-ids-slice"
        }

        public init(pid: Int? = nil, timeOffset: GoDuration? = nil, clockIdsSlice: String? = nil) {
            self.pid = pid
            self.timeOffset = timeOffset
            self.clockIdsSlice = clockIdsSlice
        }

        /// The clocks chaosd can shift.
        public static let clockNames = [
            "CLOCK_REALTIME", "CLOCK_MONOTONIC", "CLOCK_PROCESS_CPUTIME_ID", "CLOCK_THREAD_CPUTIME_ID",
            "CLOCK_MONOTONIC_RAW", "CLOCK_REALTIME_COARSE", "CLOCK_MONOTONIC_COARSE", "CLOCK_BOOTTIME",
            "CLOCK_REALTIME_ALARM", "CLOCK_BOOTTIME_ALARM",
        ]

        public func validate(at path: FieldPath, action: Action, into diagnostics: inout Diagnostics) {
            diagnostics.checkPID(pid, at: path.child("pid"), for: action)
            if timeOffset == nil {
                diagnostics.report(path.child("time-offset"), "required for clock: the offset to add, e.g. \"-10m\"")
            }
            if let clockIdsSlice, !clockIdsSlice.isEmpty {
                for name in clockIdsSlice.split(separator: ",", omittingEmptySubsequences: false)
                where !Self.clockNames.contains(String(name)) {
                    diagnostics.report(path.child("clock-ids-slice"),
                                       "\"\(name)\" is not a clock: expected comma-separated names among \(Self.clockNames.joined(separator: ", "))")
                }
            }
        }
    }

    // MARK: JVM

    /// Throws `exception` from `class`.`method` in the Java process `pid`.
    public struct JVMException: Codable, Sendable, Hashable, PhysicalMachineActionSettings {
        public var pid: Int?
        /// The port of the Byteman agent; default 9277.
        public var port: Int32?
        public var `class`: String?
        public var method: String?
        public var exception: String?

        public init(pid: Int? = nil, class className: String? = nil, method: String? = nil, exception: String? = nil) {
            self.pid = pid
            self.class = className
            self.method = method
            self.exception = exception
        }

        public func validate(at path: FieldPath, action: Action, into diagnostics: inout Diagnostics) {
            diagnostics.checkJVMProcess(pid, port, at: path, for: action)
            diagnostics.checkClassMethod(`class`, method, at: path, for: action)
            diagnostics.requireText(exception, at: path.child("exception"), for: action, "the exception to throw")
        }
    }

    /// Triggers garbage collection in the Java process `pid`.
    public struct JVMGC: Codable, Sendable, Hashable, PhysicalMachineActionSettings {
        public var pid: Int?
        public var port: Int32?

        public init(pid: Int? = nil, port: Int32? = nil) {
            self.pid = pid
            self.port = port
        }

        public func validate(at path: FieldPath, action: Action, into diagnostics: inout Diagnostics) {
            diagnostics.checkJVMProcess(pid, port, at: path, for: action)
        }
    }

    /// Delays `class`.`method` by `latency` milliseconds.
    public struct JVMLatency: Codable, Sendable, Hashable, PhysicalMachineActionSettings {
        public var pid: Int?
        public var port: Int32?
        public var `class`: String?
        public var method: String?
        /// Milliseconds.
        public var latency: Int?

        public init(pid: Int? = nil, class className: String? = nil, method: String? = nil, latency: Int? = nil) {
            self.pid = pid
            self.class = className
            self.method = method
            self.latency = latency
        }

        public func validate(at path: FieldPath, action: Action, into diagnostics: inout Diagnostics) {
            diagnostics.checkJVMProcess(pid, port, at: path, for: action)
            diagnostics.checkClassMethod(`class`, method, at: path, for: action)
            diagnostics.requirePositive(latency, at: path.child("latency"), for: action, "the delay in milliseconds")
        }
    }

    /// Makes `class`.`method` return `value`.
    public struct JVMReturn: Codable, Sendable, Hashable, PhysicalMachineActionSettings {
        public var pid: Int?
        public var port: Int32?
        public var `class`: String?
        public var method: String?
        public var value: String?

        public init(pid: Int? = nil, class className: String? = nil, method: String? = nil, value: String? = nil) {
            self.pid = pid
            self.class = className
            self.method = method
            self.value = value
        }

        public func validate(at path: FieldPath, action: Action, into diagnostics: inout Diagnostics) {
            diagnostics.checkJVMProcess(pid, port, at: path, for: action)
            diagnostics.checkClassMethod(`class`, method, at: path, for: action)
            diagnostics.requireText(value, at: path.child("value"), for: action, "the value to return")
        }
    }

    /// CPU or memory stress inside the Java process: one of cpu-count and mem-type.
    public struct JVMStress: Codable, Sendable, Hashable, PhysicalMachineActionSettings {
        public var pid: Int?
        public var port: Int32?
        public var cpuCount: Int?
        /// `stack` or `heap`.
        public var memType: String?

        enum CodingKeys: String, CodingKey {
            case pid, port
            case cpuCount = "cpu-count"
            case memType = "mem-type"
        }

        public init(pid: Int? = nil, cpuCount: Int? = nil, memType: String? = nil) {
            self.pid = pid
            self.cpuCount = cpuCount
            self.memType = memType
        }

        public func validate(at path: FieldPath, action: Action, into diagnostics: inout Diagnostics) {
            diagnostics.checkJVMProcess(pid, port, at: path, for: action)
            let cpu = cpuCount ?? 0
            let memory = memType ?? ""
            if cpu == 0 && memory.isEmpty {
                diagnostics.report(path.child("cpu-count"), "one of cpu-count and mem-type is required for jvm-stress")
            } else if cpu != 0 && !memory.isEmpty {
                diagnostics.report(path.child("mem-type"), "only one of cpu-count and mem-type may be given: stress is on CPU or memory, not both")
            }
            if cpu < 0 {
                diagnostics.report(path.child("cpu-count"), "\(cpu) must be greater than 0")
            }
            if !memory.isEmpty && memory != "stack" && memory != "heap" {
                diagnostics.report(path.child("mem-type"), "\"\(memory)\" is not a memory type: expected \"stack\" or \"heap\"")
            }
        }
    }

    /// A raw Byteman rule injected into the Java process.
    public struct JVMRuleData: Codable, Sendable, Hashable, PhysicalMachineActionSettings {
        public var pid: Int?
        public var port: Int32?
        public var ruleData: String?

        enum CodingKeys: String, CodingKey {
            case pid, port
            case ruleData = "rule-data"
        }

        public init(pid: Int? = nil, ruleData: String? = nil) {
            self.pid = pid
            self.ruleData = ruleData
        }

        public func validate(at path: FieldPath, action: Action, into diagnostics: inout Diagnostics) {
            diagnostics.checkJVMProcess(pid, port, at: path, for: action)
            diagnostics.requireText(ruleData, at: path.child("rule-data"), for: action, "the Byteman rule")
        }
    }

    /// Latency or an exception on MySQL queries made through mysql-connector-java.
    public struct JVMMySQL: Codable, Sendable, Hashable, PhysicalMachineActionSettings {
        public var pid: Int?
        public var port: Int32?
        /// `5` or `8` (the mysql-connector-java major version).
        public var mysqlConnectorVersion: String?
        public var database: String?
        public var table: String?
        /// `select`, `insert`, `update`, `delete`, `replace`, or empty for all.
        public var sqlType: String?
        public var exception: String?
        /// Milliseconds.
        public var latency: Int?

        public init(pid: Int? = nil, mysqlConnectorVersion: String? = nil, exception: String? = nil, latency: Int? = nil) {
            self.pid = pid
            self.mysqlConnectorVersion = mysqlConnectorVersion
            self.exception = exception
            self.latency = latency
        }

        public func validate(at path: FieldPath, action: Action, into diagnostics: inout Diagnostics) {
            diagnostics.checkJVMProcess(pid, port, at: path, for: action)
            switch mysqlConnectorVersion ?? "" {
            case "5", "8": break
            case "":
                diagnostics.report(path.child("mysqlConnectorVersion"), "required for jvm-mysql: the mysql-connector-java major version, \"5\" or \"8\"")
            case let other:
                diagnostics.report(path.child("mysqlConnectorVersion"), "\"\(other)\" is not supported: expected \"5\" (5.x.x) or \"8\" (8.x.x)")
            }
            if (exception ?? "").isEmpty && (latency ?? 0) == 0 {
                diagnostics.report(path.child("exception"), "one of exception and latency is required for jvm-mysql")
            }
            if let latency, latency < 0 {
                diagnostics.report(path.child("latency"), "\(latency) must not be negative")
            }
        }
    }

    // MARK: Redis

    /// Sets an expiration on `key` (default: every key).
    public struct RedisExpiration: Codable, Sendable, Hashable, PhysicalMachineActionSettings {
        public var addr: String?
        public var password: String?
        public var expiration: GoDuration?
        public var key: String?
        /// `NX`, `XX`, `GT` or `LT`.
        public var option: String?

        public init(addr: String? = nil, expiration: GoDuration? = nil, key: String? = nil, option: String? = nil) {
            self.addr = addr
            self.expiration = expiration
            self.key = key
            self.option = option
        }

        static let options = ["NX", "XX", "GT", "LT"]

        public func validate(at path: FieldPath, action: Action, into diagnostics: inout Diagnostics) {
            diagnostics.requireText(addr, at: path.child("addr"), for: action, "the address of the Redis server")
            if expiration == nil {
                diagnostics.report(path.child("expiration"), "required for redis-expiration: the expiration to set, e.g. \"30s\"")
            } else if let expiration, expiration.isNegative {
                diagnostics.report(path.child("expiration"), "\"\(expiration.text)\" must not be negative")
            }
            if let option, !option.isEmpty, !Self.options.contains(option) {
                diagnostics.report(path.child("option"), "\"\(option)\" is not an expiration option: expected NX, XX, GT or LT")
            }
        }
    }

    /// Sends `requestNum` requests for keys that do not exist.
    public struct RedisPenetration: Codable, Sendable, Hashable, PhysicalMachineActionSettings {
        public var addr: String?
        public var password: String?
        public var requestNum: Int?

        public init(addr: String? = nil, requestNum: Int? = nil) {
            self.addr = addr
            self.requestNum = requestNum
        }

        public func validate(at path: FieldPath, action: Action, into diagnostics: inout Diagnostics) {
            diagnostics.requireText(addr, at: path.child("addr"), for: action, "the address of the Redis server")
            diagnostics.requirePositive(requestNum, at: path.child("requestNum"), for: action, "the number of requests")
        }
    }

    /// Lowers Redis `maxmemory` to `cacheSize`, or to `percent` of its value.
    public struct RedisCacheLimit: Codable, Sendable, Hashable, PhysicalMachineActionSettings {
        public var addr: String?
        public var password: String?
        /// A `maxmemory` value, e.g. `100mb`.
        public var cacheSize: String?
        /// A percentage of the current `maxmemory`, written with `%`, e.g. `50%`.
        public var percent: String?

        public init(addr: String? = nil, cacheSize: String? = nil, percent: String? = nil) {
            self.addr = addr
            self.cacheSize = cacheSize
            self.percent = percent
        }

        public func validate(at path: FieldPath, action: Action, into diagnostics: inout Diagnostics) {
            diagnostics.requireText(addr, at: path.child("addr"), for: action, "the address of the Redis server")
            let size = cacheSize ?? ""
            let hasSize = !size.isEmpty && size != "0"
            let hasPercent = !(percent ?? "").isEmpty
            if hasSize && hasPercent {
                diagnostics.report(path.child("percent"), "only one of cacheSize and percent may be given")
            } else if !hasSize && !hasPercent {
                diagnostics.report(path.child("cacheSize"), "one of cacheSize and percent is required for redis-cacheLimit")
            }
            if let percent, hasPercent {
                let number = percent.hasSuffix("%") ? Double(percent.dropLast()) : nil
                if !(number.map { $0 >= 0 && $0.isFinite } ?? false) {
                    diagnostics.report(path.child("percent"), "\"\(percent)\" is not a percentage: expected a number followed by %, e.g. \"50%\"")
                }
            }
        }
    }

    /// `redis-restart` and `redis-stop`: stops (and restarts) a Redis Sentinel.
    public struct RedisSentinel: Codable, Sendable, Hashable, PhysicalMachineActionSettings {
        public var addr: String?
        public var password: String?
        /// The Sentinel configuration file; needed to restart.
        public var conf: String?
        public var flushConfig: Bool?
        public var redisPath: Bool?

        public init(addr: String? = nil, conf: String? = nil) {
            self.addr = addr
            self.conf = conf
        }

        public func validate(at path: FieldPath, action: Action, into diagnostics: inout Diagnostics) {
            diagnostics.requireText(addr, at: path.child("addr"), for: action, "the address of the Redis server")
            if action == .redisRestart {
                diagnostics.requireText(conf, at: path.child("conf"), for: action, "the Sentinel configuration file")
            }
        }
    }

    // MARK: Kafka

    /// Fills a topic with messages until `maxBytes`, then reloads Kafka.
    public struct KafkaFill: Codable, Sendable, Hashable, PhysicalMachineActionSettings {
        public var topic: String?
        public var host: String?
        public var port: Int?
        public var username: String?
        public var password: String?
        public var messageSize: Int?
        public var maxBytes: Int64?
        public var reloadCommand: String?

        public init(topic: String? = nil, host: String? = nil, port: Int? = nil, messageSize: Int? = nil,
                    maxBytes: Int64? = nil, reloadCommand: String? = nil) {
            self.topic = topic
            self.host = host
            self.port = port
            self.messageSize = messageSize
            self.maxBytes = maxBytes
            self.reloadCommand = reloadCommand
        }

        public func validate(at path: FieldPath, action: Action, into diagnostics: inout Diagnostics) {
            diagnostics.checkKafkaServer(topic: topic, host: host, port: port, at: path, for: action)
            diagnostics.requirePositive(messageSize, at: path.child("messageSize"), for: action, "the size of each message")
            switch maxBytes {
            case nil, 0?:
                diagnostics.report(path.child("maxBytes"), "required and not 0 for kafka-fill: the number of bytes to fill")
            case let bytes? where bytes < 0:
                diagnostics.report(path.child("maxBytes"), "\(bytes) must be greater than 0")
            default: break
            }
            diagnostics.requireText(reloadCommand, at: path.child("reloadCommand"), for: action, "the command that reloads Kafka")
        }
    }

    /// Floods a topic with messages from `threads` producers.
    public struct KafkaFlood: Codable, Sendable, Hashable, PhysicalMachineActionSettings {
        public var topic: String?
        public var host: String?
        public var port: Int?
        public var username: String?
        public var password: String?
        public var messageSize: Int?
        public var threads: Int?

        public init(topic: String? = nil, host: String? = nil, port: Int? = nil, messageSize: Int? = nil,
                    threads: Int? = nil) {
            self.topic = topic
            self.host = host
            self.port = port
            self.messageSize = messageSize
            self.threads = threads
        }

        public func validate(at path: FieldPath, action: Action, into diagnostics: inout Diagnostics) {
            diagnostics.checkKafkaServer(topic: topic, host: host, port: port, at: path, for: action)
            diagnostics.requirePositive(messageSize, at: path.child("messageSize"), for: action, "the size of each message")
            diagnostics.requirePositive(threads, at: path.child("threads"), for: action, "the number of producer threads")
        }
    }

    /// Makes a topic's files unreadable and/or unwritable.
    public struct KafkaIO: Codable, Sendable, Hashable, PhysicalMachineActionSettings {
        public var topic: String?
        /// The Kafka server configuration file.
        public var configFile: String?
        public var nonReadable: Bool?
        public var nonWritable: Bool?

        public init(topic: String? = nil, configFile: String? = nil, nonReadable: Bool? = nil, nonWritable: Bool? = nil) {
            self.topic = topic
            self.configFile = configFile
            self.nonReadable = nonReadable
            self.nonWritable = nonWritable
        }

        public func validate(at path: FieldPath, action: Action, into diagnostics: inout Diagnostics) {
            diagnostics.requireText(topic, at: path.child("topic"), for: action, "the topic to attack")
            if !(nonReadable ?? false) && !(nonWritable ?? false) {
                diagnostics.report(path.child("nonReadable"), "one of nonReadable and nonWritable must be true for kafka-io")
            }
        }
    }

    // MARK: HTTP (schema only)
    //
    // The HTTP attacks are in the schema but in no action: they are read
    // and written back, never run, so nothing checks more than their types.

    /// Aborts HTTP connections on `proxy_ports` matching the rule.
    public struct HTTPAbort: Codable, Sendable, Hashable, PhysicalMachineActionSettings {
        /// Ports whose HTTP connections are proxied and attacked.
        public var proxyPorts: [Int]
        /// `Request` or `Response`.
        public var target: String
        public var port: Int32?
        public var path: String?
        public var method: String?
        public var code: String?

        enum CodingKeys: String, CodingKey {
            case target, port, path, method, code
            case proxyPorts = "proxy_ports"
        }

        public init(proxyPorts: [Int], target: String) {
            self.proxyPorts = proxyPorts
            self.target = target
        }

        public func validate(at path: FieldPath, action: Action, into diagnostics: inout Diagnostics) {}
    }

    /// Delays matching HTTP requests or responses on `proxy_ports` by `delay`.
    public struct HTTPDelay: Codable, Sendable, Hashable, PhysicalMachineActionSettings {
        public var proxyPorts: [Int]
        public var target: String
        public var delay: GoDuration
        public var port: Int32?
        public var path: String?
        public var method: String?
        public var code: String?

        enum CodingKeys: String, CodingKey {
            case target, delay, port, path, method, code
            case proxyPorts = "proxy_ports"
        }

        public init(proxyPorts: [Int], target: String, delay: GoDuration) {
            self.proxyPorts = proxyPorts
            self.target = target
            self.delay = delay
        }

        public func validate(at path: FieldPath, action: Action, into diagnostics: inout Diagnostics) {}
    }

    /// HTTP attack rules read from a JSON file on the machine.
    public struct HTTPConfig: Codable, Sendable, Hashable, PhysicalMachineActionSettings {
        public var filePath: String?

        enum CodingKeys: String, CodingKey {
            case filePath = "file_path"
        }

        public init(filePath: String? = nil) {
            self.filePath = filePath
        }

        public func validate(at path: FieldPath, action: Action, into diagnostics: inout Diagnostics) {}
    }

    /// Sends `count` GET requests to `url`.
    public struct HTTPRequest: Codable, Sendable, Hashable, PhysicalMachineActionSettings {
        public var url: String?
        public var enableConnPool: Bool?
        public var count: Int?

        enum CodingKeys: String, CodingKey {
            case url, count
            case enableConnPool = "enable-conn-pool"
        }

        public init(url: String? = nil, enableConnPool: Bool? = nil, count: Int? = nil) {
            self.url = url
            self.enableConnPool = enableConnPool
            self.count = count
        }

        public func validate(at path: FieldPath, action: Action, into diagnostics: inout Diagnostics) {}
    }

    // MARK: Files

    /// `file-create` and `file-delete`: a file or a directory.
    public struct FileOrDirectory: Codable, Sendable, Hashable, PhysicalMachineActionSettings {
        public var fileName: String?
        public var dirName: String?

        enum CodingKeys: String, CodingKey {
            case fileName = "file-name"
            case dirName = "dir-name"
        }

        public init(fileName: String? = nil, dirName: String? = nil) {
            self.fileName = fileName
            self.dirName = dirName
        }

        public func validate(at path: FieldPath, action: Action, into diagnostics: inout Diagnostics) {
            if (fileName ?? "").isEmpty && (dirName ?? "").isEmpty {
                diagnostics.report(path.child("file-name"), "one of file-name and dir-name is required for \(action.rawValue)")
            }
        }
    }

    /// Changes a file's permission bits.
    public struct FileModify: Codable, Sendable, Hashable, PhysicalMachineActionSettings {
        public var fileName: String?
        /// The mode to set, e.g. 777.
        public var privilege: Int32?

        enum CodingKeys: String, CodingKey {
            case privilege
            case fileName = "file-name"
        }

        public init(fileName: String? = nil, privilege: Int32? = nil) {
            self.fileName = fileName
            self.privilege = privilege
        }

        public func validate(at path: FieldPath, action: Action, into diagnostics: inout Diagnostics) {
            diagnostics.requireText(fileName, at: path.child("file-name"), for: action, "the file to change")
            switch privilege {
            case nil, 0?:
                diagnostics.report(path.child("privilege"), "required and not 0 for file-modify: the mode to set, e.g. 777")
            case let mode? where mode < 0:
                diagnostics.report(path.child("privilege"), "\(mode) must not be negative")
            default: break
            }
        }
    }

    /// Renames `source-file` to `dest-file`.
    public struct FileRename: Codable, Sendable, Hashable, PhysicalMachineActionSettings {
        public var sourceFile: String?
        public var destFile: String?

        enum CodingKeys: String, CodingKey {
            case sourceFile = "source-file"
            case destFile = "dest-file"
        }

        public init(sourceFile: String? = nil, destFile: String? = nil) {
            self.sourceFile = sourceFile
            self.destFile = destFile
        }

        public func validate(at path: FieldPath, action: Action, into diagnostics: inout Diagnostics) {
            diagnostics.requireText(sourceFile, at: path.child("source-file"), for: action, "the file to rename")
            diagnostics.requireText(destFile, at: path.child("dest-file"), for: action, "the new name")
        }
    }

    /// Appends `data` to a file `count` times.
    public struct FileAppend: Codable, Sendable, Hashable, PhysicalMachineActionSettings {
        public var fileName: String?
        public var data: String?
        public var count: Int?

        enum CodingKeys: String, CodingKey {
            case data, count
            case fileName = "file-name"
        }

        public init(fileName: String? = nil, data: String? = nil, count: Int? = nil) {
            self.fileName = fileName
            self.data = data
            self.count = count
        }

        public func validate(at path: FieldPath, action: Action, into diagnostics: inout Diagnostics) {
            diagnostics.requireText(fileName, at: path.child("file-name"), for: action, "the file to append to")
            diagnostics.requireText(data, at: path.child("data"), for: action, "the data to append")
            if let count, count < 0 {
                diagnostics.report(path.child("count"), "\(count) must not be negative")
            }
        }
    }

    /// Replaces `origin-string` with `dest-string` in a file (on `line`, or everywhere).
    public struct FileReplace: Codable, Sendable, Hashable, PhysicalMachineActionSettings {
        public var fileName: String?
        public var originString: String?
        public var destString: String?
        public var line: Int?

        enum CodingKeys: String, CodingKey {
            case line
            case fileName = "file-name"
            case originString = "origin-string"
            case destString = "dest-string"
        }

        public init(fileName: String? = nil, originString: String? = nil, destString: String? = nil, line: Int? = nil) {
            self.fileName = fileName
            self.originString = originString
            self.destString = destString
            self.line = line
        }

        public func validate(at path: FieldPath, action: Action, into diagnostics: inout Diagnostics) {
            diagnostics.requireText(fileName, at: path.child("file-name"), for: action, "the file to change")
            diagnostics.requireText(originString, at: path.child("origin-string"), for: action, "the text to replace")
            diagnostics.requireText(destString, at: path.child("dest-string"), for: action, "the replacement text")
            if let line, line < 0 {
                diagnostics.report(path.child("line"), "\(line) must not be negative")
            }
        }
    }

    // MARK: Others

    /// A fault on the virtual machine `vm-name` (chaosd checks nothing more).
    public struct VM: Codable, Sendable, Hashable, PhysicalMachineActionSettings {
        public var vmName: String?

        enum CodingKeys: String, CodingKey {
            case vmName = "vm-name"
        }

        public init(vmName: String? = nil) {
            self.vmName = vmName
        }

        public func validate(at path: FieldPath, action: Action, into diagnostics: inout Diagnostics) {}
    }

    /// Arbitrary shell commands to attack and to recover.
    public struct UserDefined: Codable, Sendable, Hashable, PhysicalMachineActionSettings {
        public var attackCmd: String?
        public var recoverCmd: String?

        public init(attackCmd: String? = nil, recoverCmd: String? = nil) {
            self.attackCmd = attackCmd
            self.recoverCmd = recoverCmd
        }

        public func validate(at path: FieldPath, action: Action, into diagnostics: inout Diagnostics) {
            diagnostics.requireText(attackCmd, at: path.child("attackCmd"), for: action, "the command that injects the fault")
            diagnostics.requireText(recoverCmd, at: path.child("recoverCmd"), for: action, "the command that recovers")
        }
    }
}

// MARK: - Checks shared by the actions (chaosd's and Chaos Mesh's rules)

extension Diagnostics {
    /// Reports at `path` unless a problem (e.g. a decoding error) is already there.
    fileprivate mutating func report(_ path: FieldPath, _ message: String) {
        if !hasError(touching: path) { error(path, message) }
    }

    fileprivate mutating func requireText(_ text: String?, at path: FieldPath,
                                          for action: PhysicalMachineChaosSpec.Action, _ what: String) {
        if (text ?? "").isEmpty {
            report(path, "required for \(action.rawValue): \(what)")
        }
    }

    /// A count chaosd needs: present, not 0, not negative.
    fileprivate mutating func requirePositive(_ number: Int?, at path: FieldPath,
                                              for action: PhysicalMachineChaosSpec.Action, _ what: String) {
        switch number {
        case nil, 0?: report(path, "required and not 0 for \(action.rawValue): \(what)")
        case let number? where number < 0: report(path, "\(number) must be greater than 0")
        default: break
        }
    }

    fileprivate mutating func checkDevice(_ device: String?, at path: FieldPath,
                                          for action: PhysicalMachineChaosSpec.Action) {
        guard let device, !device.isEmpty else {
            report(path, "required for \(action.rawValue): the network interface to act on, e.g. \"eth0\"")
            return
        }
        if let problem = HostNames.problem(withDevice: device) { report(path, problem) }
    }

    /// chaosd's `CheckPid`: present and positive.
    fileprivate mutating func checkPID(_ pid: Int?, at path: FieldPath, for action: PhysicalMachineChaosSpec.Action) {
        switch pid {
        case nil, 0?: report(path, "required for \(action.rawValue): the ID of the target process")
        case let pid? where pid < 0: report(path, "\(pid) is not a process ID: expected a positive number")
        default: break
        }
    }

    fileprivate mutating func checkJVMProcess(_ pid: Int?, _ port: Int32?, at path: FieldPath,
                                              for action: PhysicalMachineChaosSpec.Action) {
        checkPID(pid, at: path.child("pid"), for: action)
        if let port, !(1...65535).contains(port) {
            report(path.child("port"), "\(port) is not a port: expected 1 to 65535")
        }
    }

    fileprivate mutating func checkClassMethod(_ className: String?, _ method: String?, at path: FieldPath,
                                               for action: PhysicalMachineChaosSpec.Action) {
        requireText(className, at: path.child("class"), for: action, "the Java class")
        requireText(method, at: path.child("method"), for: action, "the method in that class")
    }

    fileprivate mutating func checkKafkaServer(topic: String?, host: String?, port: Int?, at path: FieldPath,
                                               for action: PhysicalMachineChaosSpec.Action) {
        requireText(topic, at: path.child("topic"), for: action, "the topic to attack")
        requireText(host, at: path.child("host"), for: action, "the host of the Kafka server")
        switch port {
        case nil, 0?: report(path.child("port"), "required for \(action.rawValue): the port of the Kafka server")
        case let port? where !(1...65535).contains(port): report(path.child("port"), "\(port) is not a port: expected 1 to 65535")
        default: break
        }
    }

    /// chaosd's `CheckIPs`: comma-separated IP addresses or CIDRs.
    fileprivate mutating func checkIPs(_ text: String?, at path: FieldPath) {
        guard let text, !text.isEmpty else { return }
        for item in text.split(separator: ",", omittingEmptySubsequences: false) {
            let entry = String(item)
            let valid = entry.contains("/") ? NetworkAddress.isCIDR(entry) : NetworkAddress.isIP(entry)
            if !valid {
                report(path, "\"\(entry)\" is not an IP address or CIDR (a comma-separated list is allowed)")
            }
        }
    }

    fileprivate mutating func checkProtocol(_ name: String?, at path: FieldPath) {
        guard let name, !name.isEmpty else { return }
        if !["tcp", "udp", "icmp", "all"].contains(name) {
            report(path, "\"\(name)\" is not an IP protocol: expected tcp, udp, icmp or all")
        }
    }

    /// chaosd's `checkProtocolAndPorts`: port lists are well formed and come with tcp or udp.
    fileprivate mutating func checkProtocolAndPorts(_ protocolName: String?, source: String?, egress: String?,
                                                    at path: FieldPath) {
        for (field, ports) in [("source-port", source), ("egress-port", egress)] {
            guard let ports, !ports.isEmpty else { continue }
            if !Self.portListIsValid(ports) {
                report(path.child(field), "\"\(ports)\" is not a port list: expected ports or low:high ranges separated by commas, e.g. \"80,8001:8010\"")
            }
        }
        checkProtocol(protocolName, at: path.child("ip-protocol"))
        let usesPorts = !(source ?? "").isEmpty || !(egress ?? "").isEmpty
        if usesPorts && protocolName != "tcp" && protocolName != "udp" {
            report(path.child("ip-protocol"), "must be tcp or udp when source-port or egress-port is set")
        }
    }

    fileprivate mutating func checkTCPFlags(_ flags: String?, protocol protocolName: String?, at path: FieldPath) {
        if !(flags ?? "").isEmpty && protocolName != "tcp" {
            report(path.child("ip-protocol"), "must be tcp when accept-tcp-flags is set")
        }
    }

    fileprivate static func portListIsValid(_ text: String) -> Bool {
        text.split(separator: ",", omittingEmptySubsequences: false).allSatisfy { item in
            let bounds = item.split(separator: ":", omittingEmptySubsequences: false)
            return (1...2).contains(bounds.count) && bounds.allSatisfy { UInt16($0) != nil }
        }
    }
}
