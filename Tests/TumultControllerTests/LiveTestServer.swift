import Foundation
import HummingbirdTesting
import TumultDaemon
import TumultServer

/// A real `tumult server` for one test: live HTTP on a free loopback port,
/// a store and journal in a temporary home removed afterwards.
struct LiveTestServer {
    let home: URL
    var configuration: ServerConfiguration

    init(token: String? = nil) {
        home = FileManager.default.temporaryDirectory.appendingPathComponent("tmt-server-\(UUID().uuidString)")
        configuration = ServerConfiguration(home: home)
        configuration.port = 0
        configuration.token = token
    }

    func run(_ test: @escaping @Sendable (any TestClientProtocol, ServerParts) async throws -> Void) async throws {
        defer { try? FileManager.default.removeItem(at: home) }
        let (application, parts) = try await buildApplication(configuration: configuration, agent: try localAgent(configuration))
        try await application.test(.live) { client in try await test(client, parts) }
    }
}

/// The host agent `tumult server` builds for `configuration` (its home,
/// inventory and network backend), as the tests' servers use it.
func localAgent(_ configuration: ServerConfiguration) throws -> LocalHostAgent {
    try LocalHostAgent.serving(home: configuration.home, inventoryPath: configuration.inventoryPath,
                               networkBackend: configuration.networkBackend)
}
