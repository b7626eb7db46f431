import Foundation
import Hummingbird
import TumultAgent

/// chaosd's HTTP API over any `HostAgent`, as chaosd serves it and Chaos
/// Mesh's PhysicalMachineChaos controller calls it: `POST
/// /api/attack/FAMILY` with chaosd's JSON body, `DELETE /api/attack/UID`,
/// `GET /api/experiments/` and `GET /api/system/health`. Replies are
/// chaosd's bytes; failures are thrown as `AgentError` so that each server
/// writes them its own way (`ChaosdErrorReply` writes chaosd's).
///
/// Chaos Mesh judges an attack by the status alone (200 applied; 200 or 404
/// recovered), and sends the same `uid` on every retry.
public struct ChaosdRoutes: Sendable {
    /// The attack families chaosd routes (`/api/attack/FAMILY`); the agent
    /// refuses those it does not run as `.unsupported`, which reads better
    /// in a PhysicalMachineChaos status than chaosd's bare 404.
    public static let families = ["process", "stress", "network", "disk", "clock", "jvm", "kafka", "vm", "redis", "user_defined"]
    public static let bodyLimit = 1 << 20
    /// chaosd's port for plain HTTP (`--port`).
    public static let plainPort = 31767
    /// chaosd's port for HTTPS (`--https-port`), the one Chaos Mesh's
    /// default security mode reaches.
    public static let tlsPort = 31768

    public let agent: any HostAgent

    public init(agent: any HostAgent) {
        self.agent = agent
    }

    /// Every chaosd route.
    public func register<Context: RequestContext>(on router: some RouterMethods<Context>) {
        registerAttacks(on: router)
        registerExperiments(on: router)
        registerHealth(on: router)
    }

    /// `POST /api/attack/FAMILY` and `DELETE /api/attack/:uid`.
    public func registerAttacks<Context: RequestContext>(on router: some RouterMethods<Context>) {
        let routes = self
        for family in Self.families {
            router.post(RouterPath("/api/attack/\(family)")) { request, _ in
                let body = try await AgentReply.collect(request, limit: Self.bodyLimit)
                return try await routes.attack(family: family, body: body)
            }
        }
        router.delete("/api/attack/:uid") { _, context in
            try await routes.recover(uid: try context.parameters.require("uid"))
        }
    }

    /// `GET /api/experiments/` (the router takes it with or without the slash).
    public func registerExperiments<Context: RequestContext>(on router: some RouterMethods<Context>) {
        let routes = self
        router.get("/api/experiments") { request, _ in
            try await routes.experiments(launchMode: request.uri.queryParameters.get("launch_mode"))
        }
    }

    /// `GET /api/system/health`, what chaosd's integration test and load balancers poll.
    public func registerHealth<Context: RequestContext>(on router: some RouterMethods<Context>) {
        router.get("/api/system/health") { _, _ in Self.health() }
    }

    /// One attack: chaosd's body goes to the agent as it came, under the
    /// body's `uid` when it names one (chaosd does the same, and Chaos
    /// Mesh's DELETE names that uid later).
    public func attack(family: String, body: Data) async throws -> Response {
        let uid = try Self.uid(in: body)
        let id = try await agent.attack(DirectAttack(family: family, body: body, uid: uid))
        return Self.reply(status: 200, message: "attack successfully", uid: id.uid)
    }

    /// Recovers an attack made through `attack`. A uid the host holds no
    /// such attack under is chaosd's 404, which Chaos Mesh takes as recovered.
    public func recover(uid: String) async throws -> Response {
        guard try await agent.directAttacks().contains(where: { $0.id.uid == uid }) else {
            throw AgentError(.notFound, "record not found")
        }
        try await agent.recover([AttackID(machine: agent.machine, uid: uid)])
        return Self.reply(status: 200, message: "attack recover successfully", uid: uid)
    }

