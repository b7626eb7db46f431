import Foundation

/// A device as the kernel lists it.
public struct LinkInfo: Sendable, Hashable {
    public var index: Int32
    public var name: String
    /// `ifb`, `veth` ...; nil for devices without one (lo, physical NICs).
    public var kind: String?
    public var up: Bool

    public init(index: Int32, name: String, kind: String? = nil, up: Bool = false) {
        self.index = index
        self.name = name
        self.kind = kind
        self.up = up
    }
}

/// A qdisc as the kernel lists it.
public struct QdiscInfo: Sendable, Hashable {
    public var device: String
    public var kind: String
    public var handle: TrafficControl.Handle
    public var parent: TrafficControl.Handle

    public init(device: String, kind: String, handle: TrafficControl.Handle, parent: TrafficControl.Handle) {
        self.device = device
        self.kind = kind
        self.handle = handle
        self.parent = parent
    }
}

/// How the network fault reads and changes qdiscs, filters and links in one
/// namespace: through netlink (`RouteNetlink`, one message per change) or,
/// where netlink cannot be opened, by running `tc` and `ip` (`TrafficCommands`).
public protocol TrafficControlChannel {
    var namespace: NetworkNamespace { get }
    func links() throws -> [LinkInfo]
    /// The qdiscs of `device`; nil when there is no such device.
    func qdiscs(of device: String) throws -> [QdiscInfo]?
    func perform(_ request: TrafficControl.Request) throws
}

extension TrafficControlChannel {
    /// Deletes the qdisc at `parent` of `device` when it is the one with
    /// `handle`; nothing when the device, or such a qdisc, is gone.
    public func deleteQdisc(device: String, parent: TrafficControl.Handle, handle: TrafficControl.Handle) throws {
        // Handle 0 is the kernel's default qdisc, never Tumult's: nothing to delete.
        guard handle.raw != 0, let qdiscs = try qdiscs(of: device),
              qdiscs.contains(where: { $0.handle == handle && ($0.parent == parent || parent == .ingress) }) else { return }
        try perform(.deleteQdisc(device: device, parent: parent, handle: handle))
    }
}

/// Opens the channel for `namespace`: netlink, unless it cannot be opened
/// or `TUMULT_TRAFFIC_CONTROL=commands` asks for `tc` and `ip`.
public enum TrafficControlChannels {
    public static func open(_ namespace: NetworkNamespace, runner: any CommandRunner) -> any TrafficControlChannel {
        if ProcessInfo.processInfo.environment["TUMULT_TRAFFIC_CONTROL"] != "commands",
           let netlink = try? RouteNetlink(namespace) {
            return netlink
        }
        return TrafficCommands(namespace: namespace, runner: runner)
    }
}

extension RouteNetlink: TrafficControlChannel {
    public func links() throws -> [LinkInfo] {
        let replies = try dump(type: Netlink.getLink, body: TrafficControl.ifinfomsg(index: 0, flags: 0, change: 0),
                               doing: "listing devices in \(namespace)")
        return replies.compactMap { reply -> LinkInfo? in
            guard reply.type == Netlink.newLink, reply.body.count >= 16 else { return nil }
            let body = reply.body
            let index = body.loadI32(at: body.startIndex + 4)
            let flags = body.loadU32(at: body.startIndex + 8)
            let attributes = NetlinkAttribute.parse(body.dropFirst(16))
            guard let name = attributes.first(3)?.string else { return nil }  // IFLA_IFNAME
            let kind = attributes.first(18)?.nested.first(1)?.string  // IFLA_LINKINFO / IFLA_INFO_KIND
            return LinkInfo(index: index, name: name, kind: kind, up: flags & 1 != 0)
        }.sorted { $0.index < $1.index }
    }

    public func qdiscs(of device: String) throws -> [QdiscInfo]? {
        guard let link = try links().first(where: { $0.name == device }) else { return nil }
        let replies = try dump(type: Netlink.getQdisc, body: TrafficControl.tcmsg(index: link.index, handle: 0, parent: 0, info: 0),
                               doing: "listing the qdiscs of \(device) in \(namespace)")
        return replies.compactMap { reply -> QdiscInfo? in
            guard reply.type == Netlink.newQdisc, reply.body.count >= 20 else { return nil }
            let body = reply.body
            guard body.loadI32(at: body.startIndex + 4) == link.index else { return nil }
            let kind = NetlinkAttribute.parse(body.dropFirst(20)).first(TrafficControl.TCA.kind)?.string ?? ""
            return QdiscInfo(device: device, kind: kind, handle: .init(raw: body.loadU32(at: body.startIndex + 8)),
                             parent: .init(raw: body.loadU32(at: body.startIndex + 12)))
        }
    }

    public func perform(_ request: TrafficControl.Request) throws {
        var known: [String: Int32]?
        let message = try request.message { name in
            if known == nil { known = Dictionary(try links().map { ($0.name, $0.index) }, uniquingKeysWith: { a, _ in a }) }
            guard let index = known?[name] else { throw NetlinkError(code: ENODEV, doing: "\(request): no device \(name)") }
            return index
        }
        try perform(type: message.type, flags: message.flags, body: message.body, doing: "\(request)")
    }
}

/// The same through `tc` and `ip`, for where netlink cannot be opened.
public struct TrafficCommands: TrafficControlChannel {
    public var namespace: NetworkNamespace
    public var runner: any CommandRunner

    public init(namespace: NetworkNamespace, runner: any CommandRunner) {
        self.namespace = namespace
        self.runner = runner
    }

    var inside: NamespacedRunner { NamespacedRunner(namespace, base: runner) }

    public func links() throws -> [LinkInfo] {
        let shown = try inside.check(Command(["ip", "-o", "link", "show"]), doing: "listing devices in \(namespace)")
        return shown.stdout.split(separator: "\n").compactMap { line -> LinkInfo? in
            let fields = line.split(separator: ":", maxSplits: 2)
            guard fields.count >= 3, let index = Int32(fields[0].trimmingCharacters(in: .whitespaces)) else { return nil }
            let name = fields[1].trimmingCharacters(in: .whitespaces).split(separator: "@").first.map(String.init) ?? ""
            return LinkInfo(index: index, name: name, up: fields[2].contains(",UP"))
        }
    }

    public func qdiscs(of device: String) throws -> [QdiscInfo]? {
        let shown = try inside.run(Command(["tc", "qdisc", "show", "dev", device]))
        guard shown.succeeded else { return nil }
        // "qdisc tbf 746d: root refcnt 2 ...", "qdisc ingress ffff: parent ffff:fff1 ----------------"
        return shown.stdout.split(separator: "\n").compactMap { line -> QdiscInfo? in
            let fields = line.split(separator: " ").map(String.init)
            guard fields.count >= 4, fields[0] == "qdisc", let handle = TrafficControl.Handle(fields[2]) else { return nil }
            let parent: TrafficControl.Handle = fields[3] == "root" ? .root
                : fields[3] == "parent" && fields.count > 4 ? (fields[4] == "ffff:fff1" ? .ingress : TrafficControl.Handle(fields[4]) ?? .unspecified)
                : .unspecified
            return QdiscInfo(device: device, kind: fields[1], handle: handle, parent: parent)
        }
    }

    public func perform(_ request: TrafficControl.Request) throws {
        try inside.check(request.command, doing: "applying \(request.command)")
    }
}
