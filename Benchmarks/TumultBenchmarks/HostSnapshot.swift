import Foundation
import TumultSystem

/// What the crash soak owns on a machine other people use too: every
/// `tumult` it runs has a `TUMULT_HOME` under its work directory (and
/// Tumult's helpers inherit it), its namespaces, and the attacks its
/// journals name (helpers carry `TUMULT_ATTACK=<uid>`, a freeze's cgroup is
/// `tmt-<first 8 of the uid>`). Only what it owns is compared, so another
/// engineer's test running beside it is never counted as a leftover.
struct SoakOwnership {
    var work: String
    var inodes: Set<UInt64> = []
    var attacks: Set<String> = []

    func owns(_ process: ProcessEntry) -> Bool {
        if let home = process.environment["TUMULT_HOME"], home.hasPrefix(work) { return true }
        if let inode = process.networkInode, inodes.contains(inode) { return true }
        if let attack = process.environment["TUMULT_ATTACK"], attacks.contains(attack) { return true }
        return false
    }

    /// `tmt-<8 hex digits>` naming one of the soak's attacks.
    func ownsCgroup(named name: String) -> Bool {
        guard name.hasPrefix("tmt-") else { return false }
        let prefix = name.dropFirst(4)
        return prefix.count == 8 && attacks.contains { $0.hasPrefix(prefix) }
    }
}

/// What `/proc` says about one process: enough to tell the soak's own
/// and to name a leftover.
struct ProcessEntry {
    var pid: Int32
    var command: String
    var state: Character
    var arguments: [String]
    var environment: [String: String]
    var networkInode: UInt64?

    static let environmentKeys: Set<String> = ["TUMULT_HOME", "TUMULT_ATTACK"]

    static func read(_ pid: Int32) -> ProcessEntry? {
        guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
              let open = stat.firstIndex(of: "("), let close = stat.lastIndex(of: ")"),
              let state = stat[stat.index(after: close)...].split(separator: " ").first?.first else { return nil }
        let command = String(stat[stat.index(after: open)..<close])
        let arguments = (FileManager.default.contents(atPath: "/proc/\(pid)/cmdline") ?? Data())
            .split(separator: 0).map { String(decoding: $0, as: UTF8.self) }
        var environment: [String: String] = [:]
        for entry in (FileManager.default.contents(atPath: "/proc/\(pid)/environ") ?? Data()).split(separator: 0) {
            let text = String(decoding: entry, as: UTF8.self)
            guard let equals = text.firstIndex(of: "=") else { continue }
            let key = String(text[..<equals])
            if environmentKeys.contains(key) { environment[key] = String(text[text.index(after: equals)...]) }
        }
        return ProcessEntry(pid: pid, command: command, state: state, arguments: arguments, environment: environment,
                            networkInode: namespaceInode(pid))
    }

    static func all() -> [ProcessEntry] {
        let entries = (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []
        return entries.compactMap(Int32.init).filter { $0 != getpid() }.compactMap(read)
    }

    static func state(of pid: Int32) -> Character? {
        guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
              let close = stat.lastIndex(of: ")") else { return nil }
        return stat[stat.index(after: close)...].split(separator: " ").first?.first
    }

    /// The inode in `/proc/PID/ns/net`'s `net:[INODE]`.
    static func namespaceInode(_ pid: Int32) -> UInt64? {
        var buffer = [CChar](repeating: 0, count: 64)
        let count = readlink("/proc/\(pid)/ns/net", &buffer, buffer.count - 1)
        guard count > 0 else { return nil }
        let text = String(decoding: buffer[0..<count].map { UInt8(bitPattern: $0) }, as: UTF8.self)
        return UInt64(text.drop { !$0.isNumber }.prefix { $0.isNumber })
    }

    var isGone: Bool { state == "Z" || state == "X" }

    /// How a leftover is named in the report.
    var summary: String {
        let line = arguments.joined(separator: " ")
        let attack = environment["TUMULT_ATTACK"].map { " TUMULT_ATTACK=\($0)" } ?? ""
        return "\(command) pid \(pid) state \(state)\(attack): \(line.prefix(160))"
    }
}

/// One look at everything a round may touch, as lines `area: text`; two
/// looks compare line by line. Taken before a round and again after its
/// recovery: any difference is a leftover.
struct HostSnapshot {
    private(set) var lines: [String] = []

