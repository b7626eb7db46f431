import Foundation

/// Read-backs shared by the fault families' liveness checks: each reads a
/// whole namespace's state with one command, so checking every running
/// fault every few seconds stays cheap.
public enum HostReadBack {
    /// One iptables chain a fault installed: `chain` in `table`, jumped to from `hook`.
    public struct Chain: Sendable, Hashable {
        public var table: String
        public var hook: String
        public var chain: String
        public var family: IptablesChain.Family

        public init(table: String, hook: String, chain: String, family: IptablesChain.Family = .ipv4) {
            self.table = table
            self.hook = hook
            self.chain = chain
            self.family = family
        }
    }

    /// What is missing of `chains` (the chain with its rules, and the jump
    /// to it from its hook), from one `iptables-save` of the namespace.
    /// A failed `iptables-save` reports nothing missing: a read that did not
    /// happen is no evidence of a loss.
    public static func missingChains(_ chains: [Chain], runner inside: any CommandRunner) -> [String] {
        var missing: [String] = []
        for family in [IptablesChain.Family.ipv4, .ipv6] {
            let wanted = chains.filter { $0.family == family }
            guard !wanted.isEmpty, let saved = try? inside.run(Command([family.saveTool])), saved.succeeded else { continue }
            var rules: [String: [Substring]] = [:]
            var table = ""
            for line in saved.stdout.split(separator: "\n") {
                if line.hasPrefix("*") { table = String(line.dropFirst()) } else if line.hasPrefix("-A ") { rules[table, default: []].append(line) }
            }
            let label = family == .ipv4 ? "iptables" : "ip6tables"
            for chain in wanted {
                let lines = rules[chain.table] ?? []
                if !lines.contains(where: { $0.hasPrefix("-A \(chain.chain) ") }) {
                    missing.append("\(label) chain \(chain.chain) (\(chain.table)) is gone or empty")
                } else if !lines.contains(where: { $0.hasPrefix("-A \(chain.hook) ") && $0.hasSuffix(" -j \(chain.chain)") }) {
                    missing.append("\(chain.hook) (\(chain.table)) no longer jumps to \(chain.chain)")
                }
            }
        }
        return missing
    }

    /// Whether `pid` is still the helper that was started (same start
    /// time), alive and not a zombie.
    public static func helperAlive(_ pid: Int32?, startTime: UInt64?) -> Bool {
        guard let pid, let entry = ProcessTable.entry(pid), !entry.isGone else { return false }
        return startTime.map { $0 == entry.startTime } ?? true
    }

    /// Whether some NFQUEUE queue in `pid`'s network namespace is bound to
    /// `pid` (`/proc/PID/net/netfilter/nfnetlink_queue`: queue number, then
    /// the netlink port id, which the kernel gives a process's first netlink
    /// socket as its pid). Nil when the file cannot be read.
    public static func boundToQueue(_ pid: Int32) -> Bool? {
        guard let text = try? String(contentsOfFile: "/proc/\(pid)/net/netfilter/nfnetlink_queue", encoding: .utf8) else {
            return nil
        }
        return text.split(separator: "\n").contains { line in
            let fields = line.split(separator: " ", omittingEmptySubsequences: true)
            return fields.count > 1 && Int32(fields[1]) == pid
        }
    }

    /// Whether a UDP socket in `pid`'s network namespace is bound to
    /// 127.0.0.1:`port` (`/proc/PID/net/udp`). Nil when it cannot be read.
    public static func listensUDP(_ pid: Int32, port: Int) -> Bool? {
        guard let text = try? String(contentsOfFile: "/proc/\(pid)/net/udp", encoding: .utf8) else { return nil }
        let wanted = String(format: "0100007F:%04X", port)
        return text.split(separator: "\n").dropFirst().contains { line in
            line.split(separator: " ", omittingEmptySubsequences: true).dropFirst().first.map(String.init) == wanted
        }
    }

    /// Whether a TCP socket in `pid`'s network namespace listens on `port`
    /// (any address; `/proc/PID/net/tcp`, state 0A). Nil when it cannot be read.
    public static func listensTCP(_ pid: Int32, port: Int) -> Bool? {
        guard let text = try? String(contentsOfFile: "/proc/\(pid)/net/tcp", encoding: .utf8) else { return nil }
        let wanted = String(format: ":%04X", port)
        return text.split(separator: "\n").dropFirst().contains { line in
            let fields = line.split(separator: " ", omittingEmptySubsequences: true)
            return fields.count > 3 && fields[1].hasSuffix(wanted) && fields[3] == "0A"
        }
    }

    /// The value of `--name` (or `--name=value`) in `pid`'s command line.
    public static func argument(_ name: String, of pid: Int32) -> String? {
        let arguments = ProcessTable.arguments(of: pid)
        for (index, argument) in arguments.enumerated() {
            if argument == name, index + 1 < arguments.count { return arguments[index + 1] }
            if argument.hasPrefix(name + "=") { return String(argument.dropFirst(name.count + 1)) }
        }
        return nil
    }
}
