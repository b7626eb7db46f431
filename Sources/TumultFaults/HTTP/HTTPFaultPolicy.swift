/// What the proxy does with one message, decided from its head.
///
/// chaos-tproxy applies the matching rules one after another, each first
/// aborting (if it does), then sleeping its delay, then rewriting. So the
/// delays add up, and an abort comes after the delays of the rules before
/// the aborting one.
public struct HTTPVerdict: Sendable, Hashable {
    /// Close the connection instead of passing the message on: chaos-tproxy's
    /// handler fails, and hyper drops the connection without a response
    /// (for a Response rule, the server's response is thrown away).
    public var abort: Bool
    /// How long to hold the message first (0: none): the sum of the
    /// matching rules' delays (up to the first aborting rule, when one aborts).
    public var delayNanoseconds: Int64
    /// Whether the whole message must be buffered and rewritten (a matching rule replaces or patches something).
    public var rewrites: Bool
    /// The matching rules, in order.
    public var rules: [HTTPRule]

    public init(abort: Bool, delayNanoseconds: Int64, rewrites: Bool, rules: [HTTPRule]) {
        self.abort = abort
        self.delayNanoseconds = delayNanoseconds
        self.rewrites = rewrites
        self.rules = rules
    }

    public static let passThrough = HTTPVerdict(abort: false, delayNanoseconds: 0, rewrites: false, rules: [])

    /// Folds matching rules the way chaos-tproxy applies them, in order.
    init(matching rules: [HTTPRule]) {
        var abort = false
        var delay: Int64 = 0
        var rewrites = false
        for rule in rules {
            if rule.abort {
                abort = true
                break
            }
            delay = delay.addingReportingOverflow(max(0, rule.delayNanoseconds ?? 0)).partialValue
            rewrites = rewrites || rule.rewrites
        }
        self.init(abort: abort, delayNanoseconds: max(0, delay), rewrites: rewrites && !abort, rules: rules)
    }
}

/// The rules of one fault, pure: which apply to a message, and the rewrite.
/// Matching follows chaos-tproxy's selector: every field a rule sets must
/// match; headers by name (any case) and exact value, on any line of that
/// name; the path glob on the path without its query.
public struct HTTPFaultPolicy: Sendable {
    public let rules: [HTTPRule]

    public init(rules: [HTTPRule]) {
        self.rules = rules
    }

    /// The rules for one proxied port: one proxy may serve several HTTPChaos
    /// on several ports, and chaos-tproxy selects rules by the port first.
    public func rules(forPort port: Int) -> HTTPFaultPolicy {
        HTTPFaultPolicy(rules: rules.filter { $0.port == port })
    }

    /// Rules with target Request matching this request head.
    public func verdict(request: HTTPHead) -> HTTPVerdict {
        let matching = rules.filter { $0.target == .request && Self.matches($0, request: request) }
        return matching.isEmpty ? .passThrough : HTTPVerdict(matching: matching)
    }

    /// Rules with target Response matching the request (path, method,
    /// request headers) and this response head (code, response headers).
    /// chaos-tproxy matches the request as it was forwarded, after the
    /// Request rules rewrote it: pass that one (`rewritten(_:body:with:)` gives it).
    public func verdict(response: HTTPHead, request: HTTPHead) -> HTTPVerdict {
        let matching = rules.filter { rule in
            rule.target == .response && Self.matches(rule, request: request)
                && rule.code.map { $0 == response.status } ?? true
                && Self.headersMatch(rule.responseHeaders, in: response)
        }
        return matching.isEmpty ? .passThrough : HTTPVerdict(matching: matching)
    }

    static func matches(_ rule: HTTPRule, request: HTTPHead) -> Bool {
        if let glob = rule.path, !Self.glob(glob, matches: request.path ?? "") { return false }
        if let method = rule.method, method != request.method { return false }
        return headersMatch(rule.requestHeaders, in: request)
    }

    static func headersMatch(_ wanted: [String: String], in head: HTTPHead) -> Bool {
        wanted.allSatisfy { name, value in head.values(of: name).contains(value) }
    }

    /// Wildcard matching as the `wildmatch` crate chaos-tproxy uses: `*`
    /// any run of characters (`/` included, so `/api/*` matches
    /// `/api/v1/users`), `?` exactly one, everything else literally and
    /// case-sensitively; no character classes or escapes.
    public static func glob(_ pattern: String, matches text: String) -> Bool {
        let pattern = Array(pattern.unicodeScalars), text = Array(text.unicodeScalars)
        var p = 0, t = 0
        var star: Int?, starText = 0
        while t < text.count {
            if p < pattern.count && (pattern[p] == "?" || (pattern[p] != "*" && pattern[p] == text[t])) {
                p += 1
                t += 1
            } else if p < pattern.count && pattern[p] == "*" {
                star = p
                starText = t
                p += 1
            } else if let star {
                // Let the last star swallow one more character and try again.
                p = star + 1
                starText += 1
                t = starText
            } else {
                return false
            }
        }
        while p < pattern.count && pattern[p] == "*" { p += 1 }
        return p == pattern.count
    }
}
