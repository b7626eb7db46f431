import Foundation
import TumultAgent
import TumultFaults
import TumultModel
import TumultSystem

/// One fault ready to inject: the injector and its fault, with the types
/// erased so that a translator can return faults of any family.
public struct PlannedFault: Sendable {
    /// The injector family (`network`), as the journal keeps it.
    public let family: String
    /// What is done, in the journal's words (`network delay`).
    public let action: String
    /// A one-line description for records and events.
    public let summary: String
    /// The fault as JSON (what the journal keeps), for records and tests.
    public let encodedFault: String
    private let injectWith: @Sendable (AttackRunner, _ target: String, _ endsAt: Date?, _ owner: Int32?,
                                       _ claim: AttackOwner?, _ uid: String?) throws -> String

    public init<Injector: FaultInjector>(_ fault: Injector.Fault, injector: Injector, action: String, summary: String) {
        self.family = Injector.family
        self.action = action
        self.summary = summary
        self.encodedFault = (try? JSONEncoder().encode(fault)).map { String(decoding: $0, as: UTF8.self) } ?? "{}"
        self.injectWith = { runner, target, endsAt, owner, claim, uid in
            try runner.inject(fault, with: injector, action: action, target: target, endsAt: endsAt, owner: owner,
                              claim: claim, uid: uid)
        }
    }

    /// Journals and applies the fault; returns the attack's uid. `owner`:
    /// the process that holds it in the foreground, if any.
    /// `claim`: the controller, experiment and target it is for; `uid`: the caller's id for it.
    public func inject(with runner: AttackRunner, target: String, endsAt: Date?, owner: Int32? = nil,
                       claim: AttackOwner? = nil, uid: String? = nil) throws -> String {
        try injectWith(runner, target, endsAt, owner, claim, uid)
    }
}

/// How the faults of one kind are made on this host.
public struct TranslationOptions: Sendable {
    /// Helpers (packet engine, stress workers, DNS responder) outlive the
    /// process that started them: true for the server, false for `tumult run`,
    /// whose helpers die with it.
    public var detachHelpers: Bool
    /// Which network engine to use.
    public var networkBackend: NetworkFault.Backend

    public init(detachHelpers: Bool = true, networkBackend: NetworkFault.Backend = .auto) {
        self.detachHelpers = detachHelpers
        self.networkBackend = networkBackend
    }
}

/// Turns one kind's spec into the faults that realise it on one target.
/// One translator per kind; the registry below is the only place that
/// lists them.
public protocol FaultTranslator: Sendable {
    associatedtype Spec: ChaosSpec

    /// The faults for `target` (peers: pods chosen by the spec's second
    /// selector). Throws a `FaultError` for what this host cannot do.
    func faults(for spec: Spec, target: Pod, peers: [Pod], options: TranslationOptions) throws -> [PlannedFault]
}

/// Every kind this host can inject, looked up by the spec's type.
public struct TranslatorRegistry: Sendable {
    private var translators: [ChaosKind: @Sendable (any ChaosSpec, Pod, [Pod], TranslationOptions) throws -> [PlannedFault]] = [:]

    public init() {}

    public mutating func register<Translator: FaultTranslator>(_ translator: Translator) {
        translators[Translator.Spec.kind] = { spec, target, peers, options in
            guard let typed = spec as? Translator.Spec else {
                throw FaultError(.invalidFault, "a \(type(of: spec)) is not a \(Translator.Spec.kind.rawValue) spec")
            }
            return try translator.faults(for: typed, target: target, peers: peers, options: options)
        }
    }

    public var kinds: [ChaosKind] { translators.keys.sorted { $0.rawValue < $1.rawValue } }

    /// The faults for one target, or an `unsupported` error naming the kind.
    public func faults(for document: ChaosDocument, target: Pod, peers: [Pod], options: TranslationOptions) throws -> [PlannedFault] {
        guard let translate = translators[document.kind] else {
            throw FaultError(.unsupported, "\(document.kind.rawValue) is not supported on this host yet (supported: \(kinds.map(\.rawValue).joined(separator: ", ")))")
        }
        return try translate(document.spec, target, peers, options)
    }
}

extension Pod {
    /// The network namespace a fault reaches the pod through: its named
    /// netns, else the namespace of its process (containers have no name).
    func networkNamespace() throws -> NetworkNamespace {
        if let netns { return .named(netns) }
        if let pid { return .process(pid) }
        throw unreachable
    }

    /// Why no fault can reach this pod.
    var unreachable: FaultError {
        FaultError(.invalidFault, "pod \(id) has neither a network namespace nor a process")
    }
}
