import Foundation
import Testing
import TumultModel
@testable import TumultFaults

/// DNS wire format and the responder's decisions, without sockets.
@Suite struct DNSMessageTests {
    /// `web.example` A, id 0x1234, recursion desired, written out byte by byte.
    static let handBuilt: [UInt8] = [
        0x12, 0x34, 0x01, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
        3, 0x77, 0x65, 0x62, 7, 0x65, 0x78, 0x61, 0x6D, 0x70, 0x6C, 0x65, 0,
        0x00, 0x01, 0x00, 0x01,
    ]

    @Test func parsesAHandBuiltQuery() throws {
        let message = try DNSMessage(parsing: Self.handBuilt)
        #expect(message.header.id == 0x1234)
        #expect(!message.header.isResponse)
        #expect(message.header.opcode == 0)
        #expect(message.header.recursionDesired)
        #expect(message.questions == [DNSMessage.Question(name: DNSMessage.Name("web.example"), type: 1)])
        #expect(message.questions[0].name.text == "web.example")
        #expect(message.answers.isEmpty && message.additionals.isEmpty)
    }

    @Test func buildsTheSameBytes() {
        #expect(DNSMessage.query(id: 0x1234, name: "web.example.", type: DNSMessage.RecordType.a).bytes == Self.handBuilt)
    }

