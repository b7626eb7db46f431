import Foundation

/// A Workflow conditional branch's `expression`, in the part of the expr
/// language (github.com/antonmedv/expr v1.8.9, which Chaos Mesh evaluates
/// branches with) that a branch can use: the task's `exitCode` (an integer)
/// and `stdout` (its output, trimmed), literals, comparisons, `and or not`
/// (`&& || !`), arithmetic, `in` / `not in` a list or range, `contains`,
/// `startsWith`, `endsWith`, `matches` and `len()`.
///
/// It lives in the model so that validation reports a branch that does not
/// parse at its field (`spec.templates[2].conditionalBranches[0].expression`)
/// before anything runs; the workflow engine evaluates the parsed tree.
///
/// Where it differs from expr on purpose: a name other than `exitCode` and
/// `stdout` is a parse error (expr reads it as `nil`, so a typo such as
/// `exitcode == 0` silently never holds); a blank expression always holds, as
/// Chaos Mesh's API documents (expr itself refuses an empty program); regular
/// expressions are Swift's, which agree with Go's RE2 on the syntax people use
/// in branches (classes, anchors, repetition, groups, alternation).
public struct WorkflowExpression: Sendable, Hashable, CustomStringConvertible {
    /// The names an expression can read.
    public static let names = ["exitCode", "stdout"]

    public let text: String
    let root: Node

    /// Parses `text`; the error says what is wrong and at which column.
    public init(parsing text: String) throws(InvalidValue) {
        self.text = text
        if text.allSatisfy(\.isWhitespace) {
            root = .literal(.bool(true))
        } else {
            var parser = try ExpressionParser(text)
            root = try parser.parseAll()
        }
    }

    public var description: String { text }

    /// Whether the expression holds for a task that exited with `exitCode`
    /// and printed `stdout`. Fails, as expr does at run time, when an operator
    /// meets values it cannot take (`stdout > 3`) or the result is not a boolean.
    public func evaluate(exitCode: Int, stdout: String) throws(InvalidValue) -> Bool {
        let environment = Environment(exitCode: exitCode, stdout: stdout)
        guard case .bool(let holds) = try environment.value(of: root) else {
            throw InvalidValue("\"\(text)\" does not give true or false")
        }
        return holds
    }

    /// A parsed expression.
    indirect enum Node: Sendable, Hashable {
        case literal(Operand)
        case name(String)
        case list([Node])
        case length(Node)
        case unary(String, Node)
        case binary(String, Node, Node)
    }

    /// A value while evaluating.
    enum Operand: Sendable, Hashable {
        case int(Int)
        case float(Double)
        case string(String)
        case bool(Bool)
        case list([Operand])
        case null

        var typeName: String {
            switch self {
            case .int: "int"
            case .float: "float"
            case .string: "string"
            case .bool: "bool"
            case .list: "list"
            case .null: "nil"
            }
        }

        var number: Double? {
            switch self {
            case .int(let value): Double(value)
            case .float(let value): value
            default: nil
            }
        }
    }
}

/// The values of the names while one expression is evaluated.
private struct Environment {
    typealias Node = WorkflowExpression.Node
    typealias Operand = WorkflowExpression.Operand

    /// A range (`1..n`) larger than this is refused rather than built.
    static let largestRange = 100_000

    var exitCode: Int
    var stdout: String

    func value(of node: Node) throws(InvalidValue) -> Operand {
        switch node {
        case .literal(let operand):
            return operand
        case .name(let name):
            return name == "exitCode" ? .int(exitCode) : .string(stdout)
        case .list(let elements):
            var values: [Operand] = []
            for element in elements { values.append(try value(of: element)) }
            return .list(values)
        case .length(let argument):
            switch try value(of: argument) {
            case .string(let text): return .int(text.utf8.count)  // Go's len counts bytes
            case .list(let values): return .int(values.count)
            case let other: throw InvalidValue("len() takes a string or a list, not \(other.typeName)")
            }
        case .unary(let op, let operand):
            return try unary(op, try value(of: operand))
        case .binary(let op, let left, let right):
            // `and` / `or` stop at the left side when it decides, as expr does.
            if ["and", "&&", "or", "||"].contains(op) {
                let lhs = try boolean(try value(of: left), op)
                let isAnd = op == "and" || op == "&&"
                if lhs != isAnd { return .bool(lhs) }
                return .bool(try boolean(try value(of: right), op))
            }
            return try binary(op, try value(of: left), try value(of: right))
        }
    }

    private func boolean(_ operand: Operand, _ op: String) throws(InvalidValue) -> Bool {
        guard case .bool(let value) = operand else {
            throw InvalidValue("\"\(op)\" takes true or false, not \(operand.typeName)")
        }
        return value
    }

