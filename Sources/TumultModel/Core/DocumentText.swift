import Yams

/// Turns text into `Value` trees and back: YAML (multi-document, `---`) and
/// JSON. Guards against input that would exhaust the stack, the memory or
/// the CPU before any model code sees it: see `Budget`.
public enum DocumentText {
    /// Deeper nesting than this is refused: no Chaos Mesh document comes near
    /// it, and unbounded recursion would crash the process instead of
    /// reporting an error.
    public static let maximumDepth = 64

    public enum Format: String, Sendable, CaseIterable {
        case yaml
        case json
    }

    public struct ParseError: Error, Sendable, CustomStringConvertible {
        public var message: String
        public init(_ message: String) { self.message = message }
        public var description: String { message }
    }

    /// Parses every document in `text` within the standard budget. JSON is
    /// recognised by its first character; everything else is YAML.
    public static func parse(_ text: String) throws -> [Value] {
        try parse(text, budget: .standard)
    }

    /// Parses every document in `text`. Text that would take more than
    /// `budget` is refused with a `ParseError` that says which limit, before
    /// the work is done.
    public static func parse(_ text: String, budget: Budget) throws -> [Value] {
        let size = text.utf8.count
        if size > budget.bytes { throw budget.refuseBytes(size) }
        let trimmed = text.drop { $0 == " " || $0 == "\n" || $0 == "\r" || $0 == "\t" || $0 == "\u{FEFF}" }
        if trimmed.first == "{" || trimmed.first == "[" {
            var parser = JSONParser(text: Substring(trimmed), budget: budget)
            let value = try parser.parseDocument()
            if case .array(let items) = value { return items }
            return [value]
        }
        return try parseYAML(text, budget: budget)
    }

    static func parseYAML(_ text: String, budget: Budget = .standard) throws -> [Value] {
        let depth = estimatedYAMLDepth(text)
        if depth > budget.depth * 4 { throw budget.refuseDepth() }
        // What the bytes show, before Yams builds anything.
        let scan = YAMLPrescan(text)
        if scan.aliases > budget.aliases { throw budget.refuseAliases() }
        if let line = scan.aliasKeyLine {
            throw ParseError("a mapping key must be a plain value, not an alias, a list, an object or a ? key, "
                             + "in a document with aliases (line \(line))")
        }
        if scan.nodes > budget.nodes { throw budget.refuseNodes(expandingAliases: false) }
        var documents: [Value] = []
        do {
            // Yams' document sequence swallows parse errors; the parser itself throws them.
            // No regex resolver: `PlainScalar` types plain scalars by hand,
            // which is most of the parse time saved.
            let parser = try Parser(yaml: text, resolver: .basic)
            // Counted on Yams' trees, where an alias shares its anchor's node,
            // before any alias is expanded into a `Value`.
            var counter = ExpansionCounter(budget: budget)
            var nodes = 0
            while let node = try parser.nextRoot() {
                try counter.add(node)
                let value = try convert(node, depth: 0, nodes: &nodes, budget: budget)
                if value != .null { documents.append(value) }
            }
        } catch let error as ParseError {
            throw error
        } catch let error as YamlError {
            throw ParseError("not valid YAML: \(Self.describe(error))")
        }
        return documents
    }

