/// Reads text holding any number of documents and reports, for each one,
/// the typed document or every problem with it.
///
/// This is what `tumult validate`, `tumult convert`, the API server and the
/// tests share, so that they all accept and refuse exactly the same input.
public struct DocumentLoader: Sendable {
    public enum Outcome: Sendable, Equatable {
        /// A chaos document with no errors (warnings may remain).
        case valid(ChaosDocument)
        /// A chaos document with at least one error.
        case invalid
        /// Not a chaos document (a Deployment, a Service ...): left alone.
        case skipped(reason: String)
    }

    /// The verdict on one document of a file.
    public struct Report: Sendable, Equatable {
        /// 1-based position in the file.
        public var index: Int
        public var kind: String?
        public var name: String?
        public var outcome: Outcome
        public var diagnostics: Diagnostics

        public var document: ChaosDocument? {
            if case .valid(let document) = outcome { return document }
            return nil
        }

        /// `doc 1 (NetworkChaos web-delay)`.
        public var label: String {
            let described = [kind, name].compactMap { $0 }.filter { !$0.isEmpty }.joined(separator: " ")
            return described.isEmpty ? "doc \(index)" : "doc \(index) (\(described))"
        }
    }

    /// Unknown fields are errors instead of warnings.
    public var strict: Bool

    public init(strict: Bool = false) {
        self.strict = strict
    }

    /// Parses and checks every document in `text`. Throws only when the text
    /// itself is not YAML or JSON.
    public func load(_ text: String) throws -> [Report] {
        let values = try DocumentText.parse(text)
        var reports: [Report] = []
        for value in values {
            for item in Self.expandLists(value) {
                reports.append(check(item, index: reports.count + 1))
            }
        }
        return reports
    }

    /// A Kubernetes `List` (what `kubectl get -o yaml` prints) stands for its items.
    public static func expandLists(_ value: Value) -> [Value] {
        guard let object = value.objectValue, object["kind"] == .string("List"),
              case .array(let items)? = object["items"] else { return [value] }
        return items
    }

    /// Checks one document tree.
    public func check(_ value: Value, index: Int = 1) -> Report {
        var diagnostics = Diagnostics()
        guard let object = value.objectValue else {
            diagnostics.error(.root, "a document must be an object, got \(value.typeDescription) \(value.brief)")
            return Report(index: index, outcome: .invalid, diagnostics: diagnostics)
        }
        let kindName = object["kind"]?.stringValue
        let name = object["metadata"]?.objectValue?["name"]?.stringValue
        var report = Report(index: index, kind: kindName, name: name, outcome: .invalid, diagnostics: diagnostics)

        let apiVersion = object["apiVersion"]?.stringValue
        let group = apiVersion?.split(separator: "/").first.map(String.init)
        guard let group, Self.servedVersions[group] != nil else {
            let described = [apiVersion, kindName].compactMap { $0 }.joined(separator: " ")
            if apiVersion == nil && kindName == nil {
                report.diagnostics.error("apiVersion", "required field is missing (is this a Chaos Mesh document?)")
                return report
            }
            report.outcome = .skipped(reason: "not a chaos experiment (\(described.isEmpty ? "no kind" : described))")
            return report
        }
        let served = Self.servedVersions[group]!
        guard let apiVersion, served.contains(apiVersion) else {
            report.diagnostics.error("apiVersion", "\"\(apiVersion ?? "")\" is not served; use \(served[0])")
            return report
        }
        guard let kindName else {
            report.diagnostics.error("kind", "required field is missing")
            return report
        }
        guard let kind = ChaosKind(name: kindName) else {
            if group != ChaosKind.tumultGroup, Self.internalKinds.contains(kindName) {
                report.outcome = .skipped(reason: "not a chaos experiment (\(kindName) is Chaos Mesh's own bookkeeping)")
                return report
            }
            let groupKinds = ChaosKind.allCases.filter { $0.group == group }
            let owner = group == ChaosKind.tumultGroup ? "\(ChaosKind.tumultGroup) kind" : "Chaos Mesh kind"
            var message = "\"\(kindName)\" is not a \(owner)"
            if let suggestion = DecodingSession.closest(to: kindName, in: Set(ChaosKind.rawValues)) {
                message += " (did you mean \"\(suggestion)\"?)"
            } else if group == ChaosKind.tumultGroup {
                message += ": expected one of \(groupKinds.map(\.rawValue).joined(separator: ", "))"
            }
            report.diagnostics.error("kind", message)
            return report
        }
        // Each kind lives in one group: a TCPChaos under chaos-mesh.org would
        // be refused by a cluster's API server (no such CRD there), and
        // NetworkChaos under tumult.dev is nobody's.
        // Chaos Mesh 0.x/1.x called its group pingcap.com.
        guard kind.group == (group == "pingcap.com" ? ChaosKind.chaosMeshGroup : group) else {
            let whose = kind.isChaosMesh ? "a Chaos Mesh kind" : "Tumult's own kind"
            report.diagnostics.error("apiVersion", "\(kind.rawValue) is \(whose): its apiVersion is \(kind.apiVersion), not \(apiVersion)")
            return report
        }

        let decoder = ValueDecoder()
        // The envelope: reports unknown top-level fields.
        _ = decoder.decode(Envelope.self, from: value, diagnostics: &diagnostics)
        let metadata = decoder.decode(ObjectMeta.self, from: object["metadata"] ?? .object(Value.Object()),
                                      at: "metadata", diagnostics: &diagnostics)
        metadata?.validate(at: "metadata", into: &diagnostics)

        var spec: (any ChaosSpec)?
        var documentKind = kind
        if var specObject = object["spec"]?.objectValue {
            let legacyCron = apiVersion == ChaosDocument.legacyAPIVersion ? specObject["scheduler"] : nil
            if legacyCron != nil { specObject["scheduler"] = nil }
            spec = Self.decodeSpec(kind.specType, from: .object(specObject), at: "spec", diagnostics: &diagnostics)
            if let legacyCron, let inner = spec {
                spec = Self.legacySchedule(inner, scheduler: legacyCron, diagnostics: &diagnostics)
                documentKind = .schedule
            }
        } else if let other = object["spec"] {
            diagnostics.error("spec", "expected an object, got \(other.typeDescription) \(other.brief)")
        } else {
            diagnostics.error("spec", "required field is missing")
        }
        spec?.validate(at: "spec", into: &diagnostics)

        if strict {
            var strictDiagnostics = Diagnostics()
            for item in diagnostics.items {
                strictDiagnostics.append(Diagnostic(.error, item.path, item.message))
            }
            diagnostics = strictDiagnostics
        }
        report.diagnostics = diagnostics
        if !diagnostics.hasErrors, let spec {
            let status = object["status"]
            report.outcome = .valid(ChaosDocument(kind: documentKind, metadata: metadata ?? ObjectMeta(),
                                                  spec: spec, status: status, apiVersion: apiVersion))
            report.kind = documentKind.rawValue
        }
        return report
    }

