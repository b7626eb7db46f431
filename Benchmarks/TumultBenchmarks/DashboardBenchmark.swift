import Foundation
import Synchronization
import TumultSystem

/// `swift run -c release tumult-bench dashboard [--tumult PATH]` (build `tumult` first:
/// `swift build -c release --product tumult-cli`, then `--product tumult`).
///
/// Issue 6's budget for the dashboard: its first page served in under 50 ms
/// and weighing under 200 KB in all. Starts the real `tumult server` on a
/// free loopback port (a fresh `TUMULT_HOME`, removed at the end), loads
/// the page as a browser would (`/`, then every asset the HTML, the ES
/// modules and the CSS reference), and times it with a minimal HTTP/1.1
/// client over a TCP socket. The same bytes served by
/// `python3 -m http.server` are the floor, measured the same way in the
/// same run: as shipped, and with Nagle's algorithm off (as shipped it
/// waits for a delayed ACK on every kept-alive response).
struct DashboardBenchmark {
    var tumult: String
    /// Requests of `GET /` on one kept-alive connection.
    var keptAlive = 1000
    /// Requests of `GET /` with a new connection each.
    var newConnections = 300
    /// Loads of the whole page per way of loading it.
    var pageLoads = 100
    static let budgetMilliseconds = 50.0
    /// 200 KB, counted in thousands.
    static let budgetBytes = 200_000

    /// One file of the page as one server sent it.
    struct File {
        var path: String
        var contentType: String
        var contentEncoding: String?
        var body: [UInt8]
        /// Status line, headers and body as they came over the socket.
        var wireBytes: Int
    }

    func run() throws {
        guard FileManager.default.isExecutableFile(atPath: tumult) else {
            throw BenchmarkError("no tumult at \(tumult): swift build -c release --product tumult-cli, then --product tumult (or --tumult PATH)")
        }
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("tmt-bench-dashboard-\(UUID().uuidString.prefix(8))")
        defer { try? FileManager.default.removeItem(at: directory) }
        let home = directory.appendingPathComponent("home"), site = directory.appendingPathComponent("site")
        for folder in [home, site] { try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true) }

        let server = try RunningServer.start(
            [tumult, "server", "--listen", "127.0.0.1:0"], environment: ["TUMULT_HOME": home.path],
            ready: "tumult server listening on http://127.0.0.1:")
        defer { server.stop() }
        // The load that finds the files is the first after the server said it listens: the cold one.
        let (files, tumultCold) = try discoverPage(port: server.port)

        for file in files {
            let local = site.appendingPathComponent(file.path == "/" ? "index.html" : String(file.path.dropFirst()))
            try FileManager.default.createDirectory(at: local.deletingLastPathComponent(), withIntermediateDirectories: true)
            try Data(file.body).write(to: local)
        }
        // The floor as shipped, and with Nagle's algorithm off: it writes the headers and the body in two
        // send()s, so on a kept-alive connection the body waits for the client's delayed ACK (40 ms).
        let python = try RunningServer.start(
            ["python3", "-u", "-m", "http.server"] + Self.pythonArguments(site.path), environment: [:], ready: "Serving HTTP on ")
        defer { python.stop() }
        let quickPython = try RunningServer.start(
            ["python3", "-u", "-c", "import runpy, socketserver; socketserver.StreamRequestHandler.disable_nagle_algorithm = True; "
             + "runpy.run_module('http.server', run_name='__main__', alter_sys=True)"] + Self.pythonArguments(site.path),
            environment: [:], ready: "Serving HTTP on ")
        defer { quickPython.stop() }
        let pythonVersion = (try? Spawn.run(["python3", "--version"]).stdout.trimmingCharacters(in: .whitespacesAndNewlines)) ?? "python3"
        let paths = files.map(\.path)
        var pythonFiles: [File] = [], colds = [tumultCold]
        for floor in [python, quickPython] {
            let start = ContinuousClock.now
            let served = try paths.map { try fetchAlone($0, port: floor.port) }
            colds.append((ContinuousClock.now - start).seconds * 1000)
            for (mine, theirs) in zip(files, served) where mine.body != theirs.body || theirs.contentEncoding != nil {
                throw BenchmarkError("python served \(theirs.path) with other bytes (\(theirs.body.count) B, not \(mine.body.count))")
            }
            if pythonFiles.isEmpty { pythonFiles = served }
        }
        guard files.allSatisfy({ $0.contentEncoding == nil }) else {
            throw BenchmarkError("tumult sent a compressed response: the floor would not serve the same thing")
        }