    /// An upper bound on how deeply `text` can nest, found without parsing:
    /// block nesting needs indentation or `- ` markers, flow nesting needs
    /// brackets. Only used to refuse pathological input early.
    static func estimatedYAMLDepth(_ text: String) -> Int {
        var deepest = 0
        var flow = 0
        for line in text.utf8.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false) {
            var indent = 0
            var markers = 0
            var leading = true
            var previous: UInt8 = 0
            for byte in line {
                switch byte {
                case UInt8(ascii: " ") where leading: indent += 1
                case UInt8(ascii: "-") where leading || previous == UInt8(ascii: " "): markers += 1; leading = false
                case UInt8(ascii: "?") where leading: markers += 1; leading = false
                case UInt8(ascii: "["), UInt8(ascii: "{"): flow += 1; leading = false
                case UInt8(ascii: "]"), UInt8(ascii: "}"): flow = max(0, flow - 1); leading = false
                default: leading = false
                }
                previous = byte
            }
            deepest = max(deepest, indent / 2 + markers + flow)
        }
        return deepest
    }

    static func describe(_ error: YamlError) -> String {
        switch error {
        case .scanner(let context, let problem, let mark, _), .parser(let context, let problem, let mark, _):
            let where_ = "line \(mark.line), column \(mark.column)"
            if let context { return "\(problem) \(context.text) at \(where_)" }
            return "\(problem) at \(where_)"
        default:
            return String(describing: error)
        }
    }

    static func convert(_ node: Node, depth: Int, nodes: inout Int, budget: Budget = .standard) throws -> Value {
        nodes += 1
        if nodes > budget.nodes { throw budget.refuseNodes(expandingAliases: true) }
        if depth > budget.depth { throw budget.refuseDepth() }
        switch node {
        case .scalar(let scalar):
            return scalarValue(scalar)
        case .sequence(let sequence):
            return .array(try sequence.map { try convert($0, depth: depth + 1, nodes: &nodes, budget: budget) })
        case .mapping(let mapping):
            var object = Value.Object()
            var merged: [Value.Object] = []
            for (key, value) in mapping {
                let name: String
                switch key {
                case .scalar(let scalar): name = scalar.string
                default: throw ParseError("a mapping key must be a plain value, not a list or an object")
                }
                if name == "<<", case .scalar(let scalar) = key, scalar.style == .plain || scalar.style == .any {
                    // A YAML merge key: the keys of the mapping(s) it names,
                    // unless this mapping sets them itself.
                    switch try convert(value, depth: depth + 1, nodes: &nodes, budget: budget) {
                    case .object(let source): merged.append(source)
                    case .array(let sources): merged += sources.compactMap(\.objectValue)
                    default: throw ParseError("a merge key (<<) must name a mapping or a list of mappings")
                    }
                    continue
                }
                if object[name] != nil {
                    throw ParseError("key \"\(name)\" appears twice in one mapping")
                }
                object[name] = try convert(value, depth: depth + 1, nodes: &nodes, budget: budget)
            }
            for source in merged {
                for (key, value) in source.pairs where object[key] == nil { object[key] = value }
            }
            return .object(object)
        case .alias:
            throw ParseError("unresolved YAML alias")
        }
    }

    static func scalarValue(_ scalar: Node.Scalar) -> Value {
        let text = scalar.string
        let tag = scalar.tag.rawValue
        if tag.isEmpty || tag == "!" {
            // Untagged: quoted scalars are strings; plain ones are typed the
            // YAML 1.1 way, as Kubernetes reads them.
            let plain = tag.isEmpty && (scalar.style == .plain || scalar.style == .any)
            return plain ? PlainScalar.value(of: text) : .string(text)
        }
        switch Tag.Name(rawValue: tag) {
        case .str: return .string(text)
        case .null: return .null
        case .bool, .int, .float: return PlainScalar.value(of: text)
        default: return .string(text)
        }
    }

    /// Renders documents as YAML, separated by `---`.
    public static func yaml(_ documents: [Value]) throws -> String {
        let nodes = documents.map(yamlNode)
        return try Yams.serialize(nodes: nodes, indent: 2, width: -1, allowUnicode: true,
                                  explicitStart: documents.count > 1)
    }

    static func yamlNode(_ value: Value) -> Node {
        switch value {
        case .null: return Node("null", Tag(.null))
        case .bool(let bool): return Node(bool ? "true" : "false", Tag(.bool))
        case .integer(let integer): return Node(String(integer), Tag(.int))
        case .double(let double): return Node(formatDouble(double), Tag(.float))
        case .string(let string):
            // A string that would read back as a number, boolean or null must
            // be quoted, or `correlation: "25"` would come back as 25.
            let resolved = Resolver.default.resolveTag(of: Node(string))
            let style: Node.Scalar.Style = resolved == .str ? .any : .doubleQuoted
            return .scalar(Node.Scalar(string, Tag(.str), style))
        case .array(let values):
            return .sequence(Node.Sequence(values.map(yamlNode), Tag(.seq), .block))
        case .object(let object):
            return .mapping(Node.Mapping(object.pairs.map { (Node($0.key), yamlNode($0.value)) }, Tag(.map), .block))
        }
    }

    static func formatDouble(_ double: Double) -> String {
        if double.isNaN { return ".nan" }
        if double.isInfinite { return double < 0 ? "-.inf" : ".inf" }
        if double.rounded() == double, abs(double) < 1e15 { return String(Int(double)) + ".0" }
        return String(double)
    }

    /// Renders documents as JSON: one object, or a Kubernetes `List` when
    /// there are several.
    public static func json(_ documents: [Value]) -> String {
        let value: Value
        if documents.count == 1 {
            value = documents[0]
        } else {
            value = .object(Value.Object([("apiVersion", .string("v1")), ("kind", .string("List")),
                                          ("items", .array(documents))]))
        }
        var out = ""
        writeJSON(value, indent: 0, into: &out)
        return out + "\n"
    }

    static func writeJSON(_ value: Value, indent: Int, into out: inout String) {
        let pad = String(repeating: "  ", count: indent + 1)
        let closePad = String(repeating: "  ", count: indent)
        switch value {
        case .null: out += "null"
        case .bool(let bool): out += bool ? "true" : "false"
        case .integer(let integer): out += String(integer)
        case .double(let double): out += double.isFinite ? formatDouble(double) : "null"
        case .string(let string): out += jsonQuoted(string)
        case .array(let values):
            if values.isEmpty { out += "[]"; return }
            out += "[\n"
            for (position, element) in values.enumerated() {
                out += pad
                writeJSON(element, indent: indent + 1, into: &out)
                out += position == values.count - 1 ? "\n" : ",\n"
            }
            out += closePad + "]"
        case .object(let object):
            if object.isEmpty { out += "{}"; return }
            out += "{\n"
            for (position, pair) in object.pairs.enumerated() {
                out += pad + jsonQuoted(pair.key) + ": "
                writeJSON(pair.value, indent: indent + 1, into: &out)
                out += position == object.count - 1 ? "\n" : ",\n"
            }
            out += closePad + "}"
        }
    }

    static func jsonQuoted(_ string: String) -> String {
        var out = "\""
        for scalar in string.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case _ where scalar.value < 0x20:
                let hex = String(scalar.value, radix: 16)
                out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
            default: out.unicodeScalars.append(scalar)
            }
        }
        return out + "\""
    }
}

