/// One header line as it was on the wire (case and order kept).
public struct HTTPField: Sendable, Hashable {
    public var name: String
    public var value: String

    public init(name: String, value: String) {
        self.name = name
        self.value = value
    }
}

/// A parsed request or response head: what the HTTPChaos rules match and
/// rewrite. The exact bytes it came from travel beside it (`HTTPFrameEvent.head`),
/// so an unchanged message is forwarded as it was, never re-serialized.
public struct HTTPHead: Sendable, Hashable {
    public enum StartLine: Sendable, Hashable {
        /// `target` as sent: `/api/x?a=1`, `http://host/p?q`, `host:443`, `*`.
        case request(method: String, target: String, version: String)
        case response(version: String, status: Int, reason: String)
    }

    public var startLine: StartLine
    public var headers: [HTTPField]

    public init(startLine: StartLine, headers: [HTTPField]) {
        self.startLine = startLine
        self.headers = headers
    }

    /// The request method (requests only).
    public var method: String? {
        if case .request(let method, _, _) = startLine { return method }
        return nil
    }

    /// The request target as sent (requests only).
    public var target: String? {
        if case .request(_, let target, _) = startLine { return target }
        return nil
    }

    /// `HTTP/1.1` or `HTTP/1.0`.
    public var version: String {
        switch startLine {
        case .request(_, _, let version), .response(let version, _, _): version
        }
    }

    /// The target's path without `?query` (requests only). For the
    /// absolute form (`http://h/p?q`) just `/p` (`/` when it has none), for
    /// the authority form of CONNECT (`host:443`) the empty string, as
    /// the `http` crate's `Uri::path` that Chaos Mesh matches globs against.
    public var path: String? {
        guard let target else { return nil }
        return String(Self.splitTarget(target).path)
    }

    /// What follows the first `?` of the target, nil when there is no `?` (requests only).
    public var query: String? {
        guard let target else { return nil }
        return Self.splitTarget(target).query
    }

    /// The status code (responses only).
    public var status: Int? {
        if case .response(_, let status, _) = startLine { return status }
        return nil
    }

    /// First value of a header, name compared case-insensitively.
    public func header(_ name: String) -> String? {
        headers.first { Self.namesEqual($0.name, name) }?.value
    }

    /// Every value of a header, one per line, in order (names compared case-insensitively).
    public func values(of name: String) -> [String] {
        headers.filter { Self.namesEqual($0.name, name) }.map(\.value)
    }

    /// The head as bytes: start line, headers, CRLF CRLF. Values are written
    /// as UTF-8, the way they were read when they were valid UTF-8.
    public func serialized() -> [UInt8] {
        var text: String
        switch startLine {
        case .request(let method, let target, let version):
            text = "\(method) \(target) \(version)\r\n"
        case .response(let version, let status, let reason):
            // The space before an empty reason is required by the grammar (RFC 9112 section 4).
            text = "\(version) \(Self.threeDigits(status)) \(reason)\r\n"
        }
        for field in headers {
            text += "\(field.name): \(field.value)\r\n"
        }
        text += "\r\n"
        return Array(text.utf8)
    }

    /// Header names are ASCII tokens; they compare without regard to case (RFC 9110 section 5.1).
    static func namesEqual(_ lhs: String, _ rhs: String) -> Bool {
        let left = lhs.utf8, right = rhs.utf8
        guard left.count == right.count else { return false }
        return zip(left, right).allSatisfy { asciiLowercase($0) == asciiLowercase($1) }
    }

    static func asciiLowercase(_ byte: UInt8) -> UInt8 {
        (byte >= 0x41 && byte <= 0x5A) ? byte | 0x20 : byte
    }

    static func threeDigits(_ status: Int) -> String {
        let text = String(status)
        return text.count >= 3 ? text : String(repeating: "0", count: 3 - text.count) + text
    }

    /// Splits a request target into the parts that are kept (`prefix`:
    /// scheme and authority of the absolute form), the path and the query.
    static func splitTarget(_ target: String) -> (prefix: Substring, path: Substring, query: String?) {
        var rest = Substring(target)
        var prefix: Substring = ""
        if !rest.hasPrefix("/"), rest != "*" {
            if let scheme = rest.range(of: "://") {
                // Absolute form: the path starts at the first `/` (or `?`) after the authority.
                let afterAuthority = rest[scheme.upperBound...].firstIndex { $0 == "/" || $0 == "?" } ?? rest.endIndex
                prefix = rest[..<afterAuthority]
                rest = rest[afterAuthority...]
                if rest.isEmpty || rest.hasPrefix("?") {
                    let query = rest.isEmpty ? nil : String(rest.dropFirst())
                    return (prefix, "/", query)
                }
            } else {
                // Authority form (CONNECT host:port): no path, no query.
                return (rest, "", nil)
            }
        }
        if let mark = rest.firstIndex(of: "?") {
            return (prefix, rest[..<mark], String(rest[rest.index(after: mark)...]))
        }
        return (prefix, rest, nil)
    }
}

