import TumultModel

/// chaosd's attack API (`ChaosdRoutes`, bodies as `ChaosdCommands` decodes
/// them: kebab-case keys, numbers mostly as strings).
extension TumultOpenAPI {
    static var chaosd: [Route] {
        let attacks: [(kind: String, schema: String, summary: String)] = [
            ("network", "NetworkAttack", "Delay, loss, duplication, corruption, partition or a bandwidth limit"),
            ("process", "ProcessAttack", "Kill or stop processes"),
            ("stress", "StressAttack", "CPU or memory stress"),
            ("disk", "DiskAttack", "Fill a disk or load it with reads or writes"),
        ]
        var routes: [Route] = attacks.map { attack in
            ("/api/attack/\(attack.kind)", "post", operation(
                "attack\(attack.kind.prefix(1).uppercased() + attack.kind.dropFirst())", attack.summary, tag: .chaosd,
                description: "Injects at once and journals the attack, so that it is recovered after a restart; it lasts until DELETE /api/attack/{uid}.",
                body: .init(description: "chaosd's \(attack.kind) command.", required: true,
                            content: ["application/json": .init(schema: .ref(attack.schema))]),
                answers: [200: json(.ref("ChaosdReply"), "Injected.")], errors: [400, 409], write: true))
        }
        routes.append(("/api/attack/{uid}", "delete", operation(
            "recoverAttack", "Recover an attack", tag: .chaosd, parameters: [path("uid", "The attack's uid.")],
            answers: [200: json(.ref("ChaosdReply"), "Recovered.")], errors: [404], write: true)))
        routes.append(("/api/experiments/", "get", operation(
            "listAttacks", "Every attack of the journal", tag: .chaosd,
            description: "chaosd's experiment list (attacks made outside experiments); the trailing slash tells it from GET /api/experiments.",
            answers: [200: json(.array(of: .ref("ChaosdExperiment")), "The attacks.")])))
        return routes
    }

    /// Where an attack lands: the host's own namespace unless one is named.
    static let netns = ("netns", JSONSchema.string("A named network namespace (`ip netns` name) to aim at instead of the host."))
    static let pid = ("pid", JSONSchema.integer("A process whose namespace or cgroups to aim at instead of the host (not with netns; not 1, not the server).",
                                                format: "int64", minimum: 1, maximum: HostNames.maximumPID))

    static let networkAttack = JSONSchema.object("POST /api/attack/network", required: [
        ("action", .string(oneOf: ["delay", "loss", "duplicate", "corrupt", "partition", "bandwidth"])),
    ], optional: [
        ("device", .string("The interface; default: the namespace's first non-loopback one.")),
        ("latency", .string("delay: a Go duration (100ms).")),
        ("jitter", .string("delay: a Go duration.")),
        ("correlation", .string("A percentage (25).")),
        ("percent", .string("loss, duplicate, corrupt: a percentage (50).")),
        ("ip-address", .string("Comma-separated IP addresses or CIDRs: only traffic with these.")),
        ("ip-protocol", .string(oneOf: ["tcp", "udp", "icmp", "all"])),
        ("hostname", .string("Comma-separated host names: only traffic with their addresses.")),
        ("source-port", .string("Comma-separated ports.")),
        ("egress-port", .string("Comma-separated ports.")),
        ("direction", .string("bandwidth: to only.", oneOf: ["to", "from", "both"])),
        ("rate", .string("bandwidth: a rate (1mbps).")),
        ("limit", .integer("bandwidth: bytes queued (default 100000).", format: "int64", minimum: 1, maximum: Int64(UInt32.max))),
        ("buffer", .integer("bandwidth: burst bytes (default 10000).", format: "int64", minimum: 1, maximum: Int64(UInt32.max))),
        netns, pid,
    ])

    static let processAttack = JSONSchema.object("POST /api/attack/process", required: [], optional: [
        ("action", .string("Absent (Chaos Mesh sends none): SIGSTOP stops, any other signal kills.", oneOf: ["kill", "stop"])),
        ("process", .string("A process name or pid (not 1, not the server).")),
        ("signal", .integer("kill: the signal number (default 9).", format: "int64", minimum: 1, maximum: 64)),
        ("netns", .string("Every process of this named network namespace (not with process).")),
    ])

    static let stressAttack = JSONSchema.object("POST /api/attack/stress", required: [
        ("action", .string(oneOf: ["cpu", "mem", "memory"])),
    ], optional: [
        ("load", .integer("cpu: percent of one CPU per worker (default 100).", format: "int64", minimum: 0, maximum: 100)),
        ("workers", .integer("How many workers (default 1).", format: "int64", minimum: 1, maximum: 8192)),
        ("size", .string("mem: per worker, bytes (256MB) or a share of memory (25%).")),
        ("options", .array(of: .string(), "stress-ng options: stress-ng runs instead of Tumult's workers.")),
        netns, pid,
    ])

    static let diskAttack = JSONSchema.object("POST /api/attack/disk", required: [
        ("action", .string(oneOf: ["fill", "write-payload", "read-payload"])),
    ], optional: [
        ("size", .string("fill, payloads: bytes (1G, 512M).")),
        ("path", .string("The directory (default /tmp).")),
        ("percent", .string("fill: a share of the file system.")),
        ("payload-process-num", .integer("payloads: how many processes (default 1).", format: "int64", minimum: 1, maximum: 255)),
        ("fill-by-fallocate", .boolean("fill: fallocate (default) or write.")),
    ])
}
