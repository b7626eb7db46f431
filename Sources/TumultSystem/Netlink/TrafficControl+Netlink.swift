import Foundation

/// The netlink form of each request: the message type, flags and body the
/// kernel receives from `tc`/`ip` for the same change, minus the rate
/// tables that kernels since 3.11 ignore when the rate names its link
/// layer (`TC_LINKLAYER_ETHERNET`, which is what `tc` sets too).
extension TrafficControl.Request {
    /// One message: its type, its flags beyond REQUEST|ACK, and its body.
    public struct Message: Sendable, Hashable {
        public var type: UInt16
        public var flags: UInt16
        public var body: NetlinkBuffer
    }

    /// Encodes the request; `index` gives a device's interface index.
    public func message(ticks: PacketSchedulerClock = .current, index: (String) throws -> Int32) throws -> Message {
        switch self {
        case .addQdisc(let device, let parent, let handle, let qdisc):
            var body = TrafficControl.tcmsg(index: try index(device), handle: handle.raw, parent: parent.raw, info: 0)
            body.attribute(TrafficControl.TCA.kind, string: qdisc.kind)
            TrafficControl.options(qdisc, ticks: ticks, into: &body)
            return Message(type: Netlink.newQdisc, flags: Netlink.create | Netlink.exclusive, body: body)
        case .deleteQdisc(let device, let parent, let handle):
            return Message(type: Netlink.deleteQdisc, flags: 0,
                           body: TrafficControl.tcmsg(index: try index(device), handle: handle.raw, parent: parent.raw, info: 0))
        case .addHTBClass(let device, let parent, let classID, let rateBits):
            var body = TrafficControl.tcmsg(index: try index(device), handle: classID.raw, parent: parent.raw, info: 0)
            body.attribute(TrafficControl.TCA.kind, string: "htb")
            body.attribute(TrafficControl.TCA.options) { options in
                let rate = rateBits / 8
                // tc's default bucket: one timer tick of traffic plus an MTU (1600).
                let buffer = UInt32(clamping: rate / ticks.hz + 1600)
                let time = ticks.transmitTicks(bytes: buffer, rate: rate)
                options.attribute(1) { parameters in  // TCA_HTB_PARMS: struct tc_htb_opt
                    TrafficControl.rateSpec(rate, into: &parameters)  // rate
                    TrafficControl.rateSpec(rate, into: &parameters)  // ceil
                    parameters.u32(time)  // buffer
                    parameters.u32(time)  // cbuffer
                    parameters.u32(0)  // quantum
                    parameters.u32(0)  // level
                    parameters.u32(0)  // prio
                }
                if rate >= 1 << 32 {
                    options.attribute(6, u64: rate)  // TCA_HTB_RATE64
                    options.attribute(7, u64: rate)  // TCA_HTB_CEIL64
                }
            }
            return Message(type: Netlink.newClass, flags: Netlink.create | Netlink.exclusive, body: body)
        case .addFilter(let device, let parent, let priority, let matches, let target):
            // tcm_info: priority in the upper half, the protocol (ETH_P_IP) in network order below.
            let info = UInt32(priority ?? 0) << 16 | UInt32(UInt16(0x0800).bigEndian)
            var body = TrafficControl.tcmsg(index: try index(device), handle: 0, parent: parent.raw, info: info)
            body.attribute(TrafficControl.TCA.kind, string: "u32")
            let redirectIndex: Int32? = if case .redirect(let to) = target { try index(to) } else { nil }
            body.attribute(TrafficControl.TCA.options) { options in
                switch target {
                case .flow(let handle): options.attribute(1, u32: handle.raw)  // TCA_U32_CLASSID
                case .redirect:
                    options.attribute(7) { actions in  // TCA_U32_ACT
                        actions.attribute(1) { action in  // the first action
                            action.attribute(1, string: "mirred")  // TCA_ACT_KIND
                            action.attribute(2) { mirred in  // TCA_ACT_OPTIONS
                                mirred.attribute(2) { parameters in  // TCA_MIRRED_PARMS: struct tc_mirred
                                    parameters.u32(0)  // index
                                    parameters.u32(0)  // capab
                                    parameters.i32(4)  // action: TC_ACT_STOLEN
                                    parameters.i32(0)  // refcnt
                                    parameters.i32(0)  // bindcnt
                                    parameters.i32(1)  // eaction: TCA_EGRESS_REDIR
                                    parameters.u32(UInt32(bitPattern: redirectIndex ?? 0))
                                }
                            }
                        }
                    }
                }
                options.attribute(5) { selector in  // TCA_U32_SEL: struct tc_u32_sel and its keys
                    let keys = TrafficControl.packKeys(matches)
                    selector.u8(1)  // flags: TC_U32_TERMINAL
                    selector.u8(0)  // offshift
                    selector.u8(UInt8(keys.count))
                    selector.u8(0)
                    selector.u16(0)  // offmask
                    selector.u16(0)  // off
                    selector.i16(0)  // offoff
                    selector.i16(0)  // hoff
                    selector.u32(0)  // hmask
                    for key in keys {
                        selector.be32(key.mask)
                        selector.be32(key.value)
                        selector.i32(key.offset)
                        selector.i32(0)  // offmask
                    }
                }
            }
            return Message(type: Netlink.newFilter, flags: Netlink.create | Netlink.exclusive, body: body)
        case .addLink(let name, let kind):
            var body = TrafficControl.ifinfomsg(index: 0, flags: 0, change: 0)
            body.attribute(3, string: name)  // IFLA_IFNAME
            body.attribute(18) { info in info.attribute(1, string: kind) }  // IFLA_LINKINFO { IFLA_INFO_KIND }
            return Message(type: Netlink.newLink, flags: Netlink.create | Netlink.exclusive, body: body)
        case .setLinkUp(let name):
            return Message(type: Netlink.newLink, flags: 0,
                           body: TrafficControl.ifinfomsg(index: try index(name), flags: 1, change: 1))  // IFF_UP
        case .deleteLink(let name):
            return Message(type: Netlink.deleteLink, flags: 0,
                           body: TrafficControl.ifinfomsg(index: try index(name), flags: 0, change: 0))
        }
    }
}

