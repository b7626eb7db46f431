import ArgumentParser
import TumultFaults
import TumultModel

/// `tumult attack network ACTION`.
struct NetworkAttack: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "network",
        abstract: "Delay, lose, duplicate, corrupt, partition or shape a target's traffic.",
        subcommands: [Delay.self, Loss.self, Duplicate.self, Corrupt.self, Netem.self, Partition.self, Bandwidth.self]
    )
}

/// Options shared by every network action.
struct NetworkOptions: ParsableArguments {
    @OptionGroup var attack: AttackOptions

    @Option(help: ArgumentHelp("The device to act on (default: the namespace's first non-loopback device).", valueName: "name"))
    var device: String?

    @Option(help: "to: traffic the target sends; from: traffic it receives; both.")
    var direction: NetworkFault.Direction = .to

    @Option(name: .customLong("ip"), help: ArgumentHelp("Only traffic with this peer (IPv4 address or CIDR; repeatable).", valueName: "address"))
    var peers: [String] = []

    @Option(name: .customLong("hostname"), help: ArgumentHelp("Only traffic with this host (resolved now; repeatable).", valueName: "name"))
    var hostnames: [String] = []

    @Option(name: .customLong("protocol"), help: ArgumentHelp("Only this protocol: tcp, udp or icmp.", valueName: "protocol"))
    var ipProtocol: String?

    @Option(name: .customLong("source-port"), help: ArgumentHelp("Only traffic from this local port (repeatable).", valueName: "port"))
    var sourcePorts: [UInt16] = []

    @Option(name: .customLong("egress-port"), help: ArgumentHelp("Only traffic to this remote port (repeatable).", valueName: "port"))
    var egressPorts: [UInt16] = []

    @Option(name: .customLong("network-backend"),
            help: "kernel: sch_netem; userspace: Tumult's NFQUEUE engine; auto: the kernel when it has netem.")
    var backend: NetworkFault.Backend = .auto

    func validate() throws {
        for peer in peers where NetworkAddress.problem(withTarget: peer) != nil || peer.contains(":") {
            throw ValidationError("--ip: \"\(peer)\" is not an IPv4 address or CIDR.")
        }
        if let ipProtocol, !["tcp", "udp", "icmp", "all"].contains(ipProtocol) {
            throw ValidationError("--protocol: \"\(ipProtocol)\" is not tcp, udp, icmp or all.")
        }
        if let device, let problem = HostNames.problem(withDevice: device) {
            throw ValidationError("--device: \(problem).")
        }
    }

    func fault(_ action: NetworkFault.Action) -> NetworkFault {
        var fault = NetworkFault(action: action, namespace: attack.namespace)
        fault.device = device
        fault.direction = direction
        fault.peers = peers
        fault.hostnames = hostnames
        fault.ipProtocol = ipProtocol
        fault.sourcePorts = sourcePorts
        fault.egressPorts = egressPorts
        fault.backend = backend
        return fault
    }

    func run(_ fault: NetworkFault) throws {
        let injector = NetworkFaultInjector(detachEngine: attack.durationValue == nil)
        try AttackDriver.run(fault, injector: injector, action: "network \(fault.action.rawValue)",
                             target: attack.namespace.description, options: attack)
    }
}

extension NetworkFault.Direction: ExpressibleByArgument {}
extension NetworkFault.Backend: ExpressibleByArgument {}

/// Reads `--flag VALUE` with a model parser, naming the flag on failure.
func parseFlag<T>(_ flag: String, _ text: String?, _ parser: (String) throws -> T) throws -> T? {
    guard let text else { return nil }
    do { return try parser(text) } catch {
        throw ValidationError("\(flag): \(error)")
    }
}

/// Options of the netem-style actions.
struct NetemOptions: ParsableArguments {
    @Option(help: ArgumentHelp("Correlation with the previous packet's draw, 0-100.", valueName: "percent"))
    var correlation: String?

    @Option(help: ArgumentHelp("Packets held at once; more are dropped (netem's limit).", valueName: "packets"))
    var limit: Int = 1000

    func correlationValue() throws -> Double {
        try parseFlag("--correlation", correlation) { try Percentage(parsing: $0) }?.value ?? 0
    }

    func validate() throws {
        _ = try correlationValue()
        if limit < 1 { throw ValidationError("--limit must be at least 1.") }
    }
}