    @Test func rejectsEveryTruncation() {
        for length in 0..<Self.handBuilt.count {
            #expect(throws: DNSMessage.ParseError.self, "cut at \(length)") {
                try DNSMessage(parsing: Array(Self.handBuilt.prefix(length)))
            }
        }
        // A record whose data length runs past the end.
        var response = DNSMessage.response(to: DNSMessage.query(id: 7, name: "a.b", type: 1), code: .noError,
                                           answers: [DNSMessage.Record(name: DNSMessage.Name("a.b"), type: 1, ttl: 0, data: [1, 2, 3, 4])]).bytes
        response.removeLast()
        #expect(throws: DNSMessage.ParseError.truncated("a record's data")) { try DNSMessage(parsing: response) }
    }

    @Test func followsCompressionPointers() throws {
        // An answer whose name is a pointer to the question's (offset 12).
        var bytes = Self.handBuilt
        bytes[2] = 0x81; bytes[3] = 0x80
        bytes[7] = 1
        bytes += [0xC0, 12, 0x00, 0x01, 0x00, 0x01, 0x00, 0x00, 0x00, 0x3C, 0x00, 0x04, 10, 9, 9, 9]
        // And a name that is a label followed by a pointer into the question (`example`).
        bytes[11] = 1
        bytes += [3, 0x77, 0x77, 0x77, 0xC0, 16, 0x00, 0x01, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00]
        let message = try DNSMessage(parsing: bytes)
        #expect(message.answers.count == 1)
        #expect(message.answers[0].name.text == "web.example")
        #expect(message.answers[0].ttl == 60)
        #expect(message.answers[0].data == [10, 9, 9, 9])
        #expect(message.additionals[0].name.text == "www.example")
        #expect(message.additionals[0].data.isEmpty)
    }

    @Test func pointerLoopsAreRejected() {
        // A question whose name points at itself.
        let selfLoop: [UInt8] = [0, 1, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0xC0, 12, 0, 1, 0, 1]
        #expect(throws: DNSMessage.ParseError.pointerLoop(offset: 12)) { try DNSMessage(parsing: selfLoop) }
        // Two names pointing at each other: the first's pointer leads forward.
        let mutual: [UInt8] = [0, 1, 0, 0, 0, 2, 0, 0, 0, 0, 0, 0,
                               1, 0x61, 0xC0, 20, 0, 1, 0, 1,
                               1, 0x62, 0xC0, 12, 0, 1, 0, 1]
        #expect(throws: DNSMessage.ParseError.self) { try DNSMessage(parsing: mutual) }
        // Reserved label types.
        let reserved: [UInt8] = [0, 1, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0x40, 0, 1, 0, 1]
        #expect(throws: DNSMessage.ParseError.badLabel(offset: 12)) { try DNSMessage(parsing: reserved) }
    }

    @Test func namesLongerThan255BytesAreRejected() {
        var bytes: [UInt8] = [0, 1, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0]
        for _ in 0..<5 { bytes += [63] + Array(repeating: 0x61, count: 63) }
        bytes += [0, 0, 1, 0, 1]
        #expect(throws: DNSMessage.ParseError.nameTooLong) { try DNSMessage(parsing: bytes) }
    }

    @Test func namesEscapeDotsAndOddBytes() {
        #expect(DNSMessage.Name(labels: [Array("a.b".utf8), [0x20, 0x41]]).text == "a\\.b.\\032A")
        #expect(DNSMessage.Name(labels: []).text == ".")
    }

    // MARK: The responder's decisions

    static func policy(_ action: DNSFault.Action, _ patterns: [String]) throws -> DNSFaultPolicy {
        DNSFaultPolicy(action: action, patterns: try patterns.map { try DNSPattern(parsing: $0) })
    }

    @Test func errorAnswersMatchingNamesWithServfail() throws {
        let policy = try Self.policy(.error, ["web.tmt.test", "db.*"])
        for name in ["web.tmt.test", "WEB.tmt.test.", "db.tmt.test"] {
            let query = DNSMessage.query(id: 42, name: name, type: DNSMessage.RecordType.a)
            guard case .answer(let bytes) = policy.decide(query.bytes) else {
                Issue.record("\(name) was not answered")
                continue
            }
            let answer = try DNSMessage(parsing: bytes)
            #expect(answer.header.id == 42)
            #expect(answer.header.isResponse && answer.header.recursionDesired && answer.header.recursionAvailable)
            #expect(answer.header.responseCode == .serverFailure)
            #expect(answer.questions == query.questions)
            #expect(answer.answers.isEmpty)
        }
        #expect(policy.decide(DNSMessage.query(id: 1, name: "other.tmt.test", type: 1).bytes) == .forward)
        #expect(policy.decide(DNSMessage.query(id: 1, name: "web.tmt.test.x", type: 1).bytes) == .forward)
        // Anything but one plain query goes on to the resolver.
        #expect(policy.decide([1, 2, 3]) == .forward)
        var response = DNSMessage.query(id: 1, name: "web.tmt.test", type: 1)
        response.header.flags |= 0x8000
        #expect(policy.decide(response.bytes) == .forward)
    }

    @Test func randomAnswersWithAFreshAddressOfTheAskedFamily() throws {
        let policy = try Self.policy(.random, ["web.?mt.test"])
        var seen = Set<[UInt8]>()
        for id in 0..<20 {
            guard case .answer(let bytes) = policy.decide(DNSMessage.query(id: UInt16(id), name: "web.tmt.test", type: 1).bytes) else {
                Issue.record("not answered")
                return
            }
            let answer = try DNSMessage(parsing: bytes)
            #expect(answer.header.responseCode == .noError)
            #expect(answer.answers.count == 1)
            #expect(answer.answers[0].type == DNSMessage.RecordType.a && answer.answers[0].ttl == 0)
            #expect(answer.answers[0].data.count == 4)
            #expect(![0, 127].contains(answer.answers[0].data[0]) && answer.answers[0].data[0] < 224)
            seen.insert(answer.answers[0].data)
        }
        #expect(seen.count > 15)
        guard case .answer(let bytes) = policy.decide(DNSMessage.query(id: 9, name: "web.tmt.test", type: 28).bytes) else {
            Issue.record("AAAA not answered")
            return
        }
        let six = try DNSMessage(parsing: bytes)
        #expect(six.answers.count == 1 && six.answers[0].type == 28 && six.answers[0].data.count == 16)
        // Other types: an answer with no records.
        guard case .answer(let mx) = policy.decide(DNSMessage.query(id: 9, name: "web.tmt.test", type: 15).bytes) else {
            Issue.record("MX not answered")
            return
        }
        #expect(try DNSMessage(parsing: mx).answers.isEmpty)
    }

    @Test func noPatternsMeansEveryName() throws {
        let policy = try Self.policy(.error, [])
        #expect(policy.decide(DNSMessage.query(id: 1, name: "anything.example", type: 1).bytes) != .forward)
    }

    // MARK: Addresses and rules

    @Test func endpointsAndResolvConf() {
        #expect(DNSEndpoint(parsing: "10.0.0.1") == DNSEndpoint(host: "10.0.0.1", port: 53))
        #expect(DNSEndpoint(parsing: "10.0.0.1:5353") == DNSEndpoint(host: "10.0.0.1", port: 5353))
        #expect(DNSEndpoint(parsing: "::1") == DNSEndpoint(host: "::1", port: 53))
        #expect(DNSEndpoint(parsing: "[fd00::1]:54")?.description == "[fd00::1]:54")
        for bad in ["", "host.example", "10.0.0.1:0", "10.0.0.1:x", "[::1", "300.0.0.1"] {
            #expect(DNSEndpoint(parsing: bad) == nil, "\(bad)")
        }
        let conf = "# generated\nsearch example\nnameserver fe80::1%eth0\nnameserver 10.0.0.2\n"
        #expect(DNSEndpoint.firstNameserver(inResolvConf: conf) == DNSEndpoint(host: "fe80::1"))
        #expect(DNSEndpoint.firstNameserver(inResolvConf: "options ndots:5\n") == nil)
    }

    @Test func redirectRulesSkipTheResponderOwnQueries() {
        let chain = DNSFaultInjector.chainName(attack: "1a2b3c4d-5e6f-7a8b")
        #expect(chain == "TMT-1A2B3C4D-DNS")
        #expect(DNSFaultInjector.redirectRules(chain: chain, port: 15353).map(\.arguments) == [
            ["iptables", "-w", "-t", "nat", "-A", chain, "-p", "udp", "--dport", "53", "-m", "mark", "!", "--mark",
             "0x746d75", "-j", "REDIRECT", "--to-ports", "15353"],
            ["iptables", "-w", "-t", "nat", "-A", chain, "-p", "tcp", "--dport", "53", "-m", "mark", "!", "--mark",
             "0x746d75", "-j", "REDIRECT", "--to-ports", "15353"],
        ])
    }
}
