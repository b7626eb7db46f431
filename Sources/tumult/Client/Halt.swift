import ArgumentParser
import Foundation
import TumultModel

/// `tumult halt`: the emergency stop. Every running fault is recovered at
/// once and new injections are refused until `tumult unhalt`.
struct Halt: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Emergency stop: recover every running fault now and refuse new injections until `tumult unhalt`."
    )

    @OptionGroup var server: ServerOptions

    func run() async throws {
        let answer = try await Self.halt(client: try server.client())
        print(Printing.halted(answer))
    }

    /// Halts through the server. Kept apart from `run` so that a halt
    /// without a server (recovering the local journal) can stand beside it.
    static func halt(client: APIClient) async throws -> HaltAnswer {
        try await client.halt()
    }
}

/// `tumult unhalt`: allows injections again after `tumult halt`.
struct Unhalt: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Allow new injections again after `tumult halt`."
    )

    @OptionGroup var server: ServerOptions

    func run() async throws {
        _ = try await Self.unhalt(client: try server.client())
        print("unhalted: new injections are allowed again")
    }

    static func unhalt(client: APIClient) async throws -> HaltAnswer {
        try await client.unhalt()
    }
}
