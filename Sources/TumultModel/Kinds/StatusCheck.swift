/// StatusCheck: a probe of the system's steady state (HTTP), run once or
/// continuously, that a Workflow can abort on.
public struct StatusCheckSpec: ChaosSpec {
    public static let kind = ChaosKind.statusCheck

    public enum Mode: String, ChaosEnum {
        case synchronous = "Synchronous"
        case continuous = "Continuous"
    }

    public enum CheckType: String, ChaosEnum {
        case http = "HTTP"
    }

    public var mode: Mode?
    public var type: CheckType
    public var duration: GoDuration?
    public var timeoutSeconds: Int?
    public var intervalSeconds: Int?
    public var failureThreshold: Int?
    public var successThreshold: Int?
    public var recordsHistoryLimit: Int?
    public var http: HTTPStatusCheck?

    public init(type: CheckType = .http, mode: Mode? = nil, http: HTTPStatusCheck? = nil) {
        self.type = type
        self.mode = mode
        self.http = http
    }

    public mutating func applyDefaults() {
        if mode == nil { mode = .synchronous }
        if timeoutSeconds == nil { timeoutSeconds = 1 }
        if intervalSeconds == nil { intervalSeconds = 10 }
        if failureThreshold == nil { failureThreshold = 3 }
        if successThreshold == nil { successThreshold = 1 }
        if recordsHistoryLimit == nil { recordsHistoryLimit = 100 }
        http?.applyDefaults()
    }

    public func validate(at path: FieldPath, into diagnostics: inout Diagnostics) {
        validateDuration(duration, at: path.child("duration"), into: &diagnostics)
        for (field, value) in [("timeoutSeconds", timeoutSeconds), ("intervalSeconds", intervalSeconds),
                               ("failureThreshold", failureThreshold), ("successThreshold", successThreshold)] {
            diagnostics.checkBounds(value, min: 1, at: path.child(field), meaning: field)
        }
        diagnostics.checkBounds(recordsHistoryLimit, min: 1, max: 1000, at: path.child("recordsHistoryLimit"),
                                meaning: "recordsHistoryLimit")
        if type == .http && http == nil && !diagnostics.hasError(touching: path.child("http")) {
            diagnostics.error(path.child("http"), "required when type is HTTP")
        }
        http?.validate(at: path.child("http"), into: &diagnostics)
    }
}

/// An HTTP probe and what counts as success.
public struct HTTPStatusCheck: Codable, Sendable, Hashable {
    public enum Method: String, ChaosEnum {
        case get = "GET"
        case post = "POST"
    }

    public var url: String
    public var method: Method?
    public var headers: [String: [String]]?
    public var body: String?
    public var criteria: HTTPCriteria

    public init(url: String, method: Method? = nil, criteria: HTTPCriteria) {
        self.url = url
        self.method = method
        self.criteria = criteria
    }

    mutating func applyDefaults() {
        if method == nil { method = .get }
    }

    func validate(at path: FieldPath, into diagnostics: inout Diagnostics) {
        if !diagnostics.hasError(touching: path.child("url")) {
            let lowered = url.lowercased()
            let scheme = lowered.hasPrefix("http://") || lowered.hasPrefix("https://")
            let rest = url.drop { $0 != ":" }.dropFirst(3)
            if !scheme || rest.isEmpty || rest.hasPrefix("/") {
                diagnostics.error(path.child("url"), "\"\(url)\" is not an http:// or https:// URL")
            }
        }
    }
}

public struct HTTPCriteria: Codable, Sendable, Hashable {
    /// `"200"` or an inclusive range `"200-400"`.
    public var statusCode: StatusCodeRange

    public init(statusCode: StatusCodeRange) {
        self.statusCode = statusCode
    }
}

/// An HTTP status code or inclusive range of codes: `"200"`, `"200-399"`.
public struct StatusCodeRange: Sendable, Hashable, DecodingFallback, CustomStringConvertible, TextValue {
    public let range: ClosedRange<Int>
    public let text: String

    public static var decodingFallback: StatusCodeRange { StatusCodeRange(200...200) }

    public init(_ range: ClosedRange<Int>) {
        self.range = range
        self.text = range.lowerBound == range.upperBound ? String(range.lowerBound)
            : "\(range.lowerBound)-\(range.upperBound)"
    }

    public init(parsing text: String) throws(InvalidValue) {
        let parts = text.split(separator: "-", omittingEmptySubsequences: false)
        let codes = parts.compactMap { Int($0) }
        guard (1...2).contains(parts.count), codes.count == parts.count,
              codes.allSatisfy({ (100...599).contains($0) }) else {
            throw InvalidValue("\"\(text)\" is not a status code or range of codes (e.g. \"200\" or \"200-399\")")
        }
        guard codes.first! <= codes.last! else {
            throw InvalidValue("\"\(text)\" is an empty range: the first code must not be above the last")
        }
        range = codes.first!...codes.last!
        self.text = text
    }

    public func contains(_ code: Int) -> Bool { range.contains(code) }
    public var description: String { text }

}
