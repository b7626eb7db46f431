import Foundation
import Testing
import TumultModel
@testable import tumult

/// What the server-talking commands print, from API answers given as JSON
/// text exactly as the REST contract shapes them.
@Suite struct ClientPrintingTests {
    /// 2024-05-01T12:00:00Z.
    let now = Date(timeIntervalSince1970: 1_714_564_800)

    func parse(_ json: String) throws -> Value {
        try APIClient.parseJSON(Data(json.utf8))
    }

    func received<T: Decodable>(_ type: T.Type, _ json: String) throws -> [Received<T>] {
        try APIClient.items(type, in: try parse(json), what: "test")
    }

    let experimentsJSON = """
        [{"uid": "0a1b", "kind": "NetworkChaos", "namespace": "default", "name": "web-delay",
          "action": "delay", "created_at": "2024-05-01T11:57:00Z", "status": "running"},
         {"uid": "9f8e", "kind": "PodChaos", "namespace": "shop", "name": "kill-one-of-the-web-pods",
          "action": "pod-kill", "created_at": "2024-04-27T11:59:59.250Z", "status": "finished"}]
        """

    // MARK: Ages

    @Test(arguments: [
        (0.0, "0s"), (-0.5, "0s"), (-3.0, "<invalid>"), (5, "5s"), (119, "119s"), (120, "2m"), (200, "3m20s"),
        (600, "10m"), (179 * 60, "179m"), (3 * 3600, "3h"), (2.5 * 3600, "150m"), (7 * 3600 + 60, "7h1m"),
        (20 * 3600, "20h"), (4 * 86400, "4d"), (4 * 86400 + 5 * 3600, "4d5h"), (30 * 86400, "30d"),
        (800 * 86400, "2y70d"), (9 * 365 * 86400, "9y"),
    ] as [(Double, String)])
    func agesReadLikeKubectl(seconds: Double, expected: String) {
        #expect(Printing.humanDuration(seconds) == expected)
    }

    @Test func agesComeFromRFC3339TimestampsWithOrWithoutFractionsAndOffsets() {
        #expect(Printing.age(since: "2024-05-01T11:59:55Z", now: now) == "5s")
        #expect(Printing.age(since: "2024-05-01T11:57:00.123456Z", now: now) == "2m59s")
        #expect(Printing.age(since: "2024-05-01T13:59:50+02:00", now: now) == "10s")
        #expect(Printing.age(since: nil, now: now) == "<unknown>")
        #expect(Printing.age(since: "yesterday", now: now) == "<unknown>")
    }

    // MARK: Tables

