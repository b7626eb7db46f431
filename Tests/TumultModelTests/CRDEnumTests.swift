import Testing
import TumultModel

/// The model's closed sets of values are exactly the CRDs' `enum:` lists:
/// every enum in every CRD the model covers, including the copies embedded in
/// Schedule and Workflow, is mapped here and compared value for value.
@Suite struct CRDEnumTests {
    /// Enum paths relative to a kind's `spec`, and the model's values.
    static let modelEnums: [String: [String: [String]]] = [
        "PodChaos": ["action": PodChaosSpec.Action.rawValues, "mode": SelectorMode.rawValues],
        "NetworkChaos": ["action": NetworkChaosSpec.Action.rawValues, "mode": SelectorMode.rawValues,
                         "direction": NetworkChaosSpec.Direction.rawValues, "target.mode": SelectorMode.rawValues],
        "StressChaos": ["mode": SelectorMode.rawValues],
        "IOChaos": ["action": IOChaosSpec.Action.rawValues, "mode": SelectorMode.rawValues,
                    "mistake.filling": IOChaosSpec.Mistake.Filling.rawValues],
        "TimeChaos": ["mode": SelectorMode.rawValues],
        "DNSChaos": ["action": DNSChaosSpec.Action.rawValues, "mode": SelectorMode.rawValues],
        "HTTPChaos": ["mode": SelectorMode.rawValues, "target": HTTPChaosSpec.Target.rawValues],
        "KernelChaos": ["mode": SelectorMode.rawValues],
        "JVMChaos": ["action": JVMChaosSpec.Action.rawValues, "mode": SelectorMode.rawValues],
        "BlockChaos": ["action": BlockChaosSpec.Action.rawValues, "mode": SelectorMode.rawValues],
        "AWSChaos": ["action": AWSChaosSpec.Action.rawValues],
        "GCPChaos": ["action": GCPChaosSpec.Action.rawValues],
        "AzureChaos": ["action": AzureChaosSpec.Action.rawValues],
        "PhysicalMachineChaos": ["action": PhysicalMachineChaosSpec.Action.rawValues, "mode": SelectorMode.rawValues],
        "PhysicalMachine": [:],
        "Schedule": ["concurrencyPolicy": ScheduleSpec.ConcurrencyPolicy.rawValues],
        "Workflow": [:],
        "StatusCheck": ["mode": StatusCheckSpec.Mode.rawValues, "type": StatusCheckSpec.CheckType.rawValues,
                        "http.method": HTTPStatusCheck.Method.rawValues],
    ]

    /// Every enum below a schema node, as (path, values).
    static func enums(in schema: Value.Object, path: String = "") -> [(String, [String])] {
        var found: [(String, [String])] = []
        if case .array(let values)? = schema["enum"] {
            found.append((path, values.compactMap(\.stringValue)))
        }
        for (key, child) in schema["properties"]?.objectValue?.pairs ?? [] {
            guard let child = child.objectValue else { continue }
            found += enums(in: child, path: path.isEmpty ? key : "\(path).\(key)")
        }
        if let items = schema["items"]?.objectValue { found += enums(in: items, path: path + "[]") }
        return found
    }

    /// Which kind's table an enum found at `path` (inside `kind`'s spec) belongs to:
    /// embedded specs (`networkChaos.action`, `templates[].statusCheck.mode`)
    /// are checked against the embedded kind.
    static func resolve(kind: ChaosKind, path: String) -> (ChaosKind, String) {
        var embedded: [String: ChaosKind] = [:]
        for kind in ChaosKind.embeddable { embedded[kind.embeddedKey!] = kind }
        embedded["statusCheck"] = .statusCheck
        embedded["schedule"] = .schedule
        embedded["workflow"] = .workflow
        var parts = path.split(separator: ".").map { $0.replacingOccurrences(of: "[]", with: "") }
        var current = kind
        while parts.count > 1 {
            if parts[0] == "templates" {
                current = .workflow
            } else if let target = embedded[parts[0]] {
                current = target
            } else {
                break
            }
            parts.removeFirst()
        }
        return (current, parts.joined(separator: "."))
    }

    @Test(arguments: SchemaCoverageTests.crdFiles)
    func everyCRDEnumIsExactlyTheModelEnum(kind: ChaosKind, file: String) throws {
        let schema = try Fixtures.specSchema(file)
        let found = Self.enums(in: schema)
        if kind == .networkChaos || kind == .physicalMachineChaos || kind == .schedule {
            #expect(!found.isEmpty)
        }
        for (path, values) in found {
            let (owner, relative) = Self.resolve(kind: kind, path: path)
            let model = Self.modelEnums[owner.rawValue]?[relative]
            #expect(model == values, "\(file) spec.\(path) (\(owner.rawValue) \(relative)): CRD \(values), model \(model ?? [])")
        }
    }

    @Test func statusPhasesMatch() throws {
        let crd = try Fixtures.crd("chaos-mesh.org_networkchaos.yaml")
        let phase = crd.at("spec")!.at("versions")!.arrayValue![0]
            .at("schema", "openAPIV3Schema", "properties", "status", "properties", "experiment", "properties", "desiredPhase")
        #expect(phase?.at("enum")?.arrayValue?.compactMap(\.stringValue) == DesiredPhase.rawValues)
    }

    @Test func everyModelEnumIsInSomeCRD() throws {
        var seen: Set<String> = []
        for (kind, file) in SchemaCoverageTests.crdFiles {
            for (path, _) in Self.enums(in: try Fixtures.specSchema(file)) {
                let (owner, relative) = Self.resolve(kind: kind, path: path)
                seen.insert("\(owner.rawValue) \(relative)")
            }
        }
        for (kind, table) in Self.modelEnums {
            for path in table.keys {
                #expect(seen.contains("\(kind) \(path)"), "\(kind) \(path) is in no CRD")
            }
        }
    }

    /// Template types are not a CRD enum, but each chaos template type must
    /// name a kind the templates can embed.
    @Test func templateAndScheduleTypesCoverEveryEmbeddableKind() {
        for kind in ChaosKind.embeddable {
            #expect(WorkflowTemplateType.rawValues.contains(kind.rawValue))
            #expect(ScheduleTemplateType.rawValues.contains(kind.rawValue))
        }
        #expect(WorkflowTemplateType.rawValues.count == 6 + ChaosKind.embeddable.count)
    }
}
