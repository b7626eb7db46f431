import ArgumentParser
import Foundation
import TumultFaults
import TumultModel

/// `tumult attack disk ACTION`, as chaosd's `attack disk fill|add-payload`.
struct DiskAttack: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "disk",
        abstract: "Fill a filesystem or load it with reads or writes.",
        subcommands: [DiskFill.self, DiskPayload.self]
    )
}

/// Options shared by every disk action.
struct DiskOptions: ParsableArguments {
    @OptionGroup var attack: AttackOptions

    @Option(help: ArgumentHelp("A directory on the filesystem to attack; Tumult's files go there.", valueName: "directory"))
    var path = "/tmp"

    /// The directory as an absolute path, so that recovery finds the files from anywhere.
    var directory: String { URL(fileURLWithPath: path).standardizedFileURL.path }

    func validate() throws {
        if attack.netns != nil || attack.pid != nil {
            throw ValidationError("--netns and --pid do not apply to disk attacks: name the filesystem with --path.")
        }
        if let problem = HostNames.problem(withPath: directory) { throw ValidationError("--path: \(problem).") }
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: directory, isDirectory: &isDirectory), isDirectory.boolValue else {
            throw ValidationError("--path: there is no directory \(path).")
        }
    }

    func run(_ fault: DiskFault) throws {
        let injector = DiskFaultInjector(detachWorkers: attack.durationValue == nil)
        try AttackDriver.run(fault, injector: injector, action: "disk \(fault.action.rawValue)", target: directory,
                             options: attack)
    }
}

extension DiskFault.Mode: ExpressibleByArgument {}

struct DiskFill: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "fill",
        abstract: "Fill a filesystem with a file (tumult-fill-*) until recovery deletes it.",
        discussion: "Give --size (how much to add) or --percent (how full to make the filesystem)."
    )

    @OptionGroup var disk: DiskOptions

    @Option(help: ArgumentHelp("How much to add (e.g. 512MB, 1GiB, 2G; a bare number means MiB).", valueName: "size"))
    var size: String?

    @Option(help: ArgumentHelp("Fill the filesystem up to this percentage of its total size.", valueName: "percent"))
    var percent: String?

    @Flag(inversion: .prefixedNo,
          help: "Reserve the space with fallocate, writing zeros only where that fails (default); --no-fill-by-fallocate always writes zeros.")
    var fillByFallocate = true

    func validate() throws {
        guard (size == nil) != (percent == nil) else { throw ValidationError("Give --size or --percent (one of them).") }
        if let bytes = try parseFlag("--size", size, { try ChaosdSize(parsing: $0) })?.bytes, bytes == 0 {
            throw ValidationError("--size must be above 0.")
        }
        if let value = try parseFlag("--percent", percent, { try Percentage(parsing: $0) })?.value, value <= 0 {
            throw ValidationError("--percent must be above 0.")
        }
    }

    func run() throws {
        var fault = DiskFault(action: .fill, directory: disk.directory)
        fault.size = try size.map { try ChaosdSize(parsing: $0).bytes }
        fault.percent = try percent.map { try Percentage(parsing: $0).value }
        fault.fillByFallocate = fillByFallocate
        try disk.run(fault)
    }
}

struct DiskPayload: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "payload",
        abstract: "Load a filesystem with direct reads or writes by dd processes until recovery stops them.",
        discussion: "Each process reads or writes its own file (tumult-payload-*) of --size bytes over and over.",
        aliases: ["add-payload"]
    )

    @OptionGroup var disk: DiskOptions

    @Option(help: "read: read files written for the purpose; write: write zeros.")
    var mode: DiskFault.Mode = .write

    @Option(help: ArgumentHelp("Bytes each process reads or writes per pass (e.g. 64M, 1GiB; a bare number means MiB).",
                               valueName: "size"))
    var size = "64M"

    @Option(name: .customLong("process-num"), help: ArgumentHelp("How many processes do it at once (1-255).", valueName: "n"))
    var processes = 1

    func validate() throws {
        if let bytes = try parseFlag("--size", size, { try ChaosdSize(parsing: $0) })?.bytes, bytes == 0 {
            throw ValidationError("--size must be above 0.")
        }
        guard (1...255).contains(processes) else { throw ValidationError("--process-num must be from 1 to 255.") }
    }

    func run() throws {
        var fault = DiskFault(action: .payload, directory: disk.directory)
        fault.size = try ChaosdSize(parsing: size).bytes
        fault.mode = mode
        fault.processes = processes
        try disk.run(fault)
    }
}
