import Foundation
import NIOCore
import Testing
import TumultController
import TumultModel
@testable import TumultServer

/// `GET /api/experiments` is served from items encoded at earlier requests.
/// Each answer must be byte for byte what encoding the controller's state
/// at that moment gives, through applies, pauses, deletes and the clock
/// passing an experiment's end, with and without a filter.
@Suite struct ExperimentListCacheTests {
    /// What the route answered before the cache: every record encoded at `moment`.
    static func fresh(_ controller: Controller, at moment: Date, _ filter: ExperimentListCache.Filter = .init()) async throws -> String {
        let items = await controller.allExperiments().map { ExperimentItem($0, at: moment) }.filter(filter.admits)
        return String(decoding: try JSONResponse.encoder.encode(items), as: UTF8.self)
    }

    static func cached(_ cache: ExperimentListCache, _ controller: Controller, _ filter: ExperimentListCache.Filter = .init()) async -> String {
        let snapshot = await controller.experimentsSnapshot(changedSince: cache.revision)
        let body = cache.body(revision: snapshot.revision, records: snapshot.records, at: snapshot.now, filter: filter)
        return String(buffer: body)
    }

    static func delay(_ name: String, namespace: String = "shop", duration: String) -> String {
        delayYAML.replacingOccurrences(of: "name: web-delay, namespace: shop", with: "name: \(name), namespace: \(namespace)")
            .replacingOccurrences(of: "duration: 30s", with: "duration: \(duration)")
    }

    @Test func answersEqualAFreshEncodingThroughChangesAndTime() async throws {
        let daemon = RecordingDaemon(), clock = ManualClock()
        let controller = try makeController(daemon, clock: clock)
        let cache = ExperimentListCache()
        let filters: [ExperimentListCache.Filter] = [.init(), .init(namespace: "shop"), .init(namespace: "other"),
                                                     .init(name: "short"), .init(kind: "NetworkChaos"),
                                                     .init(status: "injecting"), .init(status: "finished")]
        func check(_ step: String) async throws {
            for filter in filters {
                let answer = await Self.cached(cache, controller, filter)
                #expect(answer == (try await Self.fresh(controller, at: clock.now, filter)), "\(step), \(filter)")
            }
        }
        #expect(await Self.cached(cache, controller) == "[]")
        try await check("empty")

        // Not reconciled: no targets yet, so each reads `injecting` until its
        // end and `finished` after it, with no change in the controller.
        let short = try await controller.apply(try document(Self.delay("short", duration: "10s"))).uid
        clock.advance(1)
        _ = try await controller.apply(try document(Self.delay("long", namespace: "other", duration: "1h")))
        try await check("applied")
        #expect(try APITests.array(ByteBuffer(string: await Self.cached(cache, controller))).map { $0["status"] as? String }
                == ["injecting", "injecting"])

        let revision = await controller.experimentsRevision
        clock.advance(10)
        #expect(await controller.experimentsRevision == revision, "only the clock moved")
        try await check("past the first end")
        #expect(try APITests.array(ByteBuffer(string: await Self.cached(cache, controller))).map { $0["status"] as? String }
                == ["finished", "injecting"])

        try await controller.setPaused(short, true)
        try await check("paused")
        await controller.reconcile()
        try await check("reconciled")
        try await controller.delete(short)
        try await check("deleted")
        await controller.reconcile()
        clock.advance(3600)
        try await check("past the second end")
        _ = try await controller.apply(try document(Self.delay("third", duration: "5m")))
        try await check("applied again")
    }

    /// An answer built from an older snapshot than the cache holds (a slower
    /// request finishing later) does not take the cache back.
    @Test func anOlderSnapshotDoesNotReplaceANewerOne() async throws {
        let daemon = RecordingDaemon(), clock = ManualClock()
        let controller = try makeController(daemon, clock: clock)
        let cache = ExperimentListCache()
        let old = await controller.experimentsSnapshot(changedSince: nil)
        _ = try await controller.apply(try document(Self.delay("new", duration: "1m")))
        let new = await controller.experimentsSnapshot(changedSince: nil)
        _ = cache.body(revision: new.revision, records: new.records, at: new.now, filter: .init())
        _ = cache.body(revision: old.revision, records: old.records, at: old.now, filter: .init())
        #expect(cache.revision == new.revision)
        #expect(await Self.cached(cache, controller) == (try await Self.fresh(controller, at: clock.now)))
        #expect(await Self.cached(cache, controller).contains("\"new\""))
    }
}
