import ArgumentParser
import Foundation
import TumultCertificates

/// `tumult certs`: the fleet's CA and the certificates daemons and
/// controllers present to each other over mutual TLS, without an openssl recipe.
struct Certs: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "certs",
        abstract: "Make the fleet's CA and the certificates for mutual TLS.",
        discussion: """
            `tumult certs init` makes the CA once; `tumult certs issue server HOST` makes each daemon's \
            certificate and `tumult certs issue client NAME` each controller's. Copy ca.pem, HOST.pem and \
            HOST-key.pem to the host; ca-key.pem never leaves the machine that issues.
            """,
        subcommands: [Init.self, Issue.self]
    )

    /// Where the files go: `--dir`, else `$TUMULT_HOME/certs`.
    struct DirectoryOptions: ParsableArguments {
        @Option(
            name: .customLong("dir"),
            help: ArgumentHelp(
                "Directory of ca.pem and the certificates (default $TUMULT_HOME/certs; without TUMULT_HOME, /var/lib/tumult/certs for root, else ~/.tumult/certs).",
                valueName: "directory"))
        var directory: String?

        @Flag(help: "Replace files that already exist.")
        var force = false

        var certificates: CertificateDirectory {
            guard let directory else { return CertificateDirectory.defaultDirectory() }
            return CertificateDirectory(URL(fileURLWithPath: directory))
        }

        func validate() throws {
            if let directory, directory.isEmpty { throw ValidationError("--dir must not be empty") }
        }
    }

    /// `tumult certs init`: a new CA.
    struct Init: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "init",
            abstract: "Make the fleet's CA: ca.pem and ca-key.pem (0600).",
            discussion: """
                A new CA invalidates every certificate issued by the old one, so existing files are kept \
                unless --force is given.
                """
        )

        @OptionGroup var files: DirectoryOptions

        @Option(help: ArgumentHelp("The CA's common name.", valueName: "name"))
        var name = FleetAuthority.defaultCommonName

        @Option(help: ArgumentHelp("Days the CA is valid.", valueName: "days"))
        var days = Int(FleetAuthority.defaultAuthorityValidity / 86_400)

        func validate() throws {
            try checkDays(days)
            do {
                try FleetAuthority.validateCommonName(name)
            } catch let error as FleetCertificateError {
                throw ValidationError("--name: \(error.message)")
            }
        }

        func run() throws {
            let authority = try FleetAuthority.create(commonName: name, validity: TimeInterval(days) * 86_400)
            let written = try files.certificates.write(authority, overwrite: files.force)
            for url in written { print(url.path) }
        }
    }

    /// `tumult certs issue`: a daemon's or a controller's certificate.
    struct Issue: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "issue",
            abstract: "Issue a certificate signed by the fleet's CA: NAME.pem and NAME-key.pem (0600).",
            discussion: """
                server: for `tumult daemon` on a host; its DNS names and IP addresses must include the \
                one the controller dials. Without --dns and --ip, NAME is used (as a DNS name, and as \
                an IP address when it is one). \
                client: for a controller (`tumult server`) reaching daemons; NAME is its common name \
                and DNS name.
                """
        )

        @Argument(help: ArgumentHelp("server (a daemon) or client (a controller).", valueName: "role"))
        var role: CertificateRole

        @Argument(help: ArgumentHelp("The host's or controller's name: the common name and the files' names.",
                                     valueName: "name"))
        var name: String

        @OptionGroup var files: DirectoryOptions

        @Option(name: .customLong("dns"),
                help: ArgumentHelp("A DNS name for the certificate (repeatable).", valueName: "name"))
        var dnsNames: [String] = []

        @Option(name: .customLong("ip"),
                help: ArgumentHelp("An IPv4 or IPv6 address for the certificate (repeatable).", valueName: "address"))
        var ipAddresses: [IPAddress] = []

        @Option(help: ArgumentHelp("Days the certificate is valid (at most until the CA expires).", valueName: "days"))
        var days = Int(FleetAuthority.defaultCertificateValidity / 86_400)

        func validate() throws {
            try checkDays(days)
            do {
                try CertificateDirectory.validateName(name)
                if role == .client { try FleetAuthority.validateDNSName(name) }
                for dnsName in dnsNames { try FleetAuthority.validateDNSName(dnsName) }
            } catch let error as FleetCertificateError {
                throw ValidationError(error.message)
            }
        }

        func run() throws {
            let directory = files.certificates
            let authority = try directory.loadAuthority()
            let validity = TimeInterval(days) * 86_400
            let issued = try authority.issue(
                role, commonName: name, dnsNames: dnsNames, ipAddresses: ipAddresses, validity: validity)
            let written = try directory.write(issued, named: name, overwrite: files.force)
            for url in written { print(url.path) }
            if issued.notValidAfter < Date(timeIntervalSinceNow: validity - 86_400) {
                let note = "note: \(name).pem expires with the CA on \(issued.notValidAfter), before the \(days) days asked for\n"
                FileHandle.standardError.write(Data(note.utf8))
            }
        }
    }
}

/// Bounded so that a date stays representable in a certificate (before 9999).
private func checkDays(_ days: Int) throws {
    guard (1...36_500).contains(days) else {
        throw ValidationError("--days must be between 1 and 36500, not \(days)")
    }
}

extension CertificateRole: ExpressibleByArgument {}

extension IPAddress: ExpressibleByArgument {
    public init?(argument: String) {
        self.init(argument)
    }
}
