import Foundation
import Testing
import TumultCertificates

@Suite struct CertificateDirectoryTests {
    /// A fresh directory under the system's temporary directory; the caller removes it.
    static func scratch() -> URL {
        FileManager.default.temporaryDirectory.appendingPathComponent("tumult-certs-\(UUID().uuidString)")
    }

    static func mode(_ url: URL) throws -> Int {
        try #require(FileManager.default.attributesOfItem(atPath: url.path)[.posixPermissions] as? Int)
    }

    @Test func keysAreWritten0600AndCertificates0644() throws {
        let root = Self.scratch()
        defer { try? FileManager.default.removeItem(at: root) }
        let directory = CertificateDirectory(root.appendingPathComponent("certs"))
        let authority = try FleetAuthority.create()

        let written = try directory.write(authority)
            + directory.write(try authority.issue(.server, commonName: "db-1"), named: "db-1")
        #expect(written.map(\.lastPathComponent) == ["ca.pem", "ca-key.pem", "db-1.pem", "db-1-key.pem"])
        #expect(try Self.mode(directory.authorityKeyURL) == 0o600)
        #expect(try Self.mode(directory.keyURL(named: "db-1")) == 0o600)
        #expect(try Self.mode(directory.authorityCertificateURL) == 0o644)
        #expect(try Self.mode(directory.certificateURL(named: "db-1")) == 0o644)
        #expect(try Self.mode(directory.url) == 0o700)
        #expect(try String(contentsOf: directory.authorityKeyURL, encoding: .utf8) == authority.privateKeyPEM)

        let loaded = try directory.loadAuthority()
        #expect(loaded.certificatePEM == authority.certificatePEM)
    }

    @Test func existingFilesAreKeptUnlessOverwriteIsAsked() throws {
        let root = Self.scratch()
        defer { try? FileManager.default.removeItem(at: root) }
        let directory = CertificateDirectory(root)
        let first = try FleetAuthority.create()
        try directory.write(first)

        let second = try FleetAuthority.create()
        let error = try #require(throws: FleetCertificateError.self) { try directory.write(second) }
        #expect(error.code == .fileExists)
        #expect(error.message.contains(directory.authorityKeyURL.path))
        #expect(try String(contentsOf: directory.authorityKeyURL, encoding: .utf8) == first.privateKeyPEM)

        try directory.write(second, overwrite: true)
        #expect(try String(contentsOf: directory.authorityKeyURL, encoding: .utf8) == second.privateKeyPEM)
        #expect(try String(contentsOf: directory.authorityCertificateURL, encoding: .utf8) == second.certificatePEM)
        #expect(try Self.mode(directory.authorityKeyURL) == 0o600)
        let leftovers = try FileManager.default.contentsOfDirectory(atPath: root.path).filter { $0.hasPrefix(".") }
        #expect(leftovers.isEmpty)
    }

    /// One existing file stops the whole set: no certificate is left without its key.
    @Test func oneExistingFileStopsTheWholeSet() throws {
        let root = Self.scratch()
        defer { try? FileManager.default.removeItem(at: root) }
        let directory = CertificateDirectory(root)
        let issued = try FleetAuthority.create().issue(.client, commonName: "controller")
        try FileManager.default.createDirectory(at: root, withIntermediateDirectories: true)
        try "kept".write(to: directory.keyURL(named: "controller"), atomically: false, encoding: .utf8)

        #expect(throws: FleetCertificateError.self) { try directory.write(issued, named: "controller") }
        #expect(!FileManager.default.fileExists(atPath: directory.certificateURL(named: "controller").path))
        #expect(try String(contentsOf: directory.keyURL(named: "controller"), encoding: .utf8) == "kept")
    }

    @Test func aMissingCANamesItsFileAndHowToMakeOne() throws {
        let directory = CertificateDirectory(Self.scratch())
        let error = try #require(throws: FleetCertificateError.self) { try directory.loadAuthority() }
        #expect(error.code == .unreadableFile)
        #expect(error.message.contains(directory.authorityCertificateURL.path))
        #expect(error.message.contains("tumult certs init"))
    }

    @Test func theDefaultDirectoryIsCertsUnderTumultHome() {
        #expect(CertificateDirectory.defaultDirectory(environment: ["TUMULT_HOME": "/srv/tumult"]).url.path
            == "/srv/tumult/certs")
        let fallback = CertificateDirectory.defaultDirectory(environment: [:]).url.path
        if getuid() == 0 {
            #expect(fallback == "/var/lib/tumult/certs")
        } else {
            #expect(fallback.hasSuffix("/.tumult/certs"))
        }
    }

    @Test(arguments: ["db-1", "controller", "10.0.0.5", "fd00::5", "db_1.fleet"])
    func validNames(name: String) throws {
        try CertificateDirectory.validateName(name)
    }

    @Test(arguments: ["", "ca", "../db", "db/1", ".db", "-db", "db 1", String(repeating: "a", count: 65)])
    func invalidNames(name: String) throws {
        #expect(throws: FleetCertificateError.self) { try CertificateDirectory.validateName(name) }
        let issued = try FleetAuthority.create().issue(.client, commonName: "controller")
        let root = Self.scratch()
        defer { try? FileManager.default.removeItem(at: root) }
        #expect(throws: FleetCertificateError.self) { try CertificateDirectory(root).write(issued, named: name) }
    }
}
