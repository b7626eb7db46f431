import Foundation
import TumultSystem

/// Ports in use inside a network namespace, for the helpers a fault
/// starts there (the DNS responder, the proxy).
enum NamespacePorts {
    /// A port neither UDP nor TCP uses in the namespace, from `base` plus
    /// an offset taken from the attack's id (two attacks rarely collide).
    static func free(from base: Int, for attack: String, _ inside: NamespacedRunner, helper: String) throws -> Int {
        var used = Set<Int>()
        for table in ["udp", "udp6", "tcp", "tcp6"] {
            let listing = (try? inside.run(Command(["cat", "/proc/net/\(table)"])))?.stdout ?? ""
            for line in listing.split(separator: "\n").dropFirst() {
                let fields = line.split(separator: " ")
                if fields.count > 1, let port = fields[1].split(separator: ":").last.flatMap({ Int($0, radix: 16) }) {
                    used.insert(port)
                }
            }
        }
        let offset = Int(String(attack.filter(\.isHexDigit).prefix(4)), radix: 16).map { $0 % 1000 } ?? 0
        for candidate in (base + offset)..<(base + offset + 2000) where !used.contains(candidate) {
            return candidate
        }
        throw FaultError(.applyFailed, "no free port for the \(helper) in \(inside.namespace)")
    }
}
