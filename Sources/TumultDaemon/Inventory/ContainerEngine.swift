import Foundation
import TumultModel

/// A Docker or Podman engine, asked for its running containers over the
/// Docker-compatible REST API on its Unix socket. Each running container is
/// a pod: containers have no named network namespace, so faults reach them
/// through the pid of their main process.
///
/// The HTTP client is a few dozen lines over a Unix socket rather than a
/// dependency: two GET requests with `Connection: close` need no more.
public struct ContainerEngine: Sendable, Hashable {
    /// `.docker` or `.podman`: what the pods of this engine say they came from.
    public var kind: Pod.Source
    public var socketPath: String
    /// How long one read or write on the socket may block, in seconds: a
    /// hung engine must not hang `tumult get pods`.
    public var timeout: Double

    public init(kind: Pod.Source, socketPath: String, timeout: Double = 5) {
        self.kind = kind
        self.socketPath = socketPath
        self.timeout = timeout
    }

    /// Docker's system socket.
    public static let docker = ContainerEngine(kind: .docker, socketPath: "/var/run/docker.sock")
    /// Podman's system socket (`systemctl start podman.socket`).
    public static let podman = ContainerEngine(kind: .podman, socketPath: "/run/podman/podman.sock")
    /// The engines a host is looked at for by default.
    public static let standard: [ContainerEngine] = [.docker, .podman]

    /// The compose label that gives a container its Kubernetes-style namespace.
    public static let projectLabel = "com.docker.compose.project"

    /// Whether something is at the socket path: no socket means no engine,
    /// which is not an error.
    public var isPresent: Bool {
        var info = stat()
        return lstat(socketPath, &info) == 0 || stat(socketPath, &info) == 0
    }

    /// The running containers as pods on node `nodeName`. Throws
    /// `ContainerEngineError` when the engine cannot be reached or answers
    /// with something other than the API's JSON.
    public func containers(nodeName: String) throws -> [Pod] {
        let client = UnixHTTPClient(socketPath: socketPath, timeout: timeout)
        let list = try client.getJSON([ContainerSummary].self, "/containers/json")
        var pods: [Pod] = []
        for summary in list {
            let details: ContainerDetails
            do {
                details = try client.getJSON(ContainerDetails.self, "/containers/\(summary.id)/json")
            } catch let error as ContainerEngineError where error.status == 404 {
                continue  // it stopped and was removed between the two requests
            }
            if let running = details.state?.running, !running { continue }
            let name = (details.name ?? summary.names?.first).map(Self.trimmedName) ?? String(summary.id.prefix(12))
            let labels = details.config?.labels ?? summary.labels ?? [:]
            let namespace = labels[Self.projectLabel].flatMap { $0.isEmpty ? nil : $0 } ?? "default"
            let pid = details.state?.pid.flatMap { $0 > 0 ? $0 : nil }
            pods.append(Pod(name: name, namespace: namespace, labels: labels, pid: pid,
                            ips: Self.addresses(details.networkSettings ?? summary.networkSettings),
                            nodeName: nodeName, phase: "Running", source: kind, containerID: details.id ?? summary.id))
        }
        return pods
    }

    static func trimmedName(_ name: String) -> String {
        name.hasPrefix("/") ? String(name.dropFirst()) : name
    }

    /// Every address of every network the container is attached to, in a
    /// stable order (networks by name), without duplicates.
    static func addresses(_ settings: NetworkSettings?) -> [String] {
        guard let settings else { return [] }
        var found: [String] = []
        let candidates = [settings.ipAddress, settings.globalIPv6Address]
            + (settings.networks ?? [:]).sorted { $0.key < $1.key }
                .flatMap { [$0.value.ipAddress, $0.value.globalIPv6Address] }
        for case let address? in candidates where !address.isEmpty && !found.contains(address) {
            found.append(address)
        }
        return found
    }

    // MARK: The API's shapes (only the fields used)

    struct ContainerSummary: Decodable {
        var id: String
        var names: [String]?
        var labels: [String: String]?
        var networkSettings: NetworkSettings?

        enum CodingKeys: String, CodingKey {
            case id = "Id", names = "Names", labels = "Labels", networkSettings = "NetworkSettings"
        }
    }

    struct ContainerDetails: Decodable {
        var id: String?
        var name: String?
        var state: State?
        var config: Config?
        var networkSettings: NetworkSettings?

        enum CodingKeys: String, CodingKey {
            case id = "Id", name = "Name", state = "State", config = "Config", networkSettings = "NetworkSettings"
        }

