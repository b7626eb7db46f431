import Crypto
import Foundation
import SwiftASN1
import X509

/// The fleet's certificate authority: every daemon and controller trusts
/// exactly this CA and nothing else, so issuing a certificate is what admits a
/// host or a controller to the fleet.
public struct FleetAuthority: Sendable {
    /// Ten years: the CA is made once and its expiry takes the whole fleet down.
    public static let defaultAuthorityValidity: TimeInterval = 3650 * 86_400
    /// Two years for daemons and controllers; reissuing one is a single command.
    public static let defaultCertificateValidity: TimeInterval = 730 * 86_400
    public static let defaultCommonName = "Tumult fleet CA"
    /// Certificates start this far in the past so that hosts whose clocks lag
    /// a little accept them at once.
    static let backdating: TimeInterval = 5 * 60

    public let certificate: Certificate
    public let certificatePEM: String
    /// The CA's key as PEM; a created CA's key is PKCS#8 ECDSA P-256.
    public let privateKeyPEM: String
    let signingKey: Certificate.PrivateKey
    /// What issued certificates name in their authorityKeyIdentifier.
    let keyIdentifier: ArraySlice<UInt8>

    /// Makes a new self-signed CA with a fresh P-256 key.
    public static func create(
        commonName: String = defaultCommonName,
        validity: TimeInterval = defaultAuthorityValidity,
        now: Date = Date()
    ) throws -> FleetAuthority {
        try validateCommonName(commonName)
        try checkValidity(validity)
        let key = P256.Signing.PrivateKey()
        let signingKey = Certificate.PrivateKey(key)
        let publicKey = Certificate.PublicKey(key.publicKey)
        let keyIdentifier = SubjectKeyIdentifier(hash: publicKey)
        let name = try encoding { try DistinguishedName { CommonName(commonName) } }
        let certificate = try encoding {
            try Certificate(
                version: .v3,
                serialNumber: Certificate.SerialNumber(),
                publicKey: publicKey,
                notValidBefore: now - backdating,
                notValidAfter: now + validity,
                issuer: name,
                subject: name,
                signatureAlgorithm: .ecdsaWithSHA256,
                extensions: try Certificate.Extensions {
                    // pathlen 0: this CA signs daemons and controllers, never another CA.
                    Critical(BasicConstraints.isCertificateAuthority(maxPathLength: 0))
                    Critical(KeyUsage(keyCertSign: true, cRLSign: true))
                    keyIdentifier
                },
                issuerPrivateKey: signingKey
            )
        }
        return try FleetAuthority(certificate: certificate, signingKey: signingKey, privateKeyPEM: key.pemRepresentation)
    }

    /// Loads a CA from its PEM certificate and PEM private key (PKCS#8 or SEC1;
    /// P-256 as `create` makes, or another CA's RSA, P-384 or Ed25519 key).
    /// `certificateSource` and `keySource` name the files in errors.
    public init(
        certificatePEM: String,
        privateKeyPEM: String,
        certificateSource: String = "the CA certificate",
        keySource: String = "the CA private key"
    ) throws {
        let certificate: Certificate
        do {
            certificate = try Certificate(pemEncoded: certificatePEM)
        } catch {
            throw FleetCertificateError(
                .invalidCertificate, "\(certificateSource) does not hold a PEM certificate (BEGIN CERTIFICATE)",
                cause: error)
        }
        let signingKey: Certificate.PrivateKey
        do {
            signingKey = try Certificate.PrivateKey(pemEncoded: privateKeyPEM)
        } catch {
            throw FleetCertificateError(
                .invalidPrivateKey, "\(keySource) does not hold a PEM private key (BEGIN PRIVATE KEY or EC PRIVATE KEY)",
                cause: error)
        }
        guard signingKey.publicKey == certificate.publicKey else {
            throw FleetCertificateError(
                .keyMismatch, "\(keySource) is not the key of \(certificateSource); they come from different CAs")
        }
        guard case .isCertificateAuthority = try? certificate.extensions.basicConstraints else {
            throw FleetCertificateError(
                .unusableAuthority,
                "\(certificateSource) is not a CA certificate (its basicConstraints lack CA:TRUE)")
        }
        try self.init(certificate: certificate, signingKey: signingKey, privateKeyPEM: privateKeyPEM)
    }

    private init(certificate: Certificate, signingKey: Certificate.PrivateKey, privateKeyPEM: String) throws {
        self.certificate = certificate
        self.signingKey = signingKey
        self.privateKeyPEM = privateKeyPEM
        self.certificatePEM = try Self.encoding { try certificate.serializeAsPEM().pemString }
        let declared = try? certificate.extensions.subjectKeyIdentifier
        self.keyIdentifier = declared?.keyIdentifier ?? SubjectKeyIdentifier(hash: certificate.publicKey).keyIdentifier
    }

