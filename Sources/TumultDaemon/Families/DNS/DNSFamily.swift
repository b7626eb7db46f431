import TumultFaults

/// Failing and wrong DNS answers: DNSChaos.
enum DNSFamily: FaultFamily {
    static func register(into registry: inout FamilyRegistry) {
        registry.register(injector: DNSFaultInjector(detachResponder: registry.options.detachHelpers))
        registry.register(translator: DNSChaosTranslator())
    }
}