/// A strict JSON parser that keeps key order and tells integers from
/// fractions, which Foundation's does not.
struct JSONParser {
    let bytes: [UInt8]
    let budget: DocumentText.Budget
    var position = 0
    /// Values read so far: a megabyte of `[1,1,1,...]` stops at the budget.
    var nodes = 0

    init(text: Substring, budget: DocumentText.Budget = .standard) {
        bytes = Array(text.utf8)
        self.budget = budget
    }

    mutating func parseDocument() throws -> Value {
        let value = try parseValue(depth: 0)
        skipSpace()
        guard position == bytes.count else { throw error("unexpected text after the JSON value") }
        return value
    }

    func error(_ message: String) -> DocumentText.ParseError {
        var line = 1, column = 1
        for byte in bytes[..<min(position, bytes.count)] {
            if byte == UInt8(ascii: "\n") { line += 1; column = 1 } else { column += 1 }
        }
        return DocumentText.ParseError("not valid JSON: \(message) at line \(line), column \(column)")
    }

    mutating func skipSpace() {
        while position < bytes.count, [0x20, 0x0A, 0x0D, 0x09].contains(bytes[position]) { position += 1 }
    }

    mutating func parseValue(depth: Int) throws -> Value {
        guard depth <= budget.depth else { throw budget.refuseDepth() }
        nodes += 1
        if nodes > budget.nodes { throw budget.refuseNodes(expandingAliases: false) }
        skipSpace()
        guard position < bytes.count else { throw error("unexpected end of input") }
        switch bytes[position] {
        case UInt8(ascii: "{"):
            position += 1
            var object = Value.Object()
            skipSpace()
            if position < bytes.count, bytes[position] == UInt8(ascii: "}") { position += 1; return .object(object) }
            while true {
                skipSpace()
                guard position < bytes.count, bytes[position] == UInt8(ascii: "\"") else { throw error("expected a key") }
                let key = try parseString()
                skipSpace()
                guard position < bytes.count, bytes[position] == UInt8(ascii: ":") else { throw error("expected ':'") }
                position += 1
                if object[key] != nil { throw error("key \"\(key)\" appears twice") }
                object[key] = try parseValue(depth: depth + 1)
                skipSpace()
                guard position < bytes.count else { throw error("unexpected end of input") }
                if bytes[position] == UInt8(ascii: ",") { position += 1; continue }
                if bytes[position] == UInt8(ascii: "}") { position += 1; return .object(object) }
                throw error("expected ',' or '}'")
            }
        case UInt8(ascii: "["):
            position += 1
            var values: [Value] = []
            skipSpace()
            if position < bytes.count, bytes[position] == UInt8(ascii: "]") { position += 1; return .array(values) }
            while true {
                values.append(try parseValue(depth: depth + 1))
                skipSpace()
                guard position < bytes.count else { throw error("unexpected end of input") }
                if bytes[position] == UInt8(ascii: ",") { position += 1; continue }
                if bytes[position] == UInt8(ascii: "]") { position += 1; return .array(values) }
                throw error("expected ',' or ']'")
            }
        case UInt8(ascii: "\""):
            return .string(try parseString())
        case UInt8(ascii: "t"): return try literal("true", .bool(true))
        case UInt8(ascii: "f"): return try literal("false", .bool(false))
        case UInt8(ascii: "n"): return try literal("null", .null)
        default:
            return try parseNumber()
        }
    }

