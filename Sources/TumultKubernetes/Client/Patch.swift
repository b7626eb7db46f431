import TumultModel

/// A change sent with PATCH: only the fields named travel, so it does not race
/// with other writers the way a read-modify-PUT does.
public enum Patch: Sendable, Hashable {
    /// RFC 7386: objects merge, `null` deletes a key, arrays are replaced whole.
    case merge(Value)
    /// RFC 6902: explicit operations; `test` makes the patch conditional.
    case json([JSONPatchOperation])

    var contentType: String {
        switch self {
        case .merge: "application/merge-patch+json"
        case .json: "application/json-patch+json"
        }
    }
}

/// One RFC 6902 operation. `path` is a JSON pointer (`/metadata/finalizers/0`;
/// `~1` stands for `/` inside a key).
public struct JSONPatchOperation: Codable, Sendable, Hashable {
    public enum Operation: String, Codable, Sendable, Hashable {
        case add, remove, replace, test, move, copy
    }

    public var op: Operation
    public var path: String
    public var value: Value?
    /// The source of `move` and `copy`.
    public var from: String?

    public init(op: Operation, path: String, value: Value? = nil, from: String? = nil) {
        self.op = op
        self.path = path
        self.value = value
        self.from = from
    }

    public static func add(_ path: String, _ value: Value) -> Self { Self(op: .add, path: path, value: value) }
    public static func remove(_ path: String) -> Self { Self(op: .remove, path: path) }
    public static func replace(_ path: String, _ value: Value) -> Self { Self(op: .replace, path: path, value: value) }
    public static func test(_ path: String, _ value: Value) -> Self { Self(op: .test, path: path, value: value) }

    /// Escapes a key for use as one segment of a JSON pointer.
    public static func escape(_ key: String) -> String {
        key.replacingOccurrences(of: "~", with: "~0").replacingOccurrences(of: "/", with: "~1")
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(op, forKey: .op)
        try container.encode(path, forKey: .path)
        if let value {
            try container.encode(value, forKey: .value)
        } else if op == .add || op == .replace || op == .test {
            // These need a value; a nil one means JSON null.
            try container.encodeNil(forKey: .value)
        }
        try container.encodeIfPresent(from, forKey: .from)
    }
}
