/// StressChaos: burns CPU and memory inside the selected containers, with
/// stress-ng and Chaos Mesh's memory stressor placed in their cgroups.
public struct StressChaosSpec: PodTargetedSpec {
    public static let kind = ChaosKind.stressChaos

    public var mode: SelectorMode
    public var value: String?
    public var selector: PodSelectorSpec
    public var containerNames: [String]?
    /// The CPU and memory stressors; at least one of them.
    public var stressors: Stressors?
    /// Raw stress-ng arguments (experimental); when set, `stressors` is ignored.
    public var stressngStressors: String?
    public var duration: GoDuration?
    public var remoteCluster: String?

    public init(mode: SelectorMode = .all, value: String? = nil, selector: PodSelectorSpec = PodSelectorSpec(),
                stressors: Stressors? = nil, stressngStressors: String? = nil) {
        self.mode = mode
        self.value = value
        self.selector = selector
        self.stressors = stressors
        self.stressngStressors = stressngStressors
    }

    public mutating func applyDefaults() {
        if stressors?.memory != nil && stressors?.memory?.oomScoreAdj == nil {
            stressors?.memory?.oomScoreAdj = 0
        }
    }

    public func validate(at path: FieldPath, into diagnostics: inout Diagnostics) {
        validateTargeting(at: path, into: &diagnostics)
        validateDuration(duration, at: path.child("duration"), into: &diagnostics)
        let stressorsPath = path.child("stressors")
        if (stressngStressors ?? "").isEmpty && stressors == nil && !diagnostics.hasError(touching: stressorsPath) {
            diagnostics.error(stressorsPath, "missing stressors: set stressors (cpu or memory) or stressngStressors")
        }
        stressors?.validate(at: stressorsPath, into: &diagnostics)
        if stressors != nil && !(stressngStressors ?? "").isEmpty {
            diagnostics.warning(stressorsPath, "ignored: stressngStressors is set and wins over stressors")
        }
    }

    /// What to stress: CPU, memory or both.
    public struct Stressors: Codable, Sendable, Hashable {
        public var memory: MemoryStressor?
        public var cpu: CPUStressor?

        public init(memory: MemoryStressor? = nil, cpu: CPUStressor? = nil) {
            self.memory = memory
            self.cpu = cpu
        }

        func validate(at path: FieldPath, into diagnostics: inout Diagnostics) {
            if memory == nil && cpu == nil && !diagnostics.hasError(touching: path) {
                diagnostics.error(path, "missing stressors: set cpu, memory or both")
            }
            cpu?.validate(at: path.child("cpu"), into: &diagnostics)
            memory?.validate(at: path.child("memory"), into: &diagnostics)
        }
    }

    /// `workers` stress-ng CPU workers, each loading a CPU `load` percent.
    public struct CPUStressor: Codable, Sendable, Hashable {
        public var workers: Int
        /// Percent of one CPU each worker keeps busy: 0 sleeps, 100 is full load.
        public var load: Int?
        /// Extra stress-ng options.
        public var options: [String]?

        public init(workers: Int, load: Int? = nil, options: [String]? = nil) {
            self.workers = workers
            self.load = load
            self.options = options
        }

        func validate(at path: FieldPath, into diagnostics: inout Diagnostics) {
            diagnostics.checkBounds(workers, min: 1, max: 8192, at: path.child("workers"),
                                    meaning: "the number of workers")
            diagnostics.checkBounds(load, min: 0, max: 100, at: path.child("load"),
                                    meaning: "the load per worker (a percentage)")
        }
    }

    /// `workers` memory stressors, each taking `size`.
    public struct MemoryStressor: Codable, Sendable, Hashable {
        public var workers: Int
        /// Memory per worker; default: all the available memory.
        public var size: MemorySize?
        /// The stressor's `oom_score_adj`, from -1000 (never killed) to 1000.
        public var oomScoreAdj: Int?
        /// Extra stressor options.
        public var options: [String]?

        public init(workers: Int, size: MemorySize? = nil, oomScoreAdj: Int? = nil, options: [String]? = nil) {
            self.workers = workers
            self.size = size
            self.oomScoreAdj = oomScoreAdj
            self.options = options
        }

        func validate(at path: FieldPath, into diagnostics: inout Diagnostics) {
            diagnostics.checkBounds(workers, min: 1, max: 8192, at: path.child("workers"),
                                    meaning: "the number of workers")
            diagnostics.checkBounds(oomScoreAdj, min: -1000, max: 1000, at: path.child("oomScoreAdj"),
                                    meaning: "oomScoreAdj")
        }
    }
}
