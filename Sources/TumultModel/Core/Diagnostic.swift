/// One problem found in a document, tied to the field it is about.
public struct Diagnostic: Sendable, Hashable, CustomStringConvertible {
    public enum Severity: String, Sendable, Hashable, Codable {
        case error
        case warning
    }

    public var severity: Severity
    public var path: FieldPath
    public var message: String

    public init(_ severity: Severity, _ path: FieldPath, _ message: String) {
        self.severity = severity
        self.path = path
        self.message = message
    }

    public static func error(_ path: FieldPath, _ message: String) -> Diagnostic {
        Diagnostic(.error, path, message)
    }

    public static func warning(_ path: FieldPath, _ message: String) -> Diagnostic {
        Diagnostic(.warning, path, message)
    }

    public var description: String { "\(path): \(message)" }
}

/// Collects the problems of one document while it is decoded and validated.
///
/// Validation never stops at the first problem: users fix a file in one pass
/// when they see everything that is wrong with it.
public struct Diagnostics: Sendable, Hashable {
    public private(set) var items: [Diagnostic] = []

    public init() {}

    public var errors: [Diagnostic] { items.filter { $0.severity == .error } }
    public var warnings: [Diagnostic] { items.filter { $0.severity == .warning } }
    public var hasErrors: Bool { items.contains { $0.severity == .error } }

    public mutating func error(_ path: FieldPath, _ message: String) {
        append(.error(path, message))
    }

    public mutating func warning(_ path: FieldPath, _ message: String) {
        append(.warning(path, message))
    }

    public mutating func append(_ diagnostic: Diagnostic) {
        if !items.contains(diagnostic) { items.append(diagnostic) }
    }

    public mutating func append(contentsOf other: Diagnostics) {
        for item in other.items { append(item) }
    }

    /// True when an error was already reported at `path`, inside it, or at one
    /// of its parents: a rule about that field would only repeat the news.
    public func hasError(touching path: FieldPath) -> Bool {
        errors.contains { $0.path.isWithin(path) || path.isWithin($0.path) }
    }
}
