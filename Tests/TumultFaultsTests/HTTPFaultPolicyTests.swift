import Foundation
import NIOCore
import Testing
import TumultFaults
import TumultModel

private func request(_ method: String, _ target: String, _ headers: [(String, String)] = []) -> HTTPHead {
    HTTPHead(startLine: .request(method: method, target: target, version: "HTTP/1.1"),
             headers: headers.map { HTTPField(name: $0.0, value: $0.1) })
}

private func response(_ status: Int, _ headers: [(String, String)] = []) -> HTTPHead {
    HTTPHead(startLine: .response(version: "HTTP/1.1", status: status, reason: "Whatever"),
             headers: headers.map { HTTPField(name: $0.0, value: $0.1) })
}

private func text(_ bytes: [UInt8]) -> String { String(decoding: bytes, as: UTF8.self) }

/// HTTPChaos's rules: which messages they select, and how they rewrite
/// them, as chaos-tproxy does.
struct HTTPFaultPolicyTests {
    @Test func globsMatchLikeWildMatch() {
        #expect(HTTPFaultPolicy.glob("/api/*", matches: "/api/v1/users"))
        #expect(HTTPFaultPolicy.glob("/api/*", matches: "/api/"))
        #expect(!HTTPFaultPolicy.glob("/api/*", matches: "/api"))
        #expect(HTTPFaultPolicy.glob("/src?", matches: "/src/"))
        #expect(!HTTPFaultPolicy.glob("/src?", matches: "/src"))
        #expect(HTTPFaultPolicy.glob("*", matches: ""))
        #expect(HTTPFaultPolicy.glob("/a*b*c", matches: "/aXXbYYbZc"))
        #expect(!HTTPFaultPolicy.glob("/a*b*c", matches: "/aXXbYYbZ"))
        #expect(!HTTPFaultPolicy.glob("/API/*", matches: "/api/x"))
        #expect(HTTPFaultPolicy.glob("/[x]", matches: "/[x]"))
    }

    @Test func pathGlobMatchesThePathWithoutTheQuery() {
        let policy = HTTPFaultPolicy(rules: [HTTPRule(target: .request, port: 80, path: "/api/*", abort: true)])
        #expect(policy.verdict(request: request("GET", "/api/users?id=1")).abort)
        #expect(policy.verdict(request: request("GET", "http://svc:80/api/users?id=1")).abort)
        #expect(!policy.verdict(request: request("GET", "/web/api/x")).abort)
        #expect(!policy.verdict(request: request("GET", "/apix?/api/y")).abort)
        #expect(policy.verdict(request: request("GET", "/web")) == .passThrough)
    }

    @Test func methodMatchesExactly() {
        let policy = HTTPFaultPolicy(rules: [HTTPRule(target: .request, port: 80, method: "POST", abort: true)])
        #expect(policy.verdict(request: request("POST", "/")).abort)
        #expect(!policy.verdict(request: request("GET", "/")).abort)
        #expect(!policy.verdict(request: request("post", "/")).abort)
    }

    @Test func requestHeadersMatchByNameInAnyCaseAndExactValue() {
        let policy = HTTPFaultPolicy(rules: [
            HTTPRule(target: .request, port: 80, requestHeaders: ["X-User": "alice", "accept": "text/html"], abort: true),
        ])
        #expect(policy.verdict(request: request("GET", "/", [("x-user", "bob"), ("X-USER", "alice"), ("Accept", "text/html")])).abort)
        #expect(!policy.verdict(request: request("GET", "/", [("X-User", "alice")])).abort)
        #expect(!policy.verdict(request: request("GET", "/", [("X-User", "Alice"), ("Accept", "text/html")])).abort)
    }

    @Test func responseRulesMatchCodeHeadersAndTheRequest() {
        let policy = HTTPFaultPolicy(rules: [
            HTTPRule(target: .response, port: 80, path: "/api/*", method: "GET", code: 404,
                     requestHeaders: ["X-Test": "1"], responseHeaders: ["Content-Type": "application/json"], abort: true),
        ])
        let asked = request("GET", "/api/x", [("X-Test", "1")])
        let found = response(404, [("content-type", "application/json")])
        #expect(policy.verdict(response: found, request: asked).abort)
        #expect(!policy.verdict(response: response(200, [("content-type", "application/json")]), request: asked).abort)
        #expect(!policy.verdict(response: response(404, [("content-type", "text/html")]), request: asked).abort)
        #expect(!policy.verdict(response: found, request: request("GET", "/api/x")).abort)
        #expect(!policy.verdict(response: found, request: request("POST", "/api/x", [("X-Test", "1")])).abort)
        #expect(!policy.verdict(response: found, request: request("GET", "/other", [("X-Test", "1")])).abort)
        // Response rules never act on requests, nor request rules on responses.
        #expect(policy.verdict(request: asked) == .passThrough)
        let requestPolicy = HTTPFaultPolicy(rules: [HTTPRule(target: .request, port: 80, abort: true)])
        #expect(requestPolicy.verdict(response: found, request: asked) == .passThrough)
    }

