import Foundation
import GRDB
import TumultAgent
import TumultFaults
import TumultSystem

/// The attack journal: an SQLite file under Tumult's state directory that
/// records every attack and, *before* each host change, how to undo it.
/// After a crash at any moment, what is in here is enough to put every
/// target back as it was.
public final class Journal: Sendable {
    public enum State: String, Codable, Sendable, CaseIterable {
        /// Changes are being made.
        case injecting
        /// Every change is in place.
        case injected
        /// Undo is in progress (or was interrupted).
        case recovering
        /// Everything is undone.
        case recovered
        /// Applying failed; what was done has been undone.
        case failed
    }

    /// One attack as the journal knows it.
    public struct Attack: Codable, Sendable, Hashable, FetchableRecord, PersistableRecord {
        public static let databaseTableName = "attack"
        public var uid: String
        public var family: String
        public var action: String
        public var target: String
        /// The fault, as its injector encodes it (JSON).
        public var fault: String
        public var state: State
        public var message: String?
        public var createdAt: Date
        public var updatedAt: Date
        /// When a foreground attack is due to end.
        public var endsAt: Date?
        /// The process holding the attack in the foreground, if any.
        public var ownerPID: Int32?
        /// Who asked for it (nil for attacks outside experiments): the
        /// controller whose lease covers it, the experiment and the target.
        public var controller: String?
        public var experiment: String?
        public var subject: String?

        public init(uid: String, family: String, action: String, target: String, fault: String, state: State,
                    message: String? = nil, createdAt: Date, updatedAt: Date, endsAt: Date? = nil, ownerPID: Int32? = nil,
                    controller: String? = nil, experiment: String? = nil, subject: String? = nil) {
            self.uid = uid
            self.family = family
            self.action = action
            self.target = target
            self.fault = fault
            self.state = state
            self.message = message
            self.createdAt = createdAt
            self.updatedAt = updatedAt
            self.endsAt = endsAt
            self.ownerPID = ownerPID
            self.controller = controller
            self.experiment = experiment
            self.subject = subject
        }

        /// The owner journaled with it, when a controller asked for it.
        public var owner: AttackOwner? {
            guard let controller, let experiment else { return nil }
            return AttackOwner(controller: controller, experiment: experiment, target: subject ?? "")
        }

        public var needsRecovery: Bool { state != .recovered && state != .failed }

        /// Whether another live process holds it in the foreground (a
        /// `tumult run`, a `tumult attack --duration`): its to end, not ours.
        public var isHeldByAnotherProcess: Bool {
            guard let ownerPID, ownerPID != getpid() else { return false }
            return Processes.isAlive(ownerPID)
        }
    }

    /// One recorded host change and how to undo it.
    public struct Step: Codable, Sendable, Hashable, FetchableRecord, PersistableRecord {
        public static let databaseTableName = "step"
        public var attack: String
        public var sequence: Int
        public var summary: String
        /// The injector's undo step (JSON).
        public var undo: Data
        /// Whether the change was confirmed; unconfirmed ones are undone too.
        public var applied: Bool
    }

    public let path: String
    private let database: DatabaseQueue
    /// Held while an attack is recovered or restored (`journal.lock` beside the journal).
    public let locks: AttackLock

