import Testing
import TumultFaults
import TumultModel

/// Toxiproxy's toxic semantics as arithmetic: when each byte may go out.
struct ToxicScheduleTests {
    let ms: UInt64 = 1_000_000

    func schedule(_ toxics: [Toxic], at now: UInt64 = 0) -> (ToxicSchedule, ToxicSchedule.Plan) {
        var schedule = ToxicSchedule(seed: 7)
        let plan = schedule.update(toxics, now: now)
        return (schedule, plan)
    }

    /// The pieces cover the chunk exactly, in order.
    func expectCovers(_ pieces: [ToxicSchedule.Piece], _ length: Int) {
        var next = 0
        for piece in pieces {
            #expect(piece.offset == next && piece.length > 0)
            next += piece.length
        }
        #expect(next == length)
        #expect(zip(pieces, pieces.dropFirst()).allSatisfy { $0.due <= $1.due }, "out of order")
    }

    @Test func noToxicRelaysAtOnce() {
        var (schedule, _) = schedule([])
        #expect(schedule.isPassThrough)
        let plan = schedule.plan(length: 1000, now: 5)
        #expect(plan.pieces == [.init(offset: 0, length: 1000, due: 5)])
    }

    @Test func latencyDelaysEachChunkAndKeepsOrderUnderJitter() {
        var (fixed, _) = schedule([Toxic(.latency, attributes: .init(latency: 100))])
        #expect(fixed.plan(length: 10, now: 0).pieces.first?.due == 100 * ms)
        // A chunk read later is due later; delays do not add up across chunks.
        #expect(fixed.plan(length: 10, now: 50 * ms).pieces.first?.due == 150 * ms)
        var (jittery, _) = schedule([Toxic(.latency, attributes: .init(latency: 100, jitter: 50))])
        var last: UInt64 = 0
        for step in 0..<200 {
            let now = UInt64(step) * ms
            let due = jittery.plan(length: 1, now: now).pieces[0].due
            #expect(due >= now + 50 * ms && due <= now + 150 * ms)
            #expect(due >= last, "a chunk overtook the one before it")
            last = due
        }
    }

    @Test func bandwidthPacesAtTheRateInPiecesOfAtMostATenthOfASecond() {
        var (schedule, _) = schedule([Toxic(.bandwidth, attributes: .init(rate: 100))])
        // 100 KB/s = 100 bytes per ms: 10,000 bytes take 100 ms.
        let small = schedule.plan(length: 10_000, now: 0).pieces
        #expect(small.count == 1 && small[0].due == 100 * ms)
        // 50,000 more bytes: five pieces of 10,000, one every 100 ms after the first.
        let large = schedule.plan(length: 50_000, now: 0).pieces
        expectCovers(large, 50_000)
        #expect(large.map(\.length) == Array(repeating: 10_000, count: 5))
        #expect(large.map(\.due) == [200, 300, 400, 500, 600].map { $0 * ms })
    }

    @Test func slicerCutsIntoPiecesOfAverageSizeDelayApart() {
        var (schedule, _) = schedule([Toxic(.slicer, attributes: .init(delay: 1000, averageSize: 10, sizeVariation: 5))])
        let pieces = schedule.plan(length: 1000, now: 0).pieces
        expectCovers(pieces, 1000)
        #expect(pieces.count >= 1000 / 15 && pieces.allSatisfy { $0.length <= 15 })
        for (index, piece) in pieces.enumerated() { #expect(piece.due == UInt64(index) * ms) }
    }

    @Test func limitDataLetsExactlyThatManyBytesThroughThenCloses() {
        var (schedule, _) = schedule([Toxic(.limitData, attributes: .init(bytes: 2500))])
        let first = schedule.plan(length: 1000, now: 0)
        #expect(first.pieces.map(\.length) == [1000] && first.closeAt == nil)
        let second = schedule.plan(length: 2000, now: 1)
        #expect(second.pieces.map(\.length) == [1500] && second.closeAt == 1)
        #expect(schedule.plan(length: 10, now: 2).pieces.isEmpty, "data after the limit got through")
    }

    @Test func timeoutDropsEverythingAndClosesAfterItsTimeoutOrNever() {
        var (schedule, plan) = schedule([Toxic(.timeout, attributes: .init(timeout: 1000))], at: 5 * ms)
        #expect(plan.closeAt == 1005 * ms)
        #expect(schedule.plan(length: 100, now: 6 * ms).pieces.isEmpty)
        let (_, forever) = self.schedule([Toxic(.timeout, attributes: .init(timeout: 0))])
        #expect(forever.closeAt == nil)
    }

    @Test func resetPeerResetsItsTimeoutAfterTheFirstData() {
        var (schedule, plan) = schedule([Toxic(.resetPeer, attributes: .init(timeout: 500))])
        #expect(plan.resetAt == nil, "no data yet, no reset")
        let first = schedule.plan(length: 5, now: 10 * ms)
        #expect(first.pieces.isEmpty && first.resetAt == 510 * ms)
        #expect(schedule.plan(length: 5, now: 20 * ms).resetAt == nil, "the timer starts once")
    }

    @Test func slowCloseDelaysTheFINAfterTheDataAheadOfIt() {
        var (schedule, _) = schedule([Toxic(.latency, attributes: .init(latency: 100)), Toxic(.slowClose, attributes: .init(delay: 1000))])
        _ = schedule.plan(length: 10, now: 0)
        #expect(schedule.closeDue(now: 10 * ms) == 1100 * ms)
        let (plain, _) = self.schedule([])
        #expect(plain.closeDue(now: 3) == 3)
    }

    @Test func anUpdateKeepsWhatAToxicRememberedAndStartsNewOnes() {
        var (schedule, _) = schedule([Toxic(.limitData, attributes: .init(bytes: 100))])
        _ = schedule.plan(length: 60, now: 0)
        // The same toxic with a higher limit: the 60 bytes sent count.
        _ = schedule.update([Toxic(.limitData, attributes: .init(bytes: 150))], now: 1)
        #expect(schedule.plan(length: 200, now: 2).pieces.map(\.length) == [90])
        var other = ToxicSchedule(seed: 1)
        let plan = other.update([Toxic(.timeout, attributes: .init(timeout: 10))], now: 0)
        #expect(plan.closeAt == 10 * ms)
        #expect(other.update([], now: 1).closeAt == nil)
        #expect(other.isPassThrough)
    }
}
