import Foundation

/// Helpers over Foundation's JSON trees (`[String: Any]`, `[Any]`, String,
/// numbers, Bool, NSNull): the simulation stores arbitrary objects, so it
/// works on untyped trees rather than Codable types.
enum JSONValue {
    /// Parses a request body; anything but valid JSON is a 400, as the apiserver answers.
    static func parse(_ data: Data) throws -> Any {
        do {
            return try JSONSerialization.jsonObject(with: data, options: [.fragmentsAllowed])
        } catch {
            throw APIError.badRequest("json: cannot unmarshal request body: \(error.localizedDescription)")
        }
    }

    /// Parses a body that must be one object (every Kubernetes resource is).
    static func parseObject(_ data: Data) throws -> [String: Any] {
        guard let object = try parse(data) as? [String: Any] else {
            throw APIError.badRequest("the request body is not a JSON object")
        }
        return object
    }

    /// Serialises with sorted keys so that equal trees give equal bytes:
    /// change detection (generation, no-op updates) compares these bytes.
    static func data(_ value: Any) -> Data {
        guard JSONSerialization.isValidJSONObject(["v": value]) else { return Data("null".utf8) }
        return (try? JSONSerialization.data(withJSONObject: value,
                                            options: [.sortedKeys, .withoutEscapingSlashes, .fragmentsAllowed]))
            ?? Data("null".utf8)
    }

    /// Structural equality through the canonical serialisation.
    static func equal(_ lhs: Any?, _ rhs: Any?) -> Bool {
        switch (lhs, rhs) {
        case (nil, nil): return true
        case (nil, _), (_, nil): return false
        case let (left?, right?): return data(left) == data(right)
        }
    }

    /// The string at a dotted path (`metadata.name`, `spec.nodeName`), or
    /// "" when absent: how the apiserver's field selectors see a missing field.
    static func string(at path: String, in object: [String: Any]) -> String {
        var node: Any = object
        for key in path.split(separator: ".") {
            guard let dictionary = node as? [String: Any], let child = dictionary[String(key)] else { return "" }
            node = child
        }
        switch node {
        case let string as String: return string
        case let bool as Bool: return bool ? "true" : "false"
        case let number as NSNumber: return number.stringValue
        default: return ""
        }
    }

    /// The current time the way Kubernetes writes timestamps (RFC 3339, seconds).
    static func timestamp(_ date: Date = Date()) -> String {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime]
        formatter.timeZone = TimeZone(identifier: "UTC")
        return formatter.string(from: date)
    }
}

extension Dictionary where Key == String, Value == Any {
    /// `metadata` as a dictionary (empty when absent).
    var metadata: [String: Any] {
        get { self["metadata"] as? [String: Any] ?? [:] }
        set { self["metadata"] = newValue }
    }
}
