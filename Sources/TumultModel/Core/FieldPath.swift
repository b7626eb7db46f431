/// Where a field sits in a document, printed the way Kubernetes prints it:
/// `spec.templates[2].networkChaos.delay.latency`.
public struct FieldPath: Sendable, Hashable, CustomStringConvertible, ExpressibleByStringLiteral {
    public enum Component: Sendable, Hashable {
        case key(String)
        case index(Int)
    }

    public var components: [Component]

    public init(_ components: [Component] = []) {
        self.components = components
    }

    /// Parses `spec.delay.latency` or `spec.templates[0].name`.
    public init(stringLiteral value: String) {
        var components: [Component] = []
        for part in value.split(separator: ".", omittingEmptySubsequences: true) {
            var rest = Substring(part)
            if let bracket = rest.firstIndex(of: "[") {
                components.append(.key(String(rest[..<bracket])))
                rest = rest[bracket...]
                while rest.hasPrefix("["), let close = rest.firstIndex(of: "]") {
                    let number = rest[rest.index(after: rest.startIndex)..<close]
                    components.append(.index(Int(number) ?? 0))
                    rest = rest[rest.index(after: close)...]
                }
            } else {
                components.append(.key(String(rest)))
            }
        }
        self.components = components
    }

    public static let root = FieldPath()

    public func child(_ key: String) -> FieldPath {
        FieldPath(components + [.key(key)])
    }

    public func index(_ position: Int) -> FieldPath {
        FieldPath(components + [.index(position)])
    }

    public var isEmpty: Bool { components.isEmpty }

    /// True when `self` is `other` or lies inside it.
    public func isWithin(_ other: FieldPath) -> Bool {
        components.count >= other.components.count
            && Array(components.prefix(other.components.count)) == other.components
    }

    public var description: String {
        var text = ""
        for component in components {
            switch component {
            case .key(let key):
                if !text.isEmpty { text += "." }
                text += key
            case .index(let position):
                text += "[\(position)]"
            }
        }
        return text.isEmpty ? "(document)" : text
    }
}