    /// Opens (creating if needed) `journal.sqlite` in `directory`.
    public init(directory: URL) throws {
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true,
                                                attributes: [.posixPermissions: 0o700])
        path = directory.appendingPathComponent("journal.sqlite").path
        locks = AttackLock(path: directory.appendingPathComponent("journal.lock").path)
        var configuration = Configuration()
        configuration.busyMode = .timeout(10)
        // WAL with synchronous=NORMAL: a commit is one append to the log and
        // no fsync (a checkpoint syncs), which made a journaled injection
        // cost ~10 fsyncs, most of its time. It stays safe against what
        // recovery is for, a crash or kill -9 of Tumult (the log is in the
        // kernel's cache). A power loss may drop the last entries: the kernel
        // state they describe (qdiscs, rules, processes) ends with it; a disk
        // fault's fill file would not, and is then removed by hand.
        configuration.prepareDatabase { db in try db.execute(sql: "PRAGMA synchronous = NORMAL") }
        database = try DatabaseQueue(path: path, configuration: configuration)
        _ = try database.writeWithoutTransaction { db in try String.fetchOne(db, sql: "PRAGMA journal_mode = WAL") }
        var migrator = DatabaseMigrator()
        migrator.registerMigration("v1") { db in
            try db.create(table: "attack") { table in
                table.primaryKey("uid", .text)
                table.column("family", .text).notNull()
                table.column("action", .text).notNull()
                table.column("target", .text).notNull()
                table.column("fault", .text).notNull()
                table.column("state", .text).notNull()
                table.column("message", .text)
                table.column("createdAt", .datetime).notNull()
                table.column("updatedAt", .datetime).notNull()
                table.column("endsAt", .datetime)
                table.column("ownerPID", .integer)
            }
            try db.create(table: "step") { table in
                table.column("attack", .text).notNull().references("attack", onDelete: .cascade)
                table.column("sequence", .integer).notNull()
                table.column("summary", .text).notNull()
                table.column("undo", .blob).notNull()
                table.column("applied", .boolean).notNull()
                table.primaryKey(["attack", "sequence"])
            }
        }
        migrator.registerMigration("v2-halt") { db in
            try db.create(table: "setting") { table in
                table.primaryKey("key", .text)
                table.column("value", .text).notNull()
            }
        }
        // Owners and leases: which controller asked for an attack, and
        // until when each controller's dead-man's switch holds.
        migrator.registerMigration("v3-owner-lease") { db in
            try db.alter(table: "attack") { table in
                table.add(column: "controller", .text)
                table.add(column: "experiment", .text)
                table.add(column: "subject", .text)
            }
            try db.create(index: "attack_controller", on: "attack", columns: ["controller"])
            try db.create(table: "lease") { table in
                table.primaryKey("controller", .text)
                table.column("seconds", .double).notNull()
                table.column("renewedAt", .datetime).notNull()
                table.column("expiresAt", .datetime).notNull()
            }
        }
        // Two `tumult` processes opening a new journal at once would both
        // create its tables: the first to hold the lock migrates, the other
        // then finds the work done.
        try locks.withLock("journal-migration") { try migrator.migrate(database) }
    }

    /// True after `tumult halt` until `tumult unhalt`: every process on this
    /// host that injects through this journal refuses while it is set.
    public func isHalted() throws -> Bool {
        try database.read { db in
            try String.fetchOne(db, sql: "SELECT value FROM setting WHERE key = 'halted'") == "true"
        }
    }

    public func setHalted(_ halted: Bool) throws {
        try database.write { db in
            try db.execute(sql: "INSERT OR REPLACE INTO setting (key, value) VALUES ('halted', ?)",
                           arguments: [halted ? "true" : "false"])
        }
    }

    /// One controller's lease on this host (the dead-man's switch).
    public struct LeaseRow: Codable, Sendable, Hashable, FetchableRecord, PersistableRecord {
        public static let databaseTableName = "lease"
        public var controller: String
        public var seconds: Double
        public var renewedAt: Date
        public var expiresAt: Date
    }

    /// Renews (or takes) `controller`'s lease for `seconds` from now; 0 releases it.
    public func renewLease(controller: String, seconds: Double, at moment: Date = Date()) throws -> LeaseRow? {
        try database.write { db in
            guard seconds > 0 else {
                try db.execute(sql: "DELETE FROM lease WHERE controller = ?", arguments: [controller])
                return nil
            }
            let row = LeaseRow(controller: controller, seconds: seconds, renewedAt: moment,
                               expiresAt: moment.addingTimeInterval(seconds))
            try row.save(db)
            return row
        }
    }

    public func leases() throws -> [LeaseRow] {
        try database.read { db in try LeaseRow.fetchAll(db, sql: "SELECT * FROM lease ORDER BY controller") }
    }

    /// Gives every lease a full period from `moment`: a daemon that was down
    /// cannot have heard its controllers, so they get a period to call again.
    public func extendLeases(from moment: Date = Date()) throws {
        try database.write { db in
            for var row in try LeaseRow.fetchAll(db) {
                row.renewedAt = moment
                row.expiresAt = moment.addingTimeInterval(row.seconds)
                try row.update(db)
            }
        }
    }

    /// `$TUMULT_HOME`, else `/var/lib/tumult` for root and `~/.tumult` for others.
    public static func defaultDirectory() -> URL {
        if let home = ProcessInfo.processInfo.environment["TUMULT_HOME"], !home.isEmpty {
            return URL(fileURLWithPath: home)
        }
        if getuid() == 0 { return URL(fileURLWithPath: "/var/lib/tumult") }
        return FileManager.default.homeDirectoryForCurrentUser.appendingPathComponent(".tumult")
    }

    public func begin(_ attack: Attack) throws {
        try database.write { db in try attack.insert(db) }
    }

    /// One statement, not a fetch and a whole-record write: an attack's
    /// state changes two or three times per injection and per recovery, and
    /// decoding and encoding every column each time was a fifth of a handed-
    /// over attack's time in the agent. An unknown uid changes nothing.
    public func update(_ uid: String, state: State, message: String? = nil, endsAt: Date? = nil) throws {
        try database.write { db in
            try db.execute(sql: """
                UPDATE attack SET state = ?, message = COALESCE(?, message), endsAt = COALESCE(?, endsAt), updatedAt = ?
                WHERE uid = ?
                """, arguments: [state.rawValue, message, endsAt, Date(), uid])
        }
    }

    /// Replaces the fault journaled for `uid` (JSON, as its injector
    /// encodes it) once the running fault has been changed in place, so
    /// that restoring it after a loss applies what now runs, not what ran
    /// first. Throws when the journal has no such attack.
    public func replaceFault(of uid: String, with fault: String) throws {
        try database.write { db in
            guard var attack = try Attack.fetchOne(db, key: uid) else {
                throw FaultError(.invalidFault, "no attack \(uid) in the journal")
            }
            attack.fault = fault
            attack.updatedAt = Date()
            try attack.update(db)
        }
    }

    public func attack(_ uid: String) throws -> Attack? {
        try database.read { db in try Attack.fetchOne(db, key: uid) }
    }

    /// Attacks whose uid starts with `prefix` (users type short ids).
    public func attacks(matching prefix: String) throws -> [Attack] {
        try database.read { db in
            try Attack.fetchAll(db, sql: "SELECT * FROM attack WHERE uid LIKE ? ORDER BY createdAt",
                                arguments: [prefix.replacingOccurrences(of: "%", with: "") + "%"])
        }
    }

    public func attacks() throws -> [Attack] {
        try database.read { db in try Attack.fetchAll(db, sql: "SELECT * FROM attack ORDER BY createdAt") }
    }

    public func steps(of uid: String) throws -> [Step] {
        try database.read { db in
            try Step.fetchAll(db, sql: "SELECT * FROM step WHERE attack = ? ORDER BY sequence", arguments: [uid])
        }
    }

    /// Removes attack `uid` if it recorded no step, that is, if it never
    /// began a change on the host (steps are written before each change);
    /// returns whether it was removed.
    @discardableResult
    public func forgetUntouched(_ uid: String) throws -> Bool {
        try database.write { db in
            try db.execute(sql: "DELETE FROM attack WHERE uid = ? AND NOT EXISTS (SELECT 1 FROM step WHERE attack = ?)",
                           arguments: [uid, uid])
            return db.changesCount > 0
        }
    }

    /// Removes attack `uid` once it is over (recovered or failed), so that
    /// a caller's id can name a new attack (chaosd's callers reuse theirs).
    public func forgetFinished(_ uid: String) throws {
        try database.write { db in
            try db.execute(sql: "DELETE FROM attack WHERE uid = ? AND state IN ('recovered', 'failed')", arguments: [uid])
        }
    }

    /// Forgets `uid`'s steps once they are undone, before the fault is
    /// applied again under the same uid (restoring a lost fault): the new
    /// steps then describe exactly what is on the host.
    public func removeSteps(of uid: String) throws {
        try database.write { db in
            try db.execute(sql: "DELETE FROM step WHERE attack = ?", arguments: [uid])
        }
    }

    /// A `ChangeRecorder` that writes `uid`'s steps into this journal.
    public func recorder(for uid: String) -> ChangeRecorder {
        StepRecorder(journal: self, attack: uid)
    }

    func recordStep(attack: String, summary: String, undo: Data) throws -> Int {
        try database.write { db in
            let next = try Int.fetchOne(db, sql: "SELECT COALESCE(MAX(sequence), 0) + 1 FROM step WHERE attack = ?",
                                        arguments: [attack]) ?? 1
            try Step(attack: attack, sequence: next, summary: summary, undo: undo, applied: false).insert(db)
            return next
        }
    }

    func confirmStep(attack: String, sequence: Int, undo: Data?) throws {
        try database.write { db in
            if let undo {
                try db.execute(sql: "UPDATE step SET applied = 1, undo = ? WHERE attack = ? AND sequence = ?",
                               arguments: [undo, attack, sequence])
            } else {
                try db.execute(sql: "UPDATE step SET applied = 1 WHERE attack = ? AND sequence = ?",
                               arguments: [attack, sequence])
            }
        }
    }
}

/// Records an attack's steps in the journal, each committed before the
/// change it describes is made.
final class StepRecorder: ChangeRecorder {
    let journal: Journal
    let attack: String

    init(journal: Journal, attack: String) {
        self.journal = journal
        self.attack = attack
    }

    func willApply(_ summary: String, undo: Data) throws -> Int {
        try journal.recordStep(attack: attack, summary: summary, undo: undo)
    }

    func didApply(_ sequence: Int, undo: Data?) throws {
        try journal.confirmStep(attack: attack, sequence: sequence, undo: undo)
    }
}