    /// - `home`: the round's `TUMULT_HOME`, whose journal must hold no
    ///   attack that is not recovered or failed (nil before the round).
    static func take(_ bed: CrashTestbed, ownership: SoakOwnership, home: String?, tumult: String) -> HostSnapshot {
        var snapshot = HostSnapshot()
        let runner = ProcessCommandRunner()
        func add(_ area: String, _ text: String, skipping skip: (Substring) -> Bool = { _ in false },
                 _ transform: (String) -> String = { $0 }) {
            for line in text.split(separator: "\n") where !skip(line) {
                let cleaned = transform(line.trimmingCharacters(in: .whitespaces))
                if !cleaned.isEmpty { snapshot.lines.append("\(area): \(cleaned)") }
            }
        }
        func output(_ arguments: [String]) -> String {
            guard let result = try? runner.run(Command(arguments)) else { return "(could not run \(arguments.joined(separator: " ")))" }
            return result.succeeded ? result.stdout : "(\(arguments.joined(separator: " ")) failed: \(result.stderr.prefix(200)))"
        }
        for namespace in [bed.a, bed.b] {
            add("\(namespace) qdisc", output(["tc", "-n", namespace, "qdisc", "show"]))
            add("\(namespace) filter eth0", output(["tc", "-n", namespace, "filter", "show", "dev", "eth0"]))
            add("\(namespace) iptables", output(["ip", "netns", "exec", namespace, "iptables-save"]),
                skipping: { $0.hasPrefix("#") }, withoutCounters)
            add("\(namespace) nft", output(["ip", "netns", "exec", namespace, "nft", "list", "ruleset"]), withoutCounters)
            add("\(namespace) link", output(["ip", "-n", namespace, "link", "show"]))
            add("\(namespace) ipset", output(["ip", "netns", "exec", namespace, "ipset", "list", "-n"]))
        }
        // The throwaway namespace of the kernel probe (`tmt-probe-N`) a kill may leave behind.
        add("netns", output(["ip", "netns", "list"]), skipping: { !$0.hasPrefix("tmt-probe-") }) {
            String($0.prefix { $0 != " " })
        }

        let targets: Set<Int32> = [bed.targetPID]
        let processes = ProcessEntry.all()
        for process in processes where !process.isGone && !targets.contains(process.pid) && ownership.owns(process) {
            snapshot.lines.append("process: \(process.summary)")
        }
        let mine = Set(processes.filter { ownership.owns($0) }.map(\.pid)).union(targets)
        for pid in targets.sorted() {
            let state = ProcessEntry.state(of: pid).map(String.init) ?? "gone"
            snapshot.lines.append("target: sleep pid \(pid) state \(state)")
            let cgroups = (try? String(contentsOfFile: "/proc/\(pid)/cgroup", encoding: .utf8)) ?? ""
            add("target cgroup", cgroups)
            // IO faults mount over a directory in the target's mount namespace.
            let mounts = (try? String(contentsOfFile: "/proc/\(pid)/mountinfo", encoding: .utf8)) ?? ""
            add("target mount", mounts, skipping: { _ in false }) { $0.split(separator: " ").dropFirst(2).joined(separator: " ") }
        }
        // Time faults patch the vDSO of the target (and of what it forks).
        for patch in ClockPatcher.patchedProcesses(marker: nil) where mine.contains(patch.pid) || ownership.attacks.contains(patch.marker) {
            snapshot.lines.append("patched clocks: pid \(patch.pid) by \(patch.marker)")
        }
        snapshot.lines += CgroupScan.lines(ownership: ownership, pids: mine)

        let files = ((try? FileManager.default.contentsOfDirectory(atPath: bed.disk)) ?? []).sorted()
        for file in files {
            let size = (try? FileManager.default.attributesOfItem(atPath: bed.disk + "/" + file)[.size] as? Int) ?? -1
            snapshot.lines.append("file: \(bed.disk)/\(file) \(size) bytes")
        }
        // The engine's statistics file, one per attack.
        let statistics = "/run/tumult/netem"
        for file in ((try? FileManager.default.contentsOfDirectory(atPath: statistics)) ?? []).sorted()
        where ownership.attacks.contains(String(file.prefix { $0 != "." })) {
            snapshot.lines.append("file: \(statistics)/\(file)")
        }
        if let home {
            let listed = (try? Relaunch.run([tumult, "attack", "list", "--state-dir", home], environment: ["TUMULT_HOME": home]))
            if let listed, listed.succeeded {
                add("journal", listed.stdout, skipping: { $0.hasPrefix("UID\t") }) { $0.replacingOccurrences(of: "\t", with: " ") }
            } else {
                snapshot.lines.append("journal: unreadable: \(listed?.stderr.prefix(200) ?? "tumult did not run")")
            }
        }
        return snapshot
    }

