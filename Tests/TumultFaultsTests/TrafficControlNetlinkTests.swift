import Foundation
import Testing
import TumultFaults
import TumultSystem

/// The netlink messages that replace `tc` and `ip`, byte by byte.
@Suite struct TrafficControlMessageTests {
    let clock = PacketSchedulerClock.linux
    let indexes: [String: Int32] = ["eth0": 7, "tmt-ifb": 9]
    func index(_ name: String) throws -> Int32 {
        guard let index = indexes[name] else { throw NetlinkError(code: ENODEV, doing: "no \(name)") }
        return index
    }

    func u32(_ bytes: [UInt8], at offset: Int) -> UInt32 { bytes[...].loadU32Test(at: offset) }

    @Test func handlesReadAndPrintAsTcDoes() {
        #expect(TrafficControl.Handle("746d:")?.raw == 0x746d_0000)
        #expect(TrafficControl.Handle("746d:2")?.raw == 0x746d_0002)
        #expect(TrafficControl.Handle("root") == .root)
        #expect(TrafficControl.Handle("ingress")?.raw == 0xFFFF_FFF1)
        #expect(TrafficControl.Handle(major: 0x746d, minor: 2).description == "746d:2")
        #expect(TrafficControl.Handle(major: 0xffff).description == "ffff:")
        #expect(TrafficControl.Handle("746d") == nil)
        #expect(TrafficControl.Handle("zz:") == nil)
    }

    @Test func theSchedulerClockIsReadLikeTc() {
        let clock = PacketSchedulerClock(psched: "000003e8 00000040 000f4240 3b9aca00\n")
        #expect(clock?.ticksPerMicrosecond == 15.625)
        #expect(clock?.hz == 1_000_000_000)
        // 10,000 bytes at 10 Mbit/s take 8,000 us: 125,000 ticks.
        #expect(PacketSchedulerClock.linux.transmitTicks(bytes: 10_000, rate: 1_250_000) == 125_000)
    }

