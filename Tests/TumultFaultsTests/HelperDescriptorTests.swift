import Foundation
import Testing
import TumultSystem

/// Every helper Tumult starts — the userspace engine `tumult-netem`, the
/// DNS responder `tumult dns-responder`, `tumult-stress` workers, disk
/// payload workers — holds standard input, output and error and what it
/// opened itself, nothing else: not the server's listening socket, its
/// SQLite files, its epoll or eventfd, nor a pipe of whoever started it.
/// Each is started every way there is: by `tumult server` (an experiment,
/// or chaosd's attack API for the payload), by `tumult attack` detached
/// and in the foreground, and by `tumult run`.
@Suite(.serialized, .enabled(if: getuid() == 0))
struct HelperDescriptorTests {
    /// Every helper every way, except the payload in `tumult run`: no Chaos
    /// Mesh kind that Tumult runs makes disk payload (IOChaos goes through a file system).
    static let spots: [Spot] = {
        var spots: [Spot] = []
        for way in [Way.server, .detached, .attack, .run] {
            for family in [Family.delay, .dns, .stress, .payload] where !(way == .run && family == .payload) {
                spots.append(Spot(family: family, way: way))
            }
        }
        return spots
    }()

    /// One helper's descriptors and the ones it should not hold.
    struct Audit: Sendable {
        var spot: Spot
        var pid: Int32
        var command: String
        var descriptors: [(fd: Int32, target: String)]
        var offending: [String]
    }

