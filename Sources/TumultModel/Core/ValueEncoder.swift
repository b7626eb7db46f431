/// Encodes `Encodable` model types into a `Value` tree, keeping fields in the
/// order the types declare them so that printed documents read naturally.
public struct ValueEncoder {
    public init() {}

    public func encode<T: Encodable>(_ value: T) throws -> Value {
        if let value = value as? Value { return value }
        let encoder = TreeEncoder()
        try value.encode(to: encoder)
        return encoder.storage.resolved
    }
}

/// Mutable boxes let nested containers write into their parent after the
/// parent has handed them out, as `Encoder` requires.
final class EncodedNode {
    enum Kind {
        case unset
        case single(Value)
        case object([(String, EncodedNode)])
        case array([EncodedNode])
    }

    var kind: Kind = .unset

    var resolved: Value {
        switch kind {
        case .unset: return .object(Value.Object())
        case .single(let value): return value
        case .object(let pairs): return .object(Value.Object(pairs.map { ($0.0, $0.1.resolved) }))
        case .array(let nodes): return .array(nodes.map(\.resolved))
        }
    }

    func appendField(_ key: String) -> EncodedNode {
        let node = EncodedNode()
        if case .object(var pairs) = kind {
            pairs.removeAll { $0.0 == key }
            pairs.append((key, node))
            kind = .object(pairs)
        } else {
            kind = .object([(key, node)])
        }
        return node
    }

    func appendElement() -> EncodedNode {
        let node = EncodedNode()
        if case .array(var nodes) = kind {
            nodes.append(node)
            kind = .array(nodes)
        } else {
            kind = .array([node])
        }
        return node
    }
}

struct TreeEncoder: Encoder {
    let storage: EncodedNode
    var codingPath: [CodingKey] = []
    var userInfo: [CodingUserInfoKey: Any] { [:] }

    init(storage: EncodedNode = EncodedNode()) {
        self.storage = storage
    }

    func container<Key: CodingKey>(keyedBy type: Key.Type) -> KeyedEncodingContainer<Key> {
        if case .object = storage.kind {} else { storage.kind = .object([]) }
        return KeyedEncodingContainer(KeyedTreeEncodingContainer<Key>(node: storage))
    }

    func unkeyedContainer() -> UnkeyedEncodingContainer {
        if case .array = storage.kind {} else { storage.kind = .array([]) }
        return UnkeyedTreeEncodingContainer(node: storage)
    }

    func singleValueContainer() -> SingleValueEncodingContainer {
        SingleTreeEncodingContainer(node: storage)
    }

    static func encode<T: Encodable>(_ value: T, into node: EncodedNode) throws {
        if let value = value as? Value {
            node.kind = .single(value)
            return
        }
        try value.encode(to: TreeEncoder(storage: node))
    }
}

struct KeyedTreeEncodingContainer<Key: CodingKey>: KeyedEncodingContainerProtocol {
    let node: EncodedNode
    var codingPath: [CodingKey] { [] }

    mutating func encodeNil(forKey key: Key) throws {
        node.appendField(key.stringValue).kind = .single(.null)
    }

    mutating func encode<T: Encodable>(_ value: T, forKey key: Key) throws {
        try TreeEncoder.encode(value, into: node.appendField(key.stringValue))
    }

    mutating func nestedContainer<NestedKey: CodingKey>(
        keyedBy keyType: NestedKey.Type, forKey key: Key
    ) -> KeyedEncodingContainer<NestedKey> {
        TreeEncoder(storage: node.appendField(key.stringValue)).container(keyedBy: keyType)
    }

    mutating func nestedUnkeyedContainer(forKey key: Key) -> UnkeyedEncodingContainer {
        TreeEncoder(storage: node.appendField(key.stringValue)).unkeyedContainer()
    }

    mutating func superEncoder() -> Encoder { TreeEncoder(storage: node) }
    mutating func superEncoder(forKey key: Key) -> Encoder {
        TreeEncoder(storage: node.appendField(key.stringValue))
    }
}

struct UnkeyedTreeEncodingContainer: UnkeyedEncodingContainer {
    let node: EncodedNode
    var codingPath: [CodingKey] { [] }
    var count: Int {
        if case .array(let nodes) = node.kind { return nodes.count }
        return 0
    }

    mutating func encodeNil() throws { node.appendElement().kind = .single(.null) }

    mutating func encode<T: Encodable>(_ value: T) throws {
        try TreeEncoder.encode(value, into: node.appendElement())
    }

    mutating func nestedContainer<NestedKey: CodingKey>(
        keyedBy keyType: NestedKey.Type
    ) -> KeyedEncodingContainer<NestedKey> {
        TreeEncoder(storage: node.appendElement()).container(keyedBy: keyType)
    }

    mutating func nestedUnkeyedContainer() -> UnkeyedEncodingContainer {
        TreeEncoder(storage: node.appendElement()).unkeyedContainer()
    }

    mutating func superEncoder() -> Encoder { TreeEncoder(storage: node.appendElement()) }
}

struct SingleTreeEncodingContainer: SingleValueEncodingContainer {
    let node: EncodedNode
    var codingPath: [CodingKey] { [] }

    mutating func encodeNil() throws { node.kind = .single(.null) }
    mutating func encode(_ value: Bool) throws { node.kind = .single(.bool(value)) }
    mutating func encode(_ value: String) throws { node.kind = .single(.string(value)) }
    mutating func encode(_ value: Double) throws { node.kind = .single(.double(value)) }
    mutating func encode(_ value: Float) throws { node.kind = .single(.double(Double(value))) }
    mutating func encode(_ value: Int) throws { node.kind = .single(.integer(value)) }
    mutating func encode(_ value: Int8) throws { node.kind = .single(.integer(Int(value))) }
    mutating func encode(_ value: Int16) throws { node.kind = .single(.integer(Int(value))) }
    mutating func encode(_ value: Int32) throws { node.kind = .single(.integer(Int(value))) }
    mutating func encode(_ value: Int64) throws { node.kind = .single(.integer(Int(value))) }
    mutating func encode(_ value: UInt) throws { node.kind = .single(Self.unsigned(UInt64(value))) }
    mutating func encode(_ value: UInt8) throws { node.kind = .single(.integer(Int(value))) }
    mutating func encode(_ value: UInt16) throws { node.kind = .single(.integer(Int(value))) }
    mutating func encode(_ value: UInt32) throws { node.kind = .single(.integer(Int(value))) }
    mutating func encode(_ value: UInt64) throws { node.kind = .single(Self.unsigned(value)) }

    static func unsigned(_ value: UInt64) -> Value {
        if let exact = Int(exactly: value) { return .integer(exact) }
        return .double(Double(value))
    }

    mutating func encode<T: Encodable>(_ value: T) throws {
        try TreeEncoder.encode(value, into: node)
    }
}
