import ArgumentParser
import TumultModel

/// `tumult validate`: checks documents as Chaos Mesh's admission webhooks
/// would, reporting every problem with its file, document and field path.
struct Validate: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "validate",
        abstract: "Check Chaos Mesh documents and report every problem.",
        discussion: """
            Exit status: 0 when every chaos document is valid, 1 when any is invalid, \
            2 when an input cannot be read or the command is misused. Objects that are not \
            chaos documents (Deployments, Services ...) are reported as skipped.
            """
    )

    @OptionGroup var input: InputOptions

    @Flag(name: .shortAndLong, help: "Print only problems and the summary, not the documents that are valid.")
    var quiet = false

    func run() throws {
        let loader = DocumentLoader(strict: input.strict)
        var counts = (valid: 0, invalid: 0, skipped: 0)
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
            let reports: [DocumentLoader.Report]
            do {
                reports = try loader.load(text)
            } catch {
                print("\(item.name): \(error)")
                counts.invalid += 1
                continue
            }
            for report in reports {
                let prefix = "\(item.name): \(report.label)"
                for diagnostic in report.diagnostics.items {
                    let marker = diagnostic.severity == .warning ? "warning: " : ""
                    print("\(prefix): \(marker)\(diagnostic.path): \(diagnostic.message)")
                }
                switch report.outcome {
                case .valid:
                    counts.valid += 1
                    if !quiet { print("\(prefix): valid") }
                case .invalid:
                    counts.invalid += 1
                case .skipped(let reason):
                    counts.skipped += 1
                    if !quiet { print("\(prefix): skipped: \(reason)") }
                }
            }
        }
        print("\(counts.valid) valid, \(counts.invalid) invalid, \(counts.skipped) skipped")
        if unreadable { throw ExitCode(2) }
        if counts.invalid > 0 { throw ExitCode(1) }
    }
}