    mutating func literal(_ word: String, _ value: Value) throws -> Value {
        let utf8 = Array(word.utf8)
        guard position + utf8.count <= bytes.count, Array(bytes[position..<position + utf8.count]) == utf8 else {
            throw error("unexpected character")
        }
        position += utf8.count
        return value
    }

    mutating func parseNumber() throws -> Value {
        let start = position
        var isInteger = true
        while position < bytes.count {
            let byte = bytes[position]
            if (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte) || byte == UInt8(ascii: "-") {
                position += 1
            } else if byte == UInt8(ascii: ".") || byte == UInt8(ascii: "e") || byte == UInt8(ascii: "E")
                        || byte == UInt8(ascii: "+") {
                isInteger = false
                position += 1
            } else {
                break
            }
        }
        let text = String(decoding: bytes[start..<position], as: UTF8.self)
        if text.isEmpty { throw error("unexpected character") }
        if isInteger, let integer = Int(text) { return .integer(integer) }
        if let double = Double(text), double.isFinite { return .double(double) }
        throw error("\"\(text)\" is not a number")
    }

    mutating func parseString() throws -> String {
        position += 1
        var scalars = String.UnicodeScalarView()
        var run = position
        func flush(_ end: Int, into scalars: inout String.UnicodeScalarView) {
            scalars.append(contentsOf: String(decoding: bytes[run..<end], as: UTF8.self).unicodeScalars)
        }
        while position < bytes.count {
            let byte = bytes[position]
            if byte == UInt8(ascii: "\"") {
                flush(position, into: &scalars)
                position += 1
                return String(scalars)
            }
            if byte < 0x20 { throw error("control character in a string") }
            if byte == UInt8(ascii: "\\") {
                flush(position, into: &scalars)
                position += 1
                guard position < bytes.count else { break }
                let escape = bytes[position]
                position += 1
                switch escape {
                case UInt8(ascii: "\""): scalars.append("\"")
                case UInt8(ascii: "\\"): scalars.append("\\")
                case UInt8(ascii: "/"): scalars.append("/")
                case UInt8(ascii: "b"): scalars.append("\u{08}")
                case UInt8(ascii: "f"): scalars.append("\u{0C}")
                case UInt8(ascii: "n"): scalars.append("\n")
                case UInt8(ascii: "r"): scalars.append("\r")
                case UInt8(ascii: "t"): scalars.append("\t")
                case UInt8(ascii: "u"):
                    var code = try hex4()
                    if (0xD800...0xDBFF).contains(code), position + 1 < bytes.count,
                       bytes[position] == UInt8(ascii: "\\"), bytes[position + 1] == UInt8(ascii: "u") {
                        position += 2
                        let low = try hex4()
                        code = 0x10000 + ((code - 0xD800) << 10) + (low - 0xDC00)
                    }
                    scalars.append(Unicode.Scalar(code) ?? "\u{FFFD}")
                default: throw error("bad escape in a string")
                }
                run = position
                continue
            }
            position += 1
        }
        throw error("unterminated string")
    }

