import Foundation
import Testing
@testable import TumultDaemon
import TumultAgent

/// The host watch of an idle agent: skipped while nothing is held and no
/// process has written the journal, and back at once when one does.
@Suite struct IdleWatchTests {
    @Test func anIdleWatchWakesWhenAnotherProcessWritesTheJournal() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("tmt-idle-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: directory) }
        let journal = try Journal(directory: directory)
        let agent = LocalHostAgent(machine: "idle-host", journal: journal, families: FamilyRegistry(options: TranslationOptions()),
                                   inventory: LocalPodInventory(inventoryPath: nil), engineStatisticsDirectory: nil)
        let quiet = JournalStamp(path: journal.path)
        #expect(await agent.watchOnce().isEmpty)
        #expect(JournalStamp(path: journal.path) == quiet)  // reading it wrote nothing

        // Another connection (as another process's CLI would) takes a lease that runs out at once.
        let other = try Journal(directory: directory)
        _ = try other.renewLease(controller: "ctl-a", seconds: 0.05)
        #expect(JournalStamp(path: journal.path) != quiet)
        try await Task.sleep(for: .milliseconds(100))
        let reports = await agent.watchOnce()
        #expect(reports.map(\.reason) == ["LeaseExpired"], "\(reports)")
        // Released: idle again, and the next round is skipped until the next write.
        #expect(try journal.leases().isEmpty)
        #expect(await agent.watchOnce().isEmpty)
    }

    /// The watch gives pages back once, at the first quiet round after a
    /// round that ran, not in the round that did the work: in a loop of
    /// attacks each would fault its code back in.
    @Test func pagesGoBackAtTheFirstQuietRoundAfterWork() {
        let idle = IdleJournal()
        let quiet = JournalStamp(path: "/nonexistent/tmt-idle")
        var written = quiet
        written.fields[0] += 1
        #expect(idle.look(quiet) == .changed)  // nothing seen yet: the first round runs
        idle.record(quiet)
        #expect(idle.look(quiet) == .settled)
        #expect(idle.look(quiet) == .still)
        #expect(idle.look(written) == .changed)
        idle.record(nil)  // a round that left something held
        #expect(idle.look(quiet) == .changed)
        idle.record(written)
        #expect(idle.look(written) == .settled)
        #expect(idle.look(written) == .still)
    }

    /// `Journal.update` changes the state, and the message and end only when given, in one statement.
    @Test func aStateUpdateKeepsWhatItIsNotGiven() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("tmt-journal-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: directory) }
        let journal = try Journal(directory: directory)
        let created = Date(timeIntervalSinceNow: -60)
        try journal.begin(Journal.Attack(uid: "u1", family: "network", action: "network bandwidth", target: "netns x",
                                         fault: "{}", state: .injecting, message: nil, createdAt: created, updatedAt: created))
        try journal.update("u1", state: .injected, message: "in place")
        let ends = Date(timeIntervalSinceNow: 300)
        try journal.update("u1", state: .recovering, endsAt: ends)
        let attack = try #require(try journal.attack("u1"))
        #expect(attack.state == .recovering && attack.message == "in place")
        #expect(abs((attack.endsAt?.timeIntervalSince(ends)) ?? 99) < 0.01)
        #expect(attack.updatedAt > created.addingTimeInterval(59) && abs(attack.createdAt.timeIntervalSince(created)) < 0.01)
        try journal.update("nothing-here", state: .recovered)  // an unknown uid changes nothing
        #expect(try journal.attacks().map(\.uid) == ["u1"])
    }
}
