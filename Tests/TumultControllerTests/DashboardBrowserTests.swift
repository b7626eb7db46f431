import Foundation
import Logging
import ServiceLifecycle
import Testing
import TumultController
import TumultModel
import TumultSystem
@testable import TumultServer

/// The dashboard in a real headless Chromium (Debian's `chromium`) against
/// a real `tumult server` started here on a free loopback port with its own
/// home. Chromium is driven through the DevTools protocol by
/// `Tests/Browser/cdp.py` (standard-library Python); every test saves a
/// screenshot under `.build/screenshots/` for a person to look at.
///
/// The NetworkChaos tests inject for real (root): a pod is a network
/// namespace made by the test, labelled by an inventory file.
@Suite(.serialized, .enabled(if: BrowserSession.executable != nil, "chromium is not on PATH"))
struct DashboardBrowserTests {
    // MARK: (a) the overview

    @Test func theOverviewRendersWithTheEmergencyStopOnEveryPage() async throws {
        let browser = try await BrowserSession.start()
        defer { browser.stop() }
        let server = try await DashboardServer.start()
        try await withServer(server) {
            // Something to show: a failed experiment (it selects nothing) and a schedule.
            for text in [Self.nowhere, Self.schedule] {
                let document = try #require(try DocumentLoader().load(text).first?.document)
                _ = try await server.parts.controller.apply(document)
            }
            await server.parts.controller.reconcile()

            let results = try await browser.run([
                .navigate("\(server.url)/"),
                .wait("document.querySelectorAll('.cards .card').length === 6 && document.querySelector('.timeline li')"),
                .wait("document.getElementById('live').textContent === 'live'"),
                .eval(#"""
                    (() => {
                      const stop = document.getElementById('emergency-stop');
                      const box = stop.getBoundingClientRect();
                      return {
                        title: document.title,
                        sections: [...document.querySelectorAll('main h2')].map((e) => e.textContent),
                        stop: stop.textContent, stopVisible: box.width > 0 && box.height > 0 && box.top >= 0 && getComputedStyle(stop).visibility === 'visible',
                        failed: document.querySelector('.card[data-phase="failed"] .count').textContent,
                        schedule: document.body.innerText.includes('nightly'),
                        events: document.querySelectorAll('.timeline li').length,
                      };
                    })()
                    """#),
                .screenshot("overview"),
            ])
            let page = try #require(results[3] as? [String: Any])
            #expect(page["title"] as? String == "Overview · Tumult")
            let sections = page["sections"] as? [String] ?? []
            for title in ["Experiments by kind and phase", "Active experiments", "Schedules", "Latest events"] {
                #expect(sections.contains(title), "section \(title) in \(sections)")
            }
            #expect(page["stop"] as? String == "Emergency stop")
            #expect(page["stopVisible"] as? Bool == true)
            #expect(page["failed"] as? String == "1")
            #expect(page["schedule"] as? Bool == true)
            #expect((page["events"] as? Int ?? 0) >= 2)

            // Every page renders, and each has the emergency stop in view.
            for (hash, heading) in [("#/experiments", "Experiments"), ("#/new", "New experiment"), ("#/schedules", "Schedules"),
                                    ("#/workflows", "Workflows"), ("#/workflows/new", "New workflow"),
                                    ("#/archives", "Archives"), ("#/events", "Events"), ("#/inventory", "Inventory")] {
                let shown = try await browser.run([
                    .eval("location.hash = '\(hash)'; true"),
                    .wait("document.querySelector('main h1') && document.querySelector('main h1').textContent === '\(heading)' && !document.querySelector('main .error-box')"),
                    .eval("(() => { const b = document.getElementById('emergency-stop').getBoundingClientRect(); return b.width > 0 && b.top >= 0 && b.bottom <= innerHeight; })()"),
                ])
                #expect(shown[2] as? Bool == true, "emergency stop visible on \(hash)")
            }

            // Weight and speed of the first page, measured by the browser.
            let measured = try await browser.run([
                .navigate("\(server.url)/?fresh"),
                .wait("document.querySelectorAll('.cards .card').length === 6"),
                .eval(#"""
                    (async () => {
                      const entries = performance.getEntriesByType('resource').filter((e) => e.name.includes('/assets/'));
                      const nav = performance.getEntriesByType('navigation')[0];
                      const bytes = entries.reduce((sum, e) => sum + e.decodedBodySize, 0) + nav.decodedBodySize;
                      const times = [];
                      for (let i = 0; i < 100; i += 1) {
                        const start = performance.now();
                        const response = await fetch('/', { cache: 'no-store' });
                        await response.text();
                        times.push(performance.now() - start);
                      }
                      times.sort((a, b) => a - b);
                      return { bytes, files: entries.length + 1, median: times[50], p95: times[95] };
                    })()
                    """#),
            ])
            let weight = try #require(measured[2] as? [String: Any])
            let bytes = weight["bytes"] as? Int ?? Int.max
            #expect(bytes < 200_000, "the first page weighs \(bytes) bytes")
            #expect((weight["p95"] as? Double ?? 1e9) < 50, "GET / p95 \(weight["p95"] ?? "?") ms")
            print("dashboard first page: \(bytes) bytes in \(weight["files"] ?? "?") files; GET / median \(weight["median"] ?? "?") ms, p95 \(weight["p95"] ?? "?") ms")
        }
    }

    // MARK: (e) an invalid document

    @Test func anInvalidDocumentShowsTheFieldPathOnItsLine() async throws {
        let browser = try await BrowserSession.start()
        defer { browser.stop() }
        let server = try await DashboardServer.start()
        try await withServer(server) {
            let invalid = Self.nowhere.replacingOccurrences(of: "latency: 100ms", with: "latency: 90xs")
            let latencyLine = (invalid.components(separatedBy: "\n").firstIndex { $0.contains("latency:") } ?? -1) + 1
            let results = try await browser.run([
                .navigate("\(server.url)/#/new"),
                .wait("document.querySelector('#validation-status.ok')"),
                .eval("(() => { const e = document.getElementById('yaml-editor'); e.focus(); e.select(); return true; })()"),
                .insertText(invalid),
                .wait("document.querySelector('#problems li[data-path=\"spec.delay.latency\"]')"),
                .eval(#"""
                    (() => {
                      const item = document.querySelector('#problems li[data-path="spec.delay.latency"]');
                      const marked = [...document.querySelectorAll('.gutter .ln.error')].map((e) => Number(e.textContent.trim()));
                      const inline = [...document.querySelectorAll('.backdrop .bl.error .inline-msg')].map((e) => e.textContent);
                      return {
                        text: item.innerText, marked, inline,
                        status: document.getElementById('validation-status').textContent,
                        createDisabled: document.getElementById('create').disabled,
                      };
                    })()
                    """#),
                .screenshot("invalid-yaml"),
            ])
            let shown = try #require(results[5] as? [String: Any])
            let text = shown["text"] as? String ?? ""
            #expect(text.contains("spec.delay.latency") && text.contains("\"90xs\" is not a duration"), "\(text)")
            #expect(text.contains("line \(latencyLine)"), "\(text)")
            #expect((shown["marked"] as? [Int] ?? []).contains(latencyLine))
            #expect((shown["inline"] as? [String] ?? []).contains { $0.contains("spec.delay.latency") })
            #expect((shown["status"] as? String ?? "").contains("problem"))
            #expect(shown["createDisabled"] as? Bool == true)
            let waited = (results[4] as? [String: Any])?["elapsed_ms"] as? Double ?? -1
            print("dashboard: the field-path error showed \(waited) ms after typing")

            // The same mistake made in the form shows beside the form's field.
            let form = try await browser.run([
                .eval("document.getElementById('clear-editor').click(); true"),
                .eval(#"""
                    (() => {
                      const latency = document.querySelector('#fault-fields [name="latency"]');
                      latency.value = '90xs';
                      latency.dispatchEvent(new Event('input', { bubbles: true }));
                      return document.getElementById('yaml-editor').value.includes('latency: 90xs');
                    })()
                    """#),
                .wait(#"document.querySelector('#validation-status.bad') && document.querySelector('[data-error-for="spec.delay.latency"]').textContent"#),
                .eval(#"document.querySelector('[data-error-for="spec.delay.latency"]').closest('.field').classList.contains('invalid')"#),
                .screenshot("invalid-form-field"),
            ])
            #expect(form[1] as? Bool == true, "the form wrote its YAML")
            #expect(((form[2] as? [String: Any])?["value"] as? String ?? "").contains("is not a duration"))
            #expect(form[3] as? Bool == true)
            #expect(await server.parts.controller.allExperiments().isEmpty)
        }
    }

    @Test func everyFaultFormWritesADocumentTheServerAccepts() async throws {
        let browser = try await BrowserSession.start()
        defer { browser.stop() }
        let server = try await DashboardServer.start()
        try await withServer(server) {
            let results = try await browser.run([
                .navigate("\(server.url)/#/new"),
                .wait("document.querySelector('#validation-status.ok')"),
                .eval(#"""
                    (async () => {
                      const verdicts = {};
                      const select = document.getElementById('fault');
                      for (const option of [...select.options]) {
                        select.value = option.value;
                        select.dispatchEvent(new Event('change', { bubbles: true }));
                        const status = document.getElementById('validation-status');
                        const start = performance.now();
                        while (status.classList.contains('pending') && performance.now() - start < 5000) {
                          await new Promise((resolve) => setTimeout(resolve, 20));
                        }
                        verdicts[option.value] = { status: status.className, text: status.textContent,
                                                   yaml: document.getElementById('yaml-editor').value };
                      }
                      return verdicts;
                    })()
                    """#),
                .screenshot("fault-form-last"),
            ])
            let verdicts = try #require(results[2] as? [String: [String: String]])
            #expect(Set(verdicts.keys) == ["network-delay", "network-loss", "network-partition", "network-bandwidth",
                                            "cpu-stress", "memory-stress", "process-kill", "process-freeze",
                                            "tcp-latency", "tcp-bandwidth", "tcp-reset"])
            for (fault, verdict) in verdicts {
                #expect(verdict["status"] == "validation ok", "\(fault): \(verdict["text"] ?? "") in\n\(verdict["yaml"] ?? "")")
                // What the browser accepted, the loader accepts too.
                let reports = try DocumentLoader().load(verdict["yaml"] ?? "")
                #expect(reports.count == 1 && reports.first?.document != nil, "\(fault)")
            }
        }
    }

    @Test func aChangeOnTheServerShowsWithoutReloading() async throws {
        let browser = try await BrowserSession.start()
        defer { browser.stop() }
        let server = try await DashboardServer.start()
        try await withServer(server) {
            try await browser.run([
                .navigate("\(server.url)/#/experiments"),
                .wait("document.getElementById('live').textContent === 'live' && document.querySelector('#experiment-list .empty')"),
                .eval("window.tumultTestMarker = 'same page'; true"),
                // The page notes the moment the row shows (same clock as ours).
                .eval(#"""
                    (() => {
                      const timer = setInterval(() => {
                        if (document.querySelector('tr[data-name="web-delay"] .badge[data-status="failed"]')) {
                          window.tumultSeenAt = Date.now();
                          clearInterval(timer);
                        }
                      }, 2);
                      return true;
                    })()
                    """#),
            ])
            let document = try #require(try DocumentLoader().load(Self.nowhere).first?.document)
            let appliedAt = Date().timeIntervalSince1970 * 1000
            let (uid, _) = try await server.parts.controller.apply(document)
            let results = try await browser.run([
                .wait("window.tumultSeenAt", timeout: 5000),
                .eval("window.tumultTestMarker"),
                .eval("!!document.querySelector('tr[data-uid=\"\(uid)\"]')"),
                .screenshot("live-update"),
            ])
            let seenAt = (results[0] as? [String: Any])?["value"] as? Double ?? 0
            let elapsed = seenAt - appliedAt
            #expect(results[2] as? Bool == true)
            print("dashboard: a new experiment showed in the list \(elapsed) ms after it was applied")
            #expect(elapsed >= 0 && elapsed < 1000)
            #expect(results[1] as? String == "same page", "the page was not reloaded")
        }
    }

    /// A TCPChaos (Tumult's own kind) lists like the others, filters by its
    /// kind, and its page shows its port, connections and toxics.
    @Test func aTCPChaosShowsItsToxics() async throws {
        let browser = try await BrowserSession.start()
        defer { browser.stop() }
        let server = try await DashboardServer.start()
        try await withServer(server) {
            let document = try #require(try DocumentLoader().load(Self.tcpNowhere).first?.document)
            let (uid, _) = try await server.parts.controller.apply(document)
            let results = try await browser.run([
                .navigate("\(server.url)/#/experiments?kind=TCPChaos"),
                .wait("document.querySelector('tr[data-uid=\"\(uid)\"]')"),
                .eval("[...document.querySelectorAll('#experiment-list tbody tr')].length"),
                .navigate("\(server.url)/#/experiments/\(uid)"),
                .wait("document.querySelectorAll('tr.toxic').length === 2"),
                .eval(#"""
                    [...document.querySelectorAll('tr.toxic')].map((row) => [...row.cells].map((cell) => cell.textContent).join('|'))
                      .concat([document.querySelector('.summary').textContent])
                    """#),
                .screenshot("tcpchaos-detail"),
            ])
            #expect(results[2] as? Int == 1)
            let rows = try #require(results[5] as? [String])
            #expect(rows.count == 3)
            #expect(rows.first == "latency_downstream|latency|downstream|1|latency=100 jitter=10")
            #expect(rows.dropFirst().first == "cut|limit_data|upstream|0.5|bytes=10000")
            #expect(rows.last?.contains("6379") == true && rows.last?.contains("outgoing") == true, "\(rows.last ?? "")")
        }
    }

    static let tcpNowhere = """
        apiVersion: tumult.dev/v1alpha1
        kind: TCPChaos
        metadata: {name: redis-slow, namespace: shop}
        spec:
          mode: all
          selector: {pods: {shop: [no-such-pod]}}
          port: 6379
          connections: outgoing
          toxics:
          - {type: latency, attributes: {latency: 100, jitter: 10}}
          - {name: cut, type: limit_data, stream: upstream, toxicity: 0.5, attributes: {bytes: 10000}}
          duration: 1h
        """

    // MARK: Workflows

    /// A Workflow created through its form runs in the server's own loop
    /// (its Suspends need no host): the page draws the Serial's two nodes
    /// as a graph, the second as Pending until it starts, and each box's
    /// phase follows the run live, redrawn only when it changed. The list
    /// shows it and deletes it.
    @Test func theWorkflowGraphShowsEachNodesPhaseLive() async throws {
        let browser = try await BrowserSession.start()
        defer { browser.stop() }
        let server = try await DashboardServer.start()
        try await withServer(server) {
            // One run of the driver from Create on: the first Suspend's 2 s must not pass between two.
            let results = try await browser.run([
                .navigate("\(server.url)/#/workflows/new"),
                .wait("document.getElementById('workflow-yaml') && document.getElementById('workflow-yaml').value.includes('kind: Workflow')"),
                .wait("document.getElementById('live').textContent === 'live'"),
                .eval(#"""
                    (() => {
                      // What the graph shows, by template name (the page stays: routes change the hash only).
                      window.phaseOf = (name) => {
                        const box = document.querySelector(`#workflow-graph [data-node="${name}"]`);
                        return box ? box.dataset.phase : null;
                      };
                      window.workflowPhase = () => {
                        const badge = document.getElementById('workflow-phase');
                        return badge ? badge.dataset.phase : null;
                      };
                      const editor = document.getElementById('workflow-yaml');
                      editor.focus();
                      editor.select();
                      return true;
                    })()
                    """#),
                .insertText(Self.twoPauses),
                .eval("document.getElementById('create-workflow').click(); true"),
                .wait(#"/^#\/workflows\/[0-9a-f-]+$/.test(location.hash) && location.hash.slice(12)"#, timeout: 15_000),
                .wait("phaseOf('first') === 'Running' && phaseOf('second') === 'Pending'"),
                .eval(#"""
                    ({
                      title: document.querySelector('main h1').textContent,
                      workflow: workflowPhase(),
                      entry: phaseOf('entry'),
                      pendingBorder: getComputedStyle(document.querySelector('#workflow-graph [data-node="second"]')).borderTopStyle,
                      arrows: document.querySelectorAll('#workflow-graph .wf-serial > .wf-arrow').length,
                    })
                    """#),
                .screenshot("workflow-first-running"),
                .wait("phaseOf('first') === 'DeadlineExceed' && phaseOf('second') === 'Running'", timeout: 15_000),
                .screenshot("workflow-second-running"),
                .wait("workflowPhase() === 'Accomplished' && phaseOf('first') === 'DeadlineExceed' && phaseOf('second') === 'DeadlineExceed'",
                      timeout: 15_000),
                .eval(#"""
                    (() => {
                      const stop = document.getElementById('emergency-stop').getBoundingClientRect();
                      return {
                        boxes: [...document.querySelectorAll('#workflow-graph [data-node]')].map((box) => `${box.dataset.node}=${box.dataset.phase}`),
                        rows: [...document.querySelectorAll('#workflow-nodes tr[data-node-row]')]
                          .map((row) => [row.dataset.nodeRow, row.dataset.phase, row.cells[4].textContent, row.cells[5].textContent]),
                        renders: Number(document.getElementById('workflow-graph').dataset.renders),
                        stopVisible: stop.width > 0 && stop.top >= 0 && stop.bottom <= innerHeight,
                      };
                    })()
                    """#),
                .screenshot("workflow-accomplished"),
            ])
            let uid = try #require((results[6] as? [String: Any])?["value"] as? String)
            #expect(await server.parts.controller.workflow(uid)?.name == "two-pauses")

            // The first Suspend runs; the second, not started, is drawn all the same, as Pending.
            let first = try #require(results[8] as? [String: Any])
            #expect(first["title"] as? String == "two-pauses")
            #expect(first["workflow"] as? String == "Running")
            #expect(first["entry"] as? String == "Running")
            #expect(first["pendingBorder"] as? String == "dashed", "a node not started yet is drawn greyed, dashed")
            #expect(first["arrows"] as? Int == 1, "an arrow from first to second")
            // Then the second runs once the first's deadline passed, then the workflow is accomplished.
            let handover = (results[10] as? [String: Any])?["elapsed_ms"] as? Double ?? -1
            let end = (results[12] as? [String: Any])?["elapsed_ms"] as? Double ?? -1
            print("dashboard workflow: waited \(handover) ms for the second node to run, then \(end) ms for Accomplished")
            #expect(handover >= 0 && handover < 4_000)

            let done = try #require(results[13] as? [String: Any])
            #expect(done["boxes"] as? [String] == ["entry=Accomplished", "first=DeadlineExceed", "second=DeadlineExceed"])
            let rows = done["rows"] as? [[String]] ?? []
            #expect(rows.map { $0.first ?? "" } == ["entry", "first", "second"])
            for leaf in rows.dropFirst() {
                #expect(leaf.count == 4 && leaf[1] == "DeadlineExceed" && leaf[2] != "—" && leaf[3] != "—", "deadline and end of \(leaf)")
            }
            // Drawn once per change (a few), not once per refresh (every second and every update).
            let renders = done["renders"] as? Int ?? 0
            #expect(renders >= 3 && renders <= 6, "the graph was drawn \(renders) times")
            #expect(done["stopVisible"] as? Bool == true)

            let record = try #require(await server.parts.controller.workflow(uid))
            #expect(record.phase == .accomplished)
            let phases = Dictionary(record.state.nodes.map { ($0.templateName, $0.phase) }, uniquingKeysWith: { kept, _ in kept })
            #expect(phases["first"] == .deadlineExceed && phases["second"] == .deadlineExceed, "\(phases)")

            // The list shows it, with its phase and nodes; Delete asks, then archives it.
            let row = "#workflow-list tr[data-uid=\"\(uid)\"]"
            let list = try await browser.run([
                .eval("location.hash = '#/workflows'; true"),
                .wait("document.querySelector('main h1').textContent === 'Workflows' && document.querySelector('\(row)')"),
                .eval(#"""
                    (() => {
                      const row = document.querySelector('ROW');
                      const stop = document.getElementById('emergency-stop').getBoundingClientRect();
                      return {
                        phase: row.dataset.phase, badge: row.querySelector('.badge').dataset.phase,
                        name: row.querySelector('a.name').textContent, link: row.querySelector('a.name').getAttribute('href'),
                        nodes: row.querySelector('td.nodes').textContent,
                        stopVisible: stop.width > 0 && stop.top >= 0 && stop.bottom <= innerHeight,
                      };
                    })()
                    """#.replacingOccurrences(of: "ROW", with: row.replacingOccurrences(of: "\"", with: "\\\""))),
                .screenshot("workflows-list"),
                .eval("document.querySelector('\(row) button[data-action=\"delete\"]').click(); true"),
                .wait("document.getElementById('confirm-dialog').open"),
                .eval("document.getElementById('confirm-ok').click(); true"),
                .wait("!document.querySelector('\(row)')"),
            ])
            let listed = try #require(list[2] as? [String: Any])
            #expect(listed["phase"] as? String == "Accomplished")
            #expect(listed["badge"] as? String == "Accomplished")
            #expect(listed["name"] as? String == "two-pauses")
            #expect(listed["link"] as? String == "#/workflows/\(uid)")
            #expect(listed["nodes"] as? String == "0/3", "running / started nodes")
            #expect(listed["stopVisible"] as? Bool == true)
            #expect(await server.parts.controller.workflow(uid)?.isDeleted ?? true, "deleted from the list")
        }
    }

    static let twoPauses = """
        apiVersion: chaos-mesh.org/v1alpha1
        kind: Workflow
        metadata:
          name: two-pauses
          namespace: shop
        spec:
          entry: entry
          templates:
            - name: entry
              templateType: Serial
              children: [first, second]
            - name: first
              templateType: Suspend
              deadline: 2s
            - name: second
              templateType: Suspend
              deadline: 2s
        """

    // MARK: (b) (c) (d) a NetworkChaos through the form, for real

    @Test(.enabled(if: getuid() == 0, "injects for real: needs root"))
    func aNetworkChaosCreatedThroughTheFormRuns() async throws {
        let network = try await BrowserTestNetwork.make()
        defer { network.tearDown() }
        let browser = try await BrowserSession.start()
        defer { browser.stop() }
        let server = try await DashboardServer.start(inventory: network.inventory)
        try await withServer(server) {
            let before = try await network.ping()
            let uid = try await createThroughTheForm(browser, server, network, screenshot: "network-chaos-form")
            try await browser.run([
                .eval("location.hash = '#/experiments'; true"),
                .wait("document.querySelector('tr[data-uid=\"\(uid)\"] .badge[data-status=\"running\"]')", timeout: 30_000),
                .screenshot("network-chaos-running"),
            ])
            let during = try await network.ping()
            print("dashboard NetworkChaos: ping \(before) ms before, \(during) ms while running")
            #expect(during >= before + 180, "a 200ms delay shows in the round trip: \(before) -> \(during) ms")
            try await server.parts.controller.delete(uid)
        }
        #expect(try network.snapshot() == network.baseline)
    }

    @Test(.enabled(if: getuid() == 0, "injects for real: needs root"))
    func pausingFromTheDetailPageShowsPausedWithinASecond() async throws {
        let network = try await BrowserTestNetwork.make()
        defer { network.tearDown() }
        let browser = try await BrowserSession.start()
        defer { browser.stop() }
        let server = try await DashboardServer.start(inventory: network.inventory)
        try await withServer(server) {
            let uid = try await createThroughTheForm(browser, server, network, screenshot: nil)
            let results = try await browser.run([
                .wait("document.querySelector('#experiment-status[data-status=\"running\"]')", timeout: 30_000),
                .wait("document.getElementById('live').textContent === 'live'"),
                .eval(#"""
                    (async () => {
                      const start = performance.now();
                      document.querySelector('button[data-action="pause"]').click();
                      while (performance.now() - start < 10000) {
                        const status = document.getElementById('experiment-status');
                        if (status && status.dataset.status === 'paused') return performance.now() - start;
                        await new Promise((resolve) => setTimeout(resolve, 5));
                      }
                      return -1;
                    })()
                    """#),
                .wait("document.querySelector('button[data-action=\"resume\"]')"),
                .screenshot("network-chaos-paused"),
            ])
            let elapsed = results[2] as? Double ?? -1
            print("dashboard: Paused showed \(elapsed) ms after the click")
            #expect(elapsed >= 0 && elapsed < 1000, "Paused after \(elapsed) ms")
            #expect(await server.parts.controller.experiment(uid)?.isPaused == true)
            // Paused shows as soon as the annotation is set (Chaos Mesh's
            // order); the targets are recovered right after, within seconds.
            let deadline = Date().addingTimeInterval(5)
            while try network.snapshot() != network.baseline && Date() < deadline { try await Task.sleep(for: .milliseconds(50)) }
            #expect(try network.snapshot() == network.baseline, "pausing recovered the fault")
            try await server.parts.controller.delete(uid)
        }
    }

    @Test(.enabled(if: getuid() == 0, "injects for real: needs root"))
    func theEmergencyStopRecoversIt() async throws {
        let network = try await BrowserTestNetwork.make()
        defer { network.tearDown() }
        let browser = try await BrowserSession.start()
        defer { browser.stop() }
        let server = try await DashboardServer.start(inventory: network.inventory)
        try await withServer(server) {
            let uid = try await createThroughTheForm(browser, server, network, screenshot: nil)
            let row = "tr[data-uid=\"\(uid)\"]"
            let results = try await browser.run([
                .eval("location.hash = '#/experiments'; true"),
                .wait("document.querySelector('\(row) .badge[data-status=\"running\"]')", timeout: 30_000),
                .wait("document.getElementById('live').textContent === 'live'"),
                .eval("document.getElementById('emergency-stop').click(); true"),
                .wait("document.getElementById('confirm-dialog').open"),
                .screenshot("emergency-stop-confirm"),
                .eval(#"""
                    (async () => {
                      const start = performance.now();
                      document.getElementById('confirm-ok').click();
                      while (performance.now() - start < 10000) {
                        const banner = !document.getElementById('halt-banner').hidden;
                        const badge = document.querySelector('ROW .badge');
                        if (banner && badge && badge.dataset.status === 'paused') return performance.now() - start;
                        await new Promise((resolve) => setTimeout(resolve, 5));
                      }
                      return -1;
                    })()
                    """#.replacingOccurrences(of: "ROW", with: row.replacingOccurrences(of: "\"", with: "\\\""))),
                .screenshot("emergency-stop"),
                .eval("document.getElementById('halt-banner').innerText"),
            ])
            let elapsed = results[6] as? Double ?? -1
            print("dashboard: emergency stop showed halted and paused \(elapsed) ms after the confirmation")
            #expect(elapsed >= 0 && elapsed < 2000, "halted after \(elapsed) ms")
            #expect((results[8] as? String ?? "").contains("Emergency stop is active"))
            #expect(await server.parts.controller.halted)
            #expect(try network.snapshot() == network.baseline, "the emergency stop recovered the fault")
            #expect(try network.processes().isEmpty, "no helper left in the namespace")

            // Unhalt from the banner.
            try await browser.run([
                .eval("document.getElementById('unhalt').click(); true"),
                .wait("document.getElementById('halt-banner').hidden"),
            ])
            #expect(await server.parts.controller.halted == false)
            try await server.parts.controller.delete(uid)
        }
    }

    // MARK: Token

    @Test func aServerWithATokenAsksForItAndStreamsWithIt() async throws {
        let token = "tok-\(UUID().uuidString.prefix(8))"
        let browser = try await BrowserSession.start()
        defer { browser.stop() }
        let server = try await DashboardServer.start(token: token)
        try await withServer(server) {
            let results = try await browser.run([
                .navigate("\(server.url)/"),
                .wait("document.getElementById('token-dialog').open"),
                .eval("document.getElementById('token-input').value = '\(token)'; document.querySelector('#token-dialog button[value=\"ok\"]').click(); true"),
                .wait("document.querySelectorAll('.cards .card').length === 6"),
                .wait("document.getElementById('live').textContent === 'live'"),
                .eval("localStorage.getItem('tumult.token')"),
            ])
            #expect(results[5] as? String == token)
        }
    }

    // MARK: Helpers

    /// Fills the New experiment form for a 200 ms delay on the test's pod,
    /// creates it, and returns its uid (the page then shows its detail).
    func createThroughTheForm(_ browser: BrowserSession, _ server: DashboardServer, _ network: BrowserTestNetwork,
                              screenshot: String?) async throws -> String {
        var steps: [BrowserSession.Step] = [
            .navigate("\(server.url)/#/new"),
            .wait("document.querySelector('#target-namespace option[value=\"\(network.namespace)\"]')"),
            .wait("document.getElementById('live').textContent === 'live'"),
            .eval(#"""
                (() => {
                  const set = (element, value, type) => { element.value = value; element.dispatchEvent(new Event(type, { bubbles: true })); };
                  set(document.getElementById('fault'), 'network-delay', 'change');
                  set(document.getElementById('exp-name'), 'NAME', 'input');
                  set(document.getElementById('target-namespace'), 'NAMESPACE', 'change');
                  set(document.getElementById('target-labels'), 'app=web', 'input');
                  set(document.querySelector('#fault-fields [name="latency"]'), '200ms', 'input');
                  set(document.getElementById('duration'), '10m', 'input');
                  document.querySelector('#pod-picker input[data-pod="NAMESPACE/POD"]').click();
                  document.getElementById('generate').click();
                  return document.getElementById('yaml-editor').value;
                })()
                """#.replacingOccurrences(of: "NAMESPACE", with: network.namespace).replacingOccurrences(of: "POD", with: network.pod)
                .replacingOccurrences(of: "NAME", with: network.experiment)),
            .wait("document.querySelector('#validation-status.ok') && !document.getElementById('create').disabled"),
        ]
        if let screenshot { steps.append(.screenshot(screenshot)) }
        steps += [
            .eval("document.getElementById('create').click(); true"),
            .wait(#"/^#\/experiments\/[0-9a-f-]+$/.test(location.hash) && location.hash.slice(14)"#, timeout: 15_000),
        ]
        let results = try await browser.run(steps)
        let yaml = results[3] as? String ?? ""
        #expect(yaml.contains("latency: 200ms") && yaml.contains("- \(network.pod)") && yaml.contains("name: \(network.experiment)"), "\(yaml)")
        let uid = try #require((results.last as? [String: Any])?["value"] as? String)
        #expect(await server.parts.controller.experiment(uid)?.name == network.experiment)
        return uid
    }

    /// Runs `body`, then stops the server even when it threw.
    func withServer(_ server: DashboardServer, _ body: () async throws -> Void) async throws {
        do {
            try await body()
        } catch {
            await server.stop()
            throw error
        }
        await server.stop()
    }

    static let nowhere = """
        apiVersion: chaos-mesh.org/v1alpha1
        kind: NetworkChaos
        metadata:
          name: web-delay
          namespace: shop
        spec:
          action: delay
          mode: all
          selector:
            pods:
              shop: [no-such-pod]
          delay:
            latency: 100ms
          duration: 1h
        """

    static let schedule = """
        apiVersion: chaos-mesh.org/v1alpha1
        kind: Schedule
        metadata: {name: nightly, namespace: shop}
        spec:
          schedule: "0 3 * * *"
          type: NetworkChaos
          networkChaos:
            action: loss
            mode: one
            selector: {pods: {shop: [no-such-pod]}}
            loss: {loss: "10"}
            duration: 10s
        """
}

// MARK: - The server

/// `tumult server` in this process on a free loopback port, with its own
/// home, stopped the way SIGTERM stops it (graceful shutdown), which also
/// proves that open live streams do not hold the shutdown up.
final class DashboardServer: Sendable {
    let parts: ServerParts
    let port: Int
    let home: URL
    let group: ServiceGroup
    let task: Task<Void, any Error>

    var url: String { "http://127.0.0.1:\(port)" }

    private init(parts: ServerParts, port: Int, home: URL, group: ServiceGroup, task: Task<Void, any Error>) {
        self.parts = parts
        self.port = port
        self.home = home
        self.group = group
        self.task = task
    }

    static func start(inventory: String? = nil, token: String? = nil) async throws -> DashboardServer {
        let home = FileManager.default.temporaryDirectory.appendingPathComponent("tmt-dash-\(UUID().uuidString)")
        var configuration = ServerConfiguration(home: home)
        configuration.port = 0
        configuration.inventoryPath = inventory
        configuration.token = token
        var logger = Logger(label: "tumult.dashboard-test")
        logger.logLevel = .warning
        let (ports, portContinuation) = AsyncStream<Int>.makeStream()
        let (application, parts) = try await buildApplication(configuration: configuration, agent: try localAgent(configuration), logger: logger) { port in
            portContinuation.yield(port)
        }
        let group = ServiceGroup(configuration: .init(services: [application], logger: logger))
        let task = Task {
            defer { portContinuation.finish() }
            try await group.run()
        }
        var iterator = ports.makeAsyncIterator()
        guard let port = await iterator.next() else {
            _ = await task.result
            try? FileManager.default.removeItem(at: home)
            throw SystemError.processFailed("the dashboard test server did not start")
        }
        return DashboardServer(parts: parts, port: port, home: home, group: group, task: task)
    }

    /// Graceful shutdown (the controller recovers what it injected); a
    /// shutdown that hangs is a failure, then the server is cancelled.
    func stop() async {
        await group.triggerGracefulShutdown()
        let task = self.task
        let finished = await withTaskGroup(of: Bool.self) { race in
            race.addTask { _ = await task.result; return true }
            race.addTask { try? await Task.sleep(for: .seconds(15)); return false }
            let first = await race.next() ?? false
            race.cancelAll()
            return first
        }
        if !finished {
            Issue.record("the server did not shut down within 15 s of a graceful shutdown")
            task.cancel()
            _ = await task.result
        }
        removeDirectory(home)
    }
}

// MARK: - The browser

/// A headless Chromium with a profile of its own, in a process group of its
/// own so that stopping it ends every helper process it started.
final class BrowserSession: Sendable {
    let pid: Int32
    let devToolsPort: Int
    let profile: URL

    /// `chromium` (Debian) or `chromium-browser` on PATH.
    static let executable: String? = ["chromium", "chromium-browser"].lazy
        .compactMap { try? ProcessCommandRunner.locate($0).path }
        .first { FileManager.default.isExecutableFile(atPath: $0) }

    static let packageRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()
    static let driver = packageRoot.appendingPathComponent("Tests/Browser/cdp.py").path
    static let screenshots = packageRoot.appendingPathComponent(".build/screenshots")

    private init(pid: Int32, devToolsPort: Int, profile: URL) {
        self.pid = pid
        self.devToolsPort = devToolsPort
        self.profile = profile
    }

    static func start() async throws -> BrowserSession {
        let executable = try #require(executable)
        let profile = FileManager.default.temporaryDirectory.appendingPathComponent("tmt-chromium-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: profile, withIntermediateDirectories: true)
        let child = try Spawn.start([
            executable, "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
            "--no-first-run", "--no-default-browser-check", "--disable-background-networking",
            "--disable-component-update", "--disable-extensions", "--disable-sync", "--disable-breakpad",
            "--disable-crash-reporter", "--mute-audio", "--force-device-scale-factor=1", "--window-size=1366,900",
            "--remote-debugging-address=127.0.0.1", "--remote-debugging-port=0",
            "--user-data-dir=\(profile.path)", "about:blank",
        ], environment: ["HOME": profile.path, "XDG_CONFIG_HOME": profile.path, "XDG_CACHE_HOME": profile.path],
        newSession: true, captureOutput: false)
        // (Its crash database and caches follow HOME: everything it writes goes with the profile.)
        // Chromium writes its port there once DevTools listens.
        let portFile = profile.appendingPathComponent("DevToolsActivePort")
        let deadline = ContinuousClock.now + .seconds(60)
        while ContinuousClock.now < deadline {
            if let text = try? String(contentsOf: portFile, encoding: .utf8),
               let port = text.split(separator: "\n").first.flatMap({ Int($0) }) {
                return BrowserSession(pid: child.pid, devToolsPort: port, profile: profile)
            }
            try await Task.sleep(for: .milliseconds(50))
        }
        BrowserSession(pid: child.pid, devToolsPort: 0, profile: profile).stop()
        throw SystemError.processFailed("chromium did not open its DevTools port within 60 s")
    }

    /// Ends Chromium's whole process group and removes its profile.
    func stop() {
        kill(-pid, SIGTERM)
        var status: Int32 = 0
        var exited = false
        for _ in 0..<60 {
            if waitpid(pid, &status, WNOHANG) == pid { exited = true; break }
            usleep(50_000)
        }
        kill(-pid, SIGKILL)
        if !exited { Spawn.wait(for: pid) }
        // Its other processes go with the group; wait for the last before removing the profile they write to.
        let deadline = ContinuousClock.now + .seconds(2)
        while kill(-pid, 0) == 0 && ContinuousClock.now < deadline { usleep(20_000) }
        removeDirectory(profile)
    }

    enum Step {
        case navigate(String)
        case eval(String)
        case wait(String, timeout: Int = 10_000)
        /// Saved as `.build/screenshots/<name>.png`.
        case screenshot(String)
        case insertText(String)

        var json: [String: Any] {
            switch self {
            case .navigate(let url): ["navigate": url]
            case .eval(let script): ["eval": script]
            case .wait(let script, let timeout): ["wait": script, "timeout": timeout]
            case .screenshot(let name): ["screenshot": BrowserSession.screenshots.appendingPathComponent("\(name).png").path]
            case .insertText(let text): ["insert_text": text]
            }
        }
    }

    struct DriverError: Error, CustomStringConvertible {
        var description: String
    }

    /// Runs the steps in the page and returns each one's result; throws
    /// with the failing step, what ran before it and the page's console.
    @discardableResult
    func run(_ steps: [Step]) async throws -> [Any] {
        let payload = String(decoding: try JSONSerialization.data(withJSONObject: steps.map(\.json)), as: UTF8.self)
        let arguments = ["python3", Self.driver, String(devToolsPort), payload]
        // The driver blocks while it waits; keep it off Swift's few cooperative threads.
        let result = try await offThread { try Spawn.run(arguments) }
        guard let data = result.stdout.data(using: .utf8),
              let answer = try? JSONSerialization.jsonObject(with: data) as? [String: Any] else {
            throw DriverError(description: "cdp.py said: \(result.stdout) \(result.stderr)")
        }
        let console = answer["console"] as? [[String: Any]] ?? []
        let errors = console.filter { $0["type"] as? String == "exception" || $0["type"] as? String == "error" }
        #expect(errors.isEmpty, "the page logged errors: \(errors)")
        guard answer["ok"] as? Bool == true else {
            let step = answer["step"] as? Int ?? -1
            throw DriverError(description: "browser step \(step) (\(step >= 0 && step < steps.count ? "\(steps[step])" : "connect")) failed: "
                              + "\(answer["error"] ?? "?"); results before: \(answer["results"] ?? []); console: \(console)")
        }
        return answer["results"] as? [Any] ?? []
    }
}

/// Removes a directory that a closing process may still be writing to
/// (SQLite's -wal and -shm files, a browser profile): tries again while it
/// is there.
func removeDirectory(_ url: URL) {
    for _ in 0..<20 {
        try? FileManager.default.removeItem(at: url)
        if !FileManager.default.fileExists(atPath: url.path) { return }
        usleep(50_000)
    }
}

/// Runs blocking work on a thread of its own.
func offThread<T: Sendable>(_ work: @escaping @Sendable () throws -> T) async throws -> T {
    try await withCheckedThrowingContinuation { continuation in
        let thread = Thread { continuation.resume(with: Result { try work() }) }
        thread.start()
    }
}

// MARK: - The network

/// Two namespaces joined by a veth pair: A is the pod the experiment
/// targets (labelled by an inventory file), B the peer it pings.
final class BrowserTestNetwork: Sendable {
    let a: String
    let b: String
    let subnet: String
    let tag: String
    let inventory: String
    let baseline: String

    var namespace: String { "shop-\(tag)" }
    var pod: String { "web-\(tag)" }
    var experiment: String { "web-delay-\(tag)" }

    private init(a: String, b: String, subnet: String, tag: String, inventory: String, baseline: String) {
        self.a = a
        self.b = b
        self.subnet = subnet
        self.tag = tag
        self.inventory = inventory
        self.baseline = baseline
    }

    static func make() async throws -> BrowserTestNetwork {
        try await offThread { try build() }
    }

    private static func build() throws -> BrowserTestNetwork {
        let tag = String(UInt32.random(in: 0..<UInt32.max), radix: 36)
        let a = "tmt-\(tag)-a", b = "tmt-\(tag)-b"
        let subnet = "10.\(Int.random(in: 200...249)).\(Int.random(in: 0...255))"
        let inventory = FileManager.default.temporaryDirectory.appendingPathComponent("tmt-\(tag)-inventory.yaml").path
        let runner = ProcessCommandRunner()
        func sh(_ arguments: String...) throws {
            _ = try runner.check(Command(arguments), doing: "setting up the dashboard test network")
        }
        do {
            try sh("ip", "netns", "add", a)
            try sh("ip", "netns", "add", b)
            try sh("ip", "link", "add", "tmt\(tag)a", "type", "veth", "peer", "name", "tmt\(tag)b")
            try sh("ip", "link", "set", "tmt\(tag)a", "netns", a, "name", "veth-a")
            try sh("ip", "link", "set", "tmt\(tag)b", "netns", b, "name", "veth-b")
            try sh("ip", "-n", a, "addr", "add", "\(subnet).1/24", "dev", "veth-a")
            try sh("ip", "-n", b, "addr", "add", "\(subnet).2/24", "dev", "veth-b")
            for (namespace, device) in [(a, "veth-a"), (b, "veth-b")] {
                try sh("ip", "-n", namespace, "link", "set", device, "up")
                try sh("ip", "-n", namespace, "link", "set", "lo", "up")
            }
            try """
                pods:
                  - name: web-\(tag)
                    namespace: shop-\(tag)
                    netns: \(a)
                    labels: {app: web, test: "\(tag)"}
                  - name: db-\(tag)
                    namespace: shop-\(tag)
                    netns: \(b)
                    labels: {app: db, test: "\(tag)"}
                """.write(toFile: inventory, atomically: true, encoding: .utf8)
            let baseline = try snapshot(of: a)
            return BrowserTestNetwork(a: a, b: b, subnet: subnet, tag: tag, inventory: inventory, baseline: baseline)
        } catch {
            _ = try? runner.run(Command(["ip", "netns", "del", a]))
            _ = try? runner.run(Command(["ip", "netns", "del", b]))
            try? FileManager.default.removeItem(atPath: inventory)
            throw error
        }
    }

    func tearDown() {
        let runner = ProcessCommandRunner()
        _ = try? runner.run(Command(["ip", "netns", "del", a]))
        _ = try? runner.run(Command(["ip", "netns", "del", b]))
        try? FileManager.default.removeItem(atPath: inventory)
    }

    /// What a network fault could leave behind in A (counters and dates left out).
    func snapshot() throws -> String { try Self.snapshot(of: a) }

    static func snapshot(of namespace: String) throws -> String {
        let runner = ProcessCommandRunner()
        var parts: [String] = []
        for command in [["tc", "qdisc", "show"], ["tc", "filter", "show", "dev", "veth-a"], ["iptables-save"], ["ip6tables-save"],
                        ["nft", "list", "ruleset"], ["ip", "-o", "link", "show"]] {
            let result = try runner.run(NetworkNamespace.named(namespace).wrap(Command(command)))
            let lines = result.stdout.split(separator: "\n").filter { !$0.hasPrefix("#") }
                .map { $0.replacingOccurrences(of: #"\[\d+:\d+\]"#, with: "[]", options: .regularExpression) }
            parts.append("$ \(command.joined(separator: " "))\n" + lines.joined(separator: "\n"))
        }
        return parts.joined(separator: "\n")
    }

    /// Processes living in A (a userspace fault engine would be one).
    func processes() throws -> [String] {
        try ProcessCommandRunner().run(Command(["ip", "netns", "pids", a])).stdout.split(separator: "\n").map(String.init)
    }

    /// The median round trip from A to B, in ms.
    func ping() async throws -> Double {
        let a = self.a, address = "\(subnet).2"
        let output = try await offThread {
            try ProcessCommandRunner().run(NetworkNamespace.named(a).wrap(Command(["ping", "-n", "-c", "5", "-i", "0.2", "-W", "2", address]))).stdout
        }
        let times = output.split(separator: "\n").compactMap { line in
            line.split(separator: " ").first { $0.hasPrefix("time=") }.flatMap { Double($0.dropFirst(5)) }
        }.sorted()
        guard !times.isEmpty else { throw SystemError.processFailed("no ping reply from \(address): \(output)") }
        return times[times.count / 2]
    }
}
