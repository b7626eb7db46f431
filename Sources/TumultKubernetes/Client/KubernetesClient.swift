import AsyncHTTPClient
import Foundation
import Logging
import NIOCore
import NIOSSL
import Synchronization
import TumultModel

/// A small typed client of the Kubernetes API over AsyncHTTPClient: CRUD,
/// patches, lists that follow `continue` tokens and watches decoded line by
/// line. Every request goes through one client-side token bucket and is
/// counted by verb and resource, for the benchmark that counts API requests.
public final class KubernetesClient: Sendable {
    public let configuration: KubernetesConfiguration
    public let rateLimiter: TokenBucket
    /// How long a request may wait for the reply's head. Watches stream for
    /// as long as the server keeps them open after that.
    public static let requestTimeout: TimeAmount = .seconds(60)
    /// The largest reply body read whole (lists of a big cluster).
    static let replyLimit = 512 << 20

    let http: HTTPClient
    /// A configuration whose TLS material does not load fails every request with this.
    private let setupError: String?
    private let token: BearerTokenSource
    private let counts = Mutex<[String: Int]>([:])
    private let logger: Logger
    private let base: String

    /// `eventLoopGroup` nil uses AsyncHTTPClient's shared group.
    public init(configuration: KubernetesConfiguration, eventLoopGroup: (any EventLoopGroup)? = nil, logger: Logger) {
        self.configuration = configuration
        self.logger = logger
        rateLimiter = TokenBucket(qps: configuration.qps, burst: configuration.burst)
        token = BearerTokenSource(token: configuration.bearerToken, file: configuration.bearerTokenFile)
        var base = configuration.server.absoluteString
        while base.hasSuffix("/") { base.removeLast() }
        self.base = base

        var tls: TLSConfiguration?
        var setupError: String?
        do {
            tls = try Self.tlsConfiguration(configuration)
        } catch {
            setupError = "the TLS configuration does not load: \(error)"
        }
        self.setupError = setupError
        var httpConfiguration = HTTPClient.Configuration(
            tlsConfiguration: tls, redirectConfiguration: .disallow, timeout: .init(connect: .seconds(10)))
        // Each watch holds a connection over HTTP/1.1 (plain http, or a server
        // without h2); an operator watches many kinds at once.
        httpConfiguration.connectionPool = .init(
            idleTimeout: .seconds(90), concurrentHTTP1ConnectionsPerHostSoftLimit: 256)
        http = HTTPClient(
            eventLoopGroup: eventLoopGroup ?? HTTPClient.defaultEventLoopGroup,
            configuration: httpConfiguration, backgroundActivityLogger: logger)
    }

    /// Closes every connection; open watches end. Call once, when done.
    public func shutdown() async throws {
        try await http.shutdown()
    }

    /// Requests sent so far, keyed `"<verb> <resource>[ <subresource>]"`:
    /// `"list pods"`, `"watch chaos-mesh.org/networkchaos"`, `"patch pods status"`.
    /// Each page of a paged list counts; a watch counts once when it starts.
    public func requestCounts() -> [String: Int] {
        counts.withLock { $0 }
    }

    // MARK: Verbs

    /// Reads one object. For a namespaced type, a nil namespace means the configuration's.
    public func get<T: KubernetesObject>(
        _ resource: ResourceType, namespace: String?, name: String, as type: T.Type = T.self
    ) async throws -> T {
        let path = resource.path(namespace: namespaceFor(resource, namespace), name: name)
        return try await decoded(T.self, verb: "get", resource: resource, method: .get, path: path)
    }