    mutating func hex4() throws -> UInt32 {
        guard position + 4 <= bytes.count,
              let code = UInt32(String(decoding: bytes[position..<position + 4], as: UTF8.self), radix: 16) else {
            throw error("bad \\u escape")
        }
        position += 4
        return code
    }
}

/// YAML 1.1 typing of plain scalars (what Yams' regex resolver and the
/// Kubernetes YAML reader do), written out by hand because it runs for every
/// scalar of every document.
enum PlainScalar {
    static let nulls: Set<String> = ["", "~", "null", "Null", "NULL"]
    static let trues: Set<String> = ["true", "True", "TRUE", "yes", "Yes", "YES", "on", "On", "ON"]
    static let falses: Set<String> = ["false", "False", "FALSE", "no", "No", "NO", "off", "Off", "OFF"]

    static func value(of text: String) -> Value {
        guard let first = text.utf8.first else { return .null }
        // Only these can start a null, a boolean or a number.
        let digit = first >= UInt8(ascii: "0") && first <= UInt8(ascii: "9")
        if !digit && !"~nNtTfFyYoO+-.".utf8.contains(first) { return .string(text) }
        if nulls.contains(text) { return .null }
        if trues.contains(text) { return .bool(true) }
        if falses.contains(text) { return .bool(false) }
        if let integer = integer(text) { return integer }
        if let double = float(text) { return .double(double) }
        return .string(text)
    }

    static func integer(_ text: String) -> Value? {
        var body = Substring(text)
        var negative = false
        if body.first == "-" || body.first == "+" {
            negative = body.first == "-"
            body = body.dropFirst()
        }
        guard let lead = body.first, lead.isASCII, lead.isNumber else { return nil }
        var radix = 10
        if body.hasPrefix("0x") { radix = 16; body = body.dropFirst(2) }
        else if body.hasPrefix("0b") { radix = 2; body = body.dropFirst(2) }
        else if body.hasPrefix("0o") { radix = 8; body = body.dropFirst(2) }
        else if body.count > 1 && body.first == "0" { radix = 8; body = body.dropFirst() }
        let digits = body.filter { $0 != "_" }
        guard !digits.isEmpty, digits.allSatisfy({ $0.isHexDigit }) else { return nil }
        guard let magnitude = UInt64(digits, radix: radix) else {
            // Too large for 64 bits: a decimal still reads as a (huge) number.
            if radix == 10, digits.allSatisfy(\.isNumber), let double = Double(digits) {
                return .double(negative ? -double : double)
            }
            return nil
        }
        if negative {
            return magnitude <= UInt64(Int.max) + 1 ? .integer(magnitude == UInt64(Int.max) + 1 ? Int.min : -Int(magnitude))
                : .double(-Double(magnitude))
        }
        return magnitude <= UInt64(Int.max) ? .integer(Int(magnitude)) : .double(Double(magnitude))
    }

    static func float(_ text: String) -> Double? {
        switch text {
        case ".inf", ".Inf", ".INF", "+.inf", "+.Inf", "+.INF": return .infinity
        case "-.inf", "-.Inf", "-.INF": return -.infinity
        case ".nan", ".NaN", ".NAN": return .nan
        default: break
        }
        // [-+]? (digits[.digits?] | .digits) ([eE][-+]?digits)?
        var sawDigit = false
        for (position, character) in text.enumerated() {
            switch character {
            case "0"..."9": sawDigit = true
            case "_", ".", "e", "E": continue
            case "+", "-": if position != 0 && !"eE".contains(Array(text)[position - 1]) { return nil }
            default: return nil
            }
        }
        guard sawDigit else { return nil }
        return Double(String(text.filter { $0 != "_" }))
    }
}
