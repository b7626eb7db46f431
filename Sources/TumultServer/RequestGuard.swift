import Foundation
import Hummingbird
import Synchronization

/// Who may talk to the server from a browser. A page on any site can make
/// the browser send requests to 127.0.0.1 (cross-site request forgery),
/// and a DNS name of the attacker's that resolves to 127.0.0.1 makes them
/// same-origin to the browser (DNS rebinding). Loopback needs no token, so
/// the server itself refuses both: the `Host` must name this server, and
/// an `Origin`, when a browser sends one, must be this server's or one
/// configured with `--allowed-origin`.
public struct RequestOrigins: Sendable {
    /// The address the server listens on (`127.0.0.1`, `::`, a name).
    public var listenHost: String
    /// Host names (from `--allowed-origin`) accepted in `Host` and `Origin`
    /// on any port: the name a reverse proxy or a DNS entry gives the server.
    public var allowedHosts: Set<String>
    /// Full origins from `--allowed-origin` (`https://chaos.example.com`).
    public var allowedOrigins: Set<String>

    /// `allowed` holds `--allowed-origin` values: origins
    /// (`https://chaos.example.com:8443`) or bare host names.
    public init(listenHost: String, allowed: [String]) {
        self.listenHost = Self.normalisedHost(listenHost)
        var hosts: Set<String> = []
        var origins: Set<String> = []
        for entry in allowed {
            let text = entry.trimmingCharacters(in: .whitespaces).lowercased()
            if let origin = Self.parseOrigin(text) {
                hosts.insert(origin.host)
                origins.insert(Self.originText(origin))
            } else if let host = Self.splitHostPort(text)?.host {
                hosts.insert(host)
            }
        }
        // The machine's own name: an attacker cannot make it resolve to
        // this machine for a browser (that takes the machine's DNS), and
        // users off loopback reach the server by it.
        if let name = Self.machineName() { hosts.insert(name) }
        allowedHosts = hosts
        allowedOrigins = origins
    }

    static func machineName() -> String? {
        var buffer = [CChar](repeating: 0, count: 256)
        guard gethostname(&buffer, buffer.count - 1) == 0 else { return nil }
        let name = normalisedHost(String(cString: buffer))
        return name.isEmpty || name == "localhost" ? nil : name
    }

    /// The problem with an allowed-origin value, for the command line.
    public static func problem(withAllowed entry: String) -> String? {
        let text = entry.trimmingCharacters(in: .whitespaces).lowercased()
        if text.contains("://") {
            return parseOrigin(text) == nil ? "\"\(entry)\" is not an origin (scheme://host[:port], http or https)" : nil
        }
        guard let host = splitHostPort(text)?.host, !host.isEmpty,
              host.allSatisfy({ $0.isLetter || $0.isNumber || $0 == "." || $0 == "-" || $0 == ":" }) else {
            return "\"\(entry)\" is not a host name or an origin"
        }
        return nil
    }

    /// Whether a `Host` header names this server. Its port is not
    /// compared: a rebinding attack is told apart by its name, and clients
    /// (and proxies) differ in whether they send the port.
    public func acceptsHost(_ header: String) -> Bool {
        guard let (host, _) = Self.splitHostPort(header.lowercased()) else { return false }
        return allowedHosts.contains(host) || servesAddress(host)
    }

    /// Whether an `Origin` header is this server's page or an allowed one.
    public func acceptsOrigin(_ header: String, port: Int?) -> Bool {
        guard let origin = Self.parseOrigin(header.lowercased()) else { return false }
        if allowedOrigins.contains(Self.originText(origin)) || allowedHosts.contains(origin.host) { return true }
        if let port, origin.port != port { return false }
        return servesAddress(origin.host)
    }

    /// Whether `host` (no port) is an address this server answers on
    /// under its own name: `localhost`, the listen address itself, any
    /// loopback address when it listens on loopback, any IP literal when it
    /// listens on every address. A DNS name other than the listen name
    /// never is: that is what a rebinding attack uses.
    func servesAddress(_ host: String) -> Bool {
        if host == "localhost" || host.hasSuffix(".localhost") { return true }
        if host == listenHost { return true }
        guard let address = IPAddressText(host) else { return false }
        if let listen = IPAddressText(listenHost) {
            if listen.isUnspecified { return true }
            if listen.isLoopback { return address.isLoopback }
            return false
        }
        // Listening on a name (`localhost`, a host name): its loopback answers.
        return listenHost == "localhost" && address.isLoopback
    }