    /// Lists objects (a nil namespace on a namespaced type: all namespaces).
    /// With `limit`, reads pages of that size and follows `continue` tokens
    /// into one list; if a token expires midway, the list starts over unpaged,
    /// as client-go's pager does. The list's resourceVersion is the first
    /// page's: the API server serves every page from that snapshot, and should
    /// a server not, a watch from the earliest version still misses nothing
    /// (it may repeat changes, which an informer recognises).
    public func list<T: KubernetesObject>(
        _ resource: ResourceType, namespace: String?, labelSelector: String? = nil, fieldSelector: String? = nil,
        limit: Int? = nil, as type: T.Type = T.self
    ) async throws -> ObjectList<T> {
        let path = resource.path(namespace: namespace)
        var items: [T] = []
        var continueToken: String?
        var firstVersion: String?
        var limit = limit
        while true {
            var query: [(String, String)] = []
            if let labelSelector, !labelSelector.isEmpty { query.append(("labelSelector", labelSelector)) }
            if let fieldSelector, !fieldSelector.isEmpty { query.append(("fieldSelector", fieldSelector)) }
            if let limit { query.append(("limit", String(limit))) }
            if let continueToken { query.append(("continue", continueToken)) }
            let page: ListPage<T>
            do {
                page = try await decoded(
                    ListPage<T>.self, verb: "list", resource: resource, method: .get, path: path, query: query)
            } catch let error as KubernetesError where error.isGone && continueToken != nil {
                logger.debug(
                    "Continue token expired, listing again without pages",
                    metadata: ["kubernetes.resource": "\(resource)"])
                items = []
                continueToken = nil
                firstVersion = nil
                limit = nil
                continue
            }
            items.append(contentsOf: Self.withTypeMeta(page.items ?? [], resource: resource))
            if firstVersion == nil { firstVersion = page.metadata?.resourceVersion ?? "" }
            if limit != nil, let next = page.metadata?.continue, !next.isEmpty {
                continueToken = next
                continue
            }
            return ObjectList(items: items, resourceVersion: firstVersion ?? "")
        }
    }

    /// Creates `object`; `namespace` nil takes the object's own, then the configuration's.
    public func create<T: KubernetesObject>(_ resource: ResourceType, namespace: String?, _ object: T) async throws -> T {
        let path = resource.path(namespace: namespaceFor(resource, namespace ?? object.metadata.namespace))
        return try await decoded(
            T.self, verb: "create", resource: resource, method: .post, path: path, body: try encode(object))
    }

    /// Replaces `object` (PUT). Its `resourceVersion` makes the write
    /// conditional: a stale one comes back as `isConflict`.
    public func update<T: KubernetesObject>(_ resource: ResourceType, _ object: T) async throws -> T {
        let path = try objectPath(resource, object, verb: "update")
        return try await decoded(
            T.self, verb: "update", resource: resource, method: .put, path: path, body: try encode(object))
    }

    /// Replaces the object's status through the `/status` subresource (the
    /// spec sent is ignored by the server).
    public func updateStatus<T: KubernetesObject>(_ resource: ResourceType, _ object: T) async throws -> T {
        let path = try objectPath(resource, object, verb: "update", subresource: "status")
        return try await decoded(
            T.self, verb: "update", resource: resource, subresource: "status", method: .put, path: path,
            body: try encode(object))
    }

    /// Sends a merge or JSON patch, to the object or to `subresource` (`status`).
    public func patch<T: KubernetesObject>(
        _ resource: ResourceType, namespace: String?, name: String, _ patch: Patch, subresource: String? = nil,
        as type: T.Type = T.self
    ) async throws -> T {
        let path = resource.path(
            namespace: namespaceFor(resource, namespace), name: name, subresource: subresource)
        let body: Data
        switch patch {
        case .merge(let value): body = try encode(value)
        case .json(let operations): body = try encode(operations)
        }
        return try await decoded(
            T.self, verb: "patch", resource: resource, subresource: subresource, method: .patch, path: path,
            body: body, contentType: patch.contentType)
    }

    /// Deletes an object; with `preconditionResourceVersion`, only that
    /// version of it (else `isConflict`). NotFound is thrown: the caller decides.
    public func delete(
        _ resource: ResourceType, namespace: String?, name: String, preconditionResourceVersion: String? = nil
    ) async throws {
        let path = resource.path(namespace: namespaceFor(resource, namespace), name: name)
        var body: Data?
        if let preconditionResourceVersion {
            body = try encode(
                Value.object(Value.Object([
                    ("apiVersion", .string("v1")), ("kind", .string("DeleteOptions")),
                    ("preconditions", .object(Value.Object([("resourceVersion", .string(preconditionResourceVersion))]))),
                ])))
        }
        _ = try await send(verb: "delete", resource: resource, method: .delete, path: path, body: body)
    }