    @Test func aTokenBucketIsOneNewQdiscWithItsParameters() throws {
        let request = TrafficControl.Request.addQdisc(device: "eth0", parent: .root, handle: .init(major: 0x746d),
                                                      .tokenBucket(.init(rateBits: 10_000_000, burst: 10_000, limit: 20_000)))
        let message = try request.message(ticks: clock, index: index)
        #expect(message.type == Netlink.newQdisc)
        #expect(message.flags == Netlink.create | Netlink.exclusive)
        let bytes = message.body.bytes
        // struct tcmsg: family, pad, ifindex 7, handle 746d:0, parent root, info 0.
        #expect(Array(bytes[0..<4]) == [0, 0, 0, 0])
        #expect(u32(bytes, at: 4) == 7)
        #expect(u32(bytes, at: 8) == 0x746d_0000)
        #expect(u32(bytes, at: 12) == 0xFFFF_FFFF)
        let attributes = NetlinkAttribute.parse(bytes[20...])
        #expect(attributes.first(1)?.string == "tbf")
        let options = try #require(attributes.first(2)?.nested)
        let parameters = Array(try #require(options.first(1)).value)
        #expect(parameters.count == 36)  // struct tc_tbf_qopt
        #expect(parameters[1] == 1)  // TC_LINKLAYER_ETHERNET: the kernel needs no rate table
        #expect(u32(parameters, at: 8) == 1_250_000)  // rate in bytes/s
        #expect(u32(parameters, at: 24) == 20_000)  // limit
        #expect(u32(parameters, at: 28) == 125_000)  // buffer in ticks
        #expect(options.first(6)?.u32 == 10_000)  // TCA_TBF_BURST
        #expect(options.first(4) == nil)  // no 64-bit rate below 2^32 bytes/s
        #expect(request.command.arguments == ["tc", "qdisc", "add", "dev", "eth0", "root", "handle", "746d:",
                                              "tbf", "rate", "10000000bit", "burst", "10000", "limit", "20000"])
    }

    @Test func fastRatesGoInSixtyFourBitAttributes() throws {
        let request = TrafficControl.Request.addHTBClass(device: "eth0", parent: .init(major: 0x746d),
                                                         classID: .init(major: 0x746d, minor: 1), rateBits: 100_000_000_000)
        let message = try request.message(ticks: clock, index: index)
        #expect(message.type == Netlink.newClass)
        let options = try #require(NetlinkAttribute.parse(message.body.bytes[20...]).first(2)?.nested)
        let parameters = Array(try #require(options.first(1)).value)
        #expect(parameters.count == 44)  // struct tc_htb_opt
        #expect(u32(parameters, at: 8) == UInt32.max)  // the 32-bit rate saturates ...
        #expect(options.first(6)?.u64 == 12_500_000_000)  // ... and TCA_HTB_RATE64 carries it
        #expect(options.first(7)?.u64 == 12_500_000_000)
        #expect(request.command.arguments == ["tc", "class", "add", "dev", "eth0", "parent", "746d:", "classid", "746d:1",
                                              "htb", "rate", "100gbit"])
    }

    @Test func u32KeysAreMergedPerWordAsTcDoes() throws {
        let request = TrafficControl.Request.addFilter(
            device: "eth0", parent: .init(major: 0x746d), priority: 1,
            matches: [.ipProtocol(6), .destination(try #require(IPv4Prefix("10.1.2.3/8"))), .destinationPort(443), .sourcePort(8080)],
            target: .flow(.init(major: 0x746d, minor: 2)))
        let message = try request.message(ticks: clock, index: index)
        let bytes = message.body.bytes
        #expect(u32(bytes, at: 16) == 1 << 16 | 0x0008)  // prio 1, ETH_P_IP in network order
        let options = try #require(NetlinkAttribute.parse(bytes[20...]).first(2)?.nested)
        #expect(options.first(1)?.u32 == 0x746d_0002)  // TCA_U32_CLASSID
        let selector = Array(try #require(options.first(5)).value)
        #expect(selector[0] == 1)  // TC_U32_TERMINAL
        #expect(selector[2] == 3)  // protocol, destination, and both ports in one word
        #expect(selector.count == 16 + 3 * 16)
        func key(_ n: Int) -> (mask: [UInt8], value: [UInt8], offset: UInt32) {
            let base = 16 + n * 16
            return (Array(selector[base..<base + 4]), Array(selector[base + 4..<base + 8]), u32(selector, at: base + 8))
        }
        #expect(key(0).mask == [0, 0xff, 0, 0] && key(0).value == [0, 6, 0, 0] && key(0).offset == 8)
        #expect(key(1).mask == [0xff, 0, 0, 0] && key(1).value == [10, 0, 0, 0] && key(1).offset == 16)
        #expect(key(2).mask == [0xff, 0xff, 0xff, 0xff] && key(2).value == [0x1f, 0x90, 0x01, 0xbb] && key(2).offset == 20)
    }

    @Test func aRedirectNamesTheIfbByIndex() throws {
        let request = TrafficControl.Request.addFilter(device: "eth0", parent: .init(major: 0xffff), priority: nil,
                                                       matches: [.everything], target: .redirect(device: "tmt-ifb"))
        let message = try request.message(ticks: clock, index: index)
        let options = try #require(NetlinkAttribute.parse(message.body.bytes[20...]).first(2)?.nested)
        let action = try #require(options.first(7)?.nested.first(1)?.nested)
        #expect(action.first(1)?.string == "mirred")
        let mirred = Array(try #require(action.first(2)?.nested.first(2)).value)
        #expect(mirred.count == 28)
        #expect(u32(mirred, at: 8) == 4)  // TC_ACT_STOLEN
        #expect(u32(mirred, at: 20) == 1)  // TCA_EGRESS_REDIR
        #expect(u32(mirred, at: 24) == 9)  // the ifb's index
        #expect(request.command.arguments == ["tc", "filter", "add", "dev", "eth0", "parent", "ffff:", "protocol", "ip",
                                              "u32", "match", "u32", "0", "0", "action", "mirred", "egress", "redirect",
                                              "dev", "tmt-ifb"])
        #expect(throws: NetlinkError.self) {
            try TrafficControl.Request.addFilter(device: "eth0", parent: .init(major: 0xffff), priority: nil, matches: [.everything],
                                                 target: .redirect(device: "gone")).message(ticks: clock, index: index)
        }
    }

    @Test func netemCarriesNanosecondsAndThirtyTwoBitProbabilities() throws {
        var netem = NetworkFault.Netem()
        netem.latency = 100_000_000
        netem.jitter = 20_000_000
        netem.delayCorrelation = 25
        netem.loss = 0.5
        netem.reorder = 10
        let request = TrafficControl.Request.addQdisc(device: "eth0", parent: .root, handle: .init(major: 0x746d),
                                                      NetworkPlan.netemQdisc(netem))
        let message = try request.message(ticks: clock, index: index)
        let options = try #require(NetlinkAttribute.parse(message.body.bytes[20...]).first(2))
        let value = Array(options.value)
        // struct tc_netem_qopt first: latency (ticks), limit, loss, gap, duplicate, jitter (ticks).
        #expect(u32(value, at: 0) == 1_562_500)
        #expect(u32(value, at: 4) == 1000)
        #expect(u32(value, at: 8) == 21_474_836)  // rint(0.005 * UINT32_MAX)
        #expect(u32(value, at: 12) == 1)  // reordering implies gap 1, as tc sets it
        #expect(u32(value, at: 20) == 312_500)
        let attributes = NetlinkAttribute.parse(options.value.dropFirst(24))
        #expect(attributes.first(10)?.u64 == 100_000_000)  // TCA_NETEM_LATENCY64
        #expect(attributes.first(11)?.u64 == 20_000_000)  // TCA_NETEM_JITTER64
        #expect(attributes.first(1).map { Array($0.value) }.map { u32($0, at: 0) } == 1_073_741_824)  // 25 %
        #expect(attributes.first(3).map { Array($0.value) }.map { u32($0, at: 0) } == 429_496_730)  // reorder 10 %
        #expect(NetworkPlan.netemArguments(netem) == ["netem", "limit", "1000", "delay", "100000us", "20000us", "25%",
                                                      "loss", "0.5%", "reorder", "10%"])
    }

    @Test func linksAreMadeRaisedAndRemovedByName() throws {
        let add = try TrafficControl.Request.addLink(name: "tmt-ifb", kind: "ifb").message(ticks: clock, index: index)
        #expect(add.type == Netlink.newLink && add.flags == Netlink.create | Netlink.exclusive)
        let attributes = NetlinkAttribute.parse(add.body.bytes[16...])
        #expect(attributes.first(3)?.string == "tmt-ifb")
        #expect(attributes.first(18)?.nested.first(1)?.string == "ifb")
        let up = try TrafficControl.Request.setLinkUp(name: "tmt-ifb").message(ticks: clock, index: index)
        #expect(u32(up.body.bytes, at: 4) == 9 && u32(up.body.bytes, at: 8) == 1 && u32(up.body.bytes, at: 12) == 1)
        let delete = try TrafficControl.Request.deleteLink(name: "tmt-ifb").message(ticks: clock, index: index)
        #expect(delete.type == Netlink.deleteLink && u32(delete.body.bytes, at: 4) == 9)
    }
}

