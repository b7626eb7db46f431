import CTumultSystem
import Foundation

/// A NETLINK_ROUTE socket bound to one network namespace: what `tc` and
/// `ip` do, without a process per change. Requests are acknowledged one by
/// one (NLM_F_ACK) and the kernel's extended error text is kept, so a
/// refusal reads like `tc`'s ("Error: Exclusivity flag on, cannot modify.").
///
/// The socket is opened by a short-lived thread of its own that enters the
/// namespace (`tumult_socket_in_netns`); the calling thread never moves.
/// One session serves one caller at a time (not Sendable): an injector
/// opens it, makes its changes and closes it.
public final class RouteNetlink {
    public let namespace: NetworkNamespace
    private let fd: Int32
    private var sequence: UInt32 = 0
    private var buffer = [UInt8](repeating: 0, count: 64 * 1024)

    public init(_ namespace: NetworkNamespace) throws {
        self.namespace = namespace
        let socket: Int32
        switch namespace {
        case .host: socket = tumult_socket_in_netns(nil, AF_NETLINK, Int32(SOCK_RAW.rawValue), 0)  // NETLINK_ROUTE
        case .named, .process:
            guard let path = namespace.path else { throw NetlinkError(code: ENOENT, doing: "opening \(namespace)") }
            socket = tumult_socket_in_netns(path, AF_NETLINK, Int32(SOCK_RAW.rawValue), 0)  // NETLINK_ROUTE
        }
        guard socket >= 0 else { throw NetlinkError(code: errno, doing: "opening a netlink socket in \(namespace)") }
        fd = socket
        var one: Int32 = 1
        // Error messages as text (NETLINK_EXT_ACK), and errors without a copy of our request (NETLINK_CAP_ACK).
        _ = setsockopt(fd, SOL_NETLINK, 11, &one, socklen_t(MemoryLayout<Int32>.size))
        _ = setsockopt(fd, SOL_NETLINK, 10, &one, socklen_t(MemoryLayout<Int32>.size))
        // The kernel binds the socket (a port id of its choosing) on the first send.
    }

    deinit { close(fd) }

    /// Sends one request and waits for its acknowledgement; a negative
    /// answer throws with the kernel's errno and message.
    public func perform(type: UInt16, flags: UInt16, body: NetlinkBuffer, doing: @autoclosure () -> String) throws {
        let sent = try send(type: type, flags: flags | Netlink.request | Netlink.ack, body: body, doing: doing)
        while true {
            for message in try receive(doing: doing) where message.sequence == sent {
                if message.type == Netlink.error {
                    let (code, text) = Self.errorOf(message)
                    if code == 0 { return }
                    throw NetlinkError(code: code, doing: doing(), message: text)
                }
            }
        }
    }

    /// A dump request (`NLM_F_DUMP`): every message the kernel answers with, until NLMSG_DONE.
    public func dump(type: UInt16, body: NetlinkBuffer, doing: @autoclosure () -> String) throws -> [NetlinkReply] {
        let sent = try send(type: type, flags: Netlink.request | Netlink.dump, body: body, doing: doing)
        var replies: [NetlinkReply] = []
        while true {
            for message in try receive(doing: doing) where message.sequence == sent {
                switch message.type {
                case Netlink.done: return replies
                case Netlink.error:
                    let (code, text) = Self.errorOf(message)
                    if code == 0 { return replies }
                    throw NetlinkError(code: code, doing: doing(), message: text)
                default: replies.append(message)
                }
            }
        }
    }

    private func send(type: UInt16, flags: UInt16, body: NetlinkBuffer, doing: () -> String) throws -> UInt32 {
        sequence &+= 1
        let message = Netlink.message(type: type, flags: flags, sequence: sequence, body: body)
        let written = message.withUnsafeBytes { Glibc.send(fd, $0.baseAddress, $0.count, 0) }
        guard written == message.count else { throw NetlinkError(code: errno, doing: doing()) }
        return sequence
    }

    private func receive(doing: () -> String) throws -> [NetlinkReply] {
        while true {
            let count = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if count < 0 {
                if errno == EINTR { continue }
                throw NetlinkError(code: errno, doing: doing())
            }
            return NetlinkReply.split(buffer[0..<count])
        }
    }

    /// NLMSG_ERROR: a negative errno (0 is an acknowledgement), then the
    /// request's header (capped), then NLMSGERR_ATTR_MSG with the text.
    static func errorOf(_ message: NetlinkReply) -> (code: Int32, text: String?) {
        let body = message.body
        guard body.count >= 4 else { return (EPROTO, nil) }
        let code = -body.loadI32(at: body.startIndex)
        guard message.flags & 0x200 != 0, body.count >= 20 else { return (code, nil) }  // NLM_F_ACK_TLVS
        let text = NetlinkAttribute.parse(body.dropFirst(20)).first(1)?.string
        return (code, text)
    }
}

/// One message the kernel sent: header fields and the bytes after the header.
public struct NetlinkReply: Sendable, Hashable {
    public var type: UInt16
    public var flags: UInt16
    public var sequence: UInt32
    public var body: ArraySlice<UInt8>

    static func split(_ bytes: ArraySlice<UInt8>) -> [NetlinkReply] {
        var replies: [NetlinkReply] = []
        var offset = bytes.startIndex
        while offset + 16 <= bytes.endIndex {
            let length = Int(bytes.loadU32(at: offset))
            guard length >= 16, offset + length <= bytes.endIndex else { break }
            replies.append(NetlinkReply(type: bytes.loadU16(at: offset + 4), flags: bytes.loadU16(at: offset + 6),
                                        sequence: bytes.loadU32(at: offset + 8),
                                        body: bytes[(offset + 16)..<(offset + length)]))
            offset += (length + 3) & ~3
        }
        return replies
    }
}

/// Netlink constants from <linux/netlink.h> and <linux/rtnetlink.h>.
public enum Netlink {
    public static let request: UInt16 = 0x1, ack: UInt16 = 0x4, dump: UInt16 = 0x300
    public static let replace: UInt16 = 0x100, exclusive: UInt16 = 0x200, create: UInt16 = 0x400
    static let error: UInt16 = 2, done: UInt16 = 3

    public static let newLink: UInt16 = 16, deleteLink: UInt16 = 17, getLink: UInt16 = 18
    public static let newQdisc: UInt16 = 36, deleteQdisc: UInt16 = 37, getQdisc: UInt16 = 38
    public static let newClass: UInt16 = 40, deleteClass: UInt16 = 41, getClass: UInt16 = 42
    public static let newFilter: UInt16 = 44, deleteFilter: UInt16 = 45, getFilter: UInt16 = 46

    /// A whole message: `struct nlmsghdr` (length, type, flags, sequence, port 0) and the body.
    public static func message(type: UInt16, flags: UInt16, sequence: UInt32, body: NetlinkBuffer) -> [UInt8] {
        var header = NetlinkBuffer()
        header.u32(UInt32(16 + body.bytes.count))
        header.u16(type)
        header.u16(flags)
        header.u32(sequence)
        header.u32(0)
        return header.bytes + body.bytes
    }
}

/// A netlink request the kernel refused, as errno and its own words.
public struct NetlinkError: Error, Sendable, CustomStringConvertible {
    public var code: Int32
    public var doing: String
    public var message: String?

    public init(code: Int32, doing: String, message: String? = nil) {
        self.code = code
        self.doing = doing
        self.message = message
    }

    public var description: String {
        "\(doing): \(String(cString: strerror(code)))" + (message.map { " (\($0))" } ?? "")
    }
}
