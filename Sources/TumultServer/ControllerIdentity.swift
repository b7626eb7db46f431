import Foundation

/// This controller's stable id, kept in `HOME/controller-id`: daemons
/// journal it as the owner of what it injects and hold their dead-man's
/// switch under it, so a restarted server re-attaches to its faults.
enum ControllerIdentity {
    static func load(home: URL) throws -> String {
        let file = home.appendingPathComponent("controller-id")
        if let text = try? String(contentsOf: file, encoding: .utf8) {
            let id = text.trimmingCharacters(in: .whitespacesAndNewlines)
            if !id.isEmpty { return id }
        }
        try FileManager.default.createDirectory(at: home, withIntermediateDirectories: true)
        let id = "tumult-" + UUID().uuidString.lowercased()
        try Data((id + "\n").utf8).write(to: file, options: .atomic)
        return id
    }
}
