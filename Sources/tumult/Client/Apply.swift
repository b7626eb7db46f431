import ArgumentParser
import Foundation
import TumultModel

/// `tumult apply -f`: sends each document to `tumult server`, which creates
/// it, replaces the one of the same namespace and name, or leaves it as it is.
struct Apply: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "apply",
        abstract: "Create or update experiments, schedules, workflows and status checks on `tumult server` from Chaos Mesh documents.",
        discussion: """
            Each document is sent on its own; Schedules (and legacy documents with spec.scheduler) go to \
            the server's schedules, Workflows to its workflows. Fields the schema does not know are refused by default, as kubectl \
            (1.27 and later) does: --validate=warn prints them and applies the document without them, \
            --validate=ignore drops them silently. Exit status: 0 when every document was applied, 1 when \
            the server refused any (its field paths are printed), 2 when an input cannot be read or the \
            command is misused. Objects that are not chaos documents are reported as skipped.
            """
    )

    @OptionGroup var input: InputOptions
    @OptionGroup var server: ServerOptions
    @OptionGroup var cluster: ClusterOptions

    @Option(name: .customLong("validate"),
            help: ArgumentHelp("Unknown fields: strict (errors, the document is not applied; the default), warn "
                               + "(printed, the document applied without them) or ignore (dropped silently); "
                               + "true means strict and false ignore, as in kubectl.",
                               valueName: "strict|warn|ignore"))
    var validation: FieldValidation?

    /// What unknown fields are: `--validate`, strict by default and with `--strict`.
    var fieldValidation: FieldValidation { validation ?? .strict }

    func validate() throws {
        try cluster.check(against: server)
        if input.strict, let validation, validation != .strict {
            throw ValidationError("--strict makes unknown fields errors; it cannot go with --validate=\(validation.rawValue).")
        }
    }

    func run() async throws {
        if let cluster = try await cluster.connect(watching: false) {
            do {
                try await apply(cluster: cluster)
                await cluster.close()
            } catch {
                await cluster.close()
                throw error
            }
            return
        }
        let client = try server.client()
        let fieldValidation = self.fieldValidation
        try await forEachDocument { value, report, prefix in
            switch Self.request(for: value, report: report, strict: input.strict) {
            case .skip(let reason):
                printError("\(prefix): skipped: \(reason)")
                return false
            case .refuse(let problems):
                problems.forEach { printError("\(prefix): \($0)") }
                return true
            case .send(let request):
                // A Workflow's or StatusCheck's answer is its detail, which
                // names no kind: the document says what was applied.
                let documentKind = report.document?.kind ?? report.kind.flatMap { ChaosKind(name: $0) }
                do {
                    for answer in try await client.apply(request.body, to: request.collection, fieldValidation: fieldValidation) {
                        print(Printing.applied(answer.item, documentKind: documentKind, fallbackKind: report.kind ?? "",
                                               fallbackName: report.name ?? ""))
                    }
                    return false
                } catch let error as ClientError where !error.isUnreachable {
                    Printing.problems(error, prefix: prefix).forEach { printError($0) }
                    return true
                }
            }
        }
    }

    /// `--kubeconfig`: every document checked here (the cluster's webhook,
    /// when there is one, checks again), then created in the cluster or
    /// patched to what it says, as `kubectl apply` does.
    func apply(cluster: ClusterClient) async throws {
        try await forEachDocument { _, report, prefix in
            switch report.outcome {
            case .skipped(let reason):
                printError("\(prefix): skipped: \(reason)")
                return false
            case .invalid:
                report.diagnostics.errors.forEach { printError("\(prefix): \($0.path): \($0.message)") }
                return true
            case .valid(let document):
                do {
                    print(try await cluster.apply(document))
                    return false
                } catch let error as ClientError {
                    Printing.problems(error, prefix: prefix).forEach { printError($0) }
                    return true
                }
            }
        }
    }

    /// Reads every input and checks each of its documents, printing what
    /// cannot be read or parsed and every warning; `body` takes one
    /// checked document (its tree, its report, the `FILE: doc N (KIND
    /// NAME)` prefix) and says whether it failed. Exits 2 when an input
    /// could not be read, else 1 when anything failed.
    func forEachDocument(_ body: (Value, DocumentLoader.Report, String) async throws -> Bool) async throws {
        let loader = DocumentLoader(strict: input.strict)
        var failed = false
        var unreadable = false
        for item in input.readInputs() {
            let text: String
            switch item.text {
            case .success(let read): text = read
            case .failure(let failure):
                printError("\(item.name): \(failure)")
                unreadable = true
                continue
            }
            let values: [Value]
            do {
                values = try DocumentText.parse(text).flatMap(DocumentLoader.expandLists)
            } catch {
                printError("\(item.name): \(error)")
                failed = true
                continue
            }
            for (position, value) in values.enumerated() {
                let report = loader.check(value, index: position + 1, fieldValidation: fieldValidation)
                let prefix = "\(item.name): \(report.label)"
                for diagnostic in report.diagnostics.items where diagnostic.severity == .warning {
                    printError("\(prefix): warning: \(diagnostic.path): \(diagnostic.message)")
                }
                if try await body(value, report, prefix) { failed = true }
            }
        }
        if unreadable { throw ExitCode(2) }
        if failed { throw ExitCode(1) }
    }

    /// One document ready to post: its JSON tree and where it goes.
    struct Request: Equatable {
        var body: Value
        var collection: ObjectCollection
    }

    enum Plan: Equatable {
        case send(Request)
        /// Not a chaos document: nothing to send.
        case skip(String)
        /// `--strict` and the local check found errors: not sent.
        case refuse([String])
    }

    /// What to do with one document. A valid one is sent as the model
    /// encodes it (a legacy cron document becomes the Schedule it stands
    /// for, and fields `--validate=warn|ignore` let through are left out);
    /// an invalid one, unknown fields under `--validate=strict` included, is
    /// sent as written with the same `fieldValidation`, so that the server
    /// names its problems, unless `--strict` already refused it here.
    static func request(for value: Value, report: DocumentLoader.Report, strict: Bool) -> Plan {
        switch report.outcome {
        case .skipped(let reason):
            return .skip(reason)
        case .valid(var document):
            document.apiVersion = document.kind.apiVersion
            guard let body = try? document.encoded() else {
                return .send(Request(body: value, collection: collection(for: document.kind)))
            }
            return .send(Request(body: body, collection: collection(for: document.kind)))
        case .invalid:
            if strict {
                return .refuse(report.diagnostics.items.map { "\($0.path): \($0.message)" })
            }
            let kind = value.objectValue?["kind"]?.stringValue.flatMap(ChaosKind.init(name:))
            return .send(Request(body: value, collection: collection(for: kind)))
        }
    }

    /// Where a document of `kind` is posted: Schedules to `/api/schedules`,
    /// Workflows to `/api/workflows`, everything else (StatusChecks
    /// included, which have no collection to post to) to `/api/experiments`.
    static func collection(for kind: ChaosKind?) -> ObjectCollection {
        switch kind {
        case .schedule?: .schedules
        case .workflow?: .workflows
        default: .experiments
        }
    }
}

/// `--validate strict|warn|ignore|true|false`.
extension FieldValidation: ExpressibleByArgument {
    public init?(argument: String) {
        self.init(flag: argument)
    }
}