    /// chaosd's experiment list: the attacks made outside experiments,
    /// oldest first, numbered as chaosd's table numbers its rows. Every
    /// attack was launched through the server (`svr`), so another
    /// `launch_mode` lists none.
    public func experiments(launchMode: String? = nil) async throws -> Response {
        let attacks = try await agent.directAttacks()
            .sorted { ($0.createdAt, $0.id.uid) < ($1.createdAt, $1.id.uid) }
        let listed = launchMode == nil || launchMode == ChaosdExperiment.serverLaunchMode ? attacks : []
        let items = listed.enumerated().map { ChaosdExperiment(attack: $1, id: $0 + 1).json }
        return Self.json("[" + items.joined(separator: ",") + "]")
    }

    /// chaosd's health reply: `{"status":0,"message":""}`.
    public static func health() -> Response {
        json(#"{"status":0,"message":""}"#)
    }

    /// chaosd's `utils.Response`, keys in its field order.
    static func reply(status: Int, message: String, uid: String) -> Response {
        json(#"{"status":\#(status),"message":\#(GoJSON.string(message)),"uid":\#(GoJSON.string(uid))}"#)
    }

    /// gin's `c.JSON`: compact, no trailing newline.
    static func json(_ text: String, status: HTTPResponse.Status = .ok) -> Response {
        Response(status: status, headers: [.contentType: "application/json; charset=utf-8"],
                 body: ResponseBody(byteBuffer: ByteBuffer(string: text)))
    }

    /// The body's `uid`, nil when absent or empty (chaosd then makes one).
    /// A body that is not a JSON object is refused as chaosd refuses it.
    static func uid(in body: Data) throws -> String? {
        struct Common: Decodable { var uid: String? }
        guard !body.isEmpty else { throw AgentError(.invalid, "EOF: the request body is empty") }
        do {
            let uid = try JSONDecoder().decode(Common.self, from: body).uid
            return uid?.isEmpty == false ? uid : nil
        } catch DecodingError.typeMismatch(_, let context) where context.codingPath.map(\.stringValue) == ["uid"] {
            throw AgentError.field("uid", "must be a string")
        } catch {
            throw AgentError(.invalid, "the body is not a JSON object: \(error)")
        }
    }
}

/// chaosd's `core.Experiment` for one attack, as `GET /api/experiments/` lists it.
public struct ChaosdExperiment: Sendable, Hashable {
    static let serverLaunchMode = "svr"

    public var id: Int
    public var uid: String
    public var createdAt: Date
    public var updatedAt: Date
    /// created, success, error, destroyed ...
    public var status: String
    public var error: String
    public var kind: String
    public var action: String
    public var launchMode: String

    public init(attack: HostAttack, id: Int) {
        self.id = id
        uid = attack.id.uid
        createdAt = attack.createdAt
        updatedAt = attack.updatedAt
        status = attack.state
        error = attack.message ?? ""
        // chaosd's server-mode disk attack is of kind `disk-server`.
        kind = attack.family == "disk" ? "disk-server" : attack.family
        // The journal names the action with its family (`network delay`); chaosd without.
        let prefix = attack.family + " "
        action = attack.action.hasPrefix(prefix) ? String(attack.action.dropFirst(prefix.count)) : attack.action
        launchMode = Self.serverLaunchMode
    }

    /// Its JSON as chaosd writes it: keys in the struct's order, times in
    /// RFC 3339 with nanoseconds. `recover_command` holds chaosd's own
    /// recovery state, which the agent keeps in its journal instead, so it is empty.
    public var json: String {
        let fields = [
            #""id":\#(id)"#,
            #""uid":\#(GoJSON.string(uid))"#,
            #""created_at":\#(GoJSON.string(GoJSON.rfc3339Nano(createdAt)))"#,
            #""updated_at":\#(GoJSON.string(GoJSON.rfc3339Nano(updatedAt)))"#,
            #""status":\#(GoJSON.string(status))"#,
            #""error":\#(GoJSON.string(error))"#,
            #""kind":\#(GoJSON.string(kind))"#,
            #""action":\#(GoJSON.string(action))"#,
            #""recover_command":"""#,
            #""launch_mode":\#(GoJSON.string(launchMode))"#,
        ]
        return "{" + fields.joined(separator: ",") + "}"
    }
}
