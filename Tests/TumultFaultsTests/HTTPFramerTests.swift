import NIOCore
import Testing
import TumultFaults
import TumultModel


/// An event with its bytes as arrays and consecutive body or opaque bytes
/// merged, so streams framed from different splits compare equal.
private enum Framed: Equatable {
    case head(HTTPHead, HTTPBodyFraming, [UInt8])
    case body([UInt8])
    case end
    case opaque([UInt8])

    var wireBytes: [UInt8] {
        switch self {
        case .head(_, _, let bytes), .body(let bytes), .opaque(let bytes): bytes
        case .end: []
        }
    }
}

private func normalized(_ events: [HTTPFrameEvent]) -> [Framed] {
    var result: [Framed] = []
    for event in events {
        switch event {
        case .head(let head, let framing, let raw):
            result.append(.head(head, framing, Array(raw.readableBytesView)))
        case .body(let bytes):
            if case .body(let previous)? = result.last {
                result[result.count - 1] = .body(previous + Array(bytes.readableBytesView))
            } else {
                result.append(.body(Array(bytes.readableBytesView)))
            }
        case .end:
            result.append(.end)
        case .opaque(let bytes):
            if case .opaque(let previous)? = result.last {
                result[result.count - 1] = .opaque(previous + Array(bytes.readableBytesView))
            } else {
                result.append(.opaque(Array(bytes.readableBytesView)))
            }
        }
    }
    // Empty body slices carry nothing.
    return result.filter { $0 != .body([]) }
}

private func buffer(_ bytes: some Sequence<UInt8>) -> ByteBuffer {
    var buffer = ByteBufferAllocator().buffer(capacity: 0)
    buffer.writeBytes(Array(bytes))
    return buffer
}

private func buffer(_ text: String) -> ByteBuffer { buffer(Array(text.utf8)) }

/// Feeds `input` cut at `cuts` (sorted offsets), then finishes.
private func frame(_ input: [UInt8], cuts: [Int], side: HTTPFramer.Side = .requests,
                   methods: [String] = [], maximumHeadBytes: Int = 64 * 1024) -> [Framed] {
    var framer = HTTPFramer(side: side, maximumHeadBytes: maximumHeadBytes)
    for method in methods { framer.expectResponse(toMethod: method) }
    var events: [HTTPFrameEvent] = []
    var start = 0
    for cut in cuts + [input.count] where cut >= start {
        events += framer.feed(buffer(input[start..<cut]))
        start = cut
    }
    events += framer.finish()
    return normalized(events)
}

private func frame(_ text: String, side: HTTPFramer.Side = .requests, methods: [String] = [],
                   maximumHeadBytes: Int = 64 * 1024) -> [Framed] {
    frame(Array(text.utf8), cuts: [], side: side, methods: methods, maximumHeadBytes: maximumHeadBytes)
}

private func request(_ method: String, _ target: String, _ headers: [(String, String)] = [],
                     version: String = "HTTP/1.1") -> HTTPHead {
    HTTPHead(startLine: .request(method: method, target: target, version: version),
             headers: headers.map { HTTPField(name: $0.0, value: $0.1) })
}

private func response(_ status: Int, _ reason: String, _ headers: [(String, String)] = [],
                      version: String = "HTTP/1.1") -> HTTPHead {
    HTTPHead(startLine: .response(version: version, status: status, reason: reason),
             headers: headers.map { HTTPField(name: $0.0, value: $0.1) })
}

/// HTTP/1.1 framing for the transparent proxy: boundaries, heads, and every
/// byte given back exactly, however the stream is split.
struct HTTPFramerTests {
    static let pipelined =
        "GET /a HTTP/1.1\r\nHost: x\r\n\r\n"
        + "POST /b?x=1 HTTP/1.1\r\nHost: x\r\ncontent-length: 5\r\n\r\nhello"
        + "PUT /c HTTP/1.1\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n"
        + "5;name=\"v\"\r\nhello\r\n1A\r\nabcdefghijklmnopqrstuvwxyz\r\n0\r\nX-Sum: 1\r\n\r\n"
        + "\r\nDELETE /d HTTP/1.0\nHost: y\n\n"

