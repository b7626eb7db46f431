import Foundation

extension HTTPFaultPolicy {
    /// Applies the verdict's replaces and patches to a whole message (body
    /// decoded: never chunked); returns the message to send, serialized with
    /// a correct Content-Length and without Transfer-Encoding.
    public func rewrite(_ head: HTTPHead, body: [UInt8], with verdict: HTTPVerdict) -> [UInt8] {
        let message = rewritten(head, body: body, with: verdict)
        return message.head.serialized() + message.body
    }

    /// The rewritten head and body, applied rule after rule in the
    /// verdict's order as chaos-tproxy does: per rule, replace (path,
    /// method, code, body, queries, headers) then patch (queries, body,
    /// headers). A rule's request-only parts do nothing to a response, and
    /// its `replace.code` nothing to a request.
    ///
    /// Framing is recomputed: Transfer-Encoding and Content-Length lines
    /// (even ones a rule set) give way to one Content-Length of the body
    /// sent. A request that had no body and still has none gets none; 1xx
    /// and 204 responses carry neither a body nor a length, 304 keeps its
    /// length lines and drops a body; an empty body no rule touched keeps
    /// the length lines it came with (a response to HEAD announces the
    /// length of a body it does not carry).
    public func rewritten(_ head: HTTPHead, body: [UInt8], with verdict: HTTPVerdict) -> (head: HTTPHead, body: [UInt8]) {
        var head = head
        var body = body
        var bodyChanged = false
        let isRequest = head.method != nil
        for rule in verdict.rules where (rule.target == .request) == isRequest {
            if let replace = rule.replace {
                if isRequest {
                    if let path = replace.path { Self.setTarget(of: &head, path: path.isEmpty ? "/" : path) }
                    if let method = replace.method, case .request(_, let target, let version) = head.startLine {
                        head.startLine = .request(method: method, target: target, version: version)
                    }
                } else if let code = replace.code, case .response(let version, _, _) = head.startLine {
                    head.startLine = .response(version: version, status: code, reason: Self.reasonPhrase(code))
                }
                if let replacement = replace.body {
                    body = replacement
                    bodyChanged = true
                }
                if isRequest, let queries = replace.queries {
                    Self.setTarget(of: &head, query: Self.replacingQueries(in: head.query, with: queries))
                }
                for (name, value) in (replace.headers ?? [:]).sorted(by: { $0.key < $1.key }) {
                    Self.setHeader(name, to: value, in: &head)
                }
            }
            if let patch = rule.patch {
                if isRequest, let queries = patch.queries {
                    Self.setTarget(of: &head, query: Self.appendingQueries(queries, to: head.query))
                }
                if let json = patch.bodyJSON, let merged = Self.mergePatch(json, into: body) {
                    body = merged
                    bodyChanged = true
                }
                for pair in patch.headers ?? [] where pair.count == 2 {
                    head.headers.append(HTTPField(name: pair[0], value: pair[1]))
                }
            }
        }
        return Self.reframed(head, body: body, bodyChanged: bodyChanged)
    }

    private static func reframed(_ head: HTTPHead, body: [UInt8], bodyChanged: Bool) -> (head: HTTPHead, body: [UInt8]) {
        var head = head
        let isFraming = { (field: HTTPField) in
            HTTPHead.namesEqual(field.name, "Content-Length") || HTTPHead.namesEqual(field.name, "Transfer-Encoding")
        }
        let hadLength = !head.values(of: "Content-Length").isEmpty
        let hadChunked = !head.values(of: "Transfer-Encoding").isEmpty
        if let status = head.status, status < 200 || status == 204 || status == 304 {
            // No body may follow these; a 304's Content-Length describes the representation, not this message.
            head.headers.removeAll { HTTPHead.namesEqual($0.name, "Transfer-Encoding") || (status != 304 && isFraming($0)) }
            return (head, [])
        }
        if body.isEmpty && !bodyChanged && !hadChunked && (hadLength || head.method != nil) {
            return (head, body)
        }
        let position = head.headers.firstIndex(where: isFraming) ?? head.headers.count
        let before = head.headers[..<position].filter { !isFraming($0) }
        head.headers.removeAll(where: isFraming)
        head.headers.insert(HTTPField(name: "Content-Length", value: String(body.count)), at: before.count)
        return (head, body)
    }

