import Foundation
import TumultSystem

/// Applies a `DNSFault` to one network namespace and undoes it.
///
/// It starts Tumult's DNS responder (`tumult dns-responder`) inside the
/// namespace on 127.0.0.1, then redirects the namespace's outgoing DNS
/// (UDP and TCP port 53) to it with an iptables `nat` chain. The
/// responder's own queries to the real resolver carry a mark the redirect
/// skips.
public struct DNSFaultInjector: FaultInjector {
    public typealias Fault = DNSFault
    public typealias UndoStep = DNSUndoStep
    public static let family = "dns"

    public var runner: any CommandRunner
    /// The `tumult` executable that runs the responder; default: this program.
    public var responderExecutable: String
    /// Foreground attacks tie the responder to their process; detached ones
    /// leave it in a session of its own, to be stopped by recovery.
    public var detachResponder: Bool

    /// The first port tried for the responder; the attack's id picks an offset.
    public static let basePort = 15_353

    public init(runner: any CommandRunner = ProcessCommandRunner(), responderExecutable: String? = nil,
                detachResponder: Bool = true) {
        self.runner = runner
        self.responderExecutable = responderExecutable ?? Self.defaultResponderExecutable()
        self.detachResponder = detachResponder
    }

    /// `$TUMULT_EXECUTABLE`, else the running program when it is `tumult`,
    /// else `tumult` beside it, else `tumult` from PATH.
    public static func defaultResponderExecutable() -> String {
        HelperExecutable.locate("tumult", environmentOverride: "TUMULT_EXECUTABLE", preferringRunningProgram: true)
    }

    /// The chain of an attack: `TMT-1A2B3C4D-DNS`.
    public static func chainName(attack: String) -> String {
        "TMT-\(String(attack.filter(\.isHexDigit).prefix(8)).uppercased())-DNS"
    }

    /// The rules that send the namespace's DNS to the responder on `port`,
    /// except the responder's own (marked) queries.
    public static func redirectRules(chain: String, port: Int) -> [Command] {
        ["udp", "tcp"].map { proto in
            Command(["iptables", "-w", "-t", "nat", "-A", chain, "-p", proto, "--dport", "53",
                     "-m", "mark", "!", "--mark", String(format: "0x%x", DNSResponder.upstreamMark),
                     "-j", "REDIRECT", "--to-ports", String(port)])
        }
    }

    /// The arguments of `tumult dns-responder` for `fault`.
    public func responderArguments(_ fault: DNSFault, port: Int, upstream: DNSEndpoint) -> [String] {
        var arguments = [responderExecutable, "dns-responder", "--listen", "127.0.0.1:\(port)",
                         "--action", fault.action.rawValue, "--upstream", upstream.description]
        arguments += fault.patterns.map { "--pattern=\($0.text)" }
        if !detachResponder { arguments.append("--die-with-parent") }
        return arguments
    }

    // MARK: Apply

    public func apply(_ fault: DNSFault, attack: String, recorder: ChangeRecorder) throws {
        guard fault.namespace.exists else { throw FaultError(.invalidFault, "\(fault.namespace) does not exist") }
        let inside = NamespacedRunner(fault.namespace, base: runner)
        let upstream = try upstreamEndpoint(fault)
        let port = try NamespacePorts.free(from: Self.basePort, for: attack, inside, helper: "DNS responder")
        let chain = Self.chainName(attack: attack)

        var done: [DNSUndoStep] = []
        do {
            // The responder first: once the redirect is in place, it must answer.
            let summary = "DNS responder on 127.0.0.1:\(port) (\(fault.summary), others to \(upstream))"
            let unknown = DNSUndoStep.stopResponder(namespace: fault.namespace, attack: attack, pid: nil, startTime: nil)
            let started = try recorder.willApply(summary, undo: Self.encodeStep(unknown))
            done.append(unknown)
            let responder = try HelperProcess.start(
                fault.namespace.wrap(Command(responderArguments(fault, port: port, upstream: upstream))),
                environment: ["TUMULT_ATTACK": attack], readyPrefix: "ready", detached: detachResponder)
            let known = DNSUndoStep.stopResponder(namespace: fault.namespace, attack: attack, pid: responder.pid,
                                                  startTime: responder.startTime)
            done[done.count - 1] = known
            try recorder.didApply(started, undo: Self.encodeStep(known))

            let redirect = "redirect DNS (udp, tcp port 53) to 127.0.0.1:\(port) with chain nat \(chain)"
            let natTableExists = try IptablesChain.tableExists("nat", runner: inside)
            let dropEmptyTable = IptablesChain.usesNFTables(runner: runner) && !natTableExists
            let undo = DNSUndoStep.removeChain(namespace: fault.namespace, table: "nat", hook: "OUTPUT", chain: chain,
                                               dropEmptyTable: dropEmptyTable)
            let sequence = try recorder.willApply(redirect, undo: Self.encodeStep(undo))
            done.append(undo)
            let commands = [Command(["iptables", "-w", "-t", "nat", "-N", chain])]
                + Self.redirectRules(chain: chain, port: port)
                + [Command(["iptables", "-w", "-t", "nat", "-I", "OUTPUT", "1", "-j", chain])]
            for command in commands { try inside.check(command, doing: "applying \(redirect)") }
            try verifyChain(chain, rules: 2, inside, summary: redirect)
            guard Processes.isAlive(responder.pid) else {
                throw FaultError(.readBackFailed, "the DNS responder in \(fault.namespace) exited")
            }
            try recorder.didApply(sequence, undo: nil)
        } catch {
            try? recover(done, attack: attack)
            if error is FaultError { throw error }
            throw FaultError(.applyFailed, "could not apply DNS \(fault.summary) in \(fault.namespace)", cause: error)
        }
    }

