import Foundation
import TumultSystem

/// `swift run -c release tumult-bench api-list [--tumult PATH] [--experiments 500] [--connections 200] [--seconds 10]`
/// (build `tumult` first: `swift build -c release --product tumult-cli`, then `--product tumult`).
///
/// Issue 11's budget for the experiment list: `GET /api/experiments` with
/// 500 experiments under 200 kept-alive connections, p99 ≤ 50 ms. Starts
/// the real `tumult server` on a free loopback port with a fresh
/// `TUMULT_HOME` and an inventory of one pod whose network namespace does
/// not exist (nothing on the host can be touched), applies the experiments
/// (finished ones that ran their duration on that pod, paused ones, failed
/// ones whose selector matches nothing), waits until their states settle,
/// then loads the list with `connections` closed-loop clients for
/// `seconds` (after a warm-up), and `GET /api/halt` the same way: a tiny
/// answer through the same middleware and one controller call, so the ratio
/// shows what the list itself costs.
///
/// The load generator is `ClosedLoopLoad` below (poll(2) over non-blocking
/// sockets in one thread), so the benchmark needs no tool beyond the build.
struct APIListBenchmark {
    var tumult: String
    var experiments = 500
    var connections = 200
    var seconds = 10.0
    var warmup = 2.0
    static let budgetMilliseconds = 50.0

    init(tumult: String, arguments: [String]) {
        self.tumult = tumult
        func value(_ flag: String) -> Double? {
            guard let index = arguments.firstIndex(of: flag), index + 1 < arguments.count else { return nil }
            return Double(arguments[index + 1])
        }
        if let count = value("--experiments") { experiments = Int(count) }
        if let count = value("--connections") { connections = Int(count) }
        if let time = value("--seconds") { seconds = time }
        if let time = value("--warmup") { warmup = time }
    }

    /// How many experiments of each state are applied.
    var mix: (finished: Int, paused: Int, failed: Int) {
        let finished = experiments * 2 / 5, paused = experiments * 3 / 10
        return (finished, paused, experiments - finished - paused)
    }