    /// Sets the path of a request target, keeping its query (and the scheme and authority of the absolute form).
    static func setTarget(of head: inout HTTPHead, path: String) {
        guard case .request(let method, let target, let version) = head.startLine else { return }
        let parts = HTTPHead.splitTarget(target)
        let newTarget = String(parts.prefix) + path + (parts.query.map { "?" + $0 } ?? "")
        head.startLine = .request(method: method, target: newTarget, version: version)
    }

    /// Sets the query of a request target (nil: no `?`).
    static func setTarget(of head: inout HTTPHead, query: String?) {
        guard case .request(let method, let target, let version) = head.startLine else { return }
        let parts = HTTPHead.splitTarget(target)
        let newTarget = String(parts.prefix) + String(parts.path) + (query.map { "?" + $0 } ?? "")
        head.startLine = .request(method: method, target: newTarget, version: version)
    }

    /// Replaces every line of a header with one (at the first line's place), or appends it: hyper's `HeaderMap::insert`.
    static func setHeader(_ name: String, to value: String, in head: inout HTTPHead) {
        guard let first = head.headers.firstIndex(where: { HTTPHead.namesEqual($0.name, name) }) else {
            head.headers.append(HTTPField(name: name, value: value))
            return
        }
        head.headers[first] = HTTPField(name: name, value: value)
        var index = head.headers.count - 1
        while index > first {
            if HTTPHead.namesEqual(head.headers[index].name, name) { head.headers.remove(at: index) }
            index -= 1
        }
    }

    /// `replace.queries`: chaos-tproxy decodes the query into a map, sets
    /// the keys and re-encodes it all (in hash order). Here the parameters
    /// no key names stay byte for byte where they were; a named one takes
    /// the new value at its first place and loses its repeats (the map kept
    /// one); a missing one is appended, in key order. Keys compare decoded
    /// (`a%20b` and `a+b` are `a b`).
    static func replacingQueries(in query: String?, with replacements: [String: String]) -> String? {
        guard !replacements.isEmpty else { return query }
        var pieces = (query ?? "").split(separator: "&", omittingEmptySubsequences: false).map(String.init)
        if query == nil || query == "" { pieces = [] }
        for (key, value) in replacements.sorted(by: { $0.key < $1.key }) {
            let encoded = formEncode(key) + "=" + formEncode(value)
            let matching = pieces.indices.filter { formDecode(String(pieces[$0].prefix { $0 != "=" })) == key }
            if let first = matching.first {
                pieces[first] = encoded
                for index in matching.dropFirst().reversed() { pieces.remove(at: index) }
            } else {
                pieces.append(encoded)
            }
        }
        return pieces.joined(separator: "&")
    }

    /// `patch.queries`: the pairs form-encoded and appended after `&` (after `?` when there was no query).
    static func appendingQueries(_ pairs: [[String]], to query: String?) -> String? {
        let encoded = pairs.filter { $0.count == 2 }.map { formEncode($0[0]) + "=" + formEncode($0[1]) }
        guard !encoded.isEmpty else { return query }
        let added = encoded.joined(separator: "&")
        guard let query, !query.isEmpty else { return added }
        return query + "&" + added
    }

    /// application/x-www-form-urlencoded as the `form_urlencoded` crate writes it:
    /// letters, digits and `*-._` as they are, space as `+`, every other byte `%XX`.
    static func formEncode(_ text: String) -> String {
        var result = ""
        for byte in text.utf8 {
            switch byte {
            case 0x30...0x39, 0x41...0x5A, 0x61...0x7A, 0x2A, 0x2D, 0x2E, 0x5F: result.unicodeScalars.append(Unicode.Scalar(byte))
            case 0x20: result += "+"
            default: result += "%" + String(byte, radix: 16, uppercase: true).leftPadded(to: 2)
            }
        }
        return result
    }

