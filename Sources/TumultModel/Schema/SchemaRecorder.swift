/// Derives an OpenAPI v3 schema from a `Decodable` type by decoding it with a
/// decoder that has no data: every field the type asks for is recorded where
/// it is asked (`decode` makes it required, `decodeIfPresent` optional), with
/// the schema of the type it is read as. The types themselves are the source,
/// so a field added to the model appears in the CRDs without anyone editing them.
enum SchemaRecorder {
    /// The schema of `type`.
    static func schema<T: Decodable>(of type: T.Type) -> SchemaNode {
        let node = SchemaNode()
        let walk = SchemaWalk()
        _ = try? walk.describe(type, into: node)
        assert(walk.failures.isEmpty, "schema walk stopped early: \(walk.failures)")
        return node
    }
}

/// A type whose JSON form a walk cannot see: one that decodes a string and
/// then parses it, or that switches on a field. It says its schema itself.
protocol SchemaDescribing {
    static func describeSchema(_ node: SchemaNode)
}

/// A closed set of values (`ChaosEnum`) that Chaos Mesh's CRD leaves open (no
/// `enum:`), checking it in its webhook instead. Tumult's CRD leaves it open
/// too, so that the API server accepts what Chaos Mesh's accepts; Tumult's
/// decoder still refuses a value outside the set, naming the allowed ones.
protocol OpenSchemaEnum {}

/// Defaults the CRD declares (`default:`), which the API server applies before
/// validation. Only those Chaos Mesh's CRDs declare: the others Chaos Mesh's
/// webhook fills in, as Tumult's `applyDefaults()` does when it reads a document.
protocol SchemaDefaulting {
    /// `nested`: the type sits inside another kind's spec (a Schedule in a
    /// Workflow template), where Chaos Mesh sometimes uses another Go type.
    static func schemaDefaults(nested: Bool) -> [(field: String, value: Value)]
}

/// Standard collections, which the walk describes by their element type rather
/// than by decoding them (a dictionary's keys are unknown in advance).
protocol SchemaCollection {
    static func describeCollection(into node: SchemaNode, walk: SchemaWalk) throws -> Self
}

extension Array: SchemaCollection where Element: Decodable {
    static func describeCollection(into node: SchemaNode, walk: SchemaWalk) throws -> [Element] {
        node.type = "array"
        let items = node.items ?? SchemaNode()
        node.items = items
        _ = try? walk.describe(Element.self, into: items)
        return []
    }
}

extension Dictionary: SchemaCollection where Key == String, Value: Decodable {
    static func describeCollection(into node: SchemaNode, walk: SchemaWalk) throws -> [String: Value] {
        node.type = "object"
        let values = node.additionalProperties ?? SchemaNode()
        node.additionalProperties = values
        _ = try? walk.describe(Value.self, into: values)
        return [:]
    }
}

extension Optional: SchemaCollection where Wrapped: Decodable {
    static func describeCollection(into node: SchemaNode, walk: SchemaWalk) throws -> Wrapped? {
        _ = try? walk.describe(Wrapped.self, into: node)
        return nil
    }
}

/// Why a walk could not build a value it needed to go on.
struct SchemaWalkStopped: Error, CustomStringConvertible {
    var description: String
}

/// One walk: the types being described (to stop at recursion) and any type it
/// could not get through.
final class SchemaWalk {
    /// How many times a type may sit inside itself before the walk stops:
    /// two describes everything Chaos Mesh's CRDs describe (a Schedule in a
    /// Workflow template in a Schedule) and ends the endless nesting the
    /// Swift types allow.
    static let maximumNesting = 2

    private var stack: [ObjectIdentifier] = []
    /// Required fields the walk could not build a value for: the type that
    /// asked for them stopped there, and its later fields went unrecorded.
    var failures: [String] = []