    /// Issues a certificate with a fresh P-256 key.
    ///
    /// A server certificate carries `dnsNames` and `ipAddresses` as its SANs;
    /// given neither, it gets `commonName` as a DNS name (when it is one) and
    /// as an IP address (when it parses as one). A client certificate always
    /// carries `commonName` as a DNS SAN, then the names given. The validity
    /// ends with the CA's at the latest.
    public func issue(
        _ role: CertificateRole,
        commonName: String,
        dnsNames: [String] = [],
        ipAddresses: [IPAddress] = [],
        validity: TimeInterval = defaultCertificateValidity,
        now: Date = Date()
    ) throws -> IssuedCertificate {
        try Self.validateCommonName(commonName)
        try Self.checkValidity(validity)
        for name in dnsNames { try Self.validateDNSName(name) }
        guard certificate.notValidAfter > now else {
            throw FleetCertificateError(
                .unusableAuthority,
                "the fleet CA expired on \(certificate.notValidAfter); make a new one (tumult certs init --force) and reissue every certificate")
        }

        var dns = dnsNames
        var ips = ipAddresses
        switch role {
        case .server where dns.isEmpty && ips.isEmpty:
            if (try? Self.validateDNSName(commonName)) != nil { dns = [commonName] }
            if let address = IPAddress(commonName) { ips = [address] }
            guard !dns.isEmpty || !ips.isEmpty else {
                throw FleetCertificateError(
                    .invalidName,
                    "\(commonName) is neither a DNS name nor an IP address; give the names the controller dials (--dns, --ip)")
            }
        case .server:
            break
        case .client:
            try Self.validateDNSName(commonName)
            dns.insert(commonName, at: 0)
        }
        let alternativeNames = SubjectAlternativeNames(
            unique(dns).map { GeneralName.dnsName($0) }
                + unique(ips).map { GeneralName.ipAddress(ASN1OctetString(contentBytes: $0.bytes[...])) })
        let usage: ExtendedKeyUsage.Usage = role == .server ? .serverAuth : .clientAuth

        let key = P256.Signing.PrivateKey()
        let publicKey = Certificate.PublicKey(key.publicKey)
        let authorityKeyIdentifier = AuthorityKeyIdentifier(keyIdentifier: keyIdentifier)
        let issued = try Self.encoding {
            try Certificate(
                version: .v3,
                serialNumber: Certificate.SerialNumber(),
                publicKey: publicKey,
                notValidBefore: max(now - Self.backdating, certificate.notValidBefore),
                notValidAfter: min(now + validity, certificate.notValidAfter),
                issuer: certificate.subject,
                subject: try DistinguishedName { CommonName(commonName) },
                extensions: try Certificate.Extensions {
                    Critical(BasicConstraints.notCertificateAuthority)
                    Critical(KeyUsage(digitalSignature: true))
                    try ExtendedKeyUsage([usage])
                    alternativeNames
                    SubjectKeyIdentifier(hash: publicKey)
                    authorityKeyIdentifier
                },
                issuerPrivateKey: signingKey
            )
        }
        return IssuedCertificate(
            role: role,
            certificate: issued,
            certificatePEM: try Self.encoding { try issued.serializeAsPEM().pemString },
            privateKeyPEM: key.pemRepresentation)
    }

    /// Throws unless `name` can be a DNS SAN: letters, digits, `-` and `_` in
    /// dot-separated labels of at most 63 characters, optionally starting `*.`.
    public static func validateDNSName(_ name: String) throws {
        let labels = name.split(separator: ".", omittingEmptySubsequences: false)
        let allowed = Set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_")
        let valid = !name.isEmpty && name.utf8.count <= 253
            && labels.enumerated().allSatisfy { index, label in
                (index == 0 && label == "*" && labels.count > 1)
                    || (!label.isEmpty && label.count <= 63 && label.allSatisfy(allowed.contains)
                        && label.first != "-" && label.last != "-")
            }
        guard valid else {
            throw FleetCertificateError(
                .invalidName,
                "\"\(name)\" is not a DNS name (letters, digits, '-' and '_' in dot-separated labels)")
        }
    }

    /// Throws unless `name` fits a certificate's subject: 1 to 64 characters
    /// (X.520's bound) on one line.
    public static func validateCommonName(_ name: String) throws {
        guard !name.isEmpty, name.count <= 64, !name.contains(where: \.isNewline) else {
            throw FleetCertificateError(
                .invalidName, "a common name must be 1 to 64 characters on one line, not \"\(name)\"")
        }
    }

    static func checkValidity(_ validity: TimeInterval) throws {
        guard validity.isFinite, validity > 0 else {
            throw FleetCertificateError(.invalidValidity, "a validity must be positive, not \(validity) seconds")
        }
    }

    /// Wraps swift-certificates' errors, which only happen on a bug or an exotic CA key.
    static func encoding<Value>(_ body: () throws -> Value) throws -> Value {
        do {
            return try body()
        } catch let error as FleetCertificateError {
            throw error
        } catch {
            throw FleetCertificateError(.encodingFailed, "could not encode or sign the certificate", cause: error)
        }
    }
}

private func unique<Element: Hashable>(_ elements: [Element]) -> [Element] {
    var seen = Set<Element>()
    return elements.filter { seen.insert($0).inserted }
}
