import Foundation
import TumultModel

/// An OpenAPI 3.0 document, as far as Tumult's description needs it:
/// plain `Encodable` values, so that the description is Swift the compiler
/// checks and `GET /api/openapi.json` serves its encoding. 3.0 rather than
/// 3.1 because it is what clients and schemathesis handle most widely.
struct OpenAPIDocument: Encodable, Sendable {
    var openapi = "3.0.3"
    var info: Info
    var paths: [String: PathItem]
    var components: Components
    /// The bearer token, or nothing (a server on loopback started without one).
    var security: [[String: [String]]]
    var tags: [Tag]

    struct Info: Encodable, Sendable {
        var title: String
        var version: String
        var description: String
    }

    struct Tag: Encodable, Sendable {
        var name: String
        var description: String
    }

    struct Components: Encodable, Sendable {
        var schemas: [String: JSONSchema]
        var securitySchemes: [String: SecurityScheme]
    }

    struct SecurityScheme: Encodable, Sendable {
        var type: String
        var scheme: String?
        var name: String?
        var location: String?
        var description: String

        enum CodingKeys: String, CodingKey {
            case type, scheme, name, description
            case location = "in"
        }
    }

    /// The operations of one path, by method.
    struct PathItem: Encodable, Sendable {
        var operations: [String: Operation] = [:]

        func encode(to encoder: Encoder) throws {
            try operations.encode(to: encoder)
        }
    }

    struct Operation: Encodable, Sendable {
        var operationId: String
        var summary: String
        var description: String?
        var tags: [String]
        var parameters: [Parameter]?
        var requestBody: RequestBody?
        var responses: [String: Response]
        /// Overrides the document's: `[]` for the public dashboard page.
        var security: [[String: [String]]]?
    }

    struct Parameter: Encodable, Sendable {
        var name: String
        var location: String
        var required: Bool
        var description: String
        var schema: JSONSchema

        enum CodingKeys: String, CodingKey {
            case name, required, description, schema
            case location = "in"
        }
    }

    struct RequestBody: Encodable, Sendable {
        var description: String
        var required: Bool
        var content: [String: MediaType]
    }

    struct MediaType: Encodable, Sendable {
        var schema: JSONSchema
        /// A body that works, for clients and for schemathesis's examples phase.
        var example: Value?

        init(schema: JSONSchema, example: Value? = nil) {
            self.schema = schema
            self.example = example
        }
    }

    struct Header: Encodable, Sendable {
        var description: String
        var schema: JSONSchema
    }

    struct Response: Encodable, Sendable {
        var description: String
        var headers: [String: Header]?
        var content: [String: MediaType]?
    }

    /// The document as JSON, keys sorted so that the text is stable.
    func encoded() -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        // Every value is a plain string, number or container: encoding cannot fail.
        return (try? encoder.encode(self)) ?? Data("{}".utf8)
    }
}