    /// Records `type`'s schema into `node` and returns a stand-in value, so that
    /// the type's own `init(from:)` can carry on to its next field.
    func describe<T: Decodable>(_ type: T.Type, into node: SchemaNode) throws -> T {
        if T.self == Value.self {
            // A free-form tree kept as written (a Kubernetes container, a status).
            node.preservesUnknownFields = true
            return Value.null as! T
        }
        if let describing = T.self as? SchemaDescribing.Type {
            describing.describeSchema(node)
            return try fallback(T.self)
        }
        if let closed = T.self as? any ChaosEnum.Type {
            node.type = "string"
            if !(T.self is OpenSchemaEnum.Type) { node.enumValues = Self.rawValues(of: closed) }
            return try fallback(T.self)
        }
        if T.self is any TextValue.Type {
            node.type = "string"
            return try fallback(T.self)
        }
        if let collection = T.self as? SchemaCollection.Type {
            return try collection.describeCollection(into: node, walk: self) as! T
        }
        let identifier = ObjectIdentifier(T.self)
        if stack.filter({ $0 == identifier }).count >= Self.maximumNesting {
            // A type inside itself once too often: the innermost copy keeps
            // whatever it holds, unchecked by the schema (Tumult's decoder
            // checks it when it reads the document).
            node.type = "object"
            node.preservesUnknownFields = true
            return try fallback(T.self)
        }
        stack.append(identifier)
        defer { stack.removeLast() }
        do {
            let value = try T(from: SchemaDecoder(node: node, walk: self))
            applyDefaults(of: T.self, to: node, nested: stack.count > 1)
            return value
        } catch {
            applyDefaults(of: T.self, to: node, nested: stack.count > 1)
            return try fallback(T.self)
        }
    }

    private func applyDefaults<T>(of type: T.Type, to node: SchemaNode, nested: Bool) {
        guard let defaulting = T.self as? SchemaDefaulting.Type else { return }
        for (field, value) in defaulting.schemaDefaults(nested: nested) {
            node.property(field).defaultValue = value
        }
    }

    private static func rawValues<E: ChaosEnum>(of type: E.Type) -> [String] { E.rawValues }

    private func fallback<T>(_ type: T.Type) throws -> T {
        if let fallback = T.self as? DecodingFallback.Type, let value = fallback.decodingFallback as? T {
            return value
        }
        throw SchemaWalkStopped(description: "no stand-in value for \(T.self)")
    }
}

/// The decoder a walk hands to a type's `init(from:)`: it has no data, only
/// the node to record into.
struct SchemaDecoder: Decoder {
    let node: SchemaNode
    let walk: SchemaWalk
    var codingPath: [CodingKey] { [] }
    var userInfo: [CodingUserInfoKey: Any] { [:] }

    func container<Key: CodingKey>(keyedBy type: Key.Type) throws -> KeyedDecodingContainer<Key> {
        node.type = "object"
        return KeyedDecodingContainer(SchemaKeyedContainer<Key>(node: node, walk: walk))
    }

    func unkeyedContainer() throws -> UnkeyedDecodingContainer {
        node.type = "array"
        let items = node.items ?? SchemaNode()
        node.items = items
        return SchemaUnkeyedContainer(items: items, walk: walk)
    }

    func singleValueContainer() throws -> SingleValueDecodingContainer {
        SchemaSingleValueContainer(node: node, walk: walk)
    }
}

struct SchemaKeyedContainer<Key: CodingKey>: KeyedDecodingContainerProtocol {
    let node: SchemaNode
    let walk: SchemaWalk
    var codingPath: [CodingKey] { [] }
    var allKeys: [Key] { [] }

    /// Says yes so that code reading a field only when present records it.
    func contains(_ key: Key) -> Bool { true }

    func decodeNil(forKey key: Key) throws -> Bool { true }

    func decode<T: Decodable>(_ type: T.Type, forKey key: Key) throws -> T {
        node.require(key.stringValue)
        do {
            return try walk.describe(type, into: node.property(key.stringValue))
        } catch {
            walk.failures.append("\(key.stringValue): \(error)")
            throw error
        }
    }

    func decodeIfPresent<T: Decodable>(_ type: T.Type, forKey key: Key) throws -> T? { record(type, key) }

    // The standard library's own versions of these ask `decodeNil` first and
    // would skip the field; an optional scalar is recorded like any other type.
    func decodeIfPresent(_ type: Bool.Type, forKey key: Key) throws -> Bool? { record(type, key) }
    func decodeIfPresent(_ type: String.Type, forKey key: Key) throws -> String? { record(type, key) }
    func decodeIfPresent(_ type: Double.Type, forKey key: Key) throws -> Double? { record(type, key) }
    func decodeIfPresent(_ type: Float.Type, forKey key: Key) throws -> Float? { record(type, key) }
    func decodeIfPresent(_ type: Int.Type, forKey key: Key) throws -> Int? { record(type, key) }
    func decodeIfPresent(_ type: Int8.Type, forKey key: Key) throws -> Int8? { record(type, key) }
    func decodeIfPresent(_ type: Int16.Type, forKey key: Key) throws -> Int16? { record(type, key) }
    func decodeIfPresent(_ type: Int32.Type, forKey key: Key) throws -> Int32? { record(type, key) }
    func decodeIfPresent(_ type: Int64.Type, forKey key: Key) throws -> Int64? { record(type, key) }
    func decodeIfPresent(_ type: UInt.Type, forKey key: Key) throws -> UInt? { record(type, key) }
    func decodeIfPresent(_ type: UInt8.Type, forKey key: Key) throws -> UInt8? { record(type, key) }
    func decodeIfPresent(_ type: UInt16.Type, forKey key: Key) throws -> UInt16? { record(type, key) }
    func decodeIfPresent(_ type: UInt32.Type, forKey key: Key) throws -> UInt32? { record(type, key) }
    func decodeIfPresent(_ type: UInt64.Type, forKey key: Key) throws -> UInt64? { record(type, key) }

