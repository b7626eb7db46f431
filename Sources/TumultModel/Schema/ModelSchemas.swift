/// What the walk of the model's types cannot see for itself, said once per
/// type: the template types decode a string and then parse it, and the
/// defaults Chaos Mesh's CRDs declare live in `applyDefaults()` code.

/// `type` of a Schedule: any chaos kind or `Workflow`. Chaos Mesh's CRD has
/// no `enum:` here (its webhook checks the value), so neither has Tumult's;
/// Tumult's decoder refuses other values.
extension ScheduleTemplateType: SchemaDescribing {
    static func describeSchema(_ node: SchemaNode) { node.type = "string" }
}

/// `templateType` of a Workflow template; as `ScheduleTemplateType`.
extension WorkflowTemplateType: SchemaDescribing {
    static func describeSchema(_ node: SchemaNode) { node.type = "string" }
}

// Defaults Chaos Mesh's CRDs declare, with the values Tumult's
// `applyDefaults()` fills in (the CRD tests check both agree).

extension NetworkChaosSpec: SchemaDefaulting {
    static func schemaDefaults(nested: Bool) -> [(field: String, value: Value)] {
        [("direction", .string(Direction.to.rawValue))]
    }
}

extension IOChaosSpec: SchemaDefaulting {
    static func schemaDefaults(nested: Bool) -> [(field: String, value: Value)] { [("percent", .integer(100))] }
}

extension StressChaosSpec.MemoryStressor: SchemaDefaulting {
    static func schemaDefaults(nested: Bool) -> [(field: String, value: Value)] { [("oomScoreAdj", .integer(0))] }
}

/// Only a Schedule object's own spec: Chaos Mesh reads a Schedule inside a
/// Workflow template as `ChaosOnlyScheduleSpec`, whose schema declares no
/// default (Tumult's `applyDefaults()` fills it in there too when it reads it).
extension ScheduleSpec: SchemaDefaulting {
    static func schemaDefaults(nested: Bool) -> [(field: String, value: Value)] {
        nested ? [] : [("concurrencyPolicy", .string(ConcurrencyPolicy.forbid.rawValue))]
    }
}

extension StatusCheckSpec: SchemaDefaulting {
    static func schemaDefaults(nested: Bool) -> [(field: String, value: Value)] {
        [("type", .string(CheckType.http.rawValue)), ("timeoutSeconds", .integer(1)),
         ("intervalSeconds", .integer(10)), ("failureThreshold", .integer(3)),
         ("successThreshold", .integer(1)), ("recordsHistoryLimit", .integer(100))]
    }
}

extension HTTPStatusCheck: SchemaDefaulting {
    static func schemaDefaults(nested: Bool) -> [(field: String, value: Value)] {
        [("method", .string(Method.get.rawValue))]
    }
}

// Closed sets Chaos Mesh's CRDs leave open (its webhook checks them).

/// `expressionSelectors[].operator`: Kubernetes' label selector operators.
extension LabelSelectorRequirement.Operator: OpenSchemaEnum {}

/// TimeChaos `clockIds[]`: Linux clock names.
extension ClockID: OpenSchemaEnum {}

// Tumult's own kind: its CRD declares the defaults `applyDefaults()` fills
// in, so that `kubectl get -o yaml` shows what the proxy does.

extension TCPChaosSpec: SchemaDefaulting {
    static func schemaDefaults(nested: Bool) -> [(field: String, value: Value)] {
        [("connections", .string(Connections.both.rawValue))]
    }
}

extension Toxic: SchemaDefaulting {
    static func schemaDefaults(nested: Bool) -> [(field: String, value: Value)] {
        [("stream", .string(Stream.downstream.rawValue)), ("toxicity", .double(1))]
    }
}
