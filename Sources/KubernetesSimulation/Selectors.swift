import Foundation

/// A parsed `labelSelector` query: `a=b`, `a==b`, `a!=b`, `a in (x,y)`,
/// `a notin (x)`, `a` (exists) and `!a` (does not exist), comma-joined.
struct LabelSelector: Sendable {
    enum Requirement: Sendable {
        case equals(String, String)
        case notEquals(String, String)
        case isIn(String, Set<String>)
        case notIn(String, Set<String>)
        case exists(String)
        case notExists(String)
    }

    var requirements: [Requirement]

    var isEmpty: Bool { requirements.isEmpty }

    init(parsing text: String) throws {
        requirements = []
        for term in Self.splitTerms(text) {
            let term = term.trimmingCharacters(in: .whitespaces)
            if term.isEmpty { continue }
            requirements.append(try Self.requirement(term))
        }
    }

    func matches(_ labels: [String: String]) -> Bool {
        requirements.allSatisfy { requirement in
            switch requirement {
            case let .equals(key, value): return labels[key] == value
            case let .notEquals(key, value): return labels[key] != value
            case let .isIn(key, values): return labels[key].map(values.contains) ?? false
            case let .notIn(key, values): return labels[key].map { !values.contains($0) } ?? true
            case let .exists(key): return labels[key] != nil
            case let .notExists(key): return labels[key] == nil
            }
        }
    }

    /// Splits on commas outside parentheses (`a in (x,y),b` is two terms).
    private static func splitTerms(_ text: String) -> [String] {
        var terms: [String] = []
        var current = ""
        var depth = 0
        for character in text {
            switch character {
            case "(": depth += 1; current.append(character)
            case ")": depth -= 1; current.append(character)
            case "," where depth == 0: terms.append(current); current = ""
            default: current.append(character)
            }
        }
        terms.append(current)
        return terms
    }

    private static func requirement(_ term: String) throws -> Requirement {
        if let open = term.firstIndex(of: "("), let close = term.lastIndex(of: ")"), open < close {
            let head = term[..<open].split(whereSeparator: \.isWhitespace).map(String.init)
            let values = Set(term[term.index(after: open)..<close].split(separator: ",")
                .map { $0.trimmingCharacters(in: .whitespaces) })
            guard head.count == 2 else { throw APIError.badRequest("unable to parse requirement: \(term)") }
            switch head[1] {
            case "in": return .isIn(head[0], values)
            case "notin": return .notIn(head[0], values)
            default: throw APIError.badRequest("unable to parse requirement: unknown operator \(head[1])")
            }
        }
        if term.hasPrefix("!") {
            return .notExists(String(term.dropFirst()).trimmingCharacters(in: .whitespaces))
        }
        for (symbol, negated) in [("!=", true), ("==", false), ("=", false)] {
            if let range = term.range(of: symbol) {
                let key = term[..<range.lowerBound].trimmingCharacters(in: .whitespaces)
                let value = term[range.upperBound...].trimmingCharacters(in: .whitespaces)
                return negated ? .notEquals(key, value) : .equals(key, value)
            }
        }
        return .exists(term)
    }
}

/// A parsed `fieldSelector` query: `path=value`, `path==value`,
/// `path!=value`, comma-joined. Any dotted path is accepted; the apiserver
/// allows only a few per resource (metadata.name, metadata.namespace,
/// spec.nodeName, status.phase, ...), all of which work here.
struct FieldSelector: Sendable {
    struct Requirement: Sendable {
        var path: String
        var value: String
        var negated: Bool
    }

    var requirements: [Requirement]

    var isEmpty: Bool { requirements.isEmpty }

    init(parsing text: String) throws {
        requirements = []
        for term in text.split(separator: ",") {
            let term = String(term).trimmingCharacters(in: .whitespaces)
            if term.isEmpty { continue }
            var parsed: Requirement?
            for (symbol, negated) in [("!=", true), ("==", false), ("=", false)] {
                if let range = term.range(of: symbol) {
                    parsed = Requirement(path: String(term[..<range.lowerBound]),
                                         value: String(term[range.upperBound...]), negated: negated)
                    break
                }
            }
            guard let parsed else { throw APIError.badRequest("invalid field selector: \(term)") }
            requirements.append(parsed)
        }
    }

    /// The single name a selector pins (`metadata.name=x`), which lets a
    /// lookup skip the scan.
    var pinnedName: String? {
        requirements.first { $0.path == "metadata.name" && !$0.negated }?.value
    }

    func matches(_ object: [String: Any]) -> Bool {
        requirements.allSatisfy { requirement in
            (JSONValue.string(at: requirement.path, in: object) == requirement.value) != requirement.negated
        }
    }
}
