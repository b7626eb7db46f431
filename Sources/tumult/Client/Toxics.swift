import ArgumentParser
import Foundation
import TumultModel

/// `tumult toxics`: Toxiproxy's live toxics of a running TCPChaos, through
/// `tumult server`, so that a test suite changes them between its cases
/// while the proxied connections keep going.
struct Toxics: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "toxics",
        abstract: "List, add, update or remove the toxics of a running TCPChaos, its connections kept.",
        discussion: """
            Toxiproxy's live API: each change edits the TCPChaos's spec.toxics and the running proxies take it at once.
            e.g. tumult toxics add default/redis-slow --type latency --attribute latency=100 --attribute jitter=10
            """,
        subcommands: [List.self, Add.self, Update.self, Remove.self]
    )

    /// `NAMESPACE/NAME`, or `NAME` in the default namespace.
    struct Experiment: ParsableArguments {
        @Argument(help: ArgumentHelp("The TCPChaos, as NAMESPACE/NAME (NAME alone: namespace default).", valueName: "namespace/name"))
        var experiment: String

        func validate() throws { _ = try parsed() }

        func parsed() throws -> (namespace: String, name: String) {
            let parts = experiment.split(separator: "/", omittingEmptySubsequences: false).map(String.init)
            switch parts.count {
            case 1 where !parts[0].isEmpty: return ("default", parts[0])
            case 2 where !parts[0].isEmpty && !parts[1].isEmpty: return (parts[0], parts[1])
            default: throw ValidationError("\"\(experiment)\" is not NAMESPACE/NAME (e.g. default/redis-slow).")
            }
        }
    }

    /// The settings `add` and `update` share.
    struct Settings: ParsableArguments {
        @Option(help: ArgumentHelp("Which way the data flows: upstream (client to server) or downstream.", valueName: "stream"))
        var stream: String?

        @Option(help: ArgumentHelp("The probability, 0 to 1, that a connection gets the toxic (default 1).", valueName: "probability"))
        var toxicity: Double?

        @Option(name: .customLong("attribute"),
                help: ArgumentHelp("NAME=VALUE, repeated, in Toxiproxy's units: latency, jitter, timeout, delay (ms; the slicer's delay µs), "
                                   + "rate (KB/s), average_size, size_variation, bytes. For update, NAME= removes one.",
                                   valueName: "name=value"))
        var attributes: [String] = []

        func validate() throws {
            if let stream, Toxic.Stream(rawValue: stream) == nil {
                throw ValidationError("--stream \(stream): expected upstream or downstream.")
            }
            if let toxicity, !(0...1).contains(toxicity) {
                throw ValidationError("--toxicity \(toxicity): a probability, from 0 to 1.")
            }
            _ = try parsedAttributes()
        }

        /// Each attribute by name; nil stands for one to remove (`NAME=`).
        func parsedAttributes() throws -> [(name: String, value: Int64?)] {
            let known = ["latency", "jitter", "rate", "delay", "timeout", "average_size", "size_variation", "bytes"]
            return try attributes.map { text in
                let parts = text.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false).map(String.init)
                guard parts.count == 2, known.contains(parts[0]) else {
                    throw ValidationError("--attribute \(text): expected NAME=VALUE with NAME one of \(known.joined(separator: ", ")).")
                }
                if parts[1].isEmpty { return (parts[0], nil) }
                guard let value = Int64(parts[1]) else {
                    throw ValidationError("--attribute \(text): \(parts[1]) is not a whole number.")
                }
                return (parts[0], value)
            }
        }

        /// The fields given, as the API takes them.
        func fields() throws -> Value.Object {
            var object = Value.Object()
            if let stream { object["stream"] = .string(stream) }
            if let toxicity { object["toxicity"] = .double(toxicity) }
            let given = try parsedAttributes()
            if !given.isEmpty {
                object["attributes"] = .object(Value.Object(given.map { ($0.name, $0.value.map { .integer(Int($0)) } ?? .null) }))
            }
            return object
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "list", abstract: "The toxics of a TCPChaos, in the order they apply.")

        enum OutputFormat: String, CaseIterable, ExpressibleByArgument { case json, yaml }

        @OptionGroup var experiment: Experiment
        @Option(name: .shortAndLong, help: ArgumentHelp("Print the answer as json or yaml instead of a table.", valueName: "format"))
        var output: OutputFormat?
        @OptionGroup var server: ServerOptions

        func run() async throws {
            let (namespace, name) = try experiment.parsed()
            try await Toxics.reporting {
                let toxics = try await server.client().toxics(namespace: namespace, name: name)
                switch output {
                case .json: print(Printing.json(.array(toxics.map(\.json))))
                case .yaml: print(try Printing.yaml(.array(toxics.map(\.json))), terminator: "")
                case nil: print(Toxics.table(toxics), terminator: "")
                }
            }
        }
    }

    struct Add: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "add", abstract: "Add a toxic to a running TCPChaos.")

        @OptionGroup var experiment: Experiment
        @Option(help: ArgumentHelp("The toxic's type: \(Toxic.Kind.allCases.map(\.rawValue).joined(separator: ", ")).", valueName: "type"))
        var type: String
        @Option(help: ArgumentHelp("Its name, unique in the TCPChaos (default TYPE_STREAM).", valueName: "name"))
        var name: String?
        @OptionGroup var settings: Settings
        @OptionGroup var server: ServerOptions

        func validate() throws {
            if Toxic.Kind(rawValue: type) == nil {
                throw ValidationError("--type \(type): expected one of \(Toxic.Kind.allCases.map(\.rawValue).joined(separator: ", ")).")
            }
        }

        func run() async throws {
            let (namespace, experimentName) = try experiment.parsed()
            var body = try settings.fields()
            body["type"] = .string(type)
            if let name { body["name"] = .string(name) }
            if case .object(var attributes)? = body["attributes"] {
                // Adding: there is nothing to remove.
                for (key, value) in attributes.pairs where value == .null { attributes[key] = nil }
                body["attributes"] = .object(attributes)
            }
            try await Toxics.reporting {
                let added = try await server.client().addToxic(.object(body), namespace: namespace, name: experimentName)
                print("toxic \(added.item.effectiveName) added to \(namespace)/\(experimentName): \(added.item.summary)")
            }
        }
    }

    struct Update: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "update",
            abstract: "Change a toxic of a running TCPChaos in place.",
            discussion: "Only what is given changes; attributes merge by name, as Toxiproxy's update does.")

        @OptionGroup var experiment: Experiment
        @Argument(help: ArgumentHelp("The toxic's name.", valueName: "toxic"))
        var toxic: String
        @OptionGroup var settings: Settings
        @OptionGroup var server: ServerOptions

        func validate() throws {
            if settings.stream == nil && settings.toxicity == nil && settings.attributes.isEmpty {
                throw ValidationError("Nothing to change: give --stream, --toxicity or --attribute.")
            }
        }

        func run() async throws {
            let (namespace, name) = try experiment.parsed()
            let changes = try settings.fields()
            try await Toxics.reporting {
                let updated = try await server.client().updateToxic(toxic, .object(changes), namespace: namespace, name: name)
                print("toxic \(updated.item.effectiveName) of \(namespace)/\(name) updated: \(updated.item.summary)")
            }
        }
    }

    struct Remove: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "remove", abstract: "Remove a toxic from a running TCPChaos.")

        @OptionGroup var experiment: Experiment
        @Argument(help: ArgumentHelp("The toxic's name.", valueName: "toxic"))
        var toxic: String
        @OptionGroup var server: ServerOptions

        func run() async throws {
            let (namespace, name) = try experiment.parsed()
            try await Toxics.reporting {
                try await server.client().removeToxic(toxic, namespace: namespace, name: name)
                print("toxic \(toxic) removed from \(namespace)/\(name)")
            }
        }
    }

    /// NAME TYPE STREAM TOXICITY ATTRIBUTES, one toxic a row.
    /// The attributes as the server shows them (every one the type reads, in its order).
    static func table(_ toxics: [Received<Toxic>]) -> String {
        guard !toxics.isEmpty else { return "No toxics: connections pass through unchanged.\n" }
        let rows = toxics.map { received in
            let toxic = received.item
            let attributes = received.json.objectValue?["attributes"]?.objectValue?.pairs ?? []
            return [toxic.effectiveName, toxic.type.rawValue, toxic.effectiveStream.rawValue, Self.number(toxic.effectiveToxicity),
                    attributes.map { "\($0.key)=\(Printing.oneLine($0.value.brief))" }.joined(separator: ",")]
        }
        return TextTable(headers: ["NAME", "TYPE", "STREAM", "TOXICITY", "ATTRIBUTES"], rows: rows).render()
    }

    /// `1`, `0.5`: a probability without trailing zeros.
    static func number(_ value: Double) -> String {
        value == value.rounded() ? String(Int(value)) : String(value)
    }

    /// Runs one call; the server's refusal is printed (with every field
    /// path) and exits 1, as the other client commands do.
    static func reporting(_ body: () async throws -> Void) async throws {
        do {
            try await body()
        } catch let error as ClientError where !error.isUnreachable {
            printError("Error: \(error)")
            throw ExitCode(1)
        }
    }
}

