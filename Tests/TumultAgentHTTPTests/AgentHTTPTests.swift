import AsyncHTTPClient
import Foundation
import Hummingbird
import Logging
import NIOSSL
import Testing
import TumultAgent
import TumultAgentHTTP
import TumultCertificates
import TumultModel

/// The agent protocol and chaosd's API over real sockets on 127.0.0.1,
/// served by `buildAgentApplication` and called through `RemoteHostAgent`
/// (or a plain HTTP client for chaosd's bytes). The agent behind them is
/// a fake that records calls: what is tested here is the transport.
@Suite struct AgentHTTPTests {
    static let token = "fleet-token-0123456789"

    // MARK: Agent protocol

    @Test func everyCallRoundTrips() async throws {
        let agent = FakeHostAgent(machine: "daemon-a")
        try await withServer(agent, insecure(token: Self.token)) { port in
            let remote = RemoteHostAgent(machine: "host-a", address: "http://127.0.0.1:\(port)", token: Self.token, tls: nil)
            defer { Task { try? await remote.shutdown() } }

            #expect(try await remote.status() == Fixture.status)
            #expect(try await remote.pods() == Fixture.pods)

            let request = try Fixture.injection()
            let injected = try await remote.inject(request)
            // Ids come back under the name the caller knows the host by.
            #expect(injected == [AttackID(machine: "host-a", uid: "inject-1"), AttackID(machine: "host-a", uid: "inject-2")])
            let received = try #require(await agent.injections.first)
            #expect(received.owner == request.owner)
            #expect(received.document == request.document)
            #expect(received.target == request.target)
            #expect(received.peers == request.peers)
            #expect(received.endsAt == request.endsAt)

            try await remote.recover(injected)
            // Ids go to the host bare: every id sent to a host is its own.
            #expect(await agent.recovered == [[AttackID(machine: "", uid: "inject-1"), AttackID(machine: "", uid: "inject-2")]])

            let lost = try await remote.heal(injected)
            #expect(lost == [LostFault(attack: AttackID(machine: "host-a", uid: "inject-1"), detail: "qdisc gone", restored: true)])
            #expect(await agent.healed == [[AttackID(machine: "", uid: "inject-1"), AttackID(machine: "", uid: "inject-2")]])

            let query = AttackQuery(experiment: "exp-1", controller: "ctl-1")
            #expect(try await remote.attacks(query) == [Fixture.hostAttack(machine: "host-a")])
            #expect(await agent.queries == [query])

            #expect(try await remote.recoverOrphans(controller: "ctl-1", keeping: ["exp-2", "exp-1"]) == 3)
            #expect(await agent.orphans == [Orphans(controller: "ctl-1", keeping: ["exp-1", "exp-2"])])

            #expect(try await remote.setHalted(true) == 2)
            #expect(try await remote.setHalted(false) == 2)
            #expect(await agent.halts == [true, false])

            #expect(try await remote.census() == Fixture.census)

            let lease = Lease(controller: "ctl-1", seconds: 30)
            #expect(try await remote.renewLease(lease) == Fixture.grant)
            #expect(await agent.leases == [lease])

            let direct = DirectAttack(family: "network", body: Data(#"{"action":"delay","latency":"10ms"}"#.utf8), uid: "direct-1")
            #expect(try await remote.attack(direct) == AttackID(machine: "host-a", uid: "direct-1"))
            #expect(await agent.directRequests == [direct])
            #expect(try await remote.directAttacks().map(\.id) == [AttackID(machine: "host-a", uid: "direct-1")])

            // A Workflow Task: its command to the host, its exit code and output back.
            let task = TaskRequest(id: "wf-1/check-x", name: "check", command: ["sh", "-c", "echo ok"],
                                   environment: ["A": "1"], workingDirectory: "/tmp", image: "busybox", timeoutSeconds: 30)
            #expect(try await remote.runTask(task) == TaskOutcome(exitCode: 0, stdout: "ok\n"))
            try await remote.cancelTask("wf-1/check-x")
            #expect(await agent.tasks == [task])
            #expect(await agent.cancelledTasks == ["wf-1/check-x"])
        }
    }

    @Test func agentErrorsArriveIntact() async throws {
        let agent = FakeHostAgent(machine: "daemon-a")
        let thrown = AgentError(.invalid, "spec.delay.latency: not a duration",
                                fields: [.init(path: "spec.delay.latency", message: "not a duration"),
                                         .init(path: "spec.mode", message: "unknown mode")])
        await agent.fail(with: thrown)
        try await withServer(agent, insecure(token: Self.token)) { port in
            let remote = RemoteHostAgent(machine: "host-a", address: "http://127.0.0.1:\(port)", token: Self.token, tls: nil)
            defer { Task { try? await remote.shutdown() } }
            #expect(await #expect(throws: AgentError.self) { try await remote.inject(Fixture.injection()) } == thrown)
            #expect(await #expect(throws: AgentError.self) { try await remote.status() } == thrown)

            let halted = AgentError(.halted, "halted: new faults are refused")
            await agent.fail(with: halted)
            #expect(await #expect(throws: AgentError.self) { try await remote.attack(DirectAttack(family: "network", body: Data("{}".utf8))) } == halted)

            // Anything else the agent throws is a failure on the host, described.
            await agent.fail(with: FakeFailure())
            let failed = await #expect(throws: AgentError.self) { try await remote.recover([]) }
            #expect(failed?.code == .failed)
            #expect(failed?.message.contains("tc exited 2") == true)
        }
    }

    @Test func aWrongOrMissingTokenIsUnauthorized() async throws {
        let agent = FakeHostAgent(machine: "daemon-a")
        try await withServer(agent, insecure(token: Self.token)) { port in
            for token in ["wrong", Self.token + "x", String(Self.token.dropLast()), nil] as [String?] {
                let remote = RemoteHostAgent(machine: "host-a", address: "http://127.0.0.1:\(port)", token: token, tls: nil)
                let error = await #expect(throws: AgentError.self) { try await remote.status() }
                #expect(error?.code == .unauthorized)
                try await remote.shutdown()
            }
            #expect(await agent.calls.isEmpty)
        }
    }

    @Test func anotherProtocolVersionIsRefused() async throws {
        let agent = FakeHostAgent(machine: "daemon-a")
        try await withServer(agent, insecure(token: Self.token)) { port in
            let url = "http://127.0.0.1:\(port)\(AgentProtocol.pathPrefix)/status"
            let other = try await RawHTTP.send("GET", url, headers: [AgentHeader.version: "99", "Authorization": "Bearer \(Self.token)"])
            #expect(other.status == 400)
            let error = try AgentJSON.decode(AgentError.self, from: Data(other.body.utf8))
            #expect(error.code == .version)
            #expect(error.message.contains("99") && error.message.contains("version \(AgentProtocol.version)"))

            let none = try await RawHTTP.send("GET", url, headers: ["Authorization": "Bearer \(Self.token)"])
            #expect(none.status == 400)
            #expect(try AgentJSON.decode(AgentError.self, from: Data(none.body.utf8)).code == .version)
            #expect(await agent.calls.isEmpty)
        }
    }

    @Test func badBodiesAndUnknownRoutesAreAgentErrors() async throws {
        let agent = FakeHostAgent(machine: "daemon-a")
        try await withServer(agent, insecure(token: nil)) { port in
            let base = "http://127.0.0.1:\(port)\(AgentProtocol.pathPrefix)"
            let headers = [AgentHeader.version: String(AgentProtocol.version)]

            let notJSON = try await RawHTTP.send("POST", "\(base)/recover", headers: headers, body: Data("[1,".utf8))
            #expect(notJSON.status == 400)
            #expect(try AgentJSON.decode(AgentError.self, from: Data(notJSON.body.utf8)).code == .invalid)

            let large = Data("[\"".utf8) + Data(repeating: UInt8(ascii: "a"), count: AgentRoutes.bodyLimit) + Data("\"]".utf8)
            let tooLarge = try await RawHTTP.send("POST", "\(base)/recover", headers: headers, body: large)
            #expect(tooLarge.status == 400)
            #expect(try AgentJSON.decode(AgentError.self, from: Data(tooLarge.body.utf8)).message.contains("1 MiB"))

            let unknown = try await RawHTTP.send("GET", "\(base)/nothing", headers: headers)
            #expect(unknown.status == 404)
            #expect(try AgentJSON.decode(AgentError.self, from: Data(unknown.body.utf8)).code == .notFound)
            #expect(await agent.calls.isEmpty)
        }
    }

    @Test func anUnreachableHostSaysWhichMachine() async throws {
        // Port 1 on loopback: nothing listens there.
        let remote = RemoteHostAgent(machine: "host-z", address: "http://127.0.0.1:1/", token: nil, tls: nil)
        defer { Task { try? await remote.shutdown() } }
        let error = await #expect(throws: AgentError.self) { try await remote.status() }
        #expect(error?.code == .unreachable)
        #expect(error?.message.hasPrefix("machine host-z at http://127.0.0.1:1: ") == true)
    }

    // MARK: Configuration

    @Test func plainHTTPIsRefusedOffLoopback() throws {
        let agent = FakeHostAgent(machine: "daemon-a")
        for host in ["0.0.0.0", "10.0.0.2", "::", "127.example.com", "example.com", "fe80::1"] {
            let error = #expect(throws: AgentSetupError.self) {
                _ = try buildAgentApplication(agent: agent, configuration: AgentServerConfiguration(host: host, port: 0, insecure: true),
                                              logger: Self.logger)
            }
            #expect(error?.code == .invalidConfiguration)
            #expect(error?.message.contains(host) == true)
        }
        for host in ["127.0.0.1", "127.1.2.3", "::1", "[::1]", "localhost", "LOCALHOST", "0:0:0:0:0:0:0:1"] {
            #expect(AgentServerConfiguration.isLoopback(host), "\(host)")
            _ = try buildAgentApplication(agent: agent, configuration: AgentServerConfiguration(host: host, port: 0, insecure: true),
                                          logger: Self.logger)
        }
        // Neither TLS nor insecure: nothing to serve with.
        #expect(throws: AgentSetupError.self) {
            _ = try buildAgentApplication(agent: agent, configuration: AgentServerConfiguration(host: "127.0.0.1", port: 0),
                                          logger: Self.logger)
        }
        #expect(AgentServerConfiguration(insecure: true).port == 31767)
        #expect(AgentServerConfiguration().port == 31768)
    }

