/// An iptables chain Tumult creates for a fault and removes on recovery.
/// `tableExists` and `remove` take a runner that already runs inside the
/// chain's namespace.
public enum IptablesChain {
    /// IPv4 (`iptables`, nftables family `ip`) or IPv6 (`ip6tables`, `ip6`).
    public enum Family: String, Codable, Sendable, Hashable {
        case ipv4, ipv6

        public var tool: String { self == .ipv4 ? "iptables" : "ip6tables" }
        public var saveTool: String { tool + "-save" }
        public var nftFamily: String { self == .ipv4 ? "ip" : "ip6" }
    }

    /// Whether `iptables` is the nftables variant, whose tables appear on
    /// first use and stay unless removed.
    public static func usesNFTables(runner: any CommandRunner) -> Bool {
        (try? runner.run(Command(["iptables", "-V"])))?.stdout.contains("nf_tables") ?? false
    }

    /// Whether the nftables table `ip TABLE` (`ip6 TABLE`) exists (`nft list table ip TABLE`).
    public static func tableExists(_ table: String, family: Family = .ipv4, runner: any CommandRunner) throws -> Bool {
        try runner.run(Command(["nft", "list", "table", family.nftFamily, table])).succeeded
    }

    /// Unhooks `chain` from `hook` (every jump), flushes and deletes it when
    /// it is there; and, with `dropEmptyTable`, deletes the nftables table
    /// when nothing but iptables' own scaffolding is left in it. Safe to run
    /// twice.
    public static func remove(table: String, hook: String, chain: String, dropEmptyTable: Bool, family: Family = .ipv4,
                              runner inside: any CommandRunner) throws {
        let tool = family.tool
        while try inside.run(Command([tool, "-w", "-t", table, "-D", hook, "-j", chain])).succeeded {}
        if try inside.run(Command([tool, "-w", "-t", table, "-S", chain])).succeeded {
            try inside.check(Command([tool, "-w", "-t", table, "-F", chain]), doing: "flushing \(chain)")
            try inside.check(Command([tool, "-w", "-t", table, "-X", chain]), doing: "deleting \(chain)")
        }
        if dropEmptyTable { try dropTableIfEmpty(table, family: family, runner: inside) }
    }

    /// Deletes the nftables table iptables made for `table` when it is
    /// there and holds only iptables' own scaffolding (built-in chains, no
    /// rules, ACCEPT policies). Safe to run twice; never creates the table.
    public static func dropTableIfEmpty(_ table: String, family: Family = .ipv4, runner inside: any CommandRunner) throws {
        guard try tableExists(table, family: family, runner: inside) else { return }
        let rules = try inside.run(Command([family.tool, "-w", "-t", table, "-S"]))
        let leftovers = rules.stdout.split(separator: "\n").filter { !$0.hasPrefix("-P ") || !$0.hasSuffix(" ACCEPT") }
        if rules.succeeded && leftovers.isEmpty {
            _ = try inside.run(Command(["nft", "delete", "table", family.nftFamily, table]))
        }
    }
}
