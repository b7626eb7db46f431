import Foundation
import Testing
import TumultSystem

/// The README's quick start, run as a new user runs it: every line of its
/// `sh` block, verbatim, with bash, from the root of the repository, as
/// root, in order. Between the lines the test measures what the comments
/// promise (the route to the pod is the veth, the pod is listed, a ping to
/// it takes 100 ms more while the experiment runs and not once it is paused
/// or deleted), counts every packet the host sends to the pod's /24 by any
/// other device than the veth (there must be none; an iptables rule counts
/// and drops them, so not even a broken README sends one off the machine),
/// and checks that the block's last line leaves nothing of it behind.
///
/// The server is the one `./scripts/install.sh` started on 127.0.0.1:2333
/// with its home in /var/lib/tumult (CI runs install.sh before the tests),
/// and `tumult` is the installed one. When nothing answers on 2333 the test
/// starts the built `tumult server` there itself, with the same home as
/// install.sh gives it (TUMULT_HOME=/var/lib/tumult, which is also the
/// default as root), and puts the build's directory first in PATH: the
/// README's paths stay true as written, and what the test creates in
/// /var/lib/tumult it removes (the directory itself when it made it).
///
/// The pod is the README's: namespace `web-1`, veth `web-1-host`, address
/// 10.99.0.2. No other test uses those names; the test refuses to run (and
/// touches nothing) when any of them is already on the host.
@Suite(.serialized, .enabled(if: getuid() == 0, "needs root: the quick start makes a namespace and a veth"))
struct QuickStartTests {
    static let netns = "web-1"
    static let hostEnd = "web-1-host"
    static let podAddress = "10.99.0.2"
    static let podSubnet = "10.99.0.0/24"
    static let home = "/var/lib/tumult"
    static let serverURL = "http://127.0.0.1:2333"
    static let experiment = "networkchaos/quick-start-delay"

