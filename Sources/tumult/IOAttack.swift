import ArgumentParser
import Foundation
import TumultDaemon
import TumultFaults
import TumultModel

/// `tumult attack io latency|fault|attr-override|mistake` (IOChaos).
struct IOAttack: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "io",
        abstract: "Slow down, fail, misreport or corrupt file operations under a target's mount point (IOChaos).",
        discussion: """
            Tumult mounts its own file system over --volume-path in the target's mount namespace (with --pid, that \
            process's; with --netns, the first process's in that namespace). It passes every operation through to \
            the directory underneath and applies the fault to the operations --methods names on the files --path \
            matches. Files the target opened before the fault keep using the original directly, without faults.
            """,
        subcommands: [IOLatencyAttack.self, IOFaultAttack.self, IOAttrOverrideAttack.self, IOMistakeAttack.self]
    )
}

/// Options of every IO action.
struct IOOptions: ParsableArguments {
    @OptionGroup var attack: AttackOptions

    @Option(name: .customLong("volume-path"),
            help: ArgumentHelp("The mount point (or directory) in the target to inject into.", valueName: "path"))
    var volumePath: String

    @Option(help: ArgumentHelp("A glob of the files affected, over their full path (default: every file), e.g. '*.db'.",
                               valueName: "glob"))
    var path: String?

    @Option(name: [.customLong("methods"), .customLong("method")],
            help: ArgumentHelp("The file operations affected, comma-separated or repeated (default: all): \(IOChaosSpec.fuseOperations.joined(separator: ", ")).",
                               valueName: "methods"))
    var methods: [String] = []

    @Option(help: ArgumentHelp("Percent of the matching operations affected, 1-100.", valueName: "percent"))
    var percent: Int = 100

    var methodNames: [String] {
        methods.flatMap { $0.split(separator: ",") }.map { $0.trimmingCharacters(in: .whitespaces).lowercased() }
    }

    func validate() throws {
        guard attack.netns != nil || attack.pid != nil else {
            throw ValidationError("Give the target: --pid or --netns.")
        }
        guard volumePath.hasPrefix("/") else { throw ValidationError("--volume-path: \"\(volumePath)\" is not an absolute path.") }
        guard (1...100).contains(percent) else { throw ValidationError("--percent must be from 1 to 100.") }
        for method in methodNames where !IOChaosSpec.fuseOperations.contains(method) {
            throw ValidationError("--methods: \"\(method)\" is not a file operation (one of \(IOChaosSpec.fuseOperations.joined(separator: ", "))).")
        }
    }

    func run(_ rule: IORule) throws {
        var rule = rule
        rule.path = path
        rule.methods = methodNames
        rule.percent = percent
        let pid: Int32
        if let netns = attack.netns {
            guard let first = try IOChaosTranslator.firstProcess(inNetworkNamespace: netns) else {
                throw ValidationError("--netns: no process runs in \(netns).")
            }
            pid = first
        } else {
            pid = attack.pid!
        }
        let fault = IOFault(pid: pid, volumePath: volumePath, rules: [rule])
        try AttackDriver.run(fault, injector: IOFaultInjector(),
                             action: "io \(rule.action.rawValue)", target: "\(volumePath) of pid \(pid)", options: attack)
    }
}

struct IOLatencyAttack: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "latency", abstract: "Delay each matching operation.")
    @OptionGroup var io: IOOptions
    @Option(help: ArgumentHelp("How long each operation waits first (e.g. 100ms).", valueName: "duration"))
    var delay: String

    func validate() throws {
        guard let parsed = try? GoDuration(parsing: delay), parsed.nanoseconds > 0 else {
            throw ValidationError("--delay: \"\(delay)\" is not a positive duration (e.g. 100ms).")
        }
    }

    func run() throws {
        try io.run(IORule(action: .latency, delayNanoseconds: try GoDuration(parsing: delay).nanoseconds))
    }
}

