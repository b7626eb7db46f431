import Testing
import TumultModel

/// One invalid document and exactly the field paths its errors must name.
struct InvalidCase: CustomTestStringConvertible, Sendable {
    var name: String
    var yaml: String
    var paths: [String]
    /// A piece of the first error's message, where the wording matters.
    var message: String?

    var testDescription: String { name }

    /// A document of `kind` whose `spec` is `spec` (block YAML, indented by the helper).
    init(_ name: String, _ kind: String, _ spec: String, paths: [String], message: String? = nil,
         metadata: String = "{name: case-1}") {
        let indented = spec.split(separator: "\n", omittingEmptySubsequences: false).map { "  " + $0 }.joined(separator: "\n")
        self.name = name
        self.yaml = "apiVersion: chaos-mesh.org/v1alpha1\nkind: \(kind)\nmetadata: \(metadata)\nspec:\n\(indented)\n"
        self.paths = paths
        self.message = message
    }

    /// A whole document, for cases about the envelope.
    init(_ name: String, document: String, paths: [String], message: String? = nil) {
        self.name = name
        self.yaml = document
        self.paths = paths
        self.message = message
    }
}

/// Table of invalid documents; each must be refused with errors at exactly
/// the listed field paths — no fewer, no more.
@Suite struct InvalidDocumentTests {
    static let network = "action: delay\nmode: all\nselector: {namespaces: [shop]}\n"