    /// The package's root (the README's working directory).
    static var root: String {
        var url = URL(fileURLWithPath: #filePath)
        for _ in 0..<3 { url.deleteLastPathComponent() }
        return url.path
    }

    /// The commands of the `sh` block under "## Quick start", one per
    /// entry (a line ending in `\` continues on the next).
    static func quickStartLines(of readme: String) throws -> [String] {
        let lines = readme.components(separatedBy: "\n")
        let section = try #require(lines.firstIndex(of: "## Quick start"), "README.md has no \"## Quick start\"")
        let open = try #require(lines[section...].firstIndex(of: "```sh"), "no ```sh block under \"## Quick start\"")
        let close = try #require(lines[(open + 1)...].firstIndex(of: "```"), "the quick start's block does not end")
        var commands: [String] = [], pending = ""
        for line in lines[(open + 1)..<close] {
            if line.hasSuffix("\\") {
                pending += line.dropLast() + " "
                continue
            }
            let command = pending + line
            pending = ""
            let trimmed = command.trimmingCharacters(in: .whitespaces)
            if !trimmed.isEmpty && !trimmed.hasPrefix("#") { commands.append(command) }
        }
        return commands
    }

    @Test func theQuickStartRunsAsWrittenAndNoPacketLeavesTheMachine() async throws {
        let readme = try String(contentsOfFile: Self.root + "/README.md", encoding: .utf8)
        let lines = try Self.quickStartLines(of: readme)
        #expect(lines.count >= 10)
        #expect(FileManager.default.fileExists(atPath: Self.root + "/examples/quick-start-delay.yaml"))

        // Nothing of the quick start may exist yet: the test must not take over someone's pod.
        let host = QuickStartHost()
        let before = try await offPool { try host.leftovers() }
        guard before.isEmpty else {
            Issue.record("the quick start's names are in use on this host, so it cannot run as written: \(before)")
            return
        }

        let session = try await offPool { try QuickStartSession.begin() }
        defer { session.end() }

        var appliedAt: Date?
        for line in lines {
            let started = Date()
            let result = try await offPool { try session.run(line) }
            let elapsed = Date().timeIntervalSince(started)
            session.ran(line, succeeded: result.succeeded)
            #expect(result.succeeded, "`\(line)` exited \(result.status): \(result.stdout)\(result.stderr)")
            guard result.succeeded else { return }
            let command = line.components(separatedBy: "#").first!.trimmingCharacters(in: .whitespaces)

            if command.hasPrefix("ip route get \(Self.podAddress)") {
                // The setup is done: the pod is reached through the veth, at once.
                #expect(result.stdout.contains("dev \(Self.hostEnd)"), "\(result.stdout)")
                let baseline = try await offPool { try host.rtts(count: 3) }
                #expect(baseline.count == 3 && baseline.allSatisfy { $0 < 20 }, "RTT before any fault: \(baseline) ms")
            } else if command.hasPrefix("tumult get pods") {
                #expect(result.stdout.split(separator: "\n").contains {
                    $0.contains("shop") && $0.contains(" \(Self.netns) ") && $0.contains(Self.podAddress) && $0.contains("app=web")
                }, "\(result.stdout)")
            } else if command.hasPrefix("tumult apply") {
                appliedAt = started
                #expect(result.stdout.contains("\(Self.experiment) created"), "\(result.stdout)")
                // Injected a moment after apply; then every reply is 100 ms late.
                let delayed = try await offPool { try host.waitForRTT(timeout: 10) { $0 >= 80 } }
                #expect(delayed, "no ping to the pod was delayed within 10 s of the apply")
                let during = try await offPool { try host.rtts(count: 5) }
                #expect(during.count == 5 && during.allSatisfy { $0 >= 90 && $0 < 300 }, "RTT while it runs: \(during) ms")
            } else if command.hasPrefix("tumult pause") {
                let recovered = try await offPool { try host.waitForRTT(timeout: 5) { $0 < 20 } }
                #expect(recovered, "the delay was still there 5 s after the pause")
            } else if command.hasPrefix("tumult resume"), let appliedAt, Date().timeIntervalSince(appliedAt) < 14 {
                // Resumed well within its 20 s: the same target is delayed again.
                let again = try await offPool { try host.waitForRTT(timeout: 5) { $0 >= 80 } }
                #expect(again, "the delay did not come back after the resume")
            } else if command == "tumult halt" {
                let recovered = try await offPool { try host.waitForRTT(timeout: 5) { $0 < 20 } }
                #expect(recovered, "the delay was still there 5 s after the emergency stop")
            } else if command.hasPrefix("tumult delete") {
                let recovered = try await offPool { try host.waitForRTT(timeout: 5) { $0 < 20 } }
                #expect(recovered, "the delay was still there 5 s after the delete")
            } else if command.hasPrefix("tumult run") {
                #expect(result.stdout.contains("ok: 1 experiment, 1 target injected and recovered"), "\(result.stdout)")
                #expect(elapsed < 15, "`\(command)` took \(Int(elapsed)) s: --duration 5s did not shorten the document's 20 s")
            }
        }

        // The last line removed what the first ones made; nothing left the machine.
        let after = try await offPool { try host.leftovers() }
        #expect(after.isEmpty, "left behind: \(after)")
        #expect(!FileManager.default.fileExists(atPath: Self.home + "/inventory.yaml") || session.hadInventory)
        let sentElsewhere = try await offPool { try session.packetsSentElsewhere() }
        #expect(sentElsewhere == 0, "\(sentElsewhere ?? -1) packets to \(Self.podSubnet) left by another device than \(Self.hostEnd)")
        let listed = try await offPool { try session.tumult(["get", "experiments", "-n", "shop"]) }
        #expect(!listed.stdout.contains("quick-start-delay"), "\(listed.stdout)")
    }
}

/// What the quick start touches on the host, and the pings that measure it.
struct QuickStartHost: Sendable {
    let runner = ProcessCommandRunner()

    /// Whatever of the quick start's pod exists now: the namespace, the
    /// veth's host end, an address or route in its /24 (a wider route, a
    /// VPN's 10.0.0.0/8, is no matter: the /24 on the veth wins over it).
    func leftovers() throws -> [String] {
        var found: [String] = []
        if NetworkNamespace.named(QuickStartTests.netns).exists { found.append("netns \(QuickStartTests.netns)") }
        if try runner.run(Command(["ip", "link", "show", "dev", QuickStartTests.hostEnd])).succeeded {
            found.append("link \(QuickStartTests.hostEnd)")
        }
        let addresses = try runner.run(Command(["ip", "-o", "addr", "show", "to", QuickStartTests.podSubnet])).stdout
        if !addresses.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty { found.append("address \(addresses)") }
        let routes = try runner.run(Command(["ip", "route", "show", "to", "root", QuickStartTests.podSubnet])).stdout
        for route in routes.split(separator: "\n") where route.hasPrefix("10.99.0.") {
            found.append("route \(route)")
        }
        return found
    }

