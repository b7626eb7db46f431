import Testing
import TumultModel

@Suite struct ValueTypeTests {
    @Test(arguments: [
        ("90ms", Int64(90_000_000)), ("1.5s", 1_500_000_000), ("2h45m", 9_900_000_000_000), ("500us", 500_000),
        ("500µs", 500_000), ("-1h", -3_600_000_000_000), ("-10m100ns", -600_000_000_100), ("0", 0),
        (".5s", 500_000_000), ("1h2m3.5s", 3_723_500_000_000), ("+3ns", 3),
    ])
    func goDurationsParse(text: String, nanoseconds: Int64) throws {
        let duration = try GoDuration(parsing: text)
        #expect(duration.nanoseconds == nanoseconds)
        #expect(duration.text == text)
    }

    @Test(arguments: ["90xs", "", "1", "ms", "1.s5", ".s", "1h-2m", "9999999999h", "1 s", "- 1s"])
    func badDurationsAreRefused(text: String) {
        #expect(throws: InvalidValue.self) { try GoDuration(parsing: text) }
    }

    @Test func durationsFormatCompactly() {
        #expect(GoDuration(nanoseconds: 5_400_000_000_000).text == "1h30m")
        #expect(GoDuration(nanoseconds: 1_500_000_000).text == "1.5s")
        #expect(GoDuration(nanoseconds: 90_000_000).text == "90ms")
        #expect(GoDuration(nanoseconds: -250_000).text == "-250us")
        #expect(GoDuration(nanoseconds: 0).text == "0s")
    }

    @Test func singleUnitPatternMatchesTheCRD() throws {
        #expect(try GoDuration(parsing: "90ms").isSingleUnsignedUnit)
        #expect(try GoDuration(parsing: "1.5s").isSingleUnsignedUnit)
        #expect(try !GoDuration(parsing: "1m30s").isSingleUnsignedUnit)
        #expect(try !GoDuration(parsing: "-1s").isSingleUnsignedUnit)
        #expect(try !GoDuration(parsing: ".5s").isSingleUnsignedUnit)
    }

    @Test func percentages() throws {
        #expect(try Percentage(parsing: "25").fraction == 0.25)
        #expect(try Percentage(parsing: "0.5").value == 0.5)
        #expect(throws: InvalidValue.self) { try Percentage(parsing: "101") }
        #expect(throws: InvalidValue.self) { try Percentage(parsing: "-1") }
        #expect(throws: InvalidValue.self) { try Percentage(parsing: "lots") }
    }

    @Test(arguments: [("10mbit", UInt64(10_000_000)), ("1kbps", 8_000), ("100bit", 100), ("2GBPS", 16_000_000_000),
                      ("5 mbit", 5_000_000)])
    func rates(text: String, bits: UInt64) throws {
        #expect(try DataRate(parsing: text).bitsPerSecond == bits)
    }

    @Test(arguments: ["10", "1.5mbit", "mbit", "10mb", "-1kbit"])
    func badRates(text: String) {
        #expect(throws: InvalidValue.self) { try DataRate(parsing: text) }
    }

    @Test func statusCodes() throws {
        #expect(try StatusCodeRange(parsing: "200").contains(200))
        #expect(try StatusCodeRange(parsing: "200-399").contains(302))
        #expect(throws: InvalidValue.self) { try StatusCodeRange(parsing: "400-200") }
        #expect(throws: InvalidValue.self) { try StatusCodeRange(parsing: "ok") }
    }

    @Test func addresses() {
        for good in ["10.0.0.1", "10.0.0.0/8", "::1", "fe80::1/64", "2001:db8::8a2e:370:7334", "example.com", "web-1.shop.svc",
                     "1.1.1.1:80", "example.com:443", "10.0.0.0/8:22", "[::1]:80"] {
            #expect(NetworkAddress.problem(withTarget: good) == nil, "\(good)")
        }
        for bad in ["10.0.0.256", "10.0.0.0/33", "1.2.3", "-bad.example", "a..b", "::1::2", "under_score.com",
                    "example.com:99999", "example.com:http", "[::1]80"] {
            #expect(NetworkAddress.problem(withTarget: bad) != nil, "\(bad)")
        }
        #expect(HostNames.problem(withDevice: "eth0") == nil)
        #expect(HostNames.problem(withDevice: "a-very-long-interface") != nil)
    }

    @Test func selectionFollowsChaosMeshRules() throws {
        #expect(try Selection.parse(mode: .fixed, value: "2").get() == .fixed(2))
        #expect(try Selection.parse(mode: .fixedPercent, value: "50").get() == .fixedPercent(50))
        for (mode, value) in [(SelectorMode.fixed, "0"), (.fixed, "x"), (.fixedPercent, "0"), (.fixedPercent, "101"),
                              (.randomMaxPercent, nil), (.fixed, "1.5")] as [(SelectorMode, String?)] {
            #expect(throws: InvalidValue.self, "\(mode) \(value ?? "nil")") { try Selection.parse(mode: mode, value: value).get() }
        }
        #expect(Selection.fixed(5).targetCount(of: 3) == 3)
        #expect(Selection.fixedPercent(50).targetCount(of: 3) == 2)
        #expect(Selection.randomMaxPercent(100).targetCount(of: 10, randomPercent: { _ in 15 }) == 2)
        #expect(Selection.one.targetCount(of: 0) == 0)
    }
}
