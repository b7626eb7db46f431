import TumultModel

/// One HTTPChaos rule as Tumult's proxy applies it (what the proxy gets, as
/// JSON in its configuration): which messages it selects and what it does
/// to them. The fields are chaos-tproxy's selector and actions.
public struct HTTPRule: Codable, Sendable, Hashable {
    public enum Target: String, Codable, Sendable {
        case request = "Request"
        case response = "Response"
    }

    /// Replaces parts of the selected message.
    public struct Replace: Codable, Sendable, Hashable {
        /// The new path (requests); the query is kept; empty means `/`.
        public var path: String?
        /// The new method (requests).
        public var method: String?
        /// The new status code (responses).
        public var code: Int?
        /// The new body.
        public var body: [UInt8]?
        /// Query parameters to set (requests): each replaces the parameter's value, or is added.
        public var queries: [String: String]?
        /// Headers to set: each replaces every line of that name.
        public var headers: [String: String]?

        public init(path: String? = nil, method: String? = nil, code: Int? = nil, body: [UInt8]? = nil,
                    queries: [String: String]? = nil, headers: [String: String]? = nil) {
            self.path = path
            self.method = method
            self.code = code
            self.body = body
            self.queries = queries
            self.headers = headers
        }

        var isEmpty: Bool {
            path == nil && method == nil && code == nil && body == nil && queries == nil && headers == nil
        }
    }

    /// Adds to the selected message.
    public struct Patch: Codable, Sendable, Hashable {
        /// A JSON merge patch (RFC 7396) for the body, as JSON text.
        public var bodyJSON: String?
        /// `[name, value]` query parameters appended (requests).
        public var queries: [[String]]?
        /// `[name, value]` header lines appended.
        public var headers: [[String]]?

        public init(bodyJSON: String? = nil, queries: [[String]]? = nil, headers: [[String]]? = nil) {
            self.bodyJSON = bodyJSON
            self.queries = queries
            self.headers = headers
        }

        var isEmpty: Bool { bodyJSON == nil && queries == nil && headers == nil }
    }

    public var target: Target
    /// The port the target serves HTTP on; the policy does not check it:
    /// the proxy gives each port the rules of that port (`HTTPFaultPolicy.rules(forPort:)`).
    public var port: Int
    /// A glob over the request path without its query: `*` matches any run
    /// of characters, `/` included, `?` exactly one (chaos-tproxy's `WildMatch`).
    public var path: String?
    /// The request method, compared exactly (methods are case-sensitive).
    public var method: String?
    /// The response status code (Response rules).
    public var code: Int?
    /// Request headers that must all be present: some line of each name (case-insensitive) with exactly this value.
    public var requestHeaders: [String: String]
    /// Response headers that must all be present, as `requestHeaders` (Response rules).
    public var responseHeaders: [String: String]
    /// Close the connection instead of passing the message on.
    public var abort: Bool
    /// Hold the message this long before passing it on.
    public var delayNanoseconds: Int64?
    public var replace: Replace?
    public var patch: Patch?

    public init(target: Target, port: Int, path: String? = nil, method: String? = nil, code: Int? = nil,
                requestHeaders: [String: String] = [:], responseHeaders: [String: String] = [:],
                abort: Bool = false, delayNanoseconds: Int64? = nil, replace: Replace? = nil, patch: Patch? = nil) {
        self.target = target
        self.port = port
        self.path = path
        self.method = method
        self.code = code
        self.requestHeaders = requestHeaders
        self.responseHeaders = responseHeaders
        self.abort = abort
        self.delayNanoseconds = delayNanoseconds
        self.replace = replace
        self.patch = patch
    }

    /// From a document's spec, field for field as Chaos Mesh's controller
    /// builds a PodHttpChaos rule. A body patch whose type is not `JSON`
    /// (validation rejects it) is dropped, as chaos-tproxy knows no other.
    public init(_ spec: HTTPChaosSpec) {
        var replace: Replace?
        if let source = spec.replace {
            replace = Replace(path: source.path, method: source.method, code: source.code.map(Int.init),
                              body: source.body.map { Array($0.data) }, queries: source.queries,
                              headers: source.headers)
        }
        var patch: Patch?
        if let source = spec.patch {
            patch = Patch(bodyJSON: source.body.flatMap { $0.type == "JSON" ? $0.value : nil },
                          queries: source.queries, headers: source.headers)
        }
        self.init(target: spec.target == .request ? .request : .response, port: Int(spec.port ?? 0),
                  path: spec.path, method: spec.method, code: spec.code.map(Int.init),
                  requestHeaders: spec.requestHeaders ?? [:], responseHeaders: spec.responseHeaders ?? [:],
                  abort: spec.abort ?? false, delayNanoseconds: spec.delay?.nanoseconds,
                  replace: replace, patch: patch)
    }

    /// Whether the rule changes the message itself (so the proxy must hold it whole).
    var rewrites: Bool {
        (replace.map { !$0.isEmpty } ?? false) || (patch.map { !$0.isEmpty } ?? false)
    }

    /// "abort GET /api/* on port 80" style one-liner for summaries.
    public var summary: String {
        var actions: [String] = []
        if abort { actions.append("abort") }
        if let delayNanoseconds { actions.append("delay \(GoDuration(nanoseconds: delayNanoseconds).text)") }
        if let replace, !replace.isEmpty {
            let parts: [(String, Bool)] = [
                ("path", replace.path != nil), ("method", replace.method != nil), ("code", replace.code != nil),
                ("body", replace.body != nil), ("queries", replace.queries != nil), ("headers", replace.headers != nil),
            ]
            actions.append("replace " + parts.filter(\.1).map(\.0).joined(separator: "+"))
        }
        if let patch, !patch.isEmpty {
            let parts: [(String, Bool)] = [
                ("body", patch.bodyJSON != nil), ("queries", patch.queries != nil), ("headers", patch.headers != nil),
            ]
            actions.append("patch " + parts.filter(\.1).map(\.0).joined(separator: "+"))
        }
        if actions.isEmpty { actions.append("watch") }
        var subject = "\(method ?? "any") \(path ?? "*")"
        if target == .response {
            subject = "responses" + (code.map { " \($0)" } ?? "") + " to " + subject
        }
        let headers = (requestHeaders.merging(responseHeaders) { first, _ in first })
            .sorted { $0.key < $1.key }
            .map { "\($0.key): \($0.value)" }
        let with = headers.isEmpty ? "" : " with " + headers.joined(separator: ", ")
        return "\(actions.joined(separator: ", ")) \(subject)\(with) on port \(port)"
    }
}
