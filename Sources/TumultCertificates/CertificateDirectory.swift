import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// The directory `tumult certs` keeps a fleet's files in: `ca.pem` and
/// `ca-key.pem` for the CA, `NAME.pem` and `NAME-key.pem` per certificate.
/// Keys are written 0600 and certificates 0644; nothing is overwritten unless asked.
public struct CertificateDirectory: Sendable {
    public let url: URL

    public init(_ url: URL) {
        self.url = url
    }

    /// `$TUMULT_HOME/certs`; without TUMULT_HOME, `/var/lib/tumult/certs` for
    /// root and `~/.tumult/certs` for others (where the daemon keeps its journal).
    public static func defaultDirectory(
        environment: [String: String] = ProcessInfo.processInfo.environment
    ) -> CertificateDirectory {
        let home: URL
        if let configured = environment["TUMULT_HOME"], !configured.isEmpty {
            home = URL(fileURLWithPath: configured)
        } else if getuid() == 0 {
            home = URL(fileURLWithPath: "/var/lib/tumult")
        } else {
            home = FileManager.default.homeDirectoryForCurrentUser.appendingPathComponent(".tumult")
        }
        return CertificateDirectory(home.appendingPathComponent("certs"))
    }

    public var authorityCertificateURL: URL { url.appendingPathComponent("ca.pem") }
    public var authorityKeyURL: URL { url.appendingPathComponent("ca-key.pem") }

    public func certificateURL(named name: String) -> URL { url.appendingPathComponent("\(name).pem") }
    public func keyURL(named name: String) -> URL { url.appendingPathComponent("\(name)-key.pem") }

    /// Throws unless `name` makes safe file names next to the CA's: letters,
    /// digits, `.`, `_`, `-` and `:` (for IPv6), at most 64, not starting with
    /// `.` or `-`, and not `ca` (whose files are the CA's).
    public static func validateName(_ name: String) throws {
        let allowed = Set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-:")
        guard !name.isEmpty, name.count <= 64, name.allSatisfy(allowed.contains),
              name.first != ".", name.first != "-"
        else {
            throw FleetCertificateError(
                .invalidName,
                "\"\(name)\" cannot name a certificate: use 1 to 64 letters, digits, '.', '_', '-' or ':', not starting with '.' or '-'")
        }
        guard name != "ca" else {
            throw FleetCertificateError(.invalidName, "\"ca\" names the fleet CA's own files; choose another name")
        }
    }

    /// Reads `ca.pem` and `ca-key.pem`.
    public func loadAuthority() throws -> FleetAuthority {
        try FleetAuthority(
            certificatePEM: read(authorityCertificateURL, what: "the fleet CA certificate"),
            privateKeyPEM: read(authorityKeyURL, what: "the fleet CA key"),
            certificateSource: authorityCertificateURL.path,
            keySource: authorityKeyURL.path)
    }

    /// Writes `ca.pem` and `ca-key.pem`; returns the paths written.
    @discardableResult
    public func write(_ authority: FleetAuthority, overwrite: Bool = false) throws -> [URL] {
        try write([
            File(url: authorityCertificateURL, contents: authority.certificatePEM, mode: 0o644),
            File(url: authorityKeyURL, contents: authority.privateKeyPEM, mode: 0o600),
        ], overwrite: overwrite)
    }

    /// Writes `NAME.pem` and `NAME-key.pem`; returns the paths written.
    @discardableResult
    public func write(_ issued: IssuedCertificate, named name: String, overwrite: Bool = false) throws -> [URL] {
        try Self.validateName(name)
        return try write([
            File(url: certificateURL(named: name), contents: issued.certificatePEM, mode: 0o644),
            File(url: keyURL(named: name), contents: issued.privateKeyPEM, mode: 0o600),
        ], overwrite: overwrite)
    }

    struct File {
        var url: URL
        var contents: String
        var mode: mode_t
    }

