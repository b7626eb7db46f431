import Foundation
import Testing
import TumultController
import TumultModel
import TumultServer

/// `HTTPStatusProber`, the real HTTP probe, against servers on 127.0.0.1
/// that the tests start: what counts as success, every way of failing, and
/// what is sent.
@Suite struct StatusCheckProberTests {
    static func check(_ url: String, codes: ClosedRange<Int> = 200...299, method: HTTPStatusCheck.Method = .get,
                      headers: [String: [String]]? = nil, body: String? = nil) -> HTTPStatusCheck {
        var check = HTTPStatusCheck(url: url, method: method, criteria: HTTPCriteria(statusCode: StatusCodeRange(codes)))
        check.headers = headers
        check.body = body
        return check
    }

    /// A prober for `body`, shut down after it.
    static func withProber<Value>(_ configuration: HTTPStatusProber.Configuration = .init(),
                                  _ body: (HTTPStatusProber) async throws -> Value) async throws -> Value {
        let prober = HTTPStatusProber(configuration: configuration)
        do {
            let value = try await body(prober)
            try await prober.shutdown()
            return value
        } catch {
            try? await prober.shutdown()
            throw error
        }
    }

    /// The result, and how long it took in seconds.
    static func timed(_ probe: () async -> ProbeResult) async -> (ProbeResult, Double) {
        let clock = ContinuousClock()
        let begin = clock.now
        let result = await probe()
        let elapsed = clock.now - begin
        return (result, Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18)
    }

    @Test func aCodeWithinTheCriteriaPassesAndOneOutsideFails() async throws {
        try await ProbeTestServer.with { server in
            try await Self.withProber { prober in
                let ok = await prober.probe(Self.check(server.url("/status/200")), timeout: .seconds(2))
                #expect(ok == ProbeResult(success: true, statusCode: 200))
                let upper = await prober.probe(Self.check(server.url("/status/299")), timeout: .seconds(2))
                #expect(upper.success && upper.statusCode == 299)
                let unavailable = await prober.probe(Self.check(server.url("/status/503")), timeout: .seconds(2))
                #expect(unavailable == .failure("unexpected status code: 503", statusCode: 503))
                let notFound = await prober.probe(Self.check(server.url("/status/404"), codes: 404...404),
                                                  timeout: .seconds(2))
                #expect(notFound.success && notFound.statusCode == 404)
                let below = await prober.probe(Self.check(server.url("/status/200"), codes: 201...400),
                                               timeout: .seconds(2))
                #expect(!below.success && below.statusCode == 200)
            }
        }
    }

    @Test func aPostCarriesItsBodyAndEveryHeaderValue() async throws {
        try await ProbeTestServer.with { server in
            try await Self.withProber { prober in
                let body = #"{"probe": "tumult", "n": 1}"#
                let check = Self.check(server.url("/echo"), method: .post,
                                       headers: ["X-Multi": ["one", "two"], "X-Token": ["abc"],
                                                 "Host": ["elsewhere.example"], "Content-Length": ["999"]],
                                       body: body)
                let result = await prober.probe(check, timeout: .seconds(2))
                #expect(result.success)
                let received = try #require(server.state.requests.first)
                #expect(received.method == "POST")
                #expect(received.body == body)
                let headers = received.headers
                #expect(headers.filter { $0.name == "x-multi" }.map(\.value) == ["one", "two"])
                #expect(headers.filter { $0.name == "x-token" }.map(\.value) == ["abc"])
                // Go's client writes these itself from the URL and the body.
                #expect(received.authority == "127.0.0.1:\(server.port)")
                #expect(!headers.contains { $0.name == "host" })
                #expect(headers.filter { $0.name == "content-length" }.map(\.value) == ["\(body.utf8.count)"])
                #expect(headers.contains { $0.name == "user-agent" })
            }
        }
    }

    @Test func aGetSendsItsBodyToo() async throws {
        try await ProbeTestServer.with { server in
            try await Self.withProber { prober in
                let result = await prober.probe(Self.check(server.url("/echo"), body: "ping"), timeout: .seconds(2))
                #expect(result.success)
                let received = try #require(server.state.requests.first)
                #expect(received.method == "GET" && received.body == "ping")
            }
        }
    }

