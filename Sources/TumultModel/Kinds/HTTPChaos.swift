import Foundation

/// HTTPChaos: a transparent proxy in the selected pods' network namespace
/// aborts, delays, replaces or patches the HTTP requests or responses that
/// match its rules.
public struct HTTPChaosSpec: PodTargetedSpec {
    public static let kind = ChaosKind.httpChaos

    public enum Target: String, ChaosEnum {
        case request = "Request"
        case response = "Response"
    }

    /// The request methods Chaos Mesh accepts in `method` when target is Request.
    public static let methods = ["GET", "POST", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS", "TRACE", "CONNECT"]

    public var mode: SelectorMode
    public var value: String?
    public var selector: PodSelectorSpec
    /// Whether requests or responses are acted on.
    public var target: Target
    /// The port the target pods serve HTTP on.
    public var port: Int32?
    /// Selects by URI path (a glob, e.g. `/api/*`).
    public var path: String?
    /// Selects by request method.
    public var method: String?
    /// Selects responses by status code.
    public var code: Int32?
    /// Selects by request headers (name to value).
    public var requestHeaders: [String: String]?
    /// Selects by response headers (name to value).
    public var responseHeaders: [String: String]?
    /// Abort the HTTP session.
    public var abort: Bool?
    /// Hold each matching request or response this long.
    public var delay: GoDuration?
    public var replace: Replace?
    public var patch: Patch?
    /// Certificates, from a secret, for HTTPS targets.
    public var tls: TLS?
    public var duration: GoDuration?
    public var remoteCluster: String?

    enum CodingKeys: String, CodingKey {
        case mode, value, selector, target, port, path, method, code
        case requestHeaders = "request_headers"
        case responseHeaders = "response_headers"
        case abort, delay, replace, patch, tls, duration, remoteCluster
    }

    public init(target: Target, port: Int32, mode: SelectorMode = .all, value: String? = nil,
                selector: PodSelectorSpec = PodSelectorSpec()) {
        self.target = target
        self.port = port
        self.mode = mode
        self.value = value
        self.selector = selector
    }

    public func validate(at path: FieldPath, into diagnostics: inout Diagnostics) {
        validateTargeting(at: path, into: &diagnostics)
        validateDuration(duration, at: path.child("duration"), into: &diagnostics)
        if port == nil || port == 0 {
            if !diagnostics.hasError(touching: path.child("port")) {
                diagnostics.error(path.child("port"), "required: the port (1 to 65535) the target pods serve HTTP on")
            }
        } else {
            diagnostics.checkBounds(port, min: 1, max: 65535, at: path.child("port"), meaning: "a port")
        }
        if target == .request, let method, !Self.methods.contains(method),
           !diagnostics.hasError(touching: path.child("method")) {
            diagnostics.error(path.child("method"),
                              "\"\(method)\" is not a request method: expected one of \(Self.methods.joined(separator: ", ")) (upper case)")
        }
        if !diagnostics.hasError(touching: path.child("delay")) {
            validateDuration(delay, at: path.child("delay"), into: &diagnostics)
        }
        if abort == nil && delay == nil && replace == nil && patch == nil {
            diagnostics.warning(path, "no fault: set abort, delay, replace or patch")
        }

        // Fields that only mean something on one side of the exchange.
        var onlyFor: [(FieldPath, Bool, Target)] = [(path.child("code"), code != nil, .response)]
        if let replace {
            onlyFor += [
                (path.child("replace").child("code"), replace.code != nil, .response),
                (path.child("replace").child("path"), replace.path != nil, .request),
                (path.child("replace").child("method"), replace.method != nil, .request),
                (path.child("replace").child("queries"), replace.queries != nil, .request),
            ]
        }
        if let patch {
            onlyFor.append((path.child("patch").child("queries"), patch.queries != nil, .request))
        }
        for (fieldPath, present, side) in onlyFor where present && target != side {
            diagnostics.warning(fieldPath, "has no effect when target is \(target.rawValue): it applies to \(side.rawValue.lowercased())s")
        }
        patch?.validate(at: path.child("patch"), into: &diagnostics)
    }

    /// Replaces parts of the matching requests or responses.
    public struct Replace: Codable, Sendable, Hashable {
        /// The new URI path (requests).
        public var path: String?
        /// The new method (requests).
        public var method: String?
        /// The new status code (responses).
        public var code: Int32?
        /// The new body, base64 in the document.
        public var body: Base64Bytes?
        /// URI query parameters to replace (requests).
        public var queries: [String: String]?
        /// Headers to replace.
        public var headers: [String: String]?

        public init(path: String? = nil, method: String? = nil, code: Int32? = nil, body: Base64Bytes? = nil,
                    queries: [String: String]? = nil, headers: [String: String]? = nil) {
            self.path = path
            self.method = method
            self.code = code
            self.body = body
            self.queries = queries
            self.headers = headers
        }
    }

    /// Adds to the matching requests or responses.
    public struct Patch: Codable, Sendable, Hashable {
        public var body: PatchBody?
        /// `[name, value]` URI query parameters to append (requests).
        public var queries: [[String]]?
        /// `[name, value]` headers to append.
        public var headers: [[String]]?

        public init(body: PatchBody? = nil, queries: [[String]]? = nil, headers: [[String]]? = nil) {
            self.body = body
            self.queries = queries
            self.headers = headers
        }

        func validate(at path: FieldPath, into diagnostics: inout Diagnostics) {
            for (field, pairs) in [("queries", queries), ("headers", headers)] {
                for (position, pair) in (pairs ?? []).enumerated() where pair.count != 2 {
                    diagnostics.error(path.child(field).index(position),
                                      "must be a [name, value] pair, got \(pair.count) item\(pair.count == 1 ? "" : "s")")
                }
            }
            body?.validate(at: path.child("body"), into: &diagnostics)
        }
    }

    /// A JSON merge patch (RFC 7396) applied to the body.
    public struct PatchBody: Codable, Sendable, Hashable {
        /// The patch format; only `JSON` exists.
        public var type: String
        /// The patch, as JSON text.
        public var value: String

        public init(type: String = "JSON", value: String) {
            self.type = type
            self.value = value
        }

        func validate(at path: FieldPath, into diagnostics: inout Diagnostics) {
            if type != "JSON" && !diagnostics.hasError(touching: path.child("type")) {
                diagnostics.error(path.child("type"), "\"\(type)\" is not a patch type: only \"JSON\" (a JSON merge patch) exists")
            }
            if !diagnostics.hasError(touching: path.child("value")),
               (try? JSONSerialization.jsonObject(with: Data(value.utf8), options: [.fragmentsAllowed])) == nil {
                diagnostics.error(path.child("value"), "\"\(value)\" is not JSON: a merge patch is a JSON value, e.g. '{\"status\":\"Failed\"}'")
            }
        }
    }

    /// Where the proxy finds the certificates for HTTPS: a secret and the
    /// names of its entries.
    public struct TLS: Codable, Sendable, Hashable {
        public var secretName: String
        public var secretNamespace: String
        public var certName: String
        public var keyName: String
        public var caName: String?

        public init(secretName: String, secretNamespace: String, certName: String, keyName: String,
                    caName: String? = nil) {
            self.secretName = secretName
            self.secretNamespace = secretNamespace
            self.certName = certName
            self.keyName = keyName
            self.caName = caName
        }
    }
}
