import Foundation
import Hummingbird
import TumultAgent

/// `GET /api/machines`: every machine of the fleet (this one, PhysicalMachine
/// documents, joined daemons), whether its agent answers, and what it holds.
struct MachineRoutes: Sendable {
    let parts: ServerParts

    /// One machine as the API shows it.
    struct MachineView: Encodable, Sendable {
        var name: String
        var namespace: String
        var labels: [String: String]
        var address: String
        var source: String
        var reachable: Bool
        var lastSeen: Date?
        var error: String?
        var version: Int?
        var activeAttacks: Int?
        var halted: Bool?
        var kinds: [String]?
        var machineActions: [String]?
    }

    func register(on router: Router<BasicRequestContext>) {
        router.get("/api/machines") { _, _ in
            JSONResponse.make(await machines())
        }
    }

    /// Asks every agent for its status, side by side, each within 3 s.
    func machines() async -> [MachineView] {
        let fleet = parts.fleet
        let members = fleet.all()
        var views = await withTaskGroup(of: MachineView.self) { group in
            for member in members {
                group.addTask {
                    var view = MachineView(name: member.machine.name, namespace: member.machine.namespace,
                                           labels: member.machine.labels, address: member.machine.address,
                                           source: member.machine.source.rawValue, reachable: false,
                                           lastSeen: member.machine.lastSeen, error: member.machine.error)
                    do {
                        let status = try await member.agent.status()
                        fleet.noteContact(member.machine.name, error: nil)
                        view.reachable = true
                        view.lastSeen = Date()
                        view.error = nil
                        view.version = status.version
                        view.activeAttacks = status.activeAttacks
                        view.halted = status.halted
                        view.kinds = status.kinds
                        view.machineActions = status.machineActions
                    } catch {
                        fleet.noteContact(member.machine.name, error: String(describing: error))
                        view.error = String(describing: error)
                    }
                    return view
                }
            }
            var views: [MachineView] = []
            for await view in group { views.append(view) }
            return views
        }
        views.sort { ($0.name == fleet.localMachine ? 0 : 1, $0.name) < ($1.name == fleet.localMachine ? 0 : 1, $1.name) }
        return views
    }
}
