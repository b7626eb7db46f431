import Foundation
import Testing
import TumultController

/// The dashboard's YAML editor in a real browser (headless chromium, as in
/// `DashboardBrowserTests`): a mistyped field is an error on its line, as
/// `tumult apply` and the API make it, and Create stays disabled.
@Suite(.serialized, .enabled(if: BrowserSession.executable != nil, "chromium is not on PATH"))
struct EditorUnknownFieldTests {
    @Test func aMistypedFieldIsAnErrorOnItsLineAndNothingCanBeCreated() async throws {
        let browser = try await BrowserSession.start()
        defer { browser.stop() }
        let server = try await DashboardServer.start()
        do {
            let typo = DashboardBrowserTests.nowhere.replacingOccurrences(of: "latency: 100ms", with: "latency: 100ms\n    jiter: 20ms")
            let line = (typo.components(separatedBy: "\n").firstIndex { $0.contains("jiter:") } ?? -1) + 1
            let results = try await browser.run([
                .navigate("\(server.url)/#/new"),
                .wait("document.querySelector('#validation-status.ok')"),
                .eval("(() => { const e = document.getElementById('yaml-editor'); e.focus(); e.select(); return true; })()"),
                .insertText(typo),
                .wait("document.querySelector('#problems li.error[data-path=\"spec.delay.jiter\"]')"),
                .eval(#"""
                    (() => ({
                      text: document.querySelector('#problems li.error[data-path="spec.delay.jiter"]').innerText,
                      marked: [...document.querySelectorAll('.gutter .ln.error')].map((e) => Number(e.textContent.trim())),
                      createDisabled: document.getElementById('create').disabled,
                    }))()
                    """#),
                .screenshot("unknown-field"),
            ])
            let shown = try #require(results[5] as? [String: Any])
            let text = shown["text"] as? String ?? ""
            #expect(text.contains(#"unknown field "jiter" (did you mean "jitter"?)"#), "\(text)")
            #expect(text.contains("line \(line)"), "\(text)")
            #expect((shown["marked"] as? [Int] ?? []).contains(line))
            #expect(shown["createDisabled"] as? Bool == true)
            #expect(await server.parts.controller.allExperiments().isEmpty)
        } catch {
            await server.stop()
            throw error
        }
        await server.stop()
    }
}
