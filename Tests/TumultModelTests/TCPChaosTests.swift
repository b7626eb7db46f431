import Testing
import TumultModel

/// TCPChaos, Tumult's own kind (`tumult.dev/v1alpha1`): reading, every
/// refusal at its field path, the group rules, and writing it back.
@Suite struct TCPChaosTests {
    static let example = """
        apiVersion: tumult.dev/v1alpha1
        kind: TCPChaos
        metadata: {name: redis-slow, namespace: default}
        spec:
          mode: all
          selector: {labelSelectors: {app: redis}}
          port: 6379
          connections: both
          toxics:
          - type: latency
            stream: downstream
            toxicity: 1.0
            attributes: {latency: 100, jitter: 10}
          - {name: cut, type: limit_data, stream: upstream, attributes: {bytes: 10000}}
          duration: 5m
        """

    /// A TCPChaos document whose spec is `spec` (block YAML).
    static func document(_ spec: String, apiVersion: String = "tumult.dev/v1alpha1", kind: String = "TCPChaos") -> String {
        let indented = spec.split(separator: "\n").map { "  " + $0 }.joined(separator: "\n")
        return "apiVersion: \(apiVersion)\nkind: \(kind)\nmetadata: {name: t}\nspec:\n\(indented)\n"
    }

    static func report(_ yaml: String) throws -> DocumentLoader.Report {
        let reports = try DocumentLoader().load(yaml)
        try #require(reports.count == 1)
        return reports[0]
    }

    @Test func theExampleLoads() throws {
        let report = try Self.report(Self.example)
        let document = try #require(report.document, "\(report.diagnostics.items)")
        #expect(report.diagnostics.items.isEmpty)
        #expect(document.kind == .tcpChaos)
        #expect(document.apiVersion == "tumult.dev/v1alpha1")
        let spec = try #require(document.spec as? TCPChaosSpec)
        #expect(spec.port == 6379)
        #expect(spec.effectiveConnections == .both)
        #expect(spec.duration?.seconds == 300)
        #expect(spec.selector.labelSelectors == ["app": "redis"])
        let toxics = try #require(spec.toxics)
        #expect(toxics.count == 2)
        #expect(toxics[0].type == .latency)
        #expect(toxics[0].effectiveName == "latency_downstream")
        #expect(toxics[0].values.latency == 100 && toxics[0].values.jitter == 10)
        #expect(toxics[1].effectiveName == "cut")
        #expect(toxics[1].type == .limitData && toxics[1].effectiveStream == .upstream)
        #expect(toxics[1].values.bytes == 10000)
    }

    @Test func theKindNamesItsGroup() {
        #expect(ChaosKind.tcpChaos.apiVersion == "tumult.dev/v1alpha1")
        #expect(ChaosKind.tcpChaos.group == "tumult.dev")
        #expect(!ChaosKind.tcpChaos.isChaosMesh)
        #expect(ChaosKind.tcpChaos.embeddedKey == "tcpChaos")
        #expect(ChaosKind.networkChaos.apiVersion == ChaosDocument.apiVersion)
        #expect(ChaosKind.allCases.filter { !$0.isChaosMesh } == [.tcpChaos])
        let document = ChaosDocument(kind: .tcpChaos, metadata: ObjectMeta(), spec: TCPChaosSpec(port: 80))
        #expect(document.apiVersion == "tumult.dev/v1alpha1")
    }

    @Test func defaultsAndNoToxicsWarn() throws {
        let report = try Self.report(Self.document("selector: {namespaces: [shop]}\nmode: one\nport: 80\n"))
        let document = try #require(report.document, "\(report.diagnostics.items)")
        let spec = try #require(document.spec as? TCPChaosSpec)
        #expect(spec.effectiveConnections == .both)
        let warning = try #require(report.diagnostics.warnings.first)
        #expect(warning.path.description == "spec.toxics")
        #expect(warning.message.contains("live API"))
    }

