import Foundation
import Synchronization

/// `swift run -c release tumult-bench flood [--tumult PATH] [--sizes 0,2000,10000] [--seconds 20] [--rate 1000]`
/// (build `tumult` first: `swift build -c release --product tumult-cli`, then `--product tumult`).
///
/// Issue 11's flood: for each size, a fresh `tumult server` (default
/// limits: 1,024 connections, 10 s for a head, 30 s idle) on a free
/// loopback port is flooded by this process with half idle connections
/// (a request line, then nothing) and half slow ones (a head one byte a
/// second, never ending), opened at most `rate` a second; every connection
/// the server closes is opened again, so the flood keeps its size for
/// `seconds`. Meanwhile `GET /api/halt` is asked every 100 ms on a new
/// connection, and `POST /api/halt` once halfway. Then this side closes
/// everything and the server must still answer, give its descriptors back,
/// and exit cleanly on SIGTERM.
struct FloodBenchmark {
    var tumult: String
    var sizes = [0, 2000, 10_000]
    var seconds = 20.0
    var rate = 1000.0

    init(tumult: String, arguments: [String]) {
        self.tumult = tumult
        func value(_ flag: String) -> String? {
            guard let index = arguments.firstIndex(of: flag), index + 1 < arguments.count else { return nil }
            return arguments[index + 1]
        }
        if let list = value("--sizes") { sizes = list.split(separator: ",").compactMap { Int($0) } }
        if let time = value("--seconds").flatMap(Double.init) { seconds = time }
        if let count = value("--rate").flatMap(Double.init) { rate = count }
    }

    struct Result {
        var size: Int
        var opened = 0
        var closedByServer = 0
        /// Milliseconds of the answered `GET /api/halt`s.
        var latencies: [Double] = []
        var failed = 0
        var overASecond = 0
        var postHalt: Double?
        var before = 0
        var peakDescriptors = 0
        var peakRSSKiB = 0
        var after = 0
        var evicted = 0.0
        var timedOut = 0.0
        var refused = 0.0
        var answersAfter = false
        var exitStatus: Int32 = -1
    }

