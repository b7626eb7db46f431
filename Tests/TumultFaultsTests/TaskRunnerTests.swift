import Foundation
import Testing
import TumultAgent
import TumultDaemon
import TumultModel

/// Workflow Tasks run as real processes on the host: exit code and output
/// as the branches read them, the environment and working directory of the
/// container, and a deadline or a cancel that kills what the task started.
@Suite struct TaskRunnerTests {
    @Test func exitCodeAndOutputComeBack() async throws {
        let runner = TaskRunner()
        let outcome = try await runner.run(TaskRequest(
            id: "wf/check", name: "check",
            command: ["sh", "-c", "echo \"$GREETING from $(pwd)\"; echo oops >&2; exit 3"],
            environment: ["GREETING": "hello"], workingDirectory: "/tmp"))
        #expect(outcome.exitCode == 3)
        #expect(outcome.stdout == "hello from /tmp\n")
        #expect(outcome.stderr == "oops\n")
    }

    @Test func theContainerObjectIsReadAsKubernetesWritesIt() throws {
        let container = try JSONDecoder().decode(Value.self, from: Data("""
            {"name": "probe", "image": "curlimages/curl", "command": ["sh", "-c"], "args": ["exit 0"],
             "env": [{"name": "A", "value": "1"}, {"name": "B", "valueFrom": {}}], "workingDir": "/srv"}
            """.utf8))
        let request = TaskRequest(id: "x", name: "fallback", container: container, timeoutSeconds: 5)
        #expect(request.name == "probe" && request.command == ["sh", "-c", "exit 0"])
        #expect(request.environment == ["A": "1"] && request.workingDirectory == "/srv")
        #expect(request.image == "curlimages/curl" && request.timeoutSeconds == 5)
    }

    @Test func aDeadlineKillsTheTaskAndWhatItStarted() async throws {
        let runner = TaskRunner()
        let started = Date()
        await #expect(throws: AgentError.self) {
            _ = try await runner.run(TaskRequest(id: "wf/slow", name: "slow",
                                                 command: ["sh", "-c", "sleep 37.25 & sleep 38.25; echo done"],
                                                 timeoutSeconds: 0.5))
        }
        #expect(Date().timeIntervalSince(started) < 5)
        try await Task.sleep(for: .milliseconds(200))
        #expect(!Self.processes().contains { $0.contains("sleep 37.25") || $0.contains("sleep 38.25") }, "the task's children outlived it")
        #expect(runner.runningCount == 0)
    }

    @Test func cancelKillsARunningTask() async throws {
        let runner = TaskRunner()
        let started = Date()
        async let outcome = runner.run(TaskRequest(id: "wf/long", name: "long", command: ["sleep", "40"]))
        try await Task.sleep(for: .milliseconds(300))
        runner.cancel("wf/long")
        let result = try await outcome
        #expect(result.exitCode == 128 + 9, "killed by SIGKILL")
        #expect(Date().timeIntervalSince(started) < 5)
    }

    @Test func aTaskWithNoCommandIsRefused() async throws {
        await #expect(throws: AgentError.self) {
            _ = try await TaskRunner().run(TaskRequest(id: "wf/none", name: "none", command: []))
        }
    }

    /// Command lines of every process (for the leak check).
    static func processes() -> [String] {
        let entries = (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []
        return entries.filter { Int($0) != nil }.compactMap { pid in
            (try? Data(contentsOf: URL(fileURLWithPath: "/proc/\(pid)/cmdline")))
                .map { String(decoding: $0, as: UTF8.self).replacingOccurrences(of: "\0", with: " ") }
        }
    }
}