    /// Each invalid field: an error at exactly that path, with a message that says what to do.
    static let invalid: [(name: String, spec: String, path: String, message: String)] = [
        ("port missing", "mode: all\nselector: {}\ntoxics: []", "spec.port", "required"),
        ("port zero", "mode: all\nselector: {}\nport: 0", "spec.port", "required"),
        ("port too large", "mode: all\nselector: {}\nport: 70000", "spec.port", "out of range: a port is from 1 to 65535"),
        ("unknown connections", "mode: all\nselector: {}\nport: 80\nconnections: sideways", "spec.connections", "incoming"),
        ("toxicity above 1", "mode: all\nselector: {}\nport: 80\ntoxics:\n- {type: latency, toxicity: 1.5, attributes: {latency: 1}}",
         "spec.toxics[0].toxicity", "probability from 0 to 1"),
        ("unknown type", "mode: all\nselector: {}\nport: 80\ntoxics:\n- {type: lag, attributes: {latency: 1}}",
         "spec.toxics[0].type", "limit_data"),
        ("missing required attribute", "mode: all\nselector: {}\nport: 80\ntoxics:\n- {type: latency, attributes: {jitter: 5}}",
         "spec.toxics[0].attributes.latency", "required for a latency toxic"),
        ("negative value", "mode: all\nselector: {}\nport: 80\ntoxics:\n- {type: bandwidth, attributes: {rate: -5}}",
         "spec.toxics[0].attributes.rate", "must not be negative"),
        ("size_variation not below average_size",
         "mode: all\nselector: {}\nport: 80\ntoxics:\n- {type: slicer, attributes: {average_size: 64, size_variation: 64}}",
         "spec.toxics[0].attributes.size_variation", "must be smaller than average_size (64)"),
        ("duplicate default names", "mode: all\nselector: {}\nport: 80\ntoxics:\n- {type: latency, attributes: {latency: 1}}\n"
            + "- {type: latency, stream: downstream, attributes: {latency: 2}}",
         "spec.toxics[1].name", "\"latency_downstream\""),
        ("duplicate given names", "mode: all\nselector: {}\nport: 80\ntoxics:\n- {name: a, type: timeout}\n- {name: a, type: reset_peer}",
         "spec.toxics[1].name", "already the name of toxics[0]"),
        ("negative duration", "mode: all\nselector: {}\nport: 80\nduration: -5m", "spec.duration", "must not be negative"),
        ("mode without its value", "mode: fixed\nselector: {}\nport: 80", "spec.value", "required when mode is fixed"),
    ]

    @Test(arguments: invalid.indices)
    func anInvalidFieldIsAnErrorAtItsPath(_ index: Int) throws {
        let item = Self.invalid[index]
        let report = try Self.report(Self.document(item.spec))
        #expect(report.document == nil, "\(item.name) was accepted")
        let errors = report.diagnostics.errors
        #expect(errors.map(\.path.description) == [item.path], "\(item.name): \(errors)")
        if let error = errors.first {
            #expect(error.message.contains(item.message), "\(item.name): \(error.message)")
        }
    }

    @Test func theDuplicateErrorNamesTheDuplicate() throws {
        let spec = "mode: all\nselector: {}\nport: 80\ntoxics:\n- {name: slow, type: latency, attributes: {latency: 1}}\n"
            + "- {name: slow, type: bandwidth, attributes: {rate: 5}}"
        let error = try #require(try Self.report(Self.document(spec)).diagnostics.errors.first)
        #expect(error.message.contains("\"slow\""))
        #expect(error.message.contains("unique"))
    }

    @Test func anUnknownTypeNamesTheAllowedOnes() throws {
        let spec = "mode: all\nselector: {}\nport: 80\ntoxics:\n- {type: lag}"
        let error = try #require(try Self.report(Self.document(spec)).diagnostics.errors.first)
        for type in Toxic.Kind.allCases {
            #expect(error.message.contains(type.rawValue), "\(error.message) does not name \(type.rawValue)")
        }
    }

    @Test func tcpChaosUnderChaosMeshIsRefusedAtAPIVersion() throws {
        for apiVersion in ["chaos-mesh.org/v1alpha1", "pingcap.com/v1alpha1"] {
            let report = try Self.report(Self.document("mode: all\nselector: {}\nport: 80", apiVersion: apiVersion))
            #expect(report.document == nil)
            let error = try #require(report.diagnostics.errors.first)
            #expect(report.diagnostics.errors.count == 1)
            #expect(error.path.description == "apiVersion")
            #expect(error.message.contains("its apiVersion is tumult.dev/v1alpha1"), "\(error.message)")
        }
    }

    @Test func aChaosMeshKindUnderTumultIsRefusedAtAPIVersion() throws {
        let spec = "action: delay\nmode: all\nselector: {}\ndelay: {latency: 10ms}"
        let report = try Self.report(Self.document(spec, kind: "NetworkChaos"))
        #expect(report.document == nil)
        let error = try #require(report.diagnostics.errors.first)
        #expect(report.diagnostics.errors.count == 1)
        #expect(error.path.description == "apiVersion")
        #expect(error.message.contains("its apiVersion is chaos-mesh.org/v1alpha1"), "\(error.message)")
    }

