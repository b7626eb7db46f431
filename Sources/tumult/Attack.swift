import ArgumentParser
import Foundation
import TumultAgent
import TumultDaemon
import TumultFaults
import TumultHandoff
import TumultModel
import TumultSystem

/// `tumult attack`: inject one fault into one target, named after chaosd's
/// commands.
struct Attack: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "attack",
        abstract: "Inject one fault into one target: a network namespace, a process (its namespace, cgroups or itself), a filesystem, or the host.",
        subcommands: [NetworkAttack.self, StressAttack.self, DiskAttack.self, ProcessAttack.self, DNSAttack.self, IOAttack.self,
                      TimeAttack.self, TCPAttack.self, AttackList.self]
    )
}

/// Options every attack takes: where, for how long, where the journal is.
struct AttackOptions: ParsableArguments {
    @Option(help: ArgumentHelp("The named network namespace to attack (/var/run/netns/NAME): network and DNS attacks act on it, process and stress attacks on the processes inside it.", valueName: "name"))
    var netns: String?

    @Option(help: ArgumentHelp("The target process: network and DNS attacks act on its network namespace, stress on its cgroups, process attacks on the process itself.", valueName: "pid"))
    var pid: Int32?

    @Option(help: ArgumentHelp("Stay in the foreground this long (e.g. 60s, 5m), then recover; Ctrl-C recovers early. Without it the fault stays until `tumult recover UID`.",
                               valueName: "duration"))
    var duration: String?

    @Option(name: .customLong("state-dir"),
            help: ArgumentHelp("Where the journal lives (default $TUMULT_HOME, else /var/lib/tumult).", valueName: "path"))
    var stateDirectory: String?

    func validate() throws {
        if netns != nil && pid != nil { throw ValidationError("Give --netns or --pid, not both.") }
        if let netns, let problem = HostNames.problem(withNetworkNamespace: netns) {
            throw ValidationError("--netns: \(problem).")
        }
        if let pid, let problem = HostNames.problem(withPID: Int64(pid), tumult: getpid()) {
            throw ValidationError("--pid: \(problem).")
        }
        if let duration {
            guard let parsed = try? GoDuration(parsing: duration), parsed.nanoseconds > 0 else {
                throw ValidationError("--duration: \"\(duration)\" is not a positive duration (e.g. 30s, 5m).")
            }
        }
    }

    var namespace: NetworkNamespace {
        if let netns { return .named(netns) }
        if let pid { return .process(pid) }
        return .host
    }

    var durationValue: GoDuration? { duration.flatMap { try? GoDuration(parsing: $0) } }

    var home: URL { stateDirectory.map { URL(fileURLWithPath: $0) } ?? Journal.defaultDirectory() }

    func journal() throws -> Journal {
        try Journal(directory: home)
    }
}

/// Runs an attack: detached (print the uid, return) or in the foreground
/// for its duration, recovering at the end or on SIGINT/SIGTERM.
enum AttackDriver {
    nonisolated(unsafe) static var interrupted: Int32 = 0

    /// Set while the agent runs a command line the front handed over: a
    /// detached attack is left here, prepared, and the agent injects it.
    @TaskLocal static var capture: AttackCapture?

    static func run<Injector: FaultInjector>(_ fault: Injector.Fault, injector: Injector, action: String,
                                             target: String, options: AttackOptions) throws {
        if let capture {
            // A foreground attack stays with the CLI: nothing is captured, the agent declines.
            if options.durationValue == nil { capture.prepared = try prepared(fault, family: Injector.family, action: action, target: target) }
            return
        }
        // A detached attack is handed to the host's running agent when one
        // serves this journal: its warm process makes the change and keeps the record.
        if options.durationValue == nil, let agent = LocalAgentClient.connect(path: LocalAgentClient.socketPath(home: options.home)) {
            do {
                print(try agent.attack(try prepared(fault, family: Injector.family, action: action, target: target)).uid)
                return
            } catch let error as AgentError where error.code == .unsupported {
                // An agent of another build, without this family: done here instead. (Not
                // after a lost answer: the agent may have injected, and twice would be wrong.)
            }
        }
        let journal = try options.journal()
        // A foreground attack's helpers die with it, those it starts again after a loss too.
        let runner = AttackRunner(journal: journal, registry: .standard(detachHelpers: options.durationValue == nil))
        guard let duration = options.durationValue else {
            let uid = try runner.inject(fault, with: injector, action: action, target: target)
            print(uid)
            return
        }
        // Signals only set a flag; the loop below notices and recovers.
        signal(SIGINT) { _ in AttackDriver.interrupted = 1 }
        signal(SIGTERM) { _ in AttackDriver.interrupted = 1 }
        let start = Date()
        let end = start.addingTimeInterval(duration.seconds)
        let uid = try runner.inject(fault, with: injector, action: action, target: target, endsAt: end,
                                    owner: getpid())
        print(uid)
        // Whoever started us needs the uid now, even if we are killed later.
        fflush(nil)
        let terminal = isatty(STDERR_FILENO) == 1
        var lastShown = -1
        var nextCheck = Date().addingTimeInterval(watchInterval)
        var unrestored: String?
        while Date() < end && interrupted == 0 {
            // The liveness check: the fault read back every few seconds, applied again when lost.
            if Date() >= nextCheck {
                nextCheck = Date().addingTimeInterval(watchInterval)
                if let repair = runner.heal(uid) {
                    let line = repair.restored ? "fault lost (\(repair.lost)); restored"
                        : "fault lost (\(repair.lost)); could not restore it: \(repair.error ?? "")"
                    FileHandle.standardError.write(Data(((terminal ? "\r\u{1B}[K" : "") + line + "\n").utf8))
                    if !repair.restored {
                        unrestored = repair.lost
                        break
                    }
                }
            }
            let elapsed = Int(Date().timeIntervalSince(start))
            if elapsed != lastShown {
                let line = "\(action) on \(target): \(elapsed)s of \(Int(duration.seconds))s"
                FileHandle.standardError.write(Data((terminal ? "\r\(line)\u{1B}[K" : line + "\n").utf8))
                lastShown = elapsed
            }
            usleep(100_000)
        }
        if terminal { FileHandle.standardError.write(Data("\n".utf8)) }
        try runner.recover(uid)
        FileHandle.standardError.write(Data("recovered \(uid)\(interrupted != 0 ? " (interrupted)" : "")\n".utf8))
        if let unrestored {
            throw FaultError(.applyFailed, "the fault was lost (\(unrestored)) and could not be applied again: it did not hold for its duration")
        }
    }

