/// Decodes `Decodable` model types from a `Value` tree, collecting every
/// problem as a `Diagnostic` with its field path instead of stopping at the
/// first one.
///
/// The recovery rule: a field that fails to decode is reported once, where it
/// failed. An optional field then reads as absent; a required one takes the
/// type's `DecodingFallback` value when it has one, so that decoding carries on
/// and the sibling fields get checked too. Keys that no type asked for are
/// reported as unknown fields.
public struct ValueDecoder {
    public init() {}

    /// Decodes `type` from `value`, with paths starting at `path`.
    /// Returns nil when the value could not be built at all; `diagnostics`
    /// holds the reasons either way.
    public func decode<T: Decodable>(
        _ type: T.Type, from value: Value, at path: FieldPath = .root,
        diagnostics: inout Diagnostics
    ) -> T? {
        let session = DecodingSession()
        let decoder = TreeDecoder(value: value, path: path, session: session)
        let result: T?
        do {
            result = try session.decodeValue(type, using: decoder)
        } catch {
            result = nil
        }
        session.reportUnknownKeys()
        diagnostics.append(contentsOf: session.diagnostics)
        return result
    }
}

/// A value a decoder can stand in for a required field that failed, so that
/// decoding can go on and report the other fields' problems.
public protocol DecodingFallback {
    static var decodingFallback: Self { get }
}

extension String: DecodingFallback { public static var decodingFallback: String { "" } }
extension Int: DecodingFallback { public static var decodingFallback: Int { 0 } }
extension Int64: DecodingFallback { public static var decodingFallback: Int64 { 0 } }
extension Int32: DecodingFallback { public static var decodingFallback: Int32 { 0 } }
extension UInt64: DecodingFallback { public static var decodingFallback: UInt64 { 0 } }
extension Double: DecodingFallback { public static var decodingFallback: Double { 0 } }
extension Bool: DecodingFallback { public static var decodingFallback: Bool { false } }
extension Array: DecodingFallback { public static var decodingFallback: [Element] { [] } }
extension Dictionary: DecodingFallback { public static var decodingFallback: [Key: Value] { [:] } }
extension Value: DecodingFallback { public static var decodingFallback: Value { .null } }

/// The message of a value that is well-formed YAML but not a valid value of
/// its field: `"90xs" is not a duration`. The decoder adds the path.
public struct InvalidValue: Error, Sendable, CustomStringConvertible {
    public var message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}

/// Thrown upwards once a failure has been recorded, so it is recorded once.
struct AlreadyReported: Error {}

final class DecodingSession {
    var diagnostics = Diagnostics()
    /// Keys present in each object the model looked into.
    var objectKeys: [FieldPath: [String]] = [:]
    /// Keys the model asked for in each object.
    var requestedKeys: [FieldPath: Set<String>] = [:]
    /// Objects whose decoding was cut short: their unread keys say nothing.
    var abandoned: Set<FieldPath> = []

    func record(_ error: Error, at path: FieldPath) {
        switch error {
        case is AlreadyReported:
            return
        case let invalid as InvalidValue:
            diagnostics.error(path, invalid.message)
        case let decoding as DecodingError:
            diagnostics.error(path, Self.message(for: decoding))
        default:
            diagnostics.error(path, String(describing: error))
        }
    }

    static func message(for error: DecodingError) -> String {
        switch error {
        case .typeMismatch(_, let context), .valueNotFound(_, let context),
             .keyNotFound(_, let context), .dataCorrupted(let context):
            return context.debugDescription
        @unknown default:
            return "invalid value"
        }
    }

    /// Decodes with recovery: records the failure and returns the fallback,
    /// or rethrows `AlreadyReported` when the type has none.
    func decodeValue<T: Decodable>(_ type: T.Type, using decoder: TreeDecoder) throws -> T {
        if type == Value.self, let value = decoder.value as? T {
            return value
        }
        do {
            return try T(from: decoder)
        } catch {
            record(error, at: decoder.path)
            if let fallback = T.self as? DecodingFallback.Type,
               let value = fallback.decodingFallback as? T {
                return value
            }
            abandoned.insert(decoder.path)
            throw AlreadyReported()
        }
    }

    func reportUnknownKeys() {
        for (path, keys) in objectKeys.sorted(by: { $0.key.description < $1.key.description }) {
            if abandoned.contains(where: { path.isWithin($0) }) { continue }
            let known = requestedKeys[path] ?? []
            for key in keys where !known.contains(key) {
                var message = "unknown field \"\(key)\""
                if let suggestion = Self.closest(to: key, in: known) {
                    message += " (did you mean \"\(suggestion)\"?)"
                }
                diagnostics.warning(path.child(key), message)
            }
        }
    }

    static func closest(to key: String, in candidates: Set<String>) -> String? {
        let scored = candidates.map { ($0, editDistance(key.lowercased(), $0.lowercased())) }
        guard let best = scored.min(by: { $0.1 < $1.1 || ($0.1 == $1.1 && $0.0 < $1.0) }) else { return nil }
        return best.1 <= max(2, key.count / 3) ? best.0 : nil
    }