    /// `host[:port]` or `[v6][:port]`, host lowercased and without a final dot.
    static func splitHostPort(_ text: String) -> (host: String, port: Int?)? {
        guard !text.isEmpty else { return nil }
        if text.hasPrefix("[") {
            guard let close = text.firstIndex(of: "]") else { return nil }
            let host = String(text[text.index(after: text.startIndex)..<close])
            let rest = text[text.index(after: close)...]
            if rest.isEmpty { return (host, nil) }
            guard rest.hasPrefix(":"), let port = Int(rest.dropFirst()), (1...65_535).contains(port) else { return nil }
            return (host, port)
        }
        let parts = text.split(separator: ":", omittingEmptySubsequences: false)
        switch parts.count {
        case 1: return (normalisedHost(text), nil)
        case 2:
            guard let port = Int(parts[1]), (1...65_535).contains(port), !parts[0].isEmpty else { return nil }
            return (normalisedHost(String(parts[0])), port)
        default:
            // A bare IPv6 address (no brackets) has no port.
            return IPAddressText(text) != nil ? (text, nil) : nil
        }
    }

    /// `scheme://host[:port]` with http or https; the port defaults by scheme.
    static func parseOrigin(_ text: String) -> (scheme: String, host: String, port: Int)? {
        let scheme: String
        if text.hasPrefix("http://") { scheme = "http" } else if text.hasPrefix("https://") { scheme = "https" } else { return nil }
        var rest = String(text.dropFirst(scheme.count + 3))
        if rest.hasSuffix("/") { rest.removeLast() }
        guard !rest.contains("/"), !rest.contains("@"), let (host, port) = splitHostPort(rest), !host.isEmpty else { return nil }
        return (scheme, host, port ?? (scheme == "https" ? 443 : 80))
    }

    static func originText(_ origin: (scheme: String, host: String, port: Int)) -> String {
        let host = origin.host.contains(":") ? "[\(origin.host)]" : origin.host
        return "\(origin.scheme)://\(host):\(origin.port)"
    }

    static func normalisedHost(_ host: String) -> String {
        var host = host.lowercased()
        if host.hasPrefix("[") && host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
        while host.hasSuffix(".") { host.removeLast() }
        return host
    }
}

/// An IP address given as text, parsed by the C library (so that
/// `127.attacker.invalid` is a name, not a loopback address).
struct IPAddressText {
    enum Family { case v4([UInt8]), v6([UInt8]) }
    let family: Family

    init?(_ text: String) {
        var v4 = in_addr()
        if inet_pton(AF_INET, text, &v4) == 1 {
            family = .v4(withUnsafeBytes(of: v4) { Array($0) })
            return
        }
        var v6 = in6_addr()
        if inet_pton(AF_INET6, text, &v6) == 1 {
            family = .v6(withUnsafeBytes(of: v6) { Array($0) })
            return
        }
        return nil
    }

    /// 127.0.0.0/8, ::1, and 127.0.0.0/8 mapped into IPv6.
    var isLoopback: Bool {
        switch family {
        case .v4(let bytes): return bytes[0] == 127
        case .v6(let bytes):
            if bytes[0..<15].allSatisfy({ $0 == 0 }) && bytes[15] == 1 { return true }
            return bytes[0..<10].allSatisfy { $0 == 0 } && bytes[10] == 0xFF && bytes[11] == 0xFF && bytes[12] == 127
        }
    }

    /// 0.0.0.0 and ::: every address of the machine.
    var isUnspecified: Bool {
        switch family {
        case .v4(let bytes), .v6(let bytes): return bytes.allSatisfy { $0 == 0 }
        }
    }
}

/// The port the server really listens on, known once it is bound (tests
/// and `--listen :0` ask for any port).
final class ListeningPort: Sendable {
    private let value = Mutex<Int?>(nil)

    func set(_ port: Int) { value.withLock { $0 = port } }
    var port: Int? { value.withLock { $0 } }
}

/// Refuses what a browser sends on behalf of another site, before the
/// bearer token is even looked at: a foreign `Host` (DNS rebinding), a
/// foreign `Origin` or `Sec-Fetch-Site: cross-site` (forgery), a write
/// whose body is not JSON or YAML (a form cannot send those without the
/// CORS preflight that this server never grants), and bodies larger than
/// any route takes (413 before reading them).
struct RequestGuardMiddleware<Context: RequestContext>: RouterMiddleware {
    let origins: RequestOrigins
    let listening: ListeningPort
    let bodyLimit: Int

    static var fetchSite: HTTPFields.Element.Name { HTTPFields.Element.Name("Sec-Fetch-Site")! }

