/// JVMChaos: faults inside the Java processes of the selected containers,
/// through a Byteman agent: slow, failing or altered methods, CPU or memory
/// stress, garbage collections, custom rules, faulty MySQL client calls.
public struct JVMChaosSpec: PodTargetedSpec {
    public static let kind = ChaosKind.jvmChaos

    public enum Action: String, ChaosEnum {
        case latency
        case `return`
        case exception, stress, gc, ruleData, mysql
    }

    /// The port of the agent server when `port` is not set.
    public static let defaultPort: Int32 = 9277

    public var action: Action
    public var mode: SelectorMode
    public var value: String?
    public var selector: PodSelectorSpec
    public var containerNames: [String]?
    public var duration: GoDuration?
    public var remoteCluster: String?
    /// The Java class (latency, return, exception).
    public var `class`: String?
    /// The method of `class` (latency, return, exception).
    public var method: String?
    /// CPU cores to keep busy (stress).
    public var cpuCount: Int?
    /// Memory to fill, `stack` or `heap` (stress).
    public var memType: String?
    /// The value the method returns instead (return).
    public var returnValue: String?
    /// The exception thrown (exception), or its message (mysql).
    public var exception: String?
    /// Milliseconds added to each call (latency, mysql).
    public var latency: Int?
    /// A Byteman rule (ruleData).
    public var ruleData: String?
    /// `5` for mysql-connector-java 5.x, `8` for 8.x (mysql).
    public var mysqlConnectorVersion: String?
    /// Only calls on this database; default: all (mysql).
    public var database: String?
    /// Only calls on this table; default: all (mysql).
    public var table: String?
    /// Only this SQL statement type (`select`, `insert`, ...); default: all (mysql).
    public var sqlType: String?
    /// The Byteman rule name; Chaos Mesh makes one up when absent.
    public var name: String?
    /// The Java process to attach to.
    public var pid: Int?
    /// The port of the agent server; default 9277.
    public var port: Int32?

    public init(action: Action, mode: SelectorMode = .all, value: String? = nil,
                selector: PodSelectorSpec = PodSelectorSpec()) {
        self.action = action
        self.mode = mode
        self.value = value
        self.selector = selector
    }

    /// The value a `return` action returns. Chaos Mesh before 2.6 read it
    /// from `value` (shared with the selector's value), so that is accepted too.
    public var effectiveReturnValue: String? {
        if let returnValue, !returnValue.isEmpty { return returnValue }
        return action == .return ? value : nil
    }

    public mutating func applyDefaults() {
        if port == nil || port == 0 { port = Self.defaultPort }
    }

    public func validate(at path: FieldPath, into diagnostics: inout Diagnostics) {
        validateTargeting(at: path, into: &diagnostics)
        validateDuration(duration, at: path.child("duration"), into: &diagnostics)

        func require(_ field: String, _ present: Bool, _ what: String) {
            if !present && !diagnostics.hasError(touching: path.child(field)) {
                diagnostics.error(path.child(field), "required when action is \(action.rawValue): \(what)")
            }
        }
        func isSet(_ text: String?) -> Bool { !(text ?? "").isEmpty }

        switch action {
        case .latency, .return, .exception:
            require("class", isSet(`class`), "the Java class, e.g. \"com.example.Main\"")
            require("method", isSet(method), "the method of the class")
            switch action {
            case .latency: require("latency", (latency ?? 0) != 0, "the milliseconds added to each call")
            case .return: require("returnValue", isSet(effectiveReturnValue), "the value the method returns")
            default: require("exception", isSet(exception), "the exception thrown, e.g. \"java.io.IOException(\\\"BOOM\\\")\"")
            }
        case .stress:
            let cpu = (cpuCount ?? 0) != 0, memory = isSet(memType)
            if !cpu && !memory && !diagnostics.hasError(touching: path.child("cpuCount")) {
                diagnostics.error(path.child("action"), "stress needs cpuCount or memType")
            }
            if cpu && memory {
                diagnostics.error(path.child("memType"), "cannot stress CPU and memory at once: set cpuCount or memType, not both")
            }
            if let memType, memory, memType != "stack" && memType != "heap" {
                diagnostics.error(path.child("memType"), "\"\(memType)\" is not a memory type: expected \"stack\" or \"heap\"")
            }
        case .gc:
            break
        case .ruleData:
            require("ruleData", isSet(ruleData), "a Byteman rule")
        case .mysql:
            if let version = mysqlConnectorVersion, !version.isEmpty {
                if version != "5" && version != "8" {
                    diagnostics.error(path.child("mysqlConnectorVersion"),
                                      "\"\(version)\" is not supported: \"5\" for mysql-connector-java 5.x or \"8\" for 8.x")
                }
            } else {
                require("mysqlConnectorVersion", false, "\"5\" or \"8\" (the mysql-connector-java major version)")
            }
            if !isSet(exception) && (latency ?? 0) == 0 && !diagnostics.hasError(touching: path.child("exception")) {
                diagnostics.error(path.child("action"), "mysql needs exception or latency")
            }
        }
        diagnostics.checkBounds(latency, min: 0, at: path.child("latency"), meaning: "latency (milliseconds)")
        diagnostics.checkBounds(cpuCount, min: 0, at: path.child("cpuCount"), meaning: "cpuCount")
        diagnostics.checkBounds(pid, min: 0, at: path.child("pid"), meaning: "a process id")
        if port != 0 {  // 0 stands for the default port, as in Chaos Mesh
            diagnostics.checkBounds(port, min: 1, max: 65535, at: path.child("port"), meaning: "a port")
        }
    }
}
