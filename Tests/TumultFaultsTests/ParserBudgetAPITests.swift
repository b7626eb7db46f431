import Foundation
import Testing
import TumultSystem

/// The parser's budgets as a running server meets them: an alias bomb is a
/// 400 at once and costs no memory; the largest bodies the budgets let
/// through are parsed two at a time off the threads that serve requests,
/// so `GET /api/experiments` keeps answering meanwhile, and the memory they
/// took is handed back afterwards.
@Suite(.serialized, .enabled(if: getuid() == 0))
struct ParserBudgetAPITests {
    static let aliasBomb = """
        a: &a ["x","x","x","x","x","x","x","x","x"]
        b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]
        c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]
        d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]
        e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]
        f: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e]
        g: &g [*f,*f,*f,*f,*f,*f,*f,*f,*f]
        h: &h [*g,*g,*g,*g,*g,*g,*g,*g,*g]
        i: &i [*h,*h,*h,*h,*h,*h,*h,*h,*h]
        """

    /// A valid document just under the node budget (annotations are free
    /// text): the most parsing one body can ask for.
    static let largest: String = {
        let annotations = (0..<20_000).map { "k\($0): v" }.joined(separator: ", ")
        return HostileInputTests.nowhere.replacingOccurrences(of: "metadata: {name: good, namespace: shop}",
                                                              with: "metadata: {name: good, namespace: shop, annotations: {\(annotations)}}")
    }()

    static func validate(port: Int, _ body: String) throws -> HostileInputTests.Answer {
        let bytes = Array(body.utf8)
        return try HostileInputTests.exchange(port: port, HostileInputTests.head("POST", "/api/validate", port: port, ["Content-Type: application/yaml"],
                                                                                 length: bytes.count),
                                              body: bytes, timeout: 120)
    }

    static func residentKilobytes(_ pid: Int32) -> Int? {
        guard let status = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8),
              let line = status.split(separator: "\n").first(where: { $0.hasPrefix("VmRSS:") }) else { return nil }
        return Int(line.split(separator: " ").dropFirst().first ?? "")
    }

    @Test func anAliasBombIsA400AtOnceAndCostsNoMemory() async throws {
        let field = try await offPool { try HostileInputTests.Field() }
        defer { field.tearDown() }
        #expect(try await offPool { field.server.firstAnswer(within: 20) } != nil, "\(field.server.process.tail())")
        let before = try #require(Self.residentKilobytes(field.server.pid))
        let yaml = ["Content-Type: application/yaml"]
        for path in ["/api/experiments", "/api/validate"] {
            let started = Date()
            let answer = try HostileInputTests.post(port: field.port, path, Self.aliasBomb, yaml)
            let elapsed = Date().timeIntervalSince(started)
            print("alias bomb to \(path): \(answer.status) in \(Int(elapsed * 1000)) ms")
            #expect(answer.body.contains("after expanding aliases (YAML alias bomb?)"), "\(path): \(answer)")
            #expect(answer.status == (path == "/api/validate" ? 200 : 400), "\(path): \(answer)")
            #expect(elapsed < 1, "\(path)")
        }
        let after = try #require(Self.residentKilobytes(field.server.pid))
        print("server RSS \(before / 1024) MB before the bombs, \(after / 1024) MB after")
        #expect(after - before < 50 << 10, "the bombs took \((after - before) / 1024) MB")
        #expect(try field.counts() == (0, 0))
    }

    @Test func theLargestBodiesWaitTheirTurnWithoutStallingOtherRequestsAndGiveTheirMemoryBack() async throws {
        let field = try await offPool { try HostileInputTests.Field() }
        defer { field.tearDown() }
        #expect(try await offPool { field.server.firstAnswer(within: 20) } != nil, "\(field.server.process.tail())")
        let port = field.port, url = field.server.url, pid = field.server.pid
        let body = Self.largest
        #expect(body.utf8.count > 200_000 && body.utf8.count < 1 << 20)
        // Warm: the first request of a kind pays for loading code and pools.
        _ = try LoopbackHTTP.request("GET", url + "/api/experiments")
        let warming = Date()
        let warm = try Self.validate(port: port, body)
        print("one body of \(body.utf8.count / 1024) KB validated in \(Int(Date().timeIntervalSince(warming) * 1000)) ms")
        #expect(warm.status == 200 && warm.json?["valid"] as? Bool == true, "\(warm.description.prefix(300))")
        let before = try #require(Self.residentKilobytes(pid))

        // Six at once, while the list is asked for every 50 ms.
        let started = Date()
        let done = Finished()
        let parses = Task {
            defer { done.set() }
            return try await withThrowingTaskGroup(of: Int.self) { group in
                for _ in 0..<6 {
                    group.addTask { try await offPool { try Self.validate(port: port, body).status } }
                }
                return try await group.reduce(into: [Int]()) { $0.append($1) }
            }
        }
        var slowest = 0.0, peak = before, asked = 0
        while Date().timeIntervalSince(started) < 300 {
            let asking = Date()
            let list = try await offPool { try LoopbackHTTP.request("GET", url + "/api/experiments", timeout: 5) }
            #expect(list.status == 200)
            slowest = max(slowest, Date().timeIntervalSince(asking))
            asked += 1
            peak = max(peak, Self.residentKilobytes(pid) ?? 0)
            try await Task.sleep(for: .milliseconds(50))
            if asked >= 4, done.value { break }
        }
        let statuses = try await parses.value
        let parsing = Date().timeIntervalSince(started)
        #expect(statuses == Array(repeating: 200, count: 6))
        print("6 bodies of \(body.utf8.count / 1024) KB validated in \(String(format: "%.2f", parsing)) s; "
              + "\(asked) list requests meanwhile, the slowest \(Int(slowest * 1000)) ms; RSS \(before / 1024) MB, peak \(peak / 1024) MB")
        #expect(slowest < 1, "GET /api/experiments waited \(slowest) s behind the parses")

        // Memory back: within a few seconds the resident size is near where it was.
        var after = Self.residentKilobytes(pid) ?? 0
        for _ in 0..<20 where after - before > 64 << 10 {
            try await Task.sleep(for: .milliseconds(250))
            after = Self.residentKilobytes(pid) ?? 0
        }
        print("RSS after: \(after / 1024) MB")
        #expect(after - before <= 64 << 10, "RSS \(before / 1024) MB before, \(after / 1024) MB after")
        #expect(try field.counts() == (0, 0))
    }
}

/// Set once, read from any thread.
private final class Finished: @unchecked Sendable {
    private let lock = NSLock()
    private var flag = false
    var value: Bool { lock.withLock { flag } }
    func set() { lock.withLock { flag = true } }
}
