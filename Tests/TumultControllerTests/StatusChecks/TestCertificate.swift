import Foundation
import NIOSSL

/// A self-signed certificate for 127.0.0.1 made by the openssl command, and
/// TLS configurations from it: the server's, and a client's that trusts it.
struct TestCertificate {
    let certificate: NIOSSLCertificate
    let key: NIOSSLPrivateKey

    init() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("tmt-probe-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let keyPath = directory.appendingPathComponent("key.pem").path
        let certificatePath = directory.appendingPathComponent("certificate.pem").path
        let openssl = Process()
        openssl.executableURL = URL(fileURLWithPath: "/usr/bin/openssl")
        openssl.arguments = ["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
                             "-keyout", keyPath, "-out", certificatePath, "-days", "1",
                             "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1"]
        openssl.standardOutput = FileHandle.nullDevice
        openssl.standardError = FileHandle.nullDevice
        try openssl.run()
        openssl.waitUntilExit()
        guard openssl.terminationStatus == 0 else { throw TestSetupError("openssl req failed: \(openssl.terminationStatus)") }
        certificate = try NIOSSLCertificate(bytes: Array(try Data(contentsOf: URL(fileURLWithPath: certificatePath))), format: .pem)
        key = try NIOSSLPrivateKey(file: keyPath, format: .pem)
    }

    var server: TLSConfiguration {
        TLSConfiguration.makeServerConfiguration(certificateChain: [.certificate(certificate)], privateKey: .privateKey(key))
    }

    var trustingClient: TLSConfiguration {
        var configuration = TLSConfiguration.makeClientConfiguration()
        configuration.trustRoots = .certificates([certificate])
        return configuration
    }
}

/// A test's own setup failed (not what it tests).
struct TestSetupError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}
