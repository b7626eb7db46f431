import ArgumentParser
import TumultFaults
import TumultModel

/// `tumult attack tcp TOXIC`: Toxiproxy's toxics inside a target's TCP
/// connections on one port, with no proxy port to configure.
struct TCPAttack: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tcp",
        abstract: "Apply a Toxiproxy toxic to a target's TCP connections on one port.",
        discussion: "Tumult runs a proxy inside the target's network namespace and redirects the connections on --port to it (those made to the target and those it makes); the application is not reconfigured. Units are Toxiproxy's: milliseconds, KB/s (1 KB = 1000 bytes), bytes; the slicer's delay is in microseconds.",
        subcommands: [TCPLatency.self, TCPBandwidth.self, TCPSlowClose.self, TCPTimeout.self, TCPResetPeer.self,
                      TCPSlicer.self, TCPLimitData.self]
    )
}

/// Options every toxic takes.
struct TCPOptions: ParsableArguments {
    @OptionGroup var attack: AttackOptions

    @Option(help: ArgumentHelp("The TCP port whose connections get the toxic.", valueName: "port"))
    var port: Int

    @Option(help: ArgumentHelp("upstream (client to server) or downstream (server to client, the default).", valueName: "stream"))
    var direction: Toxic.Stream = .downstream

    @Option(help: ArgumentHelp("The percentage of connections the toxic applies to, drawn per connection.", valueName: "pct"))
    var toxicity: Double = 100

    @Option(help: ArgumentHelp("incoming (connections made to the target), outgoing (connections it makes) or both.", valueName: "which"))
    var connections: ProxyFault.Connections = .both

    @Option(help: ArgumentHelp("The toxic's name (default TYPE_STREAM).", valueName: "name"))
    var name: String?

    func validate() throws {
        guard (1...65_535).contains(port) else { throw ValidationError("--port: \(port) is not a port (1 to 65535).") }
        guard (0...100).contains(toxicity) else { throw ValidationError("--toxicity: \(toxicity) is not a percentage (0 to 100).") }
        guard attack.netns != nil || attack.pid != nil else {
            throw ValidationError("Give --netns or --pid: the target whose connections get the toxic.")
        }
    }

    /// Validates the toxic as a document's would be, then runs the attack.
    func run(_ type: Toxic.Kind, _ attributes: Toxic.Attributes) throws {
        let toxic = Toxic(type, stream: direction, toxicity: toxicity / 100, name: name, attributes: attributes)
        var diagnostics = Diagnostics()
        toxic.validate(at: .root, into: &diagnostics)
        if let error = diagnostics.errors.first {
            let option = error.path.description.split(separator: ".").last.map { "--" + $0.replacingOccurrences(of: "_", with: "-") } ?? "toxic"
            throw ValidationError("\(option): \(error.message).")
        }
        let fault = ProxyFault(namespace: attack.namespace, port: port, connections: connections, toxics: [toxic])
        let injector = ProxyFaultInjector(detachProxy: attack.durationValue == nil)
        try AttackDriver.run(fault, injector: injector, action: "tcp \(type.rawValue)", target: attack.namespace.description,
                             options: attack)
    }
}

struct TCPLatency: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "latency", abstract: "Delay the data by --latency ± --jitter ms.")
    @OptionGroup var tcp: TCPOptions
    @Option(help: "Milliseconds added to each chunk of data.") var latency: Int64
    @Option(help: "Milliseconds of random variation, ±.") var jitter: Int64 = 0
    func run() throws { try tcp.run(.latency, Toxic.Attributes(latency: latency, jitter: jitter)) }
}

struct TCPBandwidth: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "bandwidth", abstract: "Limit the stream to --rate KB/s.")
    @OptionGroup var tcp: TCPOptions
    @Option(help: "KB/s (1 KB = 1000 bytes).") var rate: Int64
    func run() throws { try tcp.run(.bandwidth, Toxic.Attributes(rate: rate)) }
}

struct TCPSlowClose: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "slow-close", abstract: "Delay the close (FIN) by --delay ms.")
    @OptionGroup var tcp: TCPOptions
    @Option(help: "Milliseconds between the sender's close and the receiver seeing it.") var delay: Int64
    func run() throws { try tcp.run(.slowClose, Toxic.Attributes(delay: delay)) }
}

struct TCPTimeout: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "timeout", abstract: "Let no data through; close after --timeout ms (0: never).")
    @OptionGroup var tcp: TCPOptions
    @Option(help: "Milliseconds before the connection is closed; 0 keeps it open, silent.") var timeout: Int64 = 0
    func run() throws { try tcp.run(.timeout, Toxic.Attributes(timeout: timeout)) }
}

struct TCPResetPeer: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "reset-peer", abstract: "Reset the connection (RST) --timeout ms after data arrives.")
    @OptionGroup var tcp: TCPOptions
    @Option(help: "Milliseconds after the first data before the reset; 0: at once.") var timeout: Int64 = 0
    func run() throws { try tcp.run(.resetPeer, Toxic.Attributes(timeout: timeout)) }
}

struct TCPSlicer: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "slicer", abstract: "Cut the data into small segments, --delay µs apart.")
    @OptionGroup var tcp: TCPOptions
    @Option(name: .customLong("average-size"), help: "Bytes per segment, on average.") var averageSize: Int64
    @Option(name: .customLong("size-variation"), help: "Bytes of variation, ±.") var sizeVariation: Int64 = 0
    @Option(help: "Microseconds between segments.") var delay: Int64 = 0
    func run() throws {
        try tcp.run(.slicer, Toxic.Attributes(delay: delay, averageSize: averageSize, sizeVariation: sizeVariation))
    }
}

struct TCPLimitData: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "limit-data", abstract: "Close the connection after --bytes bytes.")
    @OptionGroup var tcp: TCPOptions
    @Option(help: "Bytes let through before the close.") var bytes: Int64
    func run() throws { try tcp.run(.limitData, Toxic.Attributes(bytes: bytes)) }
}

extension Toxic.Stream: ExpressibleByArgument {}
extension ProxyFault.Connections: ExpressibleByArgument {}
