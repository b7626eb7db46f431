import Foundation
import Testing
import TumultSystem

/// A real `tumult server` met as an attacker meets it: a page in a local
/// browser (cross-site requests, DNS rebinding), clients sending what no
/// route takes (wrong types, wrong methods, huge bodies), and bodies that
/// are half good. Each case asserts the status and message, and that
/// nothing changed on the host (the target process still runs) or in the
/// store and the journal.
@Suite(.serialized, .enabled(if: getuid() == 0))
struct HostileInputTests {
    /// One exchange over a fresh connection, every byte of the request the test's own.
    struct Answer: CustomStringConvertible {
        var status: Int
        var headers: [String: String]
        var body: String
        var json: [String: Any]? { try? JSONSerialization.jsonObject(with: Data(body.utf8)) as? [String: Any] }
        var message: String { json?["message"] as? String ?? "" }
        var description: String { "\(status) \(body.prefix(300))" }
    }

    static func exchange(port: Int, _ head: String, body: [UInt8] = [], timeout: Int = 10) throws -> Answer {
        let descriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard descriptor >= 0 else { throw LoopbackHTTP.Failure(description: "socket failed") }
        defer { close(descriptor) }
        var limit = timeval(tv_sec: timeout, tv_usec: 0)
        setsockopt(descriptor, SOL_SOCKET, SO_RCVTIMEO, &limit, socklen_t(MemoryLayout<timeval>.size))
        setsockopt(descriptor, SOL_SOCKET, SO_SNDTIMEO, &limit, socklen_t(MemoryLayout<timeval>.size))
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = UInt16(port).bigEndian
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(descriptor, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard connected == 0 else { throw LoopbackHTTP.Failure(description: "connect: \(String(cString: strerror(errno)))") }
        // A server that answers before the whole body is sent may close
        // early: a failed send still leaves its answer to read.
        let bytes = Array(head.replacingOccurrences(of: "\n", with: "\r\n").utf8) + body
        var sent = 0
        while sent < bytes.count {
            let count = bytes[sent...].withUnsafeBytes { send(descriptor, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            if count <= 0 { break }
            sent += count
        }
        var received: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 65_536)
        while true {
            let count = recv(descriptor, &chunk, chunk.count, 0)
            if count <= 0 { break }
            received += chunk[0..<count]
            if let answer = parse(received, bodiless: head.hasPrefix("HEAD ")) { return answer }
        }
        guard let answer = parse(received, bodiless: head.hasPrefix("HEAD ")) else {
            throw LoopbackHTTP.Failure(description: "no complete answer to \(head.prefix(60)): \(String(decoding: received, as: UTF8.self))")
        }
        return answer
    }

    /// A complete answer framed by Content-Length (none after HEAD), or nil.
    static func parse(_ bytes: [UInt8], bodiless: Bool) -> Answer? {
        let text = String(decoding: bytes, as: UTF8.self)
        guard let end = text.range(of: "\r\n\r\n") else { return nil }
        let lines = text[..<end.lowerBound].components(separatedBy: "\r\n")
        guard let status = lines.first?.split(separator: " ").dropFirst().first.flatMap({ Int($0) }) else { return nil }
        var headers: [String: String] = [:]
        for line in lines.dropFirst() {
            guard let colon = line.firstIndex(of: ":") else { continue }
            headers[line[..<colon].lowercased()] = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
        }
        let body = String(text[end.upperBound...])
        if !bodiless, let length = headers["content-length"].flatMap(Int.init), body.utf8.count < length { return nil }
        return Answer(status: status, headers: headers, body: body)
    }

    /// A request head: `extra` header lines replace the default Host.
    static func head(_ method: String, _ path: String, port: Int, _ extra: [String] = [], length: Int? = nil) -> String {
        var lines = ["\(method) \(path) HTTP/1.1"]
        if !extra.contains(where: { $0.lowercased().hasPrefix("host:") }) { lines.append("Host: 127.0.0.1:\(port)") }
        lines += extra + ["Connection: close"]
        if let length { lines.append("Content-Length: \(length)") }
        return lines.joined(separator: "\n") + "\n\n"
    }

    static func post(port: Int, _ path: String, _ body: String, _ extra: [String]) throws -> Answer {
        let bytes = Array(body.utf8)
        return try exchange(port: port, head("POST", path, port: port, extra, length: bytes.count), body: bytes)
    }

    static let nowhere = """
        apiVersion: chaos-mesh.org/v1alpha1
        kind: NetworkChaos
        metadata: {name: good, namespace: shop}
        spec:
          action: delay
          mode: all
          selector: {pods: {shop: [no-such-pod]}}
          delay: {latency: 100ms}
          duration: 1h
        """

    /// A kind this build does not run.
    static let refusedKind = """
        apiVersion: chaos-mesh.org/v1alpha1
        kind: JVMChaos
        metadata: {name: web, namespace: shop}
        spec:
          mode: one
          selector: {pods: {shop: [no-such-pod]}}
          action: latency
          class: Main
          method: hello
          latency: 1000
          port: 9277
        """

    /// A server of the test's own on a free port with an empty inventory,
    /// and a process of the test's own for attacks to aim at.
    final class Field: @unchecked Sendable {
        let cli = TumultCLI()
        let server: FixedPortServer
        let target: Spawn.Child
        let inventory: String

        init(extra: [String] = []) throws {
            try FileManager.default.createDirectory(atPath: cli.home, withIntermediateDirectories: true)
            inventory = cli.home + "/inventory.yaml"
            try Data("pods: []\n".utf8).write(to: URL(fileURLWithPath: inventory))
            target = try Spawn.start(["sleep", "600"])
            server = try FixedPortServer(cli, port: try LoopbackHTTP.freePort(), inventory: inventory)
        }

        var port: Int { server.port }
        var targetState: Character? { ProcessTable.entry(target.pid)?.state }

        /// Experiments in the store and attacks in the journal, as the API lists them.
        func counts() throws -> (experiments: Int, attacks: Int) {
            let experiments = try LoopbackHTTP.request("GET", server.url + "/api/experiments").json as? [Any]
            let attacks = try LoopbackHTTP.request("GET", server.url + "/api/experiments/").json as? [Any]
            return (experiments?.count ?? -1, attacks?.count ?? -1)
        }

        func tearDown() {
            kill(target.pid, SIGKILL)
            Spawn.wait(for: target.pid)
            server.stop()
            cli.removeHome()
        }
    }

    @Test func aBrowserOnAnotherSiteCannotLaunchAttacksNorReadTheAPI() async throws {
        let field = try await offPool { try Field() }
        defer { field.tearDown() }
        #expect(try await offPool { field.server.firstAnswer(within: 20) } != nil, "\(field.server.process.tail())")
        let port = field.port
        let stop = #"{"action":"stop","process":"\#(field.target.pid)"}"#
        let before = try field.counts()

        // The forgery a page can send without a CORS preflight: a text/plain body.
        let plain = try Self.post(port: port, "/api/attack/process", stop, ["Content-Type: text/plain", "Origin: http://evil.example"])
        #expect(plain.status == 403, "\(plain)")
        let plainSameOrigin = try Self.post(port: port, "/api/attack/process", stop, ["Content-Type: text/plain"])
        #expect(plainSameOrigin.status == 415, "\(plainSameOrigin)")
        #expect(plainSameOrigin.message.contains("application/json"), "\(plainSameOrigin)")
        let form = try Self.post(port: port, "/api/attack/process", "action=stop", ["Content-Type: application/x-www-form-urlencoded"])
        #expect(form.status == 415, "\(form)")
        let untyped = try Self.post(port: port, "/api/attack/process", stop, [])
        #expect(untyped.status == 415, "\(untyped)")
        // A JSON body from another origin, or rebinding through the attacker's name.
        for (headers, word) in [(["Content-Type: application/json", "Origin: http://evil.example"], "Origin"),
                                (["Content-Type: application/json", "Origin: null"], "Origin"),
                                (["Content-Type: application/json", "Origin: http://127.0.0.1:\(port + 1)"], "Origin"),
                                (["Content-Type: application/json", "Host: evil.example"], "Host"),
                                (["Content-Type: application/json", "Host: evil.example:\(port)"], "Host"),
                                (["Content-Type: application/json", "Host: 127.attacker.invalid:\(port)"], "Host"),
                                (["Content-Type: application/json", "Sec-Fetch-Site: cross-site"], "cross-site")] {
            let answer = try Self.post(port: port, "/api/attack/process", stop, headers)
            #expect(answer.status == 403, "\(headers): \(answer)")
            #expect(answer.message.contains(word), "\(headers): \(answer)")
        }
        // Reading is refused to a rebinding page too, the live stream included.
        for path in ["/api/experiments", "/api/stream", "/metrics", "/"] {
            let answer = try Self.exchange(port: port, Self.head("GET", path, port: port, ["Host: evil.example"]))
            #expect(answer.status == 403, "GET \(path): \(answer)")
            let foreign = try Self.exchange(port: port, Self.head("GET", path, port: port, ["Origin: https://evil.example"]))
            #expect(foreign.status == 403, "GET \(path) with a foreign Origin: \(foreign)")
        }
        #expect(field.targetState != "T", "the target was stopped")
        #expect(try field.counts() == before, "something was journaled or stored")

        // The dashboard's own requests keep working: same origin, its Host, JSON.
        let own = try Self.post(port: port, "/api/validate", Self.nowhere,
                                ["Content-Type: application/yaml", "Origin: http://127.0.0.1:\(port)", "Sec-Fetch-Site: same-origin"])
        #expect(own.status == 200, "\(own)")
        let byName = try Self.exchange(port: port, Self.head("GET", "/api/experiments", port: port, ["Host: localhost:\(port)"]))
        #expect(byName.status == 200, "\(byName)")
        let page = try Self.exchange(port: port, Self.head("GET", "/", port: port, ["Host: [::ffff:127.0.0.1]:\(port)"]))
        #expect(page.status == 403 || page.status == 200, "\(page)")
        #expect(try Self.exchange(port: port, Self.head("GET", "/", port: port)).status == 200)
    }

    @Test func allowedOriginsAreTheOnlyOthersLetIn() async throws {
        let cli = TumultCLI()
        defer { cli.removeHome() }
        let refused = try cli.run(["server", "--listen", "127.0.0.1:0", "--allowed-origin", "not an origin"])
        #expect(refused.status != 0)
        #expect(refused.stderr.contains("--allowed-origin"), "\(refused.stderr)")
        // Off loopback without a token: a name that merely starts with 127. is not loopback.
        let rebound = try cli.run(["server", "--listen", "127.attacker.invalid:0"])
        #expect(rebound.status != 0)
        #expect(rebound.stderr.contains("token"), "\(rebound.stderr)")

        try FileManager.default.createDirectory(atPath: cli.home, withIntermediateDirectories: true)
        let inventory = cli.home + "/inventory.yaml"
        try Data("pods: []\n".utf8).write(to: URL(fileURLWithPath: inventory))
        let port = try LoopbackHTTP.freePort()
        let server = try RunningTumult(cli, ["server", "--listen", "127.0.0.1:\(port)", "--inventory", inventory,
                                             "--allowed-origin", "https://chaos.example.com"])
        defer { server.signal(SIGTERM); _ = server.wait() }
        #expect(server.waitForBlocking("listening on http://"), "\(server.text)")
        let proxied = try Self.exchange(port: port, Self.head("GET", "/api/experiments", port: port,
                                                                ["Host: chaos.example.com", "Origin: https://chaos.example.com"]))
        #expect(proxied.status == 200, "\(proxied)")
        let other = try Self.exchange(port: port, Self.head("GET", "/api/experiments", port: port, ["Origin: https://other.example.com"]))
        #expect(other.status == 403, "\(other)")
    }

    @Test func aBodyIsAppliedWholeOrNotAtAllAndABulkDeleteLikewise() async throws {
        let field = try await offPool { try Field() }
        defer { field.tearDown() }
        #expect(try await offPool { field.server.firstAnswer(within: 20) } != nil, "\(field.server.process.tail())")
        let port = field.port
        let yaml = ["Content-Type: application/yaml"]

        let mixed = try Self.post(port: port, "/api/experiments", Self.nowhere + "\n---\n" + Self.refusedKind, yaml)
        #expect(mixed.status == 400, "\(mixed)")
        #expect(mixed.message.contains("JVMChaos") && mixed.message.contains("nothing was applied"), "\(mixed)")
        #expect(try field.counts().experiments == 0, "the valid document was applied anyway")

        let invalid = try Self.post(port: port, "/api/experiments",
                                    Self.nowhere + "\n---\n" + Self.nowhere.replacingOccurrences(of: "100ms", with: "90xs"), yaml)
        #expect(invalid.status == 400, "\(invalid)")
        let errors = invalid.json?["errors"] as? [[String: Any]]
        #expect(errors?.first?["path"] as? String == "spec.delay.latency" && errors?.first?["document"] as? Int == 2, "\(invalid)")
        #expect(try field.counts().experiments == 0)

        let applied = try Self.post(port: port, "/api/experiments", Self.nowhere, yaml)
        #expect(applied.status == 200, "\(applied)")
        let uid = try #require(applied.json?["uid"] as? String,
                               "\(applied)")
        let bulk = try Self.exchange(port: port, Self.head("DELETE", "/api/experiments?uids=\(uid),missing", port: port))
        #expect(bulk.status == 404, "\(bulk)")
        #expect(bulk.message.contains("missing") && bulk.message.contains("nothing was deleted"), "\(bulk)")
        let kept = try LoopbackHTTP.request("GET", field.server.url + "/api/experiments/\(uid)")
        #expect(kept.status == 200 && !((kept.json as? [String: Any])?["status"] as? String ?? "").lowercased().hasPrefix("delet"), "\(kept.body.prefix(200))")

        // A schedule route takes schedules only.
        let notSchedule = try Self.post(port: port, "/api/schedules", Self.nowhere.replacingOccurrences(of: "name: good", with: "name: other"), yaml)
        #expect(notSchedule.status == 400, "\(notSchedule)")
        #expect((notSchedule.json?["errors"] as? [[String: Any]])?.first?["path"] as? String == "kind", "\(notSchedule)")
        #expect(try field.counts().experiments == 1)
    }

    @Test func wrongMethodsSizesAndSchemesGetTheirOwnStatus() async throws {
        let field = try await offPool { try Field() }
        defer { field.tearDown() }
        #expect(try await offPool { field.server.firstAnswer(within: 20) } != nil, "\(field.server.process.tail())")
        let port = field.port

        // A known path asked with a method it does not answer: 405 and Allow.
        for (method, path, allowed) in [("PATCH", "/api/experiments", "DELETE, GET, OPTIONS, POST"),
                                        ("HEAD", "/api/halt", "DELETE, GET, OPTIONS, POST"),
                                        ("PUT", "/api/experiments/state", "GET, OPTIONS"),
                                        ("POST", "/api/events", "GET, OPTIONS")] {
            let answer = try Self.exchange(port: port, Self.head(method, path, port: port))
            #expect(answer.status == 405, "\(method) \(path): \(answer)")
            #expect(answer.headers["allow"] == allowed, "\(method) \(path): \(answer.headers)")
        }
        let options = try Self.exchange(port: port, Self.head("OPTIONS", "/api/experiments/abc", port: port))
        #expect(options.status == 204, "\(options)")
        #expect(options.headers["allow"]?.contains("DELETE") == true, "\(options.headers)")
        #expect(options.headers["access-control-allow-origin"] == nil)
        #expect(try Self.exchange(port: port, Self.head("PATCH", "/api/nothing-here", port: port)).status == 404)

        // Bodies larger than any route takes: 413 from the declared length, before reading them.
        for megabytes in [10, 100] {
            let answer = try Self.exchange(port: port, Self.head("POST", "/api/experiments", port: port, ["Content-Type: application/yaml"],
                                                                 length: megabytes << 20))
            #expect(answer.status == 413, "\(megabytes) MB: \(answer)")
        }
        // Over a route's own limit without a declared length (chunked): 413 too.
        let chunk = [UInt8](repeating: UInt8(ascii: "a"), count: 1 << 20)
        var chunked: [UInt8] = []
        for _ in 0..<5 { chunked += Array("100000\r\n".utf8) + chunk + Array("\r\n".utf8) }
        chunked += Array("0\r\n\r\n".utf8)
        let streamed = try Self.exchange(port: port, Self.head("POST", "/api/attack/network", port: port,
                                                               ["Content-Type: application/json", "Transfer-Encoding: chunked"]),
                                         body: chunked)
        #expect(streamed.status == 413, "\(streamed)")
        #expect(field.server.isRunning)
        #expect(try field.counts() == (0, 0))
    }

    @Test func theBearerSchemeIsCaseInsensitiveAndTheTokenIsNot() async throws {
        let cli = TumultCLI()
        defer { cli.removeHome() }
        try FileManager.default.createDirectory(atPath: cli.home, withIntermediateDirectories: true)
        let inventory = cli.home + "/inventory.yaml"
        try Data("pods: []\n".utf8).write(to: URL(fileURLWithPath: inventory))
        let port = try LoopbackHTTP.freePort()
        let server = try RunningTumult(cli, ["server", "--listen", "127.0.0.1:\(port)", "--inventory", inventory, "--token", "s3cret"])
        defer { server.signal(SIGTERM); _ = server.wait() }
        #expect(server.waitForBlocking("listening on http://"), "\(server.text)")
        for (header, status) in [("Authorization: Bearer s3cret", 200), ("Authorization: bearer s3cret", 200),
                                 ("Authorization: BEARER  s3cret", 200), ("Authorization: Bearer S3CRET", 401),
                                 ("Authorization: Basic s3cret", 401), ("Authorization: Bearers3cret", 401)] {
            let answer = try Self.exchange(port: port, Self.head("GET", "/api/experiments", port: port, [header]))
            #expect(answer.status == status, "\(header): \(answer)")
        }
    }
}