    // MARK: Transport

    /// The HTTP methods the API uses (NIOHTTP1's type is not a dependency of this target).
    enum Method { case get, post, put, patch, delete }

    /// The namespace a single-object request goes to.
    func namespaceFor(_ resource: ResourceType, _ namespace: String?) -> String? {
        guard resource.namespaced else { return nil }
        if let namespace, !namespace.isEmpty { return namespace }
        return configuration.namespace
    }

    private func objectPath<T: KubernetesObject>(
        _ resource: ResourceType, _ object: T, verb: String, subresource: String? = nil
    ) throws -> String {
        let collection = resource.path(namespace: namespaceFor(resource, object.metadata.namespace))
        guard !object.metadata.name.isEmpty else {
            throw KubernetesError(
                statusCode: nil, reason: "Invalid", message: "the object has no metadata.name", verb: verb,
                path: collection)
        }
        return resource.path(
            namespace: namespaceFor(resource, object.metadata.namespace), name: object.metadata.name,
            subresource: subresource)
    }

    private func decoded<R: Decodable>(
        _ type: R.Type, verb: String, resource: ResourceType, subresource: String? = nil, method: Method,
        path: String, query: [(String, String)] = [], body: Data? = nil, contentType: String = "application/json"
    ) async throws -> R {
        let data = try await send(
            verb: verb, resource: resource, subresource: subresource, method: method, path: path, query: query,
            body: body, contentType: contentType)
        do {
            return try Self.decoder.decode(R.self, from: data)
        } catch {
            throw KubernetesError(
                statusCode: nil, reason: nil, message: "the reply does not read as \(R.self): \(error)", verb: verb,
                path: path)
        }
    }

    /// One request after a token from the bucket; the body of a 2xx reply.
    private func send(
        verb: String, resource: ResourceType, subresource: String? = nil, method: Method, path: String,
        query: [(String, String)] = [], body: Data? = nil, contentType: String = "application/json"
    ) async throws -> Data {
        let request = try makeRequest(
            verb: verb, method: method, path: path, query: query, body: body, contentType: contentType)
        try await admit(verb: verb, resource: resource, subresource: subresource)
        let status: Int
        let data: Data
        do {
            let response = try await http.execute(request, timeout: Self.requestTimeout, logger: logger)
            status = Int(response.status.code)
            data = Data(try await response.body.collect(upTo: Self.replyLimit).readableBytesView)
        } catch {
            throw transportError(error, verb: verb, path: path)
        }
        guard (200..<300).contains(status) else {
            throw Self.failure(status: status, body: data, verb: verb, path: path)
        }
        return data
    }

    /// Waits for the rate limiter and counts the request.
    func admit(verb: String, resource: ResourceType, subresource: String?) async throws {
        try await rateLimiter.wait()
        let key = "\(verb) \(resource)" + (subresource.map { " \($0)" } ?? "")
        counts.withLock { $0[key, default: 0] += 1 }
    }

    func makeRequest(
        verb: String, method: Method, path: String, query: [(String, String)], body: Data? = nil,
        contentType: String = "application/json"
    ) throws -> HTTPClientRequest {
        if let setupError {
            throw KubernetesError(statusCode: nil, reason: nil, message: setupError, verb: verb, path: path)
        }
        var url = base + path
        if !query.isEmpty {
            url += "?" + query.map { "\(Self.percentEncode($0.0))=\(Self.percentEncode($0.1))" }.joined(separator: "&")
        }
        var request = HTTPClientRequest(url: url)
        switch method {
        case .get: request.method = .GET
        case .post: request.method = .POST
        case .put: request.method = .PUT
        case .patch: request.method = .PATCH
        case .delete: request.method = .DELETE
        }
        request.headers.add(name: "Accept", value: "application/json")
        request.headers.add(name: "User-Agent", value: configuration.userAgent)
        if let token = token.current() {
            request.headers.add(name: "Authorization", value: "Bearer \(token)")
        }
        if let body {
            request.headers.add(name: "Content-Type", value: contentType)
            request.body = .bytes(ByteBuffer(bytes: body))
        }
        return request
    }