    static let cases: [InvalidCase] = [
        // Envelope and metadata.
        InvalidCase("missing apiVersion and kind", document: "metadata: {name: a}\nspec: {}\n", paths: ["apiVersion"]),
        InvalidCase("unserved version", document: "apiVersion: chaos-mesh.org/v2\nkind: PodChaos\nmetadata: {name: a}\nspec: {}\n",
                    paths: ["apiVersion"], message: "is not served"),
        InvalidCase("misspelt kind", document: "apiVersion: chaos-mesh.org/v1alpha1\nkind: PodChoas\nmetadata: {name: a}\nspec: {}\n",
                    paths: ["kind"], message: "did you mean \"PodChaos\""),
        InvalidCase("no spec", document: "apiVersion: chaos-mesh.org/v1alpha1\nkind: PodChaos\nmetadata: {name: a}\n",
                    paths: ["spec"]),
        InvalidCase("spec is a list", document: "apiVersion: chaos-mesh.org/v1alpha1\nkind: PodChaos\nmetadata: {name: a}\nspec: [1]\n",
                    paths: ["spec"]),
        InvalidCase("no name", "PodChaos", "action: pod-kill\nmode: one\nselector: {}", paths: ["metadata.name"], metadata: "{}"),
        InvalidCase("upper-case name", "PodChaos", "action: pod-kill\nmode: one\nselector: {}", paths: ["metadata.name"],
                    metadata: "{name: Web_Kill}"),
        InvalidCase("bad namespace", "PodChaos", "action: pod-kill\nmode: one\nselector: {}", paths: ["metadata.namespace"],
                    metadata: "{name: a, namespace: -shop}"),

        // Selectors and modes.
        InvalidCase("mode not in enum", "PodChaos", "action: pod-kill\nmode: some\nselector: {}", paths: ["spec.mode"],
                    message: "is not one of \"one\", \"all\", \"fixed\", \"fixed-percent\", \"random-max-percent\""),
        InvalidCase("fixed needs a value", "PodChaos", "action: pod-kill\nmode: fixed\nselector: {}", paths: ["spec.value"]),
        InvalidCase("fixed zero", "PodChaos", "action: pod-kill\nmode: fixed\nvalue: \"0\"\nselector: {}", paths: ["spec.value"]),
        InvalidCase("fixed not an integer", "PodChaos", "action: pod-kill\nmode: fixed\nvalue: \"two\"\nselector: {}",
                    paths: ["spec.value"]),
        InvalidCase("fixed-percent over 100", "PodChaos", "action: pod-kill\nmode: fixed-percent\nvalue: \"101\"\nselector: {}",
                    paths: ["spec.value"]),
        InvalidCase("random-max-percent zero", "PodChaos", "action: pod-kill\nmode: random-max-percent\nvalue: \"0\"\nselector: {}",
                    paths: ["spec.value"]),
        InvalidCase("value not quoted", "PodChaos", "action: pod-kill\nmode: fixed\nvalue: 2\nselector: {}", paths: ["spec.value"],
                    message: "quote it"),
        InvalidCase("expression operator", "PodChaos",
                    "action: pod-kill\nmode: one\nselector:\n  expressionSelectors: [{key: app, operator: Like, values: [a]}]",
                    paths: ["spec.selector.expressionSelectors[0].operator"]),
        InvalidCase("In without values", "PodChaos",
                    "action: pod-kill\nmode: one\nselector:\n  expressionSelectors: [{key: app, operator: In}]",
                    paths: ["spec.selector.expressionSelectors[0].values"]),
        InvalidCase("pod phase", "PodChaos", "action: pod-kill\nmode: one\nselector: {podPhaseSelectors: [Runing]}",
                    paths: ["spec.selector.podPhaseSelectors[0]"]),
        InvalidCase("pods map of strings", "PodChaos", "action: pod-kill\nmode: one\nselector: {pods: {shop: web-1}}",
                    paths: ["spec.selector.pods.shop"]),

        // NetworkChaos.
        InvalidCase("latency not a duration", "NetworkChaos", network + "delay: {latency: \"90xs\"}",
                    paths: ["spec.delay.latency"], message: "\"90xs\" is not a duration"),
        InvalidCase("latency compound", "NetworkChaos", network + "delay: {latency: \"1m30s\"}", paths: ["spec.delay.latency"]),
        InvalidCase("jitter negative", "NetworkChaos", network + "delay: {latency: 10ms, jitter: \"-5ms\"}",
                    paths: ["spec.delay.jitter"]),
        InvalidCase("correlation over 100", "NetworkChaos", network + "delay: {latency: 10ms, correlation: \"150\"}",
                    paths: ["spec.delay.correlation"]),
        InvalidCase("reorder without gap", "NetworkChaos", network + "delay: {latency: 10ms, reorder: {reorder: \"10\"}}",
                    paths: ["spec.delay.reorder.gap"]),
        InvalidCase("delay action without delay", "NetworkChaos", network, paths: ["spec.delay"]),
        InvalidCase("loss not a number", "NetworkChaos", "action: loss\nmode: all\nselector: {}\nloss: {loss: lots}",
                    paths: ["spec.loss.loss"]),
        InvalidCase("netem with nothing", "NetworkChaos", "action: netem\nmode: all\nselector: {}", paths: ["spec.action"]),
        InvalidCase("bandwidth rate unit", "NetworkChaos",
                    "action: bandwidth\nmode: all\nselector: {}\nbandwidth: {rate: 10mb, limit: 100, buffer: 10}",
                    paths: ["spec.bandwidth.rate"]),
        InvalidCase("bandwidth limit zero", "NetworkChaos",
                    "action: bandwidth\nmode: all\nselector: {}\nbandwidth: {rate: 10mbit, limit: 0, buffer: 10}",
                    paths: ["spec.bandwidth.limit"]),
        InvalidCase("bandwidth without buffer", "NetworkChaos",
                    "action: bandwidth\nmode: all\nselector: {}\nbandwidth: {rate: 10mbit, limit: 10}",
                    paths: ["spec.bandwidth.buffer"]),
        InvalidCase("from without target", "NetworkChaos", network + "delay: {latency: 10ms}\ndirection: from",
                    paths: ["spec.direction"]),
        InvalidCase("both without target", "NetworkChaos", network + "delay: {latency: 10ms}\ndirection: both",
                    paths: ["spec.direction"]),
        InvalidCase("external targets with from", "NetworkChaos",
                    network + "delay: {latency: 10ms}\ndirection: from\ntarget: {mode: all, selector: {}}\nexternalTargets: [10.0.0.0/8]",
                    paths: ["spec.externalTargets"]),
        InvalidCase("bad external target", "NetworkChaos", network + "delay: {latency: 10ms}\nexternalTargets: [\"10.0.0.300\"]",
                    paths: ["spec.externalTargets[0]"]),
        InvalidCase("direction not in enum", "NetworkChaos", network + "delay: {latency: 10ms}\ndirection: sideways",
                    paths: ["spec.direction"]),
        InvalidCase("target mode value", "NetworkChaos",
                    "action: partition\nmode: all\nselector: {}\ntarget: {mode: fixed, value: \"0\", selector: {}}",
                    paths: ["spec.target.value"]),
        InvalidCase("device name too long", "NetworkChaos", network + "delay: {latency: 10ms}\ndevice: a-very-long-device-name",
                    paths: ["spec.device"]),
        InvalidCase("duration not a duration", "NetworkChaos", network + "delay: {latency: 10ms}\nduration: forever",
                    paths: ["spec.duration"]),
        InvalidCase("several problems at once", "NetworkChaos",
                    "action: delay\nmode: fixed\nvalue: \"0\"\nselector: {}\nduration: 1y\ndelay: {latency: 90xs, jitter: 1m30s}",
                    paths: ["spec.value", "spec.duration", "spec.delay.latency", "spec.delay.jitter"]),

        // Schedule.
        InvalidCase("bad cron", "Schedule", "schedule: \"61 * * * *\"\ntype: PodChaos\npodChaos: {action: pod-kill, mode: one, selector: {}}",
                    paths: ["spec.schedule"]),
        InvalidCase("type without its spec", "Schedule",
                    "schedule: \"@every 1m\"\ntype: NetworkChaos\npodChaos: {action: pod-kill, mode: one, selector: {}}",
                    paths: ["spec.networkChaos", "spec.podChaos"]),
        InvalidCase("unknown schedule type", "Schedule", "schedule: \"@hourly\"\ntype: Pod", paths: ["spec.type"]),
        InvalidCase("history limit zero", "Schedule",
                    "schedule: \"@hourly\"\ntype: PodChaos\nhistoryLimit: 0\npodChaos: {action: pod-kill, mode: one, selector: {}}",
                    paths: ["spec.historyLimit"]),
        InvalidCase("concurrency policy", "Schedule",
                    "schedule: \"@hourly\"\ntype: PodChaos\nconcurrencyPolicy: Replace\npodChaos: {action: pod-kill, mode: one, selector: {}}",
                    paths: ["spec.concurrencyPolicy"]),
        InvalidCase("starting deadline zero", "Schedule",
                    "schedule: \"@hourly\"\ntype: PodChaos\nstartingDeadlineSeconds: 0\npodChaos: {action: pod-kill, mode: one, selector: {}}",
                    paths: ["spec.startingDeadlineSeconds"]),
        InvalidCase("embedded spec problem", "Schedule",
                    "schedule: \"@hourly\"\ntype: NetworkChaos\nnetworkChaos: {action: delay, mode: all, selector: {}, delay: {latency: 1x}}",
                    paths: ["spec.networkChaos.delay.latency"]),
        InvalidCase("Workflow schedule without workflow", "Schedule", "schedule: \"@hourly\"\ntype: Workflow",
                    paths: ["spec.workflow"]),

        // Workflow.
        InvalidCase("entry names nothing", "Workflow", "entry: start\ntemplates: [{name: other, templateType: Suspend, deadline: 1s}]",
                    paths: ["spec.entry"]),
        InvalidCase("no templates", "Workflow", "entry: start\ntemplates: []", paths: ["spec.entry", "spec.templates"]),
        InvalidCase("child names nothing", "Workflow",
                    "entry: a\ntemplates:\n- {name: a, templateType: Serial, children: [b, ghost]}\n- {name: b, templateType: Suspend, deadline: 1s}",
                    paths: ["spec.templates[0].children[1]"]),
        InvalidCase("duplicate template names", "Workflow",
                    "entry: a\ntemplates:\n- {name: a, templateType: Suspend, deadline: 1s}\n- {name: a, templateType: Suspend, deadline: 2s}",
                    paths: ["spec.templates[1].name"]),
        InvalidCase("suspend without deadline", "Workflow", "entry: a\ntemplates: [{name: a, templateType: Suspend}]",
                    paths: ["spec.templates[0].deadline"]),
        InvalidCase("chaos template with duration", "Workflow",
                    "entry: a\ntemplates:\n- name: a\n  templateType: PodChaos\n  deadline: 1m\n  podChaos: {action: pod-failure, mode: one, selector: {}, duration: 30s}",
                    paths: ["spec.templates[0].podChaos.duration"], message: "use the template's deadline"),
        InvalidCase("chaos template without its spec", "Workflow",
                    "entry: a\ntemplates: [{name: a, templateType: StressChaos, deadline: 1m}]",
                    paths: ["spec.templates[0].stressChaos"]),
        InvalidCase("template type not known", "Workflow", "entry: a\ntemplates: [{name: a, templateType: Sleep}]",
                    paths: ["spec.templates[0].templateType"]),
        InvalidCase("templates in a loop", "Workflow",
                    "entry: a\ntemplates:\n- {name: a, templateType: Serial, children: [b]}\n- {name: b, templateType: Parallel, children: [a]}",
                    paths: ["spec.templates"], message: "a -> b -> a"),
        InvalidCase("branch target names nothing", "Workflow",
                    "entry: a\ntemplates:\n- name: a\n  templateType: Task\n  task: {container: {name: c, image: busybox}}\n  conditionalBranches: [{target: nowhere}]",
                    paths: ["spec.templates[0].conditionalBranches[0].target"]),
        InvalidCase("task without image", "Workflow",
                    "entry: a\ntemplates: [{name: a, templateType: Task, task: {container: {name: c}}}]",
                    paths: ["spec.templates[0].task.container.image"]),

        // StatusCheck.
        InvalidCase("status code range", "StatusCheck", "type: HTTP\nhttp: {url: \"http://127.0.0.1/\", criteria: {statusCode: \"400-200\"}}",
                    paths: ["spec.http.criteria.statusCode"]),
        InvalidCase("status check url", "StatusCheck", "type: HTTP\nhttp: {url: \"ftp://x\", criteria: {statusCode: \"200\"}}",
                    paths: ["spec.http.url"]),
        InvalidCase("history limit over 1000", "StatusCheck",
                    "type: HTTP\nrecordsHistoryLimit: 1001\nhttp: {url: \"http://127.0.0.1/\", criteria: {statusCode: \"200\"}}",
                    paths: ["spec.recordsHistoryLimit"]),
        InvalidCase("HTTP check without http", "StatusCheck", "type: HTTP", paths: ["spec.http"]),
    ] + KindSpecificInvalidCases.cases

    @Test func thereAreAtLeastFortyCases() {
        #expect(Self.cases.count >= 40)
    }

    @Test(arguments: cases)
    func refusedWithExactlyTheseFieldPaths(_ invalid: InvalidCase) throws {
        let result = try report(invalid.yaml)
        #expect(result.document == nil, "accepted: \(invalid.yaml)")
        let paths = Set(result.diagnostics.errors.map(\.path.description))
        #expect(paths == Set(invalid.paths), "errors: \(result.diagnostics.errors)")
        if let message = invalid.message {
            #expect(result.diagnostics.errors.contains { $0.message.contains(message) },
                    "no error says \(message): \(result.diagnostics.errors)")
        }
    }
}
