import NIOCore
import NIOSSL
import Testing
import TumultCertificates

/// Real handshakes between a NIO server and client on 127.0.0.1 with the
/// PEM this module writes, loaded by NIOSSL as the daemon and controller will.
@Suite struct MutualTLSTests {
    let authority: FleetAuthority
    let daemon: IssuedCertificate
    let controller: IssuedCertificate

    init() throws {
        authority = try FleetAuthority.create(commonName: "Test fleet CA")
        daemon = try authority.issue(.server, commonName: "127.0.0.1")
        controller = try authority.issue(.client, commonName: "controller-1")
    }

    @Test(arguments: [TLSVersion.tlsv12, .tlsv13])
    func mutualTLSSucceedsAndTheServerSeesTheClientCertificate(version: TLSVersion) async throws {
        let exchange = try await TLSExchange.run(
            server: FleetTLS.server(authority: authority, identity: daemon, version: version),
            client: FleetTLS.client(trusting: authority, identity: controller, version: version),
            message: "inject")

        #expect(try exchange.reply.get() == "inject")
        let seen = try #require(try exchange.serverSawClient.get())
        let presented = try NIOSSLCertificate(bytes: Array(controller.certificatePEM.utf8), format: .pem)
        #expect(seen == presented)
        #expect(seen.description.contains("common_name=controller-1"))
    }

    @Test(arguments: [TLSVersion.tlsv12, .tlsv13])
    func aClientCertificateFromAnotherCAIsRefused(version: TLSVersion) async throws {
        let stranger = try FleetAuthority.create(commonName: "Another fleet CA")
        let intruder = try stranger.issue(.client, commonName: "controller-1")
        let exchange = try await TLSExchange.run(
            server: FleetTLS.server(authority: authority, identity: daemon, version: version),
            client: FleetTLS.client(trusting: authority, identity: intruder, version: version))

        #expect(exchange.serverFailure?.contains("CERTIFICATE_VERIFY_FAILED") == true, "\(exchange)")
        #expect(exchange.clientFailure?.contains("UNKNOWN_CA") == true, "\(exchange)")
    }

    @Test(arguments: [TLSVersion.tlsv12, .tlsv13])
    func aClientWithoutACertificateIsRefused(version: TLSVersion) async throws {
        let exchange = try await TLSExchange.run(
            server: FleetTLS.server(authority: authority, identity: daemon, version: version),
            client: FleetTLS.client(trusting: authority, identity: nil, version: version))

        #expect(exchange.serverFailure?.contains("PEER_DID_NOT_RETURN_A_CERTIFICATE") == true, "\(exchange)")
        #expect(exchange.clientFailure != nil, "\(exchange)")
    }

    /// A daemon's certificate (serverAuth only) cannot command another daemon.
    @Test func aServerCertificatePresentedAsAClientCertificateIsRefused() async throws {
        let otherDaemon = try authority.issue(.server, commonName: "db-2", ipAddresses: [IPAddress("127.0.0.2")!])
        let exchange = try await TLSExchange.run(
            server: FleetTLS.server(authority: authority, identity: daemon),
            client: FleetTLS.client(trusting: authority, identity: otherDaemon))

        // BoringSSL checks the client's extended key usage (X509_V_ERR_INVALID_PURPOSE).
        #expect(exchange.serverFailure?.contains("CERTIFICATE_VERIFY_FAILED") == true, "\(exchange)")
        #expect(exchange.clientFailure?.contains("UNSUPPORTED_CERTIFICATE") == true, "\(exchange)")
    }

    /// Dialled by IP (no serverHostname), the daemon's certificate must carry
    /// that IP; dialled by name (SNI), the name.
    @Test func theClientChecksTheDaemonsNames() async throws {
        let named = try authority.issue(.server, commonName: "db-1", dnsNames: ["db-1.fleet.test"])

        let byAddress = try await TLSExchange.run(
            server: FleetTLS.server(authority: authority, identity: named),
            client: FleetTLS.client(trusting: authority, identity: controller))
        #expect(byAddress.clientFailure?.contains("failedToValidateHostname") == true, "\(byAddress)")

        let byName = try await TLSExchange.run(
            server: FleetTLS.server(authority: authority, identity: named),
            client: FleetTLS.client(trusting: authority, identity: controller),
            serverHostname: "db-1.fleet.test")
        #expect(try byName.reply.get() == "ping from the controller")
    }

    @Test func aDaemonCertificateWithIPv6And4AddressesServes127001() async throws {
        let dualStack = try authority.issue(
            .server, commonName: "db-3", dnsNames: ["db-3"], ipAddresses: [IPAddress("::1")!, IPAddress("127.0.0.1")!])
        let exchange = try await TLSExchange.run(
            server: FleetTLS.server(authority: authority, identity: dualStack),
            client: FleetTLS.client(trusting: authority, identity: controller))
        #expect(try exchange.reply.get() == "ping from the controller")
    }
}