    /// Round-trip times from the host to the pod, in ms (lost pings left out).
    func rtts(count: Int) throws -> [Double] {
        let result = try runner.run(Command(["ping", "-n", "-c", String(count), "-i", "0.2", "-W", "1", QuickStartTests.podAddress]))
        return result.stdout.split(separator: "\n").compactMap { line in
            guard let range = line.range(of: "time=") else { return nil }
            return Double(line[range.upperBound...].prefix { $0.isNumber || $0 == "." })
        }
    }

    /// Pings once every 200 ms until a reply's RTT satisfies `condition`.
    func waitForRTT(timeout: TimeInterval, _ condition: (Double) -> Bool) throws -> Bool {
        let deadline = Date().addingTimeInterval(timeout)
        repeat {
            if try rtts(count: 1).contains(where: condition) { return true }
            usleep(200_000)
        } while Date() < deadline
        return false
    }
}

/// The quick start's surroundings: the server on 2333 (found, or started
/// here), the `tumult` the lines call, the inventory file they overwrite,
/// the packet counter, and the undoing of all of it, whatever line failed.
final class QuickStartSession: @unchecked Sendable {
    /// PATH for the README's lines: the installed `tumult`, or the build's first.
    let path: String
    /// The `tumult` the lines resolve, for the test's own calls.
    let tumultPath: String
    /// Set when no server answered on 2333 and the test started one.
    let ownServer: RunningTumult?
    /// Whether /var/lib/tumult existed before (else it is removed at the end).
    let homeExisted: Bool
    /// The inventory file that was there before, put back at the end.
    let savedInventory: Data?
    var hadInventory: Bool { savedInventory != nil }
    /// The iptables rule that counts (and drops) what goes to the pod's /24 elsewhere than the veth.
    let counterRule: [String]
    /// Experiments and schedules that were not paused before (`tumult halt`
    /// pauses every one; those are resumed at the end).
    let runningBefore: [(reference: String, namespace: String)]
    private let lock = NSLock()
    private var lines: [String: Bool] = [:]

    private init(path: String, tumultPath: String, ownServer: RunningTumult?, homeExisted: Bool, savedInventory: Data?,
                 counterRule: [String], runningBefore: [(reference: String, namespace: String)]) {
        self.path = path
        self.tumultPath = tumultPath
        self.ownServer = ownServer
        self.homeExisted = homeExisted
        self.savedInventory = savedInventory
        self.counterRule = counterRule
        self.runningBefore = runningBefore
    }

    static func begin() throws -> QuickStartSession {
        let built = TumultCLI.executable.path
        let buildDirectory = TumultCLI.executable.deletingLastPathComponent().path
        let systemPath = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
        let installed = systemPath.split(separator: ":").map { "\($0)/tumult" }
            .first { FileManager.default.isExecutableFile(atPath: $0) }
        let homeExisted = FileManager.default.fileExists(atPath: QuickStartTests.home)

        var ownServer: RunningTumult?
        let answering = try Spawn.run([built, "get", "experiments", "--server", QuickStartTests.serverURL]).succeeded
        if !answering {
            // As install.sh starts it: listening on 127.0.0.1:2333, home /var/lib/tumult.
            let server = try RunningTumult(TumultCLI(home: QuickStartTests.home), ["server"])
            guard server.waitForBlocking("listening on \(QuickStartTests.serverURL)") else {
                server.signal(SIGKILL)
                _ = server.wait()
                throw SystemError.processFailed("no server on 2333 and the built one did not start: \(server.text)")
            }
            ownServer = server
        }
        let useInstalled = answering && installed != nil
        let path = useInstalled ? systemPath : buildDirectory + ":" + systemPath
        let tumultPath = useInstalled ? installed! : built

        let savedInventory = FileManager.default.contents(atPath: QuickStartTests.home + "/inventory.yaml")
        let tag = String(UInt32.random(in: 0..<UInt32.max), radix: 36)
        // Dropped as well as counted: should the README regress, its packets
        // still never leave (and the line that sent them fails).
        let counterRule = ["OUTPUT", "-d", QuickStartTests.podSubnet, "!", "-o", QuickStartTests.hostEnd,
                           "-m", "comment", "--comment", "tmt-quick-start-\(tag)", "-j", "DROP"]
        _ = try ProcessCommandRunner().check(Command(["iptables", "-I", "OUTPUT", "1"] + Array(counterRule.dropFirst())),
                                             doing: "adding the packet counter")

        var running: [(reference: String, namespace: String)] = []
        for collection in ["experiments", "schedules"] {
            let listed = try Spawn.run([tumultPath, "get", collection, "-A", "-o", "json", "--server", QuickStartTests.serverURL])
            let items = (try? JSONSerialization.jsonObject(with: Data(listed.stdout.utf8))) as? [[String: Any]] ?? []
            for item in items where (item["status"] as? String) != "paused" {
                guard let kind = item["kind"] as? String, let name = item["name"] as? String,
                      let namespace = item["namespace"] as? String else { continue }
                running.append(("\(kind.lowercased())/\(name)", namespace))
            }
        }
        return QuickStartSession(path: path, tumultPath: tumultPath, ownServer: ownServer, homeExisted: homeExisted,
                                 savedInventory: savedInventory, counterRule: counterRule, runningBefore: running)
    }

