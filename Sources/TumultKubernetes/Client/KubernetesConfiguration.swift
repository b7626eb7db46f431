import Foundation

/// How to reach one API server and who to be there: what a kubeconfig
/// context or a pod's service account boils down to.
public struct KubernetesConfiguration: Sendable, Hashable {
    /// `https://host:port`, possibly with a path prefix (an API proxy).
    public var server: URL
    /// The only CA trusted for the server's certificate; nil trusts the system's.
    public var certificateAuthorityPEM: String?
    public var insecureSkipTLSVerify: Bool
    public var clientCertificatePEM: String?
    public var clientKeyPEM: String?
    public var bearerToken: String?
    /// Read again whenever it changes: in-cluster tokens are rotated under a
    /// running pod. Takes precedence over `bearerToken` while readable.
    public var bearerTokenFile: String?
    /// The context's namespace: where namespaced objects go when none is named.
    public var namespace: String
    /// Client-side rate limit, requests a second (client-go's default is 5; an
    /// operator watching many kinds needs more).
    public var qps: Double
    public var burst: Int
    public var userAgent: String

    public init(
        server: URL, certificateAuthorityPEM: String? = nil, insecureSkipTLSVerify: Bool = false,
        clientCertificatePEM: String? = nil, clientKeyPEM: String? = nil, bearerToken: String? = nil,
        bearerTokenFile: String? = nil, namespace: String = "default", qps: Double = 50, burst: Int = 100,
        userAgent: String = "tumult"
    ) {
        self.server = server
        self.certificateAuthorityPEM = certificateAuthorityPEM
        self.insecureSkipTLSVerify = insecureSkipTLSVerify
        self.clientCertificatePEM = clientCertificatePEM
        self.clientKeyPEM = clientKeyPEM
        self.bearerToken = bearerToken
        self.bearerTokenFile = bearerTokenFile
        self.namespace = namespace
        self.qps = qps
        self.burst = burst
        self.userAgent = userAgent
    }

    /// The configuration of a pod's service account: the API server's service
    /// address from the environment, the token, CA and namespace files the
    /// kubelet mounts under `root`.
    public static func inCluster(
        root: String = "/var/run/secrets/kubernetes.io/serviceaccount",
        environment: [String: String] = ProcessInfo.processInfo.environment
    ) throws -> Self {
        guard let host = environment["KUBERNETES_SERVICE_HOST"], !host.isEmpty,
            let port = environment["KUBERNETES_SERVICE_PORT"], !port.isEmpty
        else {
            throw KubernetesConfigurationError(
                "not running in a cluster: KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT are not both set")
        }
        let hostPart = host.contains(":") ? "[\(host)]" : host
        guard let server = URL(string: "https://\(hostPart):\(port)") else {
            throw KubernetesConfigurationError("KUBERNETES_SERVICE_HOST \(host) and port \(port) make no URL")
        }
        let tokenFile = (root as NSString).appendingPathComponent("token")
        let token = try readText(tokenFile, what: "the service account token")
        let caFile = (root as NSString).appendingPathComponent("ca.crt")
        let ca = try readText(caFile, what: "the service account CA")
        let namespaceFile = (root as NSString).appendingPathComponent("namespace")
        var namespace = "default"
        if FileManager.default.fileExists(atPath: namespaceFile) {
            let text = try readText(namespaceFile, what: "the service account namespace")
                .trimmingCharacters(in: .whitespacesAndNewlines)
            if !text.isEmpty { namespace = text }
        }
        return Self(
            server: server, certificateAuthorityPEM: ca,
            bearerToken: token.trimmingCharacters(in: .whitespacesAndNewlines), bearerTokenFile: tokenFile,
            namespace: namespace)
    }

    /// Where `kubectl` would look: `kubeconfig` if given, else the first file
    /// in `$KUBECONFIG`, else `~/.kube/config` if it exists, else the pod's
    /// service account.
    public static func resolve(
        kubeconfig: String?, context: String?,
        environment: [String: String] = ProcessInfo.processInfo.environment
    ) throws -> Self {
        if let kubeconfig, !kubeconfig.isEmpty {
            return try Self.kubeconfig(path: kubeconfig, context: context)
        }
        var tried: [String] = ["no kubeconfig given"]
        if let list = environment["KUBECONFIG"],
            let first = list.split(separator: ":").map(String.init).first(where: { !$0.isEmpty })
        {
            return try Self.kubeconfig(path: first, context: context)
        }
        tried.append("KUBECONFIG is not set")
        let home = environment["HOME"] ?? NSHomeDirectory()
        let defaultPath = (home as NSString).appendingPathComponent(".kube/config")
        if FileManager.default.fileExists(atPath: defaultPath) {
            return try Self.kubeconfig(path: defaultPath, context: context)
        }
        tried.append("\(defaultPath) does not exist")
        do {
            return try inCluster(environment: environment)
        } catch let error as KubernetesConfigurationError {
            tried.append(error.message)
        }
        throw KubernetesConfigurationError(
            "no Kubernetes configuration found (\(tried.joined(separator: "; "))): pass --kubeconfig or run in a pod")
    }

    static func readText(_ path: String, what: String) throws -> String {
        do {
            return try String(contentsOfFile: path, encoding: .utf8)
        } catch {
            throw KubernetesConfigurationError("cannot read \(what) \(path): \(error.localizedDescription)")
        }
    }
}

/// A kubeconfig or service account that cannot be used, and why.
public struct KubernetesConfigurationError: Error, CustomStringConvertible, Sendable, Hashable {
    public var message: String

    public init(_ message: String) { self.message = message }

    public var description: String { message }
}
