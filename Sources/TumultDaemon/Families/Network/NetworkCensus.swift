import Foundation
import TumultAgent
import TumultFaults
import TumultSystem

/// What the network family holds on this host, read from the kernel (so
/// leftovers show too): Chaos Mesh's chaos-daemon gauges per named network
/// namespace, and the userspace engines' packet totals per attack.
enum NetworkCensus {
    static func samples(_ context: CensusContext, runner: any CommandRunner = ProcessCommandRunner()) -> [AgentCensus.Sample] {
        var namespaces = Array(Set(context.pods.compactMap(\.netns))).sorted()
        if namespaces.count > context.scanLimit {
            // Only those whose pods have a fault: attacks name their pod as `NAMESPACE/POD`.
            let attacked = Set(context.attacks.compactMap(\.subject))
            namespaces = Array(Set(context.pods.filter { attacked.contains($0.id) }.compactMap(\.netns))).sorted()
        }
        var samples: [AgentCensus.Sample] = []
        let rules = Concurrently.map(namespaces) { HostRules.read($0, runner: runner) }
        for (netns, found) in zip(namespaces, rules) {
            samples.append(.init(name: "chaos_daemon_tcs_rules", labels: ["netns": netns], value: Double(found.tcRules)))
            for (chain, count) in found.chainPackets {
                samples.append(.init(name: "chaos_daemon_iptables_packets", labels: ["netns": netns, "chain": chain], value: Double(count)))
            }
            for (set, count) in found.setMembers {
                samples.append(.init(name: "chaos_daemon_ipset_members", labels: ["netns": netns, "set": set], value: Double(count)))
            }
        }
        guard let directory = context.engineStatisticsDirectory else { return samples }
        for attack in context.attacks where attack.family == NetworkFaultInjector.family {
            for step in (try? context.journal.steps(of: attack.uid)) ?? [] {
                guard case .stopEngine(let namespace, _, _, _)? = try? NetworkFaultInjector.decodeStep(step.undo),
                      let statistics = EngineStatistics.read(attack: attack.uid, in: directory) else { continue }
                for (verdict, total) in verdicts(statistics) {
                    samples.append(.init(name: "tumult_engine_packets", labels: ["netns": label(namespace), "verdict": verdict,
                                                                                 "attack": attack.uid], value: Double(total)))
                }
            }
        }
        return samples
    }

    static func label(_ namespace: NetworkNamespace) -> String {
        switch namespace {
        case .host: "host"
        case .named(let name): name
        case .process(let pid): "pid:\(pid)"
        }
    }

    /// The verdicts exported, from an engine's counters. `dropped` counts
    /// netem's limit drops too.
    static func verdicts(_ statistics: EngineStatistics) -> [(String, UInt64)] {
        [("queued", statistics.received), ("dropped", statistics.dropped + statistics.overlimit),
         ("duplicated", statistics.duplicated), ("corrupted", statistics.corrupted),
         ("delayed", statistics.delayed), ("reordered", statistics.reordered)]
    }
}