    @Test func aServerThatNeverAnswersFailsAtTheTimeout() async throws {
        let silent = try SilentPort(listening: true)
        defer { silent.close() }
        try await Self.withProber { prober in
            let (result, seconds) = await Self.timed {
                await prober.probe(Self.check("http://127.0.0.1:\(silent.port)/health"), timeout: .seconds(1))
            }
            #expect(!result.success && result.statusCode == nil)
            #expect(result.message?.contains("1 s") == true, "\(result)")
            #expect(seconds >= 0.9 && seconds < 2.5, "took \(seconds) s")
        }
    }

    @Test func aRefusedConnectionFailsAtOnce() async throws {
        let closed = try SilentPort(listening: false)
        defer { closed.close() }
        try await Self.withProber { prober in
            let (result, seconds) = await Self.timed {
                await prober.probe(Self.check("http://127.0.0.1:\(closed.port)/health"), timeout: .seconds(5))
            }
            #expect(!result.success && result.statusCode == nil)
            #expect(result.message?.isEmpty == false, "\(result)")
            #expect(seconds < 2, "took \(seconds) s")
        }
    }

    @Test func aBodyThatStallsFailsAtTheTimeout() async throws {
        try await ProbeTestServer.with { server in
            try await Self.withProber { prober in
                let (result, seconds) = await Self.timed {
                    await prober.probe(Self.check(server.url("/stall")), timeout: .seconds(1))
                }
                #expect(!result.success, "\(result)")
                #expect(seconds >= 0.9 && seconds < 2.5, "took \(seconds) s")
            }
        }
    }

    @Test func anEndlessBodyIsNotReadToItsEnd() async throws {
        try await ProbeTestServer.with { server in
            try await Self.withProber { prober in
                // A probe that read it all would time out.
                let (result, seconds) = await Self.timed {
                    await prober.probe(Self.check(server.url("/big")), timeout: .seconds(5))
                }
                #expect(result == ProbeResult(success: true, statusCode: 200))
                #expect(seconds < 4, "took \(seconds) s")
            }
        }
    }

    @Test func redirectsAreFollowedAsGoFollowsThem() async throws {
        try await ProbeTestServer.with { server in
            try await Self.withProber { prober in
                let followed = await prober.probe(Self.check(server.url("/redirect")), timeout: .seconds(2))
                #expect(followed == ProbeResult(success: true, statusCode: 200))
                let loop = await prober.probe(Self.check(server.url("/loop")), timeout: .seconds(2))
                #expect(loop == .failure("too many redirects"))
            }
            var configuration = HTTPStatusProber.Configuration()
            configuration.redirectLimit = 0
            try await Self.withProber(configuration) { prober in
                let kept = await prober.probe(Self.check(server.url("/redirect")), timeout: .seconds(2))
                #expect(kept == .failure("unexpected status code: 302", statusCode: 302))
            }
        }
    }

    @Test func httpsVerifiesTheServer() async throws {
        let certificate = try TestCertificate()
        try await ProbeTestServer.with(tls: certificate.server) { server in
            let url = server.url("/status/200", scheme: "https")
            var trusting = HTTPStatusProber.Configuration()
            trusting.tls = certificate.trustingClient
            try await Self.withProber(trusting) { prober in
                let result = await prober.probe(Self.check(url), timeout: .seconds(2))
                #expect(result == ProbeResult(success: true, statusCode: 200))
            }
            // The system's roots do not know a self-signed certificate.
            try await Self.withProber { prober in
                let result = await prober.probe(Self.check(url), timeout: .seconds(2))
                #expect(!result.success && result.statusCode == nil, "\(result)")
            }
        }
    }

    /// The runner and the real prober together, in real time: a
    /// Synchronous check ends at its first success, one interval in.
    @Test func aSynchronousCheckRunsToItsFirstSuccess() async throws {
        try await ProbeTestServer.with { server in
            try await Self.withProber { prober in
                var spec = StatusCheckSpec(mode: .synchronous, http: Self.check(server.url("/status/200")))
                spec.intervalSeconds = 1
                let state = StatusCheckState(spec: spec, startedAt: Date())
                let end = await StatusCheckRunner(prober: prober).run(spec.http!, from: state)
                #expect(end.outcome == .succeeded && end.verdict == .succeeded)
                #expect(end.records.map(\.statusCode) == [200])
            }
        }
    }
}