extension TrafficControl {
    enum TCA {
        static let kind: UInt16 = 1, options: UInt16 = 2
    }

    /// `struct tcmsg`: family, padding, interface index, handle, parent, info.
    static func tcmsg(index: Int32, handle: UInt32, parent: UInt32, info: UInt32) -> NetlinkBuffer {
        var body = NetlinkBuffer()
        body.u8(0)  // AF_UNSPEC
        body.u8(0)
        body.u16(0)
        body.i32(index)
        body.u32(handle)
        body.u32(parent)
        body.u32(info)
        return body
    }

    /// `struct ifinfomsg`: family, padding, type, index, flags, change mask.
    static func ifinfomsg(index: Int32, flags: UInt32, change: UInt32) -> NetlinkBuffer {
        var body = NetlinkBuffer()
        body.u8(0)
        body.u8(0)
        body.u16(0)
        body.i32(index)
        body.u32(flags)
        body.u32(change)
        return body
    }

    /// `struct tc_ratespec` for `bytesPerSecond` on Ethernet (rates of
    /// 2^32 bytes/s and more go in a 64-bit attribute beside it).
    static func rateSpec(_ bytesPerSecond: UInt64, into body: inout NetlinkBuffer) {
        body.u8(3)  // cell_log, as tc computes it for its default MTU of 2047
        body.u8(1)  // linklayer: TC_LINKLAYER_ETHERNET (no rate table needed)
        body.u16(0)  // overhead
        body.i16(-1)  // cell_align
        body.u16(0)  // mpu
        body.u32(UInt32(clamping: bytesPerSecond))
    }

    static func options(_ qdisc: Qdisc, ticks: PacketSchedulerClock, into body: inout NetlinkBuffer) {
        switch qdisc {
        case .ingress:
            break
        case .htb(let defaultClass):
            body.attribute(TrafficControl.TCA.options) { options in
                options.attribute(2) { global in  // TCA_HTB_INIT: struct tc_htb_glob
                    global.u32(3)  // version
                    global.u32(10)  // rate2quantum
                    global.u32(defaultClass)
                    global.u32(0)  // debug
                    global.u32(0)  // direct_pkts
                }
            }
        case .tokenBucket(let bucket):
            let rate = bucket.rateBits / 8
            let peak = (bucket.peakBytes ?? 0) > 0 && (bucket.mtu ?? 0) > 0 ? bucket.peakBytes : nil
            body.attribute(TrafficControl.TCA.options) { options in
                options.attribute(1) { parameters in  // TCA_TBF_PARMS: struct tc_tbf_qopt
                    rateSpec(rate, into: &parameters)
                    if let peak { rateSpec(peak, into: &parameters) } else { parameters.raw([UInt8](repeating: 0, count: 12)) }
                    parameters.u32(bucket.limit)
                    parameters.u32(ticks.transmitTicks(bytes: bucket.burst, rate: rate))
                    parameters.u32(peak.map { ticks.transmitTicks(bytes: bucket.mtu ?? 0, rate: $0) } ?? 0)
                }
                options.attribute(6, u32: bucket.burst)  // TCA_TBF_BURST
                if rate >= 1 << 32 { options.attribute(4, u64: rate) }  // TCA_TBF_RATE64
                if let peak {
                    if peak >= 1 << 32 { options.attribute(5, u64: peak) }  // TCA_TBF_PRATE64
                    options.attribute(7, u32: bucket.mtu ?? 0)  // TCA_TBF_PBURST
                }
            }
        case .netem(let netem):
            // TCA_OPTIONS holds struct tc_netem_qopt itself, then netem's attributes.
            body.attribute(TrafficControl.TCA.options) { options in
                let gap = netem.reorder > 0 && netem.gap == 0 ? 1 : netem.gap  // tc: reordering implies gap 1
                options.u32(UInt32(clamping: ticks.ticks(nanoseconds: netem.latency)))
                options.u32(netem.limit)
                options.u32(probability(netem.loss))
                options.u32(gap)
                options.u32(probability(netem.duplicate))
                options.u32(UInt32(clamping: ticks.ticks(nanoseconds: netem.jitter)))
                if netem.delayCorrelation > 0 || netem.lossCorrelation > 0 || netem.duplicateCorrelation > 0 {
                    options.attribute(1) { correlation in  // TCA_NETEM_CORR
                        correlation.u32(probability(netem.delayCorrelation))
                        correlation.u32(probability(netem.lossCorrelation))
                        correlation.u32(probability(netem.duplicateCorrelation))
                    }
                }
                if netem.reorder > 0 {
                    options.attribute(3) { reorder in  // TCA_NETEM_REORDER
                        reorder.u32(probability(netem.reorder))
                        reorder.u32(probability(netem.reorderCorrelation))
                    }
                }
                if netem.corrupt > 0 {
                    options.attribute(4) { corrupt in  // TCA_NETEM_CORRUPT
                        corrupt.u32(probability(netem.corrupt))
                        corrupt.u32(probability(netem.corruptCorrelation))
                    }
                }
                if netem.latency > 0 || netem.jitter > 0 {
                    options.attribute(10, i64: Int64(clamping: netem.latency))  // TCA_NETEM_LATENCY64
                    if netem.jitter > 0 { options.attribute(11, i64: Int64(clamping: netem.jitter)) }  // TCA_NETEM_JITTER64
                }
            }
        }
    }

