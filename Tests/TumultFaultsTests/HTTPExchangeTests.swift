import NIOCore
import Testing
@testable import TumultFaults

/// The proxy's HTTP side without sockets: which bytes go where, and when.
struct HTTPExchangeTests {
    func buffer(_ text: String) -> ByteBuffer { ByteBuffer(string: text) }

    /// What goes to one side, concatenated, with the latest not-before time.
    func sent(_ outputs: [HTTPExchange.Output], toServer: Bool) -> (text: String, notBefore: UInt64) {
        var text = "", latest: UInt64 = 0
        for case .bytes(let bytes, let notBefore, let direction) in outputs where direction == toServer {
            text += String(buffer: bytes)
            latest = max(latest, notBefore)
        }
        return (text, latest)
    }

    @Test func pipelinedResponsesArePairedWithTheirRequests() {
        var exchange = HTTPExchange(policy: HTTPFaultPolicy(rules: [
            HTTPRule(target: .response, port: 80, path: "/b", replace: .init(code: 503)),
        ]))
        let requests = "GET /a HTTP/1.1\r\nHost: x\r\n\r\nGET /b HTTP/1.1\r\nHost: x\r\n\r\n"
        #expect(sent(exchange.fromClient(buffer(requests), now: 0), toServer: true).text == requests, "requests changed")
        let first = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"
        let second = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"
        let answered = sent(exchange.fromServer(buffer(first + second), now: 0), toServer: false).text
        #expect(answered.hasPrefix(first), "the first response was touched: \(answered)")
        #expect(answered.dropFirst(first.count).hasPrefix("HTTP/1.1 503"), "the second was not replaced: \(answered)")
        #expect(exchange.isIdle)
    }

    @Test func aDelayHoldsTheMessageAndAnAbortEndsTheConnection() {
        var exchange = HTTPExchange(policy: HTTPFaultPolicy(rules: [
            HTTPRule(target: .request, port: 80, path: "/slow", delayNanoseconds: 2_000_000_000),
            HTTPRule(target: .request, port: 80, path: "/api/*", abort: true),
        ]))
        let slow = sent(exchange.fromClient(buffer("GET /slow HTTP/1.1\r\n\r\n"), now: 5), toServer: true)
        #expect(slow.text.hasPrefix("GET /slow") && slow.notBefore == 2_000_000_005)
        _ = exchange.fromServer(buffer("HTTP/1.1 204 No Content\r\n\r\n"), now: 6)
        #expect(exchange.fromClient(buffer("GET /api/x HTTP/1.1\r\n\r\n"), now: 7) == [.abort])
    }

    @Test func anUpgradeTurnsBothDirectionsRawAndARefusedOneKeepsFraming() {
        let rules = [HTTPRule(target: .request, port: 80, path: "/after", abort: true)]
        var upgraded = HTTPExchange(policy: HTTPFaultPolicy(rules: rules))
        _ = upgraded.fromClient(buffer("GET /ws HTTP/1.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n"), now: 0)
        // Sent before the answer: held until the server decides.
        let early = upgraded.fromClient(buffer("GET /after HTTP/1.1\r\n\r\n"), now: 0)
        #expect(sent(early, toServer: true).text.isEmpty)
        let switched = upgraded.fromServer(buffer("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\r\n"), now: 0)
        #expect(sent(switched, toServer: true).text == "GET /after HTTP/1.1\r\n\r\n", "the held bytes must go on raw")
        #expect(!switched.contains(.abort))

        var refused = HTTPExchange(policy: HTTPFaultPolicy(rules: rules))
        _ = refused.fromClient(buffer("GET / HTTP/1.1\r\nUpgrade: h2c\r\nConnection: Upgrade\r\n\r\n"), now: 0)
        _ = refused.fromClient(buffer("GET /after HTTP/1.1\r\n\r\n"), now: 0)
        let answer = refused.fromServer(buffer("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"), now: 0)
        #expect(answer.contains(.abort), "the request after a refused upgrade is HTTP again and matches")
    }

    @Test func aTLSHandshakePassesThroughUntouched() {
        var exchange = HTTPExchange(policy: HTTPFaultPolicy(rules: [HTTPRule(target: .request, port: 443, abort: true)]))
        var hello = ByteBuffer(bytes: [0x16, 0x03, 0x01, 0x00, 0x05, 1, 2, 3, 4, 5])
        let outputs = exchange.fromClient(hello, now: 0)
        #expect(exchange.sawTLS)
        #expect(!outputs.contains(.abort))
        var forwarded = ByteBuffer()
        for case .bytes(var bytes, _, true) in outputs { forwarded.writeBuffer(&bytes) }
        #expect(forwarded.readBytes(length: forwarded.readableBytes) == hello.readBytes(length: hello.readableBytes))
        let back = exchange.fromServer(buffer("\u{16}\u{03}\u{03}server"), now: 0)
        #expect(sent(back, toServer: false).text == "\u{16}\u{03}\u{03}server")
    }
}

extension HTTPExchangeTests {
    @Test func aDelayedRequestIsInFlight() {
        var exchange = HTTPExchange(policy: HTTPFaultPolicy(rules: [
            HTTPRule(target: .request, port: 80, path: "/slow", delayNanoseconds: 1_500_000_000),
        ]))
        _ = exchange.fromClient(buffer("GET /slow HTTP/1.1\r\nHost: x\r\nUser-Agent: curl/7.88.1\r\nAccept: */*\r\n\r\n"), now: 0)
        #expect(!exchange.isIdle)
    }
}
