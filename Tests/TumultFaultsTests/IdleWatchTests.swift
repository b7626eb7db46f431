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
}
