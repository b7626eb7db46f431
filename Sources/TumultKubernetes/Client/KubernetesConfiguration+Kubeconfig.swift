import Foundation
import Yams

extension KubernetesConfiguration {
    /// Reads a kubeconfig file the way kubectl does for one context
    /// (`context`, or the file's `current-context`): the cluster's server and
    /// CA, the user's certificate, key or token. Relative file names are
    /// resolved against the kubeconfig's directory. Users that authenticate
    /// through an `exec` plug-in or an `auth-provider` are refused: this
    /// client runs no helper programs.
    public static func kubeconfig(path: String, context: String? = nil) throws -> Self {
        let text = try readText(path, what: "the kubeconfig")
        let file: Kubeconfig
        do {
            file = try YAMLDecoder().decode(Kubeconfig.self, from: text)
        } catch {
            throw KubernetesConfigurationError("the kubeconfig \(path) does not parse: \(error)")
        }
        let directory = (path as NSString).deletingLastPathComponent
        func resolved(_ name: String) -> String {
            if name.hasPrefix("/") || directory.isEmpty { return name }
            return (directory as NSString).appendingPathComponent(name)
        }

        guard let contextName = context ?? file.currentContext.flatMap({ $0.isEmpty ? nil : $0 }) else {
            throw KubernetesConfigurationError("the kubeconfig \(path) names no current-context and none was given")
        }
        guard let namedContext = file.contexts?.first(where: { $0.name == contextName })?.context else {
            let known = (file.contexts ?? []).map(\.name).joined(separator: ", ")
            throw KubernetesConfigurationError(
                "the kubeconfig \(path) has no context \"\(contextName)\" (it has: \(known.isEmpty ? "none" : known))")
        }
        guard let cluster = file.clusters?.first(where: { $0.name == namedContext.cluster })?.cluster else {
            throw KubernetesConfigurationError(
                "context \"\(contextName)\" in \(path) names cluster \"\(namedContext.cluster)\", which the file does not define")
        }
        guard let server = URL(string: cluster.server), server.scheme == "https" || server.scheme == "http",
            server.host != nil
        else {
            throw KubernetesConfigurationError(
                "cluster \"\(namedContext.cluster)\" in \(path) has server \"\(cluster.server)\", which is not an http(s) URL")
        }
        var configuration = Self(server: server)
        configuration.insecureSkipTLSVerify = cluster.insecureSkipTLSVerify ?? false
        if let data = cluster.certificateAuthorityData {
            configuration.certificateAuthorityPEM = try decodeBase64(
                data, what: "certificate-authority-data of cluster \"\(namedContext.cluster)\"", in: path)
        } else if let file = cluster.certificateAuthority {
            configuration.certificateAuthorityPEM = try readText(
                resolved(file), what: "the certificate authority of cluster \"\(namedContext.cluster)\"")
        }
        if let namespace = namedContext.namespace, !namespace.isEmpty { configuration.namespace = namespace }

        if let userName = namedContext.user, !userName.isEmpty {
            guard let user = file.users?.first(where: { $0.name == userName })?.user else {
                throw KubernetesConfigurationError(
                    "context \"\(contextName)\" in \(path) names user \"\(userName)\", which the file does not define")
            }
            if user.exec != nil || user.authProvider != nil {
                let how = user.exec != nil ? "an exec plug-in" : "an auth-provider"
                throw KubernetesConfigurationError(
                    "user \"\(userName)\" in \(path) authenticates with \(how), which Tumult does not run: "
                        + "use a token (token or tokenFile) or a client certificate and key instead")
            }
            if let data = user.clientCertificateData {
                configuration.clientCertificatePEM = try decodeBase64(
                    data, what: "client-certificate-data of user \"\(userName)\"", in: path)
            } else if let file = user.clientCertificate {
                configuration.clientCertificatePEM = try readText(
                    resolved(file), what: "the client certificate of user \"\(userName)\"")
            }
            if let data = user.clientKeyData {
                configuration.clientKeyPEM = try decodeBase64(
                    data, what: "client-key-data of user \"\(userName)\"", in: path)
            } else if let file = user.clientKey {
                configuration.clientKeyPEM = try readText(resolved(file), what: "the client key of user \"\(userName)\"")
            }
            if (configuration.clientCertificatePEM == nil) != (configuration.clientKeyPEM == nil) {
                throw KubernetesConfigurationError(
                    "user \"\(userName)\" in \(path) has a client certificate or a client key but not both")
            }
            if let token = user.token, !token.isEmpty { configuration.bearerToken = token }
            if let tokenFile = user.tokenFile, !tokenFile.isEmpty {
                let file = resolved(tokenFile)
                configuration.bearerTokenFile = file
                _ = try readText(file, what: "the token file of user \"\(userName)\"")
            }
        }
        return configuration
    }