    /// `[12:345]` chain counters (iptables-save) and `counter packets N bytes M` (nft) as zero: traffic is no leftover.
    static func withoutCounters(_ line: String) -> String {
        var text = line.replacingOccurrences(of: #"\[\d+:\d+\]"#, with: "[0:0]", options: .regularExpression)
        text = text.replacingOccurrences(of: #"packets \d+ bytes \d+"#, with: "packets 0 bytes 0", options: .regularExpression)
        return text
    }

    /// Lines here and not in `baseline` (`+`), and there and not here (`-`).
    func differences(from baseline: HostSnapshot) -> [String] {
        var counts: [String: Int] = [:]
        for line in baseline.lines { counts[line, default: 0] += 1 }
        var added: [String] = []
        for line in lines {
            if let count = counts[line], count > 0 { counts[line] = count - 1 } else { added.append("+ " + line) }
        }
        let removed = baseline.lines.filter { line in
            guard let count = counts[line], count > 0 else { return false }
            counts[line] = count - 1
            return true
        }.map { "- " + $0 }
        return added + removed
    }
}

/// The cgroup side of a snapshot: in every hierarchy under /sys/fs/cgroup,
/// the soak's `tmt-*` cgroups, and any frozen cgroup holding one of its
/// processes.
enum CgroupScan {
    static let root = "/sys/fs/cgroup"

    static func lines(ownership: SoakOwnership, pids: Set<Int32>) -> [String] {
        var lines: [String] = []
        let hierarchies = ((try? FileManager.default.contentsOfDirectory(atPath: root)) ?? []).sorted()
        for hierarchy in hierarchies {
            for directory in directories(under: "\(root)/\(hierarchy)") {
                let name = URL(fileURLWithPath: directory).lastPathComponent
                let frozen = isFrozen(directory)
                if ownership.ownsCgroup(named: name) {
                    lines.append("cgroup: \(directory)" + (frozen ? " (frozen)" : ""))
                } else if frozen, !pids.isDisjoint(with: members(directory)) {
                    lines.append("cgroup: \(directory) frozen, holding the soak's processes")
                }
            }
        }
        return lines
    }

    /// Every cgroup directory below `path` (not `path` itself).
    static func directories(under path: String, depth: Int = 0) -> [String] {
        guard depth < 12, let entries = try? FileManager.default.contentsOfDirectory(atPath: path) else { return [] }
        var found: [String] = []
        for entry in entries.sorted() {
            let child = path + "/" + entry
            var isDirectory: ObjCBool = false
            guard FileManager.default.fileExists(atPath: child, isDirectory: &isDirectory), isDirectory.boolValue else { continue }
            found.append(child)
            found += directories(under: child, depth: depth + 1)
        }
        return found
    }

    /// v1 `freezer.state` other than THAWED, or v2 `cgroup.freeze` 1.
    static func isFrozen(_ directory: String) -> Bool {
        if let state = try? String(contentsOfFile: directory + "/freezer.state", encoding: .utf8) {
            return state.trimmingCharacters(in: .whitespacesAndNewlines) != "THAWED"
        }
        if let freeze = try? String(contentsOfFile: directory + "/cgroup.freeze", encoding: .utf8) {
            return freeze.trimmingCharacters(in: .whitespacesAndNewlines) == "1"
        }
        return false
    }

    static func members(_ directory: String) -> Set<Int32> {
        let text = (try? String(contentsOfFile: directory + "/cgroup.procs", encoding: .utf8)) ?? ""
        return Set(text.split(separator: "\n").compactMap { Int32($0) })
    }

    /// The soak's own `tmt-*` cgroups thawed, emptied into their parent and
    /// removed, deepest first: the scrub after a round that left one.
    static func remove(ownedBy ownership: SoakOwnership) {
        let hierarchies = (try? FileManager.default.contentsOfDirectory(atPath: root)) ?? []
        for hierarchy in hierarchies {
            let owned = directories(under: "\(root)/\(hierarchy)")
                .filter { ownership.ownsCgroup(named: URL(fileURLWithPath: $0).lastPathComponent) }
            for directory in owned.sorted(by: { $0.count > $1.count }) {
                write("THAWED", to: directory + "/freezer.state")
                write("0", to: directory + "/cgroup.freeze")
                let parent = URL(fileURLWithPath: directory).deletingLastPathComponent().path
                for pid in members(directory) { write("\(pid)", to: parent + "/cgroup.procs") }
                rmdir(directory)
            }
        }
    }

    /// One write(2) to a cgroup file, as the kernel wants it (no truncation, no temporary file).
    static func write(_ text: String, to path: String) {
        let descriptor = open(path, O_WRONLY | O_CLOEXEC)
        guard descriptor >= 0 else { return }
        defer { close(descriptor) }
        _ = text.withCString { Glibc.write(descriptor, $0, strlen($0)) }
    }
}
