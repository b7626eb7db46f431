import TumultModel

/// The API server's chaos objects read as Tumult's documents, the same
/// way by the operator, the webhook and the dashboard.
enum ChaosObjects {
    /// Checks an object as a document. Its `status` goes first: it is not
    /// the document's (the operator writes it) and the loader would warn of it.
    static func check(_ value: Value) -> DocumentLoader.Report {
        var value = value
        if case .object(var fields) = value {
            fields["status"] = nil
            value = .object(fields)
        }
        return DocumentLoader().check(value)
    }

    /// Every error of a report in one line, as a warning event or a denial says it.
    static func problems(of report: DocumentLoader.Report) -> String {
        let errors = report.diagnostics.errors.map(\.description)
        return errors.isEmpty ? "not a chaos document" : errors.joined(separator: "; ")
    }
}
