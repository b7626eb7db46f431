import Foundation
import TumultAgent
import TumultSystem

/// Runs Workflow Tasks on this host: the container's command as a process
/// in a session of its own (so that a cancel or a deadline kills what it
/// started too), each on a thread of its own since it blocks while the
/// command runs. The image is not pulled: the command must exist here.
public final class TaskRunner: @unchecked Sendable {
    private let lock = NSLock()
    /// Running tasks by id, and the ids cancelled before their process started.
    private var running: [String: Int32] = [:]
    private var cancelled: Set<String> = []

    public init() {}

    public func run(_ request: TaskRequest) async throws -> TaskOutcome {
        guard !request.command.isEmpty else {
            throw AgentError(.invalid, "task \(request.name): the container has no command (the image is not run, only its command)")
        }
        let deadline = request.timeoutSeconds.map { Date().addingTimeInterval($0) }
        return try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<TaskOutcome, Error>) in
                let thread = Thread { [self] in
                    do {
                        let bounded = try Spawn.runBounded(
                            request.command, environment: request.environment, workingDirectory: request.workingDirectory,
                            outputLimit: TaskOutcome.outputLimit, deadline: deadline
                        ) { pid in
                            lock.withLock {
                                if cancelled.remove(request.id) != nil { kill(-pid, SIGKILL) } else { running[request.id] = pid }
                            }
                        }
                        lock.withLock { _ = running.removeValue(forKey: request.id) }
                        if bounded.timedOut {
                            continuation.resume(throwing: AgentError(.failed, "task \(request.name) outlived its deadline and was killed"))
                            return
                        }
                        continuation.resume(returning: TaskOutcome(exitCode: Int(bounded.result.status), stdout: bounded.result.stdout,
                                                                   stderr: String(bounded.result.stderr.suffix(4096))))
                    } catch {
                        lock.withLock { _ = running.removeValue(forKey: request.id) }
                        continuation.resume(throwing: AgentError(.failed, "task \(request.name): \(error)"))
                    }
                }
                thread.name = "tumult.task"
                thread.start()
            }
        } onCancel: {
            cancel(request.id)
        }
    }

    /// Kills the task's process group if it runs; remembers the id if its
    /// process has not started yet.
    public func cancel(_ id: String) {
        lock.withLock {
            if let pid = running.removeValue(forKey: id) {
                kill(-pid, SIGKILL)
            } else {
                if cancelled.count > 1000 { cancelled.removeAll() }
                cancelled.insert(id)
            }
        }
    }

    /// The tasks running now.
    public var runningCount: Int { lock.withLock { running.count } }
}
