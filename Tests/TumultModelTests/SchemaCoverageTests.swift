import Foundation
import Testing
import TumultModel

/// Builds, from each CRD schema, a document that sets every field the schema
/// knows, and checks that the model reads every one of them (no unknown
/// field) and writes every one back. This is what "every field of every
/// kind" means, checked against Chaos Mesh's own schemas.
@Suite struct SchemaCoverageTests {
    static let crdFiles: [(ChaosKind, String)] = [
        (.podChaos, "chaos-mesh.org_podchaos.yaml"), (.networkChaos, "chaos-mesh.org_networkchaos.yaml"),
        (.stressChaos, "chaos-mesh.org_stresschaos.yaml"), (.ioChaos, "chaos-mesh.org_iochaos.yaml"),
        (.timeChaos, "chaos-mesh.org_timechaos.yaml"), (.dnsChaos, "chaos-mesh.org_dnschaos.yaml"),
        (.httpChaos, "chaos-mesh.org_httpchaos.yaml"), (.kernelChaos, "chaos-mesh.org_kernelchaos.yaml"),
        (.jvmChaos, "chaos-mesh.org_jvmchaos.yaml"), (.blockChaos, "chaos-mesh.org_blockchaos.yaml"),
        (.awsChaos, "chaos-mesh.org_awschaos.yaml"), (.gcpChaos, "chaos-mesh.org_gcpchaos.yaml"),
        (.azureChaos, "chaos-mesh.org_azurechaos.yaml"),
        (.physicalMachineChaos, "chaos-mesh.org_physicalmachinechaos.yaml"),
        (.physicalMachine, "chaos-mesh.org_physicalmachines.yaml"), (.schedule, "chaos-mesh.org_schedules.yaml"),
        (.workflow, "chaos-mesh.org_workflows.yaml"), (.statusCheck, "chaos-mesh.org_statuschecks.yaml"),
    ]

    @Test func everyKindHasItsCRD() {
        // Tumult's own kind (tumult.dev) has no Chaos Mesh CRD.
        #expect(Set(Self.crdFiles.map(\.0)) == Set(ChaosKind.allCases.filter(\.isChaosMesh)))
    }

    @Test(arguments: crdFiles)
    func modelReadsAndWritesEveryField(kind: ChaosKind, file: String) throws {
        let schema = try Fixtures.specSchema(file)
        let full = Self.sample(schema, name: "spec", depth: 0)
        var diagnostics = Diagnostics()
        let spec = Self.decode(kind.specType, from: full, diagnostics: &diagnostics)
        let unknown = diagnostics.warnings.filter { $0.message.hasPrefix("unknown field") }
        #expect(unknown.isEmpty, "\(kind.rawValue) does not know: \(unknown.map(\.path.description))")
        let decoded = try #require(spec, "\(kind.rawValue) did not decode: \(diagnostics.errors)")
        let written = try ValueEncoder().encode(decoded)
        let missing = Self.keyPaths(full).subtracting(Self.keyPaths(written))
        #expect(missing.isEmpty, "\(kind.rawValue) drops \(missing.sorted()) (errors: \(diagnostics.errors))")
    }

    /// Every `*Chaos` key a Schedule and a Workflow template can embed is one
    /// the model embeds.
    @Test func embeddedKeysMatchTheCRDs() throws {
        let scheduleKeys = Set(try Fixtures.specSchema("chaos-mesh.org_schedules.yaml")["properties"]!
            .objectValue!.keys.filter { $0.hasSuffix("Chaos") })
        let templates = try Fixtures.specSchema("chaos-mesh.org_workflows.yaml")["properties"]!
            .at("templates", "items", "properties")!.objectValue!
        let templateKeys = Set(templates.keys.filter { $0.hasSuffix("Chaos") })
        // Tumult's own kinds embed too (`tcpChaos:`), where Chaos Mesh has no key.
        let model = Set(ChaosKind.embeddable.filter(\.isChaosMesh).compactMap(\.embeddedKey))
        #expect(scheduleKeys == model)
        #expect(templateKeys == model)
    }

