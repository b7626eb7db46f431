import TumultModel

/// What the DNS responder does with one query: answer it itself (the
/// fault) or pass it on to the real resolver. Pure, so it is unit-tested.
public struct DNSFaultPolicy: Sendable {
    public enum Decision: Sendable, Hashable {
        /// Send these bytes back to the client.
        case answer([UInt8])
        /// Send the query, unchanged, to the upstream resolver.
        case forward
    }

    public var action: DNSFault.Action
    public var patterns: [DNSPattern]

    public init(action: DNSFault.Action, patterns: [DNSPattern]) {
        self.action = action
        self.patterns = patterns
    }

    /// Queries that cannot be parsed, are not plain queries (opcode 0) or
    /// ask about anything but one name go on unchanged: the resolver knows
    /// what to say to them. Matching ones get SERVFAIL (`error`) or a random
    /// address with TTL 0 (`random`: A for A queries, AAAA for AAAA
    /// queries, no records for other types).
    public func decide(_ query: [UInt8], using generator: inout some RandomNumberGenerator) -> Decision {
        guard let message = try? DNSMessage(parsing: query), !message.header.isResponse,
              message.header.opcode == 0, message.questions.count == 1 else { return .forward }
        let question = message.questions[0]
        guard patterns.isEmpty || patterns.contains(where: { $0.matches(question.name.text) }) else { return .forward }
        switch action {
        case .error:
            return .answer(DNSMessage.response(to: message, code: .serverFailure).bytes)
        case .random:
            var answers: [DNSMessage.Record] = []
            if question.recordClass == DNSMessage.classIN && question.type == DNSMessage.RecordType.a {
                answers.append(DNSMessage.Record(name: question.name, type: DNSMessage.RecordType.a, ttl: 0,
                                                 data: Self.randomIPv4(using: &generator)))
            } else if question.recordClass == DNSMessage.classIN && question.type == DNSMessage.RecordType.aaaa {
                answers.append(DNSMessage.Record(name: question.name, type: DNSMessage.RecordType.aaaa, ttl: 0,
                                                 data: (0..<16).map { _ in UInt8.random(in: 0...255, using: &generator) }))
            }
            return .answer(DNSMessage.response(to: message, code: .noError, answers: answers).bytes)
        }
    }

    public func decide(_ query: [UInt8]) -> Decision {
        var generator = SystemRandomNumberGenerator()
        return decide(query, using: &generator)
    }

    /// A unicast address outside 0/8, 127/8 and 224/3, so that it looks
    /// like a real host's.
    static func randomIPv4(using generator: inout some RandomNumberGenerator) -> [UInt8] {
        let first = UInt8.random(in: 1...223, using: &generator)
        return [first == 127 ? 128 : first] + (0..<3).map { _ in UInt8.random(in: 0...255, using: &generator) }
    }
}
