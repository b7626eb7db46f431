import Foundation
import NIOSSL
import Testing
import TumultCertificates

@Suite struct FleetAuthorityTests {
    @Test func aLoadedAuthorityIssuesCertificatesTheOriginalCAVerifies() async throws {
        let original = try FleetAuthority.create()
        let loaded = try FleetAuthority(certificatePEM: original.certificatePEM, privateKeyPEM: original.privateKeyPEM)
        #expect(loaded.certificatePEM == original.certificatePEM)

        let daemon = try loaded.issue(.server, commonName: "127.0.0.1")
        let controller = try loaded.issue(.client, commonName: "controller")
        let exchange = try await TLSExchange.run(
            server: FleetTLS.server(authority: original, identity: daemon),
            client: FleetTLS.client(trusting: original, identity: controller))
        #expect(try exchange.reply.get() == "ping from the controller")
    }

    @Test func aKeyFromAnotherCAIsRefused() throws {
        let first = try FleetAuthority.create()
        let second = try FleetAuthority.create()
        let error = try #require(throws: FleetCertificateError.self) {
            try FleetAuthority(
                certificatePEM: first.certificatePEM, privateKeyPEM: second.privateKeyPEM,
                certificateSource: "/etc/tumult/ca.pem", keySource: "/etc/tumult/ca-key.pem")
        }
        #expect(error.code == .keyMismatch)
        #expect(error.message.contains("/etc/tumult/ca-key.pem"))
    }

    @Test func aCertificateThatIsNotACAIsRefused() throws {
        let daemon = try FleetAuthority.create().issue(.server, commonName: "db-1")
        let error = try #require(throws: FleetCertificateError.self) {
            try FleetAuthority(certificatePEM: daemon.certificatePEM, privateKeyPEM: daemon.privateKeyPEM)
        }
        #expect(error.code == .unusableAuthority)
    }

    @Test func garbageIsReportedAsTheFileItCameFrom() throws {
        let authority = try FleetAuthority.create()
        let certificateError = try #require(throws: FleetCertificateError.self) {
            try FleetAuthority(
                certificatePEM: "not a certificate", privateKeyPEM: authority.privateKeyPEM,
                certificateSource: "/tmp/x/ca.pem")
        }
        #expect(certificateError.code == .invalidCertificate)
        #expect(certificateError.description.contains("/tmp/x/ca.pem"))
        let keyError = try #require(throws: FleetCertificateError.self) {
            try FleetAuthority(
                certificatePEM: authority.certificatePEM, privateKeyPEM: authority.certificatePEM,
                keySource: "/tmp/x/ca-key.pem")
        }
        #expect(keyError.code == .invalidPrivateKey)
        #expect(keyError.description.contains("/tmp/x/ca-key.pem"))
    }

    @Test func validityStartsMinutesAgoAndEndsWithTheCAAtTheLatest() throws {
        // Whole seconds: certificates keep no fractions.
        let now = Date(timeIntervalSince1970: Date().timeIntervalSince1970.rounded(.down))
        let authority = try FleetAuthority.create(validity: 10 * 86_400, now: now)
        let issued = try authority.issue(.server, commonName: "db-1", validity: 730 * 86_400, now: now)

        let ca = try FleetTLS.authorityCertificate(authority)
        let leaf = try NIOSSLCertificate(bytes: Array(issued.certificatePEM.utf8), format: .pem)
        let start = Int(now.timeIntervalSince1970)
        #expect((start - 600...start - 60).contains(ca.notValidBefore))
        #expect((start - 600...start - 60).contains(leaf.notValidBefore))
        #expect(ca.notValidAfter == start + 10 * 86_400)
        #expect(leaf.notValidAfter == ca.notValidAfter)

        let short = try authority.issue(.client, commonName: "controller", validity: 86_400, now: now)
        #expect(try NIOSSLCertificate(bytes: Array(short.certificatePEM.utf8), format: .pem).notValidAfter == start + 86_400)
    }

    @Test func anExpiredCAIssuesNothing() throws {
        let then = Date(timeIntervalSinceNow: -20 * 365 * 86_400)
        let authority = try FleetAuthority.create(validity: 10 * 365 * 86_400, now: then)
        let error = try #require(throws: FleetCertificateError.self) {
            try authority.issue(.server, commonName: "db-1")
        }
        #expect(error.code == .unusableAuthority)
    }

    @Test func serialNumbersAreRandom() throws {
        let authority = try FleetAuthority.create()
        let serials = try (0..<8).map { _ in
            try NIOSSLCertificate(
                bytes: Array(authority.issue(.client, commonName: "controller").certificatePEM.utf8), format: .pem
            ).serialNumber
        }
        #expect(Set(serials).count == serials.count)
        #expect(serials.allSatisfy { $0.count >= 16 })
    }

    @Test func namesThatCannotGoIntoACertificateAreRefused() throws {
        let authority = try FleetAuthority.create()
        // A client's name is its DNS SAN.
        #expect(throws: FleetCertificateError.self) { try authority.issue(.client, commonName: "controller one") }
        // A server with no SANs given and a name that is neither a DNS name nor an address.
        #expect(throws: FleetCertificateError.self) { try authority.issue(.server, commonName: "db one") }
        #expect(throws: FleetCertificateError.self) {
            try authority.issue(.server, commonName: "db-1", dnsNames: ["db..fleet"])
        }
        #expect(throws: FleetCertificateError.self) { try authority.issue(.server, commonName: "") }
        #expect(throws: FleetCertificateError.self) {
            try authority.issue(.server, commonName: String(repeating: "a", count: 65))
        }
        #expect(throws: FleetCertificateError.self) { try authority.issue(.server, commonName: "db-1", validity: 0) }
        #expect(throws: FleetCertificateError.self) { try FleetAuthority.create(commonName: "") }
    }

    @Test(arguments: ["db-1", "db-1.fleet.example", "*.fleet.example", "under_score", "localhost", "10.0.0.5"])
    func validDNSNames(name: String) throws {
        try FleetAuthority.validateDNSName(name)
    }

    @Test(arguments: ["", "db..fleet", "-db", "db-", "db one", "::1", "*", "db.*.example", "db/1",
                      String(repeating: "a", count: 64)])
    func invalidDNSNames(name: String) {
        #expect(throws: FleetCertificateError.self) { try FleetAuthority.validateDNSName(name) }
    }

    @Test func ipAddressesParseToTheirBytesAndPrintCanonically() {
        #expect(IPAddress("127.0.0.1")?.bytes == [127, 0, 0, 1])
        #expect(IPAddress("::1")?.bytes == Array(repeating: 0, count: 15) + [1])
        #expect(IPAddress("FD00:0:0::5")?.description == "fd00::5")
        #expect(IPAddress("10.0.0.5")?.description == "10.0.0.5")
        for text in ["localhost", "1.2.3", "256.0.0.1", "fe80::1%eth0", "", " 10.0.0.5"] {
            #expect(IPAddress(text) == nil, "\(text)")
        }
    }
}
