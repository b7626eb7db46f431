import Foundation
import TumultFaults
import TumultSystem

// Shared by SoakTests, ServerCrashTests and HelperDescriptorTests: the
// targets of every fault family side by side in namespaces made here, one
// probe per family that measures the effect from outside the target, the
// three ways a fault runs, and a loopback HTTP client and a server on a
// fixed port.

// MARK: Side by side

/// What bodies run on threads of their own return, by position.
final class ParallelResults<T>: @unchecked Sendable {
    private let lock = NSLock()
    private var values: [T?]

    init(count: Int) { values = Array(repeating: nil, count: count) }
    func set(_ index: Int, _ value: T) { lock.withLock { values[index] = value } }
    var all: [T] { lock.withLock { values.map { $0! } } }
}

/// Runs every body on a thread of its own and returns their results in
/// order. Probes block on commands and sleeps: on a pool the size of this
/// machine (two threads) they would run one after another.
func inParallel<T>(_ bodies: [@Sendable () -> T]) -> [T] {
    let results = ParallelResults<T>(count: bodies.count)
    let group = DispatchGroup()
    for (index, body) in bodies.enumerated() {
        group.enter()
        Thread {
            results.set(index, body())
            group.leave()
        }.start()
    }
    group.wait()
    return results.all
}

func sleepUntil(_ date: Date) {
    let seconds = date.timeIntervalSinceNow
    if seconds > 0 { Thread.sleep(forTimeInterval: seconds) }
}

/// Runs a command to its end; a command that cannot start is a failed result.
@discardableResult
func runToEnd(_ arguments: [String]) -> CommandResult {
    (try? Spawn.run(arguments)) ?? CommandResult(status: -1, stderr: "cannot start \(arguments.first ?? "")")
}

func inNamespace(_ namespace: String, _ arguments: [String]) -> CommandResult {
    runToEnd(["ip", "netns", "exec", namespace] + arguments)
}

// MARK: HTTP on loopback

/// A minimal HTTP/1.1 client over a POSIX socket with a hard deadline: the
/// crash test polls a server that may hold a socket nobody accepts on, and
/// must not hang on it.
enum LoopbackHTTP {
    struct Response: Sendable {
        var status: Int
        var body: String
        var json: Any? { try? JSONSerialization.jsonObject(with: Data(body.utf8)) }
    }

    struct Failure: Error, CustomStringConvertible {
        var description: String
    }

