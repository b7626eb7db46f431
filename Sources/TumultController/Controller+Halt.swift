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
        var work: [Work] = []
        for (uid, record) in experiments {
            for (index, target) in record.records.enumerated()
            where target.phase == .injected && !inFlight.contains(TargetKey(experiment: uid, index: index)) {
                markBusy(uid, index)
                work.append(Work(experiment: uid, index: index, operation: .recover, attacks: target.attacks))
            }
        }
        emit(kind: "Tumult", uid: "halt", namespace: "default", name: "halt", reason: "Halted",
             message: "emergency stop: recovering \(work.count) targets", type: .warning)
        async let host = try? hosts.setHalted(true)
        let results = await carryOut(work)
        let others = await host ?? 0
        flush()
        wake()
        return results.filter { $0.error == nil }.count + others
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
