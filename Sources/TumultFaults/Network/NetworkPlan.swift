import TumultSystem

/// The host changes a network fault consists of, in order, each with its
/// undo and the check that it took. Built by pure functions from the fault
/// and what the host told us (device, backend, names), so that every `tc`,
/// `iptables` and `ipset` argument list is unit-tested.
public struct NetworkPlan: Sendable {
    /// How to see that a change really happened.
    public enum ReadBack: Sendable, Hashable {
        /// `tc qdisc show dev DEVICE` lists a `kind` qdisc with `handle`.
        case qdisc(device: String, kind: String, handle: String)
        /// `ip link show NAME` succeeds.
        case link(name: String)
        /// The chain exists with `rules` rules and `hook` jumps to it.
        case chain(table: String, hook: String, chain: String, rules: Int)
        /// The set exists with `members` entries.
        case set(name: String, members: Int)
    }

    public enum Change: Sendable, Hashable {
        /// Commands with no netlink form here (iptables, ipset).
        case commands(summary: String, apply: [Command], undo: NetworkUndoStep, readBack: ReadBack)
        /// Qdiscs, classes, filters and links: one netlink message each
        /// (`TrafficControlChannel`), or their `tc`/`ip` commands where netlink cannot be opened.
        case traffic(summary: String, apply: [TrafficControl.Request], undo: NetworkUndoStep, readBack: ReadBack)
        /// The userspace engine on `queue`, with these arguments after `--queue N`.
        case engine(summary: String, queue: Int, arguments: [String], undo: NetworkUndoStep)

        public var summary: String {
            switch self {
            case .commands(let summary, _, _, _), .traffic(let summary, _, _, _), .engine(let summary, _, _, _): summary
            }
        }

        /// The argument lists of the change (the `tc`/`ip` equivalents for `traffic`).
        public var commands: [Command] {
            switch self {
            case .commands(_, let apply, _, _): apply
            case .traffic(_, let apply, _, _): apply.map(\.command)
            case .engine: []
            }
        }
    }

    /// Names derived from the attack's id, unique per attack and within
    /// the kernel's limits (chains 28, sets 31, devices 15 characters).
    public struct Names: Sendable, Hashable {
        public var attack: String
        public var queue: Int

        public init(attack: String, queue: Int) {
            self.attack = attack
            self.queue = queue
        }

        var short: String { String(attack.filter(\.isHexDigit).prefix(8)).lowercased() }
        public var set: String { "tmt-\(short)" }
        public var outputChain: String { "TMT-\(short.uppercased())-OUT" }
        public var inputChain: String { "TMT-\(short.uppercased())-IN" }
        public var ifb: String { "tmt-\(short)" }
    }

    /// Handles of Tumult's qdiscs ("tm" in hex), so that recovery removes
    /// only what is Tumult's.
    public static let root = TrafficControl.Handle(major: 0x746d)
    public static let leaf = TrafficControl.Handle(major: 0x746e)
    public static let ingress = TrafficControl.Handle(major: 0xffff)
    /// The same as `tc` writes them, as the journal's undo steps and read-backs name them.
    public static let rootHandle = root.description
    public static let leafHandle = leaf.description
    public static let ingressHandle = ingress.description
    /// Packets the engine sends itself carry this mark; the queue rules skip it.
    public static let engineMark = "0x746d74"

    public var changes: [Change]

    /// Plans `fault` on `device` with the netem-style parts in `userspace`
    /// or the kernel. `peers` are the resolved IPv4 addresses/CIDRs.
    public static func make(_ fault: NetworkFault, device: String, peers: [String], userspace: Bool,
                            names: Names) -> NetworkPlan {
        let ns = fault.namespace
        var changes: [Change] = []
        let filtered = !peers.isEmpty
        if filtered {
            changes.append(.commands(
                summary: "ipset \(names.set) with \(peers.count) peer(s)",
                apply: [Command(["ipset", "create", names.set, "hash:net", "family", "inet"])]
                    + peers.map { Command(["ipset", "add", names.set, $0, "-exist"]) },
                undo: .destroySet(namespace: ns, name: names.set),
                readBack: .set(name: names.set, members: Set(peers).count)))
        }
        switch fault.action {
        case .partition:
            changes += partition(fault, device: device, filtered: filtered, names: names)
        case .bandwidth:
            changes += bandwidth(fault, device: device, peers: peers, names: names)
        case .delay, .loss, .duplicate, .corrupt, .netem:
            if userspace {
                changes += queueRules(fault, device: device, filtered: filtered, names: names, table: "mangle",
                                      connectionOrigin: false)
                changes.append(engine(fault.netem, names: names, namespace: ns))
            } else {
                changes += kernelNetem(fault, device: device, peers: peers, names: names)
            }
        }
        return NetworkPlan(changes: changes)
    }

