import Foundation
import TumultSystem

/// The real `tumult` binary, run by the root integration tests with a
/// `TUMULT_HOME` of the test's own (a fresh temporary directory).
struct TumultCLI {
    let home: String
    /// More environment for every command (e.g. `TUMULT_NETEM`).
    var environment: [String: String] = [:]

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
        try Spawn.run([Self.executable.path] + arguments, environment: environment.merging(["TUMULT_HOME": home]) { $1 })
    }

    /// Starts `tumult ARGUMENTS` without waiting for it.
    func start(_ arguments: [String]) throws -> Spawn.Child {
        try Spawn.start([Self.executable.path] + arguments, environment: environment.merging(["TUMULT_HOME": home]) { $1 })
    }

    /// Removes the home directory and everything in it.
    func removeHome() {
        try? FileManager.default.removeItem(atPath: home)
    }

    /// Reads the uid a foreground attack prints once its fault is in place
    /// (waiting up to 10 s), so a test kills it in the middle of its run,
    /// not while it is still injecting.
    static func readUID(_ child: Spawn.Child) -> String {
        var collected = Data()
        var buffer = [UInt8](repeating: 0, count: 256)
        let deadline = Date().addingTimeInterval(10)
        while !collected.contains(UInt8(ascii: "\n")) && Date() < deadline {
            var poller = pollfd(fd: child.stdout, events: Int16(POLLIN), revents: 0)
            guard poll(&poller, 1, 100) > 0 else { continue }
            let count = read(child.stdout, &buffer, buffer.count)
            if count <= 0 { break }
            collected.append(contentsOf: buffer[0..<count])
        }
        return String(decoding: collected, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
    }
}
