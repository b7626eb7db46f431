import Foundation
import Testing

/// Issue 11: thousands of idle and slow connections must not lock out the
/// emergency stop, nor crash `tumult server`, nor keep its descriptors.
/// Each test runs the real `tumult server` (the executable, with its own
/// home) on a free loopback port, with small timeouts so that they pass in
/// seconds, and floods it from this process (one thread polling every
/// socket; see FloodSupport.swift).
@Suite(.serialized, .enabled(if: FloodSocket.allowDescriptors(8192), "needs a limit on open descriptors of at least 8192"))
struct FloodTests {
    static let headerTimeout = 3.0
    static let idleTimeout = 5.0
    static let limit = 1000
    /// Each kind of flood connection, held open (and reopened when closed).
    static let idle = 1500, slow = 1500
    /// Seconds the flood keeps its size, then holds what is left.
    static let refill = 12.0
    /// Seconds the flood then holds what is left, this side sending nothing
    /// new: the header timeout and some.
    static let hold = 7.0
    /// New connections a second, at most (the flood's own and its reopened
    /// ones): about twice what keeps the server at its limit with every
    /// connection timed out after 3 s, so it evicts all the time, and below
    /// what a debug build on a busy machine accepts (past that, the kernel's
    /// accept queue fills and every new connection waits in it, the halt's too).
    static let rate = 600.0

