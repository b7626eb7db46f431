import Hummingbird
import TumultModel

/// Kubernetes' `?fieldValidation=Strict|Warn|Ignore` on the routes that take
/// documents, and the warnings that come back with what was applied.
extension APIRoutes {
    /// The request's `fieldValidation`, Strict when absent (what kubectl
    /// 1.27 and later sends). Any other value is refused rather than
    /// guessed: a client that meant Strict must not get Ignore.
    static func fieldValidation(of request: Request) throws -> FieldValidation {
        guard let given = request.uri.queryParameters.get("fieldValidation"), !given.isEmpty else { return .strict }
        guard let validation = FieldValidation(queryValue: given) else {
            let message = "\"\(given)\" is not a field validation: use Strict, Warn or Ignore"
            throw APIError(.badRequest, "BadRequest", "fieldValidation: \(message)",
                           errors: [.init(path: "fieldValidation", message: message)])
        }
        return validation
    }

    /// The warnings of the documents, each with its field path, as the
    /// answer lists them (`document` only when the body held several).
    static func warnings(of reports: [DocumentLoader.Report]) -> [[APIError.FieldError]] {
        reports.map { report in
            report.diagnostics.warnings.map {
                APIError.FieldError(path: $0.path.description, message: $0.message,
                                    document: reports.count > 1 ? report.index : nil)
            }
        }
    }

    /// `Warning` (swift-http-types has no name for it: RFC 9111 obsoleted it,
    /// but Kubernetes still sends it and its clients print it).
    /// (Hummingbird re-exports `HTTPFields` but not its element type.)
    static let warningHeader = HTTPFields.Element.Name("Warning")!

    /// `response` with one `Warning: 299 - "..."` header per warning, as
    /// the Kubernetes API server sends them (kubectl prints each).
    static func addingWarningHeaders(_ warnings: [APIError.FieldError], to response: Response) -> Response {
        var response = response
        for warning in warnings {
            response.headers.append(.init(name: warningHeader, value: warningHeaderValue(warning)))
        }
        return response
    }

    /// RFC 9111's warn-code 299 ("miscellaneous persistent warning"), no
    /// agent, and the text quoted: `299 - "spec.delay.jiter: unknown field \"jiter\""`.
    /// Characters a header cannot carry become `?`.
    static func warningHeaderValue(_ warning: APIError.FieldError) -> String {
        let text = (warning.document.map { "doc \($0): " } ?? "") + "\(warning.path): \(warning.message)"
        var quoted = ""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"", "\\": quoted += "\\" + String(scalar)
            case " "..."~": quoted.unicodeScalars.append(scalar)
            default: quoted += "?"
            }
        }
        return "299 - \"\(quoted)\""
    }
}

/// What `POST /api/experiments` answers for one document: the applied
/// object and, when it had any, its warnings (unknown fields under Warn,
/// and the model's own advice).
struct AppliedAnswer: Encodable, Sendable {
    var applied: AppliedObject
    var warnings: [APIError.FieldError]

    func encode(to encoder: Encoder) throws {
        try applied.encode(to: encoder)
        guard !warnings.isEmpty else { return }
        var container = encoder.container(keyedBy: Key.self)
        try container.encode(warnings, forKey: .warnings)
    }

    enum Key: String, CodingKey { case warnings }
}
