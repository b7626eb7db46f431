/// Chaos Mesh's target selection as pure functions: which pods a
/// `spec.selector` matches, and which of those `mode`/`value` picks. No I/O
/// and no hidden randomness, so the controller, the server and the tests all
/// choose targets the same way and a seeded generator replays a choice.
extension PodSelectorSpec {
    /// Whether `pod` satisfies every field of this selector (Chaos Mesh ANDs
    /// them). `defaultNamespace` is the experiment's own namespace, used when
    /// `namespaces` is absent or empty, as Chaos Mesh's webhook fills it in.
    public func matches(_ pod: Pod, defaultNamespace: String) -> Bool {
        PodMatcher(self, defaultNamespace: defaultNamespace).matches(pod)
    }
}

/// Picks an experiment's targets: filter with the selector, order by id so
/// that a given generator always yields the same choice, then apply the mode.
public enum PodSelection {
    /// The targets among `pods` for `selector`, `mode` and `value`, sorted by
    /// id. Random picks draw from `generator` only (a partial Fisher–Yates
    /// shuffle), so a seeded generator makes the choice reproducible.
    ///
    /// Fails with "no target selected" when nothing matches or the mode draws
    /// zero (Chaos Mesh treats both as a failed selection), and with the
    /// value's problem when `value` does not fit `mode`.
    public static func select<R: RandomNumberGenerator>(
        from pods: [Pod], selector: PodSelectorSpec, mode: SelectorMode, value: String?,
        defaultNamespace: String, using generator: inout R
    ) -> Result<[Pod], SelectionError> {
        let selection: Selection
        switch Selection.parse(mode: mode, value: value) {
        case .success(let parsed): selection = parsed
        case .failure(let problem): return .failure(.invalidValue(problem))
        }

        // Work on indices: copying `Pod`s (a dozen reference-counted fields)
        // for every candidate costs more than the matching itself.
        let matcher = PodMatcher(selector, defaultNamespace: defaultNamespace)
        var candidates: [Int] = []
        candidates.reserveCapacity(pods.count)
        pods.withUnsafeBufferPointer { pods in
            // Borrowed from the buffer: `pods[index]` on the array would
            // copy each pod (a dozen retains) just to look at it.
            guard let base = pods.baseAddress else { return }
            for index in pods.indices where matcher.matches(at: base + index) {
                candidates.append(index)
            }
        }
        guard !candidates.isEmpty else {
            return .failure(.noTargetSelected(detail: "selector matched 0 of \(pods.count) pods"))
        }

        // In id order, so that a seeded generator picks the same pods
        // whatever order the inventory came in; one pod per id, so that an
        // inventory that lists a pod twice does not get it hit twice.
        candidates = PodIDOrder(pods, candidates).sortedUnique()

        let available = candidates.count
        let wanted = selection.targetCount(of: available, using: &generator)
        guard wanted > 0 else {
            return .failure(.noTargetSelected(
                detail: "mode \(mode.rawValue) chose 0 of \(available) matching pods"))
        }
        guard wanted < available else {
            return .success(candidates.map { pods[$0] })
        }

        // Partial Fisher–Yates over positions in id order: the first
        // `wanted` slots end up a uniform sample without repeats.
        var positions = Array(0..<available)
        for slot in 0..<wanted {
            let pick = Int.random(in: slot..<available, using: &generator)
            positions.swapAt(slot, pick)
        }
        var chosen = positions[..<wanted]
        chosen.sort()
        return .success(chosen.map { pods[candidates[$0]] })
    }

    /// `select` with the system's generator, for callers that do not replay.
    public static func select(
        from pods: [Pod], selector: PodSelectorSpec, mode: SelectorMode, value: String?,
        defaultNamespace: String
    ) -> Result<[Pod], SelectionError> {
        var generator = SystemRandomNumberGenerator()
        return select(from: pods, selector: selector, mode: mode, value: value,
                      defaultNamespace: defaultNamespace, using: &generator)
    }
}

extension Selection {
    /// `targetCount(of:randomPercent:)` drawing `random-max-percent`'s
    /// percentage from `generator`, so that selection can be replayed.
    public func targetCount<R: RandomNumberGenerator>(of count: Int, using generator: inout R) -> Int {
        targetCount(of: count, randomPercent: { Int.random(in: 0...$0, using: &generator) })
    }
}

/// Why no targets could be chosen.
public struct SelectionError: Error, Sendable, Hashable, CustomStringConvertible {
    public enum Reason: Sendable, Hashable {
        /// Nothing matched the selector, or the mode drew zero pods.
        case noTargetSelected
        /// `value` does not fit `mode`.
        case invalidValue
    }

    public var reason: Reason
    /// One line: exactly "no target selected", or the value's problem.
    public var message: String
    /// The spec field at fault, relative to the spec: `value` for a bad value.
    public var field: String?
    /// Context for a person: how many pods matched, what the mode drew.
    public var detail: String?