    @Test("Under a flood of 3,000 idle and slow connections, the halt answers within 1 s and the server lives")
    func haltAnswersDuringFlood() throws {
        let server = try FloodServer(["--header-timeout", "\(Self.headerTimeout)", "--idle-timeout", "\(Self.idleTimeout)",
                                      "--max-connections", "\(Self.limit)"])
        defer { server.stop() }
        // Warm up (first answers build caches), then count what the server holds at rest.
        for path in ["/api/halt", "/api/experiments", "/metrics"] {
            #expect(try FloodHTTP.request("GET", path, port: server.port).status == 200)
        }
        usleep(300_000)
        let before = server.descriptors
        let accepted = server.metric("tumult_http_connections_accepted_total") ?? 0

        let flood = LoopbackFlood(port: server.port)
        let flooded = DispatchSemaphore(value: 0)
        let seconds = Self.refill + Self.hold
        Thread.detachNewThread {
            flood.run(idle: Self.idle, slow: Self.slow, rate: Self.rate, refill: Self.refill, seconds: seconds)
            flooded.signal()
        }
        let probe = FloodProbe(server: server)
        let started = Date()

        // The emergency stop and its release, once the flood is at full size.
        Thread.sleep(forTimeInterval: 4)
        let openAtHalt = flood.open
        let json = ["Content-Type": "application/json"]
        #expect(throws: Never.self, "POST /api/halt with \(openAtHalt) flood connections open") {
            let halt = try FloodHTTP.request("POST", "/api/halt", port: server.port, headers: json)
            #expect(halt.status == 200 && halt.body.contains(#""halted":true"#), "POST /api/halt: \(halt.status) \(halt.body)")
            #expect(halt.seconds < 1, "POST /api/halt took \(halt.seconds) s with \(openAtHalt) flood connections open")
        }
        Thread.sleep(forTimeInterval: 1)
        #expect(throws: Never.self, "DELETE /api/halt") {
            let release = try FloodHTTP.request("DELETE", "/api/halt", port: server.port, headers: json)
            #expect(release.status == 200 && release.body.contains(#""halted":false"#), "DELETE /api/halt: \(release.status) \(release.body)")
            #expect(release.seconds < 1, "DELETE /api/halt took \(release.seconds) s")
        }

        // The server never serves more than its limit, however many knock.
        var mostServed = 0.0
        while Date().timeIntervalSince(started) < Self.refill {
            mostServed = max(mostServed, server.metric("tumult_http_connections") ?? 0)
            Thread.sleep(forTimeInterval: 0.5)
        }
        let (answers, peak) = probe.stop()

        // What is left is timed out by the server itself: this side closes nothing.
        flooded.wait()
        let connections = flood.all
        let leftOpen = connections.filter(\.leftOpen).count
        let closedByServer = connections.filter { $0.closedAt != nil }.count

        let failed = answers.filter { $0.seconds == nil || $0.status != 200 }
        let slowest = answers.compactMap(\.seconds).max() ?? .infinity
        let summary = "\(answers.count) probes, slowest \(String(format: "%.3f", slowest)) s; \(connections.count) flood connections "
            + "(\(openAtHalt) open at the halt), \(closedByServer) closed by the server, \(leftOpen) left open, "
            + "\(flood.refused) not opened; descriptors \(before) before, \(peak) at most"
        #expect(answers.count >= 20, "\(summary)")
        #expect(failed.isEmpty, "\(failed.prefix(5).map { "\($0.path): \($0.status.map(String.init) ?? $0.problem ?? "")" }); \(summary)")
        #expect(slowest < 1, "\(summary)")
        #expect(openAtHalt >= Self.limit / 2, "the flood was not at full size: \(summary)")
        #expect(closedByServer >= Self.idle + Self.slow, "\(summary)")
        #expect(leftOpen == 0, "the server did not time out every connection within \(Self.hold) s: \(summary)")
        // Connections never take the descriptors kept for the rest
        // (accepted sockets not yet admitted or closed may exceed the limit).
        #expect(peak < before + Self.limit + 1024, "\(summary)")
        #expect(mostServed > 0 && mostServed <= Double(Self.limit), "served \(mostServed) connections at once; \(summary)")

        // Alive, answering, and back to its descriptors at rest.
        #expect(server.isAlive, "\(server.tail)")
        #expect(try FloodHTTP.request("GET", "/api/halt", port: server.port, timeout: 1).status == 200)
        let fall = server.descriptors(fallTo: before + 2, within: Self.idleTimeout + 2)
        #expect(fall.reached, "descriptors \(fall.last) after \(fall.after) s (\(before) before the flood)")
        let moved = { (reason: String) in server.metric("tumult_http_connections_closed_total", label: #"reason="\#(reason)""#) ?? 0 }
        #expect(moved("header_timeout") > 0)
        #expect(moved("evicted") > 0)
        #expect((server.metric("tumult_http_connections_accepted_total") ?? 0) - accepted >= Double(Self.idle + Self.slow))
        #expect(server.isAlive, "\(server.tail)")
    }

    @Test("A closed event stream gives its descriptor back at once, not at the next heartbeat")
    func closedStreamReleasesDescriptor() throws {
        let server = try FloodServer(["--header-timeout", "\(Self.headerTimeout)", "--idle-timeout", "\(Self.idleTimeout)"])
        defer { server.stop() }
        #expect(try FloodHTTP.request("GET", "/api/halt", port: server.port).status == 200)
        usleep(300_000)
        let before = server.descriptors
        let count = 20
        var streams: [Int32] = []
        defer { streams.forEach { close($0) } }
        for _ in 0..<count {
            let descriptor = try #require(FloodSocket.connect(port: server.port))
            streams.append(descriptor)
            let deadline = Date().addingTimeInterval(2)
            let head = "GET /api/stream HTTP/1.1\r\nHost: 127.0.0.1:\(server.port)\r\nAccept: text/event-stream\r\n\r\n"
            #expect(FloodSocket.send(descriptor, Array(head.utf8), until: deadline))
            var received: [UInt8] = []
            while !String(decoding: received, as: UTF8.self).contains("retry:"), let bytes = FloodSocket.receive(descriptor, until: deadline),
                  !bytes.isEmpty {
                received += bytes
            }
            let text = String(decoding: received, as: UTF8.self)
            #expect(text.hasPrefix("HTTP/1.1 200") && text.contains("text/event-stream") && text.contains("retry:"), "\(text.prefix(300))")
        }
        let open = server.descriptors
        #expect(open >= before + count, "\(open) descriptors with \(count) streams open, \(before) before")

        streams.forEach { close($0) }
        streams = []
        let fall = server.descriptors(fallTo: before, within: 2)
        #expect(fall.reached, "descriptors \(fall.last) \(fall.after) s after the clients closed (\(before) before, \(open) open)")
        #expect(server.isAlive, "\(server.tail)")
        #expect(try FloodHTTP.request("GET", "/api/halt", port: server.port, timeout: 1).status == 200)
    }
}
