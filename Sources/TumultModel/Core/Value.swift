/// A document tree as it was written: the common shape of YAML and JSON.
///
/// Decoding goes through this tree rather than straight from text so that the
/// decoder can see every key (to warn about unknown fields) and every scalar's
/// real type (to refuse `value: 2` where Kubernetes wants the string `"2"`).
public indirect enum Value: Sendable, Hashable {
    case null
    case bool(Bool)
    case integer(Int)
    case double(Double)
    case string(String)
    case array([Value])
    case object(Object)

    /// A mapping that keeps its keys in the order they were written, so that
    /// `tumult convert` prints documents the way people wrote them.
    public struct Object: Sendable, Hashable {
        public private(set) var pairs: [(key: String, value: Value)]
        private var index: [String: Int]

        public init() {
            pairs = []
            index = [:]
        }

        public init(_ pairs: [(String, Value)]) {
            self.init()
            for (key, value) in pairs { self[key] = value }
        }

        public var keys: [String] { pairs.map(\.key) }
        public var count: Int { pairs.count }
        public var isEmpty: Bool { pairs.isEmpty }

        public subscript(key: String) -> Value? {
            get { index[key].map { pairs[$0].value } }
            set {
                if let position = index[key] {
                    if let newValue {
                        pairs[position].value = newValue
                    } else {
                        pairs.remove(at: position)
                        index = Dictionary(uniqueKeysWithValues: pairs.enumerated().map { ($1.key, $0) })
                    }
                } else if let newValue {
                    index[key] = pairs.count
                    pairs.append((key, newValue))
                }
            }
        }

        public static func == (lhs: Object, rhs: Object) -> Bool {
            guard lhs.pairs.count == rhs.pairs.count else { return false }
            return lhs.pairs.allSatisfy { rhs[$0.key] == $0.value }
        }

        public func hash(into hasher: inout Hasher) {
            hasher.combine(pairs.count)
            for key in keys.sorted() {
                hasher.combine(key)
                hasher.combine(self[key])
            }
        }
    }

    /// The word used in messages: "a string", "an integer" ...
    public var typeDescription: String {
        switch self {
        case .null: "null"
        case .bool: "a boolean"
        case .integer: "an integer"
        case .double: "a number"
        case .string: "a string"
        case .array: "a list"
        case .object: "an object"
        }
    }

    /// A short rendering of the value for error messages.
    public var brief: String {
        switch self {
        case .null: "null"
        case .bool(let value): String(value)
        case .integer(let value): String(value)
        case .double(let value): String(value)
        case .string(let value):
            value.count > 60 ? "\"\(value.prefix(57))...\"" : "\"\(value)\""
        case .array(let values): "a list of \(values.count)"
        case .object(let object): "an object with \(object.count) keys"
        }
    }

    public var objectValue: Object? {
        if case .object(let object) = self { return object }
        return nil
    }

    public var stringValue: String? {
        if case .string(let string) = self { return string }
        return nil
    }
}
