/// Schedule: runs an embedded experiment (or Workflow) on a cron schedule.
public struct ScheduleSpec: ChaosSpec {
    public static let kind = ChaosKind.schedule

    public enum ConcurrencyPolicy: String, ChaosEnum {
        case forbid = "Forbid"
        case allow = "Allow"
    }

    /// Cron with an optional seconds field, or a descriptor (`@every 5s`).
    public var schedule: CronSchedule
    /// Runs missed by more than this many seconds are skipped.
    public var startingDeadlineSeconds: Int64?
    public var concurrencyPolicy: ConcurrencyPolicy?
    /// Finished runs kept; older ones are deleted.
    public var historyLimit: Int?
    /// What each run is: a chaos kind or a Workflow.
    public var type: ScheduleTemplateType
    public var workflow: WorkflowSpec?
    public var embedded: EmbeddedChaos

    public init(schedule: CronSchedule, type: ScheduleTemplateType, embedded: EmbeddedChaos = EmbeddedChaos()) {
        self.schedule = schedule
        self.type = type
        self.embedded = embedded
    }

    /// A Schedule that runs `spec` on `schedule`.
    public init(schedule: CronSchedule, embedding spec: any ChaosSpec) {
        let kind = Swift.type(of: spec).kind
        if let workflow = spec as? WorkflowSpec {
            self.init(schedule: schedule, type: .workflow)
            self.workflow = workflow
        } else {
            self.init(schedule: schedule, type: .chaos(kind), embedded: EmbeddedChaos(spec))
        }
    }

    /// The spec each run executes.
    public var runSpec: (any ChaosSpec)? {
        switch type {
        case .workflow: workflow
        case .chaos(let kind): embedded[kind]
        }
    }

    enum CodingKeys: String, CodingKey {
        case schedule, startingDeadlineSeconds, concurrencyPolicy, historyLimit, type, workflow
    }

    public init(from decoder: Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        schedule = try container.decode(CronSchedule.self, forKey: .schedule)
        startingDeadlineSeconds = try container.decodeIfPresent(Int64.self, forKey: .startingDeadlineSeconds)
        concurrencyPolicy = try container.decodeIfPresent(ConcurrencyPolicy.self, forKey: .concurrencyPolicy)
        historyLimit = try container.decodeIfPresent(Int.self, forKey: .historyLimit)
        type = try container.decode(ScheduleTemplateType.self, forKey: .type)
        workflow = try container.decodeIfPresent(WorkflowSpec.self, forKey: .workflow)
        embedded = try EmbeddedChaos(from: decoder)
    }

    public func encode(to encoder: Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(schedule, forKey: .schedule)
        try container.encodeIfPresent(startingDeadlineSeconds, forKey: .startingDeadlineSeconds)
        try container.encodeIfPresent(concurrencyPolicy, forKey: .concurrencyPolicy)
        try container.encodeIfPresent(historyLimit, forKey: .historyLimit)
        try container.encode(type, forKey: .type)
        try container.encodeIfPresent(workflow, forKey: .workflow)
        try embedded.encode(to: encoder)
    }

    public mutating func applyDefaults() {
        if concurrencyPolicy == nil { concurrencyPolicy = .forbid }
        embedded.applyDefaults()
        workflow?.applyDefaults()
    }

    public func validate(at path: FieldPath, into diagnostics: inout Diagnostics) {
        diagnostics.checkBounds(historyLimit, min: 1, at: path.child("historyLimit"), meaning: "historyLimit")
        diagnostics.checkBounds(startingDeadlineSeconds, min: 1, at: path.child("startingDeadlineSeconds"),
                                meaning: "startingDeadlineSeconds (it must be greater than 0)")
        let typeBroken = diagnostics.hasError(touching: path.child("type"))
        switch type {
        case .workflow:
            if workflow == nil && !typeBroken && !diagnostics.hasError(touching: path.child("workflow")) {
                diagnostics.error(path.child("workflow"), "required when type is Workflow")
            }
            embedded.validate(expecting: nil, typeField: "type", at: path, into: &diagnostics)
        case .chaos(let kind):
            if workflow != nil {
                diagnostics.error(path.child("workflow"), "does not match type, which is \(kind.rawValue)")
            }
            embedded.validate(expecting: typeBroken ? nil : kind, typeField: "type", at: path, into: &diagnostics)
        }
        workflow?.validate(at: path.child("workflow"), into: &diagnostics)
    }
}

/// A Schedule's `type`: one of the chaos kinds, or `Workflow`.
public enum ScheduleTemplateType: Sendable, Hashable, Codable, DecodingFallback, CustomStringConvertible {
    case chaos(ChaosKind)
    case workflow

    public static var decodingFallback: ScheduleTemplateType { .workflow }

    /// Every value `type` accepts, as written.
    public static var rawValues: [String] { ChaosKind.embeddable.map(\.rawValue) + ["Workflow"] }

    public var rawValue: String {
        switch self {
        case .chaos(let kind): kind.rawValue
        case .workflow: "Workflow"
        }
    }

    public var description: String { rawValue }

    public init(rawValue: String) throws(InvalidValue) {
        if rawValue == "Workflow" {
            self = .workflow
        } else if let kind = ChaosKind(rawValue: rawValue), kind.isFault {
            self = .chaos(kind)
        } else {
            let allowed = Self.rawValues.map { "\"\($0)\"" }.joined(separator: ", ")
            throw InvalidValue("\"\(rawValue)\" is not one of \(allowed)")
        }
    }

    public init(from decoder: Decoder) throws {
        try self.init(rawValue: try decoder.singleValueContainer().decode(String.self))
    }

    public func encode(to encoder: Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(rawValue)
    }
}