    func run() throws {
        guard FileManager.default.isExecutableFile(atPath: tumult) else {
            throw BenchmarkError("no tumult at \(tumult): swift build -c release --product tumult-cli, then --product tumult (or --tumult PATH)")
        }
        let tag = UUID().uuidString.prefix(8).lowercased()
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("tmt-bench-api-list-\(tag)")
        defer { try? FileManager.default.removeItem(at: directory) }
        let home = directory.appendingPathComponent("home")
        try FileManager.default.createDirectory(at: home, withIntermediateDirectories: true)
        // One pod whose network namespace is absent: it is selected, every
        // injection into it fails before reaching the host, and experiments
        // on it finish when their duration passes.
        let ghostNamespace = "tmt-bench-ghost-\(tag)"
        guard !FileManager.default.fileExists(atPath: "/var/run/netns/\(ghostNamespace)") else {
            throw BenchmarkError("network namespace \(ghostNamespace) exists; run again")
        }
        let inventory = directory.appendingPathComponent("inventory.yaml")
        try """
        pods:
          - name: ghost
            namespace: bench
            netns: \(ghostNamespace)
            labels: {tumult-bench-list: ghost-\(tag)}
        """.write(to: inventory, atomically: true, encoding: .utf8)

        let server = try RunningServer.start(
            [tumult, "server", "--listen", "127.0.0.1:0", "--home", home.path, "--inventory", inventory.path],
            environment: ["TUMULT_HOME": home.path, "TUMULT_TOKEN": "", "TUMULT_INVENTORY": inventory.path],
            ready: "tumult server listening on http://127.0.0.1:")
        defer { server.stop() }
        let client = LoopbackHTTP(port: server.port)

        let seedStart = ContinuousClock.now
        try seed(client, tag: tag)
        let seeded = (ContinuousClock.now - seedStart).seconds
        let counts = try settle(client)
        let check = try HTTPConnection(port: server.port).get("/api/experiments", keepAlive: false)
        guard let items = try JSONSerialization.jsonObject(with: Data(check.body)) as? [[String: Any]], items.count == experiments else {
            throw BenchmarkError("GET /api/experiments did not list the \(experiments) experiments")
        }

        print("api-list benchmark: \(ProcessInfo.processInfo.activeProcessorCount) cores; tumult server on 127.0.0.1:\(server.port) (pid \(server.pid))")
        print("tumult: \(tumult)")
        print("\(experiments) experiments applied in " + String(format: "%.1f s", seeded) + "; states: "
              + counts.sorted { $0.key < $1.key }.filter { $0.value > 0 }.map { "\($0.key) \($0.value)" }.joined(separator: ", "))
        print("load: \(connections) kept-alive connections, closed loop (each sends its next request when the last answer's")
        print("last byte is in), one client thread polling every socket (poll(2)); " + String(format: "%.0f s", warmup)
              + " warm-up, then " + String(format: "%.0f s", seconds) + " measured; latency from writing the request to the")
        print("last body byte, nearest-rank percentiles, of requests written and answered inside the measured window;")
        print("CPU % is user+system time over the window as a share of one core (the server's from /proc/PID/stat)")
        print("")

        var results: [(String, ClosedLoopLoad.Result)] = []
        for path in ["/api/halt", "/api/experiments"] {
            let load = ClosedLoopLoad(port: server.port, path: path, connections: connections, warmup: warmup,
                                      seconds: seconds, serverPid: server.pid)
            results.append((path, try load.run()))
        }

        let widths = [22, 6, 11, 9, 9, 9, 9, 9, 10, 8, 7]
        print(row(widths, ["GET", "conns", "requests/s", "p50 ms", "p90 ms", "p99 ms", "max ms", "body B", "server CPU", "bench CPU", "errors"]))
        print(row(widths, ["---", "-----", "----------", "------", "------", "------", "------", "------", "----------", "---------", "------"]))
        for (path, result) in results {
            let p = result.percentiles
            print(row(widths, [path, "\(connections)", String(format: "%.0f", result.requestsPerSecond)]
                      + p.map { String(format: "%.2f", $0) }
                      + ["\(result.bodyBytes)", String(format: "%.0f %%", result.serverCPUPercent),
                         String(format: "%.0f %%", result.clientCPUPercent), "\(result.errors)"]))
        }
        let (halt, list) = (results[0].1, results[1].1)
        print(row(widths, ["ratio list / halt", "", String(format: "%.2fx", list.requestsPerSecond / max(halt.requestsPerSecond, 1))]
                  + zip(list.percentiles, halt.percentiles).map { String(format: "%.2fx", $0 / max($1, 0.001)) }))
        print("")
        let p99 = list.percentiles[2]
        print("budget: GET /api/experiments p99 ≤ \(Int(Self.budgetMilliseconds)) ms under \(connections) connections: "
              + (p99 <= Self.budgetMilliseconds ? "met" : "NOT met") + String(format: " (p99 %.2f ms)", p99))
        let stopped = server.stop()
        print("tumult server stopped by SIGTERM in " + String(format: "%.0f ms", stopped.milliseconds) + ", exit status \(stopped.status)")
    }

