import Foundation
import GRDB
import TumultModel

/// The server's store: SQLite under `$TUMULT_HOME` (`tumult.sqlite`), in WAL
/// mode so that the dashboard reads while the controller writes. Records are
/// kept as JSON: the document and its status change shape with Chaos Mesh,
/// the columns beside them are what the API filters on.
public final class SQLiteExperimentStore: ExperimentStore {
    public let path: String
    private let database: DatabasePool
    private let encoder = JSONEncoder()
    private let decoder = JSONDecoder()

    public init(directory: URL) throws {
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true,
                                                attributes: [.posixPermissions: 0o700])
        path = directory.appendingPathComponent("tumult.sqlite").path
        var configuration = Configuration()
        configuration.busyMode = .timeout(10)
        database = try DatabasePool(path: path, configuration: configuration)
        var migrator = DatabaseMigrator()
        migrator.registerMigration("v1") { db in
            try db.create(table: "experiment") { table in
                table.primaryKey("uid", .text)
                table.column("namespace", .text).notNull()
                table.column("name", .text).notNull()
                table.column("kind", .text).notNull()
                table.column("record", .blob).notNull()
            }
            try db.create(table: "schedule") { table in
                table.primaryKey("uid", .text)
                table.column("namespace", .text).notNull()
                table.column("name", .text).notNull()
                table.column("record", .blob).notNull()
            }
            try db.create(table: "event") { table in
                table.autoIncrementedPrimaryKey("id")
                table.column("objectID", .text).notNull().indexed()
                table.column("namespace", .text).notNull()
                table.column("name", .text).notNull()
                table.column("kind", .text).notNull()
                table.column("type", .text).notNull()
                table.column("reason", .text).notNull()
                table.column("message", .text).notNull()
                table.column("createdAt", .datetime).notNull()
            }
            try db.create(table: "archive") { table in
                table.primaryKey("uid", .text)
                table.column("namespace", .text).notNull()
                table.column("name", .text).notNull()
                table.column("kind", .text).notNull()
                table.column("finishTime", .datetime).notNull()
                table.column("record", .blob).notNull()
            }
            try db.create(table: "setting") { table in
                table.primaryKey("key", .text)
                table.column("value", .text).notNull()
            }
        }
        // Workflows and status checks: the engine's state and the check's
        // history, kept whole as JSON like experiments.
        migrator.registerMigration("v2") { db in
            for name in ["workflow", "statuscheck"] {
                try db.create(table: name) { table in
                    table.primaryKey("uid", .text)
                    table.column("namespace", .text).notNull()
                    table.column("name", .text).notNull()
                    table.column("record", .blob).notNull()
                }
            }
        }
        try migrator.migrate(database)
    }

    public func loadExperiments() throws -> [ExperimentRecord] {
        try database.read { db in
            try Data.fetchAll(db, sql: "SELECT record FROM experiment").map { try decoder.decode(ExperimentRecord.self, from: $0) }
        }
    }

    public func loadSchedules() throws -> [ScheduleRecord] {
        try database.read { db in
            try Data.fetchAll(db, sql: "SELECT record FROM schedule").map { try decoder.decode(ScheduleRecord.self, from: $0) }
        }
    }

    public func loadWorkflows() throws -> [WorkflowRecord] {
        try database.read { db in
            try Data.fetchAll(db, sql: "SELECT record FROM workflow").map { try decoder.decode(WorkflowRecord.self, from: $0) }
        }
    }

    public func loadStatusChecks() throws -> [StatusCheckRecord] {
        try database.read { db in
            try Data.fetchAll(db, sql: "SELECT record FROM statuscheck").map { try decoder.decode(StatusCheckRecord.self, from: $0) }
        }
    }

    public func isHalted() throws -> Bool {
        try database.read { db in
            try String.fetchOne(db, sql: "SELECT value FROM setting WHERE key = 'halted'") == "true"
        }
    }

    public func write(_ batch: StoreBatch) throws {
        guard !batch.isEmpty else { return }
        // Encode outside the write lock; but experiments one at a time
        // inside it: a first pass writes every record (10,000 experiments,
        // 62,000 targets each with its pod), 30 MB of JSON held at once if
        // encoded up front. The controller is this store's only writer, so
        // the lock held longer keeps nobody waiting (readers do not take it).
        let encoder = self.encoder
        let schedules = try batch.schedules.map { ($0, try encoder.encode($0)) }
        let archives = try batch.archives.map { ($0, try encoder.encode($0)) }
        let workflows = try batch.workflows.map { ($0.uid, $0.namespace, $0.name, try encoder.encode($0)) }
        let statusChecks = try batch.statusChecks.map { ($0.uid, $0.namespace, $0.name, try encoder.encode($0)) }
        try database.write { db in
            for record in batch.experiments {
                let data = try encoder.encode(record)
                try db.execute(sql: "INSERT OR REPLACE INTO experiment (uid, namespace, name, kind, record) VALUES (?, ?, ?, ?, ?)",
                               arguments: [record.uid, record.namespace, record.name, record.kind.rawValue, data])
            }
            for (record, data) in schedules {
                try db.execute(sql: "INSERT OR REPLACE INTO schedule (uid, namespace, name, record) VALUES (?, ?, ?, ?)",
                               arguments: [record.uid, record.namespace, record.name, data])
            }
            for (table, rows) in [("workflow", workflows), ("statuscheck", statusChecks)] {
                for (uid, namespace, name, data) in rows {
                    try db.execute(sql: "INSERT OR REPLACE INTO \(table) (uid, namespace, name, record) VALUES (?, ?, ?, ?)",
                                   arguments: [uid, namespace, name, data])
                }
            }
            for (table, uids) in [("workflow", batch.removedWorkflows), ("statuscheck", batch.removedStatusChecks)] {
                for uid in uids { try db.execute(sql: "DELETE FROM \(table) WHERE uid = ?", arguments: [uid]) }
            }
            for uid in batch.removedExperiments {
                try db.execute(sql: "DELETE FROM experiment WHERE uid = ?", arguments: [uid])
            }
            for uid in batch.removedSchedules {
                try db.execute(sql: "DELETE FROM schedule WHERE uid = ?", arguments: [uid])
            }
            for (archive, data) in archives {
                try db.execute(sql: "INSERT OR REPLACE INTO archive (uid, namespace, name, kind, finishTime, record) VALUES (?, ?, ?, ?, ?, ?)",
                               arguments: [archive.uid, archive.namespace, archive.name, archive.kind, archive.finishTime, data])
            }
            for event in batch.events {
                try db.execute(sql: """
                    INSERT INTO event (objectID, namespace, name, kind, type, reason, message, createdAt)
                    VALUES (?, ?, ?, ?, ?, ?, ?, ?)
                    """, arguments: [event.objectID, event.namespace, event.name, event.kind, event.type.rawValue,
                                     event.reason, event.message, event.createdAt])
            }
            if let halted = batch.halted {
                try db.execute(sql: "INSERT OR REPLACE INTO setting (key, value) VALUES ('halted', ?)",
                               arguments: [halted ? "true" : "false"])
            }
        }
    }

    public func events(_ filter: EventFilter) throws -> [EventRecord] {
        var clauses: [String] = []
        var arguments: [(any DatabaseValueConvertible)?] = []
        for (column, value) in [("namespace", filter.namespace), ("name", filter.name), ("objectID", filter.objectID),
                                ("kind", filter.kind)] {
            if let value {
                clauses.append("\(column) = ?")
                arguments.append(value)
            }
        }
        if let since = filter.since {
            clauses.append("createdAt >= ?")
            arguments.append(since)
        }
        var sql = "SELECT * FROM event"
        if !clauses.isEmpty { sql += " WHERE " + clauses.joined(separator: " AND ") }
        sql += " ORDER BY id DESC LIMIT \(max(1, filter.limit ?? 1000))"
        return try database.read { db in
            try Row.fetchAll(db, sql: sql, arguments: StatementArguments(arguments)).map { row in
                EventRecord(id: row["id"], objectID: row["objectID"], namespace: row["namespace"], name: row["name"],
                            kind: row["kind"], type: EventRecord.EventType(rawValue: row["type"]) ?? .normal,
                            reason: row["reason"], message: row["message"], createdAt: row["createdAt"])
            }
        }
    }

    public func archives() throws -> [ArchiveRecord] {
        try database.read { db in
            try Data.fetchAll(db, sql: "SELECT record FROM archive ORDER BY finishTime DESC").map {
                try decoder.decode(ArchiveRecord.self, from: $0)
            }
        }
    }

    public func archive(_ uid: String) throws -> ArchiveRecord? {
        try database.read { db in
            try Data.fetchOne(db, sql: "SELECT record FROM archive WHERE uid = ?", arguments: [uid]).map {
                try decoder.decode(ArchiveRecord.self, from: $0)
            }
        }
    }
}