    public init(reason: Reason, message: String, field: String? = nil, detail: String? = nil) {
        self.reason = reason
        self.message = message
        self.field = field
        self.detail = detail
    }

    /// The message Chaos Mesh users look for, with the numbers that explain it.
    public static func noTargetSelected(detail: String? = nil) -> SelectionError {
        SelectionError(reason: .noTargetSelected, message: "no target selected", detail: detail)
    }

    public static func invalidValue(_ problem: InvalidValue) -> SelectionError {
        SelectionError(reason: .invalidValue, message: problem.message, field: "value")
    }

    /// `field: message (detail)`; starts with "no target selected" when nothing was chosen.
    public var description: String {
        var text = field.map { "\($0): \(message)" } ?? message
        if let detail { text += " (\(detail))" }
        return text
    }
}

/// A selector compiled once per selection: sets and parsed terms instead of
/// the spec's optional lists, so that matching thousands of pods stays cheap.
struct PodMatcher {
    /// `pods:` — namespace to names. When present every other field is ignored.
    private let namedPods: [String: Set<String>]?
    private let namespaces: StringSet
    private let labels: [(key: String, value: String)]
    private let expressions: [(key: String, operator: LabelSelectorRequirement.Operator, values: StringSet)]
    private let annotations: [(key: String, value: String)]
    private let fields: [FieldTerm]
    /// A field selector named a key pods do not have: nothing matches.
    private let hasUnknownField: Bool
    private let includedPhases: StringSet
    private let excludedPhases: StringSet
    /// Set when `nodes` or `nodeSelectors` is: the union of both decides.
    private let nodeFilter: NodeFilter?

    init(_ spec: PodSelectorSpec, defaultNamespace: String) {
        if let pods = spec.pods, !pods.isEmpty {
            namedPods = pods.mapValues { Set($0) }
        } else {
            namedPods = nil
        }
        let listed = spec.namespaces ?? []
        namespaces = StringSet(listed.isEmpty ? [defaultNamespace] : listed)
        labels = (spec.labelSelectors ?? [:]).map { (key: $0.key, value: $0.value) }
        expressions = (spec.expressionSelectors ?? []).map {
            (key: $0.key, operator: $0.operator, values: StringSet($0.values ?? []))
        }
        annotations = (spec.annotationSelectors ?? [:]).map { (key: $0.key, value: $0.value) }

        var terms: [FieldTerm] = []
        var unknown = false
        for (key, value) in spec.fieldSelectors ?? [:] {
            if let term = FieldTerm(key: key, value: value) { terms.append(term) } else { unknown = true }
        }
        fields = terms
        hasUnknownField = unknown

        // Chaos Mesh parses these as a label selector over the phase:
        // `Running` is Exists (include), `!Failed` DoesNotExist (exclude).
        var included: [String] = []
        var excluded: [String] = []
        for phase in spec.podPhaseSelectors ?? [] {
            if phase.hasPrefix("!") { excluded.append(String(phase.dropFirst())) } else { included.append(phase) }
        }
        includedPhases = StringSet(included)
        excludedPhases = StringSet(excluded)

        let nodes = spec.nodes ?? []
        let nodeSelectors = spec.nodeSelectors ?? [:]
        nodeFilter = nodes.isEmpty && nodeSelectors.isEmpty ? nil
            : NodeFilter(names: StringSet(nodes), labels: nodeSelectors.map { (key: $0.key, value: $0.value) })
    }

    func matches(_ pod: Pod) -> Bool {
        withUnsafePointer(to: pod) { matches(at: $0) }
    }

    /// Reads the pod in place: taking a `Pod` by value from an array makes
    /// the compiler copy all of it (a dozen retains) per pod.
    func matches(at pod: UnsafePointer<Pod>) -> Bool {
        if let namedPods {
            return namedPods[pod.pointee.namespace]?.contains(pod.pointee.name) ?? false
        }
        guard !hasUnknownField, namespaces.contains(pod.pointee.namespace) else { return false }
        for (key, value) in labels where pod.pointee.labels[key] != value { return false }
        for expression in expressions {
            let present = pod.pointee.labels[expression.key]
            switch expression.operator {
            case .in: guard let present, expression.values.contains(present) else { return false }
            case .notIn: if let present, expression.values.contains(present) { return false }
            case .exists: if present == nil { return false }
            case .doesNotExist: if present != nil { return false }
            }
        }
        for (key, value) in annotations where pod.pointee.annotations[key] != value { return false }
        for term in fields where !term.matches(pod) { return false }
        if !includedPhases.isEmpty && !includedPhases.contains(pod.pointee.phase) { return false }
        if excludedPhases.contains(pod.pointee.phase) { return false }
        if let nodeFilter, !nodeFilter.matches(pod) { return false }
        return true
    }

    /// `nodes` and `nodeSelectors` together: Chaos Mesh resolves both to
    /// nodes and takes the pods on any of them.
    private struct NodeFilter {
        let names: StringSet
        let labels: [(key: String, value: String)]

