/// A DNS message in wire format (RFC 1035 §4): what the DNS responder reads
/// from a query and writes back. Pure code over byte arrays, so parsing and
/// building are unit-tested without sockets.
///
/// Parsing follows compression pointers with a loop guard and rejects a
/// message that ends early; building never compresses.
public struct DNSMessage: Sendable, Hashable {
    public var header: Header
    public var questions: [Question]
    public var answers: [Record]
    public var authorities: [Record]
    public var additionals: [Record]

    public init(header: Header, questions: [Question] = [], answers: [Record] = [], authorities: [Record] = [],
                additionals: [Record] = []) {
        self.header = header
        self.questions = questions
        self.answers = answers
        self.authorities = authorities
        self.additionals = additionals
    }

    // MARK: Parts

    /// The 12-byte header; the section counts are taken from the sections when building.
    public struct Header: Sendable, Hashable {
        public var id: UInt16
        public var flags: UInt16

        public init(id: UInt16, flags: UInt16) {
            self.id = id
            self.flags = flags
        }

        public var isResponse: Bool { flags & 0x8000 != 0 }
        public var opcode: UInt8 { UInt8((flags >> 11) & 0xF) }
        public var recursionDesired: Bool { flags & 0x0100 != 0 }
        public var recursionAvailable: Bool { flags & 0x0080 != 0 }
        public var truncated: Bool { flags & 0x0200 != 0 }
        public var responseCode: ResponseCode { ResponseCode(rawValue: flags & 0xF) }
    }

    public struct ResponseCode: RawRepresentable, Sendable, Hashable {
        public var rawValue: UInt16
        public init(rawValue: UInt16) { self.rawValue = rawValue & 0xF }

        public static let noError = ResponseCode(rawValue: 0)
        public static let formatError = ResponseCode(rawValue: 1)
        public static let serverFailure = ResponseCode(rawValue: 2)
        public static let nameError = ResponseCode(rawValue: 3)
    }

    public enum RecordType {
        public static let a: UInt16 = 1
        public static let aaaa: UInt16 = 28
        public static let opt: UInt16 = 41
    }

    public static let classIN: UInt16 = 1

    /// A name as its labels (raw bytes, case kept).
    public struct Name: Sendable, Hashable, CustomStringConvertible {
        public var labels: [[UInt8]]

        public init(labels: [[UInt8]]) {
            self.labels = labels
        }

        /// From dotted text (`web.example.` or `web.example`); no escapes.
        public init(_ text: String) {
            labels = text.split(separator: ".", omittingEmptySubsequences: true).map { Array($0.utf8) }
        }

        /// Dotted, without the root's trailing dot (`.` for the root itself);
        /// dots and odd bytes inside a label are escaped as `\.` and `\DDD`.
        public var text: String {
            guard !labels.isEmpty else { return "." }
            return labels.map { label in
                label.map { byte -> String in
                    switch byte {
                    case UInt8(ascii: "."), UInt8(ascii: "\\"): return "\\" + String(UnicodeScalar(byte))
                    case 0x21...0x7E: return String(UnicodeScalar(byte))
                    default:
                        let digits = String(byte)
                        return "\\" + String(repeating: "0", count: 3 - digits.count) + digits
                    }
                }.joined()
            }.joined(separator: ".")
        }

        public var description: String { text }
    }

    public struct Question: Sendable, Hashable {
        public var name: Name
        public var type: UInt16
        public var recordClass: UInt16

        public init(name: Name, type: UInt16, recordClass: UInt16 = DNSMessage.classIN) {
            self.name = name
            self.type = type
            self.recordClass = recordClass
        }
    }

    /// A resource record with its data kept as bytes.
    public struct Record: Sendable, Hashable {
        public var name: Name
        public var type: UInt16
        public var recordClass: UInt16
        public var ttl: UInt32
        public var data: [UInt8]

        public init(name: Name, type: UInt16, recordClass: UInt16 = DNSMessage.classIN, ttl: UInt32, data: [UInt8]) {
            self.name = name
            self.type = type
            self.recordClass = recordClass
            self.ttl = ttl
            self.data = data
        }
    }

    public enum ParseError: Error, Sendable, Hashable {
        /// The message ends before `what` is complete.
        case truncated(String)
        /// A label length byte with the reserved 01/10 top bits.
        case badLabel(offset: Int)
        /// Compression pointers that jump too often, or forward: a loop.
        case pointerLoop(offset: Int)
        /// A name longer than 255 bytes.
        case nameTooLong
    }

    // MARK: Parsing

