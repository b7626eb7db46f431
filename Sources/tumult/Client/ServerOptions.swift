import ArgumentParser
import Foundation

/// `--server` and `--token`, shared by every command that talks to
/// `tumult server` over its REST API.
struct ServerOptions: ParsableArguments {
    static let defaultServer = "http://127.0.0.1:2333"

    @Option(help: ArgumentHelp("The URL of `tumult server` (default $TUMULT_SERVER, else \(ServerOptions.defaultServer)).",
                               valueName: "url"))
    var server: String?

    @Option(help: ArgumentHelp("The bearer token the server asks for when it listens beyond loopback (default $TUMULT_TOKEN, which keeps it out of `ps`).",
                               valueName: "token"))
    var token: String?

    func validate() throws {
        _ = try serverURL()
    }

    /// `--server`, else `$TUMULT_SERVER`, else the default, checked to be an
    /// http(s) URL. A bare `host:port` means `http://host:port`.
    func serverURL(environment: [String: String] = ProcessInfo.processInfo.environment) throws -> URL {
        if let server { return try Self.url(from: server, source: "--server") }
        if let fromEnvironment = environment["TUMULT_SERVER"], !fromEnvironment.isEmpty {
            return try Self.url(from: fromEnvironment, source: "$TUMULT_SERVER")
        }
        return URL(string: Self.defaultServer)!
    }

    static func url(from text: String, source: String) throws -> URL {
        let spelled = text.contains("://") ? text : "http://" + text
        guard let url = URL(string: spelled), let scheme = url.scheme?.lowercased(),
              scheme == "http" || scheme == "https", let host = url.host, !host.isEmpty else {
            throw ValidationError("\(source): \"\(text)\" is not an http:// or https:// URL (e.g. \(defaultServer)).")
        }
        return url
    }

    /// The client these options describe.
    func client(environment: [String: String] = ProcessInfo.processInfo.environment) throws -> APIClient {
        let bearer = token ?? environment["TUMULT_TOKEN"].flatMap { $0.isEmpty ? nil : $0 }
        return APIClient(baseURL: try serverURL(environment: environment), token: bearer)
    }
}