    static func editDistance(_ a: String, _ b: String) -> Int {
        let a = Array(a), b = Array(b)
        if a.isEmpty { return b.count }
        if b.isEmpty { return a.count }
        var previous = Array(0...b.count)
        for i in 1...a.count {
            var current = [i] + Array(repeating: 0, count: b.count)
            for j in 1...b.count {
                current[j] = min(previous[j] + 1, current[j - 1] + 1,
                                 previous[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1))
            }
            previous = current
        }
        return previous[b.count]
    }
}

struct PathKey: CodingKey {
    var stringValue: String
    var intValue: Int?
    init(stringValue: String) { self.stringValue = stringValue }
    init(intValue: Int) {
        self.stringValue = String(intValue)
        self.intValue = intValue
    }
}

struct TreeDecoder: Decoder {
    let value: Value
    let path: FieldPath
    let session: DecodingSession
    var userInfo: [CodingUserInfoKey: Any] { [:] }

    var codingPath: [CodingKey] {
        path.components.map {
            switch $0 {
            case .key(let key): PathKey(stringValue: key)
            case .index(let position): PathKey(intValue: position)
            }
        }
    }

    func container<Key: CodingKey>(keyedBy type: Key.Type) throws -> KeyedDecodingContainer<Key> {
        guard case .object(let object) = value else {
            throw InvalidValue("expected an object, got \(value.typeDescription) \(value.brief)")
        }
        if session.objectKeys[path] == nil {
            session.objectKeys[path] = object.keys
        }
        return KeyedDecodingContainer(KeyedTreeContainer<Key>(object: object, decoder: self))
    }

    func unkeyedContainer() throws -> UnkeyedDecodingContainer {
        guard case .array(let values) = value else {
            throw InvalidValue("expected a list, got \(value.typeDescription) \(value.brief)")
        }
        return UnkeyedTreeContainer(values: values, decoder: self)
    }

    func singleValueContainer() throws -> SingleValueDecodingContainer {
        SingleTreeContainer(decoder: self)
    }

    func child(_ value: Value, key: String) -> TreeDecoder {
        TreeDecoder(value: value, path: path.child(key), session: session)
    }

    func element(_ value: Value, at position: Int) -> TreeDecoder {
        TreeDecoder(value: value, path: path.index(position), session: session)
    }
}

struct KeyedTreeContainer<Key: CodingKey>: KeyedDecodingContainerProtocol {
    let object: Value.Object
    let decoder: TreeDecoder

    var codingPath: [CodingKey] { decoder.codingPath }
    var allKeys: [Key] { object.keys.compactMap { Key(stringValue: $0) } }

    private func request(_ key: Key) {
        decoder.session.requestedKeys[decoder.path, default: []].insert(key.stringValue)
    }

    func contains(_ key: Key) -> Bool {
        request(key)
        return object[key.stringValue] != nil
    }

    func decodeNil(forKey key: Key) throws -> Bool {
        request(key)
        guard let value = object[key.stringValue] else { return true }
        return value == .null
    }

    func decode<T: Decodable>(_ type: T.Type, forKey key: Key) throws -> T {
        request(key)
        let session = decoder.session
        guard let value = object[key.stringValue], value != .null else {
            let path = decoder.path.child(key.stringValue)
            session.diagnostics.error(path, "required field is missing")
            if let fallback = T.self as? DecodingFallback.Type, let value = fallback.decodingFallback as? T {
                return value
            }
            session.abandoned.insert(decoder.path)
            throw AlreadyReported()
        }
        do {
            return try session.decodeValue(type, using: decoder.child(value, key: key.stringValue))
        } catch {
            session.abandoned.insert(decoder.path)
            throw error
        }
    }

    func decodeIfPresent<T: Decodable>(_ type: T.Type, forKey key: Key) throws -> T? {
        request(key)
        guard let value = object[key.stringValue], value != .null else { return nil }
        return try? decoder.session.decodeValue(type, using: decoder.child(value, key: key.stringValue))
    }

    func nestedContainer<NestedKey: CodingKey>(
        keyedBy type: NestedKey.Type, forKey key: Key
    ) throws -> KeyedDecodingContainer<NestedKey> {
        request(key)
        return try decoder.child(object[key.stringValue] ?? .null, key: key.stringValue).container(keyedBy: type)
    }

    func nestedUnkeyedContainer(forKey key: Key) throws -> UnkeyedDecodingContainer {
        request(key)
        return try decoder.child(object[key.stringValue] ?? .null, key: key.stringValue).unkeyedContainer()
    }

    func superDecoder() throws -> Decoder { decoder }
    func superDecoder(forKey key: Key) throws -> Decoder {
        request(key)
        return decoder.child(object[key.stringValue] ?? .null, key: key.stringValue)
    }
}