        print("dashboard benchmark: \(ProcessInfo.processInfo.activeProcessorCount) cores; tumult server on 127.0.0.1:\(server.port); "
              + "\(pythonVersion) -m http.server -p HTTP/1.1 serving the same bytes")
        print("on 127.0.0.1:\(python.port) as shipped and on 127.0.0.1:\(quickPython.port) with TCP_NODELAY "
              + "(socketserver.StreamRequestHandler.disable_nagle_algorithm)")
        print("tumult: \(tumult)")
        print("")
        printFiles(files, pythonFiles)
        print("")

        let widths = [40, 6, 9, 9, 9, 9]
        print("2. latency, ms, nearest-rank percentiles; from writing the request (kept alive) or from connect()")
        print("   (new connection) to the last body byte; a page is its \(files.count) files in turn, in the order found")
        print("")
        print(row(widths, ["request", "n", "p50", "p95", "p99", "max"]))
        print(row(widths, ["-------", "-", "---", "---", "---", "---"]))
        func line(_ name: String, _ count: String, _ values: [Double], _ format: String = "%.3f") {
            print(row(widths, [name, count] + values.map { String(format: format, $0) }))
        }
        @discardableResult
        func compare(_ name: String, _ count: Int, _ measure: (Int) throws -> [Double]) throws -> [Double] {
            let mine = percentiles(try measure(server.port))
            let shipped = percentiles(try measure(python.port)), quick = percentiles(try measure(quickPython.port))
            print(name)
            line("  tumult", "\(count)", mine)
            line("  python", "\(count)", shipped)
            line("  python, TCP_NODELAY", "\(count)", quick)
            line("  ratio tumult / python", "", zip(mine, shipped).map { $0 / $1 }, "%.2fx")
            line("  ratio tumult / python, TCP_NODELAY", "", zip(mine, quick).map { $0 / $1 }, "%.2fx")
            return mine
        }
        try compare("GET /, one connection kept alive", keptAlive) { try timeKeptAlive(["/"], times: keptAlive, port: $0) }
        try compare("GET /, new connection each", newConnections) { try timeAlone(["/"], times: newConnections, port: $0) }
        try compare("page, one connection kept alive", pageLoads) { try timeKeptAlive(paths, times: pageLoads, port: $0) }
        let page = try compare("page, new connection each", pageLoads) { try timeAlone(paths, times: pageLoads, port: $0) }
        print("page, first load after the server started (new connection each)")
        for (name, value) in zip(["  tumult", "  python", "  python, TCP_NODELAY"], colds) { line(name, "1", [value]) }
        print("")