    static func request(_ method: String, _ url: String, body: String? = nil, contentType: String = "application/json",
                        timeout: TimeInterval = 10) throws -> Response {
        guard url.hasPrefix("http://") else { throw Failure(description: "not an http URL: \(url)") }
        let rest = url.dropFirst("http://".count)
        let slash = rest.firstIndex(of: "/") ?? rest.endIndex
        let hostPort = rest[..<slash], path = slash == rest.endIndex ? "/" : String(rest[slash...])
        guard let colon = hostPort.lastIndex(of: ":"), let port = UInt16(hostPort[hostPort.index(after: colon)...]) else {
            throw Failure(description: "no port in \(url)")
        }
        let host = String(hostPort[..<colon])
        let deadline = Date().addingTimeInterval(timeout)

        let descriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue) | Int32(SOCK_NONBLOCK.rawValue), 0)
        guard descriptor >= 0 else { throw Failure(description: "socket: \(String(cString: strerror(errno)))") }
        defer { close(descriptor) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = port.bigEndian
        guard inet_pton(AF_INET, host, &address.sin_addr) == 1 else { throw Failure(description: "not an IPv4 address: \(host)") }
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(descriptor, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        if connected != 0 && errno != EINPROGRESS {
            throw Failure(description: "connect to \(host):\(port): \(String(cString: strerror(errno)))")
        }
        try wait(descriptor, for: Int16(POLLOUT), until: deadline, doing: "connecting to \(host):\(port)")
        var problem: Int32 = 0
        var length = socklen_t(MemoryLayout<Int32>.size)
        getsockopt(descriptor, SOL_SOCKET, SO_ERROR, &problem, &length)
        if problem != 0 { throw Failure(description: "connect to \(host):\(port): \(String(cString: strerror(problem)))") }

        let payload = Array((body ?? "").utf8)
        var head = "\(method) \(path) HTTP/1.1\r\nHost: \(host):\(port)\r\nConnection: close\r\nAccept: */*\r\n"
        if body != nil { head += "Content-Type: \(contentType)\r\n" }
        head += "Content-Length: \(payload.count)\r\n\r\n"
        let bytes = Array(head.utf8) + payload
        var sent = 0
        while sent < bytes.count {
            try wait(descriptor, for: Int16(POLLOUT), until: deadline, doing: "sending to \(host):\(port)")
            let count = bytes[sent...].withUnsafeBytes { send(descriptor, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            if count < 0 {
                if errno == EAGAIN || errno == EINTR { continue }
                throw Failure(description: "send: \(String(cString: strerror(errno)))")
            }
            sent += count
        }

        var received: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 65_536)
        while true {
            if let response = parse(received, atEnd: false) { return response }
            try wait(descriptor, for: Int16(POLLIN), until: deadline, doing: "waiting for \(method) \(path)")
            let count = recv(descriptor, &chunk, chunk.count, 0)
            if count == 0 { break }
            if count < 0 {
                if errno == EAGAIN || errno == EINTR { continue }
                throw Failure(description: "recv: \(String(cString: strerror(errno)))")
            }
            received += chunk[0..<count]
        }
        guard let response = parse(received, atEnd: true) else {
            throw Failure(description: "an incomplete answer to \(method) \(path): \(String(decoding: received, as: UTF8.self))")
        }
        return response
    }

    static func wait(_ descriptor: Int32, for events: Int16, until deadline: Date, doing: String) throws {
        while true {
            let left = deadline.timeIntervalSinceNow
            guard left > 0 else { throw Failure(description: "timed out \(doing)") }
            var poller = pollfd(fd: descriptor, events: events, revents: 0)
            let ready = poll(&poller, 1, Int32(min(left, 1) * 1000) + 1)
            if ready > 0 { return }
            if ready < 0 && errno != EINTR { throw Failure(description: "poll: \(String(cString: strerror(errno)))") }
        }
    }

    /// The response once it is complete (by Content-Length, chunks, or the end of the stream).
    static func parse(_ bytes: [UInt8], atEnd: Bool) -> Response? {
        let separator: [UInt8] = [13, 10, 13, 10]
        guard bytes.count >= 4, let end = (0...(bytes.count - 4)).first(where: { Array(bytes[$0..<$0 + 4]) == separator }) else {
            return nil
        }
        let head = String(decoding: bytes[..<end], as: UTF8.self).components(separatedBy: "\r\n")
        let statusWords = head.first?.split(separator: " ") ?? []
        guard statusWords.count >= 2, let status = Int(statusWords[1]) else { return nil }
        var headers: [String: String] = [:]
        for line in head.dropFirst() {
            guard let colon = line.firstIndex(of: ":") else { continue }
            headers[line[..<colon].lowercased()] = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
        }
        let body = Array(bytes[(end + 4)...])
        if let length = headers["content-length"].flatMap(Int.init) {
            guard body.count >= length else { return nil }
            return Response(status: status, body: String(decoding: body[..<length], as: UTF8.self))
        }
        if headers["transfer-encoding"]?.lowercased().contains("chunked") == true {
            var decoded: [UInt8] = []
            var position = 0
            while true {
                guard let lineEnd = (position..<max(position, body.count - 1)).first(where: { body[$0] == 13 && body[$0 + 1] == 10 }),
                      let size = Int(String(decoding: body[position..<lineEnd], as: UTF8.self)
                        .split(separator: ";").first.map(String.init) ?? "", radix: 16) else {
                    return atEnd ? Response(status: status, body: String(decoding: decoded, as: UTF8.self)) : nil
                }
                if size == 0 { return Response(status: status, body: String(decoding: decoded, as: UTF8.self)) }
                let start = lineEnd + 2
                guard body.count >= start + size + 2 else {
                    return atEnd ? Response(status: status, body: String(decoding: decoded, as: UTF8.self)) : nil
                }
                decoded += body[start..<start + size]
                position = start + size + 2
            }
        }
        return atEnd ? Response(status: status, body: String(decoding: body, as: UTF8.self)) : nil
    }

    /// A TCP port on 127.0.0.1 that nothing listens on right now.
    static func freePort() throws -> Int {
        let descriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard descriptor >= 0 else { throw Failure(description: "socket: \(String(cString: strerror(errno)))") }
        defer { close(descriptor) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = 0
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { pointer in
                bind(descriptor, pointer, length) == 0 && getsockname(descriptor, pointer, &length) == 0
            }
        }
        guard bound else { throw Failure(description: "bind: \(String(cString: strerror(errno)))") }
        return Int(UInt16(bigEndian: address.sin_port))
    }
}

// MARK: A server on a port of the test's choosing

/// `tumult server` on a fixed loopback port, so that a second one can be
/// started on the same port (and the same home) after a `kill -9`. It is
/// reaped by pid, never by waiting for its output to close: a helper that
/// inherited the server's pipes would keep them open.
final class FixedPortServer: @unchecked Sendable {
    let process: RunningTumult
    let port: Int
    /// Just before the process was started.
    let startedAt: Date
    var url: String { "http://127.0.0.1:\(port)" }
    var pid: Int32 { process.child.pid }

    init(_ cli: TumultCLI, port: Int, inventory: String) throws {
        self.port = port
        startedAt = Date()
        process = try RunningTumult(cli, ["server", "--listen", "127.0.0.1:\(port)", "--inventory", inventory])
    }

    /// Seconds from the start until `GET /api/experiments/state` first
    /// answered 200 (tried every 20 ms, each try given 0.25 s), or nil when
    /// it did not within `timeout` of the start or the process exited.
    func firstAnswer(within timeout: TimeInterval) -> TimeInterval? {
        let deadline = startedAt.addingTimeInterval(timeout)
        while Date() < deadline {
            if let response = try? LoopbackHTTP.request("GET", url + "/api/experiments/state", timeout: 0.25),
               response.status == 200 {
                return Date().timeIntervalSince(startedAt)
            }
            if !Processes.isAlive(pid) { return nil }
            usleep(20_000)
        }
        return nil
    }

    var isRunning: Bool { Processes.isAlive(pid) }

    /// kill -9, reaped at once.
    func killHard() {
        kill(pid, SIGKILL)
        Spawn.wait(for: pid)
    }

    /// SIGTERM (the server recovers what it injected), SIGKILL after `grace`.
    func stop(grace: TimeInterval = 30) {
        kill(pid, SIGTERM)
        let deadline = Date().addingTimeInterval(grace)
        while Processes.isAlive(pid) && Date() < deadline { usleep(50_000) }
        if Processes.isAlive(pid) { kill(pid, SIGKILL) }
        Spawn.wait(for: pid)
    }
}

extension RunningTumult {
    /// Waits for the process to exit until `deadline`, then stops it
    /// (SIGTERM, SIGKILL 20 s later); returns its status and whether it
    /// had to be stopped. Reaps by pid (see `FixedPortServer`).
    func finish(by deadline: Date) -> (status: Int32, stopped: Bool) {
        while Processes.isAlive(child.pid) && Date() < deadline { usleep(100_000) }
        var stopped = false
        if Processes.isAlive(child.pid) {
            stopped = true
            signal(SIGTERM)
            let hard = Date().addingTimeInterval(20)
            while Processes.isAlive(child.pid) && Date() < hard { usleep(50_000) }
            if Processes.isAlive(child.pid) { signal(SIGKILL) }
        }
        return (Spawn.wait(for: child.pid), stopped)
    }

    var isRunning: Bool { Processes.isAlive(child.pid) }

    /// The last `count` lines of what it printed, for failure messages.
    func tail(_ count: Int = 12) -> String {
        text.split(separator: "\n").suffix(count).joined(separator: "\n")
    }
}

// MARK: Families, ways, places

/// The fault families, each measured its own way.
enum Family: String, CaseIterable, Sendable {
    case delay, loss, partition, bandwidth, stress, stop, freeze, dns, fill, payload

    /// Families whose target is a pod (a named network namespace of the star).
    var needsPod: Bool { [.delay, .loss, .partition, .bandwidth, .stress, .freeze, .dns].contains(self) }
}

/// How a fault is run.
enum Way: String, Sendable {
    /// `tumult run -f DOC`: a CLI process holds the run.
    case run
    /// `tumult server`: an experiment through `POST /api/experiments`, or
    /// for process stop, disk fill and payload chaosd's `POST /api/attack/...`.
    case server
    /// `tumult attack ... --duration`: in the foreground.
    case attack
    /// `tumult attack ...` without a duration: detached, until `tumult recover`.
    case detached
}

/// One fault family run one way: the unit the tests sample and report.
struct Spot: Hashable, Sendable, CustomStringConvertible {
    var family: Family
    var way: Way
    var key: String { "\(family.rawValue)-\(way.rawValue)" }
    var description: String { "\(family.rawValue) / \(way.rawValue)" }
}

/// One measurement from outside the target.
struct Reading: Sendable, CustomStringConvertible {
    /// What was measured, short enough for a table cell ("101ms", "17/40").
    var value: String
    /// The fault's effect is there (the threshold during the fault).
    var faulted: Bool
    /// No trace of the fault (the threshold after it, well apart from the first).
    var clean: Bool
    var description: String { value }
}

/// The targets of a set of spots, side by side: a star of pod namespaces
/// (one pod per spot that needs one), a sink and a DNS server in the hub,
/// target processes in cgroups of their own, tmpfs filesystems, and the
/// inventory labelling each pod `soak: <family>-<way>`. `tearDown()`
/// removes all of it; call it in `defer`.
final class SoakField: @unchecked Sendable {
    /// The DNS names dnsmasq answers in the hub; `web` is the one the DNS faults fail.
    static let names = ["web.tmt.test": "10.9.9.9", "other.tmt.test": "10.9.9.7"]
    static let failedName = "web.tmt.test"

    let spots: [Spot]
    let star: TestStar
    let inventory: String
    /// CPU load each stress worker is asked to hold, in percent of one CPU.
    let stressLoad: Int
    let sinkPort = Int.random(in: 20_000...40_000)
    private(set) var pods: [Spot: Int] = [:]
    private(set) var cgroupTargets: [Spot: TestCgroup] = [:]
    private(set) var sleepers: [Spot: Int32] = [:]
    private(set) var scratches: [Spot: DiskFaultTests.Scratch] = [:]
    private var hubProcesses: [Int32] = []
    private var etcDirectories: [String] = []
    private var madeEtcNetns = false
    private let meters = StressMeters()

    init(spots: [Spot], stressLoad: Int = 50) throws {
        self.spots = spots
        self.stressLoad = stressLoad
        let podSpots = spots.filter(\.family.needsPod)
        star = try TestStar(pods: max(1, podSpots.count))
        for (index, spot) in podSpots.enumerated() { pods[spot] = index }
        var labels = Array(repeating: ["soak": "unused"], count: star.pods.count)
        for (spot, index) in pods { labels[index] = ["soak": spot.key] }
        do {
            inventory = try star.inventory(labels: labels)
        } catch {
            star.tearDown()
            throw error
        }
        do {
            try prepare()
        } catch {
            tearDown()
            throw error
        }
    }

    private func prepare() throws {
        // A sink in the hub: reads a connection to its end and answers one
        // byte (bandwidth), and takes connections (partition).
        if spots.contains(where: { [.partition, .bandwidth].contains($0.family) }) {
            let sink = """
                import socket, threading
                s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                s.bind(("0.0.0.0", \(sinkPort))); s.listen(128)
                def serve(c):
                    try:
                        c.settimeout(30)
                        while c.recv(65536): pass
                        c.sendall(b"k")
                    except Exception: pass
                    finally: c.close()
                while True:
                    c, _ = s.accept()
                    threading.Thread(target=serve, args=(c,), daemon=True).start()
                """
            hubProcesses.append(try Spawn.start(["ip", "netns", "exec", star.hub, "python3", "-c", sink], captureOutput: false).pid)
        }
        // DNS: dnsmasq in the hub on the hub's side of each DNS pod, named
        // by the pod's resolv.conf (what `ip netns exec` shows it).
        let dnsPods = spots.filter { $0.family == .dns }.compactMap { pods[$0] }
        if !dnsPods.isEmpty {
            madeEtcNetns = !FileManager.default.fileExists(atPath: "/etc/netns")
            for index in dnsPods {
                let directory = "/etc/netns/\(star.pods[index])"
                try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
                etcDirectories.append(directory)
                try "nameserver \(hubAddress(index))\n".write(toFile: directory + "/resolv.conf", atomically: true, encoding: .utf8)
            }
            let listen = dnsPods.map { "--listen-address=\(hubAddress($0))" }
            hubProcesses.append(try Spawn.start(["ip", "netns", "exec", star.hub, "dnsmasq", "--no-daemon", "--no-resolv",
                                                 "--no-hosts", "--conf-file=/dev/null", "--bind-interfaces", "--pid-file=",
                                                 "--log-facility=/dev/null"] + listen
                                                + Self.names.map { "--address=/\($0.key)/\($0.value)" },
                                                captureOutput: false).pid)
        }
        for spot in spots {
            switch spot.family {
            case .stress:
                // The pod's first process stands for its cgroups: a sleeper in cgroups of its own.
                cgroupTargets[spot] = try TestCgroup(command: ["ip", "netns", "exec", pod(spot), "sleep", "900"])
            case .freeze:
                sleepers[spot] = try Spawn.start(["ip", "netns", "exec", pod(spot), "sleep", "900"], captureOutput: false).pid
            case .stop:
                sleepers[spot] = try Spawn.start(["sleep", "900"], captureOutput: false).pid
            case .fill, .payload:
                scratches[spot] = try DiskFaultTests.Scratch()
            default:
                break
            }
        }
        // Everything answers before anything is measured.
        let deadline = Date().addingTimeInterval(10)
        for spot in spots where spot.family == .dns {
            while dig(spot).status != "NOERROR" && Date() < deadline { usleep(100_000) }
        }
        if !hubProcesses.isEmpty { usleep(300_000) }
    }

    /// The pod namespace of a spot.
    func pod(_ spot: Spot) -> String { star.pods[pods[spot]!] }
    /// The pod's address (the hub pings it).
    func address(_ spot: Spot) -> String { star.address(of: pods[spot]!) }
    /// The hub's address facing pod `index`.
    func hubAddress(_ index: Int) -> String { "\(star.base).\(index + 1).1" }
    func hubAddress(_ spot: Spot) -> String { hubAddress(pods[spot]!) }

    // MARK: What each way is given

    /// A Chaos Mesh document for the spot's family, selecting its pod by label; nil where no kind runs it.
    func document(_ spot: Spot, name: String, duration: Int?) -> String? {
        let kind: String, body: String
        switch spot.family {
        case .delay: (kind, body) = ("NetworkChaos", "action: delay\n  delay: {latency: 100ms}")
        case .loss: (kind, body) = ("NetworkChaos", "action: loss\n  loss: {loss: \"50\"}")
        case .partition: (kind, body) = ("NetworkChaos", "action: partition\n  direction: to")
        case .bandwidth: (kind, body) = ("NetworkChaos", "action: bandwidth\n  bandwidth: {rate: 1mbit, limit: 20000, buffer: 10000}")
        case .stress: (kind, body) = ("StressChaos", "stressors: {cpu: {workers: 1, load: \(stressLoad)}}")
        case .freeze: (kind, body) = ("PodChaos", "action: pod-failure")
        case .dns: (kind, body) = ("DNSChaos", "action: error\n  patterns: [\(Self.failedName)]")
        case .stop, .fill, .payload: return nil
        }
        return """
            apiVersion: chaos-mesh.org/v1alpha1
            kind: \(kind)
            metadata: {name: \(name), namespace: default}
            spec:
              mode: all
              selector: {labelSelectors: {soak: \(spot.key)}}
              \(body)
            \(duration.map { "  duration: \($0)s" } ?? "")
            """
    }

    /// `tumult attack ...` for the spot, without `--duration`.
    func attackArguments(_ spot: Spot) -> [String] {
        switch spot.family {
        case .delay: ["attack", "network", "delay", "--netns", pod(spot), "--latency", "100ms"]
        case .loss: ["attack", "network", "loss", "--netns", pod(spot), "--percent", "50"]
        case .partition: ["attack", "network", "partition", "--netns", pod(spot), "--direction", "to"]
        case .bandwidth: ["attack", "network", "bandwidth", "--netns", pod(spot), "--rate", "1mbit", "--limit", "20000",
                          "--buffer", "10000"]
        case .stress: ["attack", "stress", "cpu", "--netns", pod(spot), "--workers", "1", "--load", String(stressLoad)]
        case .stop: ["attack", "process", "stop", "--pid", String(sleepers[spot]!)]
        case .freeze: ["attack", "process", "freeze", "--netns", pod(spot)]
        case .dns: ["attack", "dns", "error", "--netns", pod(spot), "--patterns", Self.failedName]
        case .fill: ["attack", "disk", "fill", "--path", scratches[spot]!.path, "--percent", "50"]
        case .payload: ["attack", "disk", "payload", "--path", scratches[spot]!.path, "--mode", "write", "--size", "4M",
                        "--process-num", "1"]
        }
    }

    /// chaosd's attack for the families no experiment kind runs here: its kind and JSON body.
    func chaosdAttack(_ spot: Spot) -> (kind: String, body: String)? {
        switch spot.family {
        case .stop: ("process", #"{"action": "stop", "process": "\#(sleepers[spot]!)"}"#)
        case .fill: ("disk", #"{"action": "fill", "path": "\#(scratches[spot]!.path)", "percent": "50"}"#)
        case .payload: ("disk", #"{"action": "write-payload", "path": "\#(scratches[spot]!.path)", "size": "4M", "payload-process-num": 1}"#)
        default: nil
        }
    }

    // MARK: Probes: the effect, measured from outside the target

    /// Delay: ping RTT from the hub (3 pings). The fault adds 100 ms to
    /// what the pod sends (the replies); a mean of 80 ms or more is the
    /// fault (the unfaulted veth answers in well under 1 ms), under 20 ms is none.
    func probeDelay(_ spot: Spot) -> Reading {
        let ping = PingOutput(inNamespace(star.hub, ["ping", "-n", "-c", "3", "-i", "0.2", "-W", "2", address(spot)]).stdout)
        let value = ping.rtts.isEmpty ? "no reply" : String(format: "%.0fms", ping.mean)
        return Reading(value: value, faulted: ping.rtts.count >= 2 && ping.mean >= 80,
                       clean: ping.rtts.count >= 2 && ping.mean < 20)
    }

    /// Loss: a burst of 40 pings 10 ms apart from the hub; the fault drops
    /// half of what the pod sends. At least 8 lost (20%) is the fault:
    /// with p = 0.5, P(at most 7 of 40 lost) = 2.1e-5 per burst, about
    /// 1e-3 over the ~36 bursts of a soak. At most 2 lost is none.
    func probeLoss(_ spot: Spot) -> Reading {
        let ping = PingOutput(inNamespace(star.hub, ["ping", "-n", "-q", "-c", "40", "-i", "0.01", "-W", "1", address(spot)]).stdout)
        let lost = ping.transmitted - ping.received
        return Reading(value: ping.transmitted == 0 ? "no ping" : "\(lost)/\(ping.transmitted)",
                       faulted: ping.transmitted == 40 && lost >= 8, clean: ping.transmitted == 40 && lost <= 2)
    }

    /// Partition (direction to: the pod cannot start anything): two pings
    /// and a TCP connection from the pod to the hub. The fault: no reply
    /// and no connection; none: both replies and the connection.
    func probePartition(_ spot: Spot) -> Reading {
        let ping = PingOutput(inNamespace(pod(spot), ["ping", "-n", "-c", "2", "-i", "0.2", "-W", "1", hubAddress(spot)]).stdout)
        let connected = inNamespace(pod(spot), ["timeout", "1", "bash", "-c",
                                                "exec 3<>/dev/tcp/\(hubAddress(spot))/\(sinkPort)"]).succeeded
        return Reading(value: "rx\(ping.received) tcp\(connected ? "+" : "-")", faulted: ping.received == 0 && !connected,
                       clean: ping.received == 2 && connected)
    }

    /// Bandwidth (1 mbit/s on what the pod sends): 128 KiB from the pod to
    /// the hub's sink, timed to the sink's answer. At most 2 mbit/s is the
    /// fault (the bucket's 10 kB burst adds < 10%); at least 10 mbit/s is
    /// none (the bare veth does hundreds). A transfer slower than 6 s counts as limited.
    func probeBandwidth(_ spot: Spot) -> Reading {
        let script = """
            import socket, sys, time
            s = socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=2)
            s.settimeout(6)
            data = b"x" * 131072
            t = time.monotonic(); s.sendall(data); s.shutdown(socket.SHUT_WR); s.recv(1)
            print(time.monotonic() - t)
            """
        let result = inNamespace(pod(spot), ["python3", "-c", script, hubAddress(spot), String(sinkPort)])
        guard result.succeeded, let seconds = Double(result.stdout.trimmingCharacters(in: .whitespacesAndNewlines)), seconds > 0 else {
            let timedOut = result.stderr.contains("timed out") && !result.stderr.contains("create_connection")
            return Reading(value: timedOut ? ">6s" : "error", faulted: timedOut, clean: false)
        }
        let megabits = 131_072 * 8 / seconds / 1e6
        return Reading(value: megabits >= 100 ? String(format: "%.0fMb", megabits) : String(format: "%.1fMb", megabits),
                       faulted: megabits <= 2, clean: megabits >= 10)
    }

    /// Stress: the CPU the target's cgroup used (cpuacct) since the last
    /// probe, as a share of one CPU; the first probe of a spot measures 1.5 s.
    /// The worker is asked for `stressLoad`% and shares two cores with every
    /// other fault, probe and whoever else builds here: 40% of the ask is
    /// the fault, under 5% of one CPU (the sleeper alone uses ~0) is none.
    func probeStress(_ spot: Spot) -> Reading {
        guard let cgroup = cgroupTargets[spot]?.cgroups.first(where: { $0.hierarchy.controllers.contains("cpuacct") })
            ?? cgroupTargets[spot]?.cgroups.first(where: { $0.hierarchy.version == 2 }) else {
            return Reading(value: "no cgroup", faulted: false, clean: false)
        }
        let share = meters.share(key: spot.key, cgroup: cgroup)
        guard let share else { return Reading(value: "no usage", faulted: false, clean: false) }
        return Reading(value: String(format: "%.0f%%", share * 100), faulted: share * 100 >= Double(stressLoad) * 0.4,
                       clean: share < 0.05)
    }

    /// Stop: the target's state in /proc/PID/stat; `T` is the fault.
    func probeStop(_ spot: Spot) -> Reading {
        guard let entry = ProcessTable.entry(sleepers[spot]!), !entry.isGone else {
            return Reading(value: "gone", faulted: false, clean: false)
        }
        return Reading(value: String(entry.state), faulted: entry.isStopped, clean: !entry.isStopped)
    }

    /// Freeze: the freezer state of the target's cgroup (pod-failure freezes it).
    func probeFreeze(_ spot: Spot) -> Reading {
        guard let hierarchy = CgroupHierarchy.freezer(), let cgroup = hierarchy.cgroup(of: sleepers[spot]!) else {
            return Reading(value: "gone", faulted: false, clean: false)
        }
        let state = cgroup.freezerState
        return Reading(value: state?.rawValue ?? "none", faulted: state == .frozen,
                       clean: state == nil || state == .thawed)
    }

    /// DNS error: `dig` in the pod for the failed name; SERVFAIL is the
    /// fault, NOERROR with dnsmasq's address none.
    func probeDNS(_ spot: Spot) -> Reading {
        let lookup = dig(spot)
        return Reading(value: lookup.status, faulted: lookup.status == "SERVFAIL",
                       clean: lookup.status == "NOERROR" && lookup.addresses == [Self.names[Self.failedName]!])
    }

    func dig(_ spot: Spot) -> (status: String, addresses: [String]) {
        let output = inNamespace(pod(spot), ["dig", "+tries=1", "+time=2", "+noall", "+comments", "+answer",
                                             Self.failedName, "A"]).stdout
        let status = output.firstMatch(of: /status: ([A-Z]+)/).map { String($0.1) } ?? "none"
        let addresses = output.split(separator: "\n").filter { !$0.hasPrefix(";") }.compactMap { line -> String? in
            let fields = line.split(whereSeparator: \.isWhitespace)
            return fields.count >= 5 && fields[3] == "A" ? String(fields[4]) : nil
        }
        return (status, addresses)
    }

    /// Disk fill (50% of a 64 MiB tmpfs): statvfs, as `df` counts; 45% used is the fault, under 2% none.
    func probeFill(_ spot: Spot) -> Reading {
        guard let usage = scratches[spot]?.usage else { return Reading(value: "no fs", faulted: false, clean: false) }
        return Reading(value: String(format: "%.0f%%", usage.percentUsed), faulted: usage.percentUsed >= 45,
                       clean: usage.percentUsed < 2)
    }

    /// Payload: its files are there.
    func probePayload(_ spot: Spot) -> Reading {
        let files = scratches[spot]?.files ?? []
        return Reading(value: "\(files.count) files", faulted: !files.isEmpty, clean: files.isEmpty)
    }

    func probe(_ spot: Spot) -> Reading {
        switch spot.family {
        case .delay: probeDelay(spot)
        case .loss: probeLoss(spot)
        case .partition: probePartition(spot)
        case .bandwidth: probeBandwidth(spot)
        case .stress: probeStress(spot)
        case .stop: probeStop(spot)
        case .freeze: probeFreeze(spot)
        case .dns: probeDNS(spot)
        case .fill: probeFill(spot)
        case .payload: probePayload(spot)
        }
    }

    // MARK: State: what must be as before once the fault is over

    /// Everything a fault could leave in or on the spot's target.
    func state(_ spot: Spot) -> String {
        var parts: [String] = []
        if pods[spot] != nil { parts.append(Self.namespaceState(pod(spot))) }
        switch spot.family {
        case .stress:
            for cgroup in cgroupTargets[spot]?.cgroups ?? [] {
                parts.append("cgroup \(cgroup): \(cgroup.processes().sorted())")
            }
        case .freeze, .stop:
            let pid = sleepers[spot]!
            let freezer = CgroupHierarchy.freezer().flatMap { $0.cgroup(of: pid) }
            parts.append("pid \(pid) state \(ProcessTable.entry(pid).map { String($0.state) } ?? "gone") "
                         + "freezer \(freezer?.path ?? "none") \(freezer?.freezerState?.rawValue ?? "-")")
        case .fill, .payload:
            if let scratch = scratches[spot] {
                parts.append("files \(scratch.files) used \(scratch.usage.percentUsed < 1 ? "<1%" : String(format: "%.0f%%", scratch.usage.percentUsed))")
            }
        default:
            break
        }
        return parts.joined(separator: "\n")
    }

    /// A namespace's qdiscs, filters, iptables and nftables rules, sets,
    /// links and processes, with packet counters left out.
    static func namespaceState(_ namespace: String) -> String {
        var parts: [String] = []
        for command in [["tc", "qdisc", "show"], ["tc", "filter", "show", "dev", "eth0"], ["iptables-save"], ["ipset", "list"],
                        ["nft", "list", "ruleset"], ["ip", "-o", "link", "show"]] {
            let result = inNamespace(namespace, command)
            let lines = result.stdout.split(separator: "\n").filter { !$0.hasPrefix("#") }.map {
                $0.replacingOccurrences(of: #"\[\d+:\d+\]"#, with: "[]", options: .regularExpression)
                    .replacingOccurrences(of: #"packets \d+ bytes \d+"#, with: "", options: .regularExpression)
            }
            parts.append("$ \(command.joined(separator: " "))\n" + lines.joined(separator: "\n"))
        }
        if let inode = NetworkNamespace.named(namespace).inode {
            let inside = ProcessTable.pids().filter { ProcessTable.networkNamespaceInode(of: $0) == inode }.sorted()
            parts.append("processes: " + inside.map { "\($0) \(ProcessTable.entry($0)?.command ?? "?")" }.joined(separator: ", "))
        }
        return parts.joined(separator: "\n")
    }

    /// Processes carrying an attack's mark (`TUMULT_ATTACK`) at a spot's
    /// target: in its pod's namespace, in its cgroups, or working on its files.
    func helpers(_ spot: Spot) -> [Int32] {
        let marked = ProcessTable.pids().filter { Processes.environment(of: $0, "TUMULT_ATTACK") != nil && $0 != getpid() }
        if let index = pods[spot], let inode = NetworkNamespace.named(star.pods[index]).inode {
            let inPod = marked.filter { ProcessTable.networkNamespaceInode(of: $0) == inode }
            if spot.family != .stress { return inPod }
            let inCgroups = Set(cgroupTargets[spot]?.cgroups.flatMap { $0.processes() } ?? [])
            return Array(Set(inPod).union(marked.filter(inCgroups.contains))).sorted()
        }
        if let scratch = scratches[spot] {
            return marked.filter { pid in
                let arguments = (try? Data(contentsOf: URL(fileURLWithPath: "/proc/\(pid)/cmdline"))) ?? Data()
                return String(decoding: arguments, as: UTF8.self).contains(scratch.path)
            }
        }
        return []
    }

    // MARK: Clean-up

    /// Stops whatever is left at the targets (after `tumult recover --all`
    /// did its part), then removes the targets themselves.
    func tearDown() {
        for spot in spots {
            for pid in helpers(spot) { kill(pid, SIGKILL) }
        }
        for (spot, pid) in sleepers {
            if spot.family == .freeze, let hierarchy = CgroupHierarchy.freezer(), let cgroup = hierarchy.cgroup(of: pid),
               cgroup.freezerState != nil && cgroup.freezerState != .thawed {
                try? cgroup.setFrozen(false)
            }
            kill(pid, SIGKILL)
            kill(pid, SIGCONT)
            Spawn.wait(for: pid)
        }
        for target in cgroupTargets.values { target.tearDown() }
        for pid in hubProcesses {
            kill(pid, SIGKILL)
            Spawn.wait(for: pid)
        }
        for scratch in scratches.values { scratch.tearDown() }
        star.tearDown()
        for directory in etcDirectories { try? FileManager.default.removeItem(atPath: directory) }
        // Only when this test made it and nobody else uses it now (rmdir fails on a non-empty directory).
        if madeEtcNetns { rmdir("/etc/netns") }
        try? FileManager.default.removeItem(atPath: inventory)
    }
}

/// CPU usage readings of the stress targets' cgroups, one per spot.
final class StressMeters: @unchecked Sendable {
    private let lock = NSLock()
    private var last: [String: (usage: Double, time: Date)] = [:]

    /// Seconds of CPU the cgroup has used.
    static func usage(_ cgroup: Cgroup) -> Double? {
        if cgroup.hierarchy.version == 1 {
            return cgroup.read("cpuacct.usage").flatMap { Double($0.trimmingCharacters(in: .whitespacesAndNewlines)) }.map { $0 / 1e9 }
        }
        let line = cgroup.read("cpu.stat")?.split(separator: "\n").first { $0.hasPrefix("usage_usec ") }
        return line.flatMap { Double($0.split(separator: " ")[1]) }.map { $0 / 1e6 }
    }

    /// The share of one CPU used since the previous call for `key` (within
    /// the last 10 s), else over the next 1.5 s.
    func share(key: String, cgroup: Cgroup) -> Double? {
        let previous = lock.withLock { last[key] }
        var start: (usage: Double, time: Date)
        if let previous, previous.time.timeIntervalSinceNow > -10 {
            start = previous
        } else {
            guard let usage = Self.usage(cgroup) else { return nil }
            start = (usage, Date())
            Thread.sleep(forTimeInterval: 1.5)
        }
        guard let usage = Self.usage(cgroup) else { return nil }
        let now = Date()
        lock.withLock { last[key] = (usage, now) }
        return (usage - start.usage) / now.timeIntervalSince(start.time)
    }
}

/// What `ping` printed: transmitted, received, and each reply's RTT.
struct PingOutput {
    var transmitted = 0
    var received = 0
    var rtts: [Double] = []
    var mean: Double { rtts.isEmpty ? .nan : rtts.reduce(0, +) / Double(rtts.count) }

    init(_ output: String) {
        for line in output.split(separator: "\n") {
            if let time = line.split(separator: " ").first(where: { $0.hasPrefix("time=") })?.dropFirst(5), let value = Double(time) {
                rtts.append(value)
            } else if line.contains("packets transmitted") {
                let numbers = line.split(separator: " ").compactMap { Int($0) }
                if numbers.count >= 2 { (transmitted, received) = (numbers[0], numbers[1]) }
            }
        }
    }
}

// MARK: Sockets and who holds them

/// The sockets of a network namespace, from `/proc/PID/net/*`, by inode.
enum SocketTable {
    struct Entry: CustomStringConvertible {
        var kind: String
        var local: String
        var remote: String
        var listening: Bool
        var description: String { "\(kind) \(local)\(remote.isEmpty ? "" : " -> \(remote)")\(listening ? " LISTEN" : "")" }
    }

    /// Every socket of the namespace `pid` is in.
    static func entries(seenBy pid: Int32) -> [UInt64: Entry] {
        var found: [UInt64: Entry] = [:]
        for kind in ["tcp", "tcp6", "udp", "udp6", "raw", "raw6"] {
            for fields in rows("/proc/\(pid)/net/\(kind)") where fields.count > 9 {
                guard let inode = UInt64(fields[9]) else { continue }
                let listening = kind.hasPrefix("tcp") && fields[3] == "0A"
                found[inode] = Entry(kind: kind, local: address(fields[1]), remote: listening || kind.hasPrefix("raw") ? "" : address(fields[2]),
                                     listening: listening)
            }
        }
        for fields in rows("/proc/\(pid)/net/netlink") where fields.count > 9 {
            if let inode = UInt64(fields[9]) { found[inode] = Entry(kind: "netlink", local: "protocol \(fields[1])", remote: "", listening: false) }
        }
        for fields in rows("/proc/\(pid)/net/unix") where fields.count > 6 {
            if let inode = UInt64(fields[6]) { found[inode] = Entry(kind: "unix", local: fields.count > 7 ? fields[7] : "", remote: "", listening: false) }
        }
        for fields in rows("/proc/\(pid)/net/packet") where fields.count > 8 {
            if let inode = UInt64(fields[8]) { found[inode] = Entry(kind: "packet", local: "", remote: "", listening: false) }
        }
        return found
    }

    /// Inodes of TCP sockets listening on `port` in the namespace `pid` is in.
    static func listening(port: Int, seenBy pid: Int32) -> [UInt64] {
        entries(seenBy: pid).filter { $0.value.listening && $0.value.local.hasSuffix(":\(port)") }.map(\.key)
    }

    /// Every process holding socket `inode`, as "comm (pid P, fd N)".
    static func holders(of inode: UInt64) -> [String] {
        var found: [String] = []
        for pid in ProcessTable.pids() {
            let directory = "/proc/\(pid)/fd"
            for name in (try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? [] {
                if (try? FileManager.default.destinationOfSymbolicLink(atPath: "\(directory)/\(name)")) == "socket:[\(inode)]" {
                    found.append("\(ProcessTable.entry(pid)?.command ?? "?") (pid \(pid), fd \(name))")
                }
            }
        }
        return found
    }

    static func rows(_ path: String) -> [[String]] {
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else { return [] }
        return text.split(separator: "\n").dropFirst().map { $0.split(separator: " ").map(String.init) }
    }

    /// `0100007F:0929` as `127.0.0.1:2345`; IPv6 stays hex.
    static func address(_ text: String) -> String {
        let parts = text.split(separator: ":")
        guard parts.count == 2, let port = Int(parts[1], radix: 16) else { return text }
        guard parts[0].count == 8, let value = UInt32(parts[0], radix: 16) else { return "[\(parts[0])]:\(port)" }
        let bytes = [value & 0xff, (value >> 8) & 0xff, (value >> 16) & 0xff, value >> 24]
        return bytes.map(String.init).joined(separator: ".") + ":\(port)"
    }

    /// Who listens on `port` on loopback, for failure messages: `ss` and the holders of each socket.
    static func whoListens(port: Int) -> String {
        let ss = runToEnd(["ss", "-ltnpe", "sport", "=", ":\(port)"]).stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        let held = listening(port: port, seenBy: getpid()).flatMap { inode in holders(of: inode).map { "socket:[\(inode)] held by \($0)" } }
        return ([ss] + held).joined(separator: "\n")
    }
}
