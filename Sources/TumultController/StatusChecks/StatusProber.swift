import TumultModel

/// Runs one probe of a StatusCheck: the only I/O a check does, behind a
/// protocol so that its rules and its loop are tested with scripted results
/// and a fake clock. `TumultServer`'s `HTTPStatusProber` is the real one.
public protocol StatusProber: Sendable {
    /// Never throws and never takes much longer than `timeout`: a server
    /// that does not answer in time is a failed probe, not a hung caller.
    func probe(_ check: HTTPStatusCheck, timeout: Duration) async -> ProbeResult
}