extension HTTPHead {
    /// Parses a complete head as the framer found it: optional empty lines,
    /// the start line, header lines, the empty line; CRLF or bare LF. nil
    /// for anything but HTTP/1.x, and for header lines a proxy cannot
    /// read safely (obs-fold, a name with spaces before the colon, a stray
    /// CR or NUL): the framer then lets the bytes through untouched.
    init?(parsing bytes: [UInt8], side: HTTPFramer.Side) {
        var lines: [ArraySlice<UInt8>] = []
        var lineStart = 0
        for (index, byte) in bytes.enumerated() where byte == UInt8(ascii: "\n") {
            var line = bytes[lineStart..<index]
            if line.last == UInt8(ascii: "\r") { line = line.dropLast() }
            lines.append(line)
            lineStart = index + 1
        }
        guard lineStart == bytes.count else { return nil }
        guard let first = lines.firstIndex(where: { !$0.isEmpty }), lines.last?.isEmpty == true,
              let startLine = Self.parseStartLine(lines[first], side: side) else { return nil }
        var headers: [HTTPField] = []
        for line in lines[(first + 1)..<(lines.count - 1)] {
            guard let field = Self.parseField(line) else { return nil }
            headers.append(field)
        }
        self.init(startLine: startLine, headers: headers)
    }

    private static func parseStartLine(_ line: ArraySlice<UInt8>, side: HTTPFramer.Side) -> StartLine? {
        let parts = line.split(separator: UInt8(ascii: " "), maxSplits: 2, omittingEmptySubsequences: false)
        switch side {
        case .requests:
            guard parts.count == 3, !parts[0].isEmpty, !parts[1].isEmpty, parts[0].allSatisfy(isTokenByte),
                  !parts[2].contains(UInt8(ascii: " ")), let version = parseVersion(parts[2]) else { return nil }
            return .request(method: text(parts[0]), target: text(parts[1]), version: version)
        case .responses:
            guard parts.count >= 2, let version = parseVersion(parts[0]), parts[1].count == 3,
                  parts[1].allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }), let status = Int(text(parts[1])) else { return nil }
            return .response(version: version, status: status, reason: parts.count == 3 ? text(parts[2]) : "")
        }
    }

    /// Only HTTP/1.x is framed here; HTTP/2's preface (`PRI * HTTP/2.0`) and anything else passes opaque.
    private static func parseVersion(_ bytes: ArraySlice<UInt8>) -> String? {
        let version = Array(bytes)
        guard version.count == 8, version.starts(with: Array("HTTP/1.".utf8)),
              version[7] >= 0x30 && version[7] <= 0x39 else { return nil }
        return text(bytes)
    }

    private static func parseField(_ line: ArraySlice<UInt8>) -> HTTPField? {
        guard let colon = line.firstIndex(of: UInt8(ascii: ":")) else { return nil }
        let name = line[line.startIndex..<colon]
        guard !name.isEmpty, name.allSatisfy(isTokenByte) else { return nil }
        var value = line[(colon + 1)...]
        while let byte = value.first, byte == 0x20 || byte == 0x09 { value = value.dropFirst() }
        while let byte = value.last, byte == 0x20 || byte == 0x09 { value = value.dropLast() }
        guard !value.contains(where: { $0 == 0 || $0 == UInt8(ascii: "\r") }) else { return nil }
        return HTTPField(name: text(name), value: text(value))
    }

    /// UTF-8 when the bytes are UTF-8, else ISO-8859-1 (obs-text), so no byte is lost to a replacement character.
    private static func text(_ bytes: ArraySlice<UInt8>) -> String {
        if let utf8 = String(validating: bytes, as: UTF8.self) { return utf8 }
        return String(String.UnicodeScalarView(bytes.map { Unicode.Scalar($0) }))
    }

    /// tchar (RFC 9110 section 5.6.2): what methods and header names are made of.
    static func isTokenByte(_ byte: UInt8) -> Bool {
        switch byte {
        case 0x30...0x39, 0x41...0x5A, 0x61...0x7A,
             0x21, 0x23, 0x24, 0x25, 0x26, 0x27, 0x2A, 0x2B, 0x2D, 0x2E, 0x5E, 0x5F, 0x60, 0x7C, 0x7E: true
        default: false
        }
    }
}
