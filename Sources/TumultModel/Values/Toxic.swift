/// One of Toxiproxy's toxics: a condition applied inside the TCP
/// connections to a port (TCPChaos, `tumult attack tcp`), with
/// Toxiproxy's names, units and semantics so that its users read it as
/// they know it: `{type: latency, stream: downstream, toxicity: 1,
/// attributes: {latency: 100, jitter: 10}}`.
public struct Toxic: Codable, Sendable, Hashable {
    /// The toxic types, spelled as Toxiproxy spells them.
    public enum Kind: String, ChaosEnum {
        /// Delays each chunk of data by `latency` ± `jitter` ms.
        case latency
        /// Limits the stream to `rate` KB/s.
        case bandwidth
        /// Delays the close (FIN) by `delay` ms after the sender closes.
        case slowClose = "slow_close"
        /// Lets no data through and closes after `timeout` ms (0: never closes).
        case timeout
        /// Resets the connection (RST) `timeout` ms after data first arrives (0: at once).
        case resetPeer = "reset_peer"
        /// Cuts data into pieces of `average_size` ± `size_variation` bytes,
        /// `delay` µs apart.
        case slicer
        /// Closes the connection once `bytes` bytes have passed.
        case limitData = "limit_data"
    }

    /// Which way the data flows: `upstream` from the client to the server
    /// (the side that accepted), `downstream` back to the client.
    public enum Stream: String, ChaosEnum {
        case upstream, downstream
    }

    /// Toxiproxy's attributes, in its units: milliseconds for `latency`,
    /// `jitter`, `timeout` and slow_close's `delay`; microseconds for the
    /// slicer's `delay`; KB/s for `rate`; bytes for the rest.
    public struct Attributes: Codable, Sendable, Hashable {
        public var latency: Int64?
        public var jitter: Int64?
        public var rate: Int64?
        public var delay: Int64?
        public var timeout: Int64?
        public var averageSize: Int64?
        public var sizeVariation: Int64?
        public var bytes: Int64?

        enum CodingKeys: String, CodingKey {
            case latency, jitter, rate, delay, timeout, bytes
            case averageSize = "average_size"
            case sizeVariation = "size_variation"
        }

        public init(latency: Int64? = nil, jitter: Int64? = nil, rate: Int64? = nil, delay: Int64? = nil,
                    timeout: Int64? = nil, averageSize: Int64? = nil, sizeVariation: Int64? = nil, bytes: Int64? = nil) {
            self.latency = latency
            self.jitter = jitter
            self.rate = rate
            self.delay = delay
            self.timeout = timeout
            self.averageSize = averageSize
            self.sizeVariation = sizeVariation
            self.bytes = bytes
        }

        /// The attributes that are set, by their document names.
        public var present: [(name: String, value: Int64)] {
            let all: [(String, Int64?)] = [("latency", latency), ("jitter", jitter), ("rate", rate), ("delay", delay),
                                           ("timeout", timeout), ("average_size", averageSize),
                                           ("size_variation", sizeVariation), ("bytes", bytes)]
            return all.compactMap { name, value in value.map { (name, $0) } }
        }
    }

    /// Unique within one fault; default `TYPE_STREAM` as Toxiproxy names them.
    public var name: String?
    public var type: Kind
    public var stream: Stream?
    /// The probability (0 to 1) that the toxic applies to a connection,
    /// drawn once per connection; default 1.
    public var toxicity: Double?
    public var attributes: Attributes?

    public init(_ type: Kind, stream: Stream = .downstream, toxicity: Double = 1, name: String? = nil,
                attributes: Attributes = Attributes()) {
        self.type = type
        self.stream = stream
        self.toxicity = toxicity
        self.name = name
        self.attributes = attributes
    }

    public var effectiveStream: Stream { stream ?? .downstream }
    public var effectiveToxicity: Double { toxicity ?? 1 }
    public var effectiveName: String { name ?? "\(type.rawValue)_\(effectiveStream.rawValue)" }
    public var values: Attributes { attributes ?? Attributes() }

    /// The attributes each type reads, and which of them it needs.
    public static func attributeNames(of type: Kind) -> (required: [String], optional: [String]) {
        switch type {
        case .latency: (["latency"], ["jitter"])
        case .bandwidth: (["rate"], [])
        case .slowClose: (["delay"], [])
        case .timeout: ([], ["timeout"])
        case .resetPeer: ([], ["timeout"])
        case .slicer: (["average_size"], ["size_variation", "delay"])
        case .limitData: (["bytes"], [])
        }
    }

    /// `latency downstream latency=100 jitter=10` (toxicity shown when below 1).
    public var summary: String {
        var words = [type.rawValue, effectiveStream.rawValue]
        words += values.present.map { "\($0.name)=\($0.value)" }
        if effectiveToxicity < 1 { words.append("toxicity=\(effectiveToxicity)") }
        return words.joined(separator: " ")
    }

    /// Every problem with this toxic, each at its field path.
    public func validate(at path: FieldPath, into diagnostics: inout Diagnostics) {
        if let toxicity, !(0...1).contains(toxicity) || !toxicity.isFinite {
            diagnostics.error(path.child("toxicity"), "\(toxicity) is out of range: a toxicity is a probability from 0 to 1")
        }
        if let name, name.isEmpty || name.contains("/") || name.count > 64 {
            diagnostics.error(path.child("name"), "\"\(name)\" is not a toxic name: 1 to 64 characters, no \"/\"")
        }
        let names = Self.attributeNames(of: type)
        let attributesPath = path.child("attributes")
        for required in names.required where !values.present.contains(where: { $0.name == required }) {
            diagnostics.error(attributesPath.child(required), "required for a \(type.rawValue) toxic")
        }
        for (name, value) in values.present {
            guard names.required.contains(name) || names.optional.contains(name) else {
                diagnostics.warning(attributesPath.child(name), "has no effect on a \(type.rawValue) toxic (it reads \((names.required + names.optional).joined(separator: ", ")))")
                continue
            }
            if value < 0 {
                diagnostics.error(attributesPath.child(name), "\(value) must not be negative")
            }
        }
        if type == .bandwidth, let rate = values.rate, rate == 0 {
            diagnostics.error(attributesPath.child("rate"), "0 KB/s lets nothing through: use a timeout toxic for that")
        }
        if type == .slicer, let average = values.averageSize {
            if average == 0 { diagnostics.error(attributesPath.child("average_size"), "must be at least 1 byte") }
            if let variation = values.sizeVariation, variation >= average, average > 0 {
                diagnostics.error(attributesPath.child("size_variation"),
                                  "\(variation) must be smaller than average_size (\(average))")
            }
        }
        if type == .latency, let latency = values.latency, let jitter = values.jitter, jitter > latency {
            diagnostics.warning(attributesPath.child("jitter"), "\(jitter) ms is more than the latency (\(latency) ms): some chunks get none")
        }
    }
}
