import TumultController
import TumultModel

/// Every path the router has (`APIRoutes`, `DashboardRoutes`,
/// `ChaosdRoutes`, `MetricsRoutes`, `OpenAPIRoutes`), with what each
/// method takes and answers.
extension TumultOpenAPI {
    typealias Route = (path: String, method: String, operation: Operation)

    static var paths: [String: OpenAPIDocument.PathItem] {
        var paths: [String: OpenAPIDocument.PathItem] = [:]
        var all = collection(.experiments) + collection(.schedules) + archivesEventsCommon + halt + dashboard + chaosd + metaAndMetrics + toxics
        all += workflows + statusChecks
        for route in all {
            paths[route.path, default: .init()].operations[route.method] = route.operation
        }
        return paths
    }

    static let warningHeader = OpenAPIDocument.Header(
        description: "One per warning, as Kubernetes sends them: `299 - \"spec.delay.jiter: unknown field \\\"jiter\\\"\"`.",
        schema: .string())

    static let fieldValidation = query("fieldValidation", """
        What an unknown field is (case-insensitive): an error (Strict, the default), a warning in the answer \
        and in Warning headers (Warn), or nothing (Ignore).
        """, .string(oneOf: ["Strict", "Warn", "Ignore"]))

    /// `/api/experiments` or `/api/schedules` and the paths under it.
    static func collection(_ tag: Tag) -> [Route] {
        let isSchedule = tag == .schedules
        let base = "/api/\(tag.rawValue)"
        let noun = isSchedule ? "Schedule" : "Experiment"
        let one = isSchedule ? "schedule" : "experiment"
        let uid = path("uid", "The \(one)'s uid.")
        let appliedKinds: [JSONSchema] = ["AppliedExperiment", "AppliedSchedule", "AppliedWorkflow", "AppliedStatusCheck"].map { JSONSchema.ref($0) }
        let applied: JSONSchema = isSchedule
            ? .anyOf([.ref("AppliedSchedule"), .array(of: .ref("AppliedSchedule"))])
            : .anyOf(appliedKinds + [.array(of: .anyOf(appliedKinds))])
        let otherAnswers = isSchedule ? ""
            : "; a Workflow or a StatusCheck answers its detail (as GET /api/workflows/{uid} or /api/statuschecks/{uid}) with result"
        let statuses = isSchedule ? ["running", "paused", "deleting"] : ExperimentStatusName.allCases.map(\.rawValue)
        return [
            (base, "get", operation("list\(noun)s", "List \(one)s", tag: tag, parameters: [
                query("namespace", "Only this namespace."), query("name", "Only this name."),
                query("kind", isSchedule ? "Only schedules of this type." : "Only this kind."),
                query("status", "Only this status.", .string(oneOf: statuses)),
            ], answers: [200: json(.array(of: .ref(noun)), "The \(one)s.")])),
            (base, "post", operation("apply\(noun)s", "Apply \(isSchedule ? "a Schedule" : "documents")", tag: tag, description: """
                Applies every document of the body, or none when any is invalid (400 with every problem and its field path). \
                One document answers one object, several an array in their order\(otherAnswers).
                """, parameters: [fieldValidation],
                body: documents(isSchedule ? "ScheduleDocument" : "ChaosDocument",
                                isSchedule ? "A Schedule document." : "One or more documents (YAML: separated by ---).",
                                example: isSchedule ? scheduleExample : experimentExample),
                answers: [200: json(applied, "What was applied.", headers: ["Warning": warningHeader])],
                errors: [400, 409], write: true)),
            (base, "delete", operation("delete\(noun)s", "Delete several \(one)s", tag: tag, parameters: [
                query("uids", "Comma-separated uids.", required: true),
            ], answers: [200: json(.ref("Status"), "Deleted.")], errors: [400, 404], write: true)),
            ("\(base)/state", "get", operation("\(one)States", "Count \(one)s by state", tag: tag, parameters: [
                query("namespace", "Only this namespace."),
            ], answers: [200: json(.ref("StateCounts"), "How many in each state.")])),
            ("\(base)/{uid}", "get", operation("get\(noun)", "One \(one)", tag: tag, parameters: [uid],
                                               answers: [200: json(.ref("\(noun)Detail"), "The \(one).")], errors: [404])),
            ("\(base)/{uid}", "delete", operation("delete\(noun)", "Delete one \(one)", tag: tag, parameters: [uid],
                                                  answers: [200: json(.ref("Status"), "Deleted.")], errors: [404], write: true)),
            // 400: a Workflow or StatusCheck, which cannot be paused (as in Chaos Mesh).
            ("\(base)/pause/{uid}", "put", operation("pause\(noun)", "Pause", tag: tag, parameters: [uid],
                                                     answers: [200: json(.ref("Status"), "Paused.")], errors: [400, 404, 409], write: true)),
            ("\(base)/start/{uid}", "put", operation("start\(noun)", "Resume", tag: tag, parameters: [uid],
                                                     answers: [200: json(.ref("Status"), "Resumed.")], errors: [404, 409], write: true)),
        ]
    }

