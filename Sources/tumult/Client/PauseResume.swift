import ArgumentParser
import Foundation
import TumultModel

/// `tumult pause KIND/NAME`: recovers the experiment's faults and keeps it
/// stopped (a schedule stops creating runs, and its runs pause too).
struct Pause: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "pause",
        abstract: "Pause experiments or schedules: their faults are recovered until `tumult resume`."
    )

    @OptionGroup var objects: ObjectArguments
    @OptionGroup var server: ServerOptions

    func run() async throws {
        let client = try server.client()
        try await objects.forEach(client: client) { reference, uid in
            try await client.pause(reference.collection, uid: uid)
            print("\(reference) paused")
        }
    }
}

/// `tumult resume KIND/NAME`: lets a paused experiment inject again.
struct Resume: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "resume",
        abstract: "Resume paused experiments or schedules."
    )

    @OptionGroup var objects: ObjectArguments
    @OptionGroup var server: ServerOptions

    func run() async throws {
        let client = try server.client()
        try await objects.forEach(client: client) { reference, uid in
            try await client.resume(reference.collection, uid: uid)
            print("\(reference) resumed")
        }
    }
}

/// `KIND/NAME...` and `-n`, for commands that act on named objects.
struct ObjectArguments: ParsableArguments {
    @Argument(help: ArgumentHelp("The objects, as KIND/NAME (e.g. networkchaos/web-delay or schedule/nightly).",
                                 valueName: "kind/name"))
    var targets: [String]

    @Option(name: .shortAndLong, help: ArgumentHelp("The namespace the objects are in.", valueName: "namespace"))
    var namespace = "default"

    func validate() throws {
        for target in targets { _ = try ObjectReference(parsing: target) }
    }

    var references: [ObjectReference] { targets.compactMap { try? ObjectReference(parsing: $0) } }

    /// Finds each object's uid and acts on it. An object that is not there
    /// is reported and the rest still acted on; the command then fails.
    func forEach(client: some ObjectSource, _ act: (ObjectReference, String) async throws -> Void) async throws {
        var failed = false
        for reference in references {
            do {
                let found = try await client.find(reference, namespace: namespace)
                try await act(reference, found.item.uid)
            } catch let error as ClientError where !error.isUnreachable {
                printError("Error: \(error)")
                failed = true
            }
        }
        if failed { throw ExitCode(1) }
    }
}