    func run() throws {
        guard FileManager.default.isExecutableFile(atPath: tumult) else {
            throw BenchmarkError("no tumult at \(tumult): swift build -c release --product tumult-cli, then --product tumult (or --tumult PATH)")
        }
        let wanted = (sizes.max() ?? 0) + 1024
        var limits = rlimit()
        getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limits)
        if limits.rlim_cur < rlim_t(wanted) {
            if limits.rlim_max < rlim_t(wanted) && getuid() == 0 { limits.rlim_max = rlim_t(wanted) }
            limits.rlim_cur = min(rlim_t(wanted), limits.rlim_max)
            setrlimit(Int32(RLIMIT_NOFILE.rawValue), &limits)
        }
        getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limits)
        guard limits.rlim_cur >= rlim_t(wanted) else {
            throw BenchmarkError("the flood needs \(wanted) descriptors; the limit is \(limits.rlim_cur) (run as root or raise it)")
        }

        print("flood benchmark: \(ProcessInfo.processInfo.activeProcessorCount) cores; tumult: \(tumult)")
        print("server: tumult server --listen 127.0.0.1:0, default limits (1,024 connections, --header-timeout 10, --idle-timeout 30)")
        print("flood: half idle (request line only), half slow (a head byte a second), opened at most "
              + String(format: "%.0f", rate) + "/s, reopened when closed, for " + String(format: "%.0f", seconds) + " s;")
        print("GET /api/halt every 100 ms on a new connection (5 s timeout), POST /api/halt once at half time;")
        print("latency from connect to the last byte, nearest-rank percentiles; fds and RSS of the server from /proc")
        print("")
        var results: [Result] = []
        for size in sizes {
            results.append(try measure(size))
            usleep(2_000_000)  // let the kernel's TIME_WAITs of this round go
        }

        let widths = [12, 7, 7, 7, 7, 5, 5, 8, 9, 9, 8, 8, 8, 10, 10, 8]
        print(row(widths, ["flood", "opened", "p50 ms", "p99 ms", "max ms", ">1 s", "fail", "POST ms", "fds rest", "fds peak",
                           "RSS MiB", "evicted", "refused", "timed out", "fds after", "survived"]))
        print(row(widths, ["-----", "------", "------", "------", "------", "----", "----", "-------", "--------", "--------",
                           "-------", "-------", "-------", "---------", "---------", "--------"]))
        for result in results {
            let sorted = result.latencies.sorted()
            func rank(_ p: Double) -> String {
                guard !sorted.isEmpty else { return "-" }
                return String(format: "%.1f", sorted[min(sorted.count - 1, max(0, Int((p * Double(sorted.count)).rounded(.up)) - 1))])
            }
            let survived = result.answersAfter && result.exitStatus == 0 ? "yes" : "NO (exit \(result.exitStatus))"
            print(row(widths, ["\(result.size / 2)+\(result.size - result.size / 2)", "\(result.opened)", rank(0.5), rank(0.99),
                               rank(1), "\(result.overASecond)", "\(result.failed)",
                               result.postHalt.map { String(format: "%.1f", $0) } ?? "failed",
                               "\(result.before)", "\(result.peakDescriptors)", String(format: "%.0f", Double(result.peakRSSKiB) / 1024),
                               String(format: "%.0f", result.evicted), String(format: "%.0f", result.refused),
                               String(format: "%.0f", result.timedOut),
                               "\(result.after)", survived]))
        }
        print("")
        print("opened: flood connections opened in all (reopened ones included); evicted / refused / timed out: the server's")
        print("tumult_http_connections_closed_total (reason evicted; refused; header_timeout + idle_timeout); fds rest / peak / after:")
        print("the server's open descriptors before, at most during, and 5 s after the flood; RSS: VmHWM (peak) of the server;")
        print("survived: answered GET /api/halt after the flood and exited 0 on SIGTERM")
    }

    /// One size against a fresh server.
    func measure(_ size: Int) throws -> Result {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("tmt-bench-flood-\(UUID().uuidString.prefix(8))")
        defer { try? FileManager.default.removeItem(at: directory) }
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let server = try RunningServer.start([tumult, "server", "--listen", "127.0.0.1:0", "--home", directory.path],
                                             environment: ["TUMULT_HOME": directory.path, "TUMULT_TOKEN": "", "TUMULT_INVENTORY": ""],
                                             ready: "tumult server listening on http://127.0.0.1:")
        var result = Result(size: size)
        defer { if result.exitStatus < 0 { server.stop() } }
        let port = server.port
        for _ in 0..<20 { _ = OneShot.request("GET", "/api/halt", port: port) }
        usleep(300_000)
        result.before = Self.descriptors(server.pid)

        let flood = FloodDriver(port: port)
        let done = DispatchSemaphore(value: 0)
        Thread.detachNewThread { [seconds, rate] in
            flood.run(count: size, rate: rate, seconds: seconds)
            done.signal()
        }
        let start = ContinuousClock.now
        var posted = false
        while ContinuousClock.now - start < .seconds(seconds) {
            let tick = ContinuousClock.now
            if !posted && (tick - start).seconds >= seconds / 2 {
                posted = true
                let answer = OneShot.request("POST", "/api/halt", port: port, headers: ["Content-Type": "application/json"])
                if answer.status == 200 { result.postHalt = answer.milliseconds }
                _ = OneShot.request("DELETE", "/api/halt", port: port, headers: ["Content-Type": "application/json"])
            }
            let answer = OneShot.request("GET", "/api/halt", port: port)
            if answer.status == 200 {
                result.latencies.append(answer.milliseconds)
                if answer.milliseconds > 1000 { result.overASecond += 1 }
            } else {
                result.failed += 1
            }
            result.peakDescriptors = max(result.peakDescriptors, Self.descriptors(server.pid))
            let left = 0.1 - (ContinuousClock.now - tick).seconds
            if left > 0 { usleep(UInt32(left * 1e6)) }
        }
        done.wait()
        (result.opened, result.closedByServer) = flood.counts

        let metrics = OneShot.request("GET", "/metrics", port: port).body
        func metric(_ name: String, _ reason: String) -> Double {
            metrics.split(separator: "\n").filter { $0.hasPrefix("\(name){reason=\"\(reason)\"}") }
                .compactMap { $0.split(separator: " ").last.flatMap { Double($0) } }.reduce(0, +)
        }
        result.evicted = metric("tumult_http_connections_closed_total", "evicted")
        result.refused = metric("tumult_http_connections_closed_total", "refused")
        result.timedOut = metric("tumult_http_connections_closed_total", "header_timeout") + metric("tumult_http_connections_closed_total", "idle_timeout")
        result.answersAfter = OneShot.request("GET", "/api/halt", port: port, timeout: 1).status == 200
        usleep(5_000_000)
        result.after = Self.descriptors(server.pid)
        result.peakRSSKiB = Self.status(server.pid, "VmHWM:")
        result.exitStatus = server.stop().status
        return result
    }

    static func descriptors(_ pid: Int32) -> Int {
        (try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(pid)/fd").count) ?? -1
    }

    /// A `kB` line of /proc/PID/status.
    static func status(_ pid: Int32, _ key: String) -> Int {
        guard let text = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8),
              let line = text.split(separator: "\n").first(where: { $0.hasPrefix(key) }) else { return -1 }
        return Int(line.dropFirst(key.count).split(whereSeparator: { $0 == " " || $0 == "\t" }).first ?? "") ?? -1
    }

    func row(_ widths: [Int], _ columns: [String]) -> String {
        zip(columns, widths).map { $0.padding(toLength: max($1, $0.count + 1), withPad: " ", startingAt: 0) }.joined(separator: " ")
    }
}

