import Foundation
import TumultAgent
import TumultFaults
import TumultModel
import TumultSystem

/// The host's side of an experiment: turns one experiment's spec into the
/// faults for one target and injects them through the journal, so that
/// every attack is named after its experiment and recovery works from the
/// journal alone (after a crash too). What the controller asks of a host
/// (`HostAgent`, through `LocalHostAgent`) is these three calls.
public struct ExperimentAgent: Sendable {
    public let journal: Journal
    public let runner: AttackRunner
    public let translators: TranslatorRegistry
    public let options: TranslationOptions
    /// The process that holds this agent's attacks in the foreground
    /// (`tumult run`): journaled with each, so that a server on the same
    /// host leaves them to it.
    public let owner: Int32?

    /// `registry` defaults to the standard one with the helpers detached as
    /// `options` says, so a fault applied again after a loss is made the
    /// same way as the first time.
    public init(journal: Journal, registry: InjectorRegistry? = nil,
                translators: TranslatorRegistry = .standard(), options: TranslationOptions, owner: Int32? = nil) {
        self.journal = journal
        self.owner = owner
        self.runner = AttackRunner(journal: journal, registry: registry ?? .standard(detachHelpers: options.detachHelpers))
        self.translators = translators
        self.options = options
    }

    /// An agent with every family of `families`, made as its options say.
    public init(journal: Journal, families: FamilyRegistry, owner: Int32? = nil) {
        self.init(journal: journal, registry: families.injectors, translators: families.translators,
                  options: families.options, owner: owner)
    }

    /// The faults `inject` would apply, without touching the host.
    public func plan(document: ChaosDocument, target: Pod, peers: [Pod]) throws -> [PlannedFault] {
        try translators.faults(for: document, target: target, peers: peers, options: options)
    }

    /// Injects the experiment's faults into `target` and returns the uids of
    /// their attacks, journaled as `EXPERIMENT/NAMESPACE/POD`. The whole
    /// spec is translated before anything changes; when a fault fails, the
    /// ones injected before it are recovered, so a failed call leaves
    /// nothing in place.
    public func inject(document: ChaosDocument, target: Pod, peers: [Pod], experiment: String,
                       endsAt: Date?, claim: AttackOwner? = nil) throws -> [String] {
        let planned = try plan(document: document, target: target, peers: peers)
        let name = "\(experiment)/\(target.id)"
        var injected: [String] = []
        for fault in planned {
            do {
                injected.append(try fault.inject(with: runner, target: name, endsAt: endsAt, owner: owner, claim: claim))
            } catch {
                var leftovers: [String] = []
                for uid in injected.reversed() {
                    do { try runner.recover(uid) } catch { leftovers.append("\(uid): \(error)") }
                }
                guard leftovers.isEmpty else {
                    throw FaultError(.applyFailed, "could not \(fault.summary) (\(error)), and recovering what was "
                                     + "injected before failed too: \(leftovers.joined(separator: "; "))", cause: error)
                }
                throw error
            }
        }
        return injected
    }

    /// Recovers every attack in `attacks`. Idempotent: attacks recovered
    /// already, or unknown to this journal, are done. Every attack is tried;
    /// the failures are reported together afterwards.
    public func recover(_ attacks: [String]) throws {
        var failures: [String] = []
        for uid in attacks {
            do {
                guard try journal.attack(uid) != nil else { continue }
                try runner.recover(uid)
            } catch {
                failures.append("\(uid): \(error)")
            }
        }
        guard failures.isEmpty else {
            throw FaultError(.recoverFailed, "could not recover \(failures.count) of \(attacks.count) attacks: "
                             + failures.joined(separator: "; "))
        }
    }

    /// Reads back each of `attacks` and applies again those found lost
    /// (`AttackRunner.heal`); returns what was found.
    /// Side by side: most of a check is waiting for `tc` and `iptables-save`.
    public func heal(_ attacks: [String]) -> [FaultRepair] {
        Concurrently.map(attacks) { runner.heal($0) }.compactMap { $0 }
    }

    /// The uids among `attacks` whose journal state is `injected`. An attack
    /// the journal does not know, or that is being injected, recovered or
    /// has failed, is not in place.
    public func stillInjected(_ attacks: [String]) -> Set<String> {
        Set(attacks.filter { uid in (try? journal.attack(uid))??.state == .injected })
    }
}
