import Testing
import TumultFaults
import TumultSystem

/// The argument lists Tumult hands to tc, iptables and ipset, built purely.
@Suite struct NetworkPlanTests {
    let names = NetworkPlan.Names(attack: "0123abcd-ffff-4444-8888-000000000000", queue: 4242)

    func fault(_ action: NetworkFault.Action, _ configure: (inout NetworkFault) -> Void = { _ in }) -> NetworkFault {
        var fault = NetworkFault(action: action, namespace: .named("web"))
        configure(&fault)
        return fault
    }

    func commands(_ plan: NetworkPlan) -> [[String]] {
        plan.changes.flatMap { $0.commands.map(\.arguments) }
    }

    @Test func namesFitTheKernelsLimits() {
        #expect(names.set == "tmt-0123abcd")
        #expect(names.outputChain == "TMT-0123ABCD-OUT")
        #expect(names.ifb.count <= 15)
        #expect(names.outputChain.count <= 28)
    }

    @Test func netemArgumentsFollowTcSyntax() {
        var netem = NetworkFault.Netem()
        netem.latency = 100_000_000
        netem.jitter = 20_000_000
        netem.delayCorrelation = 25
        netem.loss = 0.5
        netem.reorder = 10
        netem.gap = 5
        #expect(NetworkPlan.netemArguments(netem) == ["netem", "limit", "1000", "delay", "100000us", "20000us", "25%",
                                                      "loss", "0.5%", "reorder", "10%", "gap", "5"])
        #expect(NetworkPlan.engineArguments(netem) == ["--delay-us", "100000", "--jitter-us", "20000",
                                                       "--delay-correlation", "25", "--loss", "0.5", "--reorder", "10",
                                                       "--gap", "5", "--limit", "1000"])
    }

    @Test func bandwidthOnTheRootWithoutPeers() {
        let plan = NetworkPlan.make(fault(.bandwidth) {
            $0.bandwidth = .init(bitsPerSecond: 10_000_000, limit: 20_000, buffer: 10_000)
        }, device: "eth0", peers: [], userspace: true, names: names)
        #expect(commands(plan) == [["tc", "qdisc", "add", "dev", "eth0", "root", "handle", "746d:",
                                    "tbf", "rate", "10000000bit", "burst", "10000", "limit", "20000"]])
        guard case .traffic(_, _, let undo, let readBack) = plan.changes[0] else { Issue.record("no change"); return }
        #expect(undo == .deleteQdisc(namespace: .named("web"), device: "eth0", parent: "root", handle: "746d:"))
        #expect(readBack == .qdisc(device: "eth0", kind: "tbf", handle: "746d:"))
    }

    @Test func kernelDelayToPeersUsesHTBAndU32() {
        let plan = NetworkPlan.make(fault(.delay) {
            $0.netem.latency = 10_000_000
            $0.egressPorts = [443]
        }, device: "eth0", peers: ["10.0.0.0/8"], userspace: false, names: names)
        let all = commands(plan)
        #expect(all.first == ["ipset", "create", "tmt-0123abcd", "hash:net", "family", "inet"])
        #expect(all.contains(["tc", "qdisc", "add", "dev", "eth0", "root", "handle", "746d:", "htb", "default", "1"]))
        #expect(all.contains(["tc", "filter", "add", "dev", "eth0", "parent", "746d:", "protocol", "ip", "prio", "1", "u32",
                              "match", "ip", "dst", "10.0.0.0/8", "match", "ip", "dport", "443", "0xffff", "flowid", "746d:2"]))
    }

    @Test func kernelDelayFromUsesAnIFB() {
        let plan = NetworkPlan.make(fault(.delay) { $0.netem.latency = 1_000_000; $0.direction = .from },
                                    device: "eth0", peers: [], userspace: false, names: names)
        let all = commands(plan)
        #expect(all.contains(["ip", "link", "add", "tmt-0123abcd", "type", "ifb"]))
        #expect(all.contains(["tc", "filter", "add", "dev", "eth0", "parent", "ffff:", "protocol", "ip", "u32",
                              "match", "u32", "0", "0", "action", "mirred", "egress", "redirect", "dev", "tmt-0123abcd"]))
        #expect(all.last?.prefix(8) == ["tc", "qdisc", "add", "dev", "tmt-0123abcd", "root", "handle", "746d:"])
    }

    @Test func userspaceDelayQueuesTheMatchedTrafficToTheEngine() {
        let plan = NetworkPlan.make(fault(.delay) {
            $0.netem.latency = 1_000_000
            $0.direction = .both
            $0.ipProtocol = "tcp"
            $0.sourcePorts = [8080]
        }, device: "eth0", peers: ["10.1.2.3"], userspace: true, names: names)
        let all = commands(plan)
        #expect(all.contains(["iptables", "-w", "-t", "mangle", "-A", "TMT-0123ABCD-OUT", "-o", "eth0",
                              "-m", "set", "--match-set", "tmt-0123abcd", "dst", "-p", "tcp", "-m", "multiport",
                              "--sports", "8080", "-m", "mark", "!", "--mark", "0x746d74",
                              "-j", "NFQUEUE", "--queue-num", "4242", "--queue-bypass"]))
        #expect(all.contains(["iptables", "-w", "-t", "mangle", "-A", "TMT-0123ABCD-IN", "-i", "eth0",
                              "-m", "set", "--match-set", "tmt-0123abcd", "src", "-p", "tcp", "-m", "multiport",
                              "--dports", "8080", "-j", "NFQUEUE", "--queue-num", "4242", "--queue-bypass"]))
        guard case .engine(_, let queue, let arguments, _) = plan.changes.last else { Issue.record("no engine"); return }
        #expect(queue == 4242)
        #expect(arguments == ["--delay-us", "1000", "--limit", "1000"])
    }

    @Test func oneWayPartitionsMatchConnectionsStartedThatWay() {
        let to = commands(NetworkPlan.make(fault(.partition) { $0.direction = .to }, device: "eth0", peers: [],
                                           userspace: true, names: names))
        #expect(to.contains { $0.contains("--ctdir") && $0.contains("NFQUEUE") })
        let from = commands(NetworkPlan.make(fault(.partition) { $0.direction = .from }, device: "eth0", peers: [],
                                             userspace: true, names: names))
        #expect(from.contains(["iptables", "-w", "-t", "filter", "-A", "TMT-0123ABCD-IN", "-i", "eth0",
                               "-m", "conntrack", "--ctdir", "ORIGINAL", "-j", "DROP"]))
        let both = commands(NetworkPlan.make(fault(.partition) { $0.direction = .both }, device: "eth0", peers: [],
                                             userspace: true, names: names))
        #expect(!both.contains { $0.contains("--ctdir") })
    }
}