        func matches(_ pod: UnsafePointer<Pod>) -> Bool {
            if names.contains(pod.pointee.nodeName) { return true }
            guard !labels.isEmpty else { return false }
            return labels.allSatisfy { pod.pointee.nodeLabels[$0.key] == $0.value }
        }
    }

    /// One `fieldSelectors` entry: the pod fields Kubernetes lets a field
    /// selector read, compared with `=`, `==` or `!=`.
    private struct FieldTerm {
        enum Field { case name, namespace, nodeName, phase, podIP }

        let field: Field
        let value: String
        let negated: Bool

        /// Nil for a key pods do not have.
        init?(key: String, value text: String) {
            switch key {
            case "metadata.name": field = .name
            case "metadata.namespace": field = .namespace
            case "spec.nodeName": field = .nodeName
            case "status.phase": field = .phase
            case "status.podIP": field = .podIP
            default: return nil
            }
            if text.hasPrefix("!=") {
                negated = true
                value = String(text.dropFirst(2))
            } else if text.hasPrefix("==") {
                negated = false
                value = String(text.dropFirst(2))
            } else if text.hasPrefix("=") {
                negated = false
                value = String(text.dropFirst())
            } else {
                negated = false
                value = text
            }
        }

        func matches(_ pod: UnsafePointer<Pod>) -> Bool {
            let actual: String
            switch field {
            case .name: actual = pod.pointee.name
            case .namespace: actual = pod.pointee.namespace
            case .nodeName: actual = pod.pointee.nodeName
            case .phase: actual = pod.pointee.phase
            // Kubernetes' `status.podIP` is the primary (first) address.
            case .podIP: actual = pod.pointee.ips.first ?? ""
            }
            return (actual == value) != negated
        }
    }
}

/// A set of strings tuned for selectors: the handful of names a selector
/// lists compare faster one by one than through a seeded hash, which
/// matters when every experiment checks thousands of pods.
struct StringSet {
    private let few: [String]
    private let many: Set<String>?

    init(_ values: [String]) {
        few = values
        many = values.count > 8 ? Set(values) : nil
    }

    var isEmpty: Bool { few.isEmpty }

    func contains(_ value: String) -> Bool {
        if let many { return many.contains(value) }
        for candidate in few where candidate == value { return true }
        return false
    }
}

/// Orders pods by id (`namespace/name`, byte for byte) through one buffer
/// holding every candidate's id: sorting thousands of pods per experiment
/// must neither build a string per comparison nor copy a `Pod`.
struct PodIDOrder {
    private let candidates: [Int]
    private var bytes: [UInt8] = []
    /// Where candidate `i`'s id starts in `bytes`; `starts[i + 1]` is its end.
    private var starts: [Int] = []

    init(_ pods: [Pod], _ candidates: [Int]) {
        self.candidates = candidates
        starts.reserveCapacity(candidates.count + 1)
        bytes.reserveCapacity(candidates.count * 24)
        pods.withUnsafeBufferPointer { pods in
            for index in candidates {
                starts.append(bytes.count)
                bytes.append(contentsOf: pods[index].namespace.utf8)
                bytes.append(UInt8(ascii: "/"))
                bytes.append(contentsOf: pods[index].name.utf8)
            }
        }
        starts.append(bytes.count)
    }

    /// The candidates (indices into the pods) in id order, the first of each id kept.
    func sortedUnique() -> [Int] {
        bytes.withUnsafeBufferPointer { bytes in
            starts.withUnsafeBufferPointer { starts in
                let raw = UnsafeRawBufferPointer(bytes)
                func compare(_ a: Int, _ b: Int) -> Int {
                    var left = starts[a], right = starts[b]
                    let leftEnd = starts[a + 1], rightEnd = starts[b + 1]
                    // Eight bytes at a time; big-endian words order as their bytes do.
                    while left + 8 <= leftEnd && right + 8 <= rightEnd {
                        let x = UInt64(bigEndian: raw.loadUnaligned(fromByteOffset: left, as: UInt64.self))
                        let y = UInt64(bigEndian: raw.loadUnaligned(fromByteOffset: right, as: UInt64.self))
                        if x != y { return x < y ? -1 : 1 }
                        left += 8
                        right += 8
                    }
                    while left < leftEnd && right < rightEnd {
                        if bytes[left] != bytes[right] { return bytes[left] < bytes[right] ? -1 : 1 }
                        left += 1
                        right += 1
                    }
                    return (leftEnd - left) - (rightEnd - right)
                }
                // Stable, and linear when the inventory is already in id order.
                var order = Array(0..<candidates.count)
                order.sort { compare($0, $1) < 0 }
                var unique: [Int] = []
                unique.reserveCapacity(order.count)
                var previous: Int?
                for position in order {
                    if let previous, compare(previous, position) == 0 { continue }
                    unique.append(candidates[position])
                    previous = position
                }
                return unique
            }
        }
    }
}