    @Test func delaysAddUpAndAbortComesAfterTheDelaysBeforeIt() {
        let policy = HTTPFaultPolicy(rules: [
            HTTPRule(target: .request, port: 80, delayNanoseconds: 100_000_000),
            HTTPRule(target: .request, port: 80, path: "/slow", delayNanoseconds: 2_000_000_000),
            HTTPRule(target: .request, port: 80, method: "DELETE", abort: true, delayNanoseconds: 5_000_000_000),
            HTTPRule(target: .request, port: 80, delayNanoseconds: 7),
        ])
        let slow = policy.verdict(request: request("GET", "/slow"))
        #expect(slow.delayNanoseconds == 2_100_000_007)
        #expect(!slow.abort && !slow.rewrites)
        #expect(slow.rules.count == 3)
        let deleted = policy.verdict(request: request("DELETE", "/slow"))
        #expect(deleted.abort)
        #expect(deleted.delayNanoseconds == 2_100_000_000)
        #expect(policy.verdict(request: request("GET", "/")).delayNanoseconds == 100_000_007)
    }

    @Test func rulesForAPort() {
        let policy = HTTPFaultPolicy(rules: [
            HTTPRule(target: .request, port: 80, abort: true),
            HTTPRule(target: .request, port: 8080, delayNanoseconds: 1),
        ])
        #expect(policy.rules(forPort: 8080).rules == [HTTPRule(target: .request, port: 8080, delayNanoseconds: 1)])
        #expect(!policy.rules(forPort: 8080).verdict(request: request("GET", "/")).abort)
    }

