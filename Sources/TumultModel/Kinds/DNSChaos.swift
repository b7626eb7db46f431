/// DNSChaos: the selected pods' DNS queries for matching names get an error
/// or a random address from Chaos Mesh's DNS server.
public struct DNSChaosSpec: PodTargetedSpec {
    public static let kind = ChaosKind.dnsChaos

    public enum Action: String, ChaosEnum {
        case error, random
    }

    public var action: Action
    public var mode: SelectorMode
    public var value: String?
    public var selector: PodSelectorSpec
    public var containerNames: [String]?
    public var duration: GoDuration?
    /// The names affected (`google.com`, `github.?om`, `chaos-mesh.*`);
    /// empty or absent: every name.
    public var patterns: [DNSPattern]?
    public var remoteCluster: String?

    public init(action: Action, patterns: [DNSPattern]? = nil, mode: SelectorMode = .all, value: String? = nil,
                selector: PodSelectorSpec = PodSelectorSpec()) {
        self.action = action
        self.patterns = patterns
        self.mode = mode
        self.value = value
        self.selector = selector
    }

    /// Whether a query for `name` is affected.
    public func affects(_ name: String) -> Bool {
        guard let patterns, !patterns.isEmpty else { return true }
        return patterns.contains { $0.matches(name) }
    }

    public func validate(at path: FieldPath, into diagnostics: inout Diagnostics) {
        validateTargeting(at: path, into: &diagnostics)
        validateDuration(duration, at: path.child("duration"), into: &diagnostics)
        // The DNS server refuses two patterns filed under the same entry
        // (`a.com` twice, or `a.com` and `a.com.`).
        var seen: [String: String] = [:]
        for (position, pattern) in (patterns ?? []).enumerated() {
            let patternPath = path.child("patterns").index(position)
            guard !diagnostics.hasError(touching: patternPath) else { continue }
            if let earlier = pattern.serverEntries.lazy.compactMap({ seen[$0] }).first {
                let what = earlier == pattern.text ? "is listed twice" : "overlaps \"\(earlier)\" (a name without * also covers it with a trailing dot)"
                diagnostics.error(patternPath, "\"\(pattern.text)\" \(what): the DNS server refuses duplicate patterns")
                continue
            }
            for entry in pattern.serverEntries { seen[entry] = pattern.text }
        }
    }
}
