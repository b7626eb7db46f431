import AsyncHTTPClient
import Foundation
import NIOCore
import NIOSSL
import TumultAgent
import TumultModel

/// A host agent reached over HTTPS with mutual TLS: the controller's view
/// of another machine's `tumult daemon`. Every call carries the protocol
/// version and the bearer token; an `AgentError` the host answers is
/// thrown as it was thrown there, and a host that cannot be reached (or
/// answers something that is not the protocol) is `.unreachable`.
///
/// The host may call itself by another name than the fleet does
/// (`10.0.0.2:31768` for a chaosd address): ids it returns are given this
/// agent's `machine`, and ids sent to it go bare, which a host reads as its own.
public final class RemoteHostAgent: HostAgent {
    /// Status, pods, queries, leases: a host that takes longer is unwell.
    public static let quickTimeout: TimeAmount = .seconds(10)
    /// Calls that change the host (inject, recover, heal, halt ...) and may
    /// wait on helpers and `tc`.
    public static let slowTimeout: TimeAmount = .seconds(120)
    /// The largest reply read (pod lists, attack lists).
    public static let replyLimit = 64 << 20

    public let machine: String
    /// `https://host:port`, no trailing slash.
    public let address: String
    private let token: String?
    private let client: HTTPClient

    /// `tls` is the client's mutual TLS configuration (`AgentTLS.clientConfiguration()`);
    /// nil only for plain `http://` addresses on loopback (tests, local tools).
    public init(machine: String, address: String, token: String? = nil, tls: TLSConfiguration?) {
        self.machine = machine
        var address = address
        while address.hasSuffix("/") { address.removeLast() }
        self.address = address
        self.token = token.flatMap { $0.isEmpty ? nil : $0 }
        var configuration = HTTPClient.Configuration(
            tlsConfiguration: tls, redirectConfiguration: .disallow,
            timeout: .init(connect: .seconds(5)))
        configuration.httpVersion = .http1Only
        client = HTTPClient(eventLoopGroup: HTTPClient.defaultEventLoopGroup, configuration: configuration)
    }

    /// The agent of a machine the fleet knows, at its address.
    public convenience init(machine: Machine, token: String? = nil, tls: TLSConfiguration?) {
        self.init(machine: machine.name, address: machine.address, token: token, tls: tls)
    }

    /// Closes the client's connections; call once, when the agent is no longer used.
    public func shutdown() async throws {
        try await client.shutdown()
    }

    public func status() async throws -> AgentStatus {
        try await get(AgentPath.status)
    }

    public func pods() async throws -> [Pod] {
        try await get(AgentPath.pods)
    }

    public func inject(_ request: InjectionRequest) async throws -> [AttackID] {
        let ids: [AttackID] = try await post(AgentPath.inject, request, timeout: Self.slowTimeout)
        return ids.map(ours)
    }

    public func recover(_ attacks: [AttackID]) async throws {
        let _: EmptyReply = try await post(AgentPath.recover, attacks.map(theirs), timeout: Self.slowTimeout)
    }

    public func reconfigure(_ request: ReconfigureRequest) async throws {
        var request = request
        request.attacks = request.attacks.map(theirs)
        let _: EmptyReply = try await post(AgentPath.reconfigure, request, timeout: Self.slowTimeout)
    }

    public func heal(_ attacks: [AttackID]) async throws -> [LostFault] {
        let lost: [LostFault] = try await post(AgentPath.heal, attacks.map(theirs), timeout: Self.slowTimeout)
        return lost.map { fault in
            var fault = fault
            fault.attack = ours(fault.attack)
            return fault
        }
    }

    public func attacks(_ query: AttackQuery) async throws -> [HostAttack] {
        let attacks: [HostAttack] = try await post(AgentPath.attacks, query, timeout: Self.quickTimeout)
        return attacks.map(ours)
    }

    public func recoverOrphans(controller: String, keeping: Set<String>) async throws -> Int {
        let request = OrphansRequest(controller: controller, keeping: keeping.sorted())
        let reply: CountReply = try await post(AgentPath.orphans, request, timeout: Self.slowTimeout)
        return reply.count
    }

    public func setHalted(_ halted: Bool) async throws -> Int {
        let reply: CountReply = try await post(AgentPath.halt, HaltRequest(halted: halted), timeout: Self.slowTimeout)
        return reply.count
    }

