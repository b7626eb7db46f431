import Foundation
import Testing
import TumultSystem

/// chaosd's attack bodies met as an attacker sends them: names that would
/// escape to another namespace or the host, things that do not exist, and
/// numbers no fault can take. Each is a 400 naming its field, before
/// anything reaches the host: the processes of a namespace reachable only
/// by a path trick keep running, the journal gains no row, the store stays
/// empty.
@Suite(.serialized, .enabled(if: getuid() == 0))
struct ChaosdValidationTests {
    /// A named namespace of the test's own, bind-mounted a second time
    /// outside /run/netns (where `../../tmp/...` from /run/netns lands),
    /// with a process in it that a stop attack would stop.
    final class Hidden: @unchecked Sendable {
        let name = "tmt-\(UInt32.random(in: 0...UInt32.max))"
        let directory: String
        let mount: String
        let sleeper: Spawn.Child

        init() throws {
            directory = "/tmp/\(name)-dir"
            mount = directory + "/ns"
            _ = try Spawn.run(["ip", "netns", "add", name])
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
            FileManager.default.createFile(atPath: mount, contents: nil)
            let bound = try Spawn.run(["mount", "--bind", "/run/netns/\(name)", mount])
            guard bound.status == 0 else { throw LoopbackHTTP.Failure(description: "mount --bind: \(bound.stderr)") }
            sleeper = try Spawn.start(["ip", "netns", "exec", name, "sleep", "600"])
        }

        var sleeperState: Character? { ProcessTable.entry(sleeper.pid)?.state }

        func tearDown() {
            kill(sleeper.pid, SIGCONT)
            kill(sleeper.pid, SIGKILL)
            Spawn.wait(for: sleeper.pid)
            _ = try? Spawn.run(["umount", mount])
            try? FileManager.default.removeItem(atPath: directory)
            _ = try? Spawn.run(["ip", "netns", "del", name])
        }
    }

    @Test func namesThatEscapeOrDoNotExistAndImpossibleNumbersAreA400NamingTheField() async throws {
        let field = try await offPool { try HostileInputTests.Field() }
        defer { field.tearDown() }
        let hidden = try Hidden()
        defer { hidden.tearDown() }
        #expect(try await offPool { field.server.firstAnswer(within: 20) } != nil, "\(field.server.process.tail())")
        let port = field.port
        let traversal = "../..\(hidden.mount)"
        // A pid that existed and is gone.
        let gone = try Spawn.start(["true"])
        Spawn.wait(for: gone.pid)

        let cases: [(path: String, body: String, field: String, says: String)] = [
            ("/api/attack/process", #"{"action":"stop","netns":"\#(traversal)"}"#, "netns", ""),
            ("/api/attack/network", #"{"action":"delay","latency":"100ms","device":"lo","netns":"\#(traversal)"}"#, "netns", ""),
            ("/api/attack/network", #"{"action":"bandwidth","rate":"1mbps","limit":10000,"buffer":10000,"netns":"../../proc/1/ns/net"}"#, "netns", ""),
            ("/api/attack/network", #"{"action":"delay","latency":"100ms","netns":"/run/netns/\#(hidden.name)"}"#, "netns", ""),
            ("/api/attack/network", #"{"action":"delay","latency":"100ms","netns":"tmt-no-such-namespace"}"#, "netns", "tmt-no-such-namespace"),
            ("/api/attack/network", #"{"action":"delay","latency":"100ms","device":"tmt-nodev0","netns":"\#(hidden.name)"}"#, "device", "tmt-nodev0"),
            ("/api/attack/network", #"{"action":"delay","latency":"100ms","device":"../eth0","netns":"\#(hidden.name)"}"#, "device", ""),
            ("/api/attack/network", #"{"action":"delay","latency":"100ms","netns":"\#(hidden.name)","ip-address":"not-an-ip"}"#, "ip-address", "not-an-ip"),
            ("/api/attack/network", #"{"action":"delay","latency":"-10ms","netns":"\#(hidden.name)"}"#, "latency", "-10ms"),
            ("/api/attack/network", #"{"action":"bandwidth","rate":"1mbps","limit":-1,"buffer":10000,"netns":"\#(hidden.name)"}"#, "limit", "-1"),
            ("/api/attack/network", #"{"action":"delay","latency":"100ms","pid":\#(gone.pid)}"#, "pid", ""),
            ("/api/attack/process", #"{"action":"kill","process":"1"}"#, "process", ""),
            ("/api/attack/process", #"{"action":"kill","process":"\#(getpid())"}"#, "process", ""),
            ("/api/attack/process", #"{"action":"kill","process":"\#(gone.pid)"}"#, "process", ""),
            ("/api/attack/process", #"{"action":"kill","process":"\#(field.target.pid)","signal":0}"#, "signal", ""),
            ("/api/attack/stress", #"{"action":"mem","size":"999999TB","pid":\#(field.target.pid)}"#, "size", "999999TB"),
            ("/api/attack/stress", #"{"action":"cpu","load":10,"workers":1,"pid":0}"#, "pid", ""),
            ("/api/attack/disk", #"{"action":"fill","path":"tmp/relative","size":"1MB"}"#, "path", ""),
            ("/api/attack/disk", #"{"action":"fill","path":"/tmp/../etc","size":"1MB"}"#, "path", ""),
            ("/api/attack/disk", #"{"action":"write-payload","path":"/tmp","size":"1MB","payload-process-num":0}"#, "payload-process-num", ""),
            ("/api/attack/clock", #"{"pid":\#(field.target.pid),"time-offset":"90xs"}"#, "time-offset", "90xs"),
            ("/api/attack/clock", #"{"pid":\#(field.target.pid),"time-offset":"-10m","clock-ids-slice":"CLOCK_NOPE"}"#, "clock-ids-slice", "CLOCK_NOPE"),
            ("/api/attack/clock", #"{"pid":1,"time-offset":"-10m"}"#, "pid", ""),
            ("/api/attack/clock", #"{"time-offset":"-10m"}"#, "pid", ""),
        ]
        let before = try field.counts()
        for (path, body, name, says) in cases {
            let answer = try HostileInputTests.post(port: port, path, body, ["Content-Type: application/json"])
            #expect(answer.status == 400, "\(path) \(body): \(answer)")
            let errors = answer.json?["errors"] as? [[String: Any]]
            #expect(errors?.first?["path"] as? String == name, "\(path) \(body): \(answer)")
            #expect(answer.message.hasPrefix("\(name): ") && (says.isEmpty || answer.message.contains(says)), "\(path) \(body): \(answer)")
        }
        #expect(try field.counts() == before, "a refused body left a row")
        #expect(hidden.sleeperState != "T", "the hidden namespace's process was stopped")
        #expect(field.targetState != "T" && field.targetState != nil)
        let qdiscs = try Spawn.run(["tc", "-n", hidden.name, "qdisc", "show", "dev", "lo"]).stdout
        #expect(!qdiscs.contains("tbf") && !qdiscs.contains("htb"), "\(qdiscs)")
        #expect(!FileManager.default.fileExists(atPath: "/tmp/relative"))
        #expect(field.server.isRunning)
    }
}