struct Delay: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "delay", abstract: "Delay packets (netem delay).")
    @OptionGroup var network: NetworkOptions
    @OptionGroup var netem: NetemOptions
    @Option(help: ArgumentHelp("Added latency (e.g. 100ms).", valueName: "duration")) var latency: String
    @Option(help: ArgumentHelp("Random variation, uniform in ±jitter (e.g. 20ms).", valueName: "duration")) var jitter: String?
    @Option(help: ArgumentHelp("Percent of packets sent at once instead of delayed.", valueName: "percent")) var reorder: String?
    @Option(help: ArgumentHelp("Reorder every gap-th packet at most.", valueName: "n")) var gap: Int = 0

    func validate() throws {
        guard let parsed = try parseFlag("--latency", latency, { try GoDuration(parsing: $0) }), !parsed.isNegative else {
            throw ValidationError("--latency must not be negative.")
        }
        if let jitter = try parseFlag("--jitter", jitter, { try GoDuration(parsing: $0) }), jitter.isNegative {
            throw ValidationError("--jitter must not be negative.")
        }
        _ = try parseFlag("--reorder", reorder) { try Percentage(parsing: $0) }
    }

    func run() throws {
        var fault = network.fault(.delay)
        fault.netem.latency = try GoDuration(parsing: latency).nanoseconds
        fault.netem.jitter = try jitter.map { try GoDuration(parsing: $0).nanoseconds } ?? 0
        fault.netem.delayCorrelation = try netem.correlationValue()
        fault.netem.reorder = try reorder.map { try Percentage(parsing: $0).value } ?? 0
        fault.netem.gap = gap
        fault.netem.limit = netem.limit
        try network.run(fault)
    }
}

/// loss, duplicate and corrupt: a percentage and its correlation.
protocol PercentAction: ParsableCommand {
    static var action: NetworkFault.Action { get }
    var network: NetworkOptions { get }
    var netem: NetemOptions { get }
    var percent: String { get }
}

extension PercentAction {
    func validate() throws {
        guard let value = try parseFlag("--percent", percent, { try Percentage(parsing: $0) }), value.value > 0 else {
            throw ValidationError("--percent must be above 0.")
        }
    }

    func run() throws {
        var fault = network.fault(Self.action)
        let value = try Percentage(parsing: percent).value
        let correlation = try netem.correlationValue()
        switch Self.action {
        case .loss: (fault.netem.loss, fault.netem.lossCorrelation) = (value, correlation)
        case .duplicate: (fault.netem.duplicate, fault.netem.duplicateCorrelation) = (value, correlation)
        default: (fault.netem.corrupt, fault.netem.corruptCorrelation) = (value, correlation)
        }
        fault.netem.limit = netem.limit
        try network.run(fault)
    }
}

struct Loss: PercentAction {
    static let configuration = CommandConfiguration(commandName: "loss", abstract: "Drop a percentage of packets, silently (netem loss).")
    static let action = NetworkFault.Action.loss
    @OptionGroup var network: NetworkOptions
    @OptionGroup var netem: NetemOptions
    @Option(help: ArgumentHelp("Percent of packets to drop.", valueName: "percent")) var percent: String
}

struct Duplicate: PercentAction {
    static let configuration = CommandConfiguration(commandName: "duplicate", abstract: "Send a percentage of packets twice (netem duplicate).")
    static let action = NetworkFault.Action.duplicate
    @OptionGroup var network: NetworkOptions
    @OptionGroup var netem: NetemOptions
    @Option(help: ArgumentHelp("Percent of packets to duplicate.", valueName: "percent")) var percent: String
}

struct Corrupt: PercentAction {
    static let configuration = CommandConfiguration(commandName: "corrupt", abstract: "Damage a percentage of packets so their checksum fails (netem corrupt).")
    static let action = NetworkFault.Action.corrupt
    @OptionGroup var network: NetworkOptions
    @OptionGroup var netem: NetemOptions
    @Option(help: ArgumentHelp("Percent of packets to corrupt.", valueName: "percent")) var percent: String
}

