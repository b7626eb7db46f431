import Foundation
import Testing
import TumultCertificates

/// What OpenSSL, the verifier most other tools share, thinks of the files.
@Suite(.enabled(if: OpenSSL.path != nil, "openssl is not installed"))
struct OpenSSLTests {
    @Test func opensslVerifiesTheChainsAndShowsTheExtensions() throws {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("tumult-certs-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: root) }
        let directory = CertificateDirectory(root)
        let authority = try FleetAuthority.create(commonName: "Test fleet CA")
        try directory.write(authority)
        try directory.write(
            authority.issue(.server, commonName: "db-1", dnsNames: ["db-1", "db-1.fleet.test"],
                            ipAddresses: [IPAddress("127.0.0.1")!, IPAddress("fd00::5")!]),
            named: "db-1")
        try directory.write(authority.issue(.client, commonName: "controller-1"), named: "controller-1")
        let ca = directory.authorityCertificateURL.path
        let server = directory.certificateURL(named: "db-1").path
        let client = directory.certificateURL(named: "controller-1").path

        #expect(try OpenSSL.run(["verify", "-CAfile", ca, server]).contains("OK"))
        #expect(try OpenSSL.run(["verify", "-CAfile", ca, "-purpose", "sslserver", server]).contains("OK"))
        #expect(try OpenSSL.run(["verify", "-CAfile", ca, "-purpose", "sslclient", client]).contains("OK"))
        #expect(throws: OpenSSL.Failure.self) { try OpenSSL.run(["verify", "-CAfile", ca, "-purpose", "sslclient", server]) }

        let serverText = try OpenSSL.run(["x509", "-in", server, "-noout", "-text"])
        #expect(serverText.contains("DNS:db-1, DNS:db-1.fleet.test, IP Address:127.0.0.1, IP Address:FD00:0:0:0:0:0:0:5"))
        #expect(serverText.contains("TLS Web Server Authentication"))
        #expect(serverText.contains("Digital Signature"))
        #expect(serverText.contains("CA:FALSE"))
        #expect(serverText.contains("X509v3 Authority Key Identifier"))
        #expect(serverText.contains("Subject: CN = db-1"))
        #expect(serverText.contains("ASN1 OID: prime256v1"))

        let clientText = try OpenSSL.run(["x509", "-in", client, "-noout", "-text"])
        #expect(clientText.contains("Subject: CN = controller-1"))
        #expect(clientText.contains("DNS:controller-1"))
        #expect(clientText.contains("TLS Web Client Authentication"))
        #expect(!clientText.contains("TLS Web Server Authentication"))

        let caText = try OpenSSL.run(["x509", "-in", ca, "-noout", "-text"])
        #expect(caText.contains("X509v3 Basic Constraints: critical"))
        #expect(caText.contains("CA:TRUE"))
        #expect(caText.contains("Certificate Sign, CRL Sign"))
        #expect(caText.contains("X509v3 Subject Key Identifier"))
        #expect(caText.contains("Subject: CN = Test fleet CA"))

        let key = try OpenSSL.run(["pkey", "-in", directory.keyURL(named: "db-1").path, "-noout", "-text"])
        #expect(key.contains("prime256v1"))
    }
}

enum OpenSSL {
    struct Failure: Error, CustomStringConvertible {
        var arguments: [String]
        var output: String
        var description: String { "openssl \(arguments.joined(separator: " ")): \(output)" }
    }

    static let path: String? = (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin")
        .split(separator: ":")
        .map { "\($0)/openssl" }
        .first { FileManager.default.isExecutableFile(atPath: $0) }

    /// Runs openssl and returns stdout and stderr together; throws on a non-zero exit.
    static func run(_ arguments: [String]) throws -> String {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: try #require(path))
        process.arguments = arguments
        let output = Pipe()
        process.standardOutput = output
        process.standardError = output
        try process.run()
        let data = output.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        let text = String(decoding: data, as: UTF8.self)
        guard process.terminationStatus == 0 else { throw Failure(arguments: arguments, output: text) }
        return text
    }
}
