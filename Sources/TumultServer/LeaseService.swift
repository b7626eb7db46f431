import Foundation
import Logging
import Synchronization
import ServiceLifecycle
import TumultAgent

/// The controller's side of the dead-man's switch: every third of the
/// lease period it renews its lease on every remote daemon, so a daemon
/// that stops hearing from it (the server killed, the network cut)
/// recovers what it injected within one period. A fresh start renews at
/// once: that is the re-attach after a restart.
final class LeaseService: Service, Sendable {
    let fleet: AgentFleet
    let controller: String
    let seconds: Double
    let connections: FleetConnections
    let logger: Logger
    /// Machines whose renewal is under way, and those whose lease is held.
    private let inFlight = Mutex<Set<String>>([])
    private let held = Mutex<Set<String>>([])

    init(fleet: AgentFleet, controller: String, seconds: Double, connections: FleetConnections, logger: Logger) {
        self.fleet = fleet
        self.controller = controller
        self.seconds = seconds
        self.connections = connections
        self.logger = logger
    }

    func run() async throws {
        try? await cancelWhenGracefulShutdown { try await self.renewLoop() }
        // A clean stop releases nothing: SIGTERM recovers experiments
        // through the controller, and what is left must stay covered.
        try? await connections.shutdown()
    }

    private func renewLoop() async throws {
        while !Task.isCancelled {
            await renewAll()
            try await Task.sleep(for: .milliseconds(Int(seconds * 1000 / 3)))
        }
    }

    /// Renews on every remote machine without waiting for any: a slow or
    /// unreachable one must not hold up the others' renewals. A machine
    /// whose last renewal is still under way is skipped this round.
    func renewAll() async {
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
