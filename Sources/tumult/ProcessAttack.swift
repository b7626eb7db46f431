import ArgumentParser
import Foundation
import TumultDaemon
import TumultFaults
import TumultModel

/// `tumult attack process ACTION`.
struct ProcessAttack: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "process",
        abstract: "Kill, stop or freeze processes.",
        discussion: ProcessOptions.selection,
        subcommands: [ProcessKill.self, ProcessStop.self, ProcessFreeze.self]
    )
}

/// The selector every process action takes.
struct ProcessOptions: ParsableArguments {
    static let selection = "Name the processes with exactly one of --netns (every process in that network namespace), "
        + "--pid (that process itself, not its namespace), --process (by name) or --cgroup. Tumult itself, the shell "
        + "that runs it, pid 1 and Tumult's helpers are never targets."

    @OptionGroup var attack: AttackOptions

    @Option(name: .customLong("process"),
            help: ArgumentHelp("Every process with this name (comm or argv[0]'s base name), host-wide.", valueName: "name"))
    var name: String?

    @Option(help: ArgumentHelp("The processes of this cgroup and those below it: a v2 path, or a v1 path from a hierarchy's root (CONTROLLER:PATH picks the hierarchy).",
                               valueName: "path"))
    var cgroup: String?

    func validate() throws {
        let given = [attack.netns != nil, attack.pid != nil, name != nil, cgroup != nil].filter { $0 }.count
        guard given == 1 else { throw ValidationError("Give exactly one of --netns, --pid, --process, --cgroup.") }
        if name?.isEmpty == true { throw ValidationError("--process needs a name.") }
        if let cgroup {
            // CONTROLLER:PATH or PATH; the path is read from the hierarchy's root, so `..` would leave it.
            let path = cgroup.hasPrefix("/") ? cgroup : String(cgroup.split(separator: ":", maxSplits: 1).last ?? "")
            if let problem = HostNames.problem(withPath: path.hasPrefix("/") ? path : "/" + path) {
                throw ValidationError("--cgroup: \(problem).")
            }
        }
    }

    var target: ProcessTarget {
        if let netns = attack.netns { return .networkNamespace(netns) }
        if let pid = attack.pid { return .pid(pid) }
        if let name { return .name(name) }
        return .cgroup(cgroup ?? "/")
    }

    func run(_ fault: ProcessFault) throws {
        try AttackDriver.run(fault, injector: ProcessFaultInjector(), action: "process \(fault.action.rawValue)",
                             target: fault.target.description, options: attack)
    }
}

struct ProcessKill: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "kill",
        abstract: "Send a signal (SIGKILL by default) to the processes.",
        discussion: ProcessOptions.selection + "\n\nA kill cannot be undone: the attack is journaled and ends as recovered at once. With --grace-period, "
            + "SIGTERM goes first and SIGKILL follows for whatever is still alive after that many seconds (PodChaos gracePeriod)."
    )
    @OptionGroup var options: ProcessOptions

    @Option(help: ArgumentHelp("The signal: a name (KILL, SIGTERM) or a number.", valueName: "signal"))
    var signal: String = "SIGKILL"

    @Option(name: .customLong("grace-period"),
            help: ArgumentHelp("SIGTERM, then SIGKILL after this many seconds.", valueName: "seconds"))
    var gracePeriod: Double?

    func validate() throws {
        guard SignalName.number(parsing: signal) != nil else {
            throw ValidationError("--signal: \"\(signal)\" is not a signal name or number (1-64).")
        }
        if let gracePeriod, !(gracePeriod >= 0 && gracePeriod.isFinite) {
            throw ValidationError("--grace-period must be 0 or more seconds.")
        }
        if gracePeriod != nil, SignalName.number(parsing: signal) != SIGKILL {
            throw ValidationError("--grace-period sends SIGTERM then SIGKILL; it does not take --signal.")
        }
        if options.attack.duration != nil {
            throw ValidationError("kill is one-shot: --duration does not apply.")
        }
    }

    func run() throws {
        var fault = ProcessFault(action: .kill, target: options.target)
        fault.signal = SignalName.number(parsing: signal) ?? SIGKILL
        fault.gracePeriod = gracePeriod
        let runner = AttackRunner(journal: try options.attack.journal(), registry: .standard())
        let uid = try runner.inject(fault, with: ProcessFaultInjector(), action: "process kill",
                                    target: fault.target.description)
        // Nothing to undo: the journal keeps what was signalled, and the attack is over.
        try runner.recover(uid)
        print(uid)
    }
}

struct ProcessStop: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "stop",
        abstract: "SIGSTOP the processes; recovery sends SIGCONT.",
        discussion: ProcessOptions.selection + "\n\nProcesses stopped already are left alone, and not resumed on recovery."
    )
    @OptionGroup var options: ProcessOptions

    func run() throws {
        try options.run(ProcessFault(action: .stop, target: options.target))
    }
}

struct ProcessFreeze: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "freeze",
        abstract: "Freeze the processes with the cgroup freezer (pod-failure on a host); recovery thaws them.",
        discussion: ProcessOptions.selection + "\n\nA cgroup that holds targets only (or the one --cgroup names) is frozen where it is. Targets that share "
            + "their cgroup with other processes, or sit in the root cgroup, are moved into a cgroup tmt-<attack> made "
            + "below theirs, which is frozen; recovery thaws it, moves them back and removes it."
    )
    @OptionGroup var options: ProcessOptions

    func run() throws {
        try options.run(ProcessFault(action: .freeze, target: options.target))
    }
}
