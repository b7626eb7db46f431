import ArgumentParser
import Foundation
import TumultHandoff
import TumultServer

@main
struct Tumult: AsyncParsableCommand {
    static let version = TumultVersion.text

    static let configuration = CommandConfiguration(
        commandName: "tumult",
        abstract: "Chaos engineering for Linux hosts, driven by Chaos Mesh documents.",
        version: version,
        subcommands: [Validate.self, Convert.self, Attack.self, Recover.self, ServerCommand.self, RunCommand.self,
                      Apply.self, Get.self, Describe.self, Delete.self, Pause.self, Resume.self, Halt.self, Unhalt.self, Toxics.self,
                      DaemonCommand.self, Certs.self, DNSResponderCommand.self, IOFileSystemCommand.self, ProxyCommand.self, OperatorCommand.self, CRDsCommand.self, ManifestsCommand.self]
    )

    /// Misuse exits with 2, as documented, rather than the parser's 64.
    static func main() async {
        // `--version` alone needs no parser: building ArgumentParser's tree
        // (reflection, a conformance lookup per option type) was most of its time.
        if CommandLine.arguments.dropFirst() == ["--version"] {
            print(version)
            return
        }
        do {
            var command = try parseAsRoot()
            if var asynchronous = command as? AsyncParsableCommand {
                try await asynchronous.run()
            } else {
                try command.run()
            }
        } catch let failure as RunFailure {
            FileHandle.standardError.write(Data(("tumult: " + failure.description + "\n").utf8))
            Foundation.exit(failure.status)
        } catch {
            if exitCode(for: error) == .validationFailure {
                FileHandle.standardError.write(Data((fullMessage(for: error) + "\n").utf8))
                Foundation.exit(2)
            }
            exit(withError: error)
        }
    }
}
