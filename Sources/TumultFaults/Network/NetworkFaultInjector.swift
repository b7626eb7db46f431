import Foundation
import TumultSystem

/// Applies a `NetworkFault` to one network namespace and undoes it.
///
/// netem-style faults use the kernel's sch_netem where it exists and
/// Tumult's userspace engine (`tumult-netem`, fed by NFQUEUE) where it does
/// not; bandwidth uses `tbf`; partitions use iptables and the engine.
public struct NetworkFaultInjector: FaultInjector {
    public typealias Fault = NetworkFault
    public typealias UndoStep = NetworkUndoStep
    public static let family = "network"

    public var runner: any CommandRunner
    /// The engine executable; default: `tumult-netem` beside the running program.
    public var engineExecutable: String
    /// Foreground attacks tie the engine to their process; detached ones
    /// leave it in a session of its own, to be stopped by recovery.
    public var detachEngine: Bool
    /// Where the engine writes its packet counters (`EngineStatistics`),
    /// read by `/metrics`; nil: no counters.
    public var statisticsDirectory: String?

    public init(runner: any CommandRunner = ProcessCommandRunner(), engineExecutable: String? = nil,
                detachEngine: Bool = true, statisticsDirectory: String? = EngineStatistics.defaultDirectory()) {
        self.runner = runner
        self.engineExecutable = engineExecutable ?? Self.defaultEngineExecutable()
        self.detachEngine = detachEngine
        self.statisticsDirectory = statisticsDirectory
    }

    public static func defaultEngineExecutable() -> String {
        HelperExecutable.locate("tumult-netem", environmentOverride: "TUMULT_NETEM")
    }

    /// Whether netem-style faults will run in userspace for this backend choice.
    public func usesUserspace(_ backend: NetworkFault.Backend) throws -> Bool {
        switch backend {
        case .userspace: return true
        case .kernel:
            guard KernelSupport.hasQdisc("netem", runner: runner) else {
                throw FaultError(.unsupported, "the kernel backend needs sch_netem, which this kernel does not have "
                                 + "(use --network-backend userspace or auto)")
            }
            return false
        case .auto: return !KernelSupport.hasQdisc("netem", runner: runner)
        }
    }

    // MARK: Apply

    public func apply(_ fault: NetworkFault, attack: String, recorder: ChangeRecorder) throws {
        try check(fault)
        guard fault.namespace.exists else { throw FaultError(.invalidFault, "\(fault.namespace) does not exist") }
        let inside = NamespacedRunner(fault.namespace, base: runner)
        let channel = TrafficControlChannels.open(fault.namespace, runner: runner)
        let links = try channel.links()
        let device = try fault.device ?? defaultDevice(links, namespace: fault.namespace)
        guard links.contains(where: { $0.name == device }) else {
            throw FaultError(.invalidFault, "there is no device \(device) in \(fault.namespace)")
        }
        let netemLike = ![.partition, .bandwidth].contains(fault.action)
        let userspace = netemLike ? try usesUserspace(fault.backend) : true
        if fault.action == .bandwidth || (netemLike && !userspace) {
            try checkRootQdiscIsDefault(device, channel)
        }
        let peers = try resolvePeers(fault)
        // Only the engine needs a queue; a bandwidth fault skips the lookup.
        let needsEngine = fault.action == .partition ? fault.direction != .from : (netemLike && userspace)
        let queue = needsEngine ? try freeQueue(for: attack, inside) : 0
        let plan = NetworkPlan.make(fault, device: device, peers: peers, userspace: userspace,
                                    names: NetworkPlan.Names(attack: attack, queue: queue))

        var done: [NetworkUndoStep] = []
        do {
            for change in plan.changes {
                switch change {
                case .commands(let summary, let commands, var undo, let readBack):
                    if case .removeChain(let ns, let table, let hook, let chain, _) = undo,
                       IptablesChain.usesNFTables(runner: runner), !(try IptablesChain.tableExists(table, runner: inside)) {
                        undo = .removeChain(namespace: ns, table: table, hook: hook, chain: chain, dropEmptyTable: true)
                    }
                    let sequence = try recorder.willApply(summary, undo: Self.encodeStep(undo))
                    done.append(undo)
                    for command in commands { try inside.check(command, doing: "applying \(summary)") }
                    try verify(readBack, inside, channel, summary: summary)
                    try recorder.didApply(sequence, undo: nil)
                case .traffic(let summary, let requests, let undo, let readBack):
                    let sequence = try recorder.willApply(summary, undo: Self.encodeStep(undo))
                    done.append(undo)
                    for request in requests { try channel.perform(request) }
                    try verify(readBack, inside, channel, summary: summary)
                    try recorder.didApply(sequence, undo: nil)
                case .engine(let summary, let queue, let arguments, let undo):
                    let sequence = try recorder.willApply(summary, undo: Self.encodeStep(undo))
                    done.append(undo)
                    let started = try startEngine(fault.namespace, queue: queue, arguments: arguments, attack: attack)
                    let known = NetworkUndoStep.stopEngine(namespace: fault.namespace, attack: attack,
                                                           pid: started.pid, startTime: started.startTime)
                    done[done.count - 1] = known
                    try recorder.didApply(sequence, undo: Self.encodeStep(known))
                }
            }
        } catch {
            try? recover(done, attack: attack)
            if error is FaultError { throw error }
            throw FaultError(.applyFailed, "could not apply \(fault.summary) in \(fault.namespace)", cause: error)
        }
    }