    @Test func tablesAlignColumnsWithThreeSpacesAndNoTrailingBlanks() {
        let table = TextTable(headers: ["NAME", "STATUS", "AGE"], rows: [["a", "running", "5s"], ["long-name", "paused", ""]])
        #expect(table.render() == """
            NAME        STATUS    AGE
            a           running   5s
            long-name   paused

            """)
    }

    @Test func experimentsListLikeKubectlGet() throws {
        let items = try received(ExperimentItem.self, experimentsJSON)
        #expect(Printing.experiments(items, columns: ListingColumns(), now: now).table.render() == """
            NAME                       KIND           STATUS     AGE
            web-delay                  NetworkChaos   running    3m
            kill-one-of-the-web-pods   PodChaos       finished   4d

            """)
        #expect(Printing.experiments(items, columns: ListingColumns(allNamespaces: true, wide: true), now: now).table.render() == """
            NAMESPACE   NAME                       KIND           STATUS     AGE   UID    ACTION
            default     web-delay                  NetworkChaos   running    3m    0a1b   delay
            shop        kill-one-of-the-web-pods   PodChaos       finished   4d    9f8e   pod-kill

            """)
    }

    @Test func schedulesShowWhatTheyRunAndWhen() throws {
        let items = try received(ExperimentItem.self, """
            [{"uid": "s1", "kind": "Schedule", "namespace": "default", "name": "nightly", "type": "NetworkChaos",
              "schedule": "@every 2s", "created_at": "2024-05-01T10:00:00Z", "status": "paused"}]
            """)
        #expect(Printing.schedules(items, columns: ListingColumns(), now: now).table.render() == """
            NAME      TYPE           SCHEDULE    STATUS   AGE
            nightly   NetworkChaos   @every 2s   paused   120m

            """)
    }

    @Test func eventsPrintOldestFirstWithTheirObject() throws {
        // The server answers newest first; ids may be numbers.
        let items = try received(Event.self, """
            [{"id": 2, "object_id": "0a1b", "created_at": "2024-05-01T11:59:30Z", "namespace": "default",
              "name": "web-delay", "kind": "NetworkChaos", "type": "Warning", "reason": "Failed",
              "message": "recover shop/web-1:\\nno such device"},
             {"id": "1", "object_id": "0a1b", "created_at": "2024-05-01T11:58:00Z", "namespace": "default",
              "name": "web-delay", "kind": "NetworkChaos", "type": "Normal", "reason": "Applied", "message": "2 targets"}]
            """)
        let listing = Printing.events(items, columns: ListingColumns(), now: now)
        #expect(listing.entries.map(\.key) == ["1", "2"])
        #expect(listing.table.render() == """
            AGE   TYPE      REASON    OBJECT                   MESSAGE
            2m    Normal    Applied   networkchaos/web-delay   2 targets
            30s   Warning   Failed    networkchaos/web-delay   recover shop/web-1: no such device

            """)
    }

    @Test func podsShowNetnsAddressesAndSortedLabels() throws {
        let pods = [
            Pod(name: "web-1", namespace: "shop", labels: ["tier": "front", "app": "web"], netns: "tmt-web-1",
                ips: ["10.0.0.2", "fd00::2"], source: .netns),
            Pod(name: "db", pid: 4242, source: .docker),
        ]
        let json = try parse(DocumentText.json([.array(try pods.map { try ValueEncoder().encode($0) })]))
        let items = try APIClient.items(Pod.self, in: json, what: "pods")
        #expect(items.map(\.item) == pods)
        #expect(Printing.pods(items, columns: ListingColumns()).table.render() == """
            NAMESPACE   NAME    NODE        NETNS       IPS                LABELS
            shop        web-1   localhost   tmt-web-1   10.0.0.2,fd00::2   app=web,tier=front
            default     db      localhost   <none>      <none>             <none>

            """)
        #expect(Printing.pods(items, columns: ListingColumns(wide: true)).table.rows.map { Array($0.suffix(3)) } == [
            ["<none>", "netns", "Running"], ["4242", "docker", "Running"],
        ])
    }

    @Test func machinesShowAddressSourceStatusAndFaults() throws {
        let json = try parse("""
            [{"name": "vm", "namespace": "default", "labels": {}, "address": "", "source": "local", "reachable": true,
              "activeAttacks": 2, "halted": false},
             {"name": "db-1", "namespace": "default", "labels": {"tier": "back"}, "address": "https://10.0.0.5:31768",
              "source": "joined", "reachable": false, "error": "connection refused"}]
            """)
        let items = try APIClient.items(MachineItem.self, in: json, what: "machines")
        #expect(Printing.machines(items, columns: ListingColumns()).table.render() == """
            NAME   ADDRESS                  SOURCE   STATUS        FAULTS      LABELS
            vm     <this host>              local    Ready         2           <none>
            db-1   https://10.0.0.5:31768   joined   Unreachable   <unknown>   tier=back

            """)
        #expect(Printing.machines(items, columns: ListingColumns(wide: true)).table.rows[1].last == "connection refused")
    }

    @Test func archivesShowWhenTheyRan() throws {
        let items = try received(ArchiveItem.self, """
            [{"uid": "a1", "kind": "NetworkChaos", "namespace": "default", "name": "old", "action": "loss",
              "start_time": "2024-05-01T11:00:00Z", "finish_time": "2024-05-01T11:30:00Z"}]
            """)
        #expect(Printing.archives(items, columns: ListingColumns(wide: true), now: now).table.render() == """
            NAME   KIND           STARTED   FINISHED   UID   ACTION
            old    NetworkChaos   60m       30m        a1    loss

            """)
    }

    // MARK: Watch

    @Test func watchPrintsNewAndChangedRowsButNotAgesThatMoved() throws {
        var state = WatchState()
        let first = try received(ExperimentItem.self, experimentsJSON)
        #expect(state.changes(in: Printing.experiments(first, columns: ListingColumns(), now: now)).count == 2)
        // A second later only the ages could differ: nothing to print.
        let later = now.addingTimeInterval(200)
        #expect(state.changes(in: Printing.experiments(first, columns: ListingColumns(), now: later)).isEmpty)
        var paused = first
        paused[0].item.status = "paused"
        paused[0].json = try parse(#"{"uid": "0a1b", "status": "paused"}"#)
        let changed = state.changes(in: Printing.experiments(paused, columns: ListingColumns(), now: later))
        #expect(changed.map(\.key) == ["0a1b"])
        #expect(changed.first?.cells == ["web-delay", "NetworkChaos", "paused", "6m20s"])
    }

    @Test func watchRowsKeepTheFirstWidthsAndGrowOnlyWhenNeeded() {
        let widths = TextTable.widths(of: [["NAME", "STATUS"], ["a", "running"]])
        #expect(widths == [4, 7])
        #expect(TextTable.widths(widths, fitting: ["much-longer", "x"]) == [11, 7])
        #expect(TextTable.line(["a", "x"], widths: widths) == "a      x")
    }

    // MARK: JSON and YAML

    @Test func jsonAndYAMLKeepTheServersKeyOrder() throws {
        let value = try parse(#"[{"uid": "0a1b", "name": "web-delay", "kind": "NetworkChaos", "count": 2}]"#)
        #expect(Printing.json(value) == """
            [
              {
                "uid": "0a1b",
                "name": "web-delay",
                "kind": "NetworkChaos",
                "count": 2
              }
            ]

            """)
        #expect(try Printing.yaml(value) == """
            - uid: 0a1b
              name: web-delay
              kind: NetworkChaos
              count: 2

            """)
        // An empty list stays a list.
        #expect(Printing.json(try parse("[]")) == "[]\n")
    }

    // MARK: Describe

    let detailJSON = """
        {"uid": "0a1b", "kind": "NetworkChaos", "namespace": "default", "name": "web-delay", "action": "delay",
         "created_at": "2024-05-01T11:57:00Z", "status": "running",
         "kube_object": {"apiVersion": "chaos-mesh.org/v1alpha1", "kind": "NetworkChaos",
           "metadata": {"name": "web-delay", "namespace": "default", "uid": "0a1b",
                        "creationTimestamp": "2024-05-01T11:57:00Z", "labels": {"team": "sre"}},
           "spec": {"action": "delay", "mode": "all", "selector": {"labelSelectors": {"app": "web"}},
                    "delay": {"latency": "90ms"}, "duration": "30s"},
           "status": {"experiment": {"desiredPhase": "Run", "containerRecords": [
               {"id": "shop/web-1", "selectorKey": ".", "phase": "Injected", "injectedCount": 1, "recoveredCount": 0,
                "nodeName": "db-host", "events": [{"type": "Succeeded", "operation": "Apply", "message": "delay 90ms on eth0",
                            "timestamp": "2024-05-01T11:57:01Z"}]},
               {"id": "shop/web-2", "selectorKey": ".", "phase": "Not Injected", "injectedCount": 1, "recoveredCount": 1,
                "events": []}]},
             "conditions": [{"type": "Selected", "status": "True"},
                            {"type": "AllInjected", "status": "False", "reason": "", "message": "1 of 2"}]}}}
        """

    @Test func describeShowsStatusRecordsSpecAndEvents() throws {
        let detail = try APIClient.decode(ExperimentDetail.self, from: try parse(detailJSON), what: "test")
        let events = try received(Event.self, """
            [{"id": 7, "object_id": "0a1b", "created_at": "2024-05-01T11:57:01Z", "type": "Normal",
              "reason": "Applied", "message": "injected shop/web-1"},
             {"id": 6, "object_id": "0a1b", "created_at": "2024-05-01T11:57:00Z", "type": "Normal",
              "reason": "Selected", "message": "2 targets"}]
            """).map(\.item)
        #expect(Printing.describe(detail, events: events, now: now) == """
            Name:           web-delay
            Namespace:      default
            Kind:           NetworkChaos
            UID:            0a1b
            Action:         delay
            Created:        2024-05-01T11:57:00Z (3m ago)
            Status:         running
            Desired Phase:  Run
            Labels:         team=sre
            Conditions:
              TYPE          STATUS   REASON   MESSAGE
              Selected      True
              AllInjected   False             1 of 2
            Records:
              ID           HOST      PHASE          INJECTED   RECOVERED
              shop/web-1   db-host   Injected       1          0
              shop/web-2   <none>    Not Injected   1          1
            Record Events (latest 5 of each):
              RECORD       AGE     TYPE        OPERATION   MESSAGE
              shop/web-1   2m59s   Succeeded   Apply       delay 90ms on eth0
            Spec:
              action: delay
              mode: all
              selector:
                labelSelectors:
                  app: web
              delay:
                latency: 90ms
              duration: 30s
            Events:
              AGE     TYPE     REASON     MESSAGE
              3m      Normal   Selected   2 targets
              2m59s   Normal   Applied    injected shop/web-1

            """)
    }

    @Test func describeOfAScheduleWithoutStatusSaysNone() throws {
        let detail = try APIClient.decode(ExperimentDetail.self, from: try parse("""
            {"uid": "s1", "kind": "Schedule", "namespace": "default", "name": "nightly", "status": "running",
             "type": "NetworkChaos", "schedule": "@every 2s", "experiment_uids": ["r1", "r2"],
             "kube_object": {"metadata": {"name": "nightly"}, "spec": {"schedule": "@every 2s"}}}
            """), what: "test")
        let text = Printing.describe(detail, events: [], now: now)
        #expect(text == """
            Name:       nightly
            Namespace:  default
            Kind:       Schedule
            UID:        s1
            Type:       NetworkChaos
            Schedule:   @every 2s
            Status:     running
            Runs:       r1, r2
            Conditions:
              <none>
            Records:
              <none>
            Spec:
              schedule: '@every 2s'
            Events:
              <none>

            """)
    }

    // MARK: Results and errors

    @Test func applyPrintsKindNameAndResult() throws {
        let detail = try APIClient.decode(ExperimentDetail.self, from: try parse("""
            {"uid": "0a1b", "kind": "NetworkChaos", "namespace": "default", "name": "web-delay",
             "status": "injecting", "result": "configured"}
            """), what: "test")
        #expect(Printing.applied(detail, fallbackKind: "") == "networkchaos/web-delay configured")
    }

    @Test func serverErrorsPrintTheMessageAndEveryFieldPath() throws {
        let body = """
            {"code": 400, "type": "ValidationError", "message": "NetworkChaos web-delay is invalid",
             "full_text": "...", "errors": [{"path": "spec.delay.latency", "message": "\\"90xs\\" is not a duration"},
                                            {"path": "spec.mode", "message": "required field is missing"}]}
            """
        let error = ClientError(status: 400, body: Data(body.utf8))
        #expect(error.type == "ValidationError")
        #expect(error.description == """
            NetworkChaos web-delay is invalid
            spec.delay.latency: "90xs" is not a duration
            spec.mode: required field is missing
            """)
        #expect(Printing.problems(error, prefix: "bad.yaml: doc 1 (NetworkChaos web-delay)") == [
            "bad.yaml: doc 1 (NetworkChaos web-delay): spec.delay.latency: \"90xs\" is not a duration",
            "bad.yaml: doc 1 (NetworkChaos web-delay): spec.mode: required field is missing",
        ])
        let halted = ClientError(status: 423, body: Data(#"{"code": 423, "type": "Halted", "message": "halted"}"#.utf8))
        #expect(Printing.problems(halted, prefix: "f.yaml: doc 1") == ["f.yaml: doc 1: halted"])
        #expect(ClientError(status: 502, body: Data("bad gateway".utf8)).description == "the server answered HTTP 502: bad gateway")
        #expect(ClientError(status: 401, body: Data(#"{"type": "Unauthorized", "message": "a token is required"}"#.utf8))
            .description == "a token is required (give the server's token with --token or $TUMULT_TOKEN)")
    }

    @Test func aServerThatIsNotThereIsNamed() async throws {
        let client = try ServerOptions.parse(["--server", "http://127.0.0.1:9"]).client(environment: [:])
        await #expect {
            try await client.list(.experiments)
        } throws: { error in
            (error as? ClientError)?.description
                == "cannot reach tumult server at http://127.0.0.1:9 (is `tumult server` running?)"
        }
    }

    @Test func haltReportsRecoveredFaultsAndTime() {
        #expect(Printing.halted(HaltAnswer(halted: true, recovered: 5, elapsedMilliseconds: 212.4))
            == "halted: 5 faults recovered in 212 ms; new injections are refused until tumult unhalt")
        #expect(Printing.halted(HaltAnswer(halted: true, recovered: 1, elapsedMilliseconds: 0.42))
            == "halted: 1 fault recovered in 0.4 ms; new injections are refused until tumult unhalt")
    }

    // MARK: Command line

    @Test func serverAndTokenComeFromOptionsThenEnvironment() throws {
        let defaults = try ServerOptions.parse([]).client(environment: [:])
        #expect(defaults.baseURL.absoluteString == "http://127.0.0.1:2333")
        #expect(defaults.token == nil)
        let fromEnvironment = try ServerOptions.parse([])
            .client(environment: ["TUMULT_SERVER": "10.0.0.5:2333", "TUMULT_TOKEN": "s3cret"])
        #expect(fromEnvironment.baseURL.absoluteString == "http://10.0.0.5:2333")
        #expect(fromEnvironment.makeRequest(.get, "/api/pods").value(forHTTPHeaderField: "Authorization") == "Bearer s3cret")
        let given = try ServerOptions.parse(["--server", "https://chaos.example/prefix/", "--token", "t"])
            .client(environment: ["TUMULT_TOKEN": "other"])
        #expect(given.token == "t")
        #expect(given.url("/api/experiments", query: [("namespace", "default"), ("name", "a b"), ("kind", nil)])
            .absoluteString == "https://chaos.example/prefix/api/experiments?namespace=default&name=a%20b")
        #expect(throws: (any Error).self) { try ServerOptions.parse(["--server", "ftp://host"]) }
    }

    @Test func referencesNameAKindAndAnObject() throws {
        #expect(try ObjectReference(parsing: "NetworkChaos/web-delay") == ObjectReference(kind: .experiment(.networkChaos), name: "web-delay"))
        #expect(try ObjectReference(parsing: "podchaos/p").collection == .experiments)
        #expect(try ObjectReference(parsing: "schedules/nightly") == ObjectReference(kind: .schedule, name: "nightly"))
        #expect(try ObjectReference(parsing: "schedule/nightly").collection == .schedules)
        #expect(try ObjectReference(parsing: "stresschaos/burn").description == "stresschaos/burn")
        #expect(throws: (any Error).self) { try ObjectReference(parsing: "web-delay") }
        #expect(throws: (any Error).self) { try ObjectReference(parsing: "deployment/web") }
        #expect(throws: (any Error).self) { try ObjectReference(parsing: "networkchaos/") }
    }

    @Test func applySendsValidDocumentsAsTheModelEncodesThemAndInvalidOnesAsWritten() throws {
        let loader = DocumentLoader()
        let legacy = try DocumentText.parse("""
            apiVersion: pingcap.com/v1alpha1
            kind: NetworkChaos
            metadata: {name: old}
            spec: {action: delay, mode: one, selector: {}, delay: {latency: 10ms}, duration: 5s,
                   scheduler: {cron: "@every 1m"}}
            """)[0]
        guard case .send(let request) = Apply.request(for: legacy, report: loader.check(legacy), strict: false) else {
            Issue.record("a valid legacy document is sent")
            return
        }
        #expect(request.collection == .schedules)
        #expect(request.body.objectValue?["kind"] == .string("Schedule"))
        #expect(request.body.objectValue?["apiVersion"] == .string("chaos-mesh.org/v1alpha1"))

        let invalid = try DocumentText.parse("""
            {"apiVersion": "chaos-mesh.org/v1alpha1", "kind": "Schedule", "metadata": {"name": "s"}, "spec": {}}
            """)[0]
        #expect(Apply.request(for: invalid, report: loader.check(invalid), strict: false)
            == .send(Apply.Request(body: invalid, collection: .schedules)))
        guard case .refuse(let problems) = Apply.request(for: invalid, report: loader.check(invalid), strict: true) else {
            Issue.record("--strict refuses an invalid document before sending it")
            return
        }
        #expect(!problems.isEmpty)

        let deployment = try DocumentText.parse("{\"apiVersion\": \"apps/v1\", \"kind\": \"Deployment\"}")[0]
        #expect(Apply.request(for: deployment, report: loader.check(deployment), strict: false)
            == .skip("not a chaos experiment (apps/v1 Deployment)"))
    }

    @Test func deleteFindsTheObjectADocumentNamesEvenWhenItIsInvalid() throws {
        let invalid = try DocumentText.parse("""
            {"apiVersion": "chaos-mesh.org/v1alpha1", "kind": "NetworkChaos",
             "metadata": {"name": "web-delay", "namespace": "shop"}, "spec": {"action": "nope"}}
            """)[0]
        let named = Delete.reference(of: invalid, report: DocumentLoader().check(invalid))
        #expect(named?.reference == ObjectReference(kind: .experiment(.networkChaos), name: "web-delay"))
        #expect(named?.namespace == "shop")
    }
}
