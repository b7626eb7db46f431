import ArgumentParser
import TumultFaults
import TumultModel

/// `tumult attack time` (TimeChaos; chaosd's `attack clock`).
struct TimeAttack: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "time",
        abstract: "Shift the clocks a target's processes read (TimeChaos).",
        discussion: """
            Every thread of the target's processes (with --netns, every process in that namespace; with --pid, that \
            process and its descendants) reads the chosen clocks shifted by --offset, including calls the vDSO \
            answers without a system call; children they fork during the fault read the same. x86_64 only.
            """,
        aliases: ["clock"]
    )

    @OptionGroup var attack: AttackOptions

    // Unconditional: `--offset -10m` would otherwise read -10m as an option.
    @Option(name: [.customLong("offset"), .customLong("time-offset")], parsing: .unconditional,
            help: ArgumentHelp("How far to shift the clocks, a Go duration; negative goes back (e.g. -10m, 1h30m).",
                               valueName: "duration"))
    var offset: String

    @Option(name: [.customLong("clock-ids"), .customLong("clock-ids-slice")],
            help: ArgumentHelp("The clocks to shift, comma-separated or repeated (default CLOCK_REALTIME): \(ClockID.allCases.map(\.rawValue).joined(separator: ", ")).",
                               valueName: "clocks"))
    var clockIDs: [String] = []

    var clocks: [ClockID] {
        let chosen = clockIDs.flatMap { $0.split(separator: ",") }.compactMap { ClockID(rawValue: $0.trimmingCharacters(in: .whitespaces)) }
        return chosen.isEmpty ? [.realtime] : chosen
    }

    func validate() throws {
        guard attack.netns != nil || attack.pid != nil else {
            throw ValidationError("Give the target: --pid or --netns.")
        }
        guard let parsed = try? GoDuration(parsing: offset), parsed.nanoseconds != 0 else {
            throw ValidationError("--offset: \"\(offset)\" is not a non-zero duration (e.g. -10m, 1h).")
        }
        for name in clockIDs.flatMap({ $0.split(separator: ",") }).map({ $0.trimmingCharacters(in: .whitespaces) })
        where ClockID(rawValue: name) == nil {
            throw ValidationError("--clock-ids: \"\(name)\" is not a clock (one of \(ClockID.allCases.map(\.rawValue).joined(separator: ", "))).")
        }
    }

    func run() throws {
        let nanoseconds = try GoDuration(parsing: offset).nanoseconds
        let fault: TimeFault = if let netns = attack.netns {
            TimeFault(target: .networkNamespace(netns), offsetNanoseconds: nanoseconds, clocks: clocks)
        } else {
            TimeFault(target: .pid(attack.pid!), offsetNanoseconds: nanoseconds, clocks: clocks, includeDescendants: true)
        }
        try AttackDriver.run(fault, injector: TimeFaultInjector(), action: "time skew",
                             target: fault.target.description, options: attack)
    }
}
