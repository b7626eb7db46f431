import ArgumentParser
import TumultFaults
import TumultModel

/// `tumult attack dns ACTION` (DNSChaos).
struct DNSAttack: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "dns",
        abstract: "Make a target's DNS queries for some names fail or return random addresses.",
        discussion: "Tumult runs a DNS server inside the target's network namespace and redirects its DNS traffic (UDP and TCP port 53) there; queries for other names go on to the target's own resolver.",
        subcommands: [DNSErrorAttack.self, DNSRandomAttack.self]
    )
}

/// Options shared by both DNS actions.
struct DNSOptions: ParsableArguments {
    @OptionGroup var attack: AttackOptions

    @Option(name: [.customLong("patterns"), .customLong("pattern")],
            help: ArgumentHelp("Names to affect: exact, ? for one character, * at the end for any rest (repeatable or comma-separated; none: every name).",
                               valueName: "pattern"))
    var patterns: [String] = []

    @Option(help: ArgumentHelp("The resolver other queries go to (default: the first nameserver of the target's resolv.conf).",
                               valueName: "ip[:port]"))
    var upstream: String?

    var patternTexts: [String] {
        patterns.flatMap { $0.split(separator: ",") }.map { $0.trimmingCharacters(in: .whitespaces) }
    }

    func validate() throws {
        for text in patternTexts {
            if let problem = DNSPattern.problem(with: text) { throw ValidationError("--patterns: \(problem).") }
        }
        if let upstream, DNSEndpoint(parsing: upstream) == nil {
            throw ValidationError("--upstream: \"\(upstream)\" is not an IP address with an optional port.")
        }
    }

    func run(_ action: DNSFault.Action) throws {
        let fault = DNSFault(action: action, namespace: attack.namespace,
                             patterns: try patternTexts.map { try DNSPattern(parsing: $0) }, upstream: upstream)
        let injector = DNSFaultInjector(detachResponder: attack.durationValue == nil)
        try AttackDriver.run(fault, injector: injector, action: "dns \(action.rawValue)",
                             target: attack.namespace.description, options: attack)
    }
}

struct DNSErrorAttack: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "error", abstract: "Answer matching names with SERVFAIL.")
    @OptionGroup var dns: DNSOptions

    func run() throws {
        try dns.run(.error)
    }
}

struct DNSRandomAttack: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "random", abstract: "Answer matching names with a random address (A or AAAA, TTL 0).")
    @OptionGroup var dns: DNSOptions

    func run() throws {
        try dns.run(.random)
    }
}
