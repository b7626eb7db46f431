/// What an issued certificate is for. The roles do not overlap on purpose: a
/// daemon's server certificate cannot act as a controller's client
/// certificate, so a host that is broken into cannot command the rest of the fleet.
public enum CertificateRole: String, CaseIterable, Sendable {
    /// `tumult daemon`: extended key usage serverAuth, names in the SANs the controller dials.
    case server
    /// `tumult server` (the controller) reaching daemons: extended key usage clientAuth.
    case client
}
