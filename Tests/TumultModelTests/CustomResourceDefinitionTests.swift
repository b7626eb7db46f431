import Foundation
import Testing
import TumultModel

/// Tumult's generated CRDs against Chaos Mesh's own: every difference between
/// the two schemas of every kind is listed (the test log is the list), and
/// the test fails on any that changes what a cluster accepts, prunes or
/// defaults. Then the reverse direction on real documents: every Chaos Mesh
/// example passes the generated schemas unchanged.
@Suite struct CustomResourceDefinitionTests {
    // MARK: Chaos Mesh's files

    static let conformance: URL = {
        var url = URL(fileURLWithPath: #filePath)
        for _ in 0..<4 { url.deleteLastPathComponent() }
        return url.appendingPathComponent("shared/conformance/chaos-mesh")
    }()

    /// Chaos Mesh's CRD of `kind`, found by the plural Tumult gives it.
    static func chaosMeshDefinition(_ kind: ChaosKind) throws -> Value {
        let plural = try #require(CustomResourceDefinitions.plural(of: kind))
        let url = conformance.appendingPathComponent("crds/chaos-mesh.org_\(plural).yaml")
        return try DocumentText.parse(String(contentsOf: url, encoding: .utf8))[0]
    }

    /// Chaos Mesh's CRDs for its own machinery, which are not documents users
    /// write and which Tumult does not model.
    static let internalDefinitions: [(file: String, why: String)] = [
        ("chaos-mesh.org_podnetworkchaos.yaml", "Chaos Mesh's per-pod record of NetworkChaos rules for its daemon; Tumult's agents keep their own journal"),
        ("chaos-mesh.org_podiochaos.yaml", "Chaos Mesh's per-pod record of IOChaos for its daemon"),
        ("chaos-mesh.org_podhttpchaos.yaml", "Chaos Mesh's per-pod record of HTTPChaos for its daemon"),
        ("chaos-mesh.org_workflownodes.yaml", "Chaos Mesh's controller state for one Workflow step; Tumult keeps workflow state in its store"),
        ("chaos-mesh.org_remoteclusters.yaml", "multi-cluster registration, not modelled by Tumult"),
    ]

    // MARK: The comparison

    struct Difference: CustomStringConvertible {
        var path: String
        var what: String
        /// Whether a cluster with one set of CRDs would accept, prune or
        /// default a document differently from a cluster with the other.
        var changesMeaning: Bool
        var description: String { "\(changesMeaning ? "MEANING-CHANGING" : "ok") \(path): \(what)" }
    }

    /// Walks both schemas side by side, noting every difference with its
    /// classification and every node that matches.
    struct Comparison {
        var differences: [Difference] = []
        var matches: [String] = []

        mutating func note(_ path: String, _ what: String, changesMeaning: Bool) {
            differences.append(Difference(path: path, what: what, changesMeaning: changesMeaning))
        }

        /// `tumultKeeps`: Tumult's schema preserves unknown fields here or above.
        /// `freeForm`: that place is a free-form tree in Tumult's model (`Value`,
        /// a Kubernetes object kept as written).
        mutating func compare(_ chaosMesh: Value.Object, _ tumult: Value.Object, path: String, tumultKeeps: Bool, chaosMeshKeeps: Bool,
                              freeForm: Bool = false) {
            let cmPreserves = chaosMesh["x-kubernetes-preserve-unknown-fields"] == .bool(true)
            let tuPreserves = tumult["x-kubernetes-preserve-unknown-fields"] == .bool(true)
            let tumultKeepsHere = tumultKeeps || tuPreserves
            let chaosMeshKeepsHere = chaosMeshKeeps || cmPreserves
            let freeFormHere = freeForm || (tuPreserves && tumult["type"] == nil)

            // type
            let cmType = chaosMesh["type"]?.stringValue
            let tuType = tumult["type"]?.stringValue
            let cmIntOrString = chaosMesh["x-kubernetes-int-or-string"] == .bool(true)
            let tuIntOrString = tumult["x-kubernetes-int-or-string"] == .bool(true)
            if cmType == tuType && cmIntOrString == tuIntOrString {
                matches.append("\(path): type \(cmType ?? "any") vs \(tuType ?? "any") ✓")
            } else if tuType == nil && tuPreserves && !tuIntOrString {
                note(path, "type \(cmIntOrString ? "int-or-string" : cmType ?? "any") vs any (Tumult keeps the value as written; its decoder checks it)", changesMeaning: false)
            } else {
                note(path, "type differs: Chaos Mesh \(cmIntOrString ? "int-or-string" : cmType ?? "any"), Tumult \(tuIntOrString ? "int-or-string" : tuType ?? "any")", changesMeaning: true)
            }

            // enum
            let cmEnum = chaosMesh["enum"].map(Self.strings)
            let tuEnum = tumult["enum"].map(Self.strings)
            switch (cmEnum, tuEnum) {
            case (nil, nil): break
            case (let cm?, nil):
                note(path, "enum only in Chaos Mesh \(cm) (Tumult's CRD accepts any string; its decoder refuses others)", changesMeaning: false)
            case (nil, let tu?):
                note(path, "enum only in Tumult \(tu): Tumult's CRD refuses strings Chaos Mesh's accepts", changesMeaning: true)
            case (let cm?, let tu?):
                let lacking = cm.filter { !tu.contains($0) }
                let extra = tu.filter { !cm.contains($0) }
                if lacking.isEmpty && extra.isEmpty {
                    matches.append("\(path): enum \(cm) ✓")
                } else {
                    if !lacking.isEmpty { note(path, "enum differs (Tumult lacks \(lacking))", changesMeaning: true) }
                    if !extra.isEmpty { note(path, "enum differs (Tumult also allows \(extra))", changesMeaning: false) }
                }
            }

            // default: the API server stores it, so both must agree.
            if chaosMesh["default"] != tumult["default"] {
                note(path, "default differs: Chaos Mesh \(chaosMesh["default"]?.brief ?? "none"), Tumult \(tumult["default"]?.brief ?? "none")",
                     changesMeaning: true)
            } else if let value = chaosMesh["default"] {
                matches.append("\(path): default \(value.brief) ✓")
            }

            // format
            let cmFormat = chaosMesh["format"]?.stringValue
            let tuFormat = tumult["format"]?.stringValue
            if cmFormat != tuFormat {
                // A format Tumult adds would refuse values Chaos Mesh's accepts.
                let stricter = tuFormat != nil
                note(path, "format differs: Chaos Mesh \(cmFormat ?? "none"), Tumult \(tuFormat ?? "none")"
                     + (stricter ? "" : " (looser: Tumult's CRD accepts every value Chaos Mesh's accepts)"), changesMeaning: stricter)
            }

            // validation Chaos Mesh's CRD does and Tumult's does in its validator
            for keyword in ["pattern", "minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum", "minLength", "maxLength",
                            "minItems", "maxItems"] where chaosMesh[keyword] != tumult[keyword] {
                let stricter = tumult[keyword] != nil
                note(path, "\(keyword) differs: Chaos Mesh \(chaosMesh[keyword]?.brief ?? "none"), Tumult \(tumult[keyword]?.brief ?? "none")"
                     + (stricter ? "" : " (checked by Tumult's validator)"), changesMeaning: stricter)
            }

            // null: a null in a field that is not nullable is pruned, which is what absent means to both.
            if chaosMesh["nullable"] != tumult["nullable"] {
                note(path, "nullable only in Chaos Mesh: Tumult's API server prunes a null here, which both read as absent",
                     changesMeaning: false)
            }

            // merge strategies for server-side apply; no effect on what is accepted or stored.
            for keyword in ["x-kubernetes-list-type", "x-kubernetes-map-type", "x-kubernetes-list-map-keys"]
            where chaosMesh[keyword] != tumult[keyword] {
                note(path, "\(keyword) differs: Chaos Mesh \(chaosMesh[keyword]?.brief ?? "none"), Tumult \(tumult[keyword]?.brief ?? "none") (server-side apply merge only)",
                     changesMeaning: false)
            }

            // pruning
            if cmPreserves != tuPreserves {
                if cmPreserves && !tumultKeepsHere {
                    note(path, "Chaos Mesh keeps unknown fields here, Tumult's CRD prunes them", changesMeaning: true)
                } else if tuPreserves && !chaosMeshKeeps {
                    note(path, "Tumult keeps unknown fields here, Chaos Mesh's CRD prunes them (a Chaos Mesh document has none to lose)",
                         changesMeaning: false)
                }
            }

            // required
            let cmRequired = Set(chaosMesh["required"].map(Self.strings) ?? [])
            let tuRequired = Set(tumult["required"].map(Self.strings) ?? [])
            let tumultProperties = tumult["properties"]?.objectValue
            for field in tuRequired.subtracting(cmRequired).sorted() {
                if tumultProperties?[field]?.objectValue?["default"] != nil {
                    note(path, "required differs: Tumult requires \(field), which its CRD defaults (defaults apply before validation)",
                         changesMeaning: false)
                } else {
                    note(path, "required differs: Tumult requires \(field), Chaos Mesh does not", changesMeaning: true)
                }
            }
            for field in cmRequired.subtracting(tuRequired).sorted() {
                note(path, "required differs: Chaos Mesh requires \(field), Tumult's CRD does not (Tumult's decoder does)", changesMeaning: false)
            }

            // properties
            let cmProperties = chaosMesh["properties"]?.objectValue ?? Value.Object()
            let tuProperties = tumultProperties ?? Value.Object()
            for key in cmProperties.keys.sorted() {
                let child = path.isEmpty ? key : "\(path).\(key)"
                guard let cmChild = cmProperties[key]?.objectValue else { continue }
                if let tuChild = tuProperties[key]?.objectValue {
                    compare(cmChild, tuChild, path: child, tumultKeeps: tumultKeepsHere, chaosMeshKeeps: chaosMeshKeepsHere, freeForm: freeFormHere)
                } else {
                    onlyInChaosMesh(cmChild, path: child, kept: tumultKeepsHere, freeForm: freeFormHere)
                }
            }
            for key in tuProperties.keys.sorted() where cmProperties[key] == nil {
                let child = path.isEmpty ? key : "\(path).\(key)"
                if chaosMeshKeepsHere {
                    note(child, "only in Tumult (Chaos Mesh's CRD keeps it unvalidated)", changesMeaning: false)
                } else {
                    note(child, "only in Tumult: a cluster with Chaos Mesh's CRDs prunes it", changesMeaning: false)
                }
            }

            // items and maps
            if let cmItems = chaosMesh["items"]?.objectValue {
                if let tuItems = tumult["items"]?.objectValue {
                    compare(cmItems, tuItems, path: path + "[]", tumultKeeps: tumultKeepsHere, chaosMeshKeeps: chaosMeshKeepsHere, freeForm: freeFormHere)
                } else {
                    onlyInChaosMesh(cmItems, path: path + "[]", kept: tumultKeepsHere, freeForm: freeFormHere)
                }
            }
            if let cmValues = chaosMesh["additionalProperties"]?.objectValue {
                if let tuValues = tumult["additionalProperties"]?.objectValue {
                    compare(cmValues, tuValues, path: path + "{}", tumultKeeps: tumultKeepsHere, chaosMeshKeeps: chaosMeshKeepsHere, freeForm: freeFormHere)
                } else {
                    onlyInChaosMesh(cmValues, path: path + "{}", kept: tumultKeepsHere, freeForm: freeFormHere)
                }
            } else if tumult["additionalProperties"] != nil {
                note(path + "{}", "map values only in Tumult", changesMeaning: !chaosMeshKeepsHere)
            }
        }

        /// A subtree only Chaos Mesh describes: pruned by Tumult's CRD unless
        /// Tumult keeps unknown fields there; its defaults are not applied.
        /// Inside a free-form Kubernetes object (a Workflow task's container
        /// and volumes) they are core/v1's own defaults, which the API server
        /// applies again to any Pod built from that object, so what runs is
        /// the same; anywhere else a missing default changes the stored object.
        mutating func onlyInChaosMesh(_ schema: Value.Object, path: String, kept: Bool, freeForm: Bool) {
            let count = Self.nodeCount(schema)
            if kept {
                note(path, "only in Chaos Mesh (\(count) schema nodes), kept as written by Tumult's x-kubernetes-preserve-unknown-fields", changesMeaning: false)
            } else {
                note(path, "only in Chaos Mesh (\(count) schema nodes): a cluster with Tumult's CRDs prunes it", changesMeaning: true)
            }
            for (defaultPath, value) in Self.defaults(in: schema, path: path) {
                if freeForm {
                    note(defaultPath, "default \(value.brief) only in Chaos Mesh, inside a Kubernetes object Tumult keeps as written: "
                         + "core/v1 applies the same default to the Pod built from it", changesMeaning: false)
                } else {
                    note(defaultPath, "default \(value.brief) only in Chaos Mesh, inside a subtree Tumult does not describe", changesMeaning: true)
                }
            }
        }

        static func strings(_ value: Value) -> [String] {
            guard case .array(let values) = value else { return [] }
            return values.map { $0.stringValue ?? $0.brief }
        }

        static func nodeCount(_ schema: Value.Object) -> Int {
            var count = 1
            for (_, child) in schema["properties"]?.objectValue?.pairs ?? [] {
                if let child = child.objectValue { count += nodeCount(child) }
            }
            for key in ["items", "additionalProperties"] {
                if let child = schema[key]?.objectValue { count += nodeCount(child) }
            }
            return count
        }

        static func defaults(in schema: Value.Object, path: String) -> [(String, Value)] {
            var found: [(String, Value)] = []
            if let value = schema["default"] { found.append((path, value)) }
            for (key, child) in schema["properties"]?.objectValue?.pairs ?? [] {
                if let child = child.objectValue { found += defaults(in: child, path: "\(path).\(key)") }
            }
            if let items = schema["items"]?.objectValue { found += defaults(in: items, path: path + "[]") }
            if let values = schema["additionalProperties"]?.objectValue { found += defaults(in: values, path: path + "{}") }
            return found
        }
    }

    /// The definition-level fields: names, scope, version, columns, subresources.
    static func compareDefinitions(_ chaosMesh: Value, _ tumult: Value, into comparison: inout Comparison) {
        let cmNames = chaosMesh.child("spec", "names")?.objectValue ?? Value.Object()
        let tuNames = tumult.child("spec", "names")?.objectValue ?? Value.Object()
        for key in Set(cmNames.keys + tuNames.keys).sorted() {
            if cmNames[key] == tuNames[key] {
                comparison.matches.append("names.\(key): \(cmNames[key]?.brief ?? "") ✓")
            } else {
                comparison.note("names.\(key)", "Chaos Mesh \(cmNames[key]?.brief ?? "none"), Tumult \(tuNames[key]?.brief ?? "none")",
                                changesMeaning: true)
            }
        }
        for key in ["group", "scope"] where chaosMesh.child("spec", key) != tumult.child("spec", key) {
            comparison.note(key, "Chaos Mesh \(chaosMesh.child("spec", key)?.brief ?? "none"), Tumult \(tumult.child("spec", key)?.brief ?? "none")",
                            changesMeaning: true)
        }
        if chaosMesh.child("metadata", "name") != tumult.child("metadata", "name") {
            comparison.note("metadata.name", "differs", changesMeaning: true)
        }
        let cmVersion = chaosMesh.child("spec", "versions")?.items?.first?.objectValue ?? Value.Object()
        let tuVersion = tumult.child("spec", "versions")?.items?.first?.objectValue ?? Value.Object()
        for key in ["name", "served", "storage"] where cmVersion[key] != tuVersion[key] {
            comparison.note("versions[0].\(key)", "Chaos Mesh \(cmVersion[key]?.brief ?? "none"), Tumult \(tuVersion[key]?.brief ?? "none")",
                            changesMeaning: true)
        }
        let cmColumns = (cmVersion["additionalPrinterColumns"]?.items ?? []).compactMap { $0.objectValue?["name"]?.stringValue }
        let tuColumns = (tuVersion["additionalPrinterColumns"]?.items ?? []).compactMap { $0.objectValue?["name"]?.stringValue }
        if cmColumns != tuColumns {
            comparison.note("additionalPrinterColumns", "Chaos Mesh \(cmColumns), Tumult \(tuColumns) (kubectl get output only)",
                            changesMeaning: false)
        }
        let cmSubresources = Set(cmVersion["subresources"]?.objectValue?.keys ?? [])
        let tuSubresources = Set(tuVersion["subresources"]?.objectValue?.keys ?? [])
        if cmSubresources != tuSubresources {
            // A status subresource decides where status is written: with it,
            // a write of the object drops status; without it, `/status` is
            // 404. A controller written for one set of CRDs fails on the other.
            comparison.note("subresources", "Chaos Mesh \(cmSubresources.sorted()), Tumult \(tuSubresources.sorted())"
                            + " (decides whether status is written through /status or with the object)",
                            changesMeaning: true)
        }
    }

    static func generatedSchema(_ kind: ChaosKind) throws -> Value.Object {
        let definition = try #require(CustomResourceDefinitions.definition(for: kind))
        return try #require(rootSchema(definition))
    }

    static func rootSchema(_ definition: Value) -> Value.Object? {
        definition.child("spec", "versions")?.items?.first?.child("schema", "openAPIV3Schema")?.objectValue
    }

    /// The kinds Chaos Mesh has a CRD for: all but Tumult's own (tumult.dev).
    static let chaosMeshKinds = ChaosKind.allCases.filter(\.isChaosMesh)

    @Test(arguments: chaosMeshKinds)
    func schemaMatchesChaosMesh(kind: ChaosKind) throws {
        let chaosMesh = try Self.chaosMeshDefinition(kind)
        let tumult = try #require(CustomResourceDefinitions.definition(for: kind))
        var comparison = Comparison()
        Self.compareDefinitions(chaosMesh, tumult, into: &comparison)
        comparison.compare(try #require(Self.rootSchema(chaosMesh)), try #require(Self.rootSchema(tumult)),
                           path: "", tumultKeeps: false, chaosMeshKeeps: false)
        var report = "== \(kind.rawValue): \(comparison.matches.count) matching, \(comparison.differences.count) differences\n"
        for line in comparison.matches { report += "   \(line)\n" }
        for difference in comparison.differences { report += "   \(difference)\n" }
        print(report, terminator: "")
        let changing = comparison.differences.filter(\.changesMeaning)
        #expect(changing.isEmpty, "\(kind.rawValue): \(changing.map(\.description).joined(separator: "\n"))")
    }

    @Test func internalDefinitionsAreNotGenerated() throws {
        let generated = Set(CustomResourceDefinitions.definitions().compactMap { $0.child("metadata", "name")?.stringValue })
        let files = try FileManager.default.contentsOfDirectory(atPath: Self.conformance.appendingPathComponent("crds").path)
        for (file, why) in Self.internalDefinitions {
            #expect(files.contains(file))
            let name = String(file.dropFirst("chaos-mesh.org_".count).dropLast(".yaml".count)) + ".chaos-mesh.org"
            #expect(!generated.contains(name))
            print("not generated: \(name): \(why)")
        }
        // Every other Chaos Mesh CRD is one Tumult generates.
        let modelled = Set(Self.chaosMeshKinds.compactMap { CustomResourceDefinitions.plural(of: $0) }.map { "chaos-mesh.org_\($0).yaml" })
        #expect(Set(files.filter { $0.hasSuffix(".yaml") }) == modelled.union(Self.internalDefinitions.map(\.file)))
        #expect(generated.count == ChaosKind.allCases.count)
    }

    // MARK: Structure and output

    /// Kubernetes refuses a CRD whose schema is not structural.
    static func structuralProblems(_ schema: Value.Object, path: String) -> [String] {
        var problems: [String] = []
        let preserves = schema["x-kubernetes-preserve-unknown-fields"] == .bool(true)
        let intOrString = schema["x-kubernetes-int-or-string"] == .bool(true)
        if schema["type"] == nil && !preserves && !intOrString { problems.append("\(path): no type") }
        if schema["properties"] != nil && schema["additionalProperties"] != nil {
            problems.append("\(path): both properties and additionalProperties")
        }
        if let type = schema["type"]?.stringValue, !["object", "array", "string", "integer", "number", "boolean"].contains(type) {
            problems.append("\(path): type \(type)")
        }
        if schema["type"]?.stringValue == "array" && schema["items"] == nil { problems.append("\(path): array without items") }
        for (key, child) in schema["properties"]?.objectValue?.pairs ?? [] {
            problems += structuralProblems(child.objectValue ?? Value.Object(), path: "\(path).\(key)")
        }
        if let items = schema["items"]?.objectValue { problems += structuralProblems(items, path: path + "[]") }
        if let values = schema["additionalProperties"]?.objectValue { problems += structuralProblems(values, path: path + "{}") }
        return problems
    }

    @Test func networkChaosSchemaIsStructural() throws {
        let definition = try #require(CustomResourceDefinitions.definition(for: .networkChaos))
        let schema = try #require(Self.rootSchema(definition))
        #expect(Self.structuralProblems(schema, path: "").isEmpty, "\(Self.structuralProblems(schema, path: ""))")
        #expect(schema.child("properties", "spec", "properties", "delay", "properties", "latency", "type") == .string("string"))
        #expect(schema.child("properties", "spec", "properties", "direction", "default") == .string("to"))
        #expect(definition.child("metadata", "name") == .string("networkchaos.chaos-mesh.org"))
    }

    @Test(arguments: ChaosKind.allCases)
    func everySchemaIsStructural(kind: ChaosKind) throws {
        let schema = try Self.generatedSchema(kind)
        let problems = Self.structuralProblems(schema, path: "")
        #expect(problems.isEmpty, "\(kind.rawValue): \(problems)")
    }

    @Test func yamlReadsBackAsTheSameTrees() throws {
        let text = CustomResourceDefinitions.yaml()
        let parsed = try DocumentText.parse(text, budget: DocumentText.Budget(bytes: 16 << 20, nodes: 1_000_000))
        let definitions = CustomResourceDefinitions.definitions()
        #expect(parsed.count == ChaosKind.allCases.count)
        #expect(parsed == definitions)
        #expect(text.hasPrefix("---\napiVersion: apiextensions.k8s.io/v1\n"))
        #expect(CustomResourceDefinitions.yaml() == text, "output is stable")
    }

    @Test func pluralsAreChaosMeshs() throws {
        for kind in Self.chaosMeshKinds {
            let chaosMesh = try Self.chaosMeshDefinition(kind)
            #expect(chaosMesh.child("spec", "names", "plural")?.stringValue == CustomResourceDefinitions.plural(of: kind))
        }
    }

    // MARK: Chaos Mesh's documents against the generated schemas

    /// What a cluster would refuse or prune in `value` under `schema`.
    static func validate(_ value: Value, against schema: Value.Object, path: String) -> [String] {
        if schema["x-kubernetes-int-or-string"] == .bool(true) {
            switch value {
            case .integer, .string: return []
            default: return ["\(path): expected an integer or a string, got \(value.typeDescription)"]
            }
        }
        var problems: [String] = []
        switch (schema["type"]?.stringValue, value) {
        case (nil, _), ("string", .string), ("integer", .integer), ("number", .integer), ("number", .double),
             ("boolean", .bool), ("array", .array), ("object", .object):
            break
        case (_, .null) where schema["nullable"] == .bool(true):
            return []
        case (let type?, _):
            return ["\(path): expected \(type), got \(value.typeDescription) \(value.brief)"]
        }
        if case .array(let choices)? = schema["enum"], !choices.contains(value) {
            problems.append("\(path): \(value.brief) is not one of \(choices.map(\.brief))")
        }
        switch value {
        case .object(let object):
            let properties = schema["properties"]?.objectValue
            for field in Comparison.strings(schema["required"] ?? .array([])) where object[field] == nil {
                problems.append("\(path).\(field): required")
            }
            for (key, child) in object.pairs {
                if path.isEmpty && key == "metadata" {
                    // The API server checks metadata as ObjectMeta, whatever the CRD says.
                    continue
                }
                if let childSchema = properties?[key]?.objectValue {
                    problems += validate(child, against: childSchema, path: "\(path).\(key)")
                } else if let values = schema["additionalProperties"]?.objectValue {
                    problems += validate(child, against: values, path: "\(path).\(key)")
                } else if schema["x-kubernetes-preserve-unknown-fields"] != .bool(true) {
                    problems.append("\(path).\(key): unknown, would be pruned")
                }
            }
        case .array(let values):
            if let items = schema["items"]?.objectValue {
                for (position, item) in values.enumerated() {
                    problems += validate(item, against: items, path: "\(path)[\(position)]")
                }
            }
        default:
            break
        }
        return problems
    }

    /// Every document of every example file, with the file's name.
    static func exampleDocuments() throws -> [(file: String, document: Value)] {
        let root = conformance.appendingPathComponent("examples")
        let enumerator = try #require(FileManager.default.enumerator(atPath: root.path))
        var documents: [(String, Value)] = []
        var files = 0
        while let relative = enumerator.nextObject() as? String {
            guard relative.hasSuffix(".yaml") || relative.hasSuffix(".yml") else { continue }
            files += 1
            let text = try String(contentsOf: root.appendingPathComponent(relative), encoding: .utf8)
            for document in try DocumentText.parse(text) { documents.append((relative, document)) }
        }
        #expect(files == 49)
        return documents.sorted { $0.0 < $1.0 }
    }

    @Test func everyExampleValidatesAgainstTheGeneratedSchema() throws {
        var checked = 0
        for (file, document) in try Self.exampleDocuments() {
            let kindName = document.child("kind")?.stringValue ?? ""
            guard document.child("apiVersion")?.stringValue == "chaos-mesh.org/v1alpha1", let kind = ChaosKind(rawValue: kindName) else {
                print("skipped \(file): \(kindName) is not a kind Tumult models")
                continue
            }
            let tumult = try Self.generatedSchema(kind)
            let problems = Self.validate(document, against: tumult, path: "")
            #expect(problems.isEmpty, "\(file) (\(kindName)): \(problems)")
            // The validator itself agrees with Chaos Mesh's schema on the same document.
            let chaosMesh = try #require(Self.rootSchema(Self.chaosMeshDefinition(kind)))
            let chaosMeshProblems = Self.validate(document, against: chaosMesh, path: "")
            #expect(chaosMeshProblems.isEmpty, "\(file) under Chaos Mesh's CRD: \(chaosMeshProblems)")
            checked += 1
        }
        print("validated \(checked) chaos-mesh.org documents against the generated CRDs")
        #expect(checked >= 40)
    }

    @Test func validatorRefusesWhatAClusterWould() throws {
        let schema = try Self.generatedSchema(.networkChaos)
        let document = try DocumentText.parse("""
            apiVersion: chaos-mesh.org/v1alpha1
            kind: NetworkChaos
            metadata: {name: x}
            spec: {action: slow, mode: one, selector: {}, delay: {latency: 10}, extra: 1}
            """)[0]
        let problems = Self.validate(document, against: schema, path: "")
        #expect(problems.contains { $0.hasPrefix(".spec.action:") })
        #expect(problems.contains { $0.hasPrefix(".spec.delay.latency: expected string") })
        #expect(problems.contains { $0.hasPrefix(".spec.extra: unknown") })
    }

    // MARK: Defaults

    /// The defaults the CRDs declare are those Tumult's `applyDefaults()` fills
    /// in: applying the schema's defaults to an example gives the same values
    /// as Tumult's own normalisation, so both routes store the same object.
    static func schemaDefaults(_ value: Value, _ schema: Value.Object, path: [String]) -> [([String], Value)] {
        var found: [([String], Value)] = []
        guard case .object(let object) = value, let properties = schema["properties"]?.objectValue else { return [] }
        for (key, child) in properties.pairs {
            guard let childSchema = child.objectValue else { continue }
            if let present = object[key] {
                found += schemaDefaults(present, childSchema, path: path + [key])
            } else if let value = childSchema["default"] {
                found.append((path + [key], value))
            }
        }
        return found
    }

    @Test func declaredDefaultsAreTumultsDefaults() throws {
        var seen = 0
        for (file, document) in try Self.exampleDocuments() {
            guard let kind = ChaosKind(rawValue: document.child("kind")?.stringValue ?? ""),
                  document.child("apiVersion")?.stringValue == "chaos-mesh.org/v1alpha1" else { continue }
            let schema = try Self.generatedSchema(kind)
            let report = DocumentLoader().check(document)
            let loaded = try #require(report.document, "\(file): \(report.diagnostics.errors)")
            let normalized = try loaded.normalized().encoded()
            for (path, value) in Self.schemaDefaults(document, schema, path: []) {
                var current: Value? = normalized
                for key in path { current = current?.objectValue?[key] }
                #expect(current == value, "\(file): \(path.joined(separator: ".")) defaults to \(value.brief) in the CRD, \(current?.brief ?? "nothing") in Tumult")
                seen += 1
            }
        }
        #expect(seen > 0)
    }
}

extension Value {
    /// The value at a path of object keys.
    fileprivate func child(_ keys: String...) -> Value? {
        var current: Value? = self
        for key in keys { current = current?.objectValue?[key] }
        return current
    }

    fileprivate var items: [Value]? {
        if case .array(let values) = self { return values }
        return nil
    }
}

extension Value.Object {
    fileprivate func child(_ keys: String...) -> Value? {
        guard let first = keys.first else { return .object(self) }
        var current: Value? = self[first]
        for key in keys.dropFirst() { current = current?.objectValue?[key] }
        return current
    }
}
