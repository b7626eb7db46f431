/// Reads an expression into `WorkflowExpression.Node`s with expr's grammar:
/// its tokens, its operator precedences (`or` 10, `and` 15, comparisons and
/// the string and membership operators 20, `..` 25, `+ -` 30, unary `not !`
/// 50, `* / %` 60, `**` 70 and right-associative, unary `- +` 500) and its
/// string escapes (Go's). Errors name the column, counted from 1:
/// `"exitCode = 0": column 10: unexpected "=" (compare with "==")`.
struct ExpressionParser {
    typealias Node = WorkflowExpression.Node
    typealias Operand = WorkflowExpression.Operand

    struct Token: Equatable {
        enum Kind: Equatable {
            case number(Operand)
            case string(String)
            case name(String)
            case op(String)
            case bracket(Character)
            case comma
            case end
        }

        var kind: Kind
        var column: Int
        var text: String
    }

    static let binaryPrecedence: [String: Int] = [
        "or": 10, "||": 10, "and": 15, "&&": 15,
        "==": 20, "!=": 20, "<": 20, ">": 20, "<=": 20, ">=": 20,
        "in": 20, "not in": 20, "matches": 20, "contains": 20, "startsWith": 20, "endsWith": 20,
        "..": 25, "+": 30, "-": 30, "*": 60, "/": 60, "%": 60, "**": 70,
    ]
    static let unaryPrecedence: [String: Int] = ["not": 50, "!": 50, "-": 500, "+": 500]
    static let keywordOperators: Set<String> = ["in", "or", "and", "matches", "contains", "startsWith", "endsWith"]
    /// expr's other built-in functions, named in the error when used.
    static let unsupportedFunctions: Set<String> = ["all", "none", "any", "one", "filter", "map", "count"]

    let text: String
    private var tokens: [Token] = []
    private var position = 0

    init(_ text: String) throws(InvalidValue) {
        self.text = text
        tokens = try Self.tokenize(text)
    }

    private var current: Token { tokens[position] }

    mutating func parseAll() throws(InvalidValue) -> Node {
        let node = try expression(0)
        guard current.kind == .end else { throw unexpected(current) }
        return node
    }

    // MARK: Parsing

    private mutating func expression(_ minimum: Int) throws(InvalidValue) -> Node {
        var left = try primary()
        while case .op(let op) = current.kind, let precedence = Self.binaryPrecedence[op], precedence >= minimum {
            let token = current
            position += 1
            let right = try expression(op == "**" ? precedence : precedence + 1)
            if op == "matches", case .literal(.string(let pattern)) = right {
                do throws(InvalidValue) { _ = try Self.regex(pattern) } catch { throw failure(error.message, at: token.column) }
            }
            left = .binary(op, left, right)
        }
        return left
    }

    private mutating func primary() throws(InvalidValue) -> Node {
        let token = current
        if case .op(let op) = token.kind, let precedence = Self.unaryPrecedence[op] {
            position += 1
            return .unary(op, try expression(precedence))
        }
        switch token.kind {
        case .bracket("("):
            position += 1
            let inner = try expression(0)
            try expect(")")
            return inner
        case .bracket("["):
            position += 1
            var elements: [Node] = []
            if current.kind != .bracket("]") {
                elements.append(try expression(0))
                while current.kind == .comma {
                    position += 1
                    elements.append(try expression(0))
                }
            }
            try expect("]")
            return .list(elements)
        case .number(let value):
            position += 1
            return .literal(value)
        case .string(let value):
            position += 1
            return .literal(.string(value))
        case .name(let name):
            position += 1
            if current.kind == .bracket("(") {
                guard name == "len" else {
                    let problem = Self.unsupportedFunctions.contains(name)
                        ? "\(name)() is not supported in a branch expression"
                        : "unknown function \(name)(); the only function is len()"
                    throw failure(problem, at: token.column)
                }
                position += 1
                let argument = try expression(0)
                try expect(")")
                return .length(argument)
            }
            switch name {
            case "true": return .literal(.bool(true))
            case "false": return .literal(.bool(false))
            case "nil": return .literal(.null)
            case _ where WorkflowExpression.names.contains(name): return .name(name)
            default:
                throw failure("unknown name \"\(name)\"; an expression can use exitCode and stdout", at: token.column)
            }
        default:
            throw unexpected(token)
        }
    }

