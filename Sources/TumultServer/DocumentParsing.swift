import CTumultSystem
import Dispatch
import TumultModel

/// Parses request bodies (`POST /api/experiments`, `/api/validate`) off
/// Swift's cooperative threads and at most `concurrency` at a time.
///
/// Why: the budgets (`DocumentText.Budget`) keep one parse to tens of
/// milliseconds and megabytes, but a parse is still CPU work that cannot
/// yield. On the cooperative pool (one thread per core, two here) four
/// bodies at once would hold every thread and stall every other request,
/// `GET /api/experiments` and `POST /api/halt` included. Here they wait
/// their turn in an async queue (a suspended request holds no thread) and
/// run on a dispatch queue of their own. Afterwards glibc is asked to hand
/// freed memory back, so that one large body does not leave the server's
/// resident size at its peak for good.
enum DocumentParsing {
    /// Parses at once. They run beside the cooperative threads, not on
    /// them, so the server keeps answering; the bound keeps a burst of
    /// bodies from taking every core (and their memory) at once.
    static let concurrency = 2
    /// Bodies at least this large are followed by `malloc_trim`.
    static let trimAfterBytes = 64 << 10

    private static let queue = DispatchQueue(label: "tumult.parse", qos: .userInitiated, attributes: .concurrent)
    private static let gate = AsyncGate(slots: concurrency)

    /// `DocumentLoader().load(text, fieldValidation:)`, waiting for a slot.
    static func load(_ text: String, fieldValidation: FieldValidation) async throws -> [DocumentLoader.Report] {
        try await run(bytes: text.utf8.count) { try DocumentLoader().load(text, fieldValidation: fieldValidation) }
    }

    /// Parsing work on a body of `bytes` (the dashboard editor's check
    /// too), waiting for a slot.
    static func run<T: Sendable>(bytes: Int, _ body: @escaping @Sendable () throws -> T) async throws -> T {
        try await gate.run {
            try await blocking(on: queue) {
                // glibc keeps freed memory for reuse: hand it back (malloc.h, through the C shim).
                defer { if bytes >= trimAfterBytes { _ = malloc_trim(0) } }
                return try body()
            }
        }
    }
}