    // MARK: Userspace: iptables NFQUEUE rules and the engine

    /// The engine's arguments for netem's parameters.
    public static func engineArguments(_ netem: NetworkFault.Netem) -> [String] {
        var arguments: [String] = []
        func add(_ flag: String, _ value: Double) {
            if value != 0 { arguments += [flag, formatNumber(value)] }
        }
        if netem.latency > 0 { arguments += ["--delay-us", String(netem.latency / 1_000)] }
        if netem.jitter > 0 { arguments += ["--jitter-us", String(netem.jitter / 1_000)] }
        add("--delay-correlation", netem.delayCorrelation)
        add("--loss", netem.loss)
        add("--loss-correlation", netem.lossCorrelation)
        add("--duplicate", netem.duplicate)
        add("--duplicate-correlation", netem.duplicateCorrelation)
        add("--corrupt", netem.corrupt)
        add("--corrupt-correlation", netem.corruptCorrelation)
        add("--reorder", netem.reorder)
        add("--reorder-correlation", netem.reorderCorrelation)
        if netem.gap > 0 { arguments += ["--gap", String(netem.gap)] }
        arguments += ["--limit", String(netem.limit)]
        return arguments
    }

    static func engine(_ netem: NetworkFault.Netem, names: Names, namespace: NetworkNamespace) -> Change {
        .engine(summary: "userspace engine on queue \(names.queue)", queue: names.queue,
                arguments: engineArguments(netem),
                undo: .stopEngine(namespace: namespace, attack: names.attack, pid: nil, startTime: nil))
    }

    /// Chains that send the fault's traffic to the engine's queue, hooked
    /// into OUTPUT (direction to) and INPUT (from). With `connectionOrigin`,
    /// only packets of connections started in that direction match, which is
    /// what makes a one-way partition one-way for TCP.
    static func queueRules(_ fault: NetworkFault, device: String, filtered: Bool, names: Names, table: String,
                           connectionOrigin: Bool) -> [Change] {
        var changes: [Change] = []
        if fault.direction != .from {
            var rule = ["-o", device]
            if filtered { rule += ["-m", "set", "--match-set", names.set, "dst"] }
            rule += portMatch(fault, outgoing: true)
            if connectionOrigin { rule += ["-m", "conntrack", "--ctdir", "ORIGINAL"] }
            rule += ["-m", "mark", "!", "--mark", engineMark,
                     "-j", "NFQUEUE", "--queue-num", String(names.queue), "--queue-bypass"]
            changes.append(chain(fault.namespace, table: table, hook: "OUTPUT", chain: names.outputChain, rules: [rule],
                                 summary: "\(table) OUTPUT -> queue \(names.queue)"))
        }
        if fault.direction != .to {
            var rule = ["-i", device]
            if filtered { rule += ["-m", "set", "--match-set", names.set, "src"] }
            rule += portMatch(fault, outgoing: false)
            if connectionOrigin { rule += ["-m", "conntrack", "--ctdir", "ORIGINAL"] }
            rule += ["-j", "NFQUEUE", "--queue-num", String(names.queue), "--queue-bypass"]
            changes.append(chain(fault.namespace, table: table, hook: "INPUT", chain: names.inputChain, rules: [rule],
                                 summary: "\(table) INPUT -> queue \(names.queue)"))
        }
        return changes
    }

    /// `-p PROTO` and port matches. Local ports are `sourcePorts`, remote
    /// ports `egressPorts`, whichever way the packet goes.
    static func portMatch(_ fault: NetworkFault, outgoing: Bool) -> [String] {
        var match: [String] = []
        let ports = !fault.sourcePorts.isEmpty || !fault.egressPorts.isEmpty
        if let proto = fault.ipProtocol, proto != "all" {
            match += ["-p", proto]
        } else if ports {
            match += ["-p", "tcp"]
        }
        func list(_ ports: [UInt16]) -> String { ports.map(String.init).joined(separator: ",") }
        if !fault.sourcePorts.isEmpty {
            match += ["-m", "multiport", outgoing ? "--sports" : "--dports", list(fault.sourcePorts)]
        }
        if !fault.egressPorts.isEmpty {
            match += ["-m", "multiport", outgoing ? "--dports" : "--sports", list(fault.egressPorts)]
        }
        return match
    }

