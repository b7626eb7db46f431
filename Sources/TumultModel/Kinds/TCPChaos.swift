/// TCPChaos (`tumult.dev/v1alpha1`, Tumult's own kind): a transparent proxy
/// in the selected pods' network namespace applies Toxiproxy's toxics to the
/// TCP connections on one port, so that latency, bandwidth limits, slow
/// closes, stalls, resets, slicing and cut-offs hit a protocol's streams
/// rather than single packets as NetworkChaos does.
public struct TCPChaosSpec: PodTargetedSpec {
    public static let kind = ChaosKind.tcpChaos

    /// Which connections on `port` go through the proxy.
    public enum Connections: String, ChaosEnum {
        /// Connections to the pods' own `port` (the pods serve it).
        case incoming
        /// The pods' connections to `port` elsewhere (the pods are clients).
        case outgoing
        /// Both.
        case both
    }

    public var mode: SelectorMode
    public var value: String?
    public var selector: PodSelectorSpec
    /// The TCP port whose connections are proxied; required, 1 to 65535.
    public var port: Int32?
    /// Default `both`.
    public var connections: Connections?
    /// Applied in order, as Toxiproxy chains them; empty or absent, the
    /// proxy passes data through until toxics are added through the live API.
    public var toxics: [Toxic]?
    public var duration: GoDuration?
    public var remoteCluster: String?

    public init(port: Int32, toxics: [Toxic] = [], connections: Connections? = nil, mode: SelectorMode = .all,
                value: String? = nil, selector: PodSelectorSpec = PodSelectorSpec()) {
        self.port = port
        self.toxics = toxics
        self.connections = connections
        self.mode = mode
        self.value = value
        self.selector = selector
    }

    public var effectiveConnections: Connections { connections ?? .both }

    public mutating func applyDefaults() {
        if connections == nil { connections = .both }
        toxics = toxics?.map { toxic in
            var filled = toxic
            if filled.stream == nil { filled.stream = .downstream }
            if filled.toxicity == nil { filled.toxicity = 1 }
            return filled
        }
    }

    public func validate(at path: FieldPath, into diagnostics: inout Diagnostics) {
        validateTargeting(at: path, into: &diagnostics)
        validateDuration(duration, at: path.child("duration"), into: &diagnostics)
        let portPath = path.child("port")
        if port == nil || port == 0 {
            if !diagnostics.hasError(touching: portPath) {
                diagnostics.error(portPath, "required: the TCP port (1 to 65535) whose connections the proxy takes over")
            }
        } else {
            diagnostics.checkBounds(port, min: 1, max: 65535, at: portPath, meaning: "a port")
        }

        let toxics = toxics ?? []
        if toxics.isEmpty {
            diagnostics.warning(path.child("toxics"),
                                "no toxics: connections pass through unchanged until toxics are added through the live API")
        }
        // The live API addresses a toxic by its name, as Toxiproxy's does,
        // so two with the same name (given or defaulted) could not be told apart.
        var seen: [String: Int] = [:]
        for (position, toxic) in toxics.enumerated() {
            let toxicPath = path.child("toxics").index(position)
            toxic.validate(at: toxicPath, into: &diagnostics)
            let name = toxic.effectiveName
            if let earlier = seen[name] {
                let given = toxic.name == nil ? " (the default name of a \(toxic.type.rawValue) toxic on \(toxic.effectiveStream.rawValue))" : ""
                diagnostics.error(toxicPath.child("name"),
                                  "\"\(name)\"\(given) is already the name of toxics[\(earlier)]: toxic names must be unique, set name on one of them")
            } else {
                seen[name] = position
            }
        }
    }
}
