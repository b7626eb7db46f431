import Foundation
import Logging
import ServiceLifecycle
import TumultController

/// The liveness check of the faults the server holds outside experiments
/// (chaosd's attacks, detached `tumult attack`s): every `interval` each is
/// read back on the host and applied again when found lost, with an event
/// (`FaultLost`, then `FaultRestored` or `FaultNotRestored`) and the
/// `tumult_faults_lost_total` / `tumult_faults_restored_total` metrics.
/// Experiments' faults are watched by the controller itself.
struct FaultWatchService: Service {
    let daemon: LocalChaosDaemon
    let controller: Controller
    let listening: ListeningSignal
    let metrics: TumultMetrics
    let logger: Logger
    var interval: Duration = .seconds(2)

    func run() async throws {
        // A shutdown ends the wait between rounds at once (a SIGTERM'd
        // server must not linger for the rest of an interval).
        try? await cancelWhenGracefulShutdown { try await watch() }
    }

    private func watch() async throws {
        while !Task.isCancelled {
            try await Task.sleep(for: interval)
            guard listening.isListening else { continue }
            if await controller.halted { continue }
            for (attack, repair) in await daemon.healDirectAttacks() {
                let name = "\(attack.family)-\(attack.action.split(separator: " ").last.map(String.init) ?? attack.action)-\(attack.uid.prefix(8))"
                metrics.didLoseFault(kind: attack.family, restored: repair.restored)
                await controller.recordHostEvent(kind: "Attack", uid: attack.uid, name: name, reason: "FaultLost",
                                                 message: "\(attack.action) on \(attack.target) lost: \(repair.lost)", warning: true)
                if repair.restored {
                    logger.warning("fault lost and restored", metadata: ["attack.uid": "\(attack.uid)", "fault.lost": "\(repair.lost)"])
                    await controller.recordHostEvent(kind: "Attack", uid: attack.uid, name: name, reason: "FaultRestored",
                                                     message: "\(attack.action) on \(attack.target) restored", warning: false)
                } else {
                    logger.error("fault lost and not restored", metadata: ["attack.uid": "\(attack.uid)", "error": "\(repair.error ?? "")"])
                    await controller.recordHostEvent(kind: "Attack", uid: attack.uid, name: name, reason: "FaultNotRestored",
                                                     message: "\(attack.action) on \(attack.target) could not be restored: \(repair.error ?? "")",
                                                     warning: true)
                }
            }
        }
    }
}
