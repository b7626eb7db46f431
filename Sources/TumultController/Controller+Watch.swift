import Foundation
import TumultAgent
import TumultModel

// The liveness check: every injected target of a running experiment read
// back on its host, a lost fault restored or injected afresh.
extension Controller {
    /// Every `interval`, one round, beside the loop (a slow host delays
    /// the next check, not the loop's passes).
    func watchLoop(every interval: TimeInterval) async {
        while true {
            guard (try? await Task.sleep(for: .seconds(interval))) != nil else { return }
            await watchRound()
        }
    }

    /// One round: the targets that should be injected now are marked busy
    /// (no recovery races a restore), read back on their hosts in one call
    /// per host, and what was lost is recorded and dealt with.
    func watchRound() async {
        guard !watching, !halted else { return }
        let moment = now
        var work: [Work] = []
        for (uid, record) in experiments where record.selected && record.finishedAt == nil && record.failure == nil {
            guard !record.document.spec.isOneShot, record.desiredPhase(at: moment) == .run else { continue }
            for (index, target) in record.records.enumerated() where target.phase == .injected && !target.attacks.isEmpty {
                if inFlight.contains(TargetKey(experiment: uid, index: index)) { continue }
                markBusy(uid, index)
                work.append(Work(experiment: uid, index: index, operation: .watch, attacks: target.attacks))
            }
        }
        guard !work.isEmpty else { return }
        watching = true
        defer { watching = false }
        // One call for the whole round: a host reads back all its faults at
        // once, however many targets they belong to.
        let lost = await hosts.heal(work.flatMap(\.attacks))
        let byAttack = Dictionary(grouping: lost, by: \.attack)
        apply(work.map { item in
            Outcome(work: item, attacks: item.attacks, error: nil, lost: item.attacks.flatMap { byAttack[$0] ?? [] })
        }, at: now)
        await carryOut([])
        flush()
    }
}