    /// Applies the experiments, one `POST /api/experiments` each.
    func seed(_ client: LoopbackHTTP, tag: String) throws {
        let (finished, paused, _) = mix
        let actions = [("delay", #""delay":{"latency":"10ms","jitter":"1ms"}"#), ("loss", #""loss":{"loss":"25"}"#)]
        for index in 0..<experiments {
            let (action, parameters) = actions[index % actions.count]
            let ghost = #"{"labelSelectors":{"tumult-bench-list":"ghost-\#(tag)"}}"#
            let nobody = #"{"labelSelectors":{"tumult-bench-list":"nobody-\#(tag)"}}"#
            var annotations = ""
            let selector: String, duration: String
            switch index {
            case ..<finished: (selector, duration) = (ghost, "1s")
            case ..<(finished + paused):
                (selector, duration) = (ghost, "1h")
                annotations = #","annotations":{"experiment.chaos-mesh.org/pause":"true"}"#
            default: (selector, duration) = (nobody, "1h")
            }
            let body = #"{"apiVersion":"chaos-mesh.org/v1alpha1","kind":"NetworkChaos","#
                + #""metadata":{"name":"list-\#(index)","namespace":"bench","labels":{"app":"bench","tier":"t\#(index % 7)"}\#(annotations)},"#
                + #""spec":{"action":"\#(action)","mode":"all","selector":\#(selector),\#(parameters),"duration":"\#(duration)"}}"#
            let answer = try client.request("POST", "/api/experiments", body: body, contentType: "application/json")
            guard answer.status == 200 else {
                throw BenchmarkError("POST /api/experiments (list-\(index)): \(answer.status) \(answer.text.prefix(300))")
            }
        }
    }

    /// Waits (up to 60 s) until the finished ones have finished and the
    /// others are paused or failed; returns the state counts.
    func settle(_ client: LoopbackHTTP) throws -> [String: Int] {
        let (finished, paused, failed) = mix
        let deadline = ContinuousClock.now + .seconds(60)
        var counts: [String: Int] = [:]
        while ContinuousClock.now < deadline {
            let answer = try client.request("GET", "/api/experiments/state")
            counts = (answer.object ?? [:]).compactMapValues { $0 as? Int }
            if counts["Finished"] == finished && counts["Paused"] == paused && counts["Failed"] == failed { return counts }
            usleep(200_000)
        }
        throw BenchmarkError("the experiments did not settle within 60 s: \(counts)")
    }

    func row(_ widths: [Int], _ columns: [String]) -> String {
        zip(columns, widths).map { $0.padding(toLength: max($1, $0.count + 1), withPad: " ", startingAt: 0) }.joined(separator: " ")
    }
}

// MARK: - The load

/// `connections` kept-alive HTTP/1.1 connections to 127.0.0.1, each asking
/// `GET path` again as soon as its previous answer is complete, driven by one
/// thread with poll(2). Answers must carry Content-Length (Hummingbird sends
/// it for a body it has whole); anything but 200 counts as an error.
struct ClosedLoopLoad {
    var port: Int
    var path: String
    var connections: Int
    var warmup: Double
    var seconds: Double
    var serverPid: Int32

    struct Result {
        var requests: Int
        var errors: Int
        var seconds: Double
        /// Milliseconds, of requests written and answered inside the window.
        var latencies: [Double]
        var bodyBytes: Int
        var serverCPUPercent: Double
        var clientCPUPercent: Double
        var requestsPerSecond: Double { Double(requests) / seconds }

        /// p50, p90, p99 and max (nearest rank).
        var percentiles: [Double] {
            let sorted = latencies.sorted()
            guard !sorted.isEmpty else { return [0, 0, 0, 0] }
            func rank(_ p: Double) -> Double { sorted[max(0, Int((p * Double(sorted.count)).rounded(.up)) - 1)] }
            return [rank(0.5), rank(0.9), rank(0.99), sorted[sorted.count - 1]]
        }
    }

    /// One connection's progress through its current answer.
    struct Connection {
        var descriptor: Int32
        var sentAt: UInt64 = 0
        var head: [UInt8] = []
        /// Body bytes still to come; nil while the head is being read.
        var remaining: Int?
        var status = 0
        /// The current answer's Content-Length.
        var length = 0
    }

    func run() throws -> Result {
        let request = Array("GET \(path) HTTP/1.1\r\nHost: 127.0.0.1:\(port)\r\nUser-Agent: tumult-bench\r\nAccept: application/json\r\n\r\n".utf8)
        var open: [Connection] = []
        defer { for connection in open { close(connection.descriptor) } }
        for _ in 0..<connections { open.append(Connection(descriptor: try Self.connect(port: port))) }

        let start = Self.nanoseconds()
        let windowStart = start + UInt64(warmup * 1e9), windowEnd = windowStart + UInt64(seconds * 1e9)
        var latencies: [Double] = []
        latencies.reserveCapacity(200_000)
        var requests = 0, errors = 0, bodyBytes = 0
        var cpuAtStart: (server: Double, client: Double)?
        var cpuAtEnd: (server: Double, client: Double)?
        var buffer = [UInt8](repeating: 0, count: 1 << 18)

        func send(_ index: Int) throws {
            open[index].sentAt = Self.nanoseconds()
            open[index].head.removeAll(keepingCapacity: true)
            open[index].remaining = nil
            let sent = request.withUnsafeBytes { Glibc.send(open[index].descriptor, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            guard sent == request.count else {
                throw BenchmarkError("GET \(path): a request written in part (\(sent) of \(request.count) B): \(String(cString: strerror(errno)))")
            }
        }
        func finished(_ index: Int, at now: UInt64) {
            let connection = open[index]
            if connection.status != 200 { errors += 1 }
            bodyBytes = connection.length
            if connection.sentAt >= windowStart && now <= windowEnd {
                requests += 1
                latencies.append(Double(now - connection.sentAt) / 1e6)
            }
        }

        for index in open.indices { try send(index) }
        var polled = open.map { pollfd(fd: $0.descriptor, events: Int16(POLLIN), revents: 0) }
        while true {
            let now = Self.nanoseconds()
            if cpuAtStart == nil && now >= windowStart { cpuAtStart = (Self.cpuSeconds(of: serverPid), Self.cpuSeconds(of: getpid())) }
            if now >= windowEnd {
                cpuAtEnd = (Self.cpuSeconds(of: serverPid), Self.cpuSeconds(of: getpid()))
                break
            }
            let ready = poll(&polled, nfds_t(polled.count), 50)
            if ready < 0 && errno == EINTR { continue }
            guard ready >= 0 else { throw BenchmarkError("poll: \(String(cString: strerror(errno)))") }
            for index in polled.indices where polled[index].revents != 0 {
                polled[index].revents = 0
                while true {
                    let count = recv(open[index].descriptor, &buffer, buffer.count, 0)
                    if count < 0 && errno == EINTR { continue }
                    if count < 0 && (errno == EAGAIN || errno == EWOULDBLOCK) { break }
                    guard count > 0 else {
                        // Closed by the server: counted, and replaced by a new connection.
                        errors += 1
                        close(open[index].descriptor)
                        open[index] = Connection(descriptor: try Self.connect(port: port))
                        polled[index].fd = open[index].descriptor
                        try send(index)
                        break
                    }
                    if try Self.consume(&open[index], buffer[0..<count], path: path) {
                        let at = Self.nanoseconds()
                        finished(index, at: at)
                        if at < windowEnd { try send(index) }
                        break
                    }
                }
            }
        }
        let (server, client) = (cpuAtEnd!.server - cpuAtStart!.server, cpuAtEnd!.client - cpuAtStart!.client)
        return Result(requests: requests, errors: errors, seconds: seconds, latencies: latencies, bodyBytes: bodyBytes,
                      serverCPUPercent: server / seconds * 100, clientCPUPercent: client / seconds * 100)
    }

    /// Takes bytes of the current answer; true once its last body byte is in.
    static func consume(_ connection: inout Connection, _ bytes: ArraySlice<UInt8>, path: String) throws -> Bool {
        if let remaining = connection.remaining {
            guard bytes.count <= remaining else { throw BenchmarkError("GET \(path): more bytes than Content-Length said") }
            connection.remaining = remaining - bytes.count
            return connection.remaining == 0
        }
        let searchFrom = max(0, connection.head.count - 3)
        connection.head += bytes
        guard let end = HTTPConnection.find([13, 10, 13, 10], in: connection.head, from: searchFrom) else { return false }
        let head = String(decoding: connection.head[0..<end], as: UTF8.self)
        var lines = head.split(separator: "\r\n")
        guard !lines.isEmpty, let status = Int(lines.removeFirst().split(separator: " ").dropFirst().first ?? "") else {
            throw BenchmarkError("GET \(path): no status line")
        }
        var length: Int?
        for line in lines {
            guard let colon = line.firstIndex(of: ":"), line[..<colon].lowercased() == "content-length" else { continue }
            length = Int(line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces))
        }
        guard let length else { throw BenchmarkError("GET \(path): an answer without Content-Length") }
        let bodyIn = connection.head.count - (end + 4)
        guard bodyIn <= length else { throw BenchmarkError("GET \(path): more bytes than Content-Length said") }
        connection.status = status
        connection.length = length
        connection.remaining = length - bodyIn
        return connection.remaining == 0
    }

    /// A non-blocking connection to 127.0.0.1 with Nagle's algorithm off.
    static func connect(port: Int) throws -> Int32 {
        let descriptor = try LoopbackSocket.connect(port: port)
        var on: Int32 = 1
        setsockopt(descriptor, Int32(IPPROTO_TCP), TCP_NODELAY, &on, socklen_t(MemoryLayout<Int32>.size))
        _ = fcntl(descriptor, F_SETFL, fcntl(descriptor, F_GETFL) | O_NONBLOCK)
        return descriptor
    }

    static func nanoseconds() -> UInt64 {
        var time = timespec()
        clock_gettime(CLOCK_MONOTONIC, &time)
        return UInt64(time.tv_sec) * 1_000_000_000 + UInt64(time.tv_nsec)
    }

    /// User plus system CPU seconds of process `pid` so far (/proc/PID/stat).
    static func cpuSeconds(of pid: Int32) -> Double {
        guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
              let commEnd = stat.lastIndex(of: ")") else { return 0 }
        // After "(comm)": state is field 3; utime and stime are fields 14 and 15.
        let fields = stat[stat.index(after: commEnd)...].split(separator: " ")
        guard fields.count > 13, let user = Double(fields[11]), let system = Double(fields[12]) else { return 0 }
        return (user + system) / Double(sysconf(Int32(_SC_CLK_TCK)))
    }
}