struct IOFaultAttack: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "fault", abstract: "Fail each matching operation with an error number.")
    @OptionGroup var io: IOOptions
    @Option(help: ArgumentHelp("The error returned, e.g. 5 (EIO), 28 (ENOSPC).", valueName: "n"))
    var errno: Int32 = 5

    func validate() throws {
        guard errno > 0 && errno < 4096 else { throw ValidationError("--errno must be an error number from 1 to 4095.") }
    }

    func run() throws {
        try io.run(IORule(action: .fault, errno: errno))
    }
}

struct IOAttrOverrideAttack: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "attr-override",
                                                    abstract: "Report other attributes (stat) for matching files.")
    @OptionGroup var io: IOOptions
    @Option(help: "Inode number.") var ino: Int64?
    @Option(help: "Size in bytes.") var size: Int64?
    @Option(help: "Blocks.") var blocks: Int64?
    @Option(help: ArgumentHelp("Permission bits in octal, e.g. 0644.", valueName: "octal")) var perm: String?
    @Option(help: "Link count.") var nlink: Int32?
    @Option(help: "Owner uid.") var uid: Int32?
    @Option(help: "Owner gid.") var gid: Int32?
    @Option(help: "Device number.") var rdev: Int32?
    @Option(help: ArgumentHelp("File type: \(IOChaosSpec.fileTypes.joined(separator: ", ")).", valueName: "kind")) var kind: String?
    @Option(help: ArgumentHelp("Access time, seconds since the epoch.", valueName: "seconds")) var atime: Int64?
    @Option(help: ArgumentHelp("Modification time, seconds since the epoch.", valueName: "seconds")) var mtime: Int64?
    @Option(help: ArgumentHelp("Change time, seconds since the epoch.", valueName: "seconds")) var ctime: Int64?

    func validate() throws {
        if let perm, Int(perm, radix: 8).map({ (0...0o7777).contains($0) }) != true {
            throw ValidationError("--perm: \"\(perm)\" is not octal permission bits (e.g. 0644).")
        }
        if let kind, !IOChaosSpec.fileTypes.contains(kind) {
            throw ValidationError("--kind: \"\(kind)\" is not one of \(IOChaosSpec.fileTypes.joined(separator: ", ")).")
        }
        let attributes = [ino, size, blocks, atime, mtime, ctime].map { $0 != nil } + [perm != nil, kind != nil]
            + [nlink, uid, gid, rdev].map { $0 != nil }
        guard attributes.contains(true) else { throw ValidationError("Give at least one attribute to report (e.g. --size, --perm).") }
    }

    func run() throws {
        let attr = IOChaosSpec.AttrOverride(
            ino: ino, size: size, blocks: blocks, atime: atime.map { .init(sec: $0, nsec: 0) },
            mtime: mtime.map { .init(sec: $0, nsec: 0) }, ctime: ctime.map { .init(sec: $0, nsec: 0) }, kind: kind,
            perm: perm.flatMap { Int($0, radix: 8) }, nlink: nlink, uid: uid, gid: gid, rdev: rdev)
        try io.run(IORule(action: .attrOverride, attr: attr))
    }
}

struct IOMistakeAttack: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "mistake",
                                                    abstract: "Corrupt data that matching reads return and writes store.")
    @OptionGroup var io: IOOptions
    @Option(help: "What wrong bytes are: zero or random.") var filling: IOChaosSpec.Mistake.Filling = .zero
    @Option(name: .customLong("max-occurrences"), help: "At most this many wrong segments per operation.")
    var maxOccurrences: Int64 = 1
    @Option(name: .customLong("max-length"), help: "At most this many bytes per wrong segment.")
    var maxLength: Int64 = 1

    func validate() throws {
        guard maxOccurrences >= 1 else { throw ValidationError("--max-occurrences must be at least 1.") }
        guard maxLength >= 1 else { throw ValidationError("--max-length must be at least 1.") }
    }

    func run() throws {
        try io.run(IORule(action: .mistake, mistake: .init(filling: filling, maxOccurrences: maxOccurrences,
                                                           maxLength: maxLength)))
    }
}

extension IOChaosSpec.Mistake.Filling: ExpressibleByArgument {}
