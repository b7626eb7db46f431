/// The checks every name that reaches the host goes through, whoever gives
/// it: chaosd's attack bodies, documents and the inventory file, and the
/// CLI's flags. Each name is checked as what it is, not as text: a network
/// namespace is one file name under /var/run/netns (`../../proc/1/ns/net`
/// would name the host's), a pid a process Tumult may touch, a device a
/// name the kernel could have given an interface, a path one that says
/// where it goes without `..`. Pure: whether the thing exists is for the
/// caller to ask the host.
///
/// Each check returns nil for a good name, else what is wrong with it, for
/// the caller to report under its own field or flag.
public enum HostNames {
    /// iproute2's `ip netns` limit (NAME_MAX): a namespace is a file name.
    public static let maximumNetworkNamespaceLength = 255
    /// The kernel's IFNAMSIZ (16) less the terminating NUL.
    public static let maximumDeviceLength = 15
    /// The kernel's PID_MAX_LIMIT: no pid is above it on any Linux.
    public static let maximumPID: Int64 = 4_194_304
    /// PATH_MAX, with its NUL.
    public static let maximumPathLength = 4095

    /// A plain `ip netns` name: what `ip netns add` accepts (not empty, at
    /// most 255 bytes, no `/`, not `.` or `..`), and printable. `ip -n NAME`
    /// and `ip netns exec NAME` join it to /var/run/netns unchecked, so a
    /// `/` would lead anywhere.
    public static func problem(withNetworkNamespace name: String) -> String? {
        let valid = !name.isEmpty && name.utf8.count <= maximumNetworkNamespaceLength && name != "." && name != ".."
            && !name.contains("/") && name.unicodeScalars.allSatisfy(isPrintable)
        return valid ? nil : "\(quoted(name)) is not a valid network namespace name (a file name under /var/run/netns)"
    }

    /// A Linux interface name as the kernel's `dev_valid_name` takes it:
    /// 1-15 bytes, not `.` or `..`, no `/`, `:` or white space; and, as
    /// nothing prints one, no control characters.
    public static func problem(withDevice name: String) -> String? {
        let valid = !name.isEmpty && name.utf8.count <= maximumDeviceLength && name != "." && name != ".."
            && !name.unicodeScalars.contains { $0 == "/" || $0 == ":" || isKernelSpace($0) || !isPrintable($0) }
        return valid ? nil : "\(quoted(name)) is not a network device name (1-15 characters, no '/', ':' or spaces)"
    }

    /// A process Tumult may act on: a positive pid no higher than the
    /// kernel's limit, not init (pid 1) and not `tumult`, the caller's own
    /// pid (whose stop would stop the fault's recovery with it).
    public static func problem(withPID pid: Int64, tumult: Int32? = nil) -> String? {
        guard (1...maximumPID).contains(pid) else {
            return "\(pid) is not a process id (a number from 1 to \(maximumPID))"
        }
        if pid == 1 { return "pid 1 is init; Tumult does not attack it" }
        if let tumult, pid == Int64(tumult) { return "pid \(pid) is Tumult itself; Tumult does not attack it" }
        return nil
    }

    /// An absolute, normalised path: it starts with `/` and has no `.` or
    /// `..` component, no `//` and no NUL, so it names one place however
    /// the process that reads it was started. A single trailing `/` is
    /// allowed (`/tmp/`): it names the same directory.
    public static func problem(withPath path: String) -> String? {
        guard path.hasPrefix("/") else { return "\(quoted(path)) is not an absolute path (it must start with /)" }
        guard path.utf8.count <= maximumPathLength else {
            return "\(quoted(path)) is longer than \(maximumPathLength) bytes"
        }
        guard !path.unicodeScalars.contains(where: { $0.value == 0 }) else { return "\(quoted(path)) contains a NUL" }
        if path == "/" { return nil }
        let inside = path.hasSuffix("/") ? path.dropFirst().dropLast() : path.dropFirst()
        for component in inside.split(separator: "/", omittingEmptySubsequences: false) {
            if component.isEmpty { return "\(quoted(path)) is not a normalised path (no //)" }
            if component == "." || component == ".." {
                return "\(quoted(path)) is not a normalised path (no . or .. components)"
            }
        }
        return nil
    }

    /// The kernel's `isspace`: space, \t \n \v \f \r, and Latin-1's NBSP.
    static func isKernelSpace(_ scalar: Unicode.Scalar) -> Bool {
        scalar == " " || (0x09...0x0D).contains(scalar.value) || scalar.value == 0xA0
    }

    /// Not a control character (C0, DEL, C1).
    static func isPrintable(_ scalar: Unicode.Scalar) -> Bool {
        !(scalar.value < 0x20 || (0x7F...0x9F).contains(scalar.value))
    }

    /// The name in double quotes, control characters written as `\u{..}`
    /// so that a message never carries them to a terminal.
    static func quoted(_ text: String) -> String {
        var out = "\""
        for scalar in text.unicodeScalars {
            if isPrintable(scalar) {
                out.unicodeScalars.append(scalar)
            } else {
                out += "\\u{\(String(scalar.value, radix: 16))}"
            }
        }
        return out + "\""
    }
}