    fileprivate static let pipelinedEvents: [Framed] = {
        let parts = [
            "GET /a HTTP/1.1\r\nHost: x\r\n\r\n",
            "POST /b?x=1 HTTP/1.1\r\nHost: x\r\ncontent-length: 5\r\n\r\n",
            "PUT /c HTTP/1.1\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n",
            "5;name=\"v\"\r\nhello\r\n1A\r\nabcdefghijklmnopqrstuvwxyz\r\n0\r\nX-Sum: 1\r\n\r\n",
            "\r\nDELETE /d HTTP/1.0\nHost: y\n\n",
        ].map { Array($0.utf8) }
        return [
            .head(request("GET", "/a", [("Host", "x")]), .none, parts[0]), .end,
            .head(request("POST", "/b?x=1", [("Host", "x"), ("content-length", "5")]), .contentLength(5), parts[1]),
            .body(Array("hello".utf8)), .end,
            .head(request("PUT", "/c", [("Transfer-Encoding", "chunked"), ("Content-Length", "3")]), .chunked, parts[2]),
            .body(parts[3]), .end,
            .head(request("DELETE", "/d", [("Host", "y")], version: "HTTP/1.0"), .none, parts[4]), .end,
        ]
    }()

    @Test func pipelinedRequestsInOneRead() {
        let events = frame(Self.pipelined)
        #expect(events == Self.pipelinedEvents)
        #expect(events.flatMap(\.wireBytes) == Array(Self.pipelined.utf8))
    }

    @Test func pipelinedRequestsOneByteAtATime() {
        let input = Array(Self.pipelined.utf8)
        let events = frame(input, cuts: Array(1..<input.count))
        #expect(events == Self.pipelinedEvents)
    }

    @Test func pipelinedRequestsCutAnywhereInTwo() {
        let input = Array(Self.pipelined.utf8)
        for cut in 0...input.count {
            let events = frame(input, cuts: [cut])
            #expect(events == Self.pipelinedEvents, "cut at \(cut)")
            #expect(events.flatMap(\.wireBytes) == input, "cut at \(cut)")
        }
    }

    @Test func pipelinedRequestsCutAtRandom() {
        let input = Array(Self.pipelined.utf8)
        var generator = SplitMix64(seed: 42)
        for round in 0..<500 {
            let count = Int.random(in: 1...12, using: &generator)
            let cuts = (0..<count).map { _ in Int.random(in: 0...input.count, using: &generator) }.sorted()
            let events = frame(input, cuts: cuts)
            #expect(events == Self.pipelinedEvents, "round \(round), cuts \(cuts)")
            #expect(events.flatMap(\.wireBytes) == input, "round \(round), cuts \(cuts)")
        }
    }

