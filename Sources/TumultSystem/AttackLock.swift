import CTumultSystem
import Foundation

/// A lock per attack, shared by every process on the host that works on
/// the journal: recovering an attack (`tumult recover`, the server, a halt)
/// and restoring it after a loss (the liveness check) must never interleave,
/// or a restore could put back a fault a user has just recovered.
///
/// One byte of one file per attack (the uid hashed), locked with an
/// open-file-description lock: it excludes threads of one process as well
/// as other processes, and a process that dies releases it.
public struct AttackLock: Sendable {
    public let path: String

    public init(path: String) {
        self.path = path
    }

    /// Runs `body` holding the lock of `attack`. Without the lock file
    /// (a read-only home), `body` runs unlocked rather than not at all.
    public func withLock<T>(_ attack: String, _ body: () throws -> T) rethrows -> T {
        let descriptor = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o600)
        guard descriptor >= 0 else { return try body() }
        defer { close(descriptor) }
        let offset = Self.offset(of: attack)
        guard tumult_lock_byte(descriptor, offset, 1) == 0 else { return try body() }
        defer { _ = tumult_unlock_byte(descriptor, offset) }
        return try body()
    }

    /// FNV-1a of the uid, within 2^24: different attacks rarely share a byte,
    /// and when they do they merely wait for each other.
    static func offset(of attack: String) -> Int64 {
        var hash: UInt32 = 2_166_136_261
        for byte in attack.utf8 {
            hash ^= UInt32(byte)
            hash = hash &* 16_777_619
        }
        return Int64(hash & 0x00FF_FFFF)
    }
}
