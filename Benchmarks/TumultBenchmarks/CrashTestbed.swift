import Foundation
import TumultSystem

/// One fault family's test host for the crash soak: two network
/// namespaces of the soak's own, `tmt-<tag>-<n>a` (the target) and
/// `-<n>b` (its peer), joined by a veth pair (`eth0` in each) with
/// addresses in a random 10.2xx.x.0/24; a `sleep 1000` inside the target
/// (what process faults stop and freeze, and whose cgroups stress workers
/// join); `/etc/netns/<a>/resolv.conf` naming the peer as the resolver (a
/// DNS fault's other queries stay inside the pair); and a directory under
/// the soak's work directory for disk faults.
final class CrashTestbed {
    let a: String
    let b: String
    let subnet: String
    let disk: String
    private(set) var targetPID: Int32 = 0
    private(set) var inodes: Set<UInt64> = []
    let runner = ProcessCommandRunner()

    var addressA: String { "\(subnet).1" }
    var addressB: String { "\(subnet).2" }
    var resolverDirectory: String { "/etc/netns/\(a)" }

    init(tag: String, index: Int, work: String) {
        a = "tmt-\(tag)-\(index)a"
        b = "tmt-\(tag)-\(index)b"
        subnet = "10.\(Int.random(in: 200...249)).\(Int.random(in: 0...255))"
        disk = "\(work)/disk-\(index)"
    }

    /// Makes the namespaces, the veth pair, the target and the directories.
    func build() throws {
        func host(_ arguments: [String]) throws {
            try runner.check(Command(arguments), doing: "building the crash soak's test host")
        }
        try host(["ip", "netns", "add", a])
        try host(["ip", "netns", "add", b])
        // Made inside the namespaces: no device ever exists on the host.
        try host(["ip", "link", "add", "eth0", "netns", a, "type", "veth", "peer", "name", "eth0", "netns", b])
        try host(["ip", "-n", a, "addr", "add", "\(addressA)/24", "dev", "eth0"])
        try host(["ip", "-n", b, "addr", "add", "\(addressB)/24", "dev", "eth0"])
        for namespace in [a, b] {
            try host(["ip", "-n", namespace, "link", "set", "eth0", "up"])
            try host(["ip", "-n", namespace, "link", "set", "lo", "up"])
        }
        // The baseline is taken with both ends' carrier up, not while the veth is still coming up.
        for namespace in [a, b] {
            for _ in 0..<200 {
                let link = (try? runner.run(Command(["ip", "-n", namespace, "link", "show", "eth0"])))?.stdout ?? ""
                if link.contains("LOWER_UP") && link.contains("state UP") { break }
                usleep(10_000)
            }
        }
        inodes = Set([a, b].compactMap { Self.inode(ofNamespace: $0) })
        try FileManager.default.createDirectory(atPath: resolverDirectory, withIntermediateDirectories: true)
        try "nameserver \(addressB)\n".write(toFile: resolverDirectory + "/resolv.conf", atomically: true, encoding: .utf8)
        try FileManager.default.createDirectory(atPath: disk, withIntermediateDirectories: true)
        try startTarget()
    }

    /// Starts (again) the `sleep 1000` the process families aim at.
    func startTarget() throws {
        if targetPID > 0 { stopTarget() }
        let child = try Spawn.start(NetworkNamespace.named(a).wrap(Command(["sleep", "1000"])).arguments, captureOutput: false)
        targetPID = child.pid
        // `ip netns exec` execs the sleep: wait until it has.
        for _ in 0..<200 {
            if let command = try? String(contentsOfFile: "/proc/\(targetPID)/comm", encoding: .utf8),
               command.hasPrefix("sleep") { return }
            usleep(5_000)
        }
        throw BenchmarkError("the target `sleep 1000` in \(a) did not start")
    }

    /// The target is there and running (a round may last past its 1000 s).
    func ensureTarget() throws {
        let state = ProcessEntry.state(of: targetPID)
        if state == nil || state == "Z" || state == "X" { try startTarget() }
    }

    func stopTarget() {
        guard targetPID > 0 else { return }
        kill(targetPID, SIGCONT)
        kill(targetPID, SIGKILL)
        // Not waiting for ever: a target left in a frozen cgroup dies only once thawed.
        var status: Int32 = 0
        for _ in 0..<400 where waitpid(targetPID, &status, WNOHANG) == 0 { usleep(5_000) }
        targetPID = 0
    }

    /// Everything gone: whatever still runs inside, both namespaces, the
    /// resolver file, the disk directory.
    func tearDown() {
        stopTarget()
        for namespace in [a, b] {
            let pids = (try? runner.run(Command(["ip", "netns", "pids", namespace])))?.stdout ?? ""
            for pid in pids.split(separator: "\n").compactMap({ Int32($0) }) {
                kill(pid, SIGCONT)
                kill(pid, SIGKILL)
            }
            _ = try? runner.run(Command(["ip", "netns", "del", namespace]))
        }
        try? FileManager.default.removeItem(atPath: resolverDirectory)
        try? FileManager.default.removeItem(atPath: disk)
        inodes = []
    }

    /// Torn down and built afresh: after a round that left something behind,
    /// so the next round starts from a clean host.
    func rebuild() throws {
        tearDown()
        try build()
    }

    static func inode(ofNamespace name: String) -> UInt64? {
        var info = stat()
        guard stat("/var/run/netns/\(name)", &info) == 0 else { return nil }
        return UInt64(info.st_ino)
    }
}
