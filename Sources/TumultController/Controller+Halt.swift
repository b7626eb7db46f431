import Foundation
import TumultAgent
import TumultModel

// The emergency stop and its end.
extension Controller {
    /// Emergency stop: every experiment and schedule is paused and every
    /// fault recovered at once, without waiting for the loop; new
    /// experiments are refused until `unhalt`. Returns the faults recovered.
    public func halt() async -> Int {
        halted = true
        batch.halted = true
        for uid in experiments.keys {
            guard var record = experiments[uid], !record.isPaused else { continue }
            record.document.metadata.setPaused(true)
            store(record)
        }
        for uid in schedules.keys {
            guard var record = schedules[uid], !record.isPaused else { continue }
            record.document.metadata.setPaused(true)
            store(record)
        }
        var work = injectedIdleTargets()
        emit(kind: "Tumult", uid: "halt", namespace: "default", name: "halt", reason: "Halted",
             message: "emergency stop: recovering \(work.count) targets", type: .warning)
        async let host = try? hosts.setHalted(true)
        var recovered = await carryOut(work).filter { $0.error == nil }.count
        // Targets busy meanwhile (a liveness check reading them back, an
        // injection under way) are waited for, then recovered: the
        // emergency stop returns with every fault gone, not at the loop's
        // next pass.
        for _ in 0..<5 {
            for uid in Array(busyCount.keys) {
                while busyCount[uid] != nil {
                    await withCheckedContinuation { continuation in idleWaiters[uid, default: []].append(continuation) }
                }
            }
            work = injectedIdleTargets()
            if work.isEmpty { break }
            recovered += await carryOut(work).filter { $0.error == nil }.count
        }
        let others = await host ?? 0
        flush()
        wake()
        return recovered + others
    }

    /// The injected targets with nothing under way, marked busy for their recovery.
    private func injectedIdleTargets() -> [Work] {
        var work: [Work] = []
        for (uid, record) in experiments {
            for (index, target) in record.records.enumerated()
            where target.phase == .injected && !inFlight.contains(TargetKey(experiment: uid, index: index)) {
                markBusy(uid, index)
                work.append(Work(experiment: uid, index: index, operation: .recover, attacks: target.attacks))
            }
        }
        return work
    }

    /// Ends the emergency stop. Experiments stay paused until resumed.
    public func unhalt() async throws {
        _ = try await hosts.setHalted(false)
        halted = false
        batch.halted = false
        emit(kind: "Tumult", uid: "halt", namespace: "default", name: "halt", reason: "Unhalted",
             message: "emergency stop lifted")
        flush()
    }
}