    /// Parses a whole message; throws if any part of it is cut short or malformed.
    public init(parsing bytes: [UInt8]) throws(ParseError) {
        var reader = Reader(bytes: bytes)
        let id = try reader.u16("the header")
        let flags = try reader.u16("the header")
        let counts = [try reader.u16("the header"), try reader.u16("the header"),
                      try reader.u16("the header"), try reader.u16("the header")]
        header = Header(id: id, flags: flags)
        questions = []
        for _ in 0..<counts[0] {
            let name = try reader.name()
            questions.append(Question(name: name, type: try reader.u16("a question"), recordClass: try reader.u16("a question")))
        }
        func records(_ count: UInt16) throws(ParseError) -> [Record] {
            var records: [Record] = []
            for _ in 0..<count {
                let name = try reader.name()
                let type = try reader.u16("a record"), recordClass = try reader.u16("a record")
                let ttl = UInt32(try reader.u16("a record")) << 16 | UInt32(try reader.u16("a record"))
                let length = Int(try reader.u16("a record"))
                records.append(Record(name: name, type: type, recordClass: recordClass, ttl: ttl,
                                      data: try reader.bytes(length, "a record's data")))
            }
            return records
        }
        answers = try records(counts[1])
        authorities = try records(counts[2])
        additionals = try records(counts[3])
    }

    /// Reads big-endian fields and names from a message.
    struct Reader {
        let bytes: [UInt8]
        var offset = 0

        mutating func u16(_ what: String) throws(ParseError) -> UInt16 {
            guard offset + 2 <= bytes.count else { throw .truncated(what) }
            defer { offset += 2 }
            return UInt16(bytes[offset]) << 8 | UInt16(bytes[offset + 1])
        }

        mutating func bytes(_ count: Int, _ what: String) throws(ParseError) -> [UInt8] {
            guard offset + count <= bytes.count else { throw .truncated(what) }
            defer { offset += count }
            return Array(bytes[offset..<offset + count])
        }

        /// A name at the current offset, following compression pointers.
        /// Each pointer must lead to an earlier offset than the one it
        /// jumps from, so no chain of them can loop; the count is capped too.
        mutating func name() throws(ParseError) -> Name {
            var labels: [[UInt8]] = []
            var position = offset
            var resume: Int?
            var jumps = 0
            var length = 1
            while true {
                guard position < bytes.count else { throw .truncated("a name") }
                let byte = bytes[position]
                switch byte & 0xC0 {
                case 0xC0:
                    guard position + 1 < bytes.count else { throw .truncated("a name's pointer") }
                    let target = Int(byte & 0x3F) << 8 | Int(bytes[position + 1])
                    jumps += 1
                    guard target < position, jumps <= 127 else { throw .pointerLoop(offset: position) }
                    if resume == nil { resume = position + 2 }
                    position = target
                case 0x00:
                    let count = Int(byte)
                    if count == 0 {
                        offset = resume ?? position + 1
                        return Name(labels: labels)
                    }
                    guard position + 1 + count <= bytes.count else { throw .truncated("a name's label") }
                    length += count + 1
                    guard length <= 255 else { throw .nameTooLong }
                    labels.append(Array(bytes[(position + 1)...(position + count)]))
                    position += 1 + count
                default:
                    throw .badLabel(offset: position)
                }
            }
        }
    }

    // MARK: Building

    /// The message in wire format, names uncompressed.
    public var bytes: [UInt8] {
        var out: [UInt8] = []
        func u16(_ value: UInt16) { out += [UInt8(value >> 8), UInt8(value & 0xFF)] }
        func name(_ name: Name) {
            for label in name.labels {
                out.append(UInt8(min(label.count, 63)))
                out += label.prefix(63)
            }
            out.append(0)
        }
        u16(header.id)
        u16(header.flags)
        for count in [questions.count, answers.count, authorities.count, additionals.count] { u16(UInt16(count)) }
        for question in questions {
            name(question.name)
            u16(question.type)
            u16(question.recordClass)
        }
        for record in answers + authorities + additionals {
            name(record.name)
            u16(record.type)
            u16(record.recordClass)
            u16(UInt16(record.ttl >> 16))
            u16(UInt16(record.ttl & 0xFFFF))
            u16(UInt16(record.data.count))
            out += record.data
        }
        return out
    }

    /// A standard query for one name, recursion desired.
    public static func query(id: UInt16, name: String, type: UInt16) -> DNSMessage {
        DNSMessage(header: Header(id: id, flags: 0x0100), questions: [Question(name: Name(name), type: type)])
    }

    /// The response to `query`: same id, opcode, recursion-desired flag and
    /// question; recursion available; `code`; `answers`.
    public static func response(to query: DNSMessage, code: ResponseCode, answers: [Record] = []) -> DNSMessage {
        let flags: UInt16 = 0x8000 | (query.header.flags & 0x7800) | (query.header.flags & 0x0100) | 0x0080 | code.rawValue
        return DNSMessage(header: Header(id: query.header.id, flags: flags), questions: query.questions, answers: answers)
    }
}
