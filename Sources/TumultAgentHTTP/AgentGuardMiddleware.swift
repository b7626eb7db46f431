import Foundation
import Hummingbird
import TumultAgent

/// In front of every agent route: the bearer token, then the protocol
/// version, and every failure behind them written as a JSON `AgentError`.
struct AgentGuardMiddleware<Context: RequestContext>: RouterMiddleware {
    /// The token's bytes; nil or empty: no token required.
    let token: [UInt8]?
    private let versionHeader = AgentHeader.version.lowercased()

    init(token: String?) {
        self.token = token.flatMap { $0.isEmpty ? nil : Array($0.utf8) }
    }

    func handle(_ request: Request, context: Context,
                next: (Request, Context) async throws -> Response) async throws -> Response {
        do {
            try authorize(request)
            try AgentVersionCheck.check(request.headers.first { $0.name.canonicalName == versionHeader }?.value)
            return try await next(request, context)
        } catch {
            let agentError = AgentError.wrapping(error)
            if agentError.code == .failed {
                context.logger.error("agent call failed", metadata: [
                    "http.path": "\(request.uri.path)", "error.message": "\(agentError.message)",
                ])
            }
            return AgentReply.error(agentError)
        }
    }

    private func authorize(_ request: Request) throws {
        guard let token else { return }
        guard let header = request.headers[.authorization] else {
            throw AgentError(.unauthorized, "this agent needs a bearer token (Authorization: Bearer TOKEN)")
        }
        let scheme = "bearer "
        guard header.count > scheme.count, header.prefix(scheme.count).lowercased() == scheme,
              BearerToken.equal(Array(header.dropFirst(scheme.count).utf8), token) else {
            throw AgentError(.unauthorized, "the bearer token is wrong")
        }
    }
}

/// The version check both ends agree on.
enum AgentVersionCheck {
    static func check(_ header: String?) throws {
        guard let header else {
            throw AgentError(.version, "the caller sent no \(AgentHeader.version) header; this agent speaks agent protocol version \(AgentProtocol.version)")
        }
        guard Int(header.trimmingCharacters(in: .whitespaces)) == AgentProtocol.version else {
            throw AgentError(.version, "the caller speaks agent protocol version \(header), this agent speaks version \(AgentProtocol.version)")
        }
    }
}

enum BearerToken {
    /// Compares in time that depends only on the lengths, so a caller
    /// cannot find the token a byte at a time by timing refusals.
    static func equal(_ given: [UInt8], _ expected: [UInt8]) -> Bool {
        var difference: UInt8 = given.count == expected.count ? 0 : 1
        for index in 0..<expected.count {
            let byte = index < given.count ? given[index] : ~expected[index]
            difference |= byte ^ expected[index]
        }
        return difference == 0
    }
}
