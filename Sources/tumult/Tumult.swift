import ArgumentParser
import Foundation

@main
struct Tumult: ParsableCommand {
    static let version = "0.1.0"

    static let configuration = CommandConfiguration(
        abstract: "Chaos engineering for Linux hosts, driven by Chaos Mesh documents.",
        version: version,
        subcommands: [Validate.self, Convert.self, Attack.self, Recover.self, DNSResponderCommand.self]
    )

    /// Misuse exits with 2, as documented, rather than the parser's 64.
    static func main() {
        do {
            var command = try parseAsRoot()
            try command.run()
        } catch {
            if exitCode(for: error) == .validationFailure {
                FileHandle.standardError.write(Data((fullMessage(for: error) + "\n").utf8))
                Foundation.exit(2)
            }
            exit(withError: error)
        }
    }
}