extension ArraySlice<UInt8> {
    func loadU32Test(at offset: Int) -> UInt32 {
        let base = startIndex + offset
        return UInt32(self[base]) | UInt32(self[base + 1]) << 8 | UInt32(self[base + 2]) << 16 | UInt32(self[base + 3]) << 24
    }
}

/// What netlink installs reads back through `tc ... show` exactly as what
/// `tc` itself installs: the same plan applied both ways, one namespace each.
@Suite(.serialized, .enabled(if: getuid() == 0, "needs root for network namespaces"))
struct TrafficControlNetlinkReadBackTests {
    /// Applies `requests` on A's device through netlink and on B's through
    /// their `tc`/`ip` commands, and compares every listing.
    func compare(_ requests: (String) -> [TrafficControl.Request], listings: [[String]]) throws {
        let network = try TestNetwork()
        defer { network.tearDown() }
        let netlink = try RouteNetlink(.named(network.a))
        for request in requests(network.deviceA) { try netlink.perform(request) }
        let commands = TrafficCommands(namespace: .named(network.b), runner: ProcessCommandRunner())
        for request in requests(network.deviceB) { try commands.perform(request) }
        for listing in listings {
            let viaNetlink = try network.run(in: network.a, listing.map { $0 == "DEV" ? network.deviceA : $0 }).stdout
            let viaTc = try network.run(in: network.b, listing.map { $0 == "DEV" ? network.deviceB : $0 }).stdout
            #expect(!viaTc.isEmpty, "\(listing) lists nothing")
            // Device names, (random) MAC addresses and packet counters (IPv6
            // neighbour discovery passes HTB's direct queue) aside.
            func normal(_ text: String, _ device: String) -> String {
                text.replacingOccurrences(of: device, with: "DEV").replacing(/([0-9a-f]{2}:){5}[0-9a-f]{2}/, with: "MAC")
                    .replacing(/direct_packets_stat \d+/, with: "direct_packets_stat N")
            }
            #expect(normal(viaNetlink, network.deviceA) == normal(viaTc, network.deviceB), "\(listing)")
        }
        // Both channels read back the same qdiscs, and netlink removes what it made.
        #expect(try netlink.qdiscs(of: network.deviceA)?.map(\.kind) == commands.qdiscs(of: network.deviceB)?.map(\.kind))
        let ours = try #require(try netlink.qdiscs(of: network.deviceA)?.first { $0.handle.raw != 0 })
        try netlink.deleteQdisc(device: network.deviceA, parent: ours.parent, handle: ours.handle)
        #expect(try netlink.qdiscs(of: network.deviceA)?.contains { $0.handle == ours.handle } == false)
        try netlink.deleteQdisc(device: network.deviceA, parent: ours.parent, handle: ours.handle)  // twice is fine
    }

