import Foundation
import TumultFaults
import TumultSystem

/// What Tumult's network faults hold in one network namespace, read from
/// the kernel at scrape time: Chaos Mesh's chaos-daemon gauges
/// (`chaos_daemon_tcs_rules`, `_iptables_packets`, `_ipset_members`).
/// Reading the kernel rather than the journal shows leftovers too: a
/// namespace is clean when all three are empty.
public struct HostRules: Sendable, Equatable {
    /// Tumult's qdiscs and tc filters (see `tcRules(qdiscs:filters:)`).
    public var tcRules = 0
    /// Packets matched by the rules of each Tumult chain (`TMT-...`).
    public var chainPackets: [String: UInt64] = [:]
    /// Entries of each Tumult ipset (`tmt-...`).
    public var setMembers: [String: Int] = [:]

    /// Reads one namespace: `tc qdisc show`, `iptables-save -c` and
    /// `ipset list -t`, plus `tc filter show` on devices that carry
    /// Tumult's qdiscs. Blocks: call it off Swift's cooperative threads.
    public static func read(_ namespace: String, runner: any CommandRunner) -> HostRules {
        let inside = NamespacedRunner(.named(namespace), base: runner)
        func output(_ arguments: [String]) -> String {
            guard let result = try? inside.run(Command(arguments)), result.succeeded else { return "" }
            return result.stdout
        }
        var rules = HostRules()
        let qdiscs = QdiscListing(output(["tc", "qdisc", "show"]))
        var filters = 0
        for device in qdiscs.classifyingDevices {
            filters += Self.tumultFilters(output(["tc", "filter", "show", "dev", device, "parent", NetworkPlan.rootHandle]))
        }
        var redirecting = 0
        if qdiscs.hasTumultDevice {
            for device in qdiscs.ingressDevices {
                let count = Self.tumultFilters(output(["tc", "filter", "show", "dev", device, "parent", NetworkPlan.ingressHandle]))
                if count > 0 { redirecting += 1 + count }
            }
        }
        rules.tcRules = qdiscs.tumultQdiscs + filters + redirecting
        rules.chainPackets = Self.chainPackets(iptablesSave: output(["iptables-save", "-c"]))
        rules.setMembers = Self.setMembers(ipsetList: output(["ipset", "list", "-t"]))
        return rules
    }

    /// `tc qdisc show` of a namespace, as far as Tumult's qdiscs go.
    struct QdiscListing: Equatable {
        /// Qdiscs with Tumult's handles (`746d:` root, `746e:` leaf).
        var tumultQdiscs = 0
        /// Devices whose root is Tumult's HTB: their filters are Tumult's.
        var classifyingDevices: [String] = []
        /// Devices with an ingress qdisc: Tumult's when their filters
        /// redirect to one of its ifb devices.
        var ingressDevices: [String] = []
        /// A `tmt-` device (an ifb Tumult made) is in the namespace.
        var hasTumultDevice = false

        init(_ text: String) {
            for line in text.split(separator: "\n") {
                let fields = line.split(separator: " ")
                guard fields.count >= 5, fields[0] == "qdisc", let devIndex = fields.firstIndex(of: "dev"),
                      devIndex + 1 < fields.count else { continue }
                let kind = fields[1], handle = String(fields[2]), device = String(fields[devIndex + 1])
                if device.hasPrefix("tmt-") { hasTumultDevice = true }
                if handle == NetworkPlan.rootHandle || handle == NetworkPlan.leafHandle {
                    tumultQdiscs += 1
                    if handle == NetworkPlan.rootHandle && kind == "htb" { classifyingDevices.append(device) }
                }
                if kind == "ingress" { ingressDevices.append(device) }
            }
        }
    }

    /// Filters that send traffic to Tumult's class (`flowid 746d:`) or to
    /// its ifb device (`Redirect to device tmt-`), one line each in `tc
    /// filter show` (u32's hash-table lines carry neither).
    static func tumultFilters(_ text: String) -> Int {
        text.split(separator: "\n").filter {
            $0.contains("flowid " + NetworkPlan.rootHandle) || $0.contains("Redirect to device tmt-")
        }.count
    }

    /// Packet counters of Tumult's chains from `iptables-save -c`: each
    /// chain's rules summed (`[packets:bytes] -A CHAIN ...`); a chain with
    /// no rule counts 0. Chains of every table are read.
    static func chainPackets(iptablesSave text: String) -> [String: UInt64] {
        var packets: [String: UInt64] = [:]
        for line in text.split(separator: "\n") {
            if line.hasPrefix(":TMT-") {
                let chain = String(line.dropFirst().prefix { $0 != " " })
                packets[chain, default: 0] += 0
                continue
            }
            guard line.hasPrefix("["), let close = line.firstIndex(of: "]") else { continue }
            let rule = line[line.index(after: close)...].split(separator: " ")
            guard rule.count >= 2, rule[0] == "-A", rule[1].hasPrefix("TMT-") else { continue }
            let counter = line[line.index(after: line.startIndex)..<close].split(separator: ":")
            packets[String(rule[1]), default: 0] += counter.first.flatMap { UInt64($0) } ?? 0
        }
        return packets
    }

    /// Entries of Tumult's sets from `ipset list -t` (`Name:` then
    /// `Number of entries:`).
    static func setMembers(ipsetList text: String) -> [String: Int] {
        var members: [String: Int] = [:]
        var current: String?
        for line in text.split(separator: "\n") {
            if line.hasPrefix("Name: ") {
                let name = line.dropFirst("Name: ".count).trimmingCharacters(in: .whitespaces)
                current = name.hasPrefix("tmt-") ? name : nil
            } else if let name = current, line.hasPrefix("Number of entries:") {
                members[name] = Int(line.split(separator: ":").last?.trimmingCharacters(in: .whitespaces) ?? "") ?? 0
                current = nil
            }
        }
        return members
    }
}
