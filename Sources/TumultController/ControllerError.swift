import TumultModel

/// The controller's one error type: a code the API turns into an HTTP
/// status, a message a user can act on, and for invalid documents every
/// problem with its field path.
public struct ControllerError: Error, Sendable, CustomStringConvertible {
    public enum Code: String, Sendable {
        case invalidDocument, notFound, conflict, halted, unsupported, internalError
    }

    public var code: Code
    public var message: String
    public var diagnostics: [Diagnostic]

    public init(_ code: Code, _ message: String, diagnostics: [Diagnostic] = []) {
        self.code = code
        self.message = message
        self.diagnostics = diagnostics
    }

    public var description: String {
        ([message] + diagnostics.map(\.description)).joined(separator: "\n")
    }
}
