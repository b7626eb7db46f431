import Foundation
import TumultSystem

/// `swift run -c release tumult-bench proxy [--seconds 10]` (root): what
/// Tumult's transparent proxy costs when nothing it holds applies, against
/// the same server reached directly in the same run. Two namespaces joined
/// by a veth: B serves HTTP/1.1 keep-alive (a small asyncio server)
/// and `iperf3 -s`; A runs `wrk` and `iperf3 -c`. Through the proxy: an
/// HTTPChaos whose rule matches no request (`tumult run`), and a TCP
/// latency toxic of 0 ms (`tumult attack tcp`), which relays every byte
/// through the toxic scheduler. The anchor, in the same run, is the
/// cheapest userspace relay (`Benchmarks/Anchors/tcp-relay.c`, one epoll
/// loop in C, compiled here with gcc) in front of the same server: what any
/// proxy costs on this machine before it does anything of its own.
struct ProxyBenchmark {
    var tumult: String
    var seconds: Double
    /// The C source of the relay anchor.
    var relaySource: String

    /// A small HTTP/1.1 keep-alive server on asyncio (one thread, no
    /// per-request thread switch), so that the server is not what the
    /// percentiles measure: http.server's threads made p99 noise of
    /// hundreds of milliseconds on two cores.
    static let server = #"""
    import asyncio, sys
    BODY = b"hello, world\n"
    RESPONSE = (b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: %d\r\n\r\n" % len(BODY)) + BODY
    async def serve(reader, writer):
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                for line in head.split(b"\r\n"):
                    if line.lower().startswith(b"content-length:"):
                        await reader.readexactly(int(line.split(b":")[1]))
                writer.write(RESPONSE)
        except (asyncio.IncompleteReadError, ConnectionError, asyncio.LimitOverrunError):
            pass
        writer.close()
    async def main():
        server = await asyncio.start_server(serve, "0.0.0.0", int(sys.argv[1]), backlog=1024)
        await server.serve_forever()
    asyncio.run(main())
    """#

    struct Namespaces {
        let a: String, b: String, addressB: String
        var background: [Int32] = []
    }

    func run() throws {
        let tag = String(UInt32.random(in: 0..<UInt32.max), radix: 36)
        var net = Namespaces(a: "tmt-\(tag)-pa", b: "tmt-\(tag)-pb", addressB: "10.231.\(Int.random(in: 0...255)).2")
        let home = FileManager.default.temporaryDirectory.appendingPathComponent("tmt-proxybench-\(tag)").path
        let script = home + "/server.py"
        defer {
            for pid in net.background { kill(pid, SIGKILL); Spawn.wait(for: pid) }
            _ = try? Spawn.run(["ip", "netns", "del", net.a])
            _ = try? Spawn.run(["ip", "netns", "del", net.b])
            try? FileManager.default.removeItem(atPath: home)
        }
        try FileManager.default.createDirectory(atPath: home, withIntermediateDirectories: true)
        try Self.server.write(toFile: script, atomically: true, encoding: .utf8)
        let subnet = net.addressB.split(separator: ".").dropLast().joined(separator: ".")
        for command in [["ip", "netns", "add", net.a], ["ip", "netns", "add", net.b],
                        ["ip", "link", "add", "tmt\(tag)x", "type", "veth", "peer", "name", "tmt\(tag)y"],
                        ["ip", "link", "set", "tmt\(tag)x", "netns", net.a, "name", "veth0"],
                        ["ip", "link", "set", "tmt\(tag)y", "netns", net.b, "name", "veth0"],
                        ["ip", "-n", net.a, "addr", "add", "\(subnet).1/24", "dev", "veth0"],
                        ["ip", "-n", net.b, "addr", "add", "\(net.addressB)/24", "dev", "veth0"],
                        ["ip", "-n", net.a, "link", "set", "veth0", "up"], ["ip", "-n", net.b, "link", "set", "veth0", "up"],
                        ["ip", "-n", net.a, "link", "set", "lo", "up"], ["ip", "-n", net.b, "link", "set", "lo", "up"]] {
            try check(command)
        }
        net.background.append(try Spawn.start(["ip", "netns", "exec", net.b, "python3", script, "8080"], captureOutput: false).pid)
        // The tests' kind of server too: python3's http.server, a thread per connection.
        net.background.append(try Spawn.start(["ip", "netns", "exec", net.b, "python3", "-c", Self.threadedServer, "8081"],
                                              captureOutput: false).pid)
        net.background.append(try Spawn.start(["ip", "netns", "exec", net.b, "iperf3", "-s", "-p", "5201"], captureOutput: false).pid)
        let relay = home + "/tcp-relay"
        try check(["gcc", "-O2", "-o", relay, relaySource])
        let relayPort = 8090
        usleep(700_000)

        print("proxy benchmark: veth between two namespaces, \(Int(seconds)) s per run, \(ProcessInfo.processInfo.activeProcessorCount) cores")
        print("HTTP: wrk -t2 -c16, keep-alive; TCP: one iperf3 stream; every figure of a row from the same run")
        print("")
        print(row("workload", "direct", "through tumult", "ratio / added"))
        print(row("--------", "------", "--------------", "-------------"))
        let environment = ["TUMULT_HOME": home + "/state"]
        let inventory = home + "/inventory.yaml"
        try "pods:\n  - {name: web, namespace: default, netns: \(net.b), labels: {app: web}}\n"
            .write(toFile: inventory, atomically: true, encoding: .utf8)
        for (port, server) in [(8080, "asyncio server"), (8081, "http.server (threads)")] {
            let url = "http://\(net.addressB):\(port)/"
            let direct = try wrk(net, url)
            // The anchor: the C relay on its own port, forwarding to the server.
            let anchor = try Spawn.start(["ip", "netns", "exec", net.b, relay, String(relayPort), String(port)], captureOutput: false)
            usleep(300_000)
            let floor = try wrk(net, "http://\(net.addressB):\(relayPort)/")
            kill(anchor.pid, SIGKILL)
            Spawn.wait(for: anchor.pid)
            // An HTTPChaos whose rule matches no request, through `tumult run`.
            let document = home + "/http-\(port).yaml"
            try """
                apiVersion: chaos-mesh.org/v1alpha1
                kind: HTTPChaos
                metadata: {name: bench, namespace: default}
                spec:
                  selector: {namespaces: [default], labelSelectors: {app: web}}
                  mode: all
                  target: Request
                  port: \(port)
                  path: /nowhere/*
                  abort: true
                  duration: \(Int(seconds) + 20)s
                """.write(toFile: document, atomically: true, encoding: .utf8)
            let run = try Spawn.start([tumult, "run", "-f", document, "--inventory", inventory], environment: environment,
                                      captureOutput: false)
            defer { kill(run.pid, SIGKILL); Spawn.wait(for: run.pid) }
            try waitForRedirect(net)
            let proxied = try wrk(net, url)
            kill(run.pid, SIGINT)
            Spawn.wait(for: run.pid)
            // The same requests through the proxy in TCP mode (a 0 ms latency
            // toxic, no HTTP framing): what the relay costs by itself.
            let relay = try Spawn.run([tumult, "attack", "tcp", "latency", "--latency", "0", "--netns", net.b, "--port", String(port)],
                                      environment: environment)
            guard relay.status == 0 else { throw SystemError.processFailed("tumult attack tcp: \(relay.stderr)") }
            let relayed = try wrk(net, url)
            _ = try Spawn.run([tumult, "recover", relay.stdout.trimmingCharacters(in: .whitespacesAndNewlines)], environment: environment)

            print(row("\(server): requests/s", String(format: "%.0f", direct.rate), String(format: "%.0f", proxied.rate),
                      String(format: "%.2f", proxied.rate / direct.rate)))
            print(row("  p50 latency", String(format: "%.2f ms", direct.p50), String(format: "%.2f ms", proxied.p50),
                      String(format: "%+.2f ms", proxied.p50 - direct.p50)))
            print(row("  p99 latency", String(format: "%.2f ms", direct.p99), String(format: "%.2f ms", proxied.p99),
                      String(format: "%+.2f ms", proxied.p99 - direct.p99)))
            print(row("  TCP relay only: requests/s", String(format: "%.0f", direct.rate), String(format: "%.0f", relayed.rate),
                      String(format: "%.2f", relayed.rate / direct.rate)))
            print(row("  TCP relay only: p99", String(format: "%.2f ms", direct.p99), String(format: "%.2f ms", relayed.p99),
                      String(format: "%+.2f ms", relayed.p99 - direct.p99)))
            print(row("  anchor, C epoll relay: req/s", String(format: "%.0f", direct.rate), String(format: "%.0f", floor.rate),
                      String(format: "%.2f", floor.rate / direct.rate)))
            print(row("  anchor, C epoll relay: p99", String(format: "%.2f ms", direct.p99), String(format: "%.2f ms", floor.p99),
                      String(format: "%+.2f ms", floor.p99 - direct.p99)))
        }

        let directStream = try iperf(net)
        let attack = try Spawn.run([tumult, "attack", "tcp", "latency", "--latency", "0", "--netns", net.b, "--port", "5201"],
                                   environment: environment)
        let uid = attack.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        guard attack.status == 0 else { throw SystemError.processFailed("tumult attack tcp: \(attack.stderr)") }
        let proxiedStream = try iperf(net)
        _ = try Spawn.run([tumult, "recover", uid], environment: environment)
        print(row("TCP stream, latency toxic 0 ms", String(format: "%.2f Gbit/s", directStream / 1e9),
                  String(format: "%.2f Gbit/s", proxiedStream / 1e9), String(format: "%.2f", proxiedStream / directStream)))
        print("")
        print("goal: HTTP >= 0.80 of direct requests/s and <= +1 ms at p99 through the proxy; the anchor rows are the C floor, not Tumult")
    }

    static let threadedServer = #"""
    import sys
    from http.server import ThreadingHTTPServer, BaseHTTPRequestHandler
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        def log_message(self, *args): pass
        def do_GET(self):
            body = b"hello, world\n"
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
    ThreadingHTTPServer.daemon_threads = True
    ThreadingHTTPServer.request_queue_size = 128
    ThreadingHTTPServer(("0.0.0.0", int(sys.argv[1])), Handler).serve_forever()
    """#

    struct WrkResult { var rate: Double; var p50: Double; var p99: Double }

    func wrk(_ net: Namespaces, _ url: String) throws -> WrkResult {
        let result = try Spawn.run(["ip", "netns", "exec", net.a, "wrk", "-t2", "-c16", "-d\(Int(seconds))s", "--latency", url])
        guard result.status == 0, let rate = result.stdout.firstMatch(of: /Requests\/sec:\s+([0-9.]+)/).flatMap({ Double($0.1) }) else {
            throw SystemError.processFailed("wrk: \(result.stdout) \(result.stderr)")
        }
        func percentile(_ label: String) -> Double {
            for line in result.stdout.split(separator: "\n") {
                let fields = line.split(whereSeparator: \.isWhitespace)
                if fields.count == 2, fields[0] == label { return Self.milliseconds(String(fields[1])) }
            }
            return .nan
        }
        return WrkResult(rate: rate, p50: percentile("50%"), p99: percentile("99%"))
    }

    /// wrk's `1.23ms`, `456.00us`, `1.01s` in milliseconds.
    static func milliseconds(_ text: String) -> Double {
        for (suffix, scale) in [("us", 0.001), ("ms", 1.0), ("s", 1000.0)] where text.hasSuffix(suffix) {
            return (Double(text.dropLast(suffix.count)) ?? .nan) * scale
        }
        return .nan
    }

    /// Bits per second of one iperf3 stream from A to B.
    func iperf(_ net: Namespaces) throws -> Double {
        let result = try Spawn.run(["ip", "netns", "exec", net.a, "iperf3", "-c", net.addressB, "-p", "5201", "-t",
                                    String(Int(seconds)), "-J"])
        guard let object = try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any],
              let end = object["end"] as? [String: Any], let received = end["sum_received"] as? [String: Any],
              let bits = received["bits_per_second"] as? Double else {
            throw SystemError.processFailed("iperf3: \(result.stdout.prefix(400)) \(result.stderr)")
        }
        return bits
    }

    func waitForRedirect(_ net: Namespaces) throws {
        for _ in 0..<200 {
            if let saved = try? Spawn.run(["ip", "netns", "exec", net.b, "iptables-save"]), saved.stdout.contains("REDIRECT") {
                usleep(200_000)
                return
            }
            usleep(50_000)
        }
        throw SystemError.processFailed("tumult run did not redirect port 8080")
    }

    func check(_ command: [String]) throws {
        let result = try Spawn.run(command)
        guard result.status == 0 else { throw SystemError.processFailed("\(command.joined(separator: " ")): \(result.stderr)") }
    }

    func row(_ columns: String...) -> String {
        zip(columns, [36, 14, 16, 14]).map { $0.padding(toLength: $1, withPad: " ", startingAt: 0) }.joined(separator: " ")
    }
}
