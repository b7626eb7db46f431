import Foundation
import TumultAgent
import TumultModel

/// The controller's calls to its hosts, each routed to the agent that holds
/// the target or the attack: a pod's `nodeName`, an attack id's machine.
/// Calls to several hosts run side by side.
struct FleetRouter: Sendable {
    let fleet: AgentFleet
    /// This controller's id, journaled as the owner of what it injects.
    let controller: String
    /// Its lease on remote hosts (nil: no dead-man's switch).
    let leaseSeconds: Double?

    func agent(for machine: String) throws -> any HostAgent {
        guard let agent = fleet.agent(for: machine) else {
            throw ControllerError(.internalError, "machine \(machine) is not in the fleet (no PhysicalMachine or joined daemon by that name)")
        }
        return agent
    }

    func inject(_ request: InjectionRequest) async throws -> [AttackID] {
        var request = request
        let machine = request.target.nodeName
        let host = try agent(for: machine)
        // A remote host holds this controller's lease before it injects.
        if let leaseSeconds, machine != fleet.localMachine { request.leaseSeconds = leaseSeconds }
        return try await host.inject(request)
    }

    /// Changes a target's running `attacks` in place to what `request`'s
    /// document asks for, on the host the target is on (where `inject` put them).
    func reconfigure(_ attacks: [AttackID], _ request: InjectionRequest) async throws {
        var request = request
        let machine = request.target.nodeName
        let host = try agent(for: machine)
        if let leaseSeconds, machine != fleet.localMachine { request.leaseSeconds = leaseSeconds }
        try await host.reconfigure(ReconfigureRequest(attacks: attacks, injection: request))
    }

    /// Recovers on every host that holds one of `attacks`; ids of machines
    /// no longer in the fleet cannot be recovered and say so.
    func recover(_ attacks: [AttackID]) async throws {
        let (byMember, unknown) = fleet.grouped(attacks)
        let failures = await withTaskGroup(of: String?.self) { group in
            for (member, ids) in byMember {
                group.addTask {
                    do {
                        try await member.agent.recover(ids)
                        return nil
                    } catch {
                        return "\(member.machine.name): \(error)"
                    }
                }
            }
            var failures: [String] = []
            for await failure in group { if let failure { failures.append(failure) } }
            return failures
        }
        var all = failures.sorted()
        if !unknown.isEmpty {
            all.append("no agent for \(unknown.map(\.description).joined(separator: ", "))")
        }
        guard all.isEmpty else { throw ControllerError(.internalError, all.joined(separator: "; ")) }
    }

    /// The liveness check on every host concerned. A host that cannot be
    /// reached reports nothing lost: it cannot tell, and its dead-man's
    /// switch covers it.
    func heal(_ attacks: [AttackID]) async -> [LostFault] {
        let (byMember, _) = fleet.grouped(attacks)
        return await withTaskGroup(of: [LostFault].self) { group in
            for (member, ids) in byMember {
                group.addTask { (try? await member.agent.heal(ids)) ?? [] }
            }
            var lost: [LostFault] = []
            for await found in group { lost.append(contentsOf: found) }
            return lost
        }
    }

    /// What every host holds for experiments (all of them with no
    /// `experiment`), asked once per host, and the machines that could not
    /// be asked (their targets' records must be left as they are).
    func attacks(ofExperiment experiment: String? = nil) async -> (attacks: [HostAttack], unreachable: Set<String>) {
        let members = fleet.all()
        return await withTaskGroup(of: (String, [HostAttack]?).self) { group in
            for member in members {
                group.addTask {
                    let found = try? await member.agent.attacks(AttackQuery(experiment: experiment))
                    return (member.machine.name, found)
                }
            }
            var attacks: [HostAttack] = []
            var unreachable: Set<String> = []
            for await (name, found) in group {
                if let found { attacks.append(contentsOf: found) } else { unreachable.insert(name) }
            }
            return (attacks, unreachable)
        }
    }

    func recoverOrphans(keeping experiments: Set<String>) async -> Int {
        let members = fleet.all()
        let controller = self.controller
        return await withTaskGroup(of: Int.self) { group in
            for member in members {
                group.addTask { (try? await member.agent.recoverOrphans(controller: controller, keeping: experiments)) ?? 0 }
            }
            var total = 0
            for await count in group { total += count }
            return total
        }
    }

    /// Halts (or unhalts) every host; throws when none could be told.
    func setHalted(_ halted: Bool) async throws -> Int {
        let members = fleet.all()
        let results = await withTaskGroup(of: Result<Int, any Error>.self) { group in
            for member in members {
                group.addTask {
                    do { return .success(try await member.agent.setHalted(halted)) } catch { return .failure(error) }
                }
            }
            var results: [Result<Int, any Error>] = []
            for await result in group { results.append(result) }
            return results
        }
        let counts = results.compactMap { try? $0.get() }
        if counts.isEmpty, case .failure(let error)? = results.first { throw error }
        return counts.reduce(0, +)
    }
}
