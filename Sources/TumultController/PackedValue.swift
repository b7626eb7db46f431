import Foundation
import TumultModel

/// A `Value` tree kept as bytes: what an archive holds of the object it
/// archived. A `Value` is a heap box per node and a dictionary per object
/// (about 2.4 KiB per target of an archived experiment's status, the
/// largest part of a controller's memory once thousands are archived);
/// packed, each distinct string is written once and every node takes a
/// byte or a few, about 60 bytes per target. Unpacking gives back the same
/// tree: the same keys in the same order, integers as integers.
struct PackedValue: Sendable, Hashable {
    let bytes: [UInt8]

    private enum Tag: UInt8 {
        case null, isFalse, isTrue, integer, double, string, array, object
    }

    init(_ value: Value) {
        var strings: [String: Int] = [:]
        var order: [String] = []
        var tree: [UInt8] = []
        func intern(_ string: String) -> Int {
            if let index = strings[string] { return index }
            strings[string] = order.count
            order.append(string)
            return order.count - 1
        }
        func write(_ value: Value) {
            switch value {
            case .null: tree.append(Tag.null.rawValue)
            case .bool(let bool): tree.append(bool ? Tag.isTrue.rawValue : Tag.isFalse.rawValue)
            case .integer(let integer):
                tree.append(Tag.integer.rawValue)
                Self.appendVarint(UInt64(bitPattern: Int64((integer << 1) ^ (integer >> (Int.bitWidth - 1)))), to: &tree)
            case .double(let double):
                tree.append(Tag.double.rawValue)
                var bits = double.bitPattern
                for _ in 0..<8 {
                    tree.append(UInt8(truncatingIfNeeded: bits))
                    bits >>= 8
                }
            case .string(let string):
                tree.append(Tag.string.rawValue)
                Self.appendVarint(UInt64(intern(string)), to: &tree)
            case .array(let values):
                tree.append(Tag.array.rawValue)
                Self.appendVarint(UInt64(values.count), to: &tree)
                for element in values { write(element) }
            case .object(let object):
                tree.append(Tag.object.rawValue)
                Self.appendVarint(UInt64(object.count), to: &tree)
                for (key, element) in object.pairs {
                    Self.appendVarint(UInt64(intern(key)), to: &tree)
                    write(element)
                }
            }
        }
        write(value)
        var bytes: [UInt8] = []
        var table: [UInt8] = []
        Self.appendVarint(UInt64(order.count), to: &table)
        for string in order {
            let utf8 = Array(string.utf8)
            Self.appendVarint(UInt64(utf8.count), to: &table)
            table += utf8
        }
        bytes.reserveCapacity(table.count + tree.count)
        bytes += table
        bytes += tree
        self.bytes = bytes
    }

    /// The tree back.
    var value: Value {
        var position = 0
        let bytes = self.bytes
        func varint() -> Int {
            var result: UInt64 = 0
            var shift: UInt64 = 0
            while position < bytes.count {
                let byte = bytes[position]
                position += 1
                result |= UInt64(byte & 0x7f) << shift
                if byte & 0x80 == 0 { break }
                shift += 7
            }
            return Int(truncatingIfNeeded: result)
        }
        var strings: [String] = []
        let count = varint()
        strings.reserveCapacity(count)
        for _ in 0..<count {
            let length = varint()
            strings.append(String(decoding: bytes[position..<position + length], as: UTF8.self))
            position += length
        }
        func read() -> Value {
            guard position < bytes.count, let tag = Tag(rawValue: bytes[position]) else { return .null }
            position += 1
            switch tag {
            case .null: return .null
            case .isFalse: return .bool(false)
            case .isTrue: return .bool(true)
            case .integer:
                let zigzag = UInt64(truncatingIfNeeded: varint())
                return .integer(Int(truncatingIfNeeded: Int64(bitPattern: zigzag >> 1) ^ -Int64(bitPattern: zigzag & 1)))
            case .double:
                var bits: UInt64 = 0
                for shift in 0..<8 { bits |= UInt64(bytes[position + shift]) << (8 * UInt64(shift)) }
                position += 8
                return .double(Double(bitPattern: bits))
            case .string: return .string(strings[varint()])
            case .array:
                let count = varint()
                var values: [Value] = []
                values.reserveCapacity(count)
                for _ in 0..<count { values.append(read()) }
                return .array(values)
            case .object:
                let count = varint()
                var pairs: [(String, Value)] = []
                pairs.reserveCapacity(count)
                for _ in 0..<count {
                    let key = strings[varint()]
                    pairs.append((key, read()))
                }
                return .object(Value.Object(pairs))
            }
        }
        return read()
    }

    private static func appendVarint(_ number: UInt64, to bytes: inout [UInt8]) {
        var number = number
        while number >= 0x80 {
            bytes.append(UInt8(truncatingIfNeeded: number) | 0x80)
            number >>= 7
        }
        bytes.append(UInt8(number))
    }
}