    static func chain(_ namespace: NetworkNamespace, table: String, hook: String, chain: String, rules: [[String]],
                      summary: String) -> Change {
        let apply = [Command(["iptables", "-w", "-t", table, "-N", chain])]
            + rules.map { Command(["iptables", "-w", "-t", table, "-A", chain] + $0) }
            + [Command(["iptables", "-w", "-t", table, "-I", hook, "1", "-j", chain])]
        return .commands(summary: summary, apply: apply,
                         undo: .removeChain(namespace: namespace, table: table, hook: hook, chain: chain, dropEmptyTable: false),
                         readBack: .chain(table: table, hook: hook, chain: chain, rules: rules.count))
    }

    // MARK: Partition

    /// Incoming packets are dropped in INPUT (silent for their sender);
    /// outgoing ones go to an engine that drops them all, because a drop in
    /// OUTPUT is reported to the sending socket at once and a real network
    /// would say nothing.
    static func partition(_ fault: NetworkFault, device: String, filtered: Bool, names: Names) -> [Change] {
        let oneWay = fault.direction != .both
        var changes: [Change] = []
        if fault.direction != .from {
            var outgoing = fault
            outgoing.direction = .to
            changes += queueRules(outgoing, device: device, filtered: filtered, names: names, table: "mangle",
                                  connectionOrigin: oneWay)
            var dropAll = NetworkFault.Netem()
            dropAll.loss = 100
            changes.append(engine(dropAll, names: names, namespace: fault.namespace))
        }
        if fault.direction != .to {
            var rule = ["-i", device]
            if filtered { rule += ["-m", "set", "--match-set", names.set, "src"] }
            rule += portMatch(fault, outgoing: false)
            if oneWay { rule += ["-m", "conntrack", "--ctdir", "ORIGINAL"] }
            rule += ["-j", "DROP"]
            changes.append(chain(fault.namespace, table: "filter", hook: "INPUT", chain: names.inputChain,
                                 rules: [rule], summary: "filter INPUT drop"))
        }
        return changes
    }

    // MARK: Kernel qdiscs

    /// netem's parameters for the kernel qdisc.
    public static func netemQdisc(_ netem: NetworkFault.Netem) -> TrafficControl.Qdisc {
        var kernel = TrafficControl.Netem()
        kernel.limit = UInt32(clamping: netem.limit)
        kernel.latency = UInt64(clamping: netem.latency)
        kernel.jitter = UInt64(clamping: netem.jitter)
        kernel.delayCorrelation = netem.delayCorrelation
        kernel.loss = netem.loss
        kernel.lossCorrelation = netem.lossCorrelation
        kernel.duplicate = netem.duplicate
        kernel.duplicateCorrelation = netem.duplicateCorrelation
        kernel.corrupt = netem.corrupt
        kernel.corruptCorrelation = netem.corruptCorrelation
        kernel.reorder = netem.reorder
        kernel.reorderCorrelation = netem.reorderCorrelation
        kernel.gap = UInt32(clamping: netem.gap)
        return .netem(kernel)
    }

    /// `netem` arguments in tc's syntax.
    public static func netemArguments(_ netem: NetworkFault.Netem) -> [String] {
        TrafficControl.arguments(netemQdisc(netem))
    }

    public static func tokenBucket(_ bandwidth: NetworkFault.Bandwidth) -> TrafficControl.Qdisc {
        let peak = (bandwidth.peakrate ?? 0) > 0 && (bandwidth.minburst ?? 0) > 0
        return .tokenBucket(.init(rateBits: bandwidth.bitsPerSecond, burst: bandwidth.buffer, limit: bandwidth.limit,
                                  peakBytes: peak ? bandwidth.peakrate : nil, mtu: peak ? bandwidth.minburst : nil))
    }

    public static func tbfArguments(_ bandwidth: NetworkFault.Bandwidth) -> [String] {
        TrafficControl.arguments(tokenBucket(bandwidth))
    }