    private func unary(_ op: String, _ operand: Operand) throws(InvalidValue) -> Operand {
        switch (op, operand) {
        case ("not", .bool(let value)), ("!", .bool(let value)): return .bool(!value)
        case ("-", .int(let value)): return .int(0 &- value)
        case ("-", .float(let value)): return .float(-value)
        case ("+", .int), ("+", .float): return operand
        default: throw InvalidValue("\"\(op)\" cannot be applied to \(operand.typeName)")
        }
    }

    private func binary(_ op: String, _ lhs: Operand, _ rhs: Operand) throws(InvalidValue) -> Operand {
        func mismatch() -> InvalidValue {
            InvalidValue("\"\(op)\" cannot be applied to \(lhs.typeName) and \(rhs.typeName)")
        }
        switch op {
        case "==": return .bool(Self.equal(lhs, rhs))
        case "!=": return .bool(!Self.equal(lhs, rhs))
        case "<", "<=", ">", ">=":
            let order: Int
            if case .string(let a) = lhs, case .string(let b) = rhs {
                // Go compares strings byte by byte.
                order = Array(a.utf8).lexicographicallyPrecedes(Array(b.utf8)) ? -1 : (a.utf8.elementsEqual(b.utf8) ? 0 : 1)
            } else if let a = lhs.number, let b = rhs.number {
                order = a < b ? -1 : (a == b ? 0 : 1)
            } else {
                throw mismatch()
            }
            switch op {
            case "<": return .bool(order < 0)
            case "<=": return .bool(order <= 0)
            case ">": return .bool(order > 0)
            default: return .bool(order >= 0)
            }
        case "in", "not in":
            let found: Bool
            switch rhs {
            case .list(let values): found = values.contains { Self.equal(lhs, $0) }
            case .null: found = false
            default: throw mismatch()
            }
            return .bool(op == "in" ? found : !found)
        case "contains", "startsWith", "endsWith", "matches":
            guard case .string(let text) = lhs, case .string(let other) = rhs else { throw mismatch() }
            let bytes = Array(text.utf8), part = Array(other.utf8)
            switch op {
            case "contains": return .bool(Self.find(part, in: bytes))
            case "startsWith": return .bool(bytes.starts(with: part))
            case "endsWith": return .bool(bytes.reversed().starts(with: part.reversed()))
            default: return .bool(try ExpressionParser.regex(other).matches(text))
            }
        case "..":
            guard case .int(let low) = lhs, case .int(let high) = rhs else { throw mismatch() }
            guard high < low || high - low < Self.largestRange else {
                throw InvalidValue("the range \(low)..\(high) is too large")
            }
            return .list(high < low ? [] : (low...high).map { Operand.int($0) })
        case "+":
            if case .string(let a) = lhs, case .string(let b) = rhs { return .string(a + b) }
            return try arithmetic(op, lhs, rhs, mismatch())
        case "-", "*", "/", "%", "**":
            return try arithmetic(op, lhs, rhs, mismatch())
        default:
            throw InvalidValue("unknown operator \"\(op)\"")
        }
    }

    /// Integers stay integers (Go's wrapping and truncating division), a
    /// float on either side makes a float, `**` is always a float.
    private func arithmetic(_ op: String, _ lhs: Operand, _ rhs: Operand,
                            _ mismatch: InvalidValue) throws(InvalidValue) -> Operand {
        if op != "**", case .int(let a) = lhs, case .int(let b) = rhs {
            switch op {
            case "+": return .int(a &+ b)
            case "-": return .int(a &- b)
            case "*": return .int(a &* b)
            default:
                guard b != 0 else { throw InvalidValue("integer divide by zero") }
                if a == .min && b == -1 { return .int(op == "/" ? a : 0) }
                return .int(op == "/" ? a / b : a % b)
            }
        }
        guard let a = lhs.number, let b = rhs.number, op != "%" else { throw mismatch }
        switch op {
        case "+": return .float(a + b)
        case "-": return .float(a - b)
        case "*": return .float(a * b)
        case "/": return .float(a / b)
        default: return .float(pow(a, b))
        }
    }

    /// expr's equality: numbers by value whatever their type, otherwise the
    /// same type and value; values of different types are simply unequal.
    static func equal(_ lhs: Operand, _ rhs: Operand) -> Bool {
        if let a = lhs.number, let b = rhs.number { return a == b }
        switch (lhs, rhs) {
        case (.string(let a), .string(let b)): return a.utf8.elementsEqual(b.utf8)
        case (.bool(let a), .bool(let b)): return a == b
        case (.null, .null): return true
        case (.list(let a), .list(let b)): return a.count == b.count && zip(a, b).allSatisfy { equal($0, $1) }
        default: return false
        }
    }

    static func find(_ part: [UInt8], in bytes: [UInt8]) -> Bool {
        guard !part.isEmpty else { return true }
        guard part.count <= bytes.count else { return false }
        for start in 0...(bytes.count - part.count) where bytes[start..<(start + part.count)].elementsEqual(part) {
            return true
        }
        return false
    }
}
