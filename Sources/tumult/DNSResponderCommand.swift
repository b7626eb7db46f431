import ArgumentParser
import Foundation
import TumultFaults
import TumultModel

/// `tumult dns-responder`: the DNS server of a DNS attack, started by the
/// injector inside the target's network namespace. Hidden: not for users.
struct DNSResponderCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "dns-responder",
        abstract: "Serve DNS for a DNS attack (started by `tumult attack dns`).",
        shouldDisplay: false
    )

    nonisolated(unsafe) static var terminated: Int32 = 0

    @Option(help: ArgumentHelp("Where to listen, UDP and TCP.", valueName: "ip:port"))
    var listen: String

    @Option(help: "error: answer matching names with SERVFAIL; random: with a random address.")
    var action: DNSFault.Action

    @Option(name: .customLong("pattern"), help: ArgumentHelp("A name pattern to answer (repeatable; none: every name).", valueName: "pattern"))
    var patterns: [String] = []

    @Option(help: ArgumentHelp("The resolver every other query goes to.", valueName: "ip:port"))
    var upstream: String

    @Flag(name: .customLong("die-with-parent"), help: "Exit when the process that started this one exits.")
    var dieWithParent = false

    func validate() throws {
        guard DNSEndpoint(parsing: listen) != nil else { throw ValidationError("--listen: \"\(listen)\" is not IP:PORT.") }
        guard DNSEndpoint(parsing: upstream) != nil else { throw ValidationError("--upstream: \"\(upstream)\" is not IP:PORT.") }
        for pattern in patterns {
            if let problem = DNSPattern.problem(with: pattern) { throw ValidationError("--pattern: \(problem).") }
        }
    }

    func run() throws {
        let parent = getppid()
        signal(SIGTERM) { _ in DNSResponderCommand.terminated = 1 }
        signal(SIGINT) { _ in DNSResponderCommand.terminated = 1 }
        let policy = DNSFaultPolicy(action: action, patterns: try patterns.map { try DNSPattern(parsing: $0) })
        let responder = try DNSResponder(DNSResponder.Configuration(
            listen: DNSEndpoint(parsing: listen)!, upstream: DNSEndpoint(parsing: upstream)!, policy: policy))
        HelperReady.announce()
        while Self.terminated == 0 && !(dieWithParent && getppid() != parent) {
            usleep(100_000)
        }
        responder.shutdown()
    }
}

extension DNSFault.Action: ExpressibleByArgument {}
