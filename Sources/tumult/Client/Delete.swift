import ArgumentParser
import Foundation
import TumultModel

/// `tumult delete`: removes experiments, schedules, workflows or status
/// checks named on the command line or by the documents of files. The
/// server recovers their faults and archives them.
struct Delete: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "delete",
        abstract: "Delete experiments, schedules, workflows or status checks, named as KIND/NAME or by the documents in files.",
        discussion: """
            Deleting recovers the experiment's faults; the server keeps it under `tumult get archives`. \
            Deleting a workflow stops its nodes.
            """
    )

    @Argument(help: ArgumentHelp("The objects to delete, as KIND/NAME (e.g. networkchaos/web-delay or workflow/steady).",
                                 valueName: "kind/name"))
    var targets: [String] = []

    @Option(name: [.customShort("f"), .customLong("filename")],
            help: ArgumentHelp("Delete what the documents of this file name: a file, a directory, or - for standard input.",
                               valueName: "path"))
    var paths: [String] = []

    @Option(name: .shortAndLong,
            help: ArgumentHelp("The namespace of KIND/NAME objects and of documents that name none.", valueName: "namespace"))
    var namespace = "default"

    @Flag(help: "Treat an object that is not there as deleted.")
    var ignoreNotFound = false

    @OptionGroup var server: ServerOptions
    @OptionGroup var cluster: ClusterOptions

    func validate() throws {
        try cluster.check(against: server)
        if targets.isEmpty == paths.isEmpty {
            throw ValidationError("Give either KIND/NAME arguments or -f PATH.")
        }
        for target in targets {
            let reference = try ObjectReference(parsing: target)
            if cluster.kubeconfig != nil && reference.needsServer {
                throw ValidationError("--kubeconfig: \(reference.kindName)s are deleted through `tumult server` only "
                                      + "(`kubectl delete \(reference.kindName)s.chaos-mesh.org \(reference.name)` deletes a cluster's).")
            }
        }
    }

    func run() async throws {
        try await cluster.withSource(server: server) { client in try await delete(client: client) }
    }

    /// Deletes through `tumult server`, or in the cluster: the operator
    /// recovers, then removes its finalizer, and the object is gone.
    func delete(client: some ObjectSource) async throws {
        var failed = false
        var unreadable = false
        var wanted: [(reference: ObjectReference, namespace: String, source: String?)] = []
        for target in targets {
            wanted.append((try ObjectReference(parsing: target), namespace, nil))
        }
        if !paths.isEmpty {
            let input = try InputOptions.parse(paths.flatMap { ["-f", $0] })
            for item in input.readInputs() {
                let text: String
                switch item.text {
                case .success(let read): text = read
                case .failure(let failure):
                    printError("\(item.name): \(failure)")
                    unreadable = true
                    continue
                }
                do {
                    let values = try DocumentText.parse(text).flatMap(DocumentLoader.expandLists)
                    for (position, value) in values.enumerated() {
                        let report = DocumentLoader().check(value, index: position + 1)
                        guard let named = Self.reference(of: value, report: report) else {
                            printError("\(item.name): \(report.label): skipped: not a chaos experiment, schedule or workflow with a name")
                            continue
                        }
                        wanted.append((named.reference, named.namespace ?? namespace, "\(item.name): \(report.label)"))
                    }
                } catch {
                    printError("\(item.name): \(error)")
                    failed = true
                }
            }
        }
        for (reference, namespace, source) in wanted {
            do {
                let found = try await client.find(reference, namespace: namespace)
                try await client.delete(reference.collection, uid: found.item.uid)
                print("\(reference) deleted")
            } catch let error as ClientError where !error.isUnreachable {
                if error.type == "NotFound" && ignoreNotFound { continue }
                printError(source.map { "\($0): \(error)" } ?? "Error: \(error)")
                failed = true
            }
        }
        if unreadable { throw ExitCode(2) }
        if failed { throw ExitCode(1) }
    }

    /// The object a document names: its kind (a legacy cron document is a
    /// Schedule), name and namespace, even when the document is invalid.
    static func reference(of value: Value, report: DocumentLoader.Report) -> (reference: ObjectReference, namespace: String?)? {
        if let document = report.document {
            guard let name = document.metadata.name, !name.isEmpty else { return nil }
            return (ObjectReference(documentKind: document.kind, name: name), document.metadata.namespace)
        }
        let object = value.objectValue
        let metadata = object?["metadata"]?.objectValue
        guard let kindName = object?["kind"]?.stringValue, let kind = ChaosKind(name: kindName),
              let name = metadata?["name"]?.stringValue, !name.isEmpty else { return nil }
        return (ObjectReference(documentKind: kind, name: name), metadata?["namespace"]?.stringValue)
    }
}