    func check(_ fault: NetworkFault) throws {
        switch fault.action {
        case .bandwidth:
            guard fault.bandwidth != nil else { throw FaultError(.invalidFault, "bandwidth needs a rate") }
            guard fault.direction == .to else {
                throw FaultError(.invalidFault, "bandwidth shapes outgoing traffic only (direction to)")
            }
        case .delay, .loss, .duplicate, .corrupt, .netem:
            guard !fault.netem.isEmpty else {
                throw FaultError(.invalidFault, "\(fault.action.rawValue) needs a latency or a percentage above 0")
            }
        case .partition:
            break
        }
        for peer in fault.peers where !(NetworkAddressCheck.isIPv4OrCIDR(peer)) {
            throw FaultError(.invalidFault, "\"\(peer)\" is not an IPv4 address or CIDR")
        }
    }

    /// The first device besides lo, in the kernel's order (as `ip link` lists them).
    func defaultDevice(_ links: [LinkInfo], namespace: NetworkNamespace) throws -> String {
        guard let link = links.first(where: { $0.name != "lo" && !$0.name.isEmpty }) else {
            throw FaultError(.invalidFault, "\(namespace) has no device besides lo; name one with --device")
        }
        return link.name
    }

    /// Tumult replaces nothing it did not create: a root qdisc someone set
    /// up would be lost on recovery.
    func checkRootQdiscIsDefault(_ device: String, _ channel: any TrafficControlChannel) throws {
        guard let root = try channel.qdiscs(of: device)?.first(where: { $0.parent == .root }) else { return }
        let defaults: Set<String> = ["noqueue", "pfifo_fast", "fq_codel", "mq", "fq", "pfifo", "sfq"]
        if root.handle.raw != 0, !defaults.contains(root.kind) || root.handle == NetworkPlan.root {
            throw FaultError(.invalidFault, "\(device) in \(channel.namespace) already has a root qdisc "
                             + "(\(root.kind) \(root.handle)); recover or remove it first")
        }
    }

    /// IPv4 peers plus host names resolved now.
    func resolvePeers(_ fault: NetworkFault) throws -> [String] {
        var peers = fault.peers
        for name in fault.hostnames {
            let addresses = Resolver.ipv4Addresses(of: name)
            guard !addresses.isEmpty else { throw FaultError(.invalidFault, "host name \(name) does not resolve") }
            peers += addresses
        }
        return Array(NSOrderedSet(array: peers)) as? [String] ?? peers
    }

    /// A queue number no engine in the namespace is bound to.
    func freeQueue(for attack: String, _ inside: NamespacedRunner) throws -> Int {
        let listing = (try? inside.run(Command(["cat", "/proc/net/netfilter/nfnetlink_queue"])))?.stdout ?? ""
        let used = Set(listing.split(separator: "\n").compactMap { $0.split(separator: " ").first.flatMap { Int($0) } })
        var candidate = 1000 + Int(UInt32(truncatingIfNeeded: attack.hashValue) % 50_000)
        while used.contains(candidate) { candidate += 1 }
        return candidate
    }