    @Test func replaceRewritesPathMethodQueriesAndHeaders() {
        let policy = HTTPFaultPolicy(rules: [
            HTTPRule(target: .request, port: 80, path: "/api/*", replace: .init(
                path: "/v2/users", method: "PUT", queries: ["id": "42", "new key": "a/b"],
                headers: ["x-trace": "chaos", "Authorization": "none"])),
        ])
        let head = request("GET", "/api/users?id=1&keep=%7Bx%7D&id=2&b", [
            ("Host", "svc"), ("X-Trace", "1"), ("Accept", "*/*"), ("x-trace", "2"),
        ])
        let verdict = policy.verdict(request: head)
        #expect(verdict.rewrites && !verdict.abort)
        #expect(text(policy.rewrite(head, body: [], with: verdict)) ==
            "PUT /v2/users?id=42&keep=%7Bx%7D&b&new+key=a%2Fb HTTP/1.1\r\n"
            + "Host: svc\r\nx-trace: chaos\r\nAccept: */*\r\nAuthorization: none\r\n\r\n")
    }

    @Test func replacedPathKeepsQueryAndAbsoluteForm() {
        let policy = HTTPFaultPolicy(rules: [HTTPRule(target: .request, port: 80, replace: .init(path: ""))])
        let head = request("GET", "http://svc:8080/old?q=1")
        let rewritten = policy.rewritten(head, body: [], with: policy.verdict(request: head)).head
        #expect(rewritten.target == "http://svc:8080/?q=1")
    }

    @Test func replaceQueriesAddsAQueryWhereThereWasNone() {
        let policy = HTTPFaultPolicy(rules: [HTTPRule(target: .request, port: 80, replace: .init(queries: ["a": "1 2"]))])
        let head = request("GET", "/p")
        #expect(policy.rewritten(head, body: [], with: policy.verdict(request: head)).head.target == "/p?a=1+2")
    }

    @Test func patchAppendsQueriesAndHeaders() {
        let policy = HTTPFaultPolicy(rules: [
            HTTPRule(target: .request, port: 80, patch: .init(
                queries: [["foo", "bar"], ["foo", "other value"]],
                headers: [["Set-Cookie", "a=1"], ["Set-Cookie", "b=2"]])),
        ])
        let head = request("GET", "/p?x=1", [("Set-Cookie", "z=0")])
        let rewritten = policy.rewritten(head, body: [], with: policy.verdict(request: head)).head
        #expect(rewritten.target == "/p?x=1&foo=bar&foo=other+value")
        #expect(rewritten.values(of: "set-cookie") == ["z=0", "a=1", "b=2"])
        let bare = request("GET", "/p")
        #expect(policy.rewritten(bare, body: [], with: policy.verdict(request: bare)).head.target == "/p?foo=bar&foo=other+value")
    }

    @Test func replaceCodeAndBodyOfAResponse() {
        let policy = HTTPFaultPolicy(rules: [
            HTTPRule(target: .response, port: 80, code: 200, replace: .init(
                path: "/ignored", code: 503, body: Array("down".utf8), queries: ["ignored": "1"],
                headers: ["Retry-After": "5"])),
        ])
        let head = response(200, [("Content-Type", "text/plain"), ("Content-Length", "11"), ("Server", "x")])
        let verdict = policy.verdict(response: head, request: request("GET", "/"))
        #expect(verdict.rewrites)
        #expect(text(policy.rewrite(head, body: Array("hello world".utf8), with: verdict)) ==
            "HTTP/1.1 503 Service Unavailable\r\nContent-Type: text/plain\r\nContent-Length: 4\r\nServer: x\r\nRetry-After: 5\r\n\r\ndown")
    }

    @Test func replacedRequestBodyGetsALength() {
        let policy = HTTPFaultPolicy(rules: [HTTPRule(target: .request, port: 80, replace: .init(body: Array("{}".utf8)))])
        let head = request("GET", "/", [("Host", "x")])
        #expect(text(policy.rewrite(head, body: [], with: policy.verdict(request: head))) ==
            "GET / HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\n{}")
        // A request without a body that no rule gave one is left without a length.
        let headerOnly = HTTPFaultPolicy(rules: [HTTPRule(target: .request, port: 80, replace: .init(headers: ["A": "b"]))])
        #expect(text(headerOnly.rewrite(head, body: [], with: headerOnly.verdict(request: head))) ==
            "GET / HTTP/1.1\r\nHost: x\r\nA: b\r\n\r\n")
    }

    @Test func chunkedMessageIsRewrittenWithAContentLength() {
        var framer = HTTPFramer(side: .responses)
        var input = ByteBufferAllocator().buffer(capacity: 0)
        input.writeString("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Type: application/json\r\n\r\n"
            + "7\r\n{\"a\":1}\r\n0\r\nX-T: 1\r\n\r\n")
        var head: HTTPHead?
        var body = ByteBufferAllocator().buffer(capacity: 0)
        for event in framer.feed(input) {
            switch event {
            case .head(let parsed, let framing, _):
                head = parsed
                #expect(framing == .chunked)
            case .body(var bytes): body.writeBuffer(&bytes)
            case .end, .opaque: break
            }
        }
        guard let head, let decoded = HTTPChunkedBody.decode(body) else {
            Issue.record("no head or body framed")
            return
        }
        #expect(decoded == Array("{\"a\":1}".utf8))
        let policy = HTTPFaultPolicy(rules: [HTTPRule(target: .response, port: 80, patch: .init(headers: [["X-Chaos", "yes"]]))])
        let verdict = policy.verdict(response: head, request: request("GET", "/"))
        #expect(text(policy.rewrite(head, body: decoded, with: verdict)) ==
            "HTTP/1.1 200 OK\r\nContent-Length: 7\r\nContent-Type: application/json\r\nX-Chaos: yes\r\n\r\n{\"a\":1}")
    }

    @Test func jsonMergePatchOfABody() {
        let policy = HTTPFaultPolicy(rules: [
            HTTPRule(target: .response, port: 80, patch: .init(
                bodyJSON: #"{"status":"Failed","meta":{"retry":null,"count":3,"deep":{"x":[1,2]}},"gone":null}"#)),
        ])
        let head = response(200, [("Content-Length", "64")])
        let body = Array(#"{"status":"OK","gone":true,"meta":{"retry":true,"keep":"k/v"},"n":1.5}"#.utf8)
        let verdict = policy.verdict(response: head, request: request("GET", "/"))
        let message = policy.rewritten(head, body: body, with: verdict)
        #expect(message.head.values(of: "Content-Length") == [String(message.body.count)])
        #expect(text(message.body) == #"{"meta":{"count":3,"deep":{"x":[1,2]},"keep":"k/v"},"n":1.5,"status":"Failed"}"#)
    }

    @Test func jsonMergePatchEdgeCases() {
        let patch = HTTPFaultPolicy(rules: [HTTPRule(target: .request, port: 80, patch: .init(bodyJSON: #"{"a":{"b":null,"c":true}}"#))])
        let head = request("POST", "/", [("Content-Length", "3")])
        let verdict = patch.verdict(request: head)
        // An empty body counts as null: the patch, nulls removed, is the new body.
        #expect(text(patch.rewritten(head, body: [], with: verdict).body) == #"{"a":{"c":true}}"#)
        // A body that is not JSON is left alone.
        #expect(patch.rewritten(head, body: Array("abc".utf8), with: verdict).body == Array("abc".utf8))
        // A body that is not an object is replaced by the patch object.
        #expect(text(patch.rewritten(head, body: Array("[1]".utf8), with: verdict).body) == #"{"a":{"c":true}}"#)
        // A patch that is not an object replaces the document.
        let scalar = HTTPFaultPolicy(rules: [HTTPRule(target: .request, port: 80, patch: .init(bodyJSON: "[1,2]"))])
        #expect(text(scalar.rewritten(head, body: Array(#"{"x":1}"#.utf8), with: scalar.verdict(request: head)).body) == "[1,2]")
    }

    @Test func rulesApplyInOrderReplaceThenPatch() {
        let policy = HTTPFaultPolicy(rules: [
            HTTPRule(target: .request, port: 80, replace: .init(body: Array(#"{"a":1}"#.utf8)), patch: .init(bodyJSON: #"{"b":2}"#)),
            HTTPRule(target: .request, port: 80, patch: .init(bodyJSON: #"{"a":null}"#)),
        ])
        let head = request("POST", "/", [("Transfer-Encoding", "chunked")])
        let message = policy.rewritten(head, body: Array("x".utf8), with: policy.verdict(request: head))
        #expect(text(message.body) == #"{"b":2}"#)
        #expect(message.head.headers == [HTTPField(name: "Content-Length", value: "7")])
    }

    @Test func bodilessResponsesStayBodiless() {
        let policy = HTTPFaultPolicy(rules: [HTTPRule(target: .response, port: 80, replace: .init(body: Array("x".utf8)))])
        let noContent = response(204)
        #expect(text(policy.rewrite(noContent, body: [], with: policy.verdict(response: noContent, request: request("GET", "/")))) ==
            "HTTP/1.1 204 Whatever\r\n\r\n")
        // A HEAD response's length, untouched by the rules, is kept.
        let headerRule = HTTPFaultPolicy(rules: [HTTPRule(target: .response, port: 80, patch: .init(headers: [["A", "b"]]))])
        let head = response(200, [("Content-Length", "1234")])
        #expect(text(headerRule.rewrite(head, body: [], with: headerRule.verdict(response: head, request: request("HEAD", "/")))) ==
            "HTTP/1.1 200 Whatever\r\nContent-Length: 1234\r\nA: b\r\n\r\n")
    }

    @Test func rulesFromAnHTTPChaosSpec() throws {
        var spec = HTTPChaosSpec(target: .request, port: 8080)
        spec.path = "/api/*"
        spec.method = "GET"
        spec.requestHeaders = ["X-A": "1"]
        spec.abort = false
        spec.delay = try GoDuration(parsing: "1.5s")
        spec.replace = .init(path: "/b", code: 500, body: Base64Bytes(Data("hi".utf8)), queries: ["q": "1"], headers: ["H": "v"])
        spec.patch = .init(body: .init(value: #"{"x":1}"#), queries: [["a", "b"]], headers: [["C", "d"]])
        let rule = HTTPRule(spec)
        #expect(rule == HTTPRule(
            target: .request, port: 8080, path: "/api/*", method: "GET", requestHeaders: ["X-A": "1"],
            delayNanoseconds: 1_500_000_000,
            replace: .init(path: "/b", code: 500, body: Array("hi".utf8), queries: ["q": "1"], headers: ["H": "v"]),
            patch: .init(bodyJSON: #"{"x":1}"#, queries: [["a", "b"]], headers: [["C", "d"]])))
        #expect(rule.summary == "delay 1.5s, replace path+code+body+queries+headers, patch body+queries+headers GET /api/* with X-A: 1 on port 8080")
        #expect(HTTPRule(target: .response, port: 80, path: "/api/*", code: 404, abort: true).summary
            == "abort responses 404 to any /api/* on port 80")
        // Round trip through the proxy's JSON configuration.
        let decoded = try JSONDecoder().decode(HTTPRule.self, from: JSONEncoder().encode(rule))
        #expect(decoded == rule)
    }
}
