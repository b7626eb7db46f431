import Foundation
import Hummingbird
import TumultDaemon
import TumultFaults

/// chaosd's server API on the same port: attacks on this host outside any
/// experiment, journaled like everything else so that recovery survives a
/// restart (`POST /api/attack/{network,process,stress,disk}`,
/// `DELETE /api/attack/:uid`, `GET /api/experiments/`).
struct ChaosdRoutes: Sendable {
    let daemon: LocalChaosDaemon

    func register(on router: Router<BasicRequestContext>) {
        router.post("/api/attack/:uid") { request, context in
            // One parameter name for the path: DELETE names the same segment :uid.
            let kind = try context.parameters.require("uid")
            guard let type = ChaosdCommands.kinds[kind] else {
                throw APIError(.notFound, "NotFound", "no attack kind \(kind) (network, process, stress, disk)")
            }
            try TypedBody.require(request)
            let body = try await request.body.collect(upTo: 1 << 20)
            let command = try ChaosdCommands.decode(type, from: Data(buffer: body), kind: kind)
            let planned = try command.planned()
            if try daemon.journal.isHalted() {
                throw APIError(.conflict, "Halted", "Tumult is halted (emergency stop): new faults are refused until `tumult unhalt`")
            }
            // What the body names must be on the host before anything is journaled.
            let checks = command.hostChecks
            try await blocking { try ChaosdHost().verify(checks) }
            let target = command.targetDescription
            let uid: String
            do {
                uid = try await blocking { try planned.inject(with: daemon.agent.runner, target: target, endsAt: nil) }
            } catch let error as FaultError where error.code == .invalidFault || error.code == .unsupported {
                // What this host cannot do as asked (no device to default to,
                // stress-ng missing, nothing matches): the request's fault, as for an experiment.
                throw APIError(.badRequest, error.code == .unsupported ? "Unsupported" : "ValidationError", error.description)
            } catch {
                throw APIError(.internalServerError, "InjectFailed", String(describing: error))
            }
            return JSONResponse.make(ChaosdReply(status: 200, message: "attack successfully", uid: uid))
        }
        router.delete("/api/attack/:uid") { _, context in
            let uid = try context.parameters.require("uid")
            guard try daemon.journal.attack(uid) != nil else {
                throw APIError(.notFound, "NotFound", "no attack with uid \(uid)")
            }
            try await blocking { try daemon.agent.runner.recover(uid) }
            return JSONResponse.make(ChaosdReply(status: 200, message: "recover successfully", uid: uid))
        }
    }

    /// chaosd's experiment list: every attack in the journal.
    func listAttacks() async throws -> Response {
        let attacks = try await blocking { try daemon.journal.attacks() }
        return JSONResponse.make(attacks.map { attack in
            ChaosdExperiment(uid: attack.uid, created_at: attack.createdAt, updated_at: attack.updatedAt,
                             status: Self.status(of: attack.state), kind: attack.family, action: attack.action,
                             target: attack.target, message: attack.message)
        })
    }

    /// chaosd's words for a journal state.
    static func status(of state: Journal.State) -> String {
        switch state {
        case .injecting: "created"
        case .injected: "success"
        case .recovering: "recovering"
        case .recovered: "destroyed"
        case .failed: "error"
        }
    }
}

/// chaosd's reply to an attack.
struct ChaosdReply: Encodable, Sendable {
    var status: Int
    var message: String
    var uid: String
}

/// chaosd's `core.Experiment`.
struct ChaosdExperiment: Encodable, Sendable {
    var uid: String
    var created_at: Date
    var updated_at: Date
    var status: String
    var kind: String
    var action: String
    var target: String
    var message: String?
}