    func transportError(_ error: any Error, verb: String, path: String) -> any Error {
        if error is KubernetesError || error is CancellationError { return error }
        if Task.isCancelled { return CancellationError() }
        let message: String
        if let error = error as? HTTPClientError, error == .deadlineExceeded {
            message = "no reply within \(Self.requestTimeout.nanoseconds / 1_000_000_000) s"
        } else if let error = error as? HTTPClientError, error == .connectTimeout {
            message = "no connection to \(base) within 10 s"
        } else {
            message = "cannot reach \(base): \(error)"
        }
        return KubernetesError(statusCode: nil, reason: nil, message: message, verb: verb, path: path)
    }

    /// The error a non-2xx reply means, with the server's `Status` when it sent one.
    static func failure(status: Int, body: Data, verb: String, path: String) -> KubernetesError {
        if let object = try? decoder.decode(StatusObject.self, from: body),
            object.kind == "Status" || object.reason != nil || object.message != nil
        {
            return KubernetesError(
                statusCode: status, reason: object.reason.flatMap { $0.isEmpty ? nil : $0 },
                message: object.message ?? "HTTP \(status)", verb: verb, path: path)
        }
        var message = String(decoding: body.prefix(300), as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        if message.isEmpty { message = "HTTP \(status)" }
        return KubernetesError(statusCode: status, reason: nil, message: message, verb: verb, path: path)
    }

    func encode(_ value: some Encodable) throws -> Data {
        try Self.encoder.encode(value)
    }

    static let decoder = JSONDecoder()
    static let encoder: JSONEncoder = {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.withoutEscapingSlashes]
        return encoder
    }()

    private static let unreserved = CharacterSet(
        charactersIn: "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")

    static func percentEncode(_ text: String) -> String {
        text.addingPercentEncoding(withAllowedCharacters: unreserved) ?? text
    }

    /// Items of a list usually come without `apiVersion`/`kind`; an
    /// unstructured item gets its type's, so that it can be written back as is.
    static func withTypeMeta<T: KubernetesObject>(_ items: [T], resource: ResourceType) -> [T] {
        guard T.self == UnstructuredObject.self else { return items }
        return items.map { item in
            guard var object = item as? UnstructuredObject else { return item }
            if object.apiVersion == nil { object.apiVersion = resource.apiVersion }
            if object.kind == nil { object.kind = resource.kind }
            return object as! T
        }
    }

    static func tlsConfiguration(_ configuration: KubernetesConfiguration) throws -> TLSConfiguration {
        var tls = TLSConfiguration.makeClientConfiguration()
        if let pem = configuration.certificateAuthorityPEM {
            let roots = try NIOSSLCertificate.fromPEMBytes(Array(pem.utf8))
            guard !roots.isEmpty else { throw KubernetesConfigurationError("the certificate authority holds no PEM certificate") }
            tls.trustRoots = .certificates(roots)
        }
        if configuration.insecureSkipTLSVerify {
            tls.certificateVerification = .none
        }
        if let certificate = configuration.clientCertificatePEM, let key = configuration.clientKeyPEM {
            let chain = try NIOSSLCertificate.fromPEMBytes(Array(certificate.utf8))
            guard !chain.isEmpty else { throw KubernetesConfigurationError("the client certificate holds no PEM certificate") }
            tls.certificateChain = chain.map { .certificate($0) }
            tls.privateKey = .privateKey(try NIOSSLPrivateKey(bytes: Array(key.utf8), format: .pem))
        }
        return tls
    }
}