    /// The shaping qdisc on `device`: on the root when all traffic is
    /// affected, else under an HTB root whose second class gets the traffic
    /// to `peers` (u32 filters) and whose first, unshaped, gets the rest.
    static func rootQdisc(_ fault: NetworkFault, device: String, peers: [String], leaf qdisc: TrafficControl.Qdisc) -> Change {
        let ns = fault.namespace
        let kind = qdisc.kind
        let undo = NetworkUndoStep.deleteQdisc(namespace: ns, device: device, parent: "root", handle: rootHandle)
        if peers.isEmpty && fault.ipProtocol == nil && fault.egressPorts.isEmpty && fault.sourcePorts.isEmpty {
            return .traffic(summary: "\(kind) on \(device)",
                            apply: [.addQdisc(device: device, parent: .root, handle: root, qdisc)],
                            undo: undo, readBack: .qdisc(device: device, kind: kind, handle: rootHandle))
        }
        let shaped = TrafficControl.Handle(major: root.major, minor: 2)
        var apply: [TrafficControl.Request] = [
            .addQdisc(device: device, parent: .root, handle: root, .htb(defaultClass: 1)),
            .addHTBClass(device: device, parent: root, classID: .init(major: root.major, minor: 1), rateBits: 100_000_000_000),
            .addHTBClass(device: device, parent: root, classID: shaped, rateBits: 100_000_000_000),
            .addQdisc(device: device, parent: shaped, handle: leaf, qdisc),
        ]
        var protocolMatch: [TrafficControl.Match] = []
        if let proto = fault.ipProtocol, let number = ["tcp": UInt8(6), "udp": 17, "icmp": 1][proto] {
            protocolMatch.append(.ipProtocol(number))
        }
        // u32 matches one port per filter; one filter per (peer, port) pair.
        let destinations: [IPv4Prefix?] = peers.isEmpty ? [nil] : peers.compactMap { IPv4Prefix($0) }
        let remotePorts = fault.egressPorts.isEmpty ? [nil] : fault.egressPorts.map(Optional.some)
        let localPorts = fault.sourcePorts.isEmpty ? [nil] : fault.sourcePorts.map(Optional.some)
        for destination in destinations {
            for remote in remotePorts {
                for local in localPorts {
                    var matches = protocolMatch
                    if let destination { matches.append(.destination(destination)) }
                    if let remote { matches.append(.destinationPort(remote)) }
                    if let local { matches.append(.sourcePort(local)) }
                    apply.append(.addFilter(device: device, parent: root, priority: 1, matches: matches, target: .flow(shaped)))
                }
            }
        }
        return .traffic(summary: "htb with \(kind) for selected traffic on \(device)", apply: apply, undo: undo,
                        readBack: .qdisc(device: device, kind: kind, handle: leafHandle))
    }

    static func kernelNetem(_ fault: NetworkFault, device: String, peers: [String], names: Names) -> [Change] {
        var changes: [Change] = []
        let leaf = netemQdisc(fault.netem)
        if fault.direction != .from {
            changes.append(rootQdisc(fault, device: device, peers: peers, leaf: leaf))
        }
        if fault.direction != .to {
            // Incoming traffic is redirected to an ifb device, whose egress
            // carries the netem qdisc.
            let ns = fault.namespace
            changes.append(.traffic(
                summary: "ifb \(names.ifb)",
                apply: [.addLink(name: names.ifb, kind: "ifb"), .setLinkUp(name: names.ifb)],
                undo: .deleteLink(namespace: ns, name: names.ifb), readBack: .link(name: names.ifb)))
            var apply: [TrafficControl.Request] = [.addQdisc(device: device, parent: .ingress, handle: ingress, .ingress)]
            for source in (peers.isEmpty ? [nil] : peers.compactMap { IPv4Prefix($0) } as [IPv4Prefix?]) {
                apply.append(.addFilter(device: device, parent: ingress, priority: nil,
                                        matches: source.map { [.source($0)] } ?? [.everything],
                                        target: .redirect(device: names.ifb)))
            }
            changes.append(.traffic(summary: "ingress redirect \(device) -> \(names.ifb)", apply: apply,
                                    undo: .deleteQdisc(namespace: ns, device: device, parent: "ingress",
                                                       handle: ingressHandle),
                                    readBack: .qdisc(device: device, kind: "ingress", handle: ingressHandle)))
            var onIfb = fault
            onIfb.peers = []
            onIfb.ipProtocol = nil
            onIfb.sourcePorts = []
            onIfb.egressPorts = []
            changes.append(rootQdisc(onIfb, device: names.ifb, peers: [], leaf: leaf))
        }
        return changes
    }

    static func bandwidth(_ fault: NetworkFault, device: String, peers: [String], names: Names) -> [Change] {
        guard let bandwidth = fault.bandwidth else { return [] }
        return [rootQdisc(fault, device: device, peers: peers, leaf: tokenBucket(bandwidth))]
    }

    static func formatNumber(_ value: Double) -> String {
        value.rounded() == value ? String(Int(value)) : String(value)
    }
}