    // MARK: Mutual TLS

    @Test func mutualTLSAdmitsOnlyTheFleet() async throws {
        let fleet = try TestFleet()
        defer { fleet.remove() }
        let agent = FakeHostAgent(machine: "daemon-a")
        let configuration = AgentServerConfiguration(host: "127.0.0.1", port: 0, tls: fleet.server, token: Self.token)
        try await withServer(agent, configuration) { port in
            let address = "https://127.0.0.1:\(port)"
            // A client of the fleet, verifying the server's certificate and its IP address.
            let member = RemoteHostAgent(machine: "host-a", address: address, token: Self.token,
                                         tls: try fleet.client.clientConfiguration())
            #expect(try await member.status() == Fixture.status)
            try await member.shutdown()

            let refused: [(String, TLSConfiguration)] = [
                ("a client certificate from another CA", try fleet.stranger.clientConfiguration()),
                ("no client certificate", try fleet.anonymousClient()),
                ("a client that does not trust the server's CA", try fleet.clientTrustingTheOtherCA.clientConfiguration()),
            ]
            for (what, tls) in refused {
                let remote = RemoteHostAgent(machine: "host-a", address: address, token: Self.token, tls: tls)
                let error = await #expect(throws: AgentError.self, "\(what)") { try await remote.status() }
                #expect(error?.code == .unreachable, "\(what)")
                try await remote.shutdown()
            }

            let plain = RemoteHostAgent(machine: "host-a", address: "http://127.0.0.1:\(port)", token: Self.token, tls: nil)
            let error = await #expect(throws: AgentError.self) { try await plain.status() }
            #expect(error?.code == .unreachable)
            try await plain.shutdown()
        }
        #expect(await agent.calls == ["status"])
    }

