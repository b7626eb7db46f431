/// An `events.k8s.io/v1` Event: what `kubectl describe` and `kubectl events`
/// show about an object. Written by `EventRecorder`.
public struct EventObject: KubernetesObject, Hashable {
    public var apiVersion: String
    public var kind: String
    public var metadata: ObjectMeta
    /// When the event first happened (`MicroTime`).
    public var eventTime: String?
    /// Set once the same event repeats.
    public var series: Series?
    public var reportingController: String?
    public var reportingInstance: String?
    public var action: String?
    public var reason: String?
    public var regarding: ObjectReference?
    public var note: String?
    /// `Normal` or `Warning`.
    public var type: String?

    public struct Series: Codable, Sendable, Hashable {
        public var count: Int
        /// `MicroTime` of the latest repeat.
        public var lastObservedTime: String

        public init(count: Int, lastObservedTime: String) {
            self.count = count
            self.lastObservedTime = lastObservedTime
        }
    }

    public init(
        metadata: ObjectMeta, eventTime: String? = nil, series: Series? = nil, reportingController: String? = nil,
        reportingInstance: String? = nil, action: String? = nil, reason: String? = nil,
        regarding: ObjectReference? = nil, note: String? = nil, type: String? = nil
    ) {
        apiVersion = ResourceType.events.apiVersion
        kind = ResourceType.events.kind
        self.metadata = metadata
        self.eventTime = eventTime
        self.series = series
        self.reportingController = reportingController
        self.reportingInstance = reportingInstance
        self.action = action
        self.reason = reason
        self.regarding = regarding
        self.note = note
        self.type = type
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        apiVersion = try container.decodeIfPresent(String.self, forKey: .apiVersion) ?? ResourceType.events.apiVersion
        kind = try container.decodeIfPresent(String.self, forKey: .kind) ?? ResourceType.events.kind
        metadata = try container.decodeIfPresent(ObjectMeta.self, forKey: .metadata) ?? ObjectMeta()
        eventTime = try container.decodeIfPresent(String.self, forKey: .eventTime)
        series = try container.decodeIfPresent(Series.self, forKey: .series)
        reportingController = try container.decodeIfPresent(String.self, forKey: .reportingController)
        reportingInstance = try container.decodeIfPresent(String.self, forKey: .reportingInstance)
        action = try container.decodeIfPresent(String.self, forKey: .action)
        reason = try container.decodeIfPresent(String.self, forKey: .reason)
        regarding = try container.decodeIfPresent(ObjectReference.self, forKey: .regarding)
        note = try container.decodeIfPresent(String.self, forKey: .note)
        type = try container.decodeIfPresent(String.self, forKey: .type)
    }
}