    /// A percentage as netem's 32-bit probability (`tc`'s get_percent: rint(p/100 * UINT32_MAX)).
    static func probability(_ percent: Double) -> UInt32 {
        UInt32(clamping: Int64((min(max(percent, 0), 100) / 100 * Double(UInt32.max)).rounded(.toNearestOrEven)))
    }

    /// The matches as `u32` keys, merged as `tc` merges keys on the same
    /// word (a source and a destination port share one key).
    static func packKeys(_ matches: [Match]) -> [(value: UInt32, mask: UInt32, offset: Int32)] {
        var keys: [(value: UInt32, mask: UInt32, offset: Int32)] = []
        for match in matches {
            let key = match.key
            if let at = keys.firstIndex(where: { $0.offset == key.offset }) {
                keys[at].value |= key.value
                keys[at].mask |= key.mask
            } else {
                keys.append(key)
            }
        }
        return keys
    }
}

/// The packet scheduler's clock as `tc` reads it from /proc/net/psched:
/// times in qdisc parameters are in its ticks, and HTB's default bucket
/// depends on its rate (`HZ`).
public struct PacketSchedulerClock: Sendable, Hashable {
    /// Ticks per microsecond.
    public var ticksPerMicrosecond: Double
    public var hz: UInt64

    public init(ticksPerMicrosecond: Double, hz: UInt64) {
        self.ticksPerMicrosecond = ticksPerMicrosecond
        self.hz = hz
    }

    /// `t2us us2t clock_res hz` in hex, as the kernel writes /proc/net/psched.
    public init?(psched text: String) {
        let fields = text.split(whereSeparator: \.isWhitespace).compactMap { UInt32($0, radix: 16) }
        guard fields.count == 4, fields[1] > 0 else { return nil }
        var ticksToMicroseconds = Double(fields[0])
        if fields[2] == 1_000_000_000 { ticksToMicroseconds = Double(fields[1]) }
        ticksPerMicrosecond = ticksToMicroseconds / Double(fields[1]) * (Double(fields[2]) / 1_000_000)
        hz = fields[2] == 1_000_000 ? UInt64(fields[3]) : 1000
    }

    /// Linux's values on every kernel since 2.6.22 with high-resolution timers.
    public static let linux = PacketSchedulerClock(ticksPerMicrosecond: 15.625, hz: 1_000_000_000)

    public static var current: PacketSchedulerClock {
        (try? String(contentsOfFile: "/proc/net/psched", encoding: .utf8)).flatMap { PacketSchedulerClock(psched: $0) } ?? .linux
    }

    /// tc_calc_xmittime: the time to send `bytes` at `rate` bytes/s, in ticks.
    public func transmitTicks(bytes: UInt32, rate: UInt64) -> UInt32 {
        guard rate > 0 else { return 0 }
        // Whole microseconds first, then ticks, both truncated: tc's arithmetic, so that
        // `tc class show` prints the same burst for what netlink and tc installed.
        let microseconds = UInt32(clamping: UInt64(1_000_000 * (Double(bytes) / Double(rate))))
        return UInt32(clamping: UInt64(Double(microseconds) * ticksPerMicrosecond))
    }

    public func ticks(nanoseconds: UInt64) -> UInt64 {
        UInt64(Double(nanoseconds / 1_000) * ticksPerMicrosecond)
    }
}