    @Test func aTokenBucketOnTheRoot() throws {
        try compare({ device in
            [.addQdisc(device: device, parent: .root, handle: .init(major: 0x746d),
                       .tokenBucket(.init(rateBits: 10_000_000, burst: 10_000, limit: 20_000)))]
        }, listings: [["tc", "qdisc", "show", "dev", "DEV"], ["tc", "-d", "qdisc", "show", "dev", "DEV"]])
    }

    @Test func aTokenBucketWithAPeakRateAndAFastOne() throws {
        try compare({ device in
            [.addQdisc(device: device, parent: .root, handle: .init(major: 0x746d),
                       .tokenBucket(.init(rateBits: 1_000_000, burst: 20_000, limit: 50_000, peakBytes: 250_000, mtu: 2000)))]
        }, listings: [["tc", "-d", "qdisc", "show", "dev", "DEV"]])
        try compare({ device in
            [.addQdisc(device: device, parent: .root, handle: .init(major: 0x746d),
                       .tokenBucket(.init(rateBits: 40_000_000_000, burst: 1_000_000, limit: 2_000_000)))]
        }, listings: [["tc", "-d", "qdisc", "show", "dev", "DEV"]])
    }

    @Test func htbClassesAndU32FiltersForSelectedPeers() throws {
        var fault = NetworkFault(action: .bandwidth, namespace: .host)
        fault.bandwidth = .init(bitsPerSecond: 5_000_000, limit: 30_000, buffer: 12_000)
        fault.ipProtocol = "tcp"
        fault.egressPorts = [443, 8443]
        fault.sourcePorts = [9000]
        try compare({ device in
            let plan = NetworkPlan.make(fault, device: device, peers: ["10.9.8.0/24", "10.1.1.1"], userspace: false,
                                        names: .init(attack: "0123abcd-0000", queue: 1))
            return plan.changes.flatMap { change -> [TrafficControl.Request] in
                if case .traffic(_, let apply, _, _) = change { return apply }
                return []
            }
        }, listings: [["tc", "qdisc", "show", "dev", "DEV"], ["tc", "class", "show", "dev", "DEV"],
                      ["tc", "filter", "show", "dev", "DEV", "parent", "746d:"]])
    }

    @Test func anIfbWithAnIngressRedirect() throws {
        try compare({ device in
            [.addLink(name: "tmt-rb", kind: "ifb"), .setLinkUp(name: "tmt-rb"),
             .addQdisc(device: device, parent: .ingress, handle: .init(major: 0xffff), .ingress),
             .addFilter(device: device, parent: .init(major: 0xffff), priority: nil, matches: [.everything],
                        target: .redirect(device: "tmt-rb")),
             .addFilter(device: device, parent: .init(major: 0xffff), priority: nil,
                        matches: [.source(IPv4Prefix("10.3.0.0/16")!)], target: .redirect(device: "tmt-rb")),
             .addQdisc(device: "tmt-rb", parent: .root, handle: .init(major: 0x746d),
                       .tokenBucket(.init(rateBits: 8_000_000, burst: 8_000, limit: 16_000)))]
        }, listings: [["tc", "qdisc", "show", "dev", "DEV"], ["tc", "filter", "show", "dev", "DEV", "parent", "ffff:"],
                      ["tc", "qdisc", "show", "dev", "tmt-rb"], ["ip", "-o", "link", "show", "tmt-rb"]])
    }

    @Test func refusalsCarryTheKernelsWords() throws {
        let network = try TestNetwork()
        defer { network.tearDown() }
        let netlink = try RouteNetlink(.named(network.a))
        let tbf = TrafficControl.Request.addQdisc(device: network.deviceA, parent: .root, handle: .init(major: 0x746d),
                                                  .tokenBucket(.init(rateBits: 1_000_000, burst: 5_000, limit: 10_000)))
        try netlink.perform(tbf)
        let error = try #require(throws: NetlinkError.self) { try netlink.perform(tbf) }
        #expect(error.code == EEXIST)
        #expect(error.description.contains("tc qdisc add dev \(network.deviceA) root handle 746d: tbf"))
        // Someone else's root qdisc is not deleted under our handle.
        try netlink.deleteQdisc(device: network.deviceA, parent: .root, handle: .init(major: 0x1234))
        #expect(try netlink.qdiscs(of: network.deviceA)?.contains { $0.kind == "tbf" } == true)
        #expect(try netlink.qdiscs(of: "no-such-device") == nil)
        #expect(try netlink.links().map(\.name).contains(network.deviceA))
    }
}
