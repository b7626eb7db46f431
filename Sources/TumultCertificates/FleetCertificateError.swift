/// Why a certificate could not be made, read or written, worded so the user
/// knows which file or argument to fix. The one error type of this module.
public struct FleetCertificateError: Error, CustomStringConvertible, Sendable {
    public enum Code: String, Sendable {
        /// A file could not be read (missing, permissions).
        case unreadableFile
        /// A file could not be written, or its directory created.
        case unwritableFile
        /// A file is there already and overwriting was not asked for.
        case fileExists
        /// A PEM file holds no certificate, or one that cannot be parsed.
        case invalidCertificate
        /// A PEM file holds no private key, or one that cannot be parsed.
        case invalidPrivateKey
        /// The CA's private key does not belong to its certificate.
        case keyMismatch
        /// The certificate given as the CA is not a CA, or it has expired.
        case unusableAuthority
        /// A common name, file name or DNS name that cannot go into a certificate.
        case invalidName
        /// A validity that is not a positive duration.
        case invalidValidity
        /// Signing or encoding failed inside swift-certificates.
        case encodingFailed
    }

    public let code: Code
    public let message: String
    public let cause: (any Error)?

    public init(_ code: Code, _ message: String, cause: (any Error)? = nil) {
        self.code = code
        self.message = message
        self.cause = cause
    }

    public var description: String {
        guard let cause else { return message }
        return "\(message): \(cause)"
    }
}