    /// `--upstream`, else the first nameserver the target's resolv.conf names.
    func upstreamEndpoint(_ fault: DNSFault) throws -> DNSEndpoint {
        if let text = fault.upstream {
            guard let endpoint = DNSEndpoint(parsing: text) else {
                throw FaultError(.invalidFault, "\"\(text)\" is not an upstream resolver (IP, IP:PORT or [IPv6]:PORT)")
            }
            return endpoint
        }
        // What the target reads: a named namespace's /etc/netns/NAME/resolv.conf
        // (through `ip netns exec`), a process's own root, or the host's.
        let command: Command
        switch fault.namespace {
        case .host: command = Command(["cat", "/etc/resolv.conf"])
        case .named: command = fault.namespace.wrap(Command(["cat", "/etc/resolv.conf"]))
        case .process(let pid): command = Command(["cat", "/proc/\(pid)/root/etc/resolv.conf"])
        }
        let text = try runner.check(command, doing: "reading the resolv.conf of \(fault.namespace)").stdout
        guard let endpoint = DNSEndpoint.firstNameserver(inResolvConf: text) else {
            throw FaultError(.invalidFault, "the resolv.conf of \(fault.namespace) names no nameserver; give --upstream")
        }
        return endpoint
    }

    // MARK: Read back

    /// The chain exists with `rules` rules and OUTPUT jumps to it.
    func verifyChain(_ chain: String, rules: Int, _ inside: NamespacedRunner, summary: String) throws {
        let listed = try inside.check(Command(["iptables", "-w", "-t", "nat", "-S", chain]), doing: "reading back \(chain)")
        let count = listed.stdout.split(separator: "\n").filter { $0.hasPrefix("-A \(chain) ") }.count
        guard count == rules else {
            throw FaultError(.readBackFailed, "\(summary) was applied but is not there: \(chain) has \(count) rules, expected \(rules)")
        }
        guard try inside.run(Command(["iptables", "-w", "-t", "nat", "-C", "OUTPUT", "-j", chain])).succeeded else {
            throw FaultError(.readBackFailed, "\(summary) was applied but is not there: OUTPUT does not jump to \(chain)")
        }
    }

    // MARK: Recover

    public func recover(_ steps: [DNSUndoStep], attack: String) throws {
        try undoEach(steps) { try undo($0) }
    }

    func undo(_ step: DNSUndoStep) throws {
        switch step {
        case .stopResponder(_, let attack, let pid, let startTime):
            // A host process: stopped even when its namespace is gone.
            Processes.stopHelpers(of: attack, recorded: pid.map { [($0, startTime)] } ?? [])
        case .removeChain(let namespace, let table, let hook, let chain, let dropEmptyTable):
            guard namespace.exists else { return }
            try IptablesChain.remove(table: table, hook: hook, chain: chain, dropEmptyTable: dropEmptyTable,
                                     runner: NamespacedRunner(namespace, base: runner))
        }
    }
}
