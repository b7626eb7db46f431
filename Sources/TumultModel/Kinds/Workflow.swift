/// Workflow: templates run in series or in parallel, with suspends, custom
/// tasks, status checks and schedules, starting from `entry`.
public struct WorkflowSpec: ChaosSpec {
    public static let kind = ChaosKind.workflow

    public var entry: String
    public var templates: [WorkflowTemplate]

    public init(entry: String, templates: [WorkflowTemplate]) {
        self.entry = entry
        self.templates = templates
    }

    public func template(named name: String) -> WorkflowTemplate? {
        templates.first { $0.name == name }
    }

    public mutating func applyDefaults() {
        for position in templates.indices { templates[position].applyDefaults() }
    }

    public func validate(at path: FieldPath, into diagnostics: inout Diagnostics) {
        let names = Set(templates.map(\.name))
        if entry.isEmpty {
            if !diagnostics.hasError(touching: path.child("entry")) {
                diagnostics.error(path.child("entry"), "must name the template to start from")
            }
        } else if !names.contains(entry) && !diagnostics.hasError(touching: path.child("templates")) {
            diagnostics.error(path.child("entry"), "\"\(entry)\" is not the name of a template")
        }
        if templates.isEmpty && !diagnostics.hasError(touching: path.child("templates")) {
            diagnostics.error(path.child("templates"), "must not be empty")
        }
        var seen: Set<String> = []
        for (position, template) in templates.enumerated() {
            let templatePath = path.child("templates").index(position)
            if !template.name.isEmpty && !seen.insert(template.name).inserted {
                diagnostics.error(templatePath.child("name"), "\"\(template.name)\" is used by another template")
            }
            template.validate(at: templatePath, knownNames: names, into: &diagnostics)
        }
        if let cycle = firstCycle() {
            diagnostics.error(path.child("templates"),
                              "templates refer to each other in a loop: \(cycle.joined(separator: " -> "))")
        }
    }

    /// A chain of children that leads back to its start, which would run forever.
    func firstCycle() -> [String]? {
        var edges: [String: [String]] = [:]
        for template in templates {
            edges[template.name, default: []] += (template.children ?? []) + (template.conditionalBranches ?? []).map(\.target)
        }
        var state: [String: Int] = [:]  // 1 visiting, 2 done
        var stack: [String] = []
        func visit(_ name: String) -> [String]? {
            if state[name] == 2 { return nil }
            if state[name] == 1 {
                let start = stack.firstIndex(of: name) ?? 0
                return Array(stack[start...]) + [name]
            }
            state[name] = 1
            stack.append(name)
            for child in edges[name] ?? [] where edges[child] != nil {
                if let cycle = visit(child) { return cycle }
            }
            stack.removeLast()
            state[name] = 2
            return nil
        }
        for template in templates {
            if let cycle = visit(template.name) { return cycle }
        }
        return nil
    }
}

/// One step of a Workflow.
public struct WorkflowTemplate: Codable, Sendable, Hashable {
    public var name: String
    public var templateType: WorkflowTemplateType
    /// How long the step may run; chaos steps use it instead of `duration`.
    public var deadline: GoDuration?
    public var children: [String]?
    public var task: WorkflowTask?
    public var conditionalBranches: [ConditionalBranch]?
    public var statusCheck: StatusCheckSpec?
    public var abortWithStatusCheck: Bool?
    public var schedule: ScheduleSpec?
    public var embedded: EmbeddedChaos

    public init(name: String, templateType: WorkflowTemplateType, embedded: EmbeddedChaos = EmbeddedChaos()) {
        self.name = name
        self.templateType = templateType
        self.embedded = embedded
    }

    enum CodingKeys: String, CodingKey {
        case name, templateType, deadline, children, task, conditionalBranches, statusCheck
        case abortWithStatusCheck, schedule
    }

    public init(from decoder: Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        name = try container.decode(String.self, forKey: .name)
        templateType = try container.decode(WorkflowTemplateType.self, forKey: .templateType)
        deadline = try container.decodeIfPresent(GoDuration.self, forKey: .deadline)
        children = try container.decodeIfPresent([String].self, forKey: .children)
        task = try container.decodeIfPresent(WorkflowTask.self, forKey: .task)
        conditionalBranches = try container.decodeIfPresent([ConditionalBranch].self, forKey: .conditionalBranches)
        statusCheck = try container.decodeIfPresent(StatusCheckSpec.self, forKey: .statusCheck)
        abortWithStatusCheck = try container.decodeIfPresent(Bool.self, forKey: .abortWithStatusCheck)
        schedule = try container.decodeIfPresent(ScheduleSpec.self, forKey: .schedule)
        embedded = try EmbeddedChaos(from: decoder)
    }

    public func encode(to encoder: Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(name, forKey: .name)
        try container.encode(templateType, forKey: .templateType)
        try container.encodeIfPresent(deadline, forKey: .deadline)
        try container.encodeIfPresent(children, forKey: .children)
        try container.encodeIfPresent(task, forKey: .task)
        try container.encodeIfPresent(conditionalBranches, forKey: .conditionalBranches)
        try container.encodeIfPresent(statusCheck, forKey: .statusCheck)
        try container.encodeIfPresent(abortWithStatusCheck, forKey: .abortWithStatusCheck)
        try container.encodeIfPresent(schedule, forKey: .schedule)
        try embedded.encode(to: encoder)
    }

    mutating func applyDefaults() {
        embedded.applyDefaults()
        statusCheck?.applyDefaults()
        schedule?.applyDefaults()
    }

