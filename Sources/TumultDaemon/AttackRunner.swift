import Foundation
import TumultFaults

/// Runs attacks through their injectors with the journal kept first:
/// an attack is in the journal before its first change, each change is
/// recorded before it is made, and recovery works from the journal alone.
public struct AttackRunner: Sendable {
    public let journal: Journal
    public let registry: InjectorRegistry

    public init(journal: Journal, registry: InjectorRegistry) {
        self.journal = journal
        self.registry = registry
    }

    /// Applies `fault` as a new attack and returns its uid. On failure the
    /// attack is recorded as failed, with nothing left on the host.
    public func inject<Injector: FaultInjector>(_ fault: Injector.Fault, with injector: Injector, action: String,
                                                target: String, endsAt: Date? = nil, owner: Int32? = nil) throws -> String {
        if try journal.isHalted() {
            throw FaultError(.applyFailed, "Tumult is halted (emergency stop): new faults are refused until `tumult unhalt`")
        }
        let uid = UUID().uuidString.lowercased()
        let now = Date()
        let encoded = String(decoding: try JSONEncoder().encode(fault), as: UTF8.self)
        try journal.begin(Journal.Attack(uid: uid, family: Injector.family, action: action, target: target,
                                         fault: encoded, state: .injecting, message: nil, createdAt: now,
                                         updatedAt: now, endsAt: endsAt, ownerPID: owner))
        do {
            try injector.apply(fault, attack: uid, recorder: journal.recorder(for: uid))
        } catch {
            try? journal.update(uid, state: .failed, message: String(describing: error))
            throw error
        }
        try journal.update(uid, state: .injected)
        return uid
    }

    /// Undoes one attack from its journal record. Idempotent.
    public func recover(_ uid: String) throws {
        guard let attack = try journal.attack(uid) else {
            throw FaultError(.recoverFailed, "no attack \(uid) in the journal")
        }
        guard attack.needsRecovery || attack.state == .failed else { return }
        try journal.update(uid, state: .recovering)
        guard let family = registry.family(attack.family) else {
            throw FaultError(.recoverFailed, "attack \(uid) is of family \(attack.family), which this build cannot undo")
        }
        do {
            try family.recover(try journal.steps(of: uid).map(\.undo), uid)
        } catch {
            try? journal.update(uid, state: .recovering, message: String(describing: error))
            throw error
        }
        try journal.update(uid, state: attack.state == .failed ? .failed : .recovered)
    }

    /// Recovers every attack that is not yet recovered; returns the uids
    /// done and the errors of the others.
    public func recoverAll() -> (recovered: [String], failures: [String: String]) {
        var recovered: [String] = []
        var failures: [String: String] = [:]
        for attack in (try? journal.attacks()) ?? [] where attack.needsRecovery {
            do {
                try recover(attack.uid)
                recovered.append(attack.uid)
            } catch {
                failures[attack.uid] = String(describing: error)
            }
        }
        return (recovered, failures)
    }
}