    @Test func everyHelperHoldsOnlyItsStandardStreamsAndWhatItOpenedItself() async throws {
        let field = try await offPool { try SoakField(spots: Self.spots, stressLoad: 10) }
        // Long enough to look at every helper at leisure; everything is stopped at the end.
        let context = SoakContext(field: field, duration: 120)
        defer {
            context.tearDown()
            field.tearDown()
        }
        let scenarios = Self.spots.map(context.scenario)
        let server = try context.startServer(port: try LoopbackHTTP.freePort())
        let answered = try await offPool { server.firstAnswer(within: 20) }
        try #require(answered != nil, "tumult server did not answer:\n\(server.process.tail())")

        let (audits, missing, leftovers) = try await offPool { Self.inspect(scenarios, context, server: server) }
        print("helpers and their descriptors:\n" + audits.map { audit in
            "\(audit.spot): \(audit.command) (pid \(audit.pid)): "
                + audit.descriptors.map { "\($0.fd) \($0.target)" }.joined(separator: ", ")
        }.joined(separator: "\n"))
        for scenario in scenarios {
            let problems = scenario.problems.joined(separator: "\n")
            #expect(problems.isEmpty, "\(scenario.spot): \(problems)")
        }
        let absent = missing.map(\.description).joined(separator: ", ")
        #expect(absent.isEmpty, "no helper found for \(absent)")
        for audit in audits {
            let offending = audit.offending.joined(separator: "\n")
            #expect(offending.isEmpty, """
                \(audit.spot): \(audit.command) (pid \(audit.pid)) holds descriptors it did not open itself:
                \(offending)
                """)
        }
        let left = leftovers.joined(separator: "; ")
        #expect(left.isEmpty, "helpers still running after every fault was recovered: \(left)")
    }

    /// Starts every helper, audits each, then stops them all and returns
    /// the audits, the spots without a helper, and helpers left running.
    static func inspect(_ scenarios: [Scenario], _ context: SoakContext, server: FixedPortServer) -> ([Audit], [Spot], [String]) {
        _ = inParallel(scenarios.map { scenario in { @Sendable in scenario.launch() } })
        let listening = Set(SocketTable.listening(port: server.port, seenBy: server.pid))
        var audits: [Audit] = []
        var missing: [Spot] = []
        for scenario in scenarios where scenario.readyAt != nil {
            // A helper may still be starting: look for up to 5 s.
            var helpers: [Int32] = []
            let deadline = Date().addingTimeInterval(5)
            repeat {
                helpers = context.field.helpers(scenario.spot)
                if helpers.isEmpty { usleep(100_000) }
            } while helpers.isEmpty && Date() < deadline
            if helpers.isEmpty { missing.append(scenario.spot) }
            // Whoever started the helper: the server, or the tumult process of the run or attack; and this test.
            var starters: [Int32] = [getpid()]
            switch scenario.spot.way {
            case .server: starters.append(server.pid)
            case .run, .attack: if let process = scenario.process { starters.append(process.child.pid) }
            case .detached: break
            }
            let scratch = context.field.scratches[scenario.spot]?.path
            for pid in helpers {
                if let audit = audit(pid, spot: scenario.spot, starters: starters, serverPort: server.port,
                                     serverListening: listening, scratch: scratch) {
                    audits.append(audit)
                }
            }
            // A payload worker's `dd` lives for one pass (milliseconds on
            // tmpfs): watch the loops' children for one and audit it at once.
            let passes = Date().addingTimeInterval(3)
            var passAudited = scenario.spot.family != .payload
            while !passAudited && Date() < passes {
                for shell in helpers {
                    for child in children(of: shell) where ProcessTable.entry(child)?.command == "dd" {
                        if let audit = audit(child, spot: scenario.spot, starters: starters, serverPort: server.port,
                                             serverListening: listening, scratch: scratch) {
                            audits.append(audit)
                            passAudited = true
                        }
                    }
                }
                usleep(1_000)
            }
        }
        // Stop everything the way a user does: SIGTERM to the run and the
        // foreground attacks, recover the detached ones, delete chaosd's, stop the server.
        _ = inParallel(scenarios.map { scenario in { @Sendable in scenario.abort() } })
        server.stop()
        var leftovers: [String] = []
        for spot in scenarios.map(\.spot) {
            let left = context.field.helpers(spot)
            if !left.isEmpty {
                leftovers.append("\(spot): " + left.map { "\(ProcessTable.entry($0)?.command ?? "?") (pid \($0))" }.joined(separator: ", "))
            }
        }
        return (audits, missing, leftovers)
    }

    /// The children of `pid`, from /proc.
    static func children(of pid: Int32) -> [Int32] {
        let text = (try? String(contentsOfFile: "/proc/\(pid)/task/\(pid)/children", encoding: .utf8)) ?? ""
        return text.split(separator: " ").compactMap { Int32($0.trimmingCharacters(in: .whitespacesAndNewlines)) }
    }

    /// Reads a helper's descriptors and names every one it should not hold.
    static func audit(_ pid: Int32, spot: Spot, starters: [Int32], serverPort: Int, serverListening: Set<UInt64>,
                      scratch: String?) -> Audit? {
        guard let command = ProcessTable.entry(pid)?.command else { return nil }
        let directory = "/proc/\(pid)/fd"
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: directory) else { return nil }
        var descriptors: [(fd: Int32, target: String)] = []
        for name in names {
            guard let fd = Int32(name), let target = try? FileManager.default.destinationOfSymbolicLink(atPath: "\(directory)/\(name)") else {
                continue
            }
            descriptors.append((fd, target))
        }
        // Gone (or exiting) before it could be read.
        guard !descriptors.isEmpty, ProcessTable.entry(pid)?.isGone == false else { return nil }
        descriptors.sort { $0.fd < $1.fd }
        let sockets = SocketTable.entries(seenBy: pid)
        let shared = sharedOpenFiles(pid, with: starters)
        let standard = Set(descriptors.filter { $0.fd <= 2 }.map(\.target))
        var offending: [String] = []
        var described: [(fd: Int32, target: String)] = []
        for (fd, target) in descriptors {
            var what = target
            var inode: UInt64?
            if target.hasPrefix("socket:["), let number = UInt64(target.dropFirst(8).dropLast()) {
                inode = number
                what += " (" + (sockets[number]?.description ?? "not a socket of its own network namespace") + ")"
            }
            described.append((fd, what))
            let reason: String? = {
                if let inode, serverListening.contains(inode) {
                    return "the server's listening socket 127.0.0.1:\(serverPort)\n\(SocketTable.whoListens(port: serverPort))"
                }
                if target.hasSuffix(".sqlite") || target.hasSuffix(".sqlite-wal") || target.hasSuffix(".sqlite-shm") {
                    return "Tumult's SQLite files"
                }
                if let origin = shared[fd] { return "the same open file as \(origin)" }
                if fd <= 2 { return nil }
                if target.hasPrefix("pipe:") && !standard.contains(target) {
                    return "a pipe that is not its standard input, output or error"
                }
                if let inode, sockets[inode]?.listening == true, !Self.wholeProgram.contains(command) {
                    return "a TCP listening socket"
                }
                return allowed(target, command: command, socket: inode.flatMap { sockets[$0] }, scratch: scratch)
                    ? nil : "not something this helper opens"
            }()
            if let reason { offending.append("fd \(fd) -> \(what): \(reason)") }
        }
        return Audit(spot: spot, pid: pid, command: command, descriptors: described, offending: offending)
    }

    /// The responder is the whole program (`tumult-cli`, which the front
    /// program `tumult` becomes, or `tumult` in an older layout).
    static let wholeProgram: Set<String> = ["tumult", "tumult-cli"]

    /// What each helper opens itself (read from its source): the engine a
    /// signalfd, its NFQUEUE netlink socket and raw sockets to re-send
    /// packets; the responder (SwiftNIO) its epoll, eventfd and timerfd and
    /// UDP and TCP sockets in the target's namespace; the payload's `dd`
    /// /dev/zero and its file; stress workers and the payload's shell nothing.
    /// Any program also opens, for a moment while it starts, the dynamic
    /// loader's cache, its shared libraries and the C library's locale
    /// files: a short-lived `dd` is often caught doing so.
    static func allowed(_ target: String, command: String, socket: SocketTable.Entry?, scratch: String?) -> Bool {
        if target == "/dev/null" { return true }
        let startup = ["/etc/ld.so.cache", "/etc/locale.alias"]
        let startupDirectories = ["/lib/", "/lib64/", "/usr/lib/", "/usr/lib64/", "/usr/share/locale/"]
        if startup.contains(target) || startupDirectories.contains(where: { target.hasPrefix($0) }) { return true }
        switch command {
        case "tumult-netem":
            // Its own sockets: the queue and rtnetlink, raw IP for duplicates, and the
            // packet socket that re-sends delayed GSO packets whole.
            return target == "anon_inode:[signalfd]" || ["netlink", "raw", "raw6", "packet"].contains(socket?.kind ?? "")
                || (target.contains("tumult") && target.hasSuffix(".json"))
        case _ where wholeProgram.contains(command):
            return ["anon_inode:[eventpoll]", "anon_inode:[eventfd]", "anon_inode:[timerfd]"].contains(target)
                || ["tcp", "tcp6", "udp", "udp6"].contains(socket?.kind ?? "")
        case "dd":
            return target == "/dev/zero" || (scratch.map { target.hasPrefix($0 + "/tumult-payload-") } ?? false)
        default:
            return false
        }
    }

    /// Descriptors of `helper` that are the very same open file as one of
    /// another process's (kcmp(2) KCMP_FILE, through python's ctypes): an
    /// inherited descriptor, whatever its kind. Returns fd → "fd N of COMM (pid P)".
    static func sharedOpenFiles(_ helper: Int32, with others: [Int32]) -> [Int32: String] {
        let script = """
            import ctypes, os, sys
            libc = ctypes.CDLL(None, use_errno=True)
            number = {"x86_64": 312, "aarch64": 272}.get(os.uname().machine, 312)
            def fds(pid):
                try: return [int(x) for x in os.listdir("/proc/%d/fd" % pid)]
                except OSError: return []
            helper = int(sys.argv[1])
            mine = fds(helper)
            for other in map(int, sys.argv[2:]):
                for theirs in fds(other):
                    for fd in mine:
                        if libc.syscall(ctypes.c_long(number), ctypes.c_long(helper), ctypes.c_long(other), ctypes.c_long(0),
                                        ctypes.c_long(fd), ctypes.c_long(theirs)) == 0:
                            print(fd, other, theirs)
            """
        let output = runToEnd(["python3", "-c", script, String(helper)] + others.filter { $0 != helper }.map(String.init)).stdout
        var shared: [Int32: String] = [:]
        for line in output.split(separator: "\n") {
            let fields = line.split(separator: " ").compactMap { Int32($0) }
            guard fields.count == 3 else { continue }
            let owner = fields[1] == getpid() ? "this test" : (ProcessTable.entry(fields[1])?.command ?? "?")
            shared[fields[0]] = "fd \(fields[2]) of \(owner) (pid \(fields[1]))"
        }
        return shared
    }
}