    @Test func headsExposePathQueryAndHeaders() {
        let head = request("GET", "http://example.com:8080/api/x?a=1&b=2", [("X-Id", "7"), ("x-id", "8")])
        #expect(head.path == "/api/x")
        #expect(head.query == "a=1&b=2")
        #expect(head.header("X-ID") == "7")
        #expect(head.values(of: "x-Id") == ["7", "8"])
        #expect(request("GET", "/p").query == nil)
        #expect(request("GET", "/p?").query == "")
        #expect(request("GET", "http://h").path == "/")
        #expect(request("GET", "http://h?q=1").path == "/")
        #expect(request("GET", "http://h?q=1").query == "q=1")
        #expect(request("CONNECT", "h:443").path == "")
        #expect(request("OPTIONS", "*").path == "*")
        #expect(response(404, "Not Found").status == 404)
        #expect(String(decoding: response(200, "OK", [("A", "b")]).serialized(), as: UTF8.self)
            == "HTTP/1.1 200 OK\r\nA: b\r\n\r\n")
        #expect(String(decoding: request("GET", "/x?y").serialized(), as: UTF8.self) == "GET /x?y HTTP/1.1\r\n\r\n")
    }

    @Test func chunkedResponseWithExtensionsAndTrailers() {
        let head = "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, Chunked\r\n\r\n"
        let body = "4;a=b;c=\"d e\"\r\nWiki\r\n5 ; ext\r\npedia\r\nE\r\n in\r\n\r\nchunks.\r\n000;last\r\nExpires: never\r\nX-Check: 1\r\n\r\n"
        let next = "HTTP/1.1 204 No Content\r\n\r\n"
        let input = Array((head + body + next).utf8)
        let expected: [Framed] = [
            .head(response(200, "OK", [("Transfer-Encoding", "gzip, Chunked")]), .chunked, Array(head.utf8)),
            .body(Array(body.utf8)), .end,
            .head(response(204, "No Content"), .none, Array(next.utf8)), .end,
        ]
        for cut in 0...input.count {
            #expect(frame(input, cuts: [cut], side: .responses) == expected, "cut at \(cut)")
        }
        #expect(HTTPChunkedBody.decode(buffer(body)) == Array("Wikipedia in\r\n\r\nchunks.".utf8))
    }

    @Test func chunkedBodiesWithBareLineFeeds() {
        let body = "3\nabc\n0\n\n"
        #expect(HTTPChunkedBody.decode(buffer(body)) == Array("abc".utf8))
        #expect(frame("POST / HTTP/1.1\nTransfer-Encoding: chunked\n\n" + body + "GET / HTTP/1.1\n\n").filter { $0 == .end }.count == 2)
    }

    @Test func malformedChunkedBodiesDecodeToNil() {
        #expect(HTTPChunkedBody.decode(buffer("3\r\nabc\r\n")) == nil)  // no last chunk
        #expect(HTTPChunkedBody.decode(buffer("3\r\nabcX\r\n0\r\n\r\n")) == nil)  // no CRLF after data
        #expect(HTTPChunkedBody.decode(buffer("z\r\n")) == nil)
        #expect(HTTPChunkedBody.decode(buffer("0\r\n\r\nextra")) == nil)
        #expect(HTTPChunkedBody.decode(buffer("0\r\n\r\n")) == [])
    }

    @Test func hugeChunkSizesGoOpaqueWithoutOverflow() {
        let head = "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"
        let body = "FFFFFFFFFFFFFFFFFFFFFFFF\r\nx"
        let events = frame(head + body)
        #expect(events.count == 3)
        #expect(events.flatMap(\.wireBytes) == Array((head + body).utf8))
        guard case .opaque(let rest)? = events.last else {
            Issue.record("expected the rest opaque, got \(events)")
            return
        }
        #expect(rest.count < body.utf8.count)
        #expect(HTTPChunkedBody.decode(buffer(body)) == nil)
        // The largest size that fits is accepted (and then waits for its data).
        let large = frame(head + "7FFFFFFFFFFFFFF\r\nabc")
        #expect(large.last == .body(Array("7FFFFFFFFFFFFFF\r\nabc".utf8)))
    }

    @Test func responseToHEADHasNoBody() {
        let text = "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nhi"
        let events = frame(text, side: .responses, methods: ["HEAD", "GET"])
        #expect(events == [
            .head(response(200, "OK", [("Content-Length", "100")]), .none, Array("HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n".utf8)),
            .end,
            .head(response(200, "OK", [("Content-Length", "2")]), .contentLength(2), Array("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n".utf8)),
            .body(Array("hi".utf8)), .end,
        ])
    }

    @Test func continueThenFinalResponseToTheSameRequest() {
        let text = "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 102 Processing\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nxHTTP/1.1 200 OK\r\n\r\n"
        let events = frame(text, side: .responses, methods: ["POST", "HEAD"])
        let heads = events.compactMap { event -> HTTPBodyFraming? in
            if case .head(_, let framing, _) = event { return framing }
            return nil
        }
        // The HEAD response is the fourth: 1xx did not use up the POST.
        #expect(heads == [.none, .none, .contentLength(1), .none])
        #expect(events.filter { $0 == .end }.count == 4)
        #expect(events.flatMap(\.wireBytes) == Array(text.utf8))
    }

    @Test func responsesWithoutBodies() {
        for status in [204, 304] {
            let text = "HTTP/1.1 \(status) X\r\nContent-Length: 10\r\n\r\n"
            #expect(frame(text, side: .responses).dropLast() == [
                .head(response(status, "X", [("Content-Length", "10")]), .none, Array(text.utf8)),
            ])
        }
    }

    @Test func responseWithoutExpectedMethodIsTreatedAsGET() {
        let text = "HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nabc"
        #expect(frame(text, side: .responses).contains(.body(Array("abc".utf8))))
    }

    @Test func untilCloseBodyEndsAtFinish() {
        var framer = HTTPFramer(side: .responses)
        let head = "HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\n\r\n"
        var events = framer.feed(buffer(head + "part one, "))
        events += framer.feed(buffer("part two"))
        #expect(normalized(events) == [
            .head(response(200, "OK", [("Content-Type", "text/plain")], version: "HTTP/1.0"), .untilClose, Array(head.utf8)),
            .body(Array("part one, part two".utf8)),
        ])
        #expect(normalized(framer.finish()) == [.end])
        // A transfer coding that does not end in chunked is delimited by close as well.
        let gzip = frame("HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\nzzz", side: .responses)
        #expect(gzip.last == .end)
        #expect(gzip.contains(.body(Array("zzz".utf8))))
    }

    @Test func upgradeTurnsBothDirectionsOpaque() {
        var requests = HTTPFramer(side: .requests)
        var responses = HTTPFramer(side: .responses)
        let upgrade = "GET /chat HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n"
        let early = [UInt8]([0x81, 0x85, 0x37, 0xFA, 0x21, 0x3D])
        let requestEvents = normalized(requests.feed(buffer(Array(upgrade.utf8) + early)))
        #expect(requestEvents.count == 2)  // the head and its end; the frame bytes are held
        #expect(requests.isAwaitingUpgrade)
        responses.expectResponse(toMethod: "GET")
        let switching = "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n"
        let serverFrame: [UInt8] = [0x81, 0x02, 0x68, 0x69]
        let responseEvents = normalized(responses.feed(buffer(Array(switching.utf8) + serverFrame)))
        #expect(responses.isOpaque)
        #expect(responseEvents.dropFirst() == [.end, .opaque(serverFrame)])
        #expect(normalized(requests.becomeOpaque()) == [.opaque(early)])
        #expect(requests.isOpaque && !requests.isAwaitingUpgrade)
        #expect(normalized(requests.feed(buffer("GET / HTTP/1.1\r\n\r\n"))) == [.opaque(Array("GET / HTTP/1.1\r\n\r\n".utf8))])
    }

    @Test func refusedUpgradeResumesFraming() {
        var requests = HTTPFramer(side: .requests)
        let upgrade = "GET / HTTP/1.1\r\nUpgrade: h2c\r\nConnection: Upgrade, HTTP2-Settings\r\n\r\n"
        let next = "GET /next HTTP/1.1\r\n\r\n"
        #expect(normalized(requests.feed(buffer(upgrade + next))).count == 2)
        #expect(requests.isAwaitingUpgrade)
        let resumed = normalized(requests.resumeAfterRefusedUpgrade())
        #expect(resumed == [.head(request("GET", "/next"), .none, Array(next.utf8)), .end])
        #expect(!requests.isAwaitingUpgrade && !requests.isOpaque)
    }

    @Test func connectTunnels() {
        var requests = HTTPFramer(side: .requests)
        #expect(normalized(requests.feed(buffer("CONNECT db:5432 HTTP/1.1\r\nHost: db:5432\r\n\r\n"))).count == 2)
        #expect(requests.isAwaitingUpgrade)
        let events = frame("HTTP/1.1 200 Connection established\r\n\r\n\u{16}\u{03}\u{01}", side: .responses, methods: ["CONNECT"])
        #expect(events.dropFirst() == [.end, .opaque([0x16, 0x03, 0x01])])
        // A refused CONNECT stays HTTP.
        let refused = frame("HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\nHTTP/1.1 200 OK\r\n\r\n", side: .responses,
                            methods: ["CONNECT", "GET"])
        #expect(!refused.contains { if case .opaque = $0 { true } else { false } })
    }

    @Test func tlsClientHelloIsOpaqueFromTheFirstByte() {
        var framer = HTTPFramer(side: .requests)
        let hello: [UInt8] = [0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00, 0x01, 0xFC, 0x03, 0x03]
        #expect(normalized(framer.feed(buffer(hello.prefix(1)))) == [.opaque([0x16])])
        #expect(framer.isOpaque)
        #expect(normalized(framer.feed(buffer(hello.dropFirst()))) == [.opaque(Array(hello.dropFirst()))])
        #expect(framer.finish().isEmpty)
    }

    @Test func garbageIsOpaque() {
        for text in ["hello world\r\n\r\n", "GET\r\n\r\n", "GET / HTTP/1.1 extra\r\n\r\n", "GET  / HTTP/1.1\r\n\r\n",
                     "get / HTTP/1.1\r\nBad Header: x\r\n\r\n", "GET / HTTP/1.1\r\n folded: x\r\n\r\n",
                     "GET / HTTP/1.1\r\nNoColon\r\n\r\n", "GET / HTTP/1.1\r\nA: b\rc\r\n\r\n",
                     "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", "GET / HTTP/1.1\r\nContent-Length: 1x\r\n\r\n",
                     "GET / HTTP/1.1\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\nabcd",
                     "GET / HTTP/1.1\r\nContent-Length: 99999999999999999999999\r\n\r\n",
                     "POST / HTTP/1.1\r\nTransfer-Encoding: gzip\r\n\r\n",
                     "POST / HTTP/1.1\r\nTransfer-Encoding: chunked, chunked\r\n\r\n0\r\n\r\n",
                     "POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"] {
            #expect(frame(text) == [.opaque(Array(text.utf8))], "\(text)")
        }
        #expect(frame("SSH-2.0-OpenSSH_9.6\r\n", side: .responses) == [.opaque(Array("SSH-2.0-OpenSSH_9.6\r\n".utf8))])
        // Agreeing lengths, in one line or several, are one length.
        #expect(frame("POST / HTTP/1.1\r\nContent-Length: 2, 2\r\ncontent-length: 2\r\n\r\nab").contains(.end))
    }

    @Test func headTooLargeIsOpaque() {
        let text = "GET /" + String(repeating: "a", count: 300) + " HTTP/1.1\r\nHost: x\r\n\r\n"
        var framer = HTTPFramer(side: .requests, maximumHeadBytes: 100)
        var events: [HTTPFrameEvent] = []
        for byte in text.utf8 { events += framer.feed(buffer([byte])) }
        #expect(normalized(events) == [.opaque(Array(text.utf8))])
        #expect(framer.isOpaque)
        // Complete in one read but over the limit: opaque too.
        #expect(frame(text, maximumHeadBytes: 100) == [.opaque(Array(text.utf8))])
    }

    @Test func partialHeadIsOpaqueAtFinish() {
        #expect(frame("GET / HTTP/1.1\r\nHost: x\r\n") == [.opaque(Array("GET / HTTP/1.1\r\nHost: x\r\n".utf8))])
        #expect(frame("\r\n") == [.opaque(Array("\r\n".utf8))])
    }

    @Test func partialBodyHasNoEnd() {
        let events = frame("POST / HTTP/1.1\r\nContent-Length: 10\r\n\r\nabc")
        #expect(events.last == .body(Array("abc".utf8)))
    }

    @Test func requestsWithoutFramingHaveNoBody() {
        let text = "POST /a HTTP/1.1\r\nHost: x\r\n\r\nGET /b HTTP/1.1\r\n\r\n"
        let events = frame(text)
        #expect(events.count == 4)
        #expect(events.flatMap(\.wireBytes) == Array(text.utf8))
    }

    @Test func latin1HeaderValuesSurvive() {
        var input = Array("GET / HTTP/1.1\r\nX-Name: caf".utf8)
        input += [0xE9]
        input += Array("\r\n\r\n".utf8)
        let events = frame(input, cuts: [])
        guard case .head(let head, _, let raw)? = events.first else {
            Issue.record("expected a head, got \(events)")
            return
        }
        #expect(head.header("x-name") == "caf\u{E9}")
        #expect(raw == input)
    }
}
