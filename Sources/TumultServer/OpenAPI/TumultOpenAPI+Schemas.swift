import TumultController
import TumultModel

/// The shapes the API sends and takes, as `APIModels.swift`, `Middleware.swift`,
/// the chaosd commands and the dashboard routes encode them (snake_case keys
/// of Chaos Mesh's dashboard; keys of optional values left out, never null).
/// Objects list exactly their keys, so that a key the server adds without
/// describing it fails `OpenAPITests` and schemathesis.
extension TumultOpenAPI {
    /// Every schema: these, and the workflows' and status checks'
    /// (`TumultOpenAPI+Workflows.swift`).
    static var schemas: [String: JSONSchema] {
        coreSchemas.merging(workflowSchemas) { core, _ in core }
    }

    static var coreSchemas: [String: JSONSchema] {
        [
            "Error": error,
            "FieldError": fieldError,
            "Status": .object("What a delete, pause or start answers.", required: [("status", .string(oneOf: ["success"]))]),
            "ChaosDocument": chaosDocument(kinds: ChaosKind.allCases.map(\.rawValue)),
            "ScheduleDocument": chaosDocument(kinds: [ChaosKind.schedule.rawValue]),
            "TCPChaosSpec": tcpChaosSpec,
            "Toxic": toxic,
            "Experiment": .object("An experiment in a list (the dashboard's core.Experiment).", required: experimentItem),
            "ExperimentDetail": .object("An experiment with its Kubernetes object and status.",
                                        required: experimentItem + [("kube_object", kubeObject)], optional: experimentExtra),
            "AppliedExperiment": .object("An experiment as applied.", required: experimentItem + [("kube_object", kubeObject), applyResult],
                                         optional: experimentExtra + [("warnings", .array(of: .ref("FieldError")))]),
            "Schedule": .object("A schedule in a list.", required: scheduleItem),
            "ScheduleDetail": .object("A schedule with its object and the experiments it started.",
                                      required: scheduleItem + scheduleExtra, optional: [("last_schedule_time", .dateTime())]),
            "AppliedSchedule": .object("A schedule as applied.", required: scheduleItem + scheduleExtra + [applyResult],
                                       optional: [("last_schedule_time", .dateTime()),
                                                  ("warnings", .array(of: .ref("FieldError")))]),
            "StateCounts": .object("How many there are in each state.",
                                   required: ExperimentStatusName.allCases.map { ($0.stateKey, .integer(minimum: 0)) }),
            "Archive": .object("A finished experiment kept in the archive.", required: archiveItem),
            "ArchiveDetail": .object("An archived experiment with its object.", required: archiveItem + [("kube_object", kubeObject)]),
            "Event": event,
            "Pod": pod,
            "Config": .object("The dashboard's configuration.", required: [
                ("security_mode", .string("\"true\" when API calls need the bearer token.", oneOf: ["true", "false"])),
                ("version", .string()),
                ("dns_server_create", .string(oneOf: ["true", "false"])),
            ]),
            "HaltState": .object("Whether the emergency stop is on.", required: [("halted", .boolean())]),
            "HaltResult": .object("The emergency stop, done.", required: [
                ("halted", .boolean()),
                ("recovered", .integer("How many faults were recovered.", minimum: 0)),
                ("elapsed_ms", .number("How long recovering everything took.")),
            ]),
            "Validation": validation,
            "ChaosdReply": .object("chaosd's answer to an attack or a recovery.", required: [
                ("status", .integer("Always 200.")), ("message", .string()), ("uid", .string("The attack's id, for DELETE /api/attack/{uid}.")),
            ]),
            "ChaosdExperiment": .object("chaosd's core.Experiment: one attack made outside experiments.", required: [
                ("id", .integer("Its row number, oldest first.", minimum: 1)), ("uid", .string()),
                ("created_at", .dateTime()), ("updated_at", .dateTime()),
                ("status", .string(oneOf: ["created", "success", "recovering", "destroyed", "error"])),
                ("error", .string("The last message about it, or empty.")), ("kind", .string()), ("action", .string()),
                ("recover_command", .string("Always empty: the journal keeps how to recover.")),
                ("launch_mode", .string(oneOf: ["svr"])),
            ]),
            "Machine": .object("A machine of the fleet and whether its agent answers.", required: [
                ("name", .string()), ("namespace", .string()), ("labels", .map(of: .string())),
                ("address", .string("The daemon's URL; empty for this host.")),
                ("source", .string(oneOf: ["local", "document", "joined", "address"])), ("reachable", .boolean()),
            ], optional: [
                ("lastSeen", .dateTime()), ("error", .string()), ("version", .integer()), ("activeAttacks", .integer(minimum: 0)),
                ("halted", .boolean()), ("kinds", .array(of: .string())), ("machineActions", .array(of: .string())),
            ]),
            "NetworkAttack": networkAttack,
            "ProcessAttack": processAttack,
            "StressAttack": stressAttack,
            "DiskAttack": diskAttack,
        ]
    }

