import ArgumentParser

@main
struct Tumult: ParsableCommand {
    static let version = "0.1.0"

    static let configuration = CommandConfiguration(
        abstract: "Chaos engineering for Linux hosts, driven by Chaos Mesh documents.",
        version: version,
        subcommands: [Validate.self, Convert.self]
    )
}
