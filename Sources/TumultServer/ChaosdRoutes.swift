import Foundation
import Hummingbird
import TumultAgent
import TumultAgentHTTP

/// chaosd's attack API on the server's port, over this host's agent (the
/// same `ChaosdRoutes` `tumult daemon` serves), behind the server's guards:
/// a typed JSON body (so a cross-site form cannot post one), the origin
/// checks and the token. Errors become the server's error JSON.
struct ServerChaosdRoutes: Sendable {
    let agent: any HostAgent

    func register(on router: Router<BasicRequestContext>) {
        let chaosd = ChaosdRoutes(agent: agent)
        router.post("/api/attack/:uid") { request, context in
            // One parameter name for the path: DELETE names the same segment :uid.
            let family = try context.parameters.require("uid")
            try TypedBody.require(request)
            let body = try await request.body.collect(upTo: ChaosdRoutes.bodyLimit)
            return try await chaosd.attack(family: family, body: Data(buffer: body))
        }
        router.delete("/api/attack/:uid") { _, context in
            try await chaosd.recover(uid: try context.parameters.require("uid"))
        }
    }

    /// chaosd's experiment list: every attack made outside experiments.
    func listAttacks() async throws -> Response {
        try await ChaosdRoutes(agent: agent).experiments()
    }
}