        struct State: Decodable {
            var running: Bool?
            var pid: Int32?
            enum CodingKeys: String, CodingKey { case running = "Running", pid = "Pid" }
        }

        struct Config: Decodable {
            var labels: [String: String]?
            enum CodingKeys: String, CodingKey { case labels = "Labels" }
        }
    }

    struct NetworkSettings: Decodable {
        var ipAddress: String?
        var globalIPv6Address: String?
        var networks: [String: Endpoint]?

        enum CodingKeys: String, CodingKey {
            case ipAddress = "IPAddress", globalIPv6Address = "GlobalIPv6Address", networks = "Networks"
        }

        struct Endpoint: Decodable {
            var ipAddress: String?
            var globalIPv6Address: String?
            enum CodingKeys: String, CodingKey { case ipAddress = "IPAddress", globalIPv6Address = "GlobalIPv6Address" }
        }
    }
}

/// A container engine that could not be asked, or answered badly.
public struct ContainerEngineError: Error, Sendable, CustomStringConvertible {
    public var socketPath: String
    /// The HTTP status, when the engine answered with an error.
    public var status: Int?
    public var message: String

    public init(socketPath: String, status: Int? = nil, message: String) {
        self.socketPath = socketPath
        self.status = status
        self.message = message
    }

    public var description: String {
        "container engine at \(socketPath): \(status.map { "HTTP \($0): " } ?? "")\(message)"
    }
}

/// HTTP/1.1 GET over a Unix domain socket, one connection per request
/// (`Connection: close`), answers framed by Content-Length, chunked
/// encoding or the end of the connection.
struct UnixHTTPClient {
    var socketPath: String
    var timeout: Double
    /// Answers larger than this are refused rather than held in memory.
    static let maximumResponse = 64 << 20

    struct Response {
        var status: Int
        var headers: [(name: String, value: String)]
        var body: [UInt8]

        func header(_ name: String) -> String? {
            headers.first { $0.name.lowercased() == name.lowercased() }?.value
        }
    }

    func error(_ message: String, status: Int? = nil) -> ContainerEngineError {
        ContainerEngineError(socketPath: socketPath, status: status, message: message)
    }

    func getJSON<T: Decodable>(_ type: T.Type, _ target: String) throws -> T {
        let response = try get(target)
        guard (200..<300).contains(response.status) else {
            let object = try? JSONSerialization.jsonObject(with: Data(response.body)) as? [String: Any]
            let message = object?["message"] as? String ?? String(decoding: response.body.prefix(200), as: UTF8.self)
            throw error("GET \(target): \(message)", status: response.status)
        }
        do {
            return try JSONDecoder().decode(type, from: Data(response.body))
        } catch {
            throw self.error("GET \(target): unexpected answer: \(error)")
        }
    }

    func get(_ target: String) throws -> Response {
        let request = "GET \(target) HTTP/1.1\r\nHost: localhost\r\nUser-Agent: tumult\r\nAccept: application/json\r\nConnection: close\r\n\r\n"
        let raw = try exchange(Array(request.utf8))
        do {
            return try Self.parse(raw)
        } catch let problem as ContainerEngineError {
            throw error("GET \(target): \(problem.message)")
        }
    }

