/// KernelChaos: makes kernel allocations or block IO fail in the selected
/// pods (BPF fail injection), optionally only along a given call chain.
public struct KernelChaosSpec: PodTargetedSpec {
    public static let kind = ChaosKind.kernelChaos

    public var mode: SelectorMode
    public var value: String?
    public var selector: PodSelectorSpec
    public var containerNames: [String]?
    /// What fails, where and how often.
    public var failKernRequest: FailKernRequest
    public var duration: GoDuration?
    public var remoteCluster: String?

    public init(failKernRequest: FailKernRequest, mode: SelectorMode = .all, value: String? = nil,
                selector: PodSelectorSpec = PodSelectorSpec()) {
        self.failKernRequest = failKernRequest
        self.mode = mode
        self.value = value
        self.selector = selector
    }

    public func validate(at path: FieldPath, into diagnostics: inout Diagnostics) {
        validateTargeting(at: path, into: &diagnostics)
        validateDuration(duration, at: path.child("duration"), into: &diagnostics)
        failKernRequest.validate(at: path.child("failKernRequest"), into: &diagnostics)
    }

    /// One fail-injection request.
    public struct FailKernRequest: Codable, Sendable, Hashable {
        /// What `failtype` numbers mean.
        public enum FailType: Int32, Sendable, Hashable, CaseIterable {
            /// Slab allocations (`should_failslab`).
            case slab = 0
            /// Page allocations (`should_fail_alloc_page`).
            case allocPage = 1
            /// Block IO (`should_fail_bio`).
            case bio = 2
        }

        /// 0 slab, 1 alloc_page, 2 bio.
        public var failtype: Int32
        /// Kernel headers the predicates need, e.g. `linux/mmzone.h`.
        public var headers: [String]?
        /// Fail only along this call chain (outermost first); default: any.
        public var callchain: [Frame]?
        /// Percent of the calls that fail.
        public var probability: Int32?
        /// At most this many failures.
        public var times: Int32?

        public init(failtype: Int32, headers: [String]? = nil, callchain: [Frame]? = nil,
                    probability: Int32? = nil, times: Int32? = nil) {
            self.failtype = failtype
            self.headers = headers
            self.callchain = callchain
            self.probability = probability
            self.times = times
        }

        /// `failtype` read; nil when out of range.
        public var failType: FailType? { FailType(rawValue: failtype) }

        func validate(at path: FieldPath, into diagnostics: inout Diagnostics) {
            diagnostics.checkBounds(failtype, min: 0, max: 2, at: path.child("failtype"),
                                    meaning: "failtype (0 slab, 1 alloc_page, 2 bio)")
            diagnostics.checkBounds(probability, min: 0, max: 100, at: path.child("probability"),
                                    meaning: "probability (a percentage)")
            diagnostics.checkBounds(times, min: 0, at: path.child("times"), meaning: "times")
        }
    }

    /// One function of a call chain, with an optional predicate on its arguments.
    public struct Frame: Codable, Sendable, Hashable {
        /// The kernel function, e.g. `ext4_mount`.
        public var funcname: String?
        /// Its parameter list, for the predicate, e.g. `struct dentry *parent, const struct qstr *name`.
        public var parameters: String?
        /// A condition on the parameters, e.g. `STRNCMP(name->name, "bananas", 8)`.
        public var predicate: String?

        public init(funcname: String? = nil, parameters: String? = nil, predicate: String? = nil) {
            self.funcname = funcname
            self.parameters = parameters
            self.predicate = predicate
        }
    }
}
