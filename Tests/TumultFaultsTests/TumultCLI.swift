import Foundation
import TumultSystem

/// The real `tumult` binary, run by the root integration tests with a
/// `TUMULT_HOME` of the test's own (a fresh temporary directory).
struct TumultCLI {
    let home: String

    init(home: String = FileManager.default.temporaryDirectory.appendingPathComponent("tmt-home-\(UUID().uuidString)").path) {
        self.home = home
    }

    /// `tumult` beside the test bundle (or one directory up), else the
    /// package's `.build/debug/tumult`.
    static var executable: URL {
        let bundle = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
        for candidate in [bundle.appendingPathComponent("tumult"), bundle.deletingLastPathComponent().appendingPathComponent("tumult")]
        where FileManager.default.isExecutableFile(atPath: candidate.path) {
            return candidate
        }
        var url = URL(fileURLWithPath: #filePath)
        for _ in 0..<3 { url.deleteLastPathComponent() }
        return url.appendingPathComponent(".build/debug/tumult")
    }

    /// Runs `tumult ARGUMENTS` to the end.
    @discardableResult
    func run(_ arguments: [String]) throws -> CommandResult {
        try Spawn.run([Self.executable.path] + arguments, environment: ["TUMULT_HOME": home])
    }

    /// Starts `tumult ARGUMENTS` without waiting for it.
    func start(_ arguments: [String]) throws -> Spawn.Child {
        try Spawn.start([Self.executable.path] + arguments, environment: ["TUMULT_HOME": home])
    }

    /// Removes the home directory and everything in it.
    func removeHome() {
        try? FileManager.default.removeItem(atPath: home)
    }
}