    /// All or nothing as far as it can be: every existing file is reported
    /// before any is written, and a failure removes what this call created.
    /// Each file gets its mode when it is created, so a key is never readable
    /// by others, not even for a moment.
    func write(_ files: [File], overwrite: Bool) throws -> [URL] {
        if !overwrite {
            let existing = files.map(\.url.path).filter { FileManager.default.fileExists(atPath: $0) }
            guard existing.isEmpty else {
                throw FleetCertificateError(
                    .fileExists,
                    "\(existing.joined(separator: " and ")) already \(existing.count == 1 ? "exists" : "exist"); pass --force to replace")
            }
        }
        do {
            // 0700: the directory holds the CA's key.
            try FileManager.default.createDirectory(
                at: url, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        } catch {
            throw FleetCertificateError(
                .unwritableFile, "cannot create the directory \(url.path)", cause: POSIXFailure.underlying(error))
        }
        var written: [URL] = []
        do {
            for file in files {
                try overwrite ? replace(file) : create(file)
                written.append(file.url)
            }
        } catch {
            if !overwrite {
                for url in written { unlink(url.path) }
            }
            throw error
        }
        return written
    }

    /// O_EXCL: a file that appeared since the check above is not clobbered.
    private func create(_ file: File) throws {
        let descriptor = open(file.url.path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, file.mode)
        guard descriptor >= 0 else {
            let code = errno
            if code == EEXIST {
                throw FleetCertificateError(.fileExists, "\(file.url.path) already exists; pass --force to replace")
            }
            throw FleetCertificateError(.unwritableFile, "cannot create \(file.url.path)", cause: POSIXFailure(code))
        }
        do {
            try fill(descriptor, with: file)
        } catch {
            unlink(file.url.path)
            throw error
        }
    }

    /// A temporary file renamed over the old one: readers see the old or the new file, never half of one.
    private func replace(_ file: File) throws {
        let temporary = url.appendingPathComponent(".\(file.url.lastPathComponent).\(UUID().uuidString).tmp").path
        let descriptor = open(temporary, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, file.mode)
        guard descriptor >= 0 else {
            throw FleetCertificateError(.unwritableFile, "cannot write \(file.url.path)", cause: POSIXFailure(errno))
        }
        do {
            try fill(descriptor, with: file)
            guard rename(temporary, file.url.path) == 0 else {
                throw FleetCertificateError(.unwritableFile, "cannot replace \(file.url.path)", cause: POSIXFailure(errno))
            }
        } catch {
            unlink(temporary)
            throw error
        }
    }

    /// Writes, sets the exact mode (the umask may have taken bits off a
    /// certificate's 0644), syncs and closes.
    private func fill(_ descriptor: Int32, with file: File) throws {
        defer { close(descriptor) }
        var remaining = Array(file.contents.utf8)[...]
        while !remaining.isEmpty {
            let count = remaining.withUnsafeBytes { systemWrite(descriptor, $0) }
            if count < 0 {
                if errno == EINTR { continue }
                throw FleetCertificateError(.unwritableFile, "cannot write \(file.url.path)", cause: POSIXFailure(errno))
            }
            remaining = remaining.dropFirst(count)
        }
        guard fchmod(descriptor, file.mode) == 0, fsync(descriptor) == 0 else {
            throw FleetCertificateError(.unwritableFile, "cannot write \(file.url.path)", cause: POSIXFailure(errno))
        }
    }

    private func read(_ url: URL, what: String) throws -> String {
        do {
            return try String(contentsOf: url, encoding: .utf8)
        } catch {
            guard FileManager.default.fileExists(atPath: url.path) else {
                throw FleetCertificateError(
                    .unreadableFile,
                    "cannot read \(what) \(url.path): it does not exist; create the CA with `tumult certs init`, or pass --dir")
            }
            throw FleetCertificateError(
                .unreadableFile, "cannot read \(what) \(url.path)", cause: POSIXFailure.underlying(error))
        }
    }
}

/// `write(2)`, out of reach by its name inside a type with `write` methods.
private func systemWrite(_ descriptor: Int32, _ bytes: UnsafeRawBufferPointer) -> Int {
    write(descriptor, bytes.baseAddress, bytes.count)
}

/// An errno, printed as strerror says it.
struct POSIXFailure: Error, CustomStringConvertible {
    let code: Int32
    init(_ code: Int32) { self.code = code }
    var description: String { String(cString: strerror(code)) }

    /// The errno inside a Foundation file error, whose own description is a
    /// page of NSError user info; other errors pass through.
    static func underlying(_ error: any Error) -> any Error {
        let cocoa = error as NSError
        let inner = (cocoa.userInfo[NSUnderlyingErrorKey] as? any Error).map { $0 as NSError }
        let posix = cocoa.domain == NSPOSIXErrorDomain ? cocoa : inner
        guard let posix, posix.domain == NSPOSIXErrorDomain else { return error }
        return POSIXFailure(Int32(posix.code))
    }
}
