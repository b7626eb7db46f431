import Foundation
import TumultModel

/// The labels, annotations and Kubernetes-style namespaces of the pods on
/// one machine: a host has no API server to ask, so the user writes them
/// down, one entry per named network namespace.
///
/// ```yaml
/// pods:
///   - name: web-1          # pod name, unique within its namespace
///     namespace: shop      # default: default
///     netns: web-1         # named network namespace; default: the pod's name
///     labels: {app: web, tier: front}
///     annotations: {team: payments}
/// ```
///
/// Unknown fields are warnings, not errors (as `kubectl apply` treats them):
/// the file still loads, and `warnings` says which field was not understood
/// and what it was probably meant to be.
public struct InventoryFile: Sendable, Hashable {
    /// One pod of the file.
    public struct Entry: Sendable, Hashable {
        public var name: String
        public var namespace: String
        /// The named network namespace (`/var/run/netns/NAME`) that is this pod.
        public var netns: String
        public var labels: [String: String]
        public var annotations: [String: String]

        public init(name: String, namespace: String = "default", netns: String? = nil,
                    labels: [String: String] = [:], annotations: [String: String] = [:]) {
            self.name = name
            self.namespace = namespace
            self.netns = netns ?? name
            self.labels = labels
            self.annotations = annotations
        }

        /// `namespace/name`, as `Pod.id`.
        public var id: String { "\(namespace)/\(name)" }
    }

    /// The file's name as given, for messages.
    public var file: String
    public var entries: [Entry]
    /// Problems that did not stop the file from loading, each as
    /// `FILE: PATH: message`.
    public var warnings: [String]

    public init(file: String = "inventory", entries: [Entry], warnings: [String] = []) {
        self.file = file
        self.entries = entries
        self.warnings = warnings
    }

    /// The environment variable that names the inventory file when
    /// `--inventory` is not given.
    public static let environmentVariable = "TUMULT_INVENTORY"

    /// `$TUMULT_INVENTORY` when it is set and not empty; nil means "no file":
    /// every named network namespace is then a pod in `default`.
    public static func defaultPath(environment: [String: String] = ProcessInfo.processInfo.environment) -> String? {
        guard let path = environment[environmentVariable], !path.isEmpty else { return nil }
        return path
    }