    func validate(at path: FieldPath, knownNames: Set<String>, into diagnostics: inout Diagnostics) {
        if name.isEmpty {
            if !diagnostics.hasError(touching: path.child("name")) {
                diagnostics.error(path.child("name"), "must not be empty")
            }
        } else if let problem = ObjectMeta.dnsSubdomainProblem(name) {
            diagnostics.error(path.child("name"), problem)
        }
        validateDuration(deadline, at: path.child("deadline"), into: &diagnostics)
        for (position, child) in (children ?? []).enumerated() where !knownNames.contains(child) {
            diagnostics.error(path.child("children").index(position), "\"\(child)\" is not the name of a template")
        }
        for (position, branch) in (conditionalBranches ?? []).enumerated() {
            let branchPath = path.child("conditionalBranches").index(position)
            if !knownNames.contains(branch.target) {
                diagnostics.error(branchPath.child("target"), "\"\(branch.target)\" is not the name of a template")
            }
            if let expression = branch.expression {
                do throws(InvalidValue) {
                    _ = try WorkflowExpression(parsing: expression)
                } catch {
                    diagnostics.error(branchPath.child("expression"), error.message)
                }
            }
        }
        if diagnostics.hasError(touching: path.child("templateType")) {
            embedded.validate(expecting: nil, typeField: "templateType", at: path, into: &diagnostics)
            return
        }
        let type = templateType.rawValue
        func require(_ field: String, _ present: Bool) {
            if !present && !diagnostics.hasError(touching: path.child(field)) {
                diagnostics.error(path.child(field), "required when templateType is \(type)")
            }
        }
        func forbid(_ field: String, _ present: Bool) {
            if present { diagnostics.error(path.child(field), "is not used when templateType is \(type)") }
        }
        var expectedChaos: ChaosKind?
        switch templateType {
        case .serial, .parallel:
            require("children", !(children ?? []).isEmpty)
        case .suspend:
            require("deadline", deadline != nil)
        case .task:
            require("task", task != nil)
            task?.validate(at: path.child("task"), into: &diagnostics)
        case .statusCheck:
            require("statusCheck", statusCheck != nil)
        case .schedule:
            require("schedule", schedule != nil)
        case .chaos(let kind):
            expectedChaos = kind
            if let spec = embedded[kind], let duration = spec.duration, let key = kind.embeddedKey {
                diagnostics.error(path.child(key).child("duration"),
                                  "\"\(duration.text)\" is not allowed inside a Workflow: use the template's deadline")
            }
        }
        if templateType != .serial && templateType != .parallel { forbid("children", children != nil) }
        if templateType != .task { forbid("conditionalBranches", conditionalBranches != nil) }
        if templateType != .statusCheck {
            forbid("statusCheck", statusCheck != nil)
            forbid("abortWithStatusCheck", abortWithStatusCheck != nil)
        }
        if templateType != .schedule { forbid("schedule", schedule != nil) }
        if templateType != .task { forbid("task", task != nil) }
        embedded.validate(expecting: expectedChaos, typeField: "templateType", at: path, into: &diagnostics)
        statusCheck?.validate(at: path.child("statusCheck"), into: &diagnostics)
        schedule?.validate(at: path.child("schedule"), into: &diagnostics)
    }
}

/// A Workflow template's `templateType`.
public enum WorkflowTemplateType: Sendable, Hashable, Codable, DecodingFallback, CustomStringConvertible {
    case serial, parallel, suspend, task, statusCheck, schedule
    case chaos(ChaosKind)

    public static var decodingFallback: WorkflowTemplateType { .suspend }

    static let named: [(String, WorkflowTemplateType)] = [
        ("Serial", .serial), ("Parallel", .parallel), ("Suspend", .suspend), ("Task", .task),
        ("StatusCheck", .statusCheck), ("Schedule", .schedule),
    ]

    /// Every value `templateType` accepts, as written.
    public static var rawValues: [String] { named.map(\.0) + ChaosKind.embeddable.map(\.rawValue) }

    public var rawValue: String {
        if case .chaos(let kind) = self { return kind.rawValue }
        return Self.named.first { $0.1 == self }!.0
    }

    public var description: String { rawValue }

    public init(rawValue: String) throws(InvalidValue) {
        if let match = Self.named.first(where: { $0.0 == rawValue }) {
            self = match.1
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

/// A custom step: a Kubernetes container to run (kept as written).
public struct WorkflowTask: Codable, Sendable, Hashable {
    /// A Kubernetes `Container` object.
    public var container: Value?
    /// Kubernetes `Volume` objects for the container.
    public var volumes: [Value]?
    /// Labels for the pod that runs the container.
    public var labels: [String: String]?

    func validate(at path: FieldPath, into diagnostics: inout Diagnostics) {
        guard let container else {
            if !diagnostics.hasError(touching: path.child("container")) {
                diagnostics.error(path.child("container"), "required: the container to run")
            }
            return
        }
        guard let object = container.objectValue else {
            diagnostics.error(path.child("container"), "expected an object, got \(container.typeDescription)")
            return
        }
        for field in ["name", "image"] where (object[field]?.stringValue ?? "").isEmpty {
            diagnostics.error(path.child("container").child(field), "required field is missing")
        }
    }
}

/// After a Task, the template to spawn when `expression` holds.
public struct ConditionalBranch: Codable, Sendable, Hashable {
    public var target: String
    /// A boolean expression over `exitCode` and `stdout` (`WorkflowExpression`);
    /// empty means always.
    public var expression: String?

    public init(target: String, expression: String? = nil) {
        self.target = target
        self.expression = expression
    }
}