// MARK: - Client side

/// Non-blocking TCP to 127.0.0.1 (a blocking connect could wait minutes
/// for a server whose accept queue is full).
private enum FloodSocket {
    static func connect(port: Int) -> Int32? {
        guard let descriptor = try? LoopbackSocket.open() else { return nil }
        _ = fcntl(descriptor, F_SETFL, fcntl(descriptor, F_GETFL) | O_NONBLOCK)
        var address = LoopbackSocket.address(port: port)
        let result = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { Glibc.connect(descriptor, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        if result != 0 && errno != EINPROGRESS {
            close(descriptor)
            return nil
        }
        return descriptor
    }

    /// Waits for `events` until `deadline`; false when the time is up or poll fails.
    static func wait(_ descriptor: Int32, _ events: Int16, until deadline: ContinuousClock.Instant) -> Bool {
        while true {
            let left = (deadline - ContinuousClock.now).seconds
            guard left > 0 else { return false }
            var polled = pollfd(fd: descriptor, events: events, revents: 0)
            let ready = poll(&polled, 1, Int32(min(left, 1) * 1000) + 1)
            if ready > 0 { return true }
            if ready < 0 && errno != EINTR { return false }
        }
    }
}

/// One request on a new connection, with a hard deadline.
private enum OneShot {
    struct Answer {
        var status: Int?
        var body = ""
        var milliseconds = 0.0
    }

    static func request(_ method: String, _ path: String, port: Int, headers: [String: String] = [:], timeout: Double = 5) -> Answer {
        let start = ContinuousClock.now, deadline = start + .seconds(timeout)
        guard let descriptor = FloodSocket.connect(port: port) else { return Answer() }
        defer { close(descriptor) }
        var head = "\(method) \(path) HTTP/1.1\r\nHost: 127.0.0.1:\(port)\r\nConnection: close\r\nContent-Length: 0\r\n"
        for (name, value) in headers { head += "\(name): \(value)\r\n" }
        let bytes = Array((head + "\r\n").utf8)
        guard FloodSocket.wait(descriptor, Int16(POLLOUT), until: deadline),
              Glibc.send(descriptor, bytes, bytes.count, Int32(MSG_NOSIGNAL)) == bytes.count else { return Answer() }
        var received: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 16_384)
        while FloodSocket.wait(descriptor, Int16(POLLIN), until: deadline) {
            let count = recv(descriptor, &chunk, chunk.count, 0)
            if count < 0 && (errno == EAGAIN || errno == EINTR) { continue }
            guard count > 0 else {
                guard let response = LoopbackHTTP.parse(Data(received)) else { return Answer() }
                return Answer(status: response.status, body: response.text, milliseconds: (ContinuousClock.now - start).seconds * 1000)
            }
            received += chunk[0..<count]
        }
        return Answer()
    }
}

/// `count` connections, half idle (a request line, then nothing) and half
/// slow (a head one byte a second), opened at most `rate` a second by one
/// thread with poll(2); each one the server closes is opened again until
/// `seconds` pass, then this side closes the rest.
private final class FloodDriver: Sendable {
    let port: Int
    private let totals = Mutex((opened: 0, closedByServer: 0))

