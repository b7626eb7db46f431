import Foundation
import TumultModel

/// Checks a JSON value against a schema of an OpenAPI 3.0 document: the
/// subset of JSON Schema that Tumult's description uses (`$ref` into
/// components, type, format date-time, enum, properties, required,
/// additionalProperties, items, anyOf, minimum, maximum). A keyword it does
/// not know is a problem too, so that the description cannot drift into
/// keywords this check would silently skip.
struct OpenAPISchemaValidator {
    /// The whole document, for `$ref`.
    let document: Value

    static let knownKeywords: Set<String> = [
        "$ref", "type", "format", "description", "enum", "properties", "required", "additionalProperties",
        "items", "anyOf", "minimum", "maximum",
    ]

    /// Every problem of `value`, each with its JSON path; empty when it conforms.
    func problems(_ value: Value, against schema: Value, at path: String = "$") -> [String] {
        guard case .object(let keywords) = schema else { return ["\(path): the schema is not an object"] }
        if let unknown = keywords.keys.first(where: { !Self.knownKeywords.contains($0) }) {
            return ["\(path): the schema uses \(unknown), which this check does not know"]
        }
        if case .string(let reference)? = keywords["$ref"] {
            guard let target = resolve(reference) else { return ["\(path): \(reference) does not resolve"] }
            return problems(value, against: target, at: path)
        }
        if case .array(let choices)? = keywords["anyOf"] {
            let results = choices.map { problems(value, against: $0, at: path) }
            if !results.contains(where: \.isEmpty) {
                return ["\(path): matches none of anyOf (\(results.map { $0.first ?? "" }.joined(separator: "; ")))"]
            }
        }
        if case .array(let allowed)? = keywords["enum"], !allowed.contains(value) {
            return ["\(path): \(value.summary) is not one of \(allowed.map(\.summary).joined(separator: ", "))"]
        }
        guard case .string(let type)? = keywords["type"] else { return [] }
        switch (type, value) {
        case ("string", .string(let text)):
            if case .string("date-time")? = keywords["format"], (try? Date(text, strategy: .iso8601)) == nil {
                return ["\(path): \"\(text)\" is not an RFC 3339 date-time"]
            }
            return []
        case ("integer", .integer(let number)):
            return bounds(Double(number), keywords, path)
        case ("number", .integer(let number)):
            return bounds(Double(number), keywords, path)
        case ("number", .double(let number)):
            return bounds(number, keywords, path)
        case ("boolean", .bool):
            return []
        case ("array", .array(let items)):
            guard let itemSchema = keywords["items"] else { return [] }
            return items.enumerated().flatMap { problems($1, against: itemSchema, at: "\(path)[\($0)]") }
        case ("object", .object(let object)):
            return objectProblems(object, keywords, path)
        default:
            return ["\(path): \(value.summary) is not of type \(type)"]
        }
    }

    func objectProblems(_ object: Value.Object, _ keywords: Value.Object, _ path: String) -> [String] {
        var found: [String] = []
        let properties = keywords["properties"]?.objectValue ?? Value.Object()
        if case .array(let required)? = keywords["required"] {
            for case .string(let name) in required where object[name] == nil {
                found.append("\(path): required key \(name) is missing")
            }
        }
        for (key, member) in object.pairs {
            if let schema = properties[key] {
                found += problems(member, against: schema, at: "\(path).\(key)")
                continue
            }
            switch keywords["additionalProperties"] {
            case .bool(false)?:
                found.append("\(path): key \(key) is not in the schema")
            case .object?:
                found += problems(member, against: keywords["additionalProperties"]!, at: "\(path).\(key)")
            default:
                break
            }
        }
        return found
    }

    func bounds(_ number: Double, _ keywords: Value.Object, _ path: String) -> [String] {
        if case .integer(let minimum)? = keywords["minimum"], number < Double(minimum) { return ["\(path): \(number) < \(minimum)"] }
        if case .integer(let maximum)? = keywords["maximum"], number > Double(maximum) { return ["\(path): \(number) > \(maximum)"] }
        return []
    }

    /// `#/components/schemas/NAME`.
    func resolve(_ reference: String) -> Value? {
        guard reference.hasPrefix("#/") else { return nil }
        var node: Value? = document
        for segment in reference.dropFirst(2).split(separator: "/") {
            node = node?.objectValue?[String(segment)]
        }
        return node
    }
}

extension Value {
    /// A short account of a value for a problem's message.
    var summary: String {
        switch self {
        case .string(let text): "\"\(text.prefix(60))\""
        case .integer(let number): String(number)
        case .double(let number): String(number)
        case .bool(let flag): String(flag)
        case .null: "null"
        case .array(let items): "an array of \(items.count)"
        case .object(let object): "an object with keys \(object.keys.prefix(8).joined(separator: ","))"
        }
    }
}