    /// `{code, type, message, full_text, errors}`: Chaos Mesh dashboard's
    /// error body and every problem with its field path.
    static let error = JSONSchema.object("Every error answer.", required: [
        ("code", .integer("The HTTP status again.", minimum: 400, maximum: 599)),
        ("type", .string("ValidationError, NotFound, Conflict, Halted, Unauthorized, Forbidden, UnsupportedMediaType, PayloadTooLarge ...")),
        ("message", .string()),
        ("full_text", .string("The message and every field error, one a line.")),
        ("errors", .array(of: .ref("FieldError"))),
    ])

    static let fieldError = JSONSchema.object("One problem (or warning) with the field it is about.", required: [
        ("path", .string("The field path: spec.delay.latency.")),
        ("message", .string()),
    ], optional: [("document", .integer("1-based, when the body held several documents.", minimum: 1))])

    static let kubeObject = JSONSchema.any("The Kubernetes object as stored, with its status.")

    static let applyResult = ("result", JSONSchema.string("What the apply did.", oneOf: ["created", "configured", "unchanged"]))

    static let experimentItem: [(String, JSONSchema)] = [
        ("uid", .string()),
        ("kind", .string(oneOf: ChaosKind.allCases.map(\.rawValue))),
        ("namespace", .string()),
        ("name", .string()),
        ("action", .string("The fault's action (delay, pod-kill ...).")),
        ("created_at", .dateTime()),
        ("status", .string(oneOf: ExperimentStatusName.allCases.map(\.rawValue))),
    ]

    static let experimentExtra: [(String, JSONSchema)] = [
        ("failure", .string("Why the experiment failed.")),
        ("schedule_uid", .string("The schedule that started it.")),
    ]

    static let scheduleItem: [(String, JSONSchema)] = [
        ("uid", .string()),
        ("kind", .string(oneOf: [ChaosKind.schedule.rawValue])),
        ("namespace", .string()),
        ("name", .string()),
        ("type", .string("The kind it schedules.")),
        ("schedule", .string("The cron expression.")),
        ("created_at", .dateTime()),
        ("status", .string(oneOf: ["running", "paused", "deleting"])),
    ]

    static let scheduleExtra: [(String, JSONSchema)] = [
        ("experiment_uids", .array(of: .string())),
        ("kube_object", kubeObject),
    ]

    static let archiveItem: [(String, JSONSchema)] = [
        ("uid", .string()), ("kind", .string()), ("namespace", .string()), ("name", .string()), ("action", .string()),
        ("start_time", .dateTime()), ("finish_time", .dateTime()),
    ]

    static let event = JSONSchema.object("One event of an experiment or schedule.", required: [
        ("id", .integer(format: "int64")),
        ("object_id", .string("The uid of the experiment or schedule.")),
        ("created_at", .dateTime()),
        ("namespace", .string()), ("name", .string()), ("kind", .string()),
        ("type", .string(oneOf: ["Normal", "Warning"])),
        ("reason", .string()), ("message", .string()),
    ])

