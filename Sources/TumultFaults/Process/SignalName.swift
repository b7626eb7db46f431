import Foundation

/// Linux signal names and numbers, as `kill -l` lists them.
public enum SignalName {
    static let names: [(String, Int32)] = [
        ("HUP", 1), ("INT", 2), ("QUIT", 3), ("ILL", 4), ("TRAP", 5), ("ABRT", 6), ("IOT", 6), ("BUS", 7), ("FPE", 8),
        ("KILL", 9), ("USR1", 10), ("SEGV", 11), ("USR2", 12), ("PIPE", 13), ("ALRM", 14), ("TERM", 15),
        ("STKFLT", 16), ("CHLD", 17), ("CONT", 18), ("STOP", 19), ("TSTP", 20), ("TTIN", 21), ("TTOU", 22),
        ("URG", 23), ("XCPU", 24), ("XFSZ", 25), ("VTALRM", 26), ("PROF", 27), ("WINCH", 28), ("IO", 29),
        ("POLL", 29), ("PWR", 30), ("SYS", 31),
    ]

    /// `9`, `KILL`, `SIGKILL` or `sigkill`; nil for anything else. Real-time
    /// signals are numbers 34-64.
    public static func number(parsing text: String) -> Int32? {
        if let number = Int32(text) { return (1...64).contains(number) ? number : nil }
        var name = text.uppercased()
        if name.hasPrefix("SIG") { name.removeFirst(3) }
        return names.first { $0.0 == name }?.1
    }

    /// `SIGKILL`, or `signal 40` for one without a name.
    public static func name(of number: Int32) -> String {
        names.first { $0.1 == number }.map { "SIG" + $0.0 } ?? "signal \(number)"
    }
}