    private static func decodeBase64(_ text: String, what: String, in path: String) throws -> String {
        let compact = text.filter { !$0.isWhitespace }
        guard let data = Data(base64Encoded: compact), let decoded = String(data: data, encoding: .utf8) else {
            throw KubernetesConfigurationError("\(what) in \(path) is not base64 of UTF-8 text")
        }
        return decoded
    }
}

/// The parts of a kubeconfig file (`clientcmd/api/v1`) this client reads.
private struct Kubeconfig: Decodable {
    var clusters: [Named<Cluster>]?
    var contexts: [NamedContext]?
    var users: [NamedUser]?
    var currentContext: String?

    enum CodingKeys: String, CodingKey {
        case clusters, contexts, users
        case currentContext = "current-context"
    }

    struct Named<Item: Decodable>: Decodable {
        var name: String
        var cluster: Item
    }

    struct Cluster: Decodable {
        var server: String
        var certificateAuthority: String?
        var certificateAuthorityData: String?
        var insecureSkipTLSVerify: Bool?

        enum CodingKeys: String, CodingKey {
            case server
            case certificateAuthority = "certificate-authority"
            case certificateAuthorityData = "certificate-authority-data"
            case insecureSkipTLSVerify = "insecure-skip-tls-verify"
        }
    }

    struct NamedContext: Decodable {
        var name: String
        var context: Context
    }

    struct Context: Decodable {
        var cluster: String
        var user: String?
        var namespace: String?
    }

    struct NamedUser: Decodable {
        var name: String
        var user: User
    }

    struct User: Decodable {
        var token: String?
        var tokenFile: String?
        var clientCertificate: String?
        var clientCertificateData: String?
        var clientKey: String?
        var clientKeyData: String?
        var exec: Present?
        var authProvider: Present?

        enum CodingKeys: String, CodingKey {
            case token, tokenFile, exec
            case clientCertificate = "client-certificate"
            case clientCertificateData = "client-certificate-data"
            case clientKey = "client-key"
            case clientKeyData = "client-key-data"
            case authProvider = "auth-provider"
        }

        init(from decoder: any Decoder) throws {
            let container = try decoder.container(keyedBy: CodingKeys.self)
            token = try container.decodeIfPresent(String.self, forKey: .token)
            tokenFile = try container.decodeIfPresent(String.self, forKey: .tokenFile)
            clientCertificate = try container.decodeIfPresent(String.self, forKey: .clientCertificate)
            clientCertificateData = try container.decodeIfPresent(String.self, forKey: .clientCertificateData)
            clientKey = try container.decodeIfPresent(String.self, forKey: .clientKey)
            clientKeyData = try container.decodeIfPresent(String.self, forKey: .clientKeyData)
            exec = try Self.present(.exec, in: container)
            authProvider = try Self.present(.authProvider, in: container)
        }

        private static func present(_ key: CodingKeys, in container: KeyedDecodingContainer<CodingKeys>) throws
            -> Present?
        {
            guard container.contains(key) else { return nil }
            return try container.decodeNil(forKey: key) ? nil : Present()
        }
    }

    /// A section whose contents do not matter, only that it is there.
    struct Present: Decodable {
        init() {}
        init(from decoder: any Decoder) throws {}
    }
}
