import Testing
@testable import TumultServer

/// Which `Host` and `Origin` values name the server, for each way it listens.
@Suite struct RequestOriginsTests {
    @Test func onLoopbackOnlyLoopbackAddressesAndLocalhostNameIt() {
        let origins = RequestOrigins(listenHost: "127.0.0.1", allowed: [])
        for host in ["127.0.0.1:2333", "127.0.0.1", "localhost:2333", "LOCALHOST", "app.localhost:2333", "[::1]:2333", "127.0.0.2:2333",
                     "[::ffff:127.0.0.1]:2333"] {
            #expect(origins.acceptsHost(host), "\(host)")
        }
        for host in ["evil.example", "evil.example:2333", "127.attacker.invalid:2333", "10.0.0.1:2333", "", "[::1", "a:b:c",
                     "127.0.0.1:0", "127.0.0.1:99999"] {
            #expect(!origins.acceptsHost(host), "\(host)")
        }
        #expect(origins.acceptsOrigin("http://127.0.0.1:2333", port: 2333))
        #expect(origins.acceptsOrigin("http://localhost:2333", port: 2333))
        for origin in ["http://127.0.0.1:2334", "http://evil.example", "null", "file://", "http://127.0.0.1:2333/path",
                       "http://user@127.0.0.1:2333", "ftp://127.0.0.1:2333", "http://127.0.0.1"] {
            #expect(!origins.acceptsOrigin(origin, port: 2333), "\(origin)")
        }
    }

    @Test func onEveryAddressAnyIPLiteralButNoOtherName() {
        let origins = RequestOrigins(listenHost: "0.0.0.0", allowed: [])
        #expect(origins.acceptsHost("192.0.2.10:2333"))
        #expect(origins.acceptsHost("[2001:db8::1]:2333"))
        #expect(!origins.acceptsHost("chaos.example.com:2333"))
        if let name = RequestOrigins.machineName() { #expect(origins.acceptsHost("\(name):2333")) }
    }

    @Test func allowedOriginsAddTheirNames() {
        let origins = RequestOrigins(listenHost: "127.0.0.1", allowed: ["https://chaos.example.com", "proxy.internal"])
        #expect(origins.acceptsHost("chaos.example.com"))
        #expect(origins.acceptsHost("proxy.internal:8080"))
        #expect(origins.acceptsOrigin("https://chaos.example.com", port: 2333))
        #expect(origins.acceptsOrigin("https://chaos.example.com:443", port: 2333))
        #expect(origins.acceptsOrigin("http://proxy.internal:8080", port: 2333))
        #expect(!origins.acceptsOrigin("https://other.example.com", port: 2333))
        #expect(RequestOrigins.problem(withAllowed: "https://chaos.example.com") == nil)
        #expect(RequestOrigins.problem(withAllowed: "not an origin") != nil)
        #expect(RequestOrigins.problem(withAllowed: "gopher://x") != nil)
    }

    @Test func theLoopbackCheckParsesAddresses() {
        for (host, loopback) in [("127.0.0.1", true), ("127.1.2.3", true), ("::1", true), ("localhost", true), ("[::1]", true),
                                 ("::ffff:127.0.0.1", true), ("127.attacker.invalid", false), ("0.0.0.0", false), ("10.0.0.1", false),
                                 ("127.0.0.1.nip.io", false)] {
            var configuration = ServerConfiguration(home: .init(fileURLWithPath: "/nonexistent"))
            configuration.host = host
            #expect(configuration.listensOnLoopback == loopback, "\(host)")
        }
    }
}