    @Test func otherTumultVersionsAreNotServed() throws {
        let report = try Self.report(Self.document("mode: all\nselector: {}\nport: 80", apiVersion: "tumult.dev/v1"))
        let error = try #require(report.diagnostics.errors.first)
        #expect(error.path.description == "apiVersion")
        #expect(error.message.contains("not served; use tumult.dev/v1alpha1"))
    }

    @Test func anUnknownTumultKindSaysSo() throws {
        let report = try Self.report(Self.document("port: 80", kind: "UDPChaos"))
        let error = try #require(report.diagnostics.errors.first)
        #expect(error.path.description == "kind")
        #expect(error.message.contains("not a tumult.dev kind"))
    }

    @Test func roundTrip() throws {
        let document = try #require(try Self.report(Self.example).document)
        let written = try document.encoded()
        #expect(written.objectValue?["apiVersion"] == .string("tumult.dev/v1alpha1"))
        let read = try ChaosDocument.decoding(written)
        #expect(read == document)
        let text = try DocumentText.yaml([written])
        let again = try #require(try Self.report(text).document)
        #expect(again == document)
    }

    @Test func slicerAttributesKeepTheirDocumentNames() throws {
        let spec = "mode: all\nselector: {}\nport: 80\ntoxics:\n"
            + "- {type: slicer, attributes: {average_size: 64, size_variation: 16, delay: 10}}"
        let document = try #require(try Self.report(Self.document(spec)).document)
        let toxic = try #require((document.spec as? TCPChaosSpec)?.toxics?.first)
        #expect(toxic.values.averageSize == 64 && toxic.values.sizeVariation == 16)
        let attributes = try document.encoded().objectValue?["spec"]?.objectValue?["toxics"]
        guard case .array(let items)? = attributes else {
            Issue.record("no toxics written")
            return
        }
        let written = items.first?.objectValue?["attributes"]?.objectValue
        #expect(written?["average_size"] == .integer(64))
        #expect(written?["size_variation"] == .integer(16))
    }

    @Test func normalizedKeepsTumultAndFillsDefaults() throws {
        let yaml = Self.document("mode: all\nselector: {}\nport: 80\ntoxics:\n- {type: timeout}")
        let document = try #require(try Self.report(yaml).document)
        let normalized = document.normalized()
        #expect(normalized.apiVersion == "tumult.dev/v1alpha1")
        #expect(normalized.metadata.namespace == "default")
        let spec = try #require(normalized.spec as? TCPChaosSpec)
        #expect(spec.connections == .both)
        #expect(spec.toxics?.first?.stream == .downstream)
        #expect(spec.toxics?.first?.toxicity == 1)
        #expect(try Self.report(DocumentText.yaml([normalized.encoded()])).document == normalized)
    }

    @Test func aScheduleEmbedsIt() throws {
        let yaml = """
            apiVersion: chaos-mesh.org/v1alpha1
            kind: Schedule
            metadata: {name: nightly}
            spec:
              schedule: "0 3 * * *"
              type: TCPChaos
              tcpChaos:
                mode: all
                selector: {}
                port: 80
                toxics: [{type: latency, attributes: {latency: 50}}]
            """
        let report = try Self.report(yaml)
        let document = try #require(report.document, "\(report.diagnostics.items)")
        let schedule = try #require(document.spec as? ScheduleSpec)
        #expect(schedule.type == .chaos(.tcpChaos))
        #expect((schedule.runSpec as? TCPChaosSpec)?.port == 80)
    }

    @Test func itsCRDIsTumults() throws {
        let definition = try #require(CustomResourceDefinitions.definition(for: .tcpChaos))
        #expect(definition.at("metadata", "name") == .string("tcpchaos.tumult.dev"))
        #expect(definition.at("spec", "group") == .string("tumult.dev"))
        #expect(definition.at("spec", "names", "plural") == .string("tcpchaos"))
        let version = try #require(definition.at("spec", "versions")?.arrayValue?.first)
        let spec = try #require(version.at("schema", "openAPIV3Schema", "properties", "spec"))
        let toxic = try #require(spec.at("properties", "toxics", "items"))
        #expect(toxic.at("required") == .array([.string("type")]))
        let attributes = try #require(toxic.at("properties", "attributes", "properties")?.objectValue)
        #expect(Set(attributes.keys) == ["latency", "jitter", "rate", "delay", "timeout", "average_size", "size_variation", "bytes"])
        let types = toxic.at("properties", "type", "enum")?.arrayValue?.compactMap(\.stringValue)
        #expect(types == Toxic.Kind.allCases.map(\.rawValue))
    }
}