    /// The attack as the agent's handoff carries it: the fault as JSON.
    static func prepared(_ fault: some Encodable, family: String, action: String, target: String) throws -> PreparedAttack {
        PreparedAttack(family: family, action: action, target: target,
                       fault: String(decoding: try JSONEncoder().encode(fault), as: UTF8.self))
    }

    /// Seconds between two read-backs of a foreground attack's fault.
    static let watchInterval: TimeInterval = 2
}

/// `tumult attack list`: the journal's attacks.
struct AttackList: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "list", abstract: "List attacks from the journal.")

    @Option(name: .customLong("state-dir"), help: ArgumentHelp("Where the journal lives.", valueName: "path"))
    var stateDirectory: String?

    @Flag(help: "Also list attacks that are recovered or failed.")
    var all = false

    func run() throws {
        let journal = try Journal(directory: stateDirectory.map { URL(fileURLWithPath: $0) } ?? Journal.defaultDirectory())
        let formatter = ISO8601DateFormatter()
        let rows = try journal.attacks().filter { all || $0.needsRecovery }
        print(["UID", "KIND", "ACTION", "TARGET", "STATE", "SINCE"].joined(separator: "\t"))
        for attack in rows {
            print([attack.uid, attack.family, attack.action, attack.target, attack.state.rawValue,
                   formatter.string(from: attack.createdAt)].joined(separator: "\t"))
        }
    }
}

/// `tumult recover UID` / `tumult recover --all`.
struct Recover: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "recover",
        abstract: "Undo attacks recorded in the journal (after a crash too).",
        discussion: "Recovery is idempotent: what is already undone, or a target that no longer exists, counts as recovered."
    )

    @Argument(help: "The attack's uid (or a unique prefix of it).")
    var uid: String?

    @Flag(help: "Recover every attack that is not recovered yet.")
    var all = false

    @Option(name: .customLong("state-dir"), help: ArgumentHelp("Where the journal lives.", valueName: "path"))
    var stateDirectory: String?

    func validate() throws {
        if (uid == nil) == !all { throw ValidationError("Give an attack uid or --all.") }
    }

    func run() throws {
        let home = stateDirectory.map { URL(fileURLWithPath: $0) } ?? Journal.defaultDirectory()
        if let agent = LocalAgentClient.connect(path: LocalAgentClient.socketPath(home: home)) {
            try Self.reply(Result { try agent.recover(AttackRecovery(uid: uid, all: all)) }).emit()
            return
        }
        let journal = try Journal(directory: home)
        let runner = AttackRunner(journal: journal, registry: .standard())
        if all {
            let (recovered, failures) = runner.recoverAll()
            for uid in recovered { print("recovered \(uid)") }
            for (uid, failure) in failures.sorted(by: { $0.key < $1.key }) { printError("\(uid): \(failure)") }
            if !failures.isEmpty { throw ExitCode(1) }
            return
        }
        let matches = try journal.attacks(matching: uid!)
        guard matches.count == 1 else {
            printError(matches.isEmpty ? "no attack \(uid!) in the journal" : "\(uid!) matches \(matches.count) attacks; give more of the uid")
            throw ExitCode(1)
        }
        try runner.recover(matches[0].uid)
        print("recovered \(matches[0].uid)")
    }

    /// What `tumult recover` prints for the agent's answer, and its exit
    /// status: the same from the CLI's handoff and from the agent running
    /// the command line the front handed over.
    static func reply(_ result: Result<AttackRecovery.Outcome, any Error>) -> CommandHandoff.Reply {
        switch result {
        case .success(let outcome):
            let failures = outcome.failures.sorted { $0.key < $1.key }
            return CommandHandoff.Reply(status: failures.isEmpty ? 0 : 1,
                                        standardOutput: outcome.recovered.map { "recovered \($0)\n" }.joined(),
                                        standardError: failures.map { "\($0.key): \($0.value)\n" }.joined())
        case .failure(let error as AgentError) where error.code == .notFound:
            return CommandHandoff.Reply(status: 1, standardError: error.message + "\n")
        case .failure(let error):
            return AgentCommandLines.failure(error)
        }
    }
}