    public func census() async throws -> AgentCensus {
        try await get(AgentPath.census)
    }

    public func renewLease(_ lease: Lease) async throws -> LeaseGrant {
        try await post(AgentPath.lease, lease, timeout: Self.quickTimeout)
    }

    public func attack(_ request: DirectAttack) async throws -> AttackID {
        ours(try await post(AgentPath.attack, request, timeout: Self.slowTimeout))
    }

    /// Waits as long as the task may run (its timeout, else a day), plus
    /// the slow calls' margin.
    public func runTask(_ request: TaskRequest) async throws -> TaskOutcome {
        let seconds = Int64((request.timeoutSeconds ?? 86_400).rounded(.up)) + 120
        return try await post(AgentPath.task, request, timeout: .seconds(seconds))
    }

    public func cancelTask(_ id: String) async throws {
        let _: EmptyReply = try await post(AgentPath.cancelTask, CancelTaskRequest(id: id), timeout: Self.quickTimeout)
    }

    public func directAttacks() async throws -> [HostAttack] {
        let attacks: [HostAttack] = try await get(AgentPath.direct)
        return attacks.map(ours)
    }

    // MARK: Ids

    private func ours(_ id: AttackID) -> AttackID {
        AttackID(machine: machine, uid: id.uid)
    }

    private func ours(_ attack: HostAttack) -> HostAttack {
        var attack = attack
        attack.id = ours(attack.id)
        return attack
    }

    private func theirs(_ id: AttackID) -> AttackID {
        AttackID(machine: "", uid: id.uid)
    }

    // MARK: Transport

    private enum Method { case get, post }

    private func get<Reply: Decodable>(_ path: String) async throws -> Reply {
        try decode(try await send(.get, path, body: nil, timeout: Self.quickTimeout))
    }

    private func post<Reply: Decodable>(_ path: String, _ body: some Encodable, timeout: TimeAmount) async throws -> Reply {
        let data: Data
        do {
            data = try AgentJSON.encode(body)
        } catch {
            throw AgentError(.invalid, "cannot encode the request to machine \(machine): \(error)")
        }
        return try decode(try await send(.post, path, body: data, timeout: timeout))
    }

    private func decode<Reply: Decodable>(_ data: Data) throws -> Reply {
        do {
            return try AgentJSON.decode(Reply.self, from: data)
        } catch {
            throw unreachable("answered what does not read as \(Reply.self): \(error)")
        }
    }

    /// One call; the reply's body when its status is 2xx.
    private func send(_ method: Method, _ path: String, body: Data?, timeout: TimeAmount) async throws -> Data {
        var request = HTTPClientRequest(url: "\(address)\(AgentProtocol.pathPrefix)/\(path)")
        request.method = method == .get ? .GET : .POST
        request.headers.add(name: AgentHeader.version, value: String(AgentProtocol.version))
        if let token { request.headers.add(name: "Authorization", value: "Bearer \(token)") }
        if let body {
            request.headers.add(name: "Content-Type", value: "application/json")
            request.body = .bytes(ByteBuffer(bytes: body))
        }
        let status: UInt
        let data: Data
        do {
            let response = try await client.execute(request, timeout: timeout)
            status = response.status.code
            data = Data(try await response.body.collect(upTo: Self.replyLimit).readableBytesView)
        } catch {
            try Task.checkCancellation()
            throw unreachable(Self.describe(error, timeout: timeout))
        }
        guard (200..<300).contains(status) else {
            if let error = try? AgentJSON.decode(AgentError.self, from: data) { throw error }
            let text = String(decoding: data.prefix(200), as: UTF8.self)
            throw unreachable("answered HTTP \(status): \(text)")
        }
        return data
    }

    private func unreachable(_ reason: String) -> AgentError {
        AgentError(.unreachable, "machine \(machine) at \(address): \(reason)")
    }

    private static func describe(_ error: any Error, timeout: TimeAmount) -> String {
        if let error = error as? HTTPClientError, error == .deadlineExceeded {
            return "no answer within \(timeout.nanoseconds / 1_000_000_000) s"
        }
        if let error = error as? HTTPClientError, error == .connectTimeout {
            return "no connection within 5 s"
        }
        return String(describing: error)
    }
}
