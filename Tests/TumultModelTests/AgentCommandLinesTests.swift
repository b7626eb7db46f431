import ArgumentParser
import Testing
@testable import tumult

/// What the agent does with a command line the front hands over: which
/// attack commands it takes, and that it takes them as prepared attacks
/// without touching the host itself.
@Suite struct AgentCommandLinesTests {
    /// Every attack command, leaves of `tumult attack`.
    static func leaves(_ command: any ParsableCommand.Type) -> [any ParsableCommand.Type] {
        let subcommands = command.configuration.subcommands
        return subcommands.isEmpty ? [command] : subcommands.flatMap(leaves)
    }

    @Test func everyAttackButTheListAndKillIsTaken() {
        let taken = Set(AgentCommandLines.attacks.map(ObjectIdentifier.init))
        let all = Self.leaves(Attack.self)
        let left = all.filter { !taken.contains(ObjectIdentifier($0)) }.map { "\($0)" }.sorted()
        // A new attack command is classified here: handed over, or kept in process and said why in `attacks`.
        #expect(left == ["AttackList", "ProcessKill"])
        #expect(taken.count == AgentCommandLines.attacks.count && taken.isSubset(of: Set(all.map(ObjectIdentifier.init))))
    }

    @Test func aDetachedAttackIsCapturedNotInjected() throws {
        var command = try Tumult.parseAsRoot(["attack", "network", "bandwidth", "--netns", "tmt-nowhere", "--rate", "10mbit",
                                              "--limit", "100000", "--buffer", "10000"])
        let capture = AttackCapture()
        try AttackDriver.$capture.withValue(capture) { try command.run() }
        let prepared = try #require(capture.prepared)
        #expect(prepared.family == "network" && prepared.action == "network bandwidth" && prepared.target.contains("tmt-nowhere"))
        #expect(prepared.fault.contains("\"bandwidth\""))

        // In the foreground the CLI keeps it: nothing captured, and nothing done.
        var foreground = try Tumult.parseAsRoot(["attack", "network", "bandwidth", "--netns", "tmt-nowhere", "--rate", "10mbit",
                                                 "--limit", "100000", "--buffer", "10000", "--duration", "5s"])
        let none = AttackCapture()
        try AttackDriver.$capture.withValue(none) { try foreground.run() }
        #expect(none.prepared == nil)
    }

    /// The agent parses with the leaf command, not the whole tree: the same command, the same values.
    @Test func theNarrowParseIsTheWholeProgramsParse() throws {
        let lines = [["attack", "network", "bandwidth", "--netns", "x", "--rate", "10mbit", "--limit", "100000", "--buffer", "10000"],
                     ["attack", "network", "delay", "--pid", "4242", "--latency", "10ms", "--jitter", "1ms", "--ip", "10.0.0.1"],
                     ["attack", "stress", "memory", "--size", "64MB", "--workers", "2"],
                     ["attack", "process", "stop", "--process", "nginx"],
                     ["recover", "abc123"], ["recover", "--all", "--state-dir", "/tmp/x"]]
        for line in lines {
            let whole = try Tumult.parseAsRoot(line)
            let narrow = try #require(AgentCommandLines.parse(line), "\(line)")
            #expect(type(of: narrow) == type(of: whole) && String(describing: narrow) == String(describing: whole), "\(line)")
        }
        for refused in [["attack", "nothing"], ["attack"], ["attack", "network"], ["attack", "network", "delay", "--latency", "90xs"],
                        ["attack", "network", "bandwidth", "--help"], ["recover", "--help"], ["server"], []] {
            #expect(AgentCommandLines.parse(refused) == nil, "\(refused)")
        }
    }

    @Test func aPathRelativeToTheCallerStaysWithTheCLI() throws {
        // The agent's working directory is not the caller's: `--path .` from / would be /.
        #expect(AgentCommandLines.readsRelativePaths(try Tumult.parseAsRoot(["attack", "disk", "fill", "--path", ".", "--size", "1M"])))
        #expect(!AgentCommandLines.readsRelativePaths(try Tumult.parseAsRoot(["attack", "disk", "fill", "--path", "/tmp", "--size", "1M"])))
        #expect(!AgentCommandLines.readsRelativePaths(try Tumult.parseAsRoot(["attack", "stress", "cpu", "--workers", "1"])))
    }
}