    /// Sends `request` and reads until the engine closes the connection.
    func exchange(_ request: [UInt8]) throws -> [UInt8] {
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        let pathBytes = Array(socketPath.utf8)
        let capacity = MemoryLayout.size(ofValue: address.sun_path)
        guard pathBytes.count < capacity else { throw error("socket path is longer than \(capacity - 1) bytes") }
        withUnsafeMutableBytes(of: &address.sun_path) { buffer in
            buffer.copyBytes(from: pathBytes)
            buffer[pathBytes.count] = 0
        }
        let descriptor = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard descriptor >= 0 else { throw error("cannot create a socket: \(Self.lastError())") }
        defer { close(descriptor) }
        var limit = timeval(tv_sec: Int(timeout), tv_usec: Int((timeout - timeout.rounded(.down)) * 1_000_000))
        setsockopt(descriptor, SOL_SOCKET, SO_RCVTIMEO, &limit, socklen_t(MemoryLayout<timeval>.size))
        setsockopt(descriptor, SOL_SOCKET, SO_SNDTIMEO, &limit, socklen_t(MemoryLayout<timeval>.size))
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                connect(descriptor, $0, socklen_t(MemoryLayout<sockaddr_un>.size))
            }
        }
        guard connected == 0 else { throw error("cannot connect: \(Self.lastError())") }

        var sent = 0
        while sent < request.count {
            let count = request[sent...].withUnsafeBytes {
                send(descriptor, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL))
            }
            if count < 0 {
                if errno == EINTR { continue }
                throw error("cannot send the request: \(Self.lastError())")
            }
            sent += count
        }
        var received: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 65_536)
        while true {
            let count = recv(descriptor, &buffer, buffer.count, 0)
            if count == 0 { break }
            if count < 0 {
                if errno == EINTR { continue }
                if errno == EAGAIN || errno == EWOULDBLOCK { throw error("no answer within \(timeout) s") }
                throw error("cannot read the answer: \(Self.lastError())")
            }
            received += buffer[0..<count]
            guard received.count <= Self.maximumResponse else {
                throw error("answer is larger than \(Self.maximumResponse >> 20) MiB")
            }
        }
        return received
    }

    static func lastError() -> String { String(cString: strerror(errno)) }

    /// Splits a whole HTTP/1.1 answer into status, headers and body.
    static func parse(_ raw: [UInt8]) throws -> Response {
        let invalid = { (message: String) in ContainerEngineError(socketPath: "", message: message) }
        let separator: [UInt8] = [13, 10, 13, 10]
        guard let end = firstIndex(of: separator, in: raw, from: 0) else {
            throw invalid(raw.isEmpty ? "the engine closed the connection without answering" : "incomplete HTTP header")
        }
        let head = String(decoding: raw[..<end], as: UTF8.self).components(separatedBy: "\r\n")
        let statusParts = head[0].split(separator: " ", maxSplits: 2)
        guard statusParts.count >= 2, statusParts[0].hasPrefix("HTTP/1."), let status = Int(statusParts[1]) else {
            throw invalid("not an HTTP answer: \(head[0].prefix(80))")
        }
        var headers: [(name: String, value: String)] = []
        for line in head.dropFirst() {
            guard let colon = line.firstIndex(of: ":") else { continue }
            headers.append((String(line[..<colon]).trimmingCharacters(in: .whitespaces),
                            String(line[line.index(after: colon)...]).trimmingCharacters(in: .whitespaces)))
        }
        var response = Response(status: status, headers: headers, body: [])
        let rest = Array(raw[(end + 4)...])
        if let encoding = response.header("Transfer-Encoding"), encoding.lowercased().contains("chunked") {
            response.body = try dechunk(rest)
        } else if let lengthText = response.header("Content-Length") {
            guard let length = Int(lengthText), length >= 0 else { throw invalid("bad Content-Length \(lengthText)") }
            guard rest.count >= length else {
                throw invalid("answer ended after \(rest.count) of \(length) bytes")
            }
            response.body = Array(rest.prefix(length))
        } else {
            response.body = rest
        }
        return response
    }

    /// Decodes a chunked body: hex size lines (extensions ignored), each
    /// chunk followed by CRLF, a zero-size chunk and optional trailers last.
    static func dechunk(_ data: [UInt8]) throws -> [UInt8] {
        let invalid = { (message: String) in ContainerEngineError(socketPath: "", message: message) }
        var body: [UInt8] = []
        var position = 0
        while true {
            guard let lineEnd = firstIndex(of: [13, 10], in: data, from: position) else {
                throw invalid("chunked answer ended early")
            }
            let sizeText = String(decoding: data[position..<lineEnd], as: UTF8.self)
                .split(separator: ";", maxSplits: 1).first.map { $0.trimmingCharacters(in: .whitespaces) } ?? ""
            guard let size = Int(sizeText, radix: 16), size >= 0 else {
                throw invalid("bad chunk size \"\(sizeText.prefix(20))\"")
            }
            position = lineEnd + 2
            if size == 0 { return body }
            guard data.count - position >= size + 2 else { throw invalid("chunked answer ended early") }
            body += data[position..<(position + size)]
            position += size
            guard data[position] == 13, data[position + 1] == 10 else { throw invalid("chunk not followed by CRLF") }
            position += 2
        }
    }

    static func firstIndex(of needle: [UInt8], in haystack: [UInt8], from start: Int) -> Int? {
        guard haystack.count >= needle.count, start <= haystack.count - needle.count else { return nil }
        var index = start
        while index <= haystack.count - needle.count {
            if needle.indices.allSatisfy({ haystack[index + $0] == needle[$0] }) { return index }
            index += 1
        }
        return nil
    }
}