/// Several netem faults at once, as NetworkChaos's `netem` action.
struct Netem: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "netem", abstract: "Delay, lose, duplicate and corrupt at once (NetworkChaos action netem).")
    @OptionGroup var network: NetworkOptions
    @Option(help: ArgumentHelp("Added latency (e.g. 100ms).", valueName: "duration")) var latency: String?
    @Option(help: ArgumentHelp("Random variation, uniform in ±jitter.", valueName: "duration")) var jitter: String?
    @Option(name: .customLong("delay-correlation"), help: ArgumentHelp("Correlation of the delay, 0-100.", valueName: "percent")) var delayCorrelation: String?
    @Option(help: ArgumentHelp("Percent of packets to drop.", valueName: "percent")) var loss: String?
    @Option(name: .customLong("loss-correlation"), help: ArgumentHelp("Correlation of the loss, 0-100.", valueName: "percent")) var lossCorrelation: String?
    @Option(help: ArgumentHelp("Percent of packets to duplicate.", valueName: "percent")) var duplicate: String?
    @Option(name: .customLong("duplicate-correlation"), help: ArgumentHelp("Correlation of the duplication, 0-100.", valueName: "percent")) var duplicateCorrelation: String?
    @Option(help: ArgumentHelp("Percent of packets to corrupt.", valueName: "percent")) var corrupt: String?
    @Option(name: .customLong("corrupt-correlation"), help: ArgumentHelp("Correlation of the corruption, 0-100.", valueName: "percent")) var corruptCorrelation: String?
    @Option(help: ArgumentHelp("Packets held at once; more are dropped.", valueName: "packets")) var limit: Int = 1000

    func percent(_ flag: String, _ text: String?) throws -> Double {
        try parseFlag(flag, text) { try Percentage(parsing: $0) }?.value ?? 0
    }

    func build() throws -> NetworkFault {
        var fault = network.fault(.netem)
        fault.netem.latency = try parseFlag("--latency", latency) { try GoDuration(parsing: $0) }?.nanoseconds ?? 0
        fault.netem.jitter = try parseFlag("--jitter", jitter) { try GoDuration(parsing: $0) }?.nanoseconds ?? 0
        fault.netem.delayCorrelation = try percent("--delay-correlation", delayCorrelation)
        fault.netem.loss = try percent("--loss", loss)
        fault.netem.lossCorrelation = try percent("--loss-correlation", lossCorrelation)
        fault.netem.duplicate = try percent("--duplicate", duplicate)
        fault.netem.duplicateCorrelation = try percent("--duplicate-correlation", duplicateCorrelation)
        fault.netem.corrupt = try percent("--corrupt", corrupt)
        fault.netem.corruptCorrelation = try percent("--corrupt-correlation", corruptCorrelation)
        fault.netem.limit = limit
        return fault
    }

    func validate() throws {
        let fault = try build()
        if fault.netem.latency < 0 || fault.netem.jitter < 0 { throw ValidationError("--latency and --jitter must not be negative.") }
        if fault.netem.isEmpty { throw ValidationError("Give at least one of --latency, --loss, --duplicate, --corrupt.") }
        if limit < 1 { throw ValidationError("--limit must be at least 1.") }
    }

    func run() throws {
        try network.run(try build())
    }
}

struct Partition: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "partition",
        abstract: "Cut traffic with the peers (all traffic without --ip/--hostname), silently.",
        discussion: "With --direction to, the target cannot start connections to the peers; with from, the peers cannot start connections to it; both cuts every packet."
    )
    @OptionGroup var network: NetworkOptions

    func run() throws {
        try network.run(network.fault(.partition))
    }
}

struct Bandwidth: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "bandwidth", abstract: "Limit the target's outgoing bandwidth (tbf).")
    @OptionGroup var network: NetworkOptions
    @Option(help: ArgumentHelp("The rate: a number and bit, kbit, mbit, gbit, bps, kbps, mbps ... (e.g. 10mbit).", valueName: "rate"))
    var rate: String
    @Option(help: ArgumentHelp("Bytes that may wait for tokens.", valueName: "bytes")) var limit: UInt32 = 20_000
    @Option(help: ArgumentHelp("The bucket's size in bytes (burst).", valueName: "bytes")) var buffer: UInt32 = 10_000
    @Option(help: ArgumentHelp("Peak rate in bytes per second (with --minburst).", valueName: "bytes/s")) var peakrate: UInt64?
    @Option(help: ArgumentHelp("The peak bucket's size in bytes.", valueName: "bytes")) var minburst: UInt32?

    func validate() throws {
        _ = try parseFlag("--rate", rate) { try DataRate(parsing: $0) }
        if limit < 1 || buffer < 1 { throw ValidationError("--limit and --buffer must be at least 1.") }
    }

    func run() throws {
        var fault = network.fault(.bandwidth)
        fault.bandwidth = NetworkFault.Bandwidth(bitsPerSecond: try DataRate(parsing: rate).bitsPerSecond,
                                                 limit: limit, buffer: buffer, peakrate: peakrate, minburst: minburst)
        try network.run(fault)
    }
}
