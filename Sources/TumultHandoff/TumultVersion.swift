/// Tumult's version: what `tumult --version` prints and the API reports.
/// Here, in the module the small front program links, so that both say the same.
public enum TumultVersion {
    public static let text = "0.5.0"
}
