import Foundation
import NIOSSL

/// The PEM files of one end of the agent's mutual TLS: the fleet's CA,
/// this end's certificate (chain) and its private key (`tumult certs`
/// writes them). The server accepts only clients whose certificate the CA
/// signed; the client accepts only a server the CA signed.
public struct AgentTLS: Sendable, Hashable {
    public var caPath: String
    public var certificatePath: String
    public var privateKeyPath: String

    public init(ca caPath: String, certificate certificatePath: String, privateKey privateKeyPath: String) {
        self.caPath = caPath
        self.certificatePath = certificatePath
        self.privateKeyPath = privateKeyPath
    }

    /// For `tumult daemon`: presents the certificate and requires a client
    /// certificate the CA signed. Client names are not checked: any holder
    /// of a fleet certificate may call (Chaos Mesh's is
    /// `controller-manager.chaos-mesh.org`).
    public func serverConfiguration() throws -> TLSConfiguration {
        let (chain, key) = try identity()
        var configuration = TLSConfiguration.makeServerConfiguration(
            certificateChain: chain.map { .certificate($0) }, privateKey: .privateKey(key))
        configuration.minimumTLSVersion = .tlsv12
        configuration.certificateVerification = .noHostnameVerification
        configuration.trustRoots = .certificates(try authority())
        return configuration
    }

    /// For the controller: presents the certificate and accepts a server
    /// only when the CA signed its certificate and, unless
    /// `verifyHostname` is false, the certificate names the host dialled.
    public func clientConfiguration(verifyHostname: Bool = true) throws -> TLSConfiguration {
        let (chain, key) = try identity()
        var configuration = TLSConfiguration.makeClientConfiguration()
        configuration.minimumTLSVersion = .tlsv12
        configuration.certificateChain = chain.map { .certificate($0) }
        configuration.privateKey = .privateKey(key)
        configuration.trustRoots = .certificates(try authority())
        configuration.certificateVerification = verifyHostname ? .fullVerification : .noHostnameVerification
        return configuration
    }

    private func authority() throws -> [NIOSSLCertificate] {
        try Self.certificates(at: caPath, role: "CA certificate")
    }

    private func identity() throws -> ([NIOSSLCertificate], NIOSSLPrivateKey) {
        let chain = try Self.certificates(at: certificatePath, role: "certificate")
        let bytes = try Self.read(privateKeyPath, role: "private key")
        do {
            return (chain, try NIOSSLPrivateKey(bytes: bytes, format: .pem))
        } catch {
            throw AgentSetupError(.invalidFile, "the private key \(privateKeyPath) is not a PEM private key: \(error)", path: privateKeyPath)
        }
    }

    private static func certificates(at path: String, role: String) throws -> [NIOSSLCertificate] {
        let bytes = try read(path, role: role)
        let certificates: [NIOSSLCertificate]
        do {
            certificates = try NIOSSLCertificate.fromPEMBytes(bytes)
        } catch {
            throw AgentSetupError(.invalidFile, "the \(role) \(path) is not a PEM certificate: \(error)", path: path)
        }
        guard !certificates.isEmpty else {
            throw AgentSetupError(.invalidFile, "the \(role) \(path) holds no PEM certificate", path: path)
        }
        return certificates
    }

    private static func read(_ path: String, role: String) throws -> [UInt8] {
        guard !path.isEmpty else {
            throw AgentSetupError(.unreadableFile, "no \(role) file given", path: path)
        }
        do {
            return Array(try Data(contentsOf: URL(fileURLWithPath: path)))
        } catch {
            guard FileManager.default.fileExists(atPath: path) else {
                throw AgentSetupError(.unreadableFile, "cannot read the \(role) \(path): it does not exist", path: path)
            }
            let reason = (error as NSError).localizedDescription
            throw AgentSetupError(.unreadableFile, "cannot read the \(role) \(path): \(reason)", path: path)
        }
    }
}
