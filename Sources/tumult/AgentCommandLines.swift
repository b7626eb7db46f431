import ArgumentParser
import Foundation
import TumultAgent
import TumultHandoff

/// The CLI run inside the host's agent: `tumult` (the front program) hands
/// a whole `tumult attack ...` or `tumult recover ...` line over the local
/// socket, and the agent parses it here with the same commands, so the
/// answer is what the CLI would have printed. The new process then costs
/// what the front costs to start; parsing, the journal and the kernel work
/// happen in the warm agent.
///
/// It declines (nil: the front runs the whole program, which does it in
/// process) what it cannot answer the same way: help and parse errors,
/// foreground attacks (`--duration`: the CLI stays with them), commands that
/// do not go through `AttackDriver`, a family the agent lacks, and any error
/// found before the host is touched, which the whole program reports itself.
enum AgentCommandLines {
    /// The attack commands whose `run()` builds a fault and hands it to
    /// `AttackDriver.run`, touching nothing else on the host. Not `attack
    /// list` (it reads the journal in process) nor `process kill` (it
    /// injects and recovers at once, in process).
    static let attacks: [any ParsableCommand.Type] = [
        Delay.self, Loss.self, Duplicate.self, Corrupt.self, Netem.self, Partition.self, Bandwidth.self,
        StressCPU.self, StressMemory.self, DiskFill.self, DiskPayload.self, ProcessStop.self, ProcessFreeze.self,
        DNSErrorAttack.self, DNSRandomAttack.self,
        IOLatencyAttack.self, IOFaultAttack.self, IOAttrOverrideAttack.self, IOMistakeAttack.self,
        TimeAttack.self,
        TCPLatency.self, TCPBandwidth.self, TCPSlowClose.self, TCPTimeout.self, TCPResetPeer.self, TCPSlicer.self, TCPLimitData.self,
    ]

    /// The reply for `arguments` (without the program's name) run with
    /// `agent`, or nil to decline.
    static func run(_ arguments: [String], agent: any HostAgent) async -> CommandHandoff.Reply? {
        guard let parsed = parse(arguments) else { return nil }
        if let recover = parsed as? Recover {
            let result: Result<AttackRecovery.Outcome, any Error>
            do {
                result = .success(try await agent.recover(AttackRecovery(uid: recover.uid, all: recover.all)))
            } catch {
                result = .failure(error)
            }
            return Recover.reply(result)
        }
        guard attacks.contains(where: { $0 == type(of: parsed) }), !readsRelativePaths(parsed) else { return nil }
        var command = parsed
        let capture = AttackCapture()
        do {
            try AttackDriver.$capture.withValue(capture) { try command.run() }
        } catch {
            return nil
        }
        guard let prepared = capture.prepared else { return nil }
        do {
            return CommandHandoff.Reply(status: 0, standardOutput: try await agent.attack(prepared: prepared).uid + "\n")
        } catch let error as AgentError where error.code == .unsupported {
            return nil
        } catch {
            return failure(error)
        }
    }

    /// The command `arguments` name, parsed by the leaf command itself
    /// (`recover`, `network bandwidth` ...): the parser reflects over every
    /// command of the tree it is given, and the whole program's tree made
    /// parsing most of a handoff's time. The leaf is found by walking the
    /// subcommands' names from `attack`, as the whole program's parser
    /// does; parent commands declare no options, so what follows the names
    /// is the leaf's alone. Nil for anything that does not parse, and for
    /// help; the whole program then says why (or prints the help).
    static func parse(_ arguments: [String]) -> (any ParsableCommand)? {
        var command: any ParsableCommand.Type
        switch arguments.first {
        case Recover.configuration.commandName: command = Recover.self
        case Attack.configuration.commandName: command = Attack.self
        default: return nil
        }
        var rest = arguments.dropFirst()
        while let name = rest.first,
              let next = command.configuration.subcommands.first(where: {
                  $0.configuration.commandName == name || $0.configuration.aliases.contains(name)
              }) {
            command = next
            rest = rest.dropFirst()
        }
        guard command.configuration.subcommands.isEmpty,
              let parsed = try? command.parseAsRoot(Array(rest)), type(of: parsed) == command else { return nil }  // not help
        return parsed
    }

    /// Whether the command names a file relative to the caller's working
    /// directory: the agent's own (/ under systemd) would be read instead,
    /// so such a line stays with the CLI.
    static func readsRelativePaths(_ command: any ParsableCommand) -> Bool {
        if let fill = command as? DiskFill { return !fill.disk.path.hasPrefix("/") }
        if let payload = command as? DiskPayload { return !payload.disk.path.hasPrefix("/") }
        return false
    }

    /// What the CLI prints, and how it exits, when `error` ends a command.
    static func failure(_ error: any Error) -> CommandHandoff.Reply {
        CommandHandoff.Reply(status: Tumult.exitCode(for: error).rawValue, standardError: Tumult.fullMessage(for: error) + "\n")
    }
}

/// Where `AttackDriver.run` leaves a detached attack instead of injecting
/// it, while the agent runs a handed-over command line.
final class AttackCapture: @unchecked Sendable {
    var prepared: PreparedAttack?
}

extension CommandHandoff.Reply {
    /// Prints the reply as the command's own output; a non-zero status ends the command with it.
    func emit() throws {
        FileHandle.standardError.write(Data(standardError))
        FileHandle.standardOutput.write(Data(standardOutput))
        if status != 0 { throw ExitCode(status) }
    }
}