    static var archivesEventsCommon: [Route] {
        let names = JSONSchema.array(of: .string())
        return [
            ("/api/archives", "get", operation("listArchives", "List archived experiments", tag: .archives, parameters: [
                query("namespace", "Only this namespace."), query("name", "Only this name."), query("kind", "Only this kind."),
            ], answers: [200: json(.array(of: .ref("Archive")), "The archive.")])),
            ("/api/archives/{uid}", "get", operation("getArchive", "One archived experiment", tag: .archives,
                                                     parameters: [path("uid", "The archived experiment's uid.")],
                                                     answers: [200: json(.ref("ArchiveDetail"), "The archived experiment.")],
                                                     errors: [404])),
            ("/api/events", "get", operation("listEvents", "List events, newest first", tag: .events, parameters: [
                query("namespace", "Only this namespace."), query("name", "Only this object's name."),
                query("object_id", "Only this experiment's or schedule's uid."), query("kind", "Only this kind."),
                query("limit", "At most this many (default 100).", .integer(minimum: 0, maximum: Int64(Int32.max))),
                query("start", "Only events since (RFC 3339).", .dateTime()),
            ], answers: [200: json(.array(of: .ref("Event")), "The events.")])),
            ("/api/common/kinds", "get", operation("listKinds", "Kinds this host can run", tag: .common,
                                                   answers: [200: json(names, "Kind names, and Schedule.")])),
            ("/api/common/namespaces", "get", operation("listNamespaces", "Namespaces of the targets", tag: .common,
                                                        answers: [200: json(names, "Namespace names.")])),
            ("/api/common/chaos-available-namespaces", "get", operation("listChaosAvailableNamespaces", "Namespaces chaos may target",
                                                                        tag: .common, answers: [200: json(names, "Namespace names.")])),
            ("/api/common/labels", "get", operation("listLabels", "Labels of the targets", tag: .common, parameters: [
                query("podNamespaceList", "Comma-separated namespaces; all when absent."),
            ], answers: [200: json(.map(of: names), "Every label key with its values.")])),
            ("/api/common/config", "get", operation("getConfig", "The dashboard's configuration", tag: .common,
                                                    answers: [200: json(.ref("Config"), "The configuration.")])),
            ("/api/pods", "get", operation("listPods", "The targets on every host of the fleet", tag: .pods,
                                           answers: [200: json(.array(of: .ref("Pod")), "The targets.")])),
            ("/api/machines", "get", operation("listMachines", "The machines of the fleet", tag: .pods,
                                               description: "This host, PhysicalMachine documents and joined daemons, each asked for its status.",
                                               answers: [200: json(.array(of: .ref("Machine")), "The machines.")])),
        ]
    }

    static var halt: [Route] {
        [
            ("/api/halt", "get", operation("getHalt", "Whether Tumult is halted", tag: .halt,
                                           answers: [200: json(.ref("HaltState"), "The emergency stop's state.")])),
            ("/api/halt", "post", operation("halt", "Emergency stop", tag: .halt, description: """
                Recovers every fault on this host and refuses new ones (409) until DELETE.
                """, answers: [200: json(.ref("HaltResult"), "Everything recovered.")], write: true)),
            ("/api/halt", "delete", operation("unhalt", "Lift the emergency stop", tag: .halt,
                                              answers: [200: json(.ref("HaltState"), "No longer halted.")], write: true)),
        ]
    }

    static var dashboard: [Route] {
        let page = text("text/html", "The dashboard's page.")
        let headOnly = Response(description: "The headers alone.")
        let notModified = Response(description: "The client's copy (If-None-Match) is current.")
        let assetParameters = [
            path("version", "The build's asset version (any other is served too, without long caching)."),
            path("file", "The file.", .string(oneOf: DashboardAssets.files.keys.sorted())),
        ]
        let asset = Response(description: "The file.", content: [
            "text/javascript": .init(schema: .string()), "text/css": .init(schema: .string()),
        ])
        var routes: [Route] = []
        for (id, pagePath) in [("Index", "/"), ("IndexHTML", "/index.html")] {
            routes.append((pagePath, "get", operation("getDashboard\(id)", "The dashboard", tag: .dashboard,
                                                      answers: [200: page, 304: notModified], access: .open)))
            routes.append((pagePath, "head", operation("headDashboard\(id)", "The dashboard's headers", tag: .dashboard,
                                                       answers: [200: headOnly, 304: notModified], access: .open)))
        }
        routes += [
            ("/assets/{version}/{file}", "get", operation("getAsset", "A dashboard script or style sheet", tag: .dashboard,
                                                          parameters: assetParameters, answers: [200: asset, 304: notModified],
                                                          errors: [404], access: .open)),
            ("/assets/{version}/{file}", "head", operation("headAsset", "A dashboard file's headers", tag: .dashboard,
                                                           parameters: assetParameters, answers: [200: headOnly, 304: notModified],
                                                           errors: [404], access: .open)),
            ("/api/validate", "post", operation("validateDocuments", "Validate without applying", tag: .dashboard, description: """
                Checks documents exactly as POST /api/experiments would; a text that is not YAML is an answer with valid false, not an error.
                """, parameters: [fieldValidation],
                body: documents("ChaosDocument", "One or more documents (YAML: separated by ---).", example: experimentExample),
                answers: [200: json(.ref("Validation"), "What applying would say.")], errors: [400], write: true)),
            ("/api/stream", "get", operation("stream", "Live updates", tag: .dashboard, description: """
                Server-sent events: `update` for every change of an experiment or schedule, `halt` for the emergency stop, \
                a comment every 15 s. Never ends by itself.
                """, parameters: [query("token", "The bearer token, for EventSource (which cannot send headers).")],
                answers: [200: text("text/event-stream", "The event stream.")], access: .tokenOrQuery)),
        ]
        return routes
    }

    static var metaAndMetrics: [Route] {
        [
            ("/metrics", "get", operation("getMetrics", "Prometheus metrics", tag: .metrics,
                                          answers: [200: text("text/plain", "The Prometheus text format 0.0.4.")])),
            ("/api/openapi.json", "get", operation("getOpenAPI", "This description", tag: .meta,
                                                   answers: [200: json(JSONSchema(type: "object"), "OpenAPI 3.0.")])),
        ]
    }
}
