import Foundation

/// The userspace engine's packet counters, as `tumult-netem --stats-file`
/// writes them (JSON, replaced atomically once a second, on SIGUSR1 and at
/// exit). One file per attack, named after it, so that a metrics scrape can
/// read an engine's counters without signalling it.
public struct EngineStatistics: Codable, Sendable, Hashable {
    /// Packets the kernel handed to the engine (queued to it).
    public var received: UInt64
    /// Packets let through, at once or when due.
    public var accepted: UInt64
    /// Packets dropped by the loss probability (or not re-sendable).
    public var dropped: UInt64
    /// Duplicates sent.
    public var duplicated: UInt64
    /// Packets with a bit flipped.
    public var corrupted: UInt64
    /// Packets sent ahead of the delayed ones.
    public var reordered: UInt64
    /// Packets dropped because `limit` packets were already held.
    public var overlimit: UInt64
    /// Packets held for a delay instead of passing at once (0 from engines
    /// built before the counter existed).
    public var delayed: UInt64
    /// Packets held at the moment of writing.
    public var held: UInt64

    public init(received: UInt64 = 0, accepted: UInt64 = 0, dropped: UInt64 = 0, duplicated: UInt64 = 0,
                corrupted: UInt64 = 0, reordered: UInt64 = 0, overlimit: UInt64 = 0, delayed: UInt64 = 0,
                held: UInt64 = 0) {
        self.received = received
        self.accepted = accepted
        self.dropped = dropped
        self.duplicated = duplicated
        self.corrupted = corrupted
        self.reordered = reordered
        self.overlimit = overlimit
        self.delayed = delayed
        self.held = held
    }

    public init(from decoder: Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        func count(_ key: CodingKeys) throws -> UInt64 { try container.decodeIfPresent(UInt64.self, forKey: key) ?? 0 }
        self.init(received: try count(.received), accepted: try count(.accepted), dropped: try count(.dropped),
                  duplicated: try count(.duplicated), corrupted: try count(.corrupted), reordered: try count(.reordered),
                  overlimit: try count(.overlimit), delayed: try count(.delayed), held: try count(.held))
    }

    /// Where engines write their files: `$TUMULT_RUNTIME_DIR/netem`, else
    /// `/run/tumult/netem` for root (a tmpfs: nothing outlives a reboot),
    /// else a directory of the user's under the temporary directory.
    public static func defaultDirectory() -> String {
        if let runtime = ProcessInfo.processInfo.environment["TUMULT_RUNTIME_DIR"], !runtime.isEmpty {
            return runtime + "/netem"
        }
        if getuid() == 0 { return "/run/tumult/netem" }
        return FileManager.default.temporaryDirectory.appendingPathComponent("tumult-\(getuid())/netem").path
    }

    /// The file of one attack's engine in `directory`. Only the attack id's
    /// letters, digits and dashes are kept, so it names nothing outside.
    public static func path(forAttack attack: String, in directory: String) -> String {
        let safe = String(attack.unicodeScalars.filter { $0.isASCII && (CharacterSet.alphanumerics.contains($0) || $0 == "-") }.prefix(64))
        return directory + "/" + (safe.isEmpty ? "attack" : safe) + ".json"
    }

    /// The counters an engine last wrote, or nil when there is no readable file.
    public static func read(attack: String, in directory: String) -> EngineStatistics? {
        guard let data = FileManager.default.contents(atPath: path(forAttack: attack, in: directory)) else { return nil }
        return try? JSONDecoder().decode(EngineStatistics.self, from: data)
    }
}
