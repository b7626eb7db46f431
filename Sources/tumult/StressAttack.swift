import ArgumentParser
import TumultFaults
import TumultModel

/// `tumult attack stress cpu|mem`.
struct StressAttack: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "stress",
        abstract: "Load CPUs or take memory inside a target's cgroups (StressChaos).",
        discussion: """
            The workers join the target's cgroup in every hierarchy before they work: with --netns, the cgroups of \
            the first process in that namespace; with --pid, that process's; with neither, the root cgroups (the \
            whole host).
            """,
        subcommands: [StressCPU.self, StressMemory.self]
    )
}

/// Options of both stress actions.
struct StressOptions: ParsableArguments {
    @OptionGroup var attack: AttackOptions

    @Option(help: ArgumentHelp("How many workers (processes) to start, 1-8192.", valueName: "n"))
    var workers: Int = 1

    @Option(name: .customLong("oom-score-adj"),
            help: ArgumentHelp("The workers' oom_score_adj, -1000 (never killed) to 1000 (killed first).", valueName: "n"))
    var oomScoreAdj: Int?

    @Option(name: .customLong("options"), parsing: .unconditionalSingleValue,
            help: ArgumentHelp("Raw stress-ng options (repeatable); run stress-ng instead of Tumult's workers.",
                               valueName: "options"))
    var stressNGOptions: [String] = []

    func validate() throws {
        if !(1...8192).contains(workers) { throw ValidationError("--workers must be from 1 to 8192.") }
        if let oomScoreAdj, !(-1000...1000).contains(oomScoreAdj) {
            throw ValidationError("--oom-score-adj must be from -1000 to 1000.")
        }
    }

    var target: StressFault.Target {
        if let netns = attack.netns { return .networkNamespace(netns) }
        if let pid = attack.pid { return .process(pid) }
        return .host
    }

    func fault(_ action: StressFault.Action) -> StressFault {
        var fault = StressFault(action: action, target: target)
        fault.workers = workers
        fault.oomScoreAdj = oomScoreAdj
        fault.stressNGOptions = stressNGOptions
        return fault
    }

    func run(_ fault: StressFault) throws {
        let injector = StressFaultInjector(detachWorkers: attack.durationValue == nil)
        try AttackDriver.run(fault, injector: injector, action: "stress \(fault.action.rawValue)",
                             target: fault.target.description, options: attack)
    }
}

struct StressCPU: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "cpu", abstract: "Keep CPUs busy: each worker holds --load percent of one CPU.")
    @OptionGroup var stress: StressOptions
    @Option(help: ArgumentHelp("Percent of one CPU each worker keeps busy, 0-100.", valueName: "percent"))
    var load: Int = 100

    func validate() throws {
        if !(0...100).contains(load) { throw ValidationError("--load must be from 0 to 100.") }
    }

    func run() throws {
        var fault = stress.fault(.cpu)
        fault.load = load
        try stress.run(fault)
    }
}

struct StressMemory: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "mem", abstract: "Take memory: each worker allocates --size and keeps every page in use.",
        aliases: ["memory"])
    @OptionGroup var stress: StressOptions
    @Option(help: ArgumentHelp("Memory per worker: bytes with a unit (256MB, 1GiB) or a percentage (25%) of the target cgroup's memory limit, or of the host's memory when it has none.",
                               valueName: "size"))
    var size: String

    func sizeValue() throws -> StressFault.Size {
        let parsed: MemorySize
        do { parsed = try MemorySize(parsing: size) } catch { throw ValidationError("--size: \(error)") }
        switch parsed.amount {
        case .bytes(let bytes)? where bytes > 0: return .bytes(bytes)
        case .percent(let percent)? where percent > 0: return .percent(Double(percent))
        default: throw ValidationError("--size must be above 0.")
        }
    }

    func validate() throws {
        _ = try sizeValue()
    }

    func run() throws {
        var fault = stress.fault(.memory)
        fault.size = try sizeValue()
        try stress.run(fault)
    }
}
