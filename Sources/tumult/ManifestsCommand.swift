import ArgumentParser
import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import TumultHandoff
import TumultKubernetes
import TumultModel
import TumultServer

/// `tumult manifests`: the plain Kubernetes manifests that run Tumult in a
/// cluster, for users without Helm, with certificates made on the spot; and
/// the Helm chart's `crds/` files.
struct ManifestsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "manifests",
        abstract: "Print the Kubernetes manifests that deploy Tumult (CRDs first), or write them to files.",
        discussion: """
            Each run makes new CAs and certificates (the CAs' keys are not kept) and a new dashboard token: \
            apply the output once, and to rotate, generate and apply again, then restart the operator and the \
            daemons (kubectl -n NAMESPACE rollout restart deployment/tumult-operator daemonset/tumult-daemon). \
            The files of --output-dir sort in the order they must be applied: kubectl apply -f DIR. \
            --helm-crds DIR writes the chart's crds/ files instead (one per kind).
            """
    )

    @Option(help: ArgumentHelp("The namespace of the operator, the daemons and the dashboard.", valueName: "name"))
    var namespace = DeployOptions.defaultNamespace

    @Option(help: ArgumentHelp("The image to run (default \(DeployOptions.image(version: TumultVersion.text))).", valueName: "reference"))
    var image: String?

    @Option(name: .customLong("watch-namespace"),
            help: ArgumentHelp("Watch only this namespace's chaos objects and pods (RBAC in it only); repeat for several. Default: all.", valueName: "name"))
    var watchNamespaces: [String] = []

    @Option(name: .customLong("operator-replicas"), help: ArgumentHelp("Operator replicas (one leads; all serve the webhook).", valueName: "count"))
    var operatorReplicas = 2

    @Flag(inversion: .prefixedNo, help: "The validating webhook (served by the operator).")
    var webhook = true

    @Flag(inversion: .prefixedNo, help: "The dashboard (tumult server --in-cluster) and its Service.")
    var dashboard = true

    @Option(name: .customLong("output-dir"), help: ArgumentHelp("Write the manifests into this directory, one file per part, instead of printing them.", valueName: "directory"))
    var outputDirectory: String?

    @Option(name: .customLong("helm-crds"), help: ArgumentHelp("Write the Helm chart's CRD files (chaos-mesh.org_PLURAL.yaml) into this directory and nothing else.", valueName: "directory"))
    var helmCRDDirectory: String?

    var options: DeployOptions {
        var options = DeployOptions(
            version: TumultVersion.text, namespace: namespace, operatorReplicas: operatorReplicas,
            watchNamespaces: watchNamespaces, webhook: webhook, dashboard: dashboard)
        if let image { options.image = image }
        return options
    }

    func validate() throws {
        if let problem = options.problems.first { throw ValidationError(problem) }
        if helmCRDDirectory != nil, outputDirectory != nil {
            throw ValidationError("--helm-crds writes only the chart's CRDs; leave out --output-dir")
        }
        if helmCRDDirectory?.isEmpty == true || outputDirectory?.isEmpty == true {
            throw ValidationError("a directory must not be empty")
        }
    }

    func run() throws {
        if let helmCRDDirectory {
            try writeHelmCRDs(into: URL(fileURLWithPath: helmCRDDirectory))
            return
        }
        let certificates: DeployCertificates
        do {
            certificates = try DeployCertificates.issue(namespace: namespace)
        } catch {
            throw RunFailure(status: 1, "cannot make the certificates: \(error)")
        }
        let files = DeployManifests.files(
            options: options, certificates: certificates, dashboardToken: DeployManifests.randomToken())
        guard let outputDirectory else {
            print(try DocumentText.yaml(files.flatMap(\.objects)), terminator: "")
            return
        }
        let directory = URL(fileURLWithPath: outputDirectory)
        try createDirectory(directory)
        for file in files {
            // The Secrets hold private keys: readable by their owner only.
            let mode: mode_t = file.objects.contains { $0.objectValue?["kind"]?.stringValue == "Secret" } ? 0o600 : 0o644
            try write(try file.yaml(), to: directory.appendingPathComponent(file.name), mode: mode)
        }
        printError("wrote \(files.count) files to \(directory.path); apply them with: kubectl apply -f \(directory.path)")
    }

    /// The chart's `crds/` is generated, so a kind that is gone loses its file too.
    func writeHelmCRDs(into directory: URL) throws {
        try createDirectory(directory)
        let files = DeployManifests.helmCRDFiles()
        let names = Set(files.map(\.name))
        let existing = (try? FileManager.default.contentsOfDirectory(atPath: directory.path)) ?? []
        let groups = [ChaosKind.chaosMeshGroup, ChaosKind.tumultGroup]
        for stale in existing where groups.contains(where: { stale.hasPrefix("\($0)_") }) && stale.hasSuffix(".yaml")
            && !names.contains(stale) {
            try? FileManager.default.removeItem(at: directory.appendingPathComponent(stale))
        }
        for file in files {
            try write(try file.yaml(), to: directory.appendingPathComponent(file.name), mode: 0o644)
        }
    }

    func createDirectory(_ directory: URL) throws {
        do {
            try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        } catch {
            throw RunFailure(status: 1, "cannot create the directory \(directory.path): \(error.localizedDescription)")
        }
    }

    /// Created with its final mode, so a key is never readable by others, not even for a moment.
    func write(_ text: String, to url: URL, mode: mode_t) throws {
        let descriptor = open(url.path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode)
        guard descriptor >= 0 else {
            throw RunFailure(status: 1, "cannot write \(url.path): \(String(cString: strerror(errno)))")
        }
        defer { close(descriptor) }
        // An existing file keeps its old mode through O_CREAT: set it.
        guard fchmod(descriptor, mode) == 0 else {
            throw RunFailure(status: 1, "cannot write \(url.path): \(String(cString: strerror(errno)))")
        }
        let handle = FileHandle(fileDescriptor: descriptor, closeOnDealloc: false)
        do {
            try handle.write(contentsOf: Data(text.utf8))
        } catch {
            throw RunFailure(status: 1, "cannot write \(url.path): \(error.localizedDescription)")
        }
    }
}
