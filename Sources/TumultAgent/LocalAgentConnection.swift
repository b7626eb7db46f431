import Foundation

/// One HTTP/1.1 exchange with the host's agent over its Unix socket,
/// blocking, with nothing but a socket: the CLI's handoff must cost less
/// than the work it hands off, so no event loop, no thread pool, no TLS.
public final class LocalAgentConnection {
    private var fd: Int32

    /// Connects to the socket at `path`; throws when no agent listens there.
    public init(path: String, timeout: Double) throws {
        let socket = Glibc.socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard socket >= 0 else { throw AgentError(.unreachable, "socket: \(String(cString: strerror(errno)))") }
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        let bytes = Array(path.utf8)
        guard bytes.count < MemoryLayout.size(ofValue: address.sun_path) else {
            close(socket)
            throw AgentError(.unreachable, "\(path) is too long for a Unix socket")
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
            let code = errno
            close(socket)
            throw AgentError(.unreachable, "no agent on \(path): \(String(cString: strerror(code)))")
        }
        fd = socket
    }

    deinit { if fd >= 0 { close(fd) } }

    /// `POST path` with a JSON body; the status and the body of the answer.
    /// The connection is closed after (one exchange per connection).
    public func post(_ path: String, json body: Data) throws -> (status: Int, body: Data) {
        defer {
            close(fd)
            fd = -1
        }
        let head = "POST \(path) HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n"
            + "Content-Length: \(body.count)\r\n\(AgentHeaderName.version): \(AgentProtocol.version)\r\nConnection: close\r\n\r\n"
        try write(Array(head.utf8) + Array(body))
        var received: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 16 * 1024)
        while true {
            let count = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if count < 0 {
                if errno == EINTR { continue }
                throw AgentError(.unreachable, "reading the agent's answer: \(String(cString: strerror(errno)))")
            }
            if count == 0 { break }
            received += chunk[0..<count]
            if let answer = Self.complete(received) { return answer }
        }
        guard let answer = Self.complete(received, atEnd: true) else {
            throw AgentError(.unreachable, "the agent closed the connection before a whole answer")
        }
        return answer
    }

    private func write(_ bytes: [UInt8]) throws {
        var offset = 0
        while offset < bytes.count {
            let sent = bytes[offset...].withUnsafeBytes { Glibc.send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            if sent < 0 {
                if errno == EINTR { continue }
                throw AgentError(.unreachable, "writing to the agent: \(String(cString: strerror(errno)))")
            }
            offset += sent
        }
    }

    /// The answer once all of it is in: a `Content-Length` body, or (at
    /// the end of the stream) whatever follows the head, chunks decoded.
    static func complete(_ bytes: [UInt8], atEnd: Bool = false) -> (status: Int, body: Data)? {
        guard let split = bytes.firstRange(of: [13, 10, 13, 10]) else { return nil }
        let head = String(decoding: bytes[..<split.lowerBound], as: UTF8.self)
        let lines = head.split(separator: "\r\n")
        guard let statusLine = lines.first, statusLine.hasPrefix("HTTP/1."),
              let status = statusLine.split(separator: " ").dropFirst().first.flatMap({ Int($0) }) else {
            return atEnd ? (0, Data()) : nil
        }
        var length: Int?
        var chunked = false
        for line in lines.dropFirst() {
            let parts = line.split(separator: ":", maxSplits: 1).map { $0.trimmingCharacters(in: .whitespaces) }
            guard parts.count == 2 else { continue }
            if parts[0].lowercased() == "content-length" { length = Int(parts[1]) }
            if parts[0].lowercased() == "transfer-encoding", parts[1].lowercased().contains("chunked") { chunked = true }
        }
        let rest = bytes[split.upperBound...]
        if let length {
            return rest.count >= length ? (status, Data(rest.prefix(length))) : nil
        }
        guard atEnd else { return nil }
        return (status, chunked ? Self.dechunk(rest) : Data(rest))
    }

    static func dechunk(_ bytes: ArraySlice<UInt8>) -> Data {
        var body = Data()
        var rest = bytes
        while let line = rest.firstRange(of: [13, 10]),
              let size = Int(String(decoding: rest[..<line.lowerBound], as: UTF8.self).split(separator: ";").first ?? "", radix: 16),
              size > 0, rest.count >= line.upperBound - rest.startIndex + size {
            body += rest[line.upperBound..<(line.upperBound + size)]
            rest = rest[(line.upperBound + size)...].dropFirst(2)
        }
        return body
    }
}

/// The version header's name (the HTTP layer has its own copy as `AgentHeader`).
enum AgentHeaderName {
    static let version = "Tumult-Agent-Version"
}

/// The host's running agent as `tumult attack` and `tumult recover` reach
/// it: nil from `connect` when none listens, and the CLI works in process.
public struct LocalAgentClient: Sendable {
    public let path: String

    public static let socketName = "agent.sock"

    /// The agent's socket in `home` (`$TUMULT_HOME/agent.sock`); nil when
    /// that path would not fit in a `sockaddr_un` (108 bytes).
    public static func socketPath(home: URL) -> String? {
        let path = home.appendingPathComponent(socketName).path
        return path.utf8.count < 108 ? path : nil
    }

    /// The agent on `path` if one answers there now. The socket must be
    /// owned by this user (root's agent for root): in a home others can
    /// write to, a socket someone else made would otherwise receive the
    /// attacks and answer for them.
    public static func connect(path: String?) -> LocalAgentClient? {
        var info = stat()
        guard let path, lstat(path, &info) == 0, info.st_mode & S_IFMT == S_IFSOCK, info.st_uid == geteuid(),
              (try? LocalAgentConnection(path: path, timeout: 1)) != nil else { return nil }
        return LocalAgentClient(path: path)
    }

    public func attack(_ prepared: PreparedAttack) throws -> AttackID {
        try call("prepared", prepared, as: AttackID.self)
    }

    public func recover(_ recovery: AttackRecovery) throws -> AttackRecovery.Outcome {
        try call("recover-attacks", recovery, as: AttackRecovery.Outcome.self)
    }

    /// Generous: an injection with a userspace engine waits for it to be ready.
    private func call<Reply: Decodable>(_ route: String, _ body: some Encodable, as _: Reply.Type) throws -> Reply {
        let connection = try LocalAgentConnection(path: path, timeout: 60)
        let answer = try connection.post(AgentProtocol.pathPrefix + "/" + route, json: try JSONEncoder().encode(body))
        guard answer.status == 200 else {
            if let error = try? JSONDecoder().decode(AgentError.self, from: answer.body) { throw error }
            throw AgentError(.unreachable, "the agent on \(path) answered HTTP \(answer.status)")
        }
        return try JSONDecoder().decode(Reply.self, from: answer.body)
    }
}
