/// A DNSChaos domain pattern (`patterns`): an exact name, `?` for exactly one
/// character, and `*` for any rest, allowed only as the last character
/// (`github.?om`, `chaos-mesh.*`). These are the rules of Chaos Mesh's DNS
/// server, which refuses the whole experiment over one bad pattern.
public struct DNSPattern: Sendable, Hashable, CustomStringConvertible, DecodingFallback, TextValue {
    public let text: String

    public static var decodingFallback: DNSPattern { DNSPattern(unchecked: "*") }

    private init(unchecked text: String) {
        self.text = text
    }

    public init(parsing text: String) throws(InvalidValue) {
        if let problem = Self.problem(with: text) { throw InvalidValue(problem) }
        self.text = text
    }

    /// Why `text` is not a pattern, or nil when it is one.
    public static func problem(with text: String) -> String? {
        if text.isEmpty {
            return "a domain pattern must not be empty (leave patterns out to match every name)"
        }
        if let star = text.firstIndex(of: "*"), star != text.index(before: text.endIndex) {
            return "\"\(text)\" is not a domain pattern: * may only be the last character (e.g. \"chaos-mesh.*\")"
        }
        return nil
    }

    /// True when the pattern ends with `*`.
    public var isPrefix: Bool { text.hasSuffix("*") }

    /// The entries the DNS server files this pattern under: a pattern without
    /// `*` also stands for the name with a trailing dot. Two patterns sharing
    /// an entry make the server refuse the experiment.
    public var serverEntries: [String] { isPrefix ? [text] : [text, text + "."] }

    /// Whether a queried name (`github.com` or `github.com.`) is affected.
    /// Names compare case-insensitively, as DNS names do.
    public func matches(_ name: String) -> Bool {
        let name = Array(name.lowercased())
        return serverEntries.contains { Self.match(Array($0.lowercased())[...], name[...]) }
    }

    private static func match(_ pattern: ArraySlice<Character>, _ name: ArraySlice<Character>) -> Bool {
        var pattern = pattern, name = name
        while let next = pattern.first {
            if next == "*" { return true }
            guard let character = name.first else { return false }
            if next != "?" && next != character { return false }
            pattern = pattern.dropFirst()
            name = name.dropFirst()
        }
        return name.isEmpty
    }

    public var description: String { text }

}
