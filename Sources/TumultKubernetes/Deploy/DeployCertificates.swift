import Foundation
import TumultCertificates

/// The certificates the plain manifests carry in their Secrets, made fresh
/// each time they are generated; the CAs' keys are dropped once these are
/// issued, so nothing in the cluster can sign another certificate.
///
/// Two CAs, not one: the fleet CA admits the operator to the daemons (which
/// trust nothing else), while the webhook CA only has to convince the API
/// server; a webhook certificate signed by the fleet CA would be one more
/// server certificate the daemons' CA vouches for.
public struct DeployCertificates: Sendable {
    /// The fleet CA's certificate (PEM): daemons check the operator's client
    /// certificate against it and the operator checks the daemons'.
    public let fleetAuthorityPEM: String
    /// The operator's client certificate for the daemons.
    public let operatorCertificate: IssuedCertificate
    /// The daemons' one server certificate. The operator does not check daemon
    /// host names (`clientConfiguration(verifyHostname: false)`), only the
    /// CA, so one certificate serves every node.
    public let daemonCertificate: IssuedCertificate
    /// The CA the API server trusts for the webhook: the ValidatingWebhookConfiguration's `caBundle`.
    public let webhookAuthorityPEM: String
    /// The webhook's serving certificate, for `tumult-webhook.<namespace>.svc`.
    public let webhookCertificate: IssuedCertificate

    public static let operatorName = "tumult-operator"
    public static let daemonName = "tumult-daemon"

    /// The host names the API server may dial the webhook Service by.
    public static func webhookNames(namespace: String) -> [String] {
        ["tumult-webhook.\(namespace).svc", "tumult-webhook.\(namespace).svc.cluster.local",
         "tumult-webhook.\(namespace)", "tumult-webhook"]
    }

    public init(
        fleetAuthorityPEM: String, operatorCertificate: IssuedCertificate, daemonCertificate: IssuedCertificate,
        webhookAuthorityPEM: String, webhookCertificate: IssuedCertificate
    ) {
        self.fleetAuthorityPEM = fleetAuthorityPEM
        self.operatorCertificate = operatorCertificate
        self.daemonCertificate = daemonCertificate
        self.webhookAuthorityPEM = webhookAuthorityPEM
        self.webhookCertificate = webhookCertificate
    }

    /// Makes both CAs and issues the three certificates with the module's
    /// default lifetimes (CAs ten years, certificates two).
    public static func issue(namespace: String, now: Date = Date()) throws -> DeployCertificates {
        let fleet = try FleetAuthority.create(commonName: "Tumult fleet CA (\(namespace))".prefix(64).description, now: now)
        let webhook = try FleetAuthority.create(commonName: "Tumult webhook CA (\(namespace))".prefix(64).description, now: now)
        return DeployCertificates(
            fleetAuthorityPEM: fleet.certificatePEM,
            operatorCertificate: try fleet.issue(.client, commonName: operatorName, now: now),
            daemonCertificate: try fleet.issue(.server, commonName: daemonName, dnsNames: [daemonName], now: now),
            webhookAuthorityPEM: webhook.certificatePEM,
            // The common name is short (64 at most); the SANs carry the Service's names.
            webhookCertificate: try webhook.issue(
                .server, commonName: "tumult-webhook", dnsNames: webhookNames(namespace: namespace), now: now))
    }
}
