import ArgumentParser
import TumultModel

/// `tumult convert`: prints documents as Chaos Mesh 2.x stores them:
/// `chaos-mesh.org/v1alpha1` (Tumult's own TCPChaos: `tumult.dev/v1alpha1`), legacy schedulers turned into Schedules, and
/// every default filled in.
struct Convert: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "convert",
        abstract: "Print documents normalised to chaos-mesh.org/v1alpha1 (TCPChaos: tumult.dev/v1alpha1) with defaults filled in.",
        discussion: "Objects that are not chaos documents are passed through unchanged. Invalid documents are reported on standard error and make the exit status 1."
    )

    enum OutputFormat: String, ExpressibleByArgument, CaseIterable {
        case yaml, json
    }

    @OptionGroup var input: InputOptions

    @Option(name: .shortAndLong, help: "Output format: yaml or json.")
    var output: OutputFormat = .yaml

    func run() throws {
        let loader = DocumentLoader(strict: input.strict)
        var documents: [Value] = []
        var failed = false
        var unreadable = false
        for item in input.readInputs() {
            guard case .success(let text) = item.text else {
                if case .failure(let failure) = item.text { printError("\(item.name): \(failure)") }
                unreadable = true
                continue
            }
            do {
                let values = try DocumentText.parse(text).flatMap(DocumentLoader.expandLists)
                for (position, value) in values.enumerated() {
                    let report = loader.check(value, index: position + 1)
                    for diagnostic in report.diagnostics.items {
                        let marker = diagnostic.severity == .warning ? "warning: " : ""
                        printError("\(item.name): \(report.label): \(marker)\(diagnostic.path): \(diagnostic.message)")
                    }
                    switch report.outcome {
                    case .valid(let document): documents.append(try document.normalized().encoded())
                    case .skipped: documents.append(value)
                    case .invalid: failed = true
                    }
                }
            } catch {
                printError("\(item.name): \(error)")
                failed = true
            }
        }
        if !documents.isEmpty {
            switch output {
            case .yaml: print(try DocumentText.yaml(documents), terminator: "")
            case .json: print(DocumentText.json(documents), terminator: "")
            }
        }
        if unreadable { throw ExitCode(2) }
        if failed { throw ExitCode(1) }
    }
}