    private mutating func expect(_ bracket: Character) throws(InvalidValue) {
        guard current.kind == .bracket(bracket) else {
            if current.kind == .end { throw failure("missing \"\(bracket)\" at the end", at: current.column) }
            throw unexpected(current)
        }
        position += 1
    }

    private func unexpected(_ token: Token) -> InvalidValue {
        if token.kind == .end { return failure("the expression ends too early", at: token.column) }
        return failure("unexpected \"\(token.text)\"", at: token.column)
    }

    private func failure(_ problem: String, at column: Int) -> InvalidValue {
        InvalidValue("\"\(text)\": column \(column): \(problem)")
    }

    // MARK: Tokens

    static func tokenize(_ text: String) throws(InvalidValue) -> [Token] {
        let characters = Array(text)
        var tokens: [Token] = []
        var index = 0
        func fail(_ problem: String, _ column: Int) -> InvalidValue {
            InvalidValue("\"\(text)\": column \(column): \(problem)")
        }
        func isIdentifier(_ character: Character) -> Bool {
            character == "_" || character == "$" || character.isLetter || character.isNumber
        }
        while index < characters.count {
            let start = index
            let character = characters[index]
            let column = start + 1
            func emit(_ kind: Token.Kind, length: Int) {
                tokens.append(Token(kind: kind, column: column, text: String(characters[start..<(start + length)])))
                index = start + length
            }
            let next: Character? = index + 1 < characters.count ? characters[index + 1] : nil
            if character.isWhitespace {
                index += 1
            } else if character == "\"" || character == "'" {
                var end = index + 1
                while end < characters.count && characters[end] != character {
                    end += characters[end] == "\\" ? 2 : 1
                }
                guard end < characters.count else { throw fail("a string is not closed", column) }
                let body = String(characters[(start + 1)..<end])
                guard let value = unescape(body) else { throw fail("the string \(character)\(body)\(character) has an escape Go does not know", column) }
                emit(.string(value), length: end - start + 1)
            } else if character.isASCII && character.isNumber || (character == "." && next?.isASCII == true && next?.isNumber == true) {
                let (value, length) = try number(characters, from: start, fail: { fail($0, column) })
                emit(.number(value), length: length)
            } else if character == "." {
                guard next == "." else { throw fail("unexpected \".\" (fields cannot be read in a branch expression)", column) }
                emit(.op(".."), length: 2)
            } else if isIdentifier(character) {
                var end = index
                while end < characters.count && isIdentifier(characters[end]) { end += 1 }
                let word = String(characters[start..<end])
                if word == "not" {
                    // `not in` is one operator, as in expr's lexer.
                    var after = end
                    while after < characters.count && characters[after].isWhitespace { after += 1 }
                    if after > end, after + 1 < characters.count, characters[after] == "i", characters[after + 1] == "n",
                       after + 2 == characters.count || !isIdentifier(characters[after + 2]) {
                        tokens.append(Token(kind: .op("not in"), column: column, text: String(characters[start..<(after + 2)])))
                        index = after + 2
                        continue
                    }
                    emit(.op("not"), length: 3)
                } else if keywordOperators.contains(word) {
                    emit(.op(word), length: end - start)
                } else {
                    emit(.name(word), length: end - start)
                }
            } else if "()[]".contains(character) {
                emit(.bracket(character), length: 1)
            } else if character == "," {
                emit(.comma, length: 1)
            } else if let next, ["&&", "||", "==", "!=", "<=", ">=", "**"].contains(String([character, next])) {
                emit(.op(String([character, next])), length: 2)
            } else if "<>!*+-/%".contains(character) {
                emit(.op(String(character)), length: 1)
            } else if character == "=" {
                throw fail("unexpected \"=\" (compare with \"==\")", column)
            } else if character == "&" || character == "|" {
                throw fail("unexpected \"\(character)\" (use \"\(character)\(character)\")", column)
            } else if "?:{}#".contains(character) {
                throw fail("\"\(character)\" is not supported in a branch expression", column)
            } else {
                throw fail("unexpected character \"\(character)\"", column)
            }
        }
        tokens.append(Token(kind: .end, column: characters.count + 1, text: ""))
        return tokens
    }