    static func decode<S: ChaosSpec>(_ type: S.Type, from value: Value, diagnostics: inout Diagnostics) -> S? {
        ValueDecoder().decode(type, from: value, at: "spec", diagnostics: &diagnostics)
    }

    /// Paths of every key in a tree, with list items as `[]`.
    static func keyPaths(_ value: Value, prefix: String = "") -> Set<String> {
        switch value {
        case .object(let object):
            var paths: Set<String> = []
            for (key, child) in object.pairs {
                let path = prefix.isEmpty ? key : "\(prefix).\(key)"
                paths.insert(path)
                paths.formUnion(keyPaths(child, prefix: path))
            }
            return paths
        case .array(let values):
            return values.reduce(into: []) { $0.formUnion(keyPaths($1, prefix: prefix + "[]")) }
        default:
            return []
        }
    }

    /// A plausible value for a schema node: valid where the field's name says
    /// what it holds, so that typed fields decode.
    static func sample(_ schema: Value.Object, name: String, depth: Int) -> Value {
        if case .array(let choices)? = schema["enum"], let first = choices.first { return first }
        switch schema["type"]?.stringValue {
        case "object":
            var object = Value.Object()
            if let properties = schema["properties"]?.objectValue, depth < 12 {
                for (key, child) in properties.pairs {
                    object[key] = sample(child.objectValue ?? Value.Object(), name: key, depth: depth + 1)
                }
            } else if let additional = schema["additionalProperties"]?.objectValue {
                object["key"] = sample(additional, name: name, depth: depth + 1)
            }
            return .object(object)
        case "array":
            let items = schema["items"]?.objectValue ?? Value.Object()
            return .array([sample(items, name: name, depth: depth + 1)])
        case "integer":
            var number = 1
            if case .integer(let minimum)? = schema["minimum"] { number = max(number, minimum) }
            if case .integer(let maximum)? = schema["maximum"] { number = min(number, maximum) }
            return .integer(number)
        case "boolean":
            return .bool(true)
        case "number":
            return .double(1.5)
        default:
            if schema["format"]?.stringValue == "byte" { return .string("aGVsbG8=") }
            if schema["pattern"] != nil { return .string("10ms") }
            return .string(sampleString(for: name))
        }
    }

    static func sampleString(for name: String) -> String {
        let lowered = name.lowercased()
        let table: [(String, String)] = [
            ("timeoffset", "-10m"), ("time-offset", "-10m"), ("schedule", "@every 5s"), ("statuscode", "200"),
            ("url", "http://127.0.0.1:8080/"), ("address", "http://127.0.0.1:31767"),
            ("ip-address", "127.0.0.1"), ("externaltargets", "127.0.0.1"), ("hostname", "localhost"),
            ("clockids", "CLOCK_REALTIME"), ("clock-ids-slice", "CLOCK_REALTIME"),
            ("latency", "10ms"), ("jitter", "10ms"), ("duration", "10s"), ("deadline", "10s"),
            ("delay", "10ms"), ("expiration", "10s"),
            ("correlation", "10"), ("loss", "10"), ("duplicate", "10"), ("corrupt", "10"),
            ("reorder", "10"), ("percent", "10"), ("cachesize", "1024"),
            ("rate", "10mbit"), ("size", "10MB"), ("device", "eth0"), ("port", "80"), ("code", "500"),
            ("method", "GET"), ("methods", "read"), ("patterns", "example.com"), ("path", "/tmp"),
            ("volumepath", "/tmp"), ("mountpath", "/tmp"), ("value", "1"), ("entry", "a"), ("name", "a"),
            ("target", "a"), ("children", "a"), ("protocol", "tcp"), ("tcp-flags", "SYN"),
            ("signal", "9"), ("pid", "1"), ("direction", "to"), ("templatetype", "Suspend"), ("type", "JSON"),
        ]
        for (needle, sample) in table where lowered == needle || lowered.hasSuffix(needle) {
            return sample
        }
        return "x"
    }
}