    func startEngine(_ namespace: NetworkNamespace, queue: Int, arguments: [String], attack: String) throws
        -> HelperProcess.Started {
        var engine = [engineExecutable, "--queue", String(queue)] + arguments
        if !detachEngine { engine.append("--die-with-parent") }
        // Counters are a convenience: an unwritable directory leaves them out, not the fault.
        if let directory = statisticsDirectory,
           (try? FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true,
                                                     attributes: [.posixPermissions: 0o755])) != nil {
            engine += ["--stats-file", EngineStatistics.path(forAttack: attack, in: directory)]
        }
        return try HelperProcess.start(namespace.wrap(Command(engine)), environment: ["TUMULT_ATTACK": attack],
                                       readyPrefix: "ready", detached: detachEngine)
    }

    // MARK: Read back

    func verify(_ readBack: NetworkPlan.ReadBack, _ inside: NamespacedRunner, _ channel: any TrafficControlChannel,
                summary: String) throws {
        func fail(_ detail: String) -> FaultError {
            FaultError(.readBackFailed, "\(summary) was applied but is not there: \(detail)")
        }
        switch readBack {
        case .qdisc(let device, let kind, let handle):
            guard let qdiscs = try channel.qdiscs(of: device),
                  qdiscs.contains(where: { $0.kind == kind && $0.handle.description == handle }) else {
                throw fail("no \(kind) qdisc \(handle) on \(device)")
            }
        case .link(let name):
            guard try channel.links().contains(where: { $0.name == name }) else { throw fail("no device \(name)") }
        case .chain(let table, let hook, let chain, let rules):
            let listed = try inside.check(Command(["iptables", "-w", "-t", table, "-S", chain]), doing: "reading back \(chain)")
            let count = listed.stdout.split(separator: "\n").filter { $0.hasPrefix("-A \(chain) ") }.count
            guard count == rules else { throw fail("\(chain) has \(count) rules, expected \(rules)") }
            guard try inside.run(Command(["iptables", "-w", "-t", table, "-C", hook, "-j", chain])).succeeded else {
                throw fail("\(hook) does not jump to \(chain)")
            }
        case .set(let name, let members):
            let listed = try inside.check(Command(["ipset", "list", name]), doing: "reading back set \(name)")
            let entries = listed.stdout.split(separator: "\n").first { $0.hasPrefix("Number of entries:") }
            guard entries?.split(separator: ":").last?.trimmingCharacters(in: .whitespaces) == String(members) else {
                throw fail("set \(name) does not hold \(members) entries")
            }
        }
    }

    // MARK: Recover

    public func recover(_ steps: [NetworkUndoStep], attack: String) throws {
        try undoEach(steps) { try undo($0, attack: attack) }
    }

    func undo(_ step: NetworkUndoStep, attack: String) throws {
        // The engine is stopped even if its namespace is gone: it is a host process.
        if case .stopEngine(_, let owner, let pid, let startTime) = step {
            stopEngine(attack: owner, pid: pid, startTime: startTime)
            return
        }
        guard step.namespace.exists else { return }
        let inside = NamespacedRunner(step.namespace, base: runner)
        switch step {
        case .deleteQdisc(let namespace, let device, let parent, let handle):
            guard let parentHandle = TrafficControl.Handle(parent), let ours = TrafficControl.Handle(handle) else {
                throw FaultError(.recoverFailed, "the journal names qdisc \(handle) at \(parent), which is no handle")
            }
            try TrafficControlChannels.open(namespace, runner: runner)
                .deleteQdisc(device: device, parent: parentHandle, handle: ours)
        case .deleteLink(let namespace, let name):
            let channel = TrafficControlChannels.open(namespace, runner: runner)
            guard try channel.links().contains(where: { $0.name == name }) else { return }
            try channel.perform(.deleteLink(name: name))
        case .removeChain(_, let table, let hook, let chain, let dropEmptyTable):
            try IptablesChain.remove(table: table, hook: hook, chain: chain, dropEmptyTable: dropEmptyTable, runner: inside)
        case .destroySet(_, let name):
            guard try inside.run(Command(["ipset", "list", "-n", name])).succeeded else { return }
            try inside.check(Command(["ipset", "destroy", name]), doing: "destroying set \(name)")
        case .stopEngine:
            break
        }
    }

    /// Stops the engine by its recorded pid when that process is still the
    /// same one, and any other process carrying this attack's mark.
    func stopEngine(attack: String, pid: Int32?, startTime: UInt64?) {
        Processes.stopHelpers(of: attack, recorded: pid.map { [($0, startTime)] } ?? [])
        if let directory = statisticsDirectory {
            try? FileManager.default.removeItem(atPath: EngineStatistics.path(forAttack: attack, in: directory))
        }
    }
}

/// Host-name lookups for peers, done when a fault is applied.
enum Resolver {
    static func ipv4Addresses(of name: String) -> [String] {
        var hints = addrinfo()
        hints.ai_family = AF_INET
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        var result: UnsafeMutablePointer<addrinfo>?
        guard getaddrinfo(name, nil, &hints, &result) == 0 else { return [] }
        defer { freeaddrinfo(result) }
        var addresses: [String] = []
        var cursor = result
        while let entry = cursor {
            if let address = entry.pointee.ai_addr {
                var buffer = [CChar](repeating: 0, count: Int(INET_ADDRSTRLEN))
                address.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { socket in
                    var ip = socket.pointee.sin_addr
                    _ = inet_ntop(AF_INET, &ip, &buffer, socklen_t(INET_ADDRSTRLEN))
                }
                let text = String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
                if !addresses.contains(text) { addresses.append(text) }
            }
            cursor = entry.pointee.ai_next
        }
        return addresses
    }
}

/// IPv4 syntax, which is all the iptables/ipset rules here take.
enum NetworkAddressCheck {
    static func isIPv4OrCIDR(_ text: String) -> Bool {
        let parts = text.split(separator: "/", omittingEmptySubsequences: false)
        guard (1...2).contains(parts.count) else { return false }
        let octets = parts[0].split(separator: ".", omittingEmptySubsequences: false)
        guard octets.count == 4, octets.allSatisfy({ UInt8($0) != nil }) else { return false }
        if parts.count == 2 { return UInt8(parts[1]).map { $0 <= 32 } ?? false }
        return true
    }
}
