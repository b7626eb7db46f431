/// One node of an OpenAPI v3 schema while it is being recorded: the walk of
/// a `Decodable` type fills it in, and two containers of the same decoder
/// (a spec and the `EmbeddedChaos` read from the same object) write into the
/// same node, which is why it is a class.
final class SchemaNode {
    var type: String?
    var format: String?
    var enumValues: [String]?
    var properties: [(name: String, node: SchemaNode)] = []
    var required: [String] = []
    var items: SchemaNode?
    var additionalProperties: SchemaNode?
    var preservesUnknownFields = false
    var defaultValue: Value?

    /// The node of property `name`, created on first use.
    func property(_ name: String) -> SchemaNode {
        if let existing = properties.first(where: { $0.name == name }) { return existing.node }
        let node = SchemaNode()
        properties.append((name, node))
        return node
    }

    func require(_ name: String) {
        if !required.contains(name) { required.append(name) }
    }

    /// The node as a schema tree, keys in the order controller-gen writes them
    /// (alphabetical), properties sorted, so that output is stable and reads
    /// side by side with Chaos Mesh's CRDs.
    var value: Value {
        var object = Value.Object()
        if let additionalProperties { object["additionalProperties"] = additionalProperties.value }
        if let defaultValue { object["default"] = defaultValue }
        if let enumValues { object["enum"] = .array(enumValues.map { .string($0) }) }
        if let format { object["format"] = .string(format) }
        if let items { object["items"] = items.value }
        if !properties.isEmpty {
            var children = Value.Object()
            for (name, node) in properties.sorted(by: { $0.name < $1.name }) { children[name] = node.value }
            object["properties"] = .object(children)
        }
        if !required.isEmpty { object["required"] = .array(required.sorted().map { .string($0) }) }
        if let type { object["type"] = .string(type) }
        if preservesUnknownFields { object["x-kubernetes-preserve-unknown-fields"] = .bool(true) }
        return .object(object)
    }
}