    init(port: Int) {
        self.port = port
    }

    static let requestLine = Array("GET /api/experiments HTTP/1.1\r\n".utf8)
    static let slowHead = Array("GET /api/halt HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ".utf8)

    private struct Connection {
        var descriptor: Int32
        var slow: Bool
        var connected = false
        var sent = 0
        var lastSent = ContinuousClock.now
    }

    /// Opened in all, and closed by the server.
    var counts: (opened: Int, closedByServer: Int) { totals.withLock { ($0.opened, $0.closedByServer) } }

    func run(count: Int, rate: Double, seconds: Double) {
        let start = ContinuousClock.now, deadline = start + .seconds(seconds)
        var waiting = (0..<count).map { $0 % 2 == 1 }
        var live: [Connection] = []
        var budget = 0.0, last = start
        var opened = 0, closedByServer = 0
        while ContinuousClock.now < deadline {
            let now = ContinuousClock.now
            budget = min(budget + rate * (now - last).seconds, max(1, rate / 20))
            last = now
            while budget >= 1, let slow = waiting.popLast() {
                budget -= 1
                if let descriptor = FloodSocket.connect(port: port) {
                    live.append(Connection(descriptor: descriptor, slow: slow))
                    opened += 1
                } else {
                    waiting.append(slow)
                    break
                }
            }
            if live.isEmpty {
                usleep(20_000)
                continue
            }
            var polled = live.map { pollfd(fd: $0.descriptor, events: $0.connected ? Int16(POLLIN) : Int16(POLLOUT), revents: 0) }
            _ = poll(&polled, nfds_t(polled.count), 20)
            let after = ContinuousClock.now
            var kept: [Connection] = []
            kept.reserveCapacity(live.count)
            for (var connection, result) in zip(live, polled) {
                if step(&connection, revents: result.revents, now: after) {
                    kept.append(connection)
                } else {
                    close(connection.descriptor)
                    closedByServer += 1
                    waiting.append(connection.slow)
                }
            }
            live = kept
            totals.withLock { $0 = (opened, closedByServer) }
        }
        for connection in live { close(connection.descriptor) }
    }

    /// False once the connection failed or the server closed it.
    private func step(_ connection: inout Connection, revents: Int16, now: ContinuousClock.Instant) -> Bool {
        if !connection.connected {
            guard revents != 0 else { return true }
            var problem: Int32 = 0
            var length = socklen_t(MemoryLayout<Int32>.size)
            getsockopt(connection.descriptor, SOL_SOCKET, SO_ERROR, &problem, &length)
            guard problem == 0 else { return false }
            connection.connected = true
            let first = connection.slow ? Array(Self.slowHead.prefix(1)) : Self.requestLine
            connection.sent = Glibc.send(connection.descriptor, first, first.count, Int32(MSG_NOSIGNAL)) == first.count ? first.count : 0
            connection.lastSent = now
            return true
        }
        if revents & Int16(POLLIN | POLLHUP | POLLERR) != 0 {
            var byte: UInt8 = 0
            let count = recv(connection.descriptor, &byte, 1, 0)
            if count == 0 || (count < 0 && errno != EAGAIN && errno != EINTR) { return false }
        }
        if connection.slow && (now - connection.lastSent).seconds >= 1 {
            var byte = connection.sent < Self.slowHead.count ? Self.slowHead[connection.sent] : UInt8(ascii: "a")
            if Glibc.send(connection.descriptor, &byte, 1, Int32(MSG_NOSIGNAL)) == 1 {
                connection.sent += 1
                connection.lastSent = now
            }
        }
        return true
    }
}