    /// The apiVersions read in each group, the current one first: Chaos
    /// Mesh's (and its 0.x/1.x `pingcap.com`, upgraded on reading), and
    /// Tumult's own.
    static let servedVersions: [String: [String]] = [
        ChaosKind.chaosMeshGroup: [ChaosDocument.apiVersion],
        "pingcap.com": [ChaosDocument.legacyAPIVersion],
        ChaosKind.tumultGroup: ["\(ChaosKind.tumultGroup)/\(ChaosKind.version)"],
    ]

    /// Objects of the chaos-mesh.org group that are not experiments: what
    /// Chaos Mesh creates for itself, and cluster wiring.
    static let internalKinds: Set<String> = [
        "PodNetworkChaos", "PodIOChaos", "PodHttpChaos", "WorkflowNode", "RemoteCluster",
    ]

    static func decodeSpec<S: ChaosSpec>(_ type: S.Type, from value: Value, at path: FieldPath,
                                         diagnostics: inout Diagnostics) -> (any ChaosSpec)? {
        ValueDecoder().decode(type, from: value, at: path, diagnostics: &diagnostics)
    }

    /// Chaos Mesh 1.x: `spec.scheduler.cron` next to `spec.duration` means
    /// "run this experiment on that cron", which 2.x says with a Schedule.
    static func legacySchedule(_ inner: any ChaosSpec, scheduler: Value,
                               diagnostics: inout Diagnostics) -> (any ChaosSpec)? {
        let legacy = ValueDecoder().decode(LegacyScheduler.self, from: scheduler, at: "spec.scheduler",
                                           diagnostics: &diagnostics)
        guard let cron = legacy?.cron else { return nil }
        return ScheduleSpec(schedule: cron, embedding: inner)
    }

    struct LegacyScheduler: Codable {
        var cron: CronSchedule
    }

    /// The top level of a document, decoded only to flag unknown fields.
    struct Envelope: Decodable {
        var apiVersion: String
        var kind: String
        var metadata: Value?
        var spec: Value?
        var status: Value?
    }
}