    /// Reads and parses the file at `path`; errors name `path`.
    public static func load(path: String) throws -> InventoryFile {
        let descriptor = open(path, O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else {
            throw InventoryFileError(file: path, reason: "cannot read the file: \(String(cString: strerror(errno)))")
        }
        let data = FileHandle(fileDescriptor: descriptor, closeOnDealloc: true).readDataToEndOfFile()
        guard let text = String(data: data, encoding: .utf8) else {
            throw InventoryFileError(file: path, reason: "the file is not UTF-8 text")
        }
        return try parse(text: text, file: path)
    }

    /// Parses inventory YAML (or JSON). Every problem is reported at once,
    /// each with its field path, in the thrown `InventoryFileError`.
    public static func parse(text: String, file: String) throws -> InventoryFile {
        let documents: [Value]
        do {
            documents = try DocumentText.parse(text)
        } catch {
            throw InventoryFileError(file: file, reason: String(describing: error))
        }
        guard documents.count <= 1 else {
            throw InventoryFileError(file: file, reason: "an inventory file holds one document, found \(documents.count)")
        }
        // An empty file is an inventory with no pods.
        guard let document = documents.first else { return InventoryFile(file: file, entries: []) }

        var diagnostics = Diagnostics()
        let decoded = TumultModel.ValueDecoder().decode(Document.self, from: document, diagnostics: &diagnostics)
        var entries: [Entry] = []
        for (position, raw) in (decoded?.pods ?? []).enumerated() {
            let path = FieldPath.root.child("pods").index(position)
            let entry = Entry(name: raw.name, namespace: raw.namespace ?? "default", netns: raw.netns,
                              labels: raw.labels ?? [:], annotations: raw.annotations ?? [:])
            validate(entry, raw: raw, at: path, against: entries, into: &diagnostics)
            entries.append(entry)
        }
        if diagnostics.hasErrors {
            throw InventoryFileError(file: file, diagnostics: diagnostics.items)
        }
        return InventoryFile(file: file, entries: entries,
                             warnings: diagnostics.warnings.map { "\(file): \($0.path): \($0.message)" })
    }

    /// The entry for the named network namespace `netns`.
    public func entry(netns: String) -> Entry? {
        entries.first { $0.netns == netns }
    }

    // MARK: Decoding and checks

    /// The file as written, before defaults.
    struct Document: Decodable {
        var pods: [RawEntry]?
    }

    struct RawEntry: Decodable {
        var name: String
        var namespace: String?
        var netns: String?
        var labels: [String: String]?
        var annotations: [String: String]?
    }

    static func validate(_ entry: Entry, raw: RawEntry, at path: FieldPath, against earlier: [Entry],
                         into diagnostics: inout Diagnostics) {
        if !entry.name.isEmpty, let problem = nameProblem(entry.name) {
            diagnostics.error(path.child("name"), problem)
        }
        if raw.namespace != nil, let problem = namespaceProblem(entry.namespace) {
            diagnostics.error(path.child("namespace"), problem)
        }
        if raw.netns != nil || !entry.name.isEmpty, let problem = HostNames.problem(withNetworkNamespace: entry.netns) {
            diagnostics.error(path.child(raw.netns != nil ? "netns" : "name"), problem)
        }
        for key in entry.labels.keys.sorted() {
            if let problem = labelKeyProblem(key) {
                diagnostics.error(path.child("labels").child(key), problem)
            } else if let problem = labelValueProblem(entry.labels[key] ?? "") {
                diagnostics.error(path.child("labels").child(key), problem)
            }
        }
        for key in entry.annotations.keys.sorted() {
            if let problem = labelKeyProblem(key) {
                diagnostics.error(path.child("annotations").child(key), problem.replacingOccurrences(
                    of: "label key", with: "annotation key"))
            }
        }
        guard !entry.name.isEmpty else { return }
        if let first = earlier.firstIndex(where: { $0.id == entry.id }) {
            diagnostics.error(path.child("name"), "pod \(entry.id) is already defined at pods[\(first)]")
        }
        if let first = earlier.firstIndex(where: { $0.netns == entry.netns }) {
            diagnostics.error(path.child(raw.netns != nil ? "netns" : "name"),
                              "network namespace \"\(entry.netns)\" already belongs to pods[\(first)] (\(earlier[first].id))")
        }
    }

    /// Pod names as Kubernetes takes them: a lower-case RFC 1123 subdomain.
    static func nameProblem(_ name: String) -> String? {
        let valid = name.count <= 253
            && name.split(separator: ".", omittingEmptySubsequences: false).allSatisfy { isDNSLabel($0) }
        return valid ? nil
            : "\"\(name)\" is not a valid pod name (lower-case letters, digits, '-' and '.', starting and ending with a letter or digit)"
    }

    static func namespaceProblem(_ namespace: String) -> String? {
        isDNSLabel(Substring(namespace)) ? nil
            : "\"\(namespace)\" is not a valid namespace (lower-case letters, digits and '-', at most 63)"
    }

    static func isDNSLabel(_ label: Substring) -> Bool {
        guard !label.isEmpty, label.count <= 63 else { return false }
        let ok = label.allSatisfy { ($0.isASCII && ($0.isLowercase || $0.isNumber)) || $0 == "-" }
        return ok && label.first != "-" && label.last != "-"
    }

    /// Kubernetes' rule for label and annotation keys: an optional DNS
    /// subdomain prefix and `/`, then a name of at most 63 characters.
    static func labelKeyProblem(_ key: String) -> String? {
        let parts = key.split(separator: "/", omittingEmptySubsequences: false)
        let invalid = "\"\(key)\" is not a valid label key"
        guard parts.count <= 2 else { return invalid }
        if parts.count == 2, nameProblem(String(parts[0])) != nil { return invalid }
        guard let name = parts.last, !name.isEmpty, name.count <= 63, isQualifiedName(name) else { return invalid }
        return nil
    }

    /// Label values: empty, or up to 63 letters, digits, `-`, `_`, `.`,
    /// starting and ending with a letter or digit.
    static func labelValueProblem(_ value: String) -> String? {
        if value.isEmpty { return nil }
        guard value.count <= 63, isQualifiedName(Substring(value)) else {
            return "\"\(value)\" is not a valid label value (at most 63 letters, digits, '-', '_' and '.', starting and ending with a letter or digit)"
        }
        return nil
    }

    static func isQualifiedName(_ name: Substring) -> Bool {
        let alphanumeric: (Character) -> Bool = { $0.isASCII && ($0.isLetter || $0.isNumber) }
        guard let first = name.first, let last = name.last, alphanumeric(first), alphanumeric(last) else { return false }
        return name.allSatisfy { alphanumeric($0) || $0 == "-" || $0 == "_" || $0 == "." }
    }
}

/// An inventory file that could not be used, with every problem found.
public struct InventoryFileError: Error, Sendable, CustomStringConvertible {
    public var file: String
    /// Problems tied to a field (errors first, then warnings, as found).
    public var diagnostics: [Diagnostic]
    /// Why the file could not be read or parsed at all, when that was the problem.
    public var reason: String?

    public init(file: String, diagnostics: [Diagnostic] = [], reason: String? = nil) {
        self.file = file
        self.diagnostics = diagnostics
        self.reason = reason
    }

    /// The errors, one per line: `inventory.yaml: pods[2].name: required field is missing`.
    public var lines: [String] {
        var lines: [String] = []
        if let reason { lines.append("\(file): \(reason)") }
        lines += diagnostics.filter { $0.severity == .error }.map { "\(file): \($0.path): \($0.message)" }
        return lines
    }

    public var description: String { lines.joined(separator: "\n") }
}
