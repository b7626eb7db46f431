import Foundation

/// Where Tumult finds the helper programs it starts (`tumult-netem`,
/// `tumult-stress`, `tumult` itself): beside the running program, else PATH.
public enum HelperExecutable {
    /// `$environmentOverride` when that variable is set; else, with
    /// `preferringRunningProgram`, the running program itself when it is
    /// called `name`; else `name` beside the running program (symlinks
    /// resolved); else the bare `name`, to be looked up in PATH.
    public static func locate(_ name: String, environmentOverride: String?,
                              preferringRunningProgram: Bool = false) -> String {
        if let environmentOverride, let override = ProcessInfo.processInfo.environment[environmentOverride] {
            return override
        }
        if preferringRunningProgram, let running = runningProgram(named: name) { return running }
        let beside = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath()
            .deletingLastPathComponent().appendingPathComponent(name).path
        return FileManager.default.isExecutableFile(atPath: beside) ? beside : name
    }

    /// The executable of this very process (`/proc/self/exe`) when it was
    /// started as `name`, else nil.
    public static func runningProgram(named name: String) -> String? {
        guard URL(fileURLWithPath: CommandLine.arguments[0]).lastPathComponent == name,
              let running = try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe"),
              FileManager.default.isExecutableFile(atPath: running) else { return nil }
        return running
    }
}
