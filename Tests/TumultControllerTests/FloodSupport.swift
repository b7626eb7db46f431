import Foundation
import TumultSystem

// For FloodTests: a real `tumult server` process (its descriptors counted
// in /proc), a flood of idle and slow connections on loopback, and a
// one-request HTTP client with a hard deadline.

/// `tumult server` on a free loopback port with a home of its own, its
/// output drained; stopped with SIGTERM (then SIGKILL) and its home removed.
final class FloodServer: @unchecked Sendable {
    let pid: Int32
    let port: Int
    let home: URL
    private let lock = NSLock()
    private var output: [UInt8] = []

    init(_ options: [String]) throws {
        home = FileManager.default.temporaryDirectory.appendingPathComponent("tmt-flood-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: home, withIntermediateDirectories: true)
        let child = try Spawn.start([FieldValidationAPITests.executable, "server", "--listen", "127.0.0.1:0", "--home", home.path] + options,
                                    environment: ["TUMULT_HOME": home.path, "TUMULT_TOKEN": "", "TUMULT_INVENTORY": ""])
        pid = child.pid
        var collected: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 4096)
        var port: Int?
        let deadline = Date().addingTimeInterval(30)
        while port == nil && Date() < deadline {
            var polled = [pollfd(fd: child.stdout, events: Int16(POLLIN), revents: 0)]
            guard poll(&polled, 1, 100) > 0 else { continue }
            let count = read(child.stdout, &chunk, chunk.count)
            if count <= 0 { break }
            collected += chunk[0..<count]
            // Whole lines only: a read may end inside the port number.
            let text = String(decoding: collected, as: UTF8.self)
            if let line = text.split(separator: "\n", omittingEmptySubsequences: false).dropLast().first(where: { $0.contains("listening on http://127.0.0.1:") }),
               let start = line.range(of: "http://127.0.0.1:") {
                port = Int(line[start.upperBound...].prefix(while: \.isNumber))
            }
        }
        output = collected
        guard let port else {
            kill(child.pid, SIGKILL)
            Spawn.wait(for: child.pid)
            close(child.stdout)
            close(child.stderr)
            throw FloodFailure("tumult server did not say it listens: \(String(decoding: collected, as: UTF8.self))")
        }
        self.port = port
        let (stdout, stderr) = (child.stdout, child.stderr)
        Thread.detachNewThread { [self] in drain([stdout, stderr]) }
    }

    /// Keeps reading the server's output (and its last 8 KiB) so it never blocks on a full pipe.
    private func drain(_ descriptors: [Int32]) {
        var open = Set(descriptors)
        var chunk = [UInt8](repeating: 0, count: 16_384)
        while !open.isEmpty {
            var polled = open.map { pollfd(fd: $0, events: Int16(POLLIN), revents: 0) }
            if poll(&polled, nfds_t(polled.count), -1) < 0 {
                if errno == EINTR { continue }
                break
            }
            for descriptor in polled where descriptor.revents != 0 {
                let count = read(descriptor.fd, &chunk, chunk.count)
                if count <= 0 {
                    open.remove(descriptor.fd)
                    close(descriptor.fd)
                } else {
                    lock.withLock { output = Array((output + chunk[0..<count]).suffix(8192)) }
                }
            }
        }
        open.forEach { close($0) }
    }

    /// The end of what the server printed.
    var tail: String { lock.withLock { String(decoding: output, as: UTF8.self) } }

