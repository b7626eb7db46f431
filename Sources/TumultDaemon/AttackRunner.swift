import Foundation
import TumultAgent
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
    /// attack is recorded as failed, with nothing left on the host; when
    /// the injector failed before its first change (a target that is not
    /// there), the attack is forgotten: the caller has the error, and a
    /// journal row would only record a request that never touched the host.
    /// `claim`: the controller, experiment and target it is for; `uid`:
    /// the caller's id for it (chaosd's callers give one), else a new one.
    public func inject<Injector: FaultInjector>(_ fault: Injector.Fault, with injector: Injector, action: String,
                                                target: String, endsAt: Date? = nil, owner: Int32? = nil,
                                                claim: AttackOwner? = nil, uid given: String? = nil) throws -> String {
        let encoded = String(decoding: try JSONEncoder().encode(fault), as: UTF8.self)
        return try journaled(family: Injector.family, action: action, target: target, fault: encoded, endsAt: endsAt,
                             owner: owner, claim: claim, uid: given) { uid in
            try injector.apply(fault, attack: uid, recorder: journal.recorder(for: uid))
        }
    }

    /// The same for a fault given as the journal's JSON and its family's
    /// name (a prepared attack from the CLI), applied by the registry's injector.
    public func inject(encoded fault: String, family name: String, action: String, target: String) throws -> String {
        guard let family = registry.family(name) else {
            throw FaultError(.unsupported, "no fault family \(name) in this build")
        }
        return try journaled(family: name, action: action, target: target, fault: fault, endsAt: nil, owner: nil,
                             claim: nil, uid: nil) { uid in
            try family.apply(fault, uid, journal.recorder(for: uid))
        }
    }

    /// The attack in the journal first, then `apply`, then its outcome.
    private func journaled(family: String, action: String, target: String, fault: String, endsAt: Date?, owner: Int32?,
                           claim: AttackOwner?, uid given: String?, apply: (String) throws -> Void) throws -> String {
        if try journal.isHalted() {
            throw FaultError(.applyFailed, "Tumult is halted (emergency stop): new faults are refused until `tumult unhalt`")
        }
        let uid = given ?? UUID().uuidString.lowercased()
        let now = Date()
        try journal.begin(Journal.Attack(uid: uid, family: family, action: action, target: target,
                                         fault: fault, state: .injecting, message: nil, createdAt: now,
                                         updatedAt: now, endsAt: endsAt, ownerPID: owner, controller: claim?.controller,
                                         experiment: claim?.experiment, subject: claim?.target))
        do {
            try apply(uid)
        } catch {
            try? journal.update(uid, state: .failed, message: String(describing: error))
            _ = try? journal.forgetUntouched(uid)
            throw error
        }
        try journal.update(uid, state: .injected)
        return uid
    }

    /// Undoes one attack from its journal record. Idempotent. Holds the
    /// attack's lock, so a restore after a loss cannot interleave.
    public func recover(_ uid: String) throws {
        try journal.locks.withLock(uid) { try recoverLocked(uid) }
    }

    private func recoverLocked(_ uid: String) throws {
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

    /// Makes injected attack `uid` become `fault` (its family's fault as
    /// JSON) in place, without recovering it: the family is told the new
    /// fault, then the journal keeps it, so that a fault restored after a
    /// loss (or by a restarted daemon) is the new one. Holds the attack's
    /// lock, so neither a recovery nor a restore interleaves. Refuses an
    /// attack the journal does not hold as injected, and a family that can
    /// only recover and inject again; the fault is then unchanged.
    public func reconfigure(_ uid: String, to fault: String) throws {
        try journal.locks.withLock(uid) {
            guard let attack = try journal.attack(uid) else {
                throw FaultError(.invalidFault, "no attack \(uid) in the journal")
            }
            guard attack.state == .injected else {
                throw FaultError(.invalidFault, "attack \(uid) is \(attack.state.rawValue), not injected: only a running fault changes in place")
            }
            guard let family = registry.family(attack.family) else {
                throw FaultError(.unsupported, "attack \(uid) is of family \(attack.family), which this build does not know")
            }
            guard let reconfigure = family.reconfigure else {
                throw FaultError(.unsupported, "a \(attack.family) fault cannot change while it runs: recover it and inject the new one")
            }
            try reconfigure(try journal.steps(of: uid).map(\.undo), fault, uid)
            try journal.replaceFault(of: uid, with: fault)
        }
    }

    /// The same with a planned fault, which must be of the attack's family.
    public func reconfigure(_ uid: String, to fault: PlannedFault) throws {
        if let attack = try journal.attack(uid), attack.family != fault.family {
            throw FaultError(.invalidFault, "attack \(uid) is a \(attack.family) fault; a \(fault.family) fault cannot replace it in place")
        }
        try reconfigure(uid, to: fault.encodedFault)
    }

    /// Reads back one injected attack: what of it is no longer on the host
    /// (empty while it holds, or when the attack is not injected).
    public func check(_ uid: String) throws -> [String] {
        guard let attack = try journal.attack(uid), attack.state == .injected else { return [] }
        guard let family = registry.family(attack.family) else { return [] }
        let steps = try journal.steps(of: uid).filter(\.applied)
        return try family.check(steps.map(\.undo), uid)
    }

    /// Reads back one injected attack and, when part of it is lost, undoes
    /// what is left and applies the journaled fault again under the same
    /// uid, journal first as always. Returns nil while the fault holds.
    /// When applying again fails, the attack ends `failed` with nothing
    /// left on the host, and the repair says why. While the host is halted
    /// (`tumult halt`) nothing is applied again.
    public func heal(_ uid: String) -> FaultRepair? {
        journal.locks.withLock(uid) { healLocked(uid) }
    }

    private func healLocked(_ uid: String) -> FaultRepair? {
        // An emergency stop is in force: nothing is applied again, whoever asks.
        if (try? journal.isHalted()) == true { return nil }
        let problems: [String]
        do { problems = try check(uid) } catch { return nil }
        guard !problems.isEmpty, let attack = try? journal.attack(uid), let family = registry.family(attack.family) else {
            return nil
        }
        let lost = problems.joined(separator: "; ")
        do {
            try journal.update(uid, state: .recovering, message: "lost: \(lost)")
            try family.recover(try journal.steps(of: uid).map(\.undo), uid)
            try journal.removeSteps(of: uid)
            try journal.update(uid, state: .injecting, message: "lost: \(lost); applying again")
        } catch {
            try? journal.update(uid, state: .recovering, message: "lost: \(lost); could not undo what was left: \(error)")
            return FaultRepair(uid: uid, family: attack.family, lost: lost, restored: false,
                               error: "could not undo what was left of it: \(error)")
        }
        do {
            try family.apply(attack.fault, uid, journal.recorder(for: uid))
        } catch {
            try? journal.update(uid, state: .failed, message: "lost: \(lost); could not apply it again: \(error)")
            return FaultRepair(uid: uid, family: attack.family, lost: lost, restored: false,
                               error: "could not apply it again: \(error)")
        }
        try? journal.update(uid, state: .injected, message: "lost (\(lost)) and restored")
        // Applied again, the fault must read back as whole at once: a check
        // that still disagrees with the injector's own read-back would
        // otherwise restore it again and again.
        let again = (try? check(uid)) ?? []
        guard again.isEmpty else {
            let detail = again.joined(separator: "; ")
            try? journal.update(uid, state: .recovering, message: "lost: \(lost); lost again at once: \(detail)")
            try? family.recover(try journal.steps(of: uid).map(\.undo), uid)
            try? journal.update(uid, state: .failed, message: "lost: \(lost); lost again at once after applying it again: \(detail)")
            return FaultRepair(uid: uid, family: attack.family, lost: lost, restored: false,
                               error: "applied again, but lost again at once: \(detail)")
        }
        return FaultRepair(uid: uid, family: attack.family, lost: lost, restored: true, error: nil)
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

/// A fault found lost by its liveness check, and whether it was restored.
public struct FaultRepair: Sendable, Hashable, Codable {
    public var uid: String
    /// The journal's family (`network`).
    public var family: String
    /// What was missing, in words.
    public var lost: String
    public var restored: Bool
    /// Why it could not be restored.
    public var error: String?

    public init(uid: String, family: String, lost: String, restored: Bool, error: String?) {
        self.uid = uid
        self.family = family
        self.lost = lost
        self.restored = restored
        self.error = error
    }
}