    /// One line of the README, verbatim, with bash, from the repository's
    /// root, in a shell with a fresh machine's `TUMULT_*` (none set).
    func run(_ line: String) throws -> CommandResult {
        try Spawn.run(["env", "-C", QuickStartTests.root, "-u", "TUMULT_HOME", "-u", "TUMULT_INVENTORY", "-u", "TUMULT_SERVER",
                       "-u", "TUMULT_TOKEN", "PATH=\(path)", "bash", "-c", line])
    }

    func ran(_ line: String, succeeded: Bool) {
        lock.withLock { lines[line.components(separatedBy: "#").first!.trimmingCharacters(in: .whitespaces)] = succeeded }
    }

    private func ran(prefix: String) -> Bool? {
        lock.withLock { lines.first { $0.key.hasPrefix(prefix) }?.value }
    }

    /// `tumult ARGUMENTS` against the server on 2333.
    func tumult(_ arguments: [String]) throws -> CommandResult {
        try Spawn.run([tumultPath] + arguments + ["--server", QuickStartTests.serverURL])
    }

    /// Packets the counter saw: sent to the pod's /24 by any other device than the veth.
    func packetsSentElsewhere() throws -> Int? {
        let listing = try ProcessCommandRunner().run(Command(["iptables", "-n", "-v", "-x", "-L", "OUTPUT"])).stdout
        let comment = counterRule[counterRule.firstIndex(of: "--comment")! + 1]
        guard let line = listing.split(separator: "\n").first(where: { $0.contains(comment) }) else { return nil }
        return line.split(separator: " ").first.flatMap { Int($0) }
    }

    /// Undoes whatever the lines that ran left, then the test's own set-up.
    func end() {
        let runner = ProcessCommandRunner()
        if ran(prefix: "tumult apply") == true && ran(prefix: "tumult delete") != true {
            _ = try? tumult(["delete", QuickStartTests.experiment, "-n", "shop"])
        }
        if ran(prefix: "tumult halt") == true && ran(prefix: "tumult unhalt") != true {
            _ = try? tumult(["unhalt"])
        }
        if ran(prefix: "tumult halt") == true {
            for item in runningBefore {
                _ = try? tumult(["resume", item.reference, "-n", item.namespace])
            }
        }
        _ = try? runner.run(Command(["ip", "link", "del", QuickStartTests.hostEnd]))
        _ = try? runner.run(Command(["ip", "netns", "del", QuickStartTests.netns]))
        let inventory = QuickStartTests.home + "/inventory.yaml"
        if let savedInventory {
            FileManager.default.createFile(atPath: inventory, contents: savedInventory)
        } else {
            try? FileManager.default.removeItem(atPath: inventory)
        }
        _ = try? runner.run(Command(["iptables", "-D"] + counterRule))
        if let ownServer {
            ownServer.signal(SIGTERM)
            _ = ownServer.wait()
            if !homeExisted { try? FileManager.default.removeItem(atPath: QuickStartTests.home) }
        }
    }
}
