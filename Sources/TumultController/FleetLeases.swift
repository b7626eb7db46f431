import Foundation
import Logging
import Synchronization
import TumultAgent

/// The controller's side of the dead-man's switch: every third of the
/// lease period it renews its lease on every remote daemon, so a daemon
/// that stops hearing from it (the controller killed, the network cut, no
/// leader in a cluster) recovers what it injected within one period. A
/// fresh start renews at once: that is the re-attach after a restart.
/// `tumult server` and `tumult operator` both run it.
public final class FleetLeases: Sendable {
    let fleet: AgentFleet
    let controller: String
    let seconds: Double
    let logger: Logger
    /// Machines whose renewal is under way, and those whose lease is held.
    private let inFlight = Mutex<Set<String>>([])
    private let held = Mutex<Set<String>>([])

    public init(fleet: AgentFleet, controller: String, seconds: Double, logger: Logger) {
        self.fleet = fleet
        self.controller = controller
        self.seconds = seconds
        self.logger = logger
    }

    /// Renews every third of the period until cancelled.
    public func run() async {
        while !Task.isCancelled {
            renewAll()
            try? await Task.sleep(for: .milliseconds(Int(seconds * 1000 / 3)))
        }
    }

    /// Renews on every remote machine without waiting for any: a slow or
    /// unreachable one must not hold up the others' renewals. A machine
    /// whose last renewal is still under way is skipped this round.
    public func renewAll() {
        let remote = fleet.all().filter { $0.machine.name != fleet.localMachine }
        for member in remote {
            let name = member.machine.name
            guard inFlight.withLock({ $0.insert(name).inserted }) else { continue }
            Task {
                defer { _ = inFlight.withLock { $0.remove(name) } }
                do {
                    _ = try await member.agent.renewLease(Lease(controller: controller, seconds: seconds))
                    fleet.noteContact(name, error: nil)
                    if held.withLock({ $0.insert(name).inserted }) {
                        logger.info("lease held", metadata: ["machine": "\(name)", "lease.seconds": "\(seconds)"])
                    }
                } catch {
                    fleet.noteContact(name, error: String(describing: error))
                    held.withLock { _ = $0.remove(name) }
                    logger.warning("lease not renewed", metadata: ["machine": "\(name)", "error": "\(error)"])
                }
            }
        }
    }
}
