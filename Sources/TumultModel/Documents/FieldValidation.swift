/// What to do with fields a document's schema does not know: kubectl's
/// `--validate` and the Kubernetes API's `?fieldValidation=`.
///
/// A mistyped optional field (`jiter:`) is otherwise applied without it,
/// silently; kubectl 1.27 and later refuse it by default, and so do
/// `tumult apply`, the API and the dashboard. Only unknown fields change
/// with the level: every other warning stays a warning and every error an
/// error.
public enum FieldValidation: String, Sendable, CaseIterable {
    /// Unknown fields are errors: the document is not applied.
    case strict
    /// Unknown fields are warnings: the document is applied without them.
    case warn
    /// Unknown fields are dropped without a word.
    case ignore

    /// kubectl's `--validate` words: `strict`, `warn`, `ignore`, and the
    /// older `true` (strict) and `false` (ignore).
    public init?(flag text: String) {
        switch text.lowercased() {
        case "strict", "true": self = .strict
        case "warn": self = .warn
        case "ignore", "false": self = .ignore
        default: return nil
        }
    }

    /// The API's `fieldValidation` values, `Strict`, `Warn` and `Ignore`
    /// (any case: a client that lower-cases them means the same).
    public init?(queryValue text: String) {
        self.init(rawValue: text.lowercased())
    }

    /// `Strict`, `Warn` or `Ignore`, as the query parameter spells it.
    public var queryValue: String { rawValue.prefix(1).uppercased() + rawValue.dropFirst() }

    /// Whether `diagnostic` says that a field is not in the schema. The
    /// decoder reports those, and only those, as `unknown field "NAME"`.
    public static func isUnknownField(_ diagnostic: Diagnostic) -> Bool {
        diagnostic.message.hasPrefix("unknown field \"")
    }

    /// The report with its unknown fields made errors, kept as warnings, or
    /// dropped. A valid document becomes invalid when one turns into an
    /// error; an invalid one stays invalid (its other errors remain).
    public func applied(to report: DocumentLoader.Report) -> DocumentLoader.Report {
        var changed = report
        var diagnostics = Diagnostics()
        for item in report.diagnostics.items {
            guard item.severity == .warning, Self.isUnknownField(item) else {
                diagnostics.append(item)
                continue
            }
            switch self {
            case .strict: diagnostics.append(.error(item.path, item.message))
            case .warn: diagnostics.append(item)
            case .ignore: continue
            }
        }
        changed.diagnostics = diagnostics
        if diagnostics.hasErrors, case .valid = report.outcome { changed.outcome = .invalid }
        return changed
    }
}

extension DocumentLoader {
    /// Checks one document tree with unknown fields treated as `validation` says.
    public func check(_ value: Value, index: Int = 1, fieldValidation validation: FieldValidation) -> Report {
        validation.applied(to: check(value, index: index))
    }

    /// Parses and checks every document in `text` with unknown fields
    /// treated as `validation` says. Throws only when the text is not YAML or JSON.
    public func load(_ text: String, fieldValidation validation: FieldValidation) throws -> [Report] {
        try load(text).map(validation.applied(to:))
    }
}