        let total = files.reduce(0) { $0 + $1.wireBytes }
        print("budget: first page in under \(Int(Self.budgetMilliseconds)) ms: "
              + (max(page[2], tumultCold) < Self.budgetMilliseconds ? "met" : "NOT met")
              + String(format: " (a new connection per file: p99 %.3f ms, max %.3f ms; first load after start %.3f ms)",
                       page[2], page[3], tumultCold))
        print("budget: under 200 KB in all: " + (total < Self.budgetBytes ? "met" : "NOT met")
              + " (\(total) B with tumult's headers, "
              + String(format: "%.0f %%", Double(total) / Double(Self.budgetBytes) * 100) + " of \(Self.budgetBytes) B)")
        let stopped = server.stop()
        print("tumult server stopped by SIGTERM in " + String(format: "%.0f ms", stopped.milliseconds) + ", exit status \(stopped.status)")
    }

    /// `http.server`'s arguments: any free port, loopback, the page's files, keep-alive.
    static func pythonArguments(_ site: String) -> [String] {
        ["0", "--bind", "127.0.0.1", "--directory", site, "--protocol", "HTTP/1.1"]
    }

    // MARK: Printing

    func printFiles(_ files: [File], _ pythonFiles: [File]) {
        print("1. the first page as a browser loads it: GET / and every /assets/ file the HTML (src, href), the ES modules")
        print("   (import/export ... from, import()) and the CSS (url(), @import) reference; bytes")
        print("")
        let widths = [36, 32, 9, 10, 10]
        print(row(widths, ["path", "content-type", "body", "tumult", "python"]))
        print(row(widths, ["----", "------------", "----", "------", "------"]))
        for (file, theirs) in zip(files, pythonFiles) {
            let type = file.contentType + (file.contentEncoding.map { " (\($0))" } ?? "")
            print(row(widths, [file.path, type, "\(file.body.count)", "\(file.wireBytes)", "\(theirs.wireBytes)"]))
        }
        let bodies = files.reduce(0) { $0 + $1.body.count }
        print(row(widths, ["total, \(files.count) files", "", "\(bodies)", "\(files.reduce(0) { $0 + $1.wireBytes })",
                           "\(pythonFiles.reduce(0) { $0 + $1.wireBytes })"]))
        print("")
        print("tumult, python: the body with the status line and headers as received; content-type as tumult sends it;")
        print("the 200 KB budget is counted in thousands (200000 B)")
    }

    func row(_ widths: [Int], _ columns: [String]) -> String {
        zip(columns, widths).map { $0.padding(toLength: max($1, $0.count + 1), withPad: " ", startingAt: 0) }.joined(separator: " ")
    }

    /// p50, p95, p99 and max (nearest rank).
    func percentiles(_ samples: [Double]) -> [Double] {
        let sorted = samples.sorted()
        guard !sorted.isEmpty else { return [0, 0, 0, 0] }
        func rank(_ p: Double) -> Double { sorted[max(0, Int((p * Double(sorted.count)).rounded(.up)) - 1)] }
        return [rank(0.5), rank(0.95), rank(0.99), sorted[sorted.count - 1]]
    }

    // MARK: Loading

    /// `/` and every asset reachable from it, each over a new connection,
    /// in the order a browser finds them, and the ms the fetches took
    /// (the parsing between them not counted).
    func discoverPage(port: Int) throws -> ([File], Double) {
        var queue = ["/"], seen: Set<String> = ["/"], files: [File] = []
        var milliseconds = 0.0
        while !queue.isEmpty {
            let start = ContinuousClock.now
            let file = try fetchAlone(queue.removeFirst(), port: port)
            milliseconds += (ContinuousClock.now - start).seconds * 1000
            files.append(file)
            for reference in Self.references(in: file) where seen.insert(reference).inserted {
                queue.append(reference)
            }
        }
        return (files, milliseconds)
    }

    /// One GET on a connection of its own.
    func fetchAlone(_ path: String, port: Int) throws -> File {
        let connection = try HTTPConnection(port: port)
        return try connection.get(path, keepAlive: false)
    }

    /// `times` loads of `paths` on one connection each (after 20 untimed).
    func timeKeptAlive(_ paths: [String], times: Int, port: Int) throws -> [Double] {
        let connection = try HTTPConnection(port: port)
        for _ in 0..<20 { for path in paths { _ = try connection.get(path, keepAlive: true) } }
        return try (0..<times).map { _ in
            let start = ContinuousClock.now
            for path in paths { _ = try connection.get(path, keepAlive: true) }
            return (ContinuousClock.now - start).seconds * 1000
        }
    }

    /// `times` loads of `paths`, each file over a new connection (after 20 untimed).
    func timeAlone(_ paths: [String], times: Int, port: Int) throws -> [Double] {
        for _ in 0..<20 { for path in paths { _ = try fetchAlone(path, port: port) } }
        return try (0..<times).map { _ in
            let start = ContinuousClock.now
            for path in paths { _ = try fetchAlone(path, port: port) }
            return (ContinuousClock.now - start).seconds * 1000
        }
    }

    // MARK: References

    static let htmlReference = try! NSRegularExpression(pattern: #"\b(?:src|href)\s*=\s*["']([^"']+)["']"#)
    static let moduleReference = try! NSRegularExpression(
        pattern: #"\b(?:import|export)\s+(?:[^'";()=]*?\bfrom\s*)?["']([^"']+)["']|\bimport\s*\(\s*["']([^"']+)["']\s*\)"#)
    static let styleReference = try! NSRegularExpression(pattern: #"url\(\s*["']?([^"')]+)["']?\s*\)|@import\s+["']([^"']+)["']"#)

    /// The `/assets/` paths a file makes a browser load, by its content type.
    static func references(in file: File) -> [String] {
        let expression: NSRegularExpression
        if file.contentType.hasPrefix("text/html") { expression = htmlReference }
        else if file.contentType.contains("javascript") { expression = moduleReference }
        else if file.contentType.hasPrefix("text/css") { expression = styleReference }
        else { return [] }
        let text = String(decoding: file.body, as: UTF8.self)
        let whole = NSRange(text.startIndex..., in: text)
        return expression.matches(in: text, range: whole).compactMap { match in
            let found = (1..<match.numberOfRanges).lazy.compactMap { Range(match.range(at: $0), in: text) }.first
            return found.flatMap { resolve(String(text[$0]), against: file.path) }
        }.filter { $0.hasPrefix("/assets/") }
    }

    /// An absolute path for `reference` in the file at `base`; nil for other
    /// origins, schemes (`data:`) and fragments.
    static func resolve(_ reference: String, against base: String) -> String? {
        var reference = reference
        if let cut = reference.firstIndex(where: { $0 == "?" || $0 == "#" }) { reference = String(reference[..<cut]) }
        guard !reference.isEmpty, !reference.hasPrefix("//") else { return nil }
        if let colon = reference.firstIndex(of: ":"), !reference[..<colon].contains("/") { return nil }
        var parts = reference.hasPrefix("/") ? [] : base.split(separator: "/").dropLast().map(String.init)
        for part in reference.split(separator: "/") {
            switch part {
            case ".": continue
            case "..": if !parts.isEmpty { parts.removeLast() }
            default: parts.append(String(part))
            }
        }
        return "/" + parts.joined(separator: "/")
    }
}

// MARK: - HTTP over a socket

/// A minimal HTTP/1.1 client on one TCP connection to 127.0.0.1: GET only,
/// bodies by Content-Length or chunked.
final class HTTPConnection {
    let descriptor: Int32
    let port: Int
    private var buffer: [UInt8] = []

    init(port: Int) throws {
        self.port = port
        descriptor = try LoopbackSocket.connect(port: port)
        var on: Int32 = 1
        // As browsers do: no Nagle delay on a request written in one piece.
        setsockopt(descriptor, Int32(IPPROTO_TCP), TCP_NODELAY, &on, socklen_t(MemoryLayout<Int32>.size))
        var timeout = timeval(tv_sec: 10, tv_usec: 0)
        setsockopt(descriptor, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
    }

    deinit { close(descriptor) }

    /// GET `path`; the response must be 200.
    func get(_ path: String, keepAlive: Bool) throws -> DashboardBenchmark.File {
        let request = "GET \(path) HTTP/1.1\r\nHost: 127.0.0.1:\(port)\r\nUser-Agent: tumult-bench\r\nAccept: */*\r\n"
            + "Accept-Encoding: gzip, deflate, br\r\nConnection: \(keepAlive ? "keep-alive" : "close")\r\n\r\n"
        var bytes = Array(request.utf8)
        var sent = 0
        while sent < bytes.count {
            let count = bytes.withUnsafeMutableBytes { send(descriptor, $0.baseAddress! + sent, $0.count - sent, Int32(MSG_NOSIGNAL)) }
            if count < 0 && errno == EINTR { continue }
            guard count > 0 else { throw BenchmarkError("send GET \(path): \(String(cString: strerror(errno)))") }
            sent += count
        }

        let headerEnd = try readUntil { Self.find([13, 10, 13, 10], in: $0) }
        let head = String(decoding: buffer[0..<headerEnd], as: UTF8.self)
        var lines = head.split(separator: "\r\n")
        guard !lines.isEmpty else { throw BenchmarkError("GET \(path): an empty response") }
        let statusLine = lines.removeFirst()
        var headers: [String: String] = [:]
        for line in lines {
            guard let colon = line.firstIndex(of: ":") else { continue }
            headers[line[..<colon].lowercased()] = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
        }
        guard statusLine.split(separator: " ").dropFirst().first == "200" else {
            throw BenchmarkError("GET \(path): \(statusLine)")
        }
        var position = headerEnd + 4
        var body: [UInt8] = []
        if headers["transfer-encoding"]?.lowercased().contains("chunked") == true {
            while true {
                let lineEnd = try readUntil { Self.find([13, 10], in: $0, from: position) }
                let sizeText = String(decoding: buffer[position..<lineEnd], as: UTF8.self).split(separator: ";").first ?? ""
                guard let size = Int(sizeText.trimmingCharacters(in: .whitespaces), radix: 16) else {
                    throw BenchmarkError("GET \(path): a bad chunk size \"\(sizeText)\"")
                }
                position = lineEnd + 2
                if size == 0 {
                    // Trailers, if any, end with an empty line.
                    let end = try readUntil { Self.find([13, 10], in: $0, from: position) }
                    position = end + 2
                    break
                }
                try readUntil { $0.count >= position + size + 2 ? 0 : nil }
                body += buffer[position..<position + size]
                position += size + 2
            }
        } else if let length = headers["content-length"].flatMap({ Int($0) }) {
            try readUntil { $0.count >= position + length ? 0 : nil }
            body = Array(buffer[position..<position + length])
            position += length
        } else {
            throw BenchmarkError("GET \(path): neither Content-Length nor chunked")
        }
        buffer.removeFirst(position)
        return .init(path: path, contentType: headers["content-type"] ?? "", contentEncoding: headers["content-encoding"],
                     body: body, wireBytes: position)
    }

    /// Reads until `found` says the buffer holds what it waits for; returns its answer.
    @discardableResult
    private func readUntil(_ found: ([UInt8]) -> Int?) throws -> Int {
        var chunk = [UInt8](repeating: 0, count: 65_536)
        while true {
            if let answer = found(buffer) { return answer }
            let count = recv(descriptor, &chunk, chunk.count, 0)
            if count < 0 && errno == EINTR { continue }
            guard count > 0 else {
                throw BenchmarkError(count == 0 ? "the server closed the connection mid-response" : "recv: \(String(cString: strerror(errno)))")
            }
            buffer += chunk[0..<count]
        }
    }

    static func find(_ needle: [UInt8], in haystack: [UInt8], from start: Int = 0) -> Int? {
        guard haystack.count >= needle.count, start <= haystack.count - needle.count else { return nil }
        for index in start...(haystack.count - needle.count) where haystack[index] == needle[0] {
            if haystack[index..<index + needle.count].elementsEqual(needle) { return index }
        }
        return nil
    }
}

// MARK: - A server under test

/// A server process started for the benchmark: its port from the line it
/// prints when it listens, its output drained (and the tail kept) so that
/// it never blocks on a full pipe, stopped with SIGTERM.
final class RunningServer: Sendable {
    let name: String
    let pid: Int32
    let port: Int
    private let tail: Mutex<[UInt8]>
    private let stopped = Mutex<(status: Int32, milliseconds: Double)?>(nil)

    private init(name: String, pid: Int32, port: Int, tail: [UInt8]) {
        self.name = name
        self.pid = pid
        self.port = port
        self.tail = Mutex(tail)
    }

    /// Starts `arguments` and waits (up to 30 s) for a whole line of its
    /// output containing `ready`; the port is the one after
    /// `http://127.0.0.1:` on that line.
    static func start(_ arguments: [String], environment: [String: String], ready: String) throws -> RunningServer {
        let child = try Spawn.start(arguments, environment: environment)
        var output: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 4096)
        let deadline = ContinuousClock.now + .seconds(30)
        var port: Int?
        var open: Set<Int32> = [child.stdout, child.stderr]
        while port == nil && ContinuousClock.now < deadline && !open.isEmpty {
            var descriptors = open.map { pollfd(fd: $0, events: Int16(POLLIN), revents: 0) }
            guard poll(&descriptors, nfds_t(descriptors.count), 100) > 0 else { continue }
            for descriptor in descriptors where descriptor.revents != 0 {
                let count = read(descriptor.fd, &chunk, chunk.count)
                if count <= 0 { open.remove(descriptor.fd); continue }
                output += chunk[0..<count]
            }
            // Whole lines only: a read may end inside the port number.
            let text = String(decoding: output, as: UTF8.self)
            let lines = text.split(separator: "\n", omittingEmptySubsequences: false).dropLast()
            if let line = lines.first(where: { $0.contains(ready) }), let url = line.range(of: "http://127.0.0.1:") {
                port = Int(line[url.upperBound...].prefix(while: \.isNumber))
            }
        }
        let name = URL(fileURLWithPath: arguments[0]).lastPathComponent
        guard let port else {
            kill(child.pid, SIGKILL)
            Spawn.wait(for: child.pid)
            close(child.stdout)
            close(child.stderr)
            throw BenchmarkError("\(name) did not say \"\(ready)...\" within 30 s: \(String(decoding: output.suffix(2000), as: UTF8.self))")
        }
        let server = RunningServer(name: name, pid: child.pid, port: port, tail: Array(output.suffix(4096)))
        let (stdout, stderr) = (child.stdout, child.stderr)
        Thread.detachNewThread { server.drain([stdout, stderr]) }
        return server
    }

    /// Reads until both pipes close, keeping the last 4 KiB.
    private func drain(_ descriptors: [Int32]) {
        PipeDrain.run(descriptors) { _, bytes in
            tail.withLock { $0 = Array(($0 + bytes).suffix(4096)) }
        }
    }

    /// SIGTERM, then waits (up to 10 s, then SIGKILL); once only.
    @discardableResult
    func stop() -> (status: Int32, milliseconds: Double) {
        stopped.withLock { result in
            if let result { return result }
            let start = ContinuousClock.now
            kill(pid, SIGTERM)
            var status: Int32 = 0
            var exited = false
            while ContinuousClock.now - start < .seconds(10) {
                let answer = waitpid(pid, &status, WNOHANG)
                if answer == pid || (answer < 0 && errno != EINTR) { exited = true; break }
                usleep(2_000)
            }
            let code: Int32
            if exited {
                code = status & 0x7f == 0 ? (status >> 8) & 0xff : 128 + status & 0x7f
            } else {
                kill(pid, SIGKILL)
                code = Spawn.wait(for: pid)
            }
            let value = (status: code, milliseconds: (ContinuousClock.now - start).seconds * 1000)
            result = value
            return value
        }
    }

    /// The last 4 KiB the server printed.
    var output: String { tail.withLock { String(decoding: $0, as: UTF8.self) } }
}
