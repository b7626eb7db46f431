import Foundation
import TumultModel

/// The Secrets the pods mount, and the webhook registration that needs the
/// webhook CA's certificate.
extension DeployManifests {
    static func secrets(_ options: DeployOptions, certificates: DeployCertificates, dashboardToken: String) -> [Value] {
        var secrets = [
            // ca.crt checks the daemons' certificates; tls.* is the client certificate they check.
            tlsSecret("tumult-fleet-operator", component: "operator", options,
                      authorityPEM: certificates.fleetAuthorityPEM,
                      certificatePEM: certificates.operatorCertificate.certificatePEM,
                      keyPEM: certificates.operatorCertificate.privateKeyPEM),
            // ca.crt checks the operator's client certificate; tls.* is every daemon's server certificate.
            tlsSecret("tumult-fleet-daemon", component: "daemon", options,
                      authorityPEM: certificates.fleetAuthorityPEM,
                      certificatePEM: certificates.daemonCertificate.certificatePEM,
                      keyPEM: certificates.daemonCertificate.privateKeyPEM),
        ]
        if options.webhook {
            // ca.crt is kept beside the serving certificate so the caBundle can be recovered from the cluster.
            secrets.append(tlsSecret("tumult-webhook-tls", component: "webhook", options,
                                     authorityPEM: certificates.webhookAuthorityPEM,
                                     certificatePEM: certificates.webhookCertificate.certificatePEM,
                                     keyPEM: certificates.webhookCertificate.privateKeyPEM))
        }
        if options.dashboard {
            secrets.append(mapping([
                "apiVersion": .string("v1"),
                "kind": .string("Secret"),
                "metadata": metadata("tumult-dashboard-token", namespace: options.namespace, component: "dashboard"),
                "type": .string("Opaque"),
                "data": mapping(["token": .string(base64(dashboardToken))]),
            ]))
        }
        return secrets
    }

    static func tlsSecret(
        _ name: String, component: String, _ options: DeployOptions,
        authorityPEM: String, certificatePEM: String, keyPEM: String
    ) -> Value {
        mapping([
            "apiVersion": .string("v1"),
            "kind": .string("Secret"),
            "metadata": metadata(name, namespace: options.namespace, component: component),
            "type": .string("kubernetes.io/tls"),
            "data": mapping([
                "ca.crt": .string(base64(authorityPEM)),
                "tls.crt": .string(base64(certificatePEM)),
                "tls.key": .string(base64(keyPEM)),
            ]),
        ])
    }

    /// Chaos documents are checked by the operator before they are stored.
    /// It fails closed (an unreachable webhook refuses documents rather than
    /// letting unchecked ones through); two operator replicas keep it up.
    /// With watch namespaces, only their documents are sent to it.
    static func webhookConfiguration(_ options: DeployOptions, caBundlePEM: String) -> Value {
        var webhook = Value.Object([
            ("name", .string(webhookName)),
            ("clientConfig", mapping([
                "service": mapping([
                    "name": .string("tumult-webhook"),
                    "namespace": .string(options.namespace),
                    "path": .string(webhookPath),
                    "port": .integer(443),
                ]),
                "caBundle": .string(base64(caBundlePEM)),
            ])),
            ("rules", .array(allChaosResources.map { group, plurals in
                mapping([
                    "apiGroups": strings([group]),
                    "apiVersions": strings([CustomResourceDefinitions.version]),
                    "operations": strings(["CREATE", "UPDATE"]),
                    "resources": strings(plurals),
                    "scope": .string("Namespaced"),
                ])
            })),
        ])
        if !options.watchNamespaces.isEmpty {
            webhook["namespaceSelector"] = mapping([
                "matchExpressions": .array([mapping([
                    "key": .string("kubernetes.io/metadata.name"),
                    "operator": .string("In"),
                    "values": strings(options.watchNamespaces),
                ])]),
            ])
        }
        webhook["sideEffects"] = .string("None")
        webhook["admissionReviewVersions"] = strings(["v1"])
        webhook["failurePolicy"] = .string("Fail")
        webhook["timeoutSeconds"] = .integer(5)
        return mapping([
            "apiVersion": .string("admissionregistration.k8s.io/v1"),
            "kind": .string("ValidatingWebhookConfiguration"),
            "metadata": metadata("tumult-validate", namespace: nil, component: "webhook"),
            "webhooks": .array([.object(webhook)]),
        ])
    }

    static func base64(_ text: String) -> String {
        Data(text.utf8).base64EncodedString()
    }
}
