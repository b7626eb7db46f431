import TumultFaults

/// Faults inside TCP connections, through Tumult's transparent proxy:
/// HTTPChaos's rules and TCPChaos's toxics.
enum ProxyFamily: FaultFamily {
    static func register(into registry: inout FamilyRegistry) {
        registry.register(injector: ProxyFaultInjector(detachProxy: registry.options.detachHelpers))
        registry.register(translator: HTTPChaosTranslator())
        registry.register(translator: TCPChaosTranslator())
    }
}
