import TumultModel

/// One schema of an OpenAPI 3.0 document: the subset of JSON Schema that
/// the description uses. A final class because schemas nest (an array's
/// items, an object's properties); immutable, so it is `Sendable`.
final class JSONSchema: Encodable, Sendable {
    /// `additionalProperties`: false, or the schema of every other key.
    enum Additional: Encodable, Sendable {
        case allowed(Bool)
        case schema(JSONSchema)

        func encode(to encoder: Encoder) throws {
            switch self {
            case .allowed(let allowed): try allowed.encode(to: encoder)
            case .schema(let schema): try schema.encode(to: encoder)
            }
        }
    }

    let ref: String?
    let type: String?
    let format: String?
    let description: String?
    let enumValues: [String]?
    let minimum: Int64?
    let maximum: Int64?
    let properties: [String: JSONSchema]?
    let required: [String]?
    let additionalProperties: Additional?
    let items: JSONSchema?
    let anyOf: [JSONSchema]?

    enum CodingKeys: String, CodingKey {
        case ref = "$ref", enumValues = "enum"
        case type, format, description, minimum, maximum, properties, required, additionalProperties, items, anyOf
    }

    init(ref: String? = nil, type: String? = nil, format: String? = nil, description: String? = nil,
         enumValues: [String]? = nil, minimum: Int64? = nil, maximum: Int64? = nil,
         properties: [String: JSONSchema]? = nil, required: [String]? = nil, additionalProperties: Additional? = nil,
         items: JSONSchema? = nil, anyOf: [JSONSchema]? = nil) {
        self.ref = ref
        self.type = type
        self.format = format
        self.description = description
        self.enumValues = enumValues
        self.minimum = minimum
        self.maximum = maximum
        self.properties = properties
        self.required = required
        self.additionalProperties = additionalProperties
        self.items = items
        self.anyOf = anyOf
    }

    // MARK: Builders

    /// `#/components/schemas/NAME`.
    static func ref(_ name: String) -> JSONSchema { JSONSchema(ref: "#/components/schemas/\(name)") }

    static func string(_ description: String? = nil, format: String? = nil, oneOf values: [String]? = nil) -> JSONSchema {
        JSONSchema(type: "string", format: format, description: description, enumValues: values)
    }

    static func integer(_ description: String? = nil, format: String? = nil, minimum: Int64? = nil, maximum: Int64? = nil) -> JSONSchema {
        JSONSchema(type: "integer", format: format, description: description, minimum: minimum, maximum: maximum)
    }

    static func int32(_ description: String? = nil) -> JSONSchema {
        integer(description, format: "int32", minimum: Int64(Int32.min), maximum: Int64(Int32.max))
    }

    static func number(_ description: String? = nil) -> JSONSchema {
        JSONSchema(type: "number", format: "double", description: description)
    }

    static func boolean(_ description: String? = nil) -> JSONSchema {
        JSONSchema(type: "boolean", description: description)
    }

    static func dateTime(_ description: String? = nil) -> JSONSchema { string(description, format: "date-time") }

    static func array(of items: JSONSchema, _ description: String? = nil) -> JSONSchema {
        JSONSchema(type: "array", description: description, items: items)
    }

    /// An object with exactly these keys: `required` always present,
    /// `optional` left out when the server has no value (Swift's encoder
    /// omits nil, it never writes null).
    static func object(_ description: String? = nil, required: [(String, JSONSchema)], optional: [(String, JSONSchema)] = [],
                       additionalProperties: Bool = false) -> JSONSchema {
        var properties: [String: JSONSchema] = [:]
        for (name, schema) in required + optional { properties[name] = schema }
        return JSONSchema(type: "object", description: description, properties: properties,
                          required: required.isEmpty ? nil : required.map(\.0).sorted(),
                          additionalProperties: .allowed(additionalProperties))
    }

    /// An object of any keys, each value of `values`.
    static func map(of values: JSONSchema, _ description: String? = nil) -> JSONSchema {
        JSONSchema(type: "object", description: description, additionalProperties: .schema(values))
    }

    /// Any JSON value (a Kubernetes object kept as it was written).
    static func any(_ description: String) -> JSONSchema { JSONSchema(description: description) }

    static func anyOf(_ schemas: [JSONSchema], _ description: String? = nil) -> JSONSchema {
        JSONSchema(description: description, anyOf: schemas)
    }
}

extension JSONSchema {
    /// A schema the model generated for its CRDs (`CustomResourceDefinitions`),
    /// so that the API describes a kind's spec from the same Swift types that
    /// read it. Keeps what OpenAPI 3.0 shares with a CRD's structural schema
    /// (type, format, enum, properties, required, items, additionalProperties);
    /// a subtree the CRD keeps unpruned becomes an object of any keys.
    static func model(_ value: Value, _ description: String? = nil) -> JSONSchema {
        guard let node = value.objectValue else { return .any(description ?? "Any value.") }
        var properties: [String: JSONSchema]?
        if let children = node["properties"]?.objectValue {
            properties = Dictionary(uniqueKeysWithValues: children.pairs.map { ($0.key, model($0.value)) })
        }
        var additional: Additional?
        if let values = node["additionalProperties"] {
            additional = .schema(model(values))
        } else if node["x-kubernetes-preserve-unknown-fields"] == .bool(true) {
            additional = .allowed(true)
        }
        func strings(_ key: String) -> [String]? {
            guard case .array(let values)? = node[key], !values.isEmpty else { return nil }
            return values.compactMap(\.stringValue)
        }
        return JSONSchema(type: node["type"]?.stringValue, format: node["format"]?.stringValue, description: description,
                          enumValues: strings("enum"),
                          properties: properties, required: strings("required"),
                          additionalProperties: additional, items: node["items"].map { model($0) })
    }
}