    /// Media types a write may carry (Kubernetes clients send YAML or JSON).
    static func acceptsContentType(_ header: String) -> Bool {
        let media = header.split(separator: ";").first.map { $0.trimmingCharacters(in: .whitespaces).lowercased() } ?? ""
        if ["application/json", "application/yaml", "application/x-yaml", "text/yaml", "text/x-yaml"].contains(media) {
            return true
        }
        // application/merge-patch+json, application/apply-patch+yaml ...
        return media.hasPrefix("application/") && (media.hasSuffix("+json") || media.hasSuffix("+yaml"))
    }

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        let port = listening.port
        if let host = request.head.authority, !origins.acceptsHost(host) {
            return APIError(.forbidden, "Forbidden",
                            "Host \"\(host)\" does not name this server (DNS rebinding?); add it with --allowed-origin if it should").response
        }
        if let origin = request.headers[.origin], !origins.acceptsOrigin(origin, port: port) {
            return APIError(.forbidden, "Forbidden",
                            "Origin \"\(origin)\" is not this server; add it with --allowed-origin if it should").response
        }
        if request.headers[Self.fetchSite]?.lowercased() == "cross-site" {
            return APIError(.forbidden, "Forbidden", "cross-site requests are refused (Sec-Fetch-Site: cross-site)").response
        }
        if [.post, .put, .patch, .delete].contains(request.method) {
            let length = request.headers[.contentLength].flatMap { Int($0) }
            if let type = request.headers[.contentType] {
                if !Self.acceptsContentType(type) {
                    return APIError(.unsupportedMediaType, "UnsupportedMediaType",
                                    "Content-Type \"\(type)\" is refused: send application/json or application/yaml").response
                }
            } else if (length ?? 0) > 0 {
                return TypedBody.untyped.response
            }
            if let length, length > bodyLimit {
                return APIError(.contentTooLarge, "PayloadTooLarge",
                                "the body is \(length) bytes; the largest accepted is \(bodyLimit)").response
            }
        }
        return try await next(request, context)
    }
}

/// The methods each route answers, read from the router once every route
/// is registered, so that a known path asked with another method gets 405
/// and `Allow` (and OPTIONS its `Allow`) instead of 404.
final class RouteMethods: Sendable {
    struct Route: Sendable {
        /// Path segments; nil stands for a parameter (`:uid`) or a wildcard.
        var segments: [String?]
        var methods: Set<String>
    }

    private let routes = Mutex<[Route]>([])

    /// Records the router's routes (called once, before serving).
    func load<Context>(from router: Router<Context>) {
        var byPath: [String: Route] = [:]
        for route in router.routes {
            let text = route.path.description
            let segments: [String?] = text.split(separator: "/").map { segment in
                segment.hasPrefix(":") || segment.hasPrefix("{") || segment.hasPrefix("*") ? nil : String(segment)
            }
            byPath[text, default: Route(segments: segments, methods: [])].methods.insert(route.method.rawValue)
        }
        routes.withLock { $0 = Array(byPath.values) }
    }

    /// The methods of the most specific route matching `path` (fixed
    /// segments before parameters, as the router resolves), nil if none does.
    func methods(for path: String) -> Set<String>? {
        let given = path.split(separator: "/").map(String.init)
        return routes.withLock { routes in
            var best: (rank: [Int], methods: Set<String>)?
            for route in routes where route.segments.count == given.count {
                var rank: [Int] = []
                var matches = true
                for (pattern, segment) in zip(route.segments, given) {
                    if let pattern {
                        guard pattern == segment else { matches = false; break }
                        rank.append(1)
                    } else {
                        rank.append(0)
                    }
                }
                guard matches else { continue }
                if let current = best {
                    if rank == current.rank {
                        best?.methods.formUnion(route.methods)
                    } else if current.rank.lexicographicallyPrecedes(rank) {
                        best = (rank, route.methods)
                    }
                } else {
                    best = (rank, route.methods)
                }
            }
            return best?.methods
        }
    }
}

/// 405 with `Allow` for a known path asked with a method it does not
/// answer; OPTIONS answers 204 with `Allow` (and no CORS grant).
struct MethodNotAllowedMiddleware<Context: RequestContext>: RouterMiddleware {
    let routes: RouteMethods

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        do {
            return try await next(request, context)
        } catch let error as HTTPError where error.status == .notFound {
            guard let methods = routes.methods(for: request.uri.path), !methods.contains(request.method.rawValue) else {
                throw error
            }
            let allow = (methods.union(["OPTIONS"])).sorted().joined(separator: ", ")
            if request.method == .options {
                return Response(status: .noContent, headers: [.allow: allow])
            }
            var response = APIError(.methodNotAllowed, "MethodNotAllowed",
                                    "\(request.method.rawValue) is not allowed on \(request.uri.path) (allowed: \(allow))").response
            response.headers[.allow] = allow
            return response
        }
    }
}

/// The routes that read a body call this: a body sent without a length
/// (chunked) passes the middleware untyped, and is refused here.
enum TypedBody {
    static var untyped: APIError {
        APIError(.unsupportedMediaType, "UnsupportedMediaType", "a body needs a Content-Type: application/json or application/yaml")
    }

    static func require(_ request: Request) throws {
        if request.headers[.contentType] == nil { throw untyped }
    }
}
