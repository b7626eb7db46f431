import ArgumentParser
import Foundation
import TumultDaemon
import TumultModel

/// `tumult halt`: the emergency stop. Every running fault is recovered at
/// once and new injections are refused until `tumult unhalt`.
struct Halt: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "halt",
        abstract: "Emergency stop: recover every running fault now and refuse new injections until `tumult unhalt`."
    )

    @OptionGroup var server: ServerOptions

    func run() async throws {
        let answer: HaltAnswer
        do {
            answer = try await Self.halt(client: try server.client())
        } catch let error as ClientError where error.isUnreachable {
            // No server: stop what this host's journal holds (direct attacks,
            // a `tumult run` in progress) and refuse new injections.
            answer = try Self.haltLocally(journal: try Journal(directory: Journal.defaultDirectory()))
            print("no tumult server at \(try server.serverURL()); halted this host's journal")
        }
        print(Printing.halted(answer))
    }

    /// Halts through the server.
    static func halt(client: APIClient) async throws -> HaltAnswer {
        try await client.halt()
    }

    /// Sets the journal's halt flag, which every `tumult` process on the
    /// host honours, and recovers every attack in it side by side.
    static func haltLocally(journal: Journal) throws -> HaltAnswer {
        let started = Date()
        try journal.setHalted(true)
        let runner = AttackRunner(journal: journal, registry: .standard())
        let uids = try journal.attacks().filter(\.needsRecovery).map(\.uid)
        let recovered = LocalHostAgent.recoverConcurrently(uids, with: runner)
        return HaltAnswer(halted: true, recovered: recovered, elapsedMilliseconds: Date().timeIntervalSince(started) * 1000)
    }
}

/// `tumult unhalt`: allows injections again after `tumult halt`.
struct Unhalt: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "unhalt",
        abstract: "Allow new injections again after `tumult halt`."
    )

    @OptionGroup var server: ServerOptions

    func run() async throws {
        do {
            _ = try await Self.unhalt(client: try server.client())
        } catch let error as ClientError where error.isUnreachable {
            print("no tumult server at \(try server.serverURL()); unhalted this host's journal")
        }
        // The server lifts the flag in its journal; this host's default
        // journal (direct attacks, `tumult run`) is lifted here either way.
        try Journal(directory: Journal.defaultDirectory()).setHalted(false)
        print("unhalted: new injections are allowed again")
    }

    static func unhalt(client: APIClient) async throws -> HaltAnswer {
        try await client.unhalt()
    }
}
