import Foundation
import TumultAgent
import TumultModel

// What a restarted controller does first: match its records with what the hosts hold.
extension Controller {
    /// Puts right what a crashed controller left: records are matched with
    /// what the host still holds; half-done injections are undone so the
    /// loop injects them again while the experiment should run.
    public func restore() async {
        interruptTasks()
        // Every host asked once, for every experiment's attacks: a host that
        // does not answer costs one timeout, not one per experiment.
        let (everything, unreachable) = await hosts.attacks()
        let heldByExperiment = Dictionary(grouping: everything) { $0.owner?.experiment ?? "" }
        for uid in Array(experiments.keys) {
            guard var record = experiments[uid] else { continue }
            let held = heldByExperiment[uid] ?? []
            func machine(of attack: HostAttack) -> String { attack.id.machine.isEmpty ? fleet.localMachine : attack.id.machine }
            func holds(_ target: TargetRecord, _ attack: HostAttack) -> Bool {
                attack.owner?.target == target.id && machine(of: attack) == (fleet.agent(for: target.pod.nodeName) == nil
                    ? fleet.localMachine : target.pod.nodeName)
            }
            // Faults for targets the record does not name (injected before
            // the selection was saved) are half-done work: undone.
            let strays = held.filter { attack in !record.records.contains { holds($0, attack) } }.map(\.id)
            if !strays.isEmpty { try? await hosts.recover(strays) }
            guard record.selected else { continue }
            var changed = false
            for index in record.records.indices {
                let target = record.records[index]
                // A host that did not answer keeps its targets' records as
                // they are: it may well still hold the faults.
                if unreachable.contains(target.pod.nodeName) { continue }
                let present = held.filter { holds(target, $0) }
                let complete = !present.isEmpty && present.allSatisfy(\.injected)
                    && Set(target.attacks.map(\.uid)).isSubset(of: Set(present.map(\.id.uid)))
                if complete {
                    if target.phase != .injected || Set(target.attacks) != Set(present.map(\.id)) {
                        record.records[index].phase = .injected
                        record.records[index].attacks = present.map(\.id)
                        changed = true
                    }
                    continue
                }
                let leftovers = Set(present.map(\.id)).union(target.attacks)
                if !leftovers.isEmpty {
                    do {
                        try await hosts.recover(Array(leftovers))
                    } catch {
                        record.records[index].record(RecordEvent(type: .failed, operation: .recover,
                                                                 message: "after restart: \(error)", timestamp: now))
                    }
                }
                if target.phase == .injected || !leftovers.isEmpty {
                    record.records[index].phase = .notInjected
                    record.records[index].attacks = []
                    changed = true
                }
            }
            // The API answers while this runs: a delete or pause that came
            // meanwhile is kept; only the targets' records are this pass's.
            if changed, var current = experiments[uid] {
                current.records = record.records
                store(current)
                emit(current, reason: "Restored", message: "controller restarted: records matched with the host")
            }
        }
        // Faults of experiments this controller does not know (a store lost
        // or written too late by an older build) are nobody's to end: recovered now.
        let orphans = configuration.recoversOrphans ? await hosts.recoverOrphans(keeping: Set(experiments.keys)) : 0
        if orphans > 0 {
            emit(kind: "Tumult", uid: "restore", namespace: "default", name: "restore", reason: "Recovered",
                 message: "recovered \(orphans) fault\(orphans == 1 ? "" : "s") of experiments this controller does not know",
                 type: .warning)
        }
        flush()
    }
}
