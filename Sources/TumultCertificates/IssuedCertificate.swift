import Foundation
import X509

/// A certificate signed by the fleet CA and its new private key, both as PEM
/// ready for `CertificateDirectory.write(_:named:overwrite:)` or NIOSSL.
public struct IssuedCertificate: Sendable {
    public let role: CertificateRole
    public let certificate: Certificate
    public let certificatePEM: String
    /// PKCS#8 (`BEGIN PRIVATE KEY`), an ECDSA P-256 key.
    public let privateKeyPEM: String

    /// When it expires: the validity asked for, or the CA's expiry if that comes first.
    public var notValidAfter: Date { certificate.notValidAfter }
}