    /// An integer (decimal, `0x`, `0o`, `0b`, with `_` separators) or a float
    /// (`2.5`, `.5`, `1e3`); `1..3` is a range, not the float `1.`.
    private static func number(_ characters: [Character], from start: Int,
                               fail: (String) -> InvalidValue) throws(InvalidValue) -> (Operand, Int) {
        var index = start
        var radix = 10
        func at(_ position: Int) -> Character? { position < characters.count ? characters[position] : nil }
        if at(index) == "0", let prefix = at(index + 1)?.lowercased(), ["x", "o", "b"].contains(prefix) {
            radix = prefix == "x" ? 16 : (prefix == "o" ? 8 : 2)
            index += 2
        }
        func isDigit(_ character: Character?) -> Bool {
            guard let character else { return false }
            return character == "_" || character.hexDigitValue.map { $0 < radix } == true
        }
        while isDigit(at(index)) { index += 1 }
        var isFloat = false
        if radix == 10 {
            if at(index) == ".", at(index + 1) != "." {
                isFloat = true
                index += 1
                while isDigit(at(index)) { index += 1 }
            }
            if at(index) == "e" || at(index) == "E" {
                isFloat = true
                index += 1
                if at(index) == "+" || at(index) == "-" { index += 1 }
                while isDigit(at(index)) { index += 1 }
            }
        }
        let written = String(characters[start..<index])
        if let following = at(index), following == "_" || following == "$" || following.isLetter || following.isNumber {
            throw fail("bad number \"\(written)\(following)\"")
        }
        let digits = String(written.filter { $0 != "_" })
        if isFloat {
            guard let value = Double(digits) else { throw fail("bad number \"\(written)\"") }
            return (.float(value), index - start)
        }
        let body = radix == 10 ? Substring(digits) : digits.dropFirst(2)
        guard let value = Int(body, radix: radix) else {
            throw fail(body.isEmpty ? "bad number \"\(written)\"" : "the integer \(written) is too large")
        }
        return (.int(value), index - start)
    }

    /// Go's string escapes, as expr's lexer reads them; nil for an unknown one.
    static func unescape(_ body: String) -> String? {
        let scalars = Array(body.unicodeScalars)
        var result = String.UnicodeScalarView()
        var index = 0
        while index < scalars.count {
            let scalar = scalars[index]
            index += 1
            guard scalar == "\\" else {
                result.append(scalar)
                continue
            }
            guard index < scalars.count else { return nil }
            let code = scalars[index]
            index += 1
            let simple: [Unicode.Scalar: Unicode.Scalar] = [
                "a": "\u{07}", "b": "\u{08}", "f": "\u{0C}", "n": "\n", "r": "\r", "t": "\t", "v": "\u{0B}",
                "\\": "\\", "'": "'", "\"": "\"", "`": "`", "?": "?",
            ]
            if let plain = simple[code] {
                result.append(plain)
                continue
            }
            // `\xHH`, `\uHHHH`, `\UHHHHHHHH`, or three octal digits `\[0-3][0-7][0-7]`.
            var digitCount = 3
            var radix: UInt32 = 16
            switch code {
            case "x", "X": digitCount = 2
            case "u": digitCount = 4
            case "U": digitCount = 8
            case "0", "1", "2", "3":
                radix = 8
                index -= 1
            default: return nil
            }
            guard index + digitCount <= scalars.count else { return nil }
            var value: UInt32 = 0
            for digit in scalars[index..<(index + digitCount)] {
                guard let number = Character(digit).hexDigitValue, UInt32(number) < radix else { return nil }
                value = value * radix + UInt32(number)
            }
            index += digitCount
            guard let decoded = Unicode.Scalar(value) else { return nil }
            result.append(decoded)
        }
        return String(result)
    }

    /// A compiled `matches` pattern: found anywhere in the text (Go's
    /// `MatchString`), matching scalar by scalar as Go matches runes.
    struct Pattern {
        let regex: Regex<AnyRegexOutput>

        func matches(_ text: String) -> Bool {
            (try? regex.firstMatch(in: text)) != nil
        }
    }

    static func regex(_ pattern: String) throws(InvalidValue) -> Pattern {
        do {
            return Pattern(regex: try Regex(pattern).matchingSemantics(.unicodeScalar))
        } catch {
            throw InvalidValue("\"\(pattern)\" is not a regular expression: \(error)")
        }
    }
}
