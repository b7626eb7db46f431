import Foundation
import Synchronization

/// Which chaos object each controller experiment came from, both ways:
/// status writes, finalizer removal and events find their object here.
final class ObjectIndex: Sendable {
    /// A chaos object by its resource and place.
    struct Key: Hashable, Sendable, CustomStringConvertible {
        var resource: ResourceType
        var namespace: String
        var name: String
        var description: String { "\(resource.plural)/\(namespace)/\(name)" }
    }

    struct Entry: Sendable {
        var key: Key
        var kind: String
        /// The API server's uid of the object (events are about it).
        var objectUID: String
        /// The controller's uid of the experiment or schedule made from it.
        var controllerUID: String
    }

    private let state = Mutex<(byKey: [Key: Entry], byUID: [String: Key])>(([:], [:]))

    func set(_ entry: Entry) {
        state.withLock { state in
            if let old = state.byKey[entry.key], old.controllerUID != entry.controllerUID {
                // A new generation: the old experiment still recovers under its uid and still maps here.
                state.byUID[old.controllerUID] = entry.key
            }
            state.byKey[entry.key] = entry
            state.byUID[entry.controllerUID] = entry.key
        }
    }

    func entry(for key: Key) -> Entry? { state.withLock { $0.byKey[key] } }

    func entry(forUID uid: String) -> Entry? {
        state.withLock { state in state.byUID[uid].flatMap { state.byKey[$0] } }
    }

    func key(forUID uid: String) -> Key? { state.withLock { $0.byUID[uid] } }

    /// Forgets one experiment's uid (archived); the object's entry goes with its last experiment.
    func forget(uid: String) {
        state.withLock { state in
            guard let key = state.byUID.removeValue(forKey: uid) else { return }
            if state.byKey[key]?.controllerUID == uid { state.byKey[key] = nil }
        }
    }

    func forget(key: Key) {
        state.withLock { state in
            guard let entry = state.byKey.removeValue(forKey: key) else { return }
            state.byUID[entry.controllerUID] = nil
        }
    }

    var count: Int { state.withLock { $0.byKey.count } }
}
