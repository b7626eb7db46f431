#if canImport(Glibc)
import Glibc
#endif

/// One HTTP/1.1 exchange over a Unix socket, blocking, with nothing but the
/// socket: how `tumult` (the small front program, which links no
/// Foundation) and the CLI's in-process handoff reach the host's agent.
/// One exchange per connection, the connection closed after.
public final class UnixSocketExchange {
    /// Why an exchange failed: before the request left (`unreachable`:
    /// nothing was asked, it may be asked elsewhere) or after (`lost`: the
    /// agent may have acted on it).
    public enum Failure: Error, CustomStringConvertible {
        case unreachable(String)
        case lost(String)

        public var description: String {
            switch self {
            case .unreachable(let text), .lost(let text): return text
            }
        }
    }

    /// An answer: the status, the head's fields (names lowercased) and the body.
    public struct Answer: Sendable {
        public var status: Int
        public var fields: [(name: String, value: String)]
        public var body: [UInt8]

        public init(status: Int, fields: [(name: String, value: String)], body: [UInt8]) {
            self.status = status
            self.fields = fields
            self.body = body
        }

        public func field(_ name: String) -> String? {
            fields.first { UnixSocketExchange.sameName($0.name, name) }?.value
        }
    }

    private var fd: Int32
    public let path: String