    @Test func unreadableTLSFilesAreNamed() throws {
        let fleet = try TestFleet()
        defer { fleet.remove() }
        let missing = fleet.directory.appendingPathComponent("missing-ca.pem").path
        var tls = fleet.server
        tls.caPath = missing
        let error = #expect(throws: AgentSetupError.self) { _ = try tls.serverConfiguration() }
        #expect(error?.code == .unreadableFile)
        #expect(error?.path == missing)
        #expect(error?.message.contains(missing) == true)

        let garbage = fleet.directory.appendingPathComponent("garbage.pem")
        try Data("not a certificate\n".utf8).write(to: garbage)
        tls = fleet.client
        tls.certificatePath = garbage.path
        let invalid = #expect(throws: AgentSetupError.self) { _ = try tls.clientConfiguration() }
        #expect(invalid?.code == .invalidFile)
        #expect(invalid?.path == garbage.path)
    }

    // MARK: chaosd's API

    @Test func chaosdAttacksAndRecoversAsChaosdReplies() async throws {
        let agent = FakeHostAgent(machine: "daemon-a")
        // The bearer token guards the agent routes only: Chaos Mesh sends none.
        try await withServer(agent, insecure(token: Self.token)) { port in
            let base = "http://127.0.0.1:\(port)"
            let uid = "3f2b6c1e-8a4d-4c9e-9b1a-2d7e5f6a8c90"
            // The bytes Chaos Mesh's controller sends for a network-delay PhysicalMachineChaos.
            let body = Data(#"{"action":"delay","correlation":"0","device":"eth0","ip-address":"10.0.0.2","jitter":"10ms","latency":"100ms","uid":"3f2b6c1e-8a4d-4c9e-9b1a-2d7e5f6a8c90"}"#.utf8)
            let attack = try await RawHTTP.send("POST", "\(base)/api/attack/network", headers: ["Content-Type": "application/json"], body: body)
            #expect(attack.status == 200)
            #expect(attack.contentType == "application/json; charset=utf-8")
            #expect(attack.body == #"{"status":200,"message":"attack successfully","uid":"3f2b6c1e-8a4d-4c9e-9b1a-2d7e5f6a8c90"}"#)
            #expect(await agent.directRequests == [DirectAttack(family: "network", body: body, uid: uid)])

            // No uid (or an empty one): the host makes one and says which.
            let process = try await RawHTTP.send("POST", "\(base)/api/attack/process", body: Data(#"{"process":"nginx","signal":9,"uid":""}"#.utf8))
            #expect(process.status == 200)
            #expect(process.body == #"{"status":200,"message":"attack successfully","uid":"direct-2"}"#)
            #expect(await agent.directRequests.last?.uid == nil)
            #expect(await agent.directRequests.last?.family == "process")

            let recover = try await RawHTTP.send("DELETE", "\(base)/api/attack/\(uid)")
            #expect(recover.status == 200)
            #expect(recover.contentType == "application/json; charset=utf-8")
            #expect(recover.body == #"{"status":200,"message":"attack recover successfully","uid":"3f2b6c1e-8a4d-4c9e-9b1a-2d7e5f6a8c90"}"#)
            #expect(await agent.recovered == [[AttackID(machine: "daemon-a", uid: uid)]])

            // An uid the host never attacked under: chaosd's 404, which Chaos Mesh takes as recovered.
            let unknown = try await RawHTTP.send("DELETE", "\(base)/api/attack/no-such-uid")
            #expect(unknown.status == 404)
            #expect(unknown.contentType == "text/plain; charset=utf-8")
            #expect(unknown.body == #"{"error":true,"message":"error.api.resource_not_found: record not found","code":"error.api.resource_not_found","full_text":"error.api.resource_not_found: record not found"}"#)
            #expect(await agent.recovered.count == 1)
        }
    }

    @Test func chaosdRefusalsAndOtherRoutes() async throws {
        let agent = FakeHostAgent(machine: "daemon-a")
        try await withServer(agent, insecure(token: Self.token)) { port in
            let base = "http://127.0.0.1:\(port)"
            let health = try await RawHTTP.send("GET", "\(base)/api/system/health")
            #expect(health.status == 200)
            #expect(health.contentType == "application/json; charset=utf-8")
            #expect(health.body == #"{"status":0,"message":""}"#)

            for body in ["", "[1]", "{\"uid\":", #"{"uid":7}"#] {
                let refused = try await RawHTTP.send("POST", "\(base)/api/attack/stress", body: Data(body.utf8))
                #expect(refused.status == 400, "\(body)")
                #expect(refused.body.contains(#""code":"error.api.invalid_request""#), "\(body)")
            }
            #expect(await agent.directRequests.isEmpty)

            await agent.fail(with: AgentError(.unsupported, "this host does not run jvm attacks"))
            let unsupported = try await RawHTTP.send("POST", "\(base)/api/attack/jvm", body: Data(#"{"action":"exception"}"#.utf8))
            #expect(unsupported.status == 400)
            #expect(unsupported.body == #"{"error":true,"message":"error.api.invalid_request: error.core.attack_config_validation_error: attack config validation failed, cause: this host does not run jvm attacks","code":"error.api.invalid_request","full_text":"error.api.invalid_request: error.core.attack_config_validation_error: attack config validation failed, cause: this host does not run jvm attacks"}"#)

            await agent.fail(with: AgentError(.failed, "tc: <bad> & worse"))
            let failed = try await RawHTTP.send("POST", "\(base)/api/attack/network", body: Data(#"{"action":"delay"}"#.utf8))
            #expect(failed.status == 500)
            #expect(failed.body.contains(#""message":"error.api.internal_server_error: tc: \u003cbad\u003e \u0026 worse""#))

            // What chaosd does not route (`http-*`, `file-*`): gin's 404 text.
            let http = try await RawHTTP.send("POST", "\(base)/api/attack/http", body: Data("{}".utf8))
            #expect(http.status == 404)
            #expect(http.body == "404 page not found")
        }
    }

    @Test func chaosdListsExperimentsAsChaosdDoes() async throws {
        let agent = FakeHostAgent(machine: "daemon-a")
        await agent.setDirect([
            HostAttack(id: AttackID(machine: "daemon-a", uid: "u-2"), owner: nil, family: "disk", action: "disk fill",
                       target: "/tmp", injected: true, state: "error", message: "no space <left>",
                       createdAt: Date(timeIntervalSince1970: 1_711_360_900), updatedAt: Date(timeIntervalSince1970: 1_711_360_901.5)),
            HostAttack(id: AttackID(machine: "daemon-a", uid: "u-1"), owner: nil, family: "network", action: "network delay",
                       target: "eth0", injected: true, state: "success",
                       createdAt: Date(timeIntervalSince1970: 1_711_360_800.25), updatedAt: Date(timeIntervalSince1970: 1_711_360_800.25)),
        ])
        try await withServer(agent, insecure(token: nil)) { port in
            let expected = "["
                + #"{"id":1,"uid":"u-1","created_at":"2024-03-25T10:00:00.25Z","updated_at":"2024-03-25T10:00:00.25Z","status":"success","error":"","kind":"network","action":"delay","recover_command":"","launch_mode":"svr"},"#
                + #"{"id":2,"uid":"u-2","created_at":"2024-03-25T10:01:40Z","updated_at":"2024-03-25T10:01:41.5Z","status":"error","error":"no space \u003cleft\u003e","kind":"disk-server","action":"fill","recover_command":"","launch_mode":"svr"}"#
                + "]"
            for path in ["/api/experiments/", "/api/experiments", "/api/experiments/?launch_mode=svr"] {
                let list = try await RawHTTP.send("GET", "http://127.0.0.1:\(port)\(path)")
                #expect(list.status == 200, "\(path)")
                #expect(list.contentType == "application/json; charset=utf-8")
                #expect(list.body == expected, "\(path)")
            }
            let other = try await RawHTTP.send("GET", "http://127.0.0.1:\(port)/api/experiments/?launch_mode=cmd")
            #expect(other.body == "[]")
        }
    }

    // MARK: Helpers

    static var logger: Logger {
        var logger = Logger(label: "tumult.agent-http.test")
        logger.logLevel = .critical
        return logger
    }

    func insecure(token: String?) -> AgentServerConfiguration {
        AgentServerConfiguration(host: "127.0.0.1", port: 0, insecure: true, token: token)
    }

    /// Serves `agent` on a free port for the duration of `body`.
    func withServer(_ agent: any HostAgent, _ configuration: AgentServerConfiguration,
                    _ body: @Sendable (Int) async throws -> Void) async throws {
        let (ports, continuation) = AsyncStream.makeStream(of: Int.self)
        let application = try buildAgentApplication(agent: agent, configuration: configuration, logger: Self.logger,
                                                    onServerRunning: { continuation.yield($0) })
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await application.run() }
            var iterator = ports.makeAsyncIterator()
            let port = try #require(await iterator.next())
            try await body(port)
            group.cancelAll()
        }
    }
}

// MARK: - The fake agent

struct Orphans: Hashable, Sendable {
    var controller: String
    var keeping: Set<String>
}

struct FakeFailure: Error, CustomStringConvertible {
    var description: String { "tc exited 2: RTNETLINK answers: No such device" }
}

/// Records every call and answers with the fixtures; `fail(with:)` makes every call throw.
actor FakeHostAgent: HostAgent {
    nonisolated let machine: String
    private(set) var calls: [String] = []
    private(set) var injections: [InjectionRequest] = []
    private(set) var recovered: [[AttackID]] = []
    private(set) var healed: [[AttackID]] = []
    private(set) var queries: [AttackQuery] = []
    private(set) var orphans: [Orphans] = []
    private(set) var halts: [Bool] = []
    private(set) var leases: [Lease] = []
    private(set) var directRequests: [DirectAttack] = []
    private(set) var tasks: [TaskRequest] = []
    private(set) var cancelledTasks: [String] = []

    func runTask(_ request: TaskRequest) async throws -> TaskOutcome {
        try record("task")
        tasks.append(request)
        return TaskOutcome(exitCode: 0, stdout: "ok\n")
    }

    func cancelTask(_ id: String) async throws {
        try record("task/cancel")
        cancelledTasks.append(id)
    }
    private var direct: [HostAttack] = []
    private var failure: (any Error)?

    init(machine: String) {
        self.machine = machine
    }

    func fail(with error: any Error) { failure = error }
    func setDirect(_ attacks: [HostAttack]) { direct = attacks }

    private func record(_ call: String) throws {
        calls.append(call)
        if let failure { throw failure }
    }

    func status() async throws -> AgentStatus {
        try record("status")
        return Fixture.status
    }

    func pods() async throws -> [Pod] {
        try record("pods")
        return Fixture.pods
    }

    func inject(_ request: InjectionRequest) async throws -> [AttackID] {
        try record("inject")
        injections.append(request)
        return [AttackID(machine: machine, uid: "inject-1"), AttackID(machine: machine, uid: "inject-2")]
    }

    func recover(_ attacks: [AttackID]) async throws {
        try record("recover")
        recovered.append(attacks)
    }

    func heal(_ attacks: [AttackID]) async throws -> [LostFault] {
        try record("heal")
        healed.append(attacks)
        return [LostFault(attack: AttackID(machine: machine, uid: "inject-1"), detail: "qdisc gone", restored: true)]
    }

    func attacks(_ query: AttackQuery) async throws -> [HostAttack] {
        try record("attacks")
        queries.append(query)
        return [Fixture.hostAttack(machine: machine)]
    }

    func recoverOrphans(controller: String, keeping: Set<String>) async throws -> Int {
        try record("orphans")
        orphans.append(Orphans(controller: controller, keeping: keeping))
        return 3
    }

    func setHalted(_ halted: Bool) async throws -> Int {
        try record("halt")
        halts.append(halted)
        return 2
    }

    func census() async throws -> AgentCensus {
        try record("census")
        return Fixture.census
    }

    func renewLease(_ lease: Lease) async throws -> LeaseGrant {
        try record("lease")
        leases.append(lease)
        return Fixture.grant
    }

    func attack(_ request: DirectAttack) async throws -> AttackID {
        try record("attack")
        directRequests.append(request)
        let id = AttackID(machine: machine, uid: request.uid ?? "direct-\(directRequests.count)")
        let now = Date(timeIntervalSince1970: 1_711_360_800)
        direct.append(HostAttack(id: id, owner: nil, family: request.family, action: request.family, target: machine,
                                 injected: true, state: "success", createdAt: now, updatedAt: now))
        return id
    }

    func directAttacks() async throws -> [HostAttack] {
        try record("direct")
        return direct
    }

    private(set) var prepared: [PreparedAttack] = []
    private(set) var recoveries: [AttackRecovery] = []

    func attack(prepared attack: PreparedAttack) async throws -> AttackID {
        try record("prepared")
        prepared.append(attack)
        return AttackID(machine: machine, uid: "prepared-\(prepared.count)")
    }

    func recover(_ recovery: AttackRecovery) async throws -> AttackRecovery.Outcome {
        try record("recover-attacks")
        recoveries.append(recovery)
        guard recovery.all || recovery.uid == "prepared-1" else {
            throw AgentError(.notFound, "no attack \(recovery.uid ?? "") in the journal")
        }
        return AttackRecovery.Outcome(recovered: ["prepared-1"], failures: recovery.all ? ["prepared-2": "tc exited 2"] : [:])
    }
}

enum Fixture {
    static let moment = Date(timeIntervalSince1970: 1_711_360_800.125)

    static let grant = LeaseGrant(controller: "ctl-1", seconds: 30, renewedAt: moment, expiresAt: moment + 30)

    static let status = AgentStatus(machine: "daemon-a", kinds: ["NetworkChaos", "StressChaos"], families: ["network", "process"],
                                    machineActions: ["network-delay"], halted: false, activeAttacks: 2, leases: [grant])

    static let pods = [
        Pod(name: "web", namespace: "shop", labels: ["app": "web"], netns: "web", ips: ["10.0.0.2", "fd00::2"],
            nodeName: "daemon-a", source: .netns),
        Pod(name: "db", pid: 4242, nodeName: "daemon-a", source: .docker, containerID: "abc123"),
    ]

    static let census = AgentCensus(machine: "daemon-a", samples: [
        .init(name: "chaos_daemon_tcs_rules", labels: ["pod": "shop/web"], value: 2),
    ])

    static func hostAttack(machine: String) -> HostAttack {
        HostAttack(id: AttackID(machine: machine, uid: "inject-1"),
                   owner: AttackOwner(controller: "ctl-1", experiment: "exp-1", target: "shop/web"),
                   family: "network", action: "network delay", target: "shop/web", injected: true, state: "success",
                   message: nil, createdAt: moment, updatedAt: moment + 1.5)
    }

    static func injection() throws -> InjectionRequest {
        let yaml = """
            apiVersion: chaos-mesh.org/v1alpha1
            kind: NetworkChaos
            metadata:
              name: web-delay
              namespace: shop
            spec:
              action: delay
              mode: all
              selector:
                namespaces: [shop]
              delay:
                latency: 100ms
              duration: 30s
            """
        let document = try #require(try DocumentLoader().load(yaml).first?.document)
        return InjectionRequest(owner: AttackOwner(controller: "ctl-1", experiment: "exp-1", target: "shop/web"),
                                document: document, target: pods[0], peers: [pods[1]], endsAt: moment + 30)
    }
}

// MARK: - Plain HTTP, for chaosd's bytes

enum RawHTTP {
    struct Reply {
        var status: UInt
        var contentType: String?
        var body: String
    }

    static func send(_ method: String, _ url: String, headers: [String: String] = [:], body: Data? = nil) async throws -> Reply {
        let client = HTTPClient(eventLoopGroup: HTTPClient.defaultEventLoopGroup)
        do {
            var request = HTTPClientRequest(url: url)
            request.method = .init(rawValue: method)
            for (name, value) in headers { request.headers.add(name: name, value: value) }
            if let body { request.body = .bytes(ByteBuffer(bytes: body)) }
            let response = try await client.execute(request, timeout: .seconds(10))
            let bytes = try await response.body.collect(upTo: 16 << 20)
            let reply = Reply(status: response.status.code, contentType: response.headers.first(name: "Content-Type"),
                              body: String(buffer: bytes))
            try await client.shutdown()
            return reply
        } catch {
            try? await client.shutdown()
            throw error
        }
    }
}

// MARK: - Certificates

/// A fleet CA with a daemon's and a controller's certificate, and a
/// stranger's CA with a client certificate of its own, written as PEM files.
struct TestFleet {
    let directory: URL
    let server: AgentTLS
    let client: AgentTLS
    let stranger: AgentTLS
    /// The fleet's client certificate, trusting the stranger's CA for servers.
    let clientTrustingTheOtherCA: AgentTLS

    init() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("tumult-agent-http-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        self.directory = directory
        let authority = try FleetAuthority.create()
        let other = try FleetAuthority.create(commonName: "Another fleet CA")
        let daemon = try authority.issue(.server, commonName: "daemon-a", dnsNames: ["localhost"], ipAddresses: [IPAddress("127.0.0.1")!])
        let controller = try authority.issue(.client, commonName: "controller.tumult.test")
        let outsider = try other.issue(.client, commonName: "outsider.tumult.test")
        func write(_ name: String, _ text: String) throws -> String {
            let url = directory.appendingPathComponent(name)
            try Data(text.utf8).write(to: url)
            return url.path
        }
        let ca = try write("ca.pem", authority.certificatePEM)
        let otherCA = try write("other-ca.pem", other.certificatePEM)
        server = AgentTLS(ca: ca, certificate: try write("daemon.pem", daemon.certificatePEM),
                          privateKey: try write("daemon-key.pem", daemon.privateKeyPEM))
        client = AgentTLS(ca: ca, certificate: try write("controller.pem", controller.certificatePEM),
                          privateKey: try write("controller-key.pem", controller.privateKeyPEM))
        stranger = AgentTLS(ca: ca, certificate: try write("outsider.pem", outsider.certificatePEM),
                            privateKey: try write("outsider-key.pem", outsider.privateKeyPEM))
        clientTrustingTheOtherCA = AgentTLS(ca: otherCA, certificate: client.certificatePath, privateKey: client.privateKeyPath)
    }

    /// Trusts the fleet's CA but presents no certificate.
    func anonymousClient() throws -> TLSConfiguration {
        var configuration = TLSConfiguration.makeClientConfiguration()
        configuration.trustRoots = .certificates(try NIOSSLCertificate.fromPEMFile(client.caPath))
        return configuration
    }

    func remove() {
        try? FileManager.default.removeItem(at: directory)
    }
}
