/// `Value` is also `Codable` with any coder (JSONDecoder, the REST layer ...),
/// so opaque parts of a document (a Workflow task's Kubernetes container)
/// travel through unchanged. `ValueDecoder` and `ValueEncoder` short-cut it.
extension Value: Codable {
    public init(from decoder: Decoder) throws {
        if let container = try? decoder.container(keyedBy: PathKey.self) {
            var object = Object()
            for key in container.allKeys {
                object[key.stringValue] = try container.decode(Value.self, forKey: key)
            }
            self = .object(object)
            return
        }
        if var container = try? decoder.unkeyedContainer() {
            var values: [Value] = []
            while !container.isAtEnd { values.append(try container.decode(Value.self)) }
            self = .array(values)
            return
        }
        let container = try decoder.singleValueContainer()
        if container.decodeNil() {
            self = .null
        } else if let bool = try? container.decode(Bool.self) {
            self = .bool(bool)
        } else if let integer = try? container.decode(Int.self) {
            self = .integer(integer)
        } else if let double = try? container.decode(Double.self) {
            self = .double(double)
        } else {
            self = .string(try container.decode(String.self))
        }
    }

    public func encode(to encoder: Encoder) throws {
        switch self {
        case .null:
            var container = encoder.singleValueContainer()
            try container.encodeNil()
        case .bool(let bool):
            var container = encoder.singleValueContainer()
            try container.encode(bool)
        case .integer(let integer):
            var container = encoder.singleValueContainer()
            try container.encode(integer)
        case .double(let double):
            var container = encoder.singleValueContainer()
            try container.encode(double)
        case .string(let string):
            var container = encoder.singleValueContainer()
            try container.encode(string)
        case .array(let values):
            var container = encoder.unkeyedContainer()
            for value in values { try container.encode(value) }
        case .object(let object):
            var container = encoder.container(keyedBy: PathKey.self)
            for (key, value) in object.pairs {
                try container.encode(value, forKey: PathKey(stringValue: key))
            }
        }
    }
}
