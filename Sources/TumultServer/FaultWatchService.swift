import Foundation
import Logging
import ServiceLifecycle
import TumultAgent
import TumultController

/// The host's own watch, every `interval`: its dead-man's switch and the
/// liveness of the faults it holds outside experiments (chaosd's attacks,
/// detached `tumult attack`s), each finding an event (`FaultLost`, then
/// `FaultRestored` or `FaultNotRestored`; `LeaseExpired`) and the
/// `tumult_faults_lost_total` / `tumult_faults_restored_total` metrics.
/// Experiments' faults are watched by the controller itself.
struct FaultWatchService: Service {
    let agent: any HostWatching
    let controller: any ExperimentService
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
            for report in await agent.watchOnce() {
                let uid = report.attack?.id.uid ?? "host"
                var name = "host"
                if let attack = report.attack {
                    name = "\(attack.family)-\(attack.action.split(separator: " ").last.map(String.init) ?? attack.action)-\(attack.id.uid.prefix(8))"
                    if let restored = report.restored { metrics.didLoseFault(kind: attack.family, restored: restored) }
                }
                if report.warning {
                    logger.warning("host watch", metadata: ["reason": "\(report.reason)", "attack.uid": "\(uid)", "message": "\(report.message)"])
                }
                await controller.recordHostEvent(kind: "Attack", uid: uid, name: name, reason: report.reason,
                                                 message: report.message, warning: report.warning)
            }
        }
    }
}