    static func formDecode(_ text: String) -> String {
        var bytes: [UInt8] = []
        var utf8 = Array(text.utf8)[...]
        while let byte = utf8.popFirst() {
            if byte == UInt8(ascii: "+") {
                bytes.append(0x20)
            } else if byte == UInt8(ascii: "%"), utf8.count >= 2,
                      let value = UInt8(String(decoding: utf8.prefix(2), as: UTF8.self), radix: 16) {
                bytes.append(value)
                utf8 = utf8.dropFirst(2)
            } else {
                bytes.append(byte)
            }
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    /// A JSON merge patch (RFC 7396) of the body, written back compact with
    /// sorted keys (serde_json's default map is sorted too). An empty body
    /// counts as null, so the patch builds a new document. A body that is
    /// not JSON is left as it is (nil here): chaos-tproxy fails such a
    /// message, which drops the connection; a chaos rule that only meant
    /// to patch JSON should not abort everything else.
    static func mergePatch(_ patchText: String, into body: [UInt8]) -> [UInt8]? {
        guard let patch = try? JSONSerialization.jsonObject(with: Data(patchText.utf8), options: [.fragmentsAllowed]) else {
            return nil
        }
        let target: Any?
        if body.allSatisfy({ $0 == 0x20 || $0 == 0x09 || $0 == 0x0A || $0 == 0x0D }) {
            target = nil
        } else {
            guard let document = try? JSONSerialization.jsonObject(with: Data(body), options: [.fragmentsAllowed]) else {
                return nil
            }
            target = document
        }
        let merged = mergePatch(patch, into: target)
        guard let data = try? JSONSerialization.data(withJSONObject: merged,
                                                     options: [.fragmentsAllowed, .sortedKeys, .withoutEscapingSlashes]) else {
            return nil
        }
        return Array(data)
    }

    /// RFC 7396 section 2: objects merge key by key, null deletes a key, anything else replaces.
    static func mergePatch(_ patch: Any, into target: Any?) -> Any {
        guard let patchObject = patch as? [String: Any] else { return patch }
        var result = (target as? [String: Any]) ?? [:]
        for (key, value) in patchObject {
            if value is NSNull {
                result.removeValue(forKey: key)
            } else {
                result[key] = mergePatch(value, into: result[key])
            }
        }
        return result
    }

    /// The reason phrase hyper writes for a replaced status code (empty when it knows none).
    static func reasonPhrase(_ code: Int) -> String {
        let phrases: [Int: String] = [
            100: "Continue", 101: "Switching Protocols", 102: "Processing", 103: "Early Hints",
            200: "OK", 201: "Created", 202: "Accepted", 203: "Non-Authoritative Information", 204: "No Content",
            205: "Reset Content", 206: "Partial Content", 207: "Multi-Status", 208: "Already Reported", 226: "IM Used",
            300: "Multiple Choices", 301: "Moved Permanently", 302: "Found", 303: "See Other", 304: "Not Modified",
            305: "Use Proxy", 307: "Temporary Redirect", 308: "Permanent Redirect",
            400: "Bad Request", 401: "Unauthorized", 402: "Payment Required", 403: "Forbidden", 404: "Not Found",
            405: "Method Not Allowed", 406: "Not Acceptable", 407: "Proxy Authentication Required",
            408: "Request Timeout", 409: "Conflict", 410: "Gone", 411: "Length Required", 412: "Precondition Failed",
            413: "Payload Too Large", 414: "URI Too Long", 415: "Unsupported Media Type", 416: "Range Not Satisfiable",
            417: "Expectation Failed", 418: "I'm a teapot", 421: "Misdirected Request", 422: "Unprocessable Entity",
            423: "Locked", 424: "Failed Dependency", 426: "Upgrade Required", 428: "Precondition Required",
            429: "Too Many Requests", 431: "Request Header Fields Too Large", 451: "Unavailable For Legal Reasons",
            500: "Internal Server Error", 501: "Not Implemented", 502: "Bad Gateway", 503: "Service Unavailable",
            504: "Gateway Timeout", 505: "HTTP Version Not Supported", 506: "Variant Also Negotiates",
            507: "Insufficient Storage", 508: "Loop Detected", 510: "Not Extended", 511: "Network Authentication Required",
        ]
        return phrases[code] ?? ""
    }
}

private extension String {
    func leftPadded(to width: Int) -> String {
        count >= width ? self : String(repeating: "0", count: width - count) + self
    }
}