    /// Connects to the socket at `path`; throws `.unreachable` when nothing listens there.
    public init(path: String, timeout: Double) throws {
        self.path = path
        let socket = Glibc.socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard socket >= 0 else { throw Failure.unreachable("socket: \(Self.lastError())") }
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        let bytes = Array(path.utf8)
        guard bytes.count < MemoryLayout.size(ofValue: address.sun_path) else {
            close(socket)
            throw Failure.unreachable("\(path) is too long for a Unix socket")
        }
        withUnsafeMutableBytes(of: &address.sun_path) { raw in
            raw.copyBytes(from: bytes)
            raw[bytes.count] = 0
        }
        var limit = timeval(tv_sec: Int(timeout), tv_usec: Int((timeout - timeout.rounded(.down)) * 1_000_000))
        _ = setsockopt(socket, SOL_SOCKET, SO_RCVTIMEO, &limit, socklen_t(MemoryLayout<timeval>.size))
        _ = setsockopt(socket, SOL_SOCKET, SO_SNDTIMEO, &limit, socklen_t(MemoryLayout<timeval>.size))
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                connect(socket, $0, socklen_t(MemoryLayout<sockaddr_un>.size))
            }
        }
        guard connected == 0 else {
            let reason = Self.lastError()
            close(socket)
            throw Failure.unreachable("no agent on \(path): \(reason)")
        }
        fd = socket
    }

    deinit { if fd >= 0 { close(fd) } }

    /// `POST target` with `body`; the answer. A failure while sending is
    /// `.unreachable` only when not one byte left.
    public func post(_ target: String, fields: [(String, String)] = [], body: [UInt8]) throws -> Answer {
        defer {
            close(fd)
            fd = -1
        }
        var head = "POST \(target) HTTP/1.1\r\nHost: localhost\r\nContent-Length: \(body.count)\r\nConnection: close\r\n"
        for (name, value) in fields { head += "\(name): \(value)\r\n" }
        head += "\r\n"
        try write(Array(head.utf8) + body)
        var received: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 16 * 1024)
        while true {
            let count = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if count < 0 {
                if errno == EINTR { continue }
                throw Failure.lost("reading the agent's answer: \(Self.lastError())")
            }
            if count == 0 { break }
            received += chunk[0..<count]
            if let answer = Self.complete(received) { return answer }
        }
        guard let answer = Self.complete(received, atEnd: true) else {
            throw Failure.lost("the agent closed the connection before a whole answer")
        }
        return answer
    }

    private func write(_ bytes: [UInt8]) throws {
        var offset = 0
        while offset < bytes.count {
            let sent = bytes[offset...].withUnsafeBytes { Glibc.send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            if sent < 0 {
                if errno == EINTR { continue }
                let reason = "writing to the agent: \(Self.lastError())"
                throw offset == 0 ? Failure.unreachable(reason) : Failure.lost(reason)
            }
            offset += sent
        }
    }

    /// The answer once all of it is in: a `Content-Length` body, or (at
    /// the end of the stream) whatever follows the head, chunks decoded.
    ///
    /// The head is read as bytes with concrete types only: String's generic
    /// algorithms (splitting on a string, `reversed`, `lowercased`) had the
    /// runtime build their types' metadata by name and look up conformances
    /// by scanning the binary's tables, which was 4 ms of the front's 6.
    public static func complete(_ bytes: [UInt8], atEnd: Bool = false) -> Answer? {
        guard let split = find(bytes[...], [13, 10, 13, 10]) else { return nil }
        var lines: [ArraySlice<UInt8>] = []
        var start = 0
        while start < split {
            let end = find(bytes[start..<split], [13, 10]) ?? split
            if end > start { lines.append(bytes[start..<end]) }
            start = end + 2
        }
        guard let statusLine = lines.first, statusLine.starts(with: [72, 84, 84, 80, 47, 49, 46]),  // "HTTP/1."
              let space = statusLine.firstIndex(of: 32),
              let status = decimal(statusLine[(space + 1)...].prefix { $0 != 32 }) else {
            return atEnd ? Answer(status: 0, fields: [], body: []) : nil
        }
        var fields: [(name: String, value: String)] = []
        for line in lines.dropFirst() {
            guard let colon = line.firstIndex(of: 58) else { continue }  // ":"
            let name = trimmed(line[..<colon]).map { $0 >= 65 && $0 <= 90 ? $0 + 32 : $0 }
            fields.append((String(decoding: name, as: UTF8.self), String(decoding: trimmed(line[(colon + 1)...]), as: UTF8.self)))
        }
        var answer = Answer(status: status, fields: fields, body: [])
        let rest = bytes[(split + 4)...]
        if let length = answer.field("content-length").flatMap(decimal) {
            guard rest.count >= length else { return nil }
            answer.body = Array(rest.prefix(length))
            return answer
        }
        guard atEnd else { return nil }
        let chunked = answer.field("transfer-encoding").map { find(Array($0.utf8)[...], Array("chunked".utf8)) != nil } ?? false
        answer.body = chunked ? dechunk(rest) : Array(rest)
        return answer
    }

    static func dechunk(_ bytes: ArraySlice<UInt8>) -> [UInt8] {
        var body: [UInt8] = []
        var rest = bytes
        while let line = find(rest, [13, 10]),
              let size = Int(String(decoding: rest[..<line], as: UTF8.self).split(separator: ";").first.map(String.init) ?? "", radix: 16),
              size > 0, rest.count >= line + 2 - rest.startIndex + size {
            body += rest[(line + 2)..<(line + 2 + size)]
            rest = rest[(line + 2 + size)...].dropFirst(2)
        }
        return body
    }

    /// Where `needle` starts in `haystack` (indices of the haystack).
    static func find(_ haystack: ArraySlice<UInt8>, _ needle: [UInt8]) -> Int? {
        guard haystack.count >= needle.count else { return nil }
        var index = haystack.startIndex
        while index + needle.count <= haystack.endIndex {
            if haystack[index] == needle[0] && haystack[index..<(index + needle.count)].elementsEqual(needle) { return index }
            index += 1
        }
        return nil
    }

    /// `text` without the spaces and tabs around it.
    static func trimmed(_ text: ArraySlice<UInt8>) -> ArraySlice<UInt8> {
        var text = text
        while let first = text.first, first == 32 || first == 9 { text = text.dropFirst() }
        while let last = text.last, last == 32 || last == 9 { text = text.dropLast() }
        return text
    }

    /// The non-negative decimal number `digits` spell; nil for anything else.
    public static func decimal(_ digits: ArraySlice<UInt8>) -> Int? {
        guard !digits.isEmpty, digits.count <= 18 else { return nil }
        var value = 0
        for digit in digits {
            guard digit >= 48 && digit <= 57 else { return nil }
            value = value * 10 + Int(digit - 48)
        }
        return value
    }

    /// The same for a field's value.
    public static func decimal(_ text: String) -> Int? { decimal(Array(text.utf8)[...]) }

    /// Whether two field names are the same, ASCII letters' case aside.
    static func sameName(_ a: String, _ b: String) -> Bool {
        a.utf8.elementsEqual(b.utf8) { x, y in
            (x >= 65 && x <= 90 ? x + 32 : x) == (y >= 65 && y <= 90 ? y + 32 : y)
        }
    }

    static func lastError() -> String { String(cString: strerror(errno)) }
}
