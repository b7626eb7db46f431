import Foundation
import TumultModel

/// The live toxics of a running TCPChaos: Toxiproxy's API under
/// `/api/tcpchaos/NAMESPACE/NAME/toxics` (`tumult toxics`).
extension APIClient {
    static func toxicsPath(namespace: String, name: String) -> String {
        "/api/tcpchaos/\(pathComponent(namespace))/\(pathComponent(name))/toxics"
    }

    /// `GET .../toxics`: every toxic with the values in effect.
    func toxics(namespace: String, name: String) async throws -> [Received<Toxic>] {
        let answer = try await call(.get, Self.toxicsPath(namespace: namespace, name: name))
        return try Self.items(Toxic.self, in: answer, what: "the toxics of \(namespace)/\(name)")
    }

    /// `POST .../toxics`: adds one toxic, which the running proxies take at once.
    func addToxic(_ toxic: Value, namespace: String, name: String) async throws -> Received<Toxic> {
        let answer = try await call(.post, Self.toxicsPath(namespace: namespace, name: name),
                                    body: Data(DocumentText.json([toxic]).utf8), contentType: "application/json")
        return Received(item: try Self.decode(Toxic.self, from: answer, what: "the added toxic"), json: answer)
    }

    /// `POST .../toxics/TOXIC`: changes what `changes` gives (attributes merge by key).
    func updateToxic(_ toxic: String, _ changes: Value, namespace: String, name: String) async throws -> Received<Toxic> {
        let answer = try await call(.post, Self.toxicsPath(namespace: namespace, name: name) + "/" + Self.pathComponent(toxic),
                                    body: Data(DocumentText.json([changes]).utf8), contentType: "application/json")
        return Received(item: try Self.decode(Toxic.self, from: answer, what: "toxic \(toxic)"), json: answer)
    }

    /// `DELETE .../toxics/TOXIC`.
    func removeToxic(_ toxic: String, namespace: String, name: String) async throws {
        _ = try await call(.delete, Self.toxicsPath(namespace: namespace, name: name) + "/" + Self.pathComponent(toxic))
    }
}