    static let pod = JSONSchema.object("A target on this host: a named network namespace or a container.", required: [
        ("name", .string()), ("namespace", .string()),
        ("labels", .map(of: .string())), ("annotations", .map(of: .string())),
        ("ips", .array(of: .string())),
        ("nodeName", .string()), ("nodeLabels", .map(of: .string())),
        ("phase", .string()),
        ("source", .string(oneOf: ["netns", "docker", "podman", "given"])),
    ], optional: [("netns", .string()), ("pid", .int32()), ("containerID", .string())])

    static var validation: JSONSchema {
        let problem = JSONSchema.object(required: [
            ("path", .string()), ("message", .string()), ("document", .integer("1-based.", minimum: 1)),
        ], optional: [("line", .integer("The line of a YAML syntax error."))])
        let summary = JSONSchema.object(required: [("index", .integer(minimum: 1))],
                                        optional: [("kind", .string()), ("name", .string()), ("namespace", .string())])
        return .object("What applying the text would say, without applying it.", required: [
            ("valid", .boolean()),
            ("errors", .array(of: problem)),
            ("warnings", .array(of: problem)),
            ("documents", .array(of: summary)),
        ])
    }

    /// A Chaos Mesh document; its spec is checked by kind, with field
    /// paths in the 400 answer.
    static func chaosDocument(kinds: [String]) -> JSONSchema {
        .object("A Chaos Mesh document (chaos-mesh.org/v1alpha1), or one of Tumult's own TCPChaos (tumult.dev/v1alpha1); "
                + "YAML bodies may hold several, separated by ---.", required: [
            ("apiVersion", .string("chaos-mesh.org/v1alpha1; tumult.dev/v1alpha1 for TCPChaos.")),
            ("kind", .string(oneOf: kinds)),
            ("metadata", .object(required: [("name", .string())],
                                 optional: [("namespace", .string()), ("labels", .map(of: .string())),
                                            ("annotations", .map(of: .string()))],
                                 additionalProperties: true)),
            ("spec", JSONSchema(type: "object", description: "The kind's spec (Chaos Mesh's CRD; TCPChaos: TCPChaosSpec).",
                                additionalProperties: .allowed(true))),
        ])
    }

    /// The spec of Tumult's own kind, from the model's types (as its CRD),
    /// its toxics by reference.
    static var tcpChaosSpec: JSONSchema {
        let spec = model(of: .tcpChaos)
        var properties = spec.properties ?? [:]
        properties["toxics"] = .array(of: .ref("Toxic"), "Applied in order; empty or absent, connections pass through.")
        return JSONSchema(type: spec.type, description: "TCPChaos (tumult.dev/v1alpha1): Toxiproxy's toxics on the TCP connections to or from a port of the selected pods.",
                          properties: properties, required: spec.required, additionalProperties: spec.additionalProperties)
    }

    /// One of Toxiproxy's toxics, as TCPChaos and the live toxics API take it.
    static var toxic: JSONSchema {
        let schema = CustomResourceDefinitions.definition(for: .tcpChaos)
            .flatMap { specNode(of: $0)?.objectValue?["properties"]?.objectValue?["toxics"]?.objectValue?["items"] }
        return .model(schema ?? .null, "A Toxiproxy toxic: type, stream (default downstream), toxicity (0 to 1, default 1), "
                      + "name (default TYPE_STREAM) and attributes in Toxiproxy's units (ms; the slicer's delay in µs; rate in KB/s; sizes in bytes).")
    }

    /// `kind`'s spec schema, from the CRD the model generates.
    static func model(of kind: ChaosKind) -> JSONSchema {
        .model(CustomResourceDefinitions.definition(for: kind).flatMap(specNode(of:)) ?? .null)
    }

    /// `spec.versions[0].schema.openAPIV3Schema.properties.spec` of a CRD.
    static func specNode(of definition: Value) -> Value? {
        guard case .array(let versions)? = definition.objectValue?["spec"]?.objectValue?["versions"] else { return nil }
        return versions.first?.objectValue?["schema"]?.objectValue?["openAPIV3Schema"]?.objectValue?["properties"]?
            .objectValue?["spec"]
    }
}
