import Foundation
import Logging
import ServiceLifecycle
import Testing
import TumultAgent
import TumultAgentHTTP

/// The agent on its home's Unix socket, called as `tumult attack` and
/// `tumult recover` call it (`LocalAgentClient`: a bare socket, no NIO).
@Suite struct LocalAgentSocketTests {
    static let logger = Logger(label: "test.local-agent")

    func home() throws -> URL {
        let url = URL(fileURLWithPath: "/tmp/tmt-sock-\(UInt32.random(in: 0..<UInt32.max))")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return url
    }

    /// Serves `agent` on `path` for the duration of `body`, then shuts the
    /// server down gracefully (a cancelled one may drop a connection's
    /// writer mid-answer, which NIO treats as a programming error).
    func serving(_ agent: any HostAgent, at path: String, commands: LocalAgentSocket.CommandLines? = nil,
                 _ body: @Sendable () async throws -> Void) async throws {
        let service = try #require(LocalAgentSocket.application(agent: agent, path: path, logger: Self.logger, commands: commands))
        let group = ServiceGroup(configuration: .init(services: [service], gracefulShutdownSignals: [], logger: Self.logger))
        try await withThrowingTaskGroup(of: Void.self) { tasks in
            tasks.addTask { try await group.run() }
            // Up once a connection is taken.
            for _ in 0..<200 where try await blocking({ LocalAgentClient.connect(path: path) }) == nil {
                try await Task.sleep(for: .milliseconds(10))
            }
            do {
                try await body()
            } catch {
                await group.triggerGracefulShutdown()
                throw error
            }
            await group.triggerGracefulShutdown()
            try await tasks.waitForAll()
        }
    }

    @Test func preparedAttacksAndRecoveriesRoundTrip() async throws {
        let home = try home()
        defer { try? FileManager.default.removeItem(at: home) }
        let path = try #require(LocalAgentClient.socketPath(home: home))
        #expect(LocalAgentClient.connect(path: path) == nil)  // no agent yet: the CLI works in process
        let agent = FakeHostAgent(machine: "here")
        try await serving(agent, at: path) {
            // Only the owner may connect.
            var info = stat()
            #expect(stat(path, &info) == 0 && info.st_mode & 0o777 == 0o600)
            let client = try #require(try await blocking { LocalAgentClient.connect(path: path) })
            let prepared = PreparedAttack(family: "network", action: "network bandwidth", target: "netns web",
                                          fault: #"{"action":"bandwidth","namespace":{"named":{"_0":"web"}}}"#)
            #expect(try await blocking { try client.attack(prepared) } == AttackID(machine: "here", uid: "prepared-1"))
            #expect(await agent.prepared == [prepared])

            let one = try await blocking { try client.recover(AttackRecovery(uid: "prepared-1", all: false)) }
            #expect(one.recovered == ["prepared-1"] && one.failures.isEmpty)
            let all = try await blocking { try client.recover(AttackRecovery(uid: nil, all: true)) }
            #expect(all.failures == ["prepared-2": "tc exited 2"])
            // The agent's refusal arrives as itself, for the CLI to print.
            let refused = try await blocking { Result { try client.recover(AttackRecovery(uid: "nope", all: false)) } }
            guard case .failure(let failure) = refused, let refusal = failure as? AgentError else {
                Issue.record("no refusal: \(refused)")
                return
            }
            #expect(refusal.code == .notFound && refusal.message == "no attack nope in the journal")
            #expect(await agent.calls == ["prepared", "recover-attacks", "recover-attacks", "recover-attacks"])

            // A second agent on the same home leaves the socket to the first.
            #expect(try await blocking { LocalAgentSocket.application(agent: FakeHostAgent(machine: "other"), path: path,
                                                                      logger: Self.logger) == nil })
        }
    }

    @Test func aSocketLeftByADeadAgentIsReplaced() async throws {
        let home = try home()
        defer { try? FileManager.default.removeItem(at: home) }
        let path = try #require(LocalAgentClient.socketPath(home: home))
        // What a killed agent leaves: a socket file nobody listens on.
        let stale = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &address.sun_path) { $0.copyBytes(from: Array(path.utf8) + [0]) }
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(stale, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
        #expect(bound == 0)
        close(stale)
        #expect(FileManager.default.fileExists(atPath: path) && LocalAgentClient.connect(path: path) == nil)
        let agent = FakeHostAgent(machine: "here")
        try await serving(agent, at: path) {
            let client = try #require(try await blocking { LocalAgentClient.connect(path: path) })
            _ = try await blocking { try client.attack(PreparedAttack(family: "stress", action: "stress cpu", target: "host", fault: "{}")) }
            #expect(await agent.calls == ["prepared"])
        }
    }

    @Test(.enabled(if: getuid() == 0, "needs root to give the socket away"))
    func aSocketSomeoneElseOwnsIsNotUsed() async throws {
        let home = try home()
        defer { try? FileManager.default.removeItem(at: home) }
        let path = try #require(LocalAgentClient.socketPath(home: home))
        try await serving(FakeHostAgent(machine: "here"), at: path) {
            let ours = try await blocking { LocalAgentClient.connect(path: path) }
            #expect(ours != nil)
            // The same listening socket, now another user's (as if made by them in a shared home).
            #expect(chown(path, 65534, 65534) == 0)
            let theirs = try await blocking { LocalAgentClient.connect(path: path) }
            #expect(theirs == nil)
        }
    }

    @Test func aPathTooLongForASocketMeansNoHandoff() {
        let deep = URL(fileURLWithPath: "/tmp/" + String(repeating: "d", count: 120))
        #expect(LocalAgentClient.socketPath(home: deep) == nil)
    }
}

/// The client blocks on its socket, as the CLI does: here on a thread of
/// its own, so the agent serving it in this process keeps the cooperative pool.
func blocking<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
    try await withCheckedThrowingContinuation { continuation in
        Thread { continuation.resume(with: Result { try body() }) }.start()
    }
}