struct UnkeyedTreeContainer: UnkeyedDecodingContainer {
    let values: [Value]
    let decoder: TreeDecoder
    var currentIndex = 0

    var codingPath: [CodingKey] { decoder.codingPath }
    var count: Int? { values.count }
    var isAtEnd: Bool { currentIndex >= values.count }

    mutating func decodeNil() throws -> Bool {
        guard !isAtEnd else { throw InvalidValue("list ended early") }
        if values[currentIndex] == .null {
            currentIndex += 1
            return true
        }
        return false
    }

    mutating func decode<T: Decodable>(_ type: T.Type) throws -> T {
        guard !isAtEnd else { throw InvalidValue("list ended early") }
        let position = currentIndex
        currentIndex += 1
        let element = decoder.element(values[position], at: position)
        if values[position] == .null && T.self != Value.self {
            decoder.session.diagnostics.error(element.path, "a list item must not be null")
            if let fallback = T.self as? DecodingFallback.Type, let value = fallback.decodingFallback as? T {
                return value
            }
            throw AlreadyReported()
        }
        return try decoder.session.decodeValue(type, using: element)
    }

    mutating func nestedContainer<NestedKey: CodingKey>(
        keyedBy type: NestedKey.Type
    ) throws -> KeyedDecodingContainer<NestedKey> {
        guard !isAtEnd else { throw InvalidValue("list ended early") }
        defer { currentIndex += 1 }
        return try decoder.element(values[currentIndex], at: currentIndex).container(keyedBy: type)
    }

    mutating func nestedUnkeyedContainer() throws -> UnkeyedDecodingContainer {
        guard !isAtEnd else { throw InvalidValue("list ended early") }
        defer { currentIndex += 1 }
        return try decoder.element(values[currentIndex], at: currentIndex).unkeyedContainer()
    }

    mutating func superDecoder() throws -> Decoder {
        guard !isAtEnd else { throw InvalidValue("list ended early") }
        defer { currentIndex += 1 }
        return decoder.element(values[currentIndex], at: currentIndex)
    }
}

/// Scalars are strict, like the Kubernetes API server: a string field takes a
/// string and nothing else, an integer field takes an integer.
struct SingleTreeContainer: SingleValueDecodingContainer {
    let decoder: TreeDecoder
    var codingPath: [CodingKey] { decoder.codingPath }
    private var value: Value { decoder.value }

    func decodeNil() -> Bool { value == .null }

    private func mismatch(_ expected: String) -> InvalidValue {
        var message = "expected \(expected), got \(value.typeDescription) \(value.brief)"
        if expected == "a string", case .integer = value { message += " (quote it)" }
        if expected == "a string", case .double = value { message += " (quote it)" }
        if expected == "a string", case .bool = value { message += " (quote it)" }
        return InvalidValue(message)
    }

    func decode(_ type: Bool.Type) throws -> Bool {
        guard case .bool(let bool) = value else { throw mismatch("a boolean") }
        return bool
    }

    func decode(_ type: String.Type) throws -> String {
        guard case .string(let string) = value else { throw mismatch("a string") }
        return string
    }

    func decode(_ type: Double.Type) throws -> Double {
        switch value {
        case .double(let double): return double
        case .integer(let integer): return Double(integer)
        default: throw mismatch("a number")
        }
    }

    func decode(_ type: Float.Type) throws -> Float { Float(try decode(Double.self)) }

    private func integer<T: FixedWidthInteger>(_ type: T.Type) throws -> T {
        switch value {
        case .integer(let integer):
            guard let result = T(exactly: integer) else {
                throw InvalidValue("\(integer) is out of range \(T.min)...\(T.max)")
            }
            return result
        case .double(let double) where double.rounded() == double && double.isFinite:
            guard let result = T(exactly: double) else {
                throw InvalidValue("\(value.brief) is out of range \(T.min)...\(T.max)")
            }
            return result
        default:
            throw mismatch("an integer")
        }
    }

    func decode(_ type: Int.Type) throws -> Int { try integer(type) }
    func decode(_ type: Int8.Type) throws -> Int8 { try integer(type) }
    func decode(_ type: Int16.Type) throws -> Int16 { try integer(type) }
    func decode(_ type: Int32.Type) throws -> Int32 { try integer(type) }
    func decode(_ type: Int64.Type) throws -> Int64 { try integer(type) }
    func decode(_ type: UInt.Type) throws -> UInt { try integer(type) }
    func decode(_ type: UInt8.Type) throws -> UInt8 { try integer(type) }
    func decode(_ type: UInt16.Type) throws -> UInt16 { try integer(type) }
    func decode(_ type: UInt32.Type) throws -> UInt32 { try integer(type) }
    func decode(_ type: UInt64.Type) throws -> UInt64 { try integer(type) }

    func decode<T: Decodable>(_ type: T.Type) throws -> T {
        if type == Value.self, let value = value as? T { return value }
        return try T(from: decoder)
    }
}
