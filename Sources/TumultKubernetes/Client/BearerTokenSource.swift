import Foundation
import Synchronization

/// The bearer token to send: the file's contents when a token file is
/// configured (read again when its modification time changes, checked at most
/// once a second, since the kubelet rotates projected tokens under a running
/// pod), else the fixed token.
final class BearerTokenSource: Sendable {
    private let fixed: String?
    private let file: String?
    private let state: Mutex<State>

    private struct State {
        var token: String?
        var modified: Date?
        var checked: ContinuousClock.Instant?
    }

    init(token: String?, file: String?) {
        fixed = token.flatMap { $0.isEmpty ? nil : $0 }
        self.file = file.flatMap { $0.isEmpty ? nil : $0 }
        state = Mutex(State())
    }

    func current() -> String? {
        guard let file else { return fixed }
        return state.withLock { state in
            let now = ContinuousClock.now
            if let checked = state.checked, checked.duration(to: now) < .seconds(1) {
                return state.token ?? fixed
            }
            state.checked = now
            let modified = (try? FileManager.default.attributesOfItem(atPath: file))?[.modificationDate] as? Date
            if state.token == nil || modified != state.modified {
                if let text = try? String(contentsOfFile: file, encoding: .utf8) {
                    let token = text.trimmingCharacters(in: .whitespacesAndNewlines)
                    state.token = token.isEmpty ? nil : token
                    state.modified = modified
                }
            }
            return state.token ?? fixed
        }
    }
}