    /// Records an optional field; the walk has no value for it.
    private func record<T: Decodable>(_ type: T.Type, _ key: Key) -> T? {
        _ = try? walk.describe(type, into: node.property(key.stringValue))
        return nil
    }

    func nestedContainer<NestedKey: CodingKey>(
        keyedBy type: NestedKey.Type, forKey key: Key
    ) throws -> KeyedDecodingContainer<NestedKey> {
        try SchemaDecoder(node: node.property(key.stringValue), walk: walk).container(keyedBy: type)
    }

    func nestedUnkeyedContainer(forKey key: Key) throws -> UnkeyedDecodingContainer {
        try SchemaDecoder(node: node.property(key.stringValue), walk: walk).unkeyedContainer()
    }

    func superDecoder() throws -> Decoder { SchemaDecoder(node: node, walk: walk) }

    func superDecoder(forKey key: Key) throws -> Decoder {
        SchemaDecoder(node: node.property(key.stringValue), walk: walk)
    }
}

/// A list read item by item: one item is enough to know their schema.
struct SchemaUnkeyedContainer: UnkeyedDecodingContainer {
    let items: SchemaNode
    let walk: SchemaWalk
    var codingPath: [CodingKey] { [] }
    var count: Int? { 1 }
    var currentIndex = 0
    var isAtEnd: Bool { currentIndex >= 1 }

    mutating func decodeNil() throws -> Bool { false }

    mutating func decode<T: Decodable>(_ type: T.Type) throws -> T {
        currentIndex += 1
        return try walk.describe(type, into: items)
    }

    mutating func nestedContainer<NestedKey: CodingKey>(
        keyedBy type: NestedKey.Type
    ) throws -> KeyedDecodingContainer<NestedKey> {
        currentIndex += 1
        return try SchemaDecoder(node: items, walk: walk).container(keyedBy: type)
    }

    mutating func nestedUnkeyedContainer() throws -> UnkeyedDecodingContainer {
        currentIndex += 1
        return try SchemaDecoder(node: items, walk: walk).unkeyedContainer()
    }

    mutating func superDecoder() throws -> Decoder {
        currentIndex += 1
        return SchemaDecoder(node: items, walk: walk)
    }
}

/// Scalars: the type asked for is the schema's `type` (and `format` for the
/// sized integers Chaos Mesh's Go types use).
struct SchemaSingleValueContainer: SingleValueDecodingContainer {
    let node: SchemaNode
    let walk: SchemaWalk
    var codingPath: [CodingKey] { [] }

    func decodeNil() -> Bool { false }

    private func record(_ type: String, format: String? = nil) {
        node.type = type
        if let format { node.format = format }
    }

    func decode(_ type: Bool.Type) throws -> Bool { record("boolean"); return false }
    func decode(_ type: String.Type) throws -> String { record("string"); return "" }
    func decode(_ type: Double.Type) throws -> Double { record("number"); return 0 }
    func decode(_ type: Float.Type) throws -> Float { record("number"); return 0 }
    func decode(_ type: Int.Type) throws -> Int { record("integer"); return 0 }
    func decode(_ type: Int8.Type) throws -> Int8 { record("integer"); return 0 }
    func decode(_ type: Int16.Type) throws -> Int16 { record("integer"); return 0 }
    func decode(_ type: Int32.Type) throws -> Int32 { record("integer", format: "int32"); return 0 }
    func decode(_ type: Int64.Type) throws -> Int64 { record("integer", format: "int64"); return 0 }
    func decode(_ type: UInt.Type) throws -> UInt { record("integer"); return 0 }
    func decode(_ type: UInt8.Type) throws -> UInt8 { record("integer"); return 0 }
    func decode(_ type: UInt16.Type) throws -> UInt16 { record("integer"); return 0 }
    func decode(_ type: UInt32.Type) throws -> UInt32 { record("integer"); return 0 }
    func decode(_ type: UInt64.Type) throws -> UInt64 { record("integer"); return 0 }

    func decode<T: Decodable>(_ type: T.Type) throws -> T {
        try walk.describe(type, into: node)
    }
}