    /// Descriptors the server holds now.
    var descriptors: Int {
        (try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(pid)/fd").count) ?? -1
    }

    /// Running, and not a zombie: it has not exited or been killed.
    var isAlive: Bool {
        guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
              let close = stat.lastIndex(of: ")") else { return false }
        let state = stat[stat.index(close, offsetBy: 2)]
        return state != "Z" && state != "X"
    }

    /// Samples `descriptors` until it is at most `target` (true) or `within` seconds pass.
    func descriptors(fallTo target: Int, within seconds: Double) -> (reached: Bool, after: Double, last: Int) {
        let start = Date()
        var last = descriptors
        while last > target && Date().timeIntervalSince(start) < seconds {
            usleep(20_000)
            last = descriptors
        }
        return (last <= target, Date().timeIntervalSince(start), last)
    }

    /// A counter or gauge of `GET /metrics` (summed over label sets matching `label`).
    func metric(_ name: String, label: String? = nil) -> Double? {
        guard let response = try? FloodHTTP.request("GET", "/metrics", port: port) else { return nil }
        var total: Double?
        for line in response.body.split(separator: "\n") where line.hasPrefix(name) && !line.hasPrefix("#") {
            let key = line.split(separator: " ").first.map(String.init) ?? ""
            guard key == name || key.hasPrefix(name + "{") else { continue }
            if let label, !key.contains(label) { continue }
            if let value = line.split(separator: " ").last.flatMap({ Double($0) }) { total = (total ?? 0) + value }
        }
        return total
    }

    /// SIGTERM, up to 10 s, then SIGKILL; removes the home. Returns the exit status.
    @discardableResult
    func stop() -> Int32 {
        defer { try? FileManager.default.removeItem(at: home) }
        kill(pid, SIGTERM)
        let deadline = Date().addingTimeInterval(10)
        var status: Int32 = 0
        while Date() < deadline {
            let answer = waitpid(pid, &status, WNOHANG)
            if answer == pid { return status & 0x7f == 0 ? (status >> 8) & 0xff : 128 + status & 0x7f }
            if answer < 0 && errno != EINTR { return -1 }
            usleep(20_000)
        }
        kill(pid, SIGKILL)
        return Spawn.wait(for: pid)
    }
}

struct FloodFailure: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

/// TCP to 127.0.0.1 without blocking past a deadline.
enum FloodSocket {
    /// A non-blocking socket connecting (or connected) to 127.0.0.1:`port`; nil if there is none to have.
    static func connect(port: Int) -> Int32? {
        let descriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue) | Int32(SOCK_NONBLOCK.rawValue), 0)
        guard descriptor >= 0 else { return nil }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let result = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { Glibc.connect(descriptor, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        if result != 0 && errno != EINPROGRESS {
            close(descriptor)
            return nil
        }
        return descriptor
    }

    /// Waits for `events` on `descriptor` until `deadline`; false when the time is up.
    static func wait(_ descriptor: Int32, for events: Int16, until deadline: Date) -> Bool {
        while true {
            let left = deadline.timeIntervalSinceNow
            guard left > 0 else { return false }
            var polled = pollfd(fd: descriptor, events: events, revents: 0)
            let ready = poll(&polled, 1, Int32(min(left, 1) * 1000) + 1)
            if ready > 0 { return true }
            if ready < 0 && errno != EINTR { return false }
        }
    }

    /// Sends all of `bytes`; false if the connection failed.
    static func send(_ descriptor: Int32, _ bytes: [UInt8], until deadline: Date) -> Bool {
        var sent = 0
        while sent < bytes.count {
            guard wait(descriptor, for: Int16(POLLOUT), until: deadline) else { return false }
            let count = bytes[sent...].withUnsafeBytes { Glibc.send(descriptor, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            if count < 0 {
                if errno == EAGAIN || errno == EINTR { continue }
                return false
            }
            sent += count
        }
        return true
    }

    /// Reads what is there (waiting up to `deadline` for something): nil
    /// once the peer closed or reset the connection.
    static func receive(_ descriptor: Int32, until deadline: Date) -> [UInt8]? {
        var chunk = [UInt8](repeating: 0, count: 16_384)
        while true {
            guard wait(descriptor, for: Int16(POLLIN), until: deadline) else { return [] }
            let count = recv(descriptor, &chunk, chunk.count, 0)
            if count > 0 { return Array(chunk[0..<count]) }
            if count < 0 && (errno == EAGAIN || errno == EINTR) { continue }
            return nil
        }
    }

    /// Raises this process's soft limit on descriptors to at least `wanted`
    /// (the hard one too, as root, if it is lower); whether it is that now.
    @discardableResult
    static func allowDescriptors(_ wanted: Int) -> Bool {
        var limits = rlimit()
        guard getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limits) == 0 else { return false }
        guard limits.rlim_cur < rlim_t(wanted) else { return true }
        if limits.rlim_max < rlim_t(wanted) && getuid() == 0 { limits.rlim_max = rlim_t(wanted) }
        limits.rlim_cur = min(rlim_t(wanted), limits.rlim_max)
        return setrlimit(Int32(RLIMIT_NOFILE.rawValue), &limits) == 0 && limits.rlim_cur >= rlim_t(wanted)
    }
}

/// One request on a new connection (`Connection: close`), with a deadline.
enum FloodHTTP {
    struct Response {
        var status: Int
        var body: String
        var seconds: Double
    }

    /// `headers` are added to the head (`Content-Type` for a write, say).
    static func request(_ method: String, _ path: String, port: Int, headers: [String: String] = [:],
                        timeout: Double = 5) throws -> Response {
        let start = Date(), deadline = start.addingTimeInterval(timeout)
        guard let descriptor = FloodSocket.connect(port: port) else { throw FloodFailure("cannot connect to 127.0.0.1:\(port)") }
        defer { close(descriptor) }
        var head = "\(method) \(path) HTTP/1.1\r\nHost: 127.0.0.1:\(port)\r\nConnection: close\r\nContent-Length: 0\r\n"
        for (name, value) in headers.sorted(by: { $0.key < $1.key }) { head += "\(name): \(value)\r\n" }
        head += "\r\n"
        guard FloodSocket.send(descriptor, Array(head.utf8), until: deadline) else {
            throw FloodFailure("\(method) \(path): cannot send within \(timeout) s")
        }
        var received: [UInt8] = []
        while let bytes = FloodSocket.receive(descriptor, until: deadline) {
            if bytes.isEmpty { throw FloodFailure("\(method) \(path): no whole answer within \(timeout) s") }
            received += bytes
        }
        let text = String(decoding: received, as: UTF8.self)
        guard let status = text.split(separator: " ").dropFirst().first.flatMap({ Int($0) }) else {
            throw FloodFailure("\(method) \(path): no status line in \(text.prefix(200))")
        }
        let body = text.range(of: "\r\n\r\n").map { String(text[$0.upperBound...]) } ?? ""
        return Response(status: status, body: Self.dechunk(body), seconds: Date().timeIntervalSince(start))
    }

    /// A chunked body's data (the text itself when it is not chunked).
    static func dechunk(_ body: String) -> String {
        var lines = body.components(separatedBy: "\r\n")[...]
        guard let first = lines.first, Int(first, radix: 16) != nil else { return body }
        var data = ""
        while let size = lines.first.flatMap({ Int($0, radix: 16) }), size > 0, lines.count > 1 {
            data += lines.dropFirst().first ?? ""
            lines = lines.dropFirst(2)
        }
        return data
    }
}

/// Asks `GET /api/halt` and `GET /api/experiments` in turn, each on a new
/// connection, every `interval` seconds on a thread of its own until
/// stopped, and samples the server's descriptors as it goes.
final class FloodProbe: @unchecked Sendable {
    struct Answer: Sendable {
        var path: String
        /// Seconds to the whole answer; nil if there was none within the timeout.
        var seconds: Double?
        var status: Int?
        var problem: String?
    }

    private let lock = NSLock()
    private var answers: [Answer] = []
    private var peak = 0
    private var stopping = false
    private let finished = DispatchSemaphore(value: 0)

    init(server: FloodServer, interval: Double = 0.2, timeout: Double = 5) {
        Thread.detachNewThread { [self] in
            let paths = ["/api/halt", "/api/experiments"]
            var turn = 0
            while !lock.withLock({ stopping }) {
                let started = Date()
                let path = paths[turn % paths.count]
                turn += 1
                let answer: Answer
                do {
                    let response = try FloodHTTP.request("GET", path, port: server.port, timeout: timeout)
                    answer = Answer(path: path, seconds: response.seconds, status: response.status)
                } catch {
                    answer = Answer(path: path, problem: "\(error)")
                }
                let descriptors = server.descriptors
                lock.withLock {
                    answers.append(answer)
                    peak = max(peak, descriptors)
                }
                let left = interval - Date().timeIntervalSince(started)
                if left > 0 { usleep(UInt32(left * 1e6)) }
            }
            finished.signal()
        }
    }

    /// Stops after the request under way; returns every answer and the most descriptors seen.
    func stop() -> (answers: [Answer], peakDescriptors: Int) {
        lock.withLock { stopping = true }
        finished.wait()
        return lock.withLock { (answers, peak) }
    }
}

/// Thousands of connections to one port, driven by one thread with poll:
/// `idle` ones send a request line and nothing more, `slow` ones a head one
/// byte a second that never ends. Records when each connected and when the
/// server closed it.
final class LoopbackFlood: @unchecked Sendable {
    enum Kind: Sendable { case idle, slow }

    struct Connection: Sendable {
        var descriptor: Int32
        var kind: Kind
        var startedAt: Date
        var connectedAt: Date?
        /// When the server closed it.
        var closedAt: Date?
        var sent = 0
        var lastSent: Date?
        /// The connection could not be made.
        var failed = false
        /// Still open when the flood ended: this side closed it.
        var leftOpen = false

        /// Connected, and not closed by the server yet.
        var isOpen: Bool { connectedAt != nil && closedAt == nil && !failed }
    }

    static let requestLine = Array("GET /api/experiments HTTP/1.1\r\n".utf8)
    static let slowHead = Array("GET /api/halt HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ".utf8)

    let port: Int
    private let lock = NSLock()
    private var connections: [Connection] = []
    /// Indices of the connections neither closed nor failed.
    private var live: [Int] = []
    private var unopened = 0

    init(port: Int) {
        self.port = port
    }

    /// Opens `idle` + `slow` connections, at most `rate` a second. For the
    /// first `refill` seconds every connection the server closes (or that
    /// fails) is replaced by a new one of its kind, so the flood keeps its
    /// size; then those left are held until every one is closed or
    /// `seconds` (from the start) have passed, when the ones still open are
    /// closed by this side. A closed connection's descriptor is given back
    /// at once.
    func run(idle: Int, slow: Int, rate: Double = 2000, refill: Double = 0, seconds: Double) {
        let start = Date()
        let deadline = start.addingTimeInterval(seconds), refillEnd = start.addingTimeInterval(refill)
        var waiting = (Array(repeating: Kind.idle, count: idle) + Array(repeating: Kind.slow, count: slow)).shuffled()
        var budget = 0.0, last = start
        while true {
            let now = Date()
            guard now < deadline else { break }
            // No bursts: at most a twentieth of a second's worth at once.
            budget = min(budget + rate * now.timeIntervalSince(last), max(1, rate / 20))
            last = now
            while budget >= 1, let kind = waiting.popLast() {
                budget -= 1
                if let descriptor = FloodSocket.connect(port: port) {
                    lock.withLock {
                        connections.append(Connection(descriptor: descriptor, kind: kind, startedAt: now))
                        live.append(connections.count - 1)
                    }
                } else {
                    lock.withLock { unopened += 1 }
                    if now < refillEnd { waiting.append(kind) }
                }
            }
            let watched = lock.withLock { live }
            if watched.isEmpty && waiting.isEmpty { break }
            var polled = lock.withLock {
                watched.map { index in
                    pollfd(fd: connections[index].descriptor,
                           events: connections[index].connectedAt == nil ? Int16(POLLOUT) : Int16(POLLIN), revents: 0)
                }
            }
            _ = poll(&polled, nfds_t(polled.count), 20)
            let after = Date()
            lock.withLock {
                var stillLive: [Int] = []
                stillLive.reserveCapacity(watched.count)
                for (index, result) in zip(watched, polled) {
                    step(&connections[index], revents: result.revents, now: after)
                    if connections[index].closedAt == nil && !connections[index].failed {
                        stillLive.append(index)
                    } else {
                        close(connections[index].descriptor)
                        if after < refillEnd { waiting.append(connections[index].kind) }
                    }
                }
                live = stillLive
            }
        }
        lock.withLock {
            for index in live {
                if connections[index].connectedAt != nil { connections[index].leftOpen = true } else { connections[index].failed = true }
                close(connections[index].descriptor)
            }
            live = []
        }
    }

    private func step(_ connection: inout Connection, revents: Int16, now: Date) {
        if connection.connectedAt == nil {
            guard revents != 0 else { return }
            var problem: Int32 = 0
            var length = socklen_t(MemoryLayout<Int32>.size)
            getsockopt(connection.descriptor, SOL_SOCKET, SO_ERROR, &problem, &length)
            guard problem == 0 else {
                connection.failed = true
                return
            }
            connection.connectedAt = now
            let first = connection.kind == .idle ? Self.requestLine : Array(Self.slowHead.prefix(1))
            if Glibc.send(connection.descriptor, first, first.count, Int32(MSG_NOSIGNAL)) == first.count {
                connection.sent = first.count
                connection.lastSent = now
            }
            return
        }
        if revents & Int16(POLLIN | POLLHUP | POLLERR) != 0 {
            var byte: UInt8 = 0
            let count = recv(connection.descriptor, &byte, 1, 0)
            if count == 0 || (count < 0 && errno != EAGAIN && errno != EINTR) {
                connection.closedAt = now
                return
            }
        }
        // One more byte a second, for ever: the head never ends.
        if connection.kind == .slow, let lastSent = connection.lastSent, now.timeIntervalSince(lastSent) >= 1 {
            var byte = connection.sent < Self.slowHead.count ? Self.slowHead[connection.sent] : UInt8(ascii: "a")
            if Glibc.send(connection.descriptor, &byte, 1, Int32(MSG_NOSIGNAL)) == 1 {
                connection.sent += 1
                connection.lastSent = now
            }
        }
    }

    /// Every connection so far.
    var all: [Connection] { lock.withLock { connections } }
    /// Connections whose socket could not even be made.
    var refused: Int { lock.withLock { unopened } }
    /// Connected and not closed yet.
    var open: Int { lock.withLock { live.filter { connections[$0].isOpen }.count } }
}
