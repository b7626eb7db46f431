/// The bytes of a netlink message body: fixed structures in host byte
/// order, attributes (`struct nlattr`: length, type, value, padded to 4)
/// and nested attributes, written in the order the kernel reads them.
///
/// Pure and value-typed, so that every request Tumult sends is unit-tested
/// byte for byte like the `tc` argument lists it replaces.
public struct NetlinkBuffer: Sendable, Hashable {
    public private(set) var bytes: [UInt8] = []

    public init() {}

    public mutating func u8(_ value: UInt8) { bytes.append(value) }
    public mutating func u16(_ value: UInt16) { append(value) }
    public mutating func u32(_ value: UInt32) { append(value) }
    public mutating func u64(_ value: UInt64) { append(value) }
    public mutating func i16(_ value: Int16) { append(value) }
    public mutating func i32(_ value: Int32) { append(value) }
    public mutating func i64(_ value: Int64) { append(value) }
    /// A 32-bit value in network byte order (`__be32`).
    public mutating func be32(_ value: UInt32) { append(value.bigEndian) }
    public mutating func raw(_ more: [UInt8]) { bytes += more }

    private mutating func append<T: FixedWidthInteger>(_ value: T) {
        withUnsafeBytes(of: value.littleEndian) { bytes += $0 }
    }

    /// Zeros up to the next multiple of 4 (NLA_ALIGNTO, NLMSG_ALIGNTO).
    public mutating func align() {
        while bytes.count % 4 != 0 { bytes.append(0) }
    }

    /// One attribute whose value `body` writes; its length is patched in after.
    public mutating func attribute(_ type: UInt16, _ body: (inout NetlinkBuffer) -> Void) {
        let start = bytes.count
        u16(0)
        u16(type)
        body(&self)
        let length = UInt16(bytes.count - start)
        bytes[start] = UInt8(length & 0xFF)
        bytes[start + 1] = UInt8(length >> 8)
        align()
    }

    public mutating func attribute(_ type: UInt16, u32 value: UInt32) { attribute(type) { $0.u32(value) } }
    public mutating func attribute(_ type: UInt16, u64 value: UInt64) { attribute(type) { $0.u64(value) } }
    public mutating func attribute(_ type: UInt16, i64 value: Int64) { attribute(type) { $0.i64(value) } }
    /// A NUL-terminated string (`NLA_STRING`, as `tc` and `ip` send names and kinds).
    public mutating func attribute(_ type: UInt16, string: String) {
        attribute(type) { $0.raw(Array(string.utf8) + [0]) }
    }
}

/// One attribute read from a message: its type (flags masked off) and value.
public struct NetlinkAttribute: Sendable, Hashable {
    public var type: UInt16
    public var value: ArraySlice<UInt8>

    /// The attributes in `bytes`, in order; a truncated tail is ignored.
    public static func parse(_ bytes: ArraySlice<UInt8>) -> [NetlinkAttribute] {
        var attributes: [NetlinkAttribute] = []
        var offset = bytes.startIndex
        while offset + 4 <= bytes.endIndex {
            let length = Int(bytes.loadU16(at: offset))
            let type = bytes.loadU16(at: offset + 2) & 0x3FFF  // ~(NLA_F_NESTED | NLA_F_NET_BYTEORDER)
            guard length >= 4, offset + length <= bytes.endIndex else { break }
            attributes.append(NetlinkAttribute(type: type, value: bytes[(offset + 4)..<(offset + length)]))
            offset += (length + 3) & ~3
        }
        return attributes
    }

    /// The value as a string without its terminating NUL.
    public var string: String {
        String(decoding: value.prefix { $0 != 0 }, as: UTF8.self)
    }

    public var u32: UInt32? { value.count >= 4 ? value.loadU32(at: value.startIndex) : nil }
    public var u64: UInt64? {
        value.count >= 8 ? UInt64(value.loadU32(at: value.startIndex)) | UInt64(value.loadU32(at: value.startIndex + 4)) << 32 : nil
    }
    /// The attributes nested in this one.
    public var nested: [NetlinkAttribute] { Self.parse(value) }
}

extension [NetlinkAttribute] {
    public func first(_ type: UInt16) -> NetlinkAttribute? { first { $0.type == type } }
}

extension ArraySlice<UInt8> {
    func loadU16(at offset: Int) -> UInt16 { UInt16(self[offset]) | UInt16(self[offset + 1]) << 8 }
    func loadU32(at offset: Int) -> UInt32 {
        UInt32(self[offset]) | UInt32(self[offset + 1]) << 8 | UInt32(self[offset + 2]) << 16 | UInt32(self[offset + 3]) << 24
    }
    func loadI32(at offset: Int) -> Int32 { Int32(bitPattern: loadU32(at: offset)) }
}
