import Testing
import TumultModel

/// Selectors and modes against a fixed inventory, with a seeded generator so
/// that every random pick can be replayed.
@Suite struct SelectionTests {
    // MARK: Inventory: 24 pods, 3 namespaces, 2 nodes

    static let nodeLabels: [String: [String: String]] = [
        "node-a": ["kubernetes.io/hostname": "node-a", "zone": "east", "disk": "ssd"],
        "node-b": ["kubernetes.io/hostname": "node-b", "zone": "west", "disk": "hdd"],
    ]

    static func pod(_ id: String, _ labels: [String: String] = [:], node: String = "node-a",
                    phase: String = "Running", annotations: [String: String] = [:], ip: String? = nil) -> Pod {
        let parts = id.split(separator: "/").map(String.init)
        return Pod(name: parts[1], namespace: parts[0], labels: labels, annotations: annotations,
                   ips: ip.map { [$0, "fd00::\(parts[1].count)"] } ?? [], nodeName: node,
                   nodeLabels: nodeLabels[node], phase: phase)
    }

    static let inventory: [Pod] = [
        pod("default/web-0", ["app": "web", "tier": "frontend"], node: "node-a", ip: "10.0.0.10"),
        pod("default/web-1", ["app": "web", "tier": "frontend"], node: "node-b", ip: "10.0.0.11"),
        pod("default/web-2", ["app": "web", "tier": "frontend"], node: "node-a", ip: "10.0.0.12"),
        pod("default/web-3", ["app": "web", "tier": "frontend"], node: "node-b", phase: "Pending"),
        pod("default/db-0", ["app": "db", "tier": "backend"], node: "node-a", annotations: ["backup": "daily"]),
        pod("default/db-1", ["app": "db", "tier": "backend"], node: "node-a", annotations: ["backup": "weekly"]),
        pod("default/job-0", ["app": "job"], node: "node-b", phase: "Succeeded"),
        pod("default/job-1", ["app": "job"], node: "node-b", phase: "Failed"),
        pod("default/cache-0", ["app": "cache", "tier": "backend"], node: "node-b"),
        pod("default/cache-1", ["app": "cache", "tier": "backend"], node: "node-a"),
        pod("shop/cart-0", ["app": "cart", "tier": "frontend", "version": "v1"], node: "node-a", annotations: ["owner": "team-shop"]),
        pod("shop/cart-1", ["app": "cart", "tier": "frontend", "version": "v1"], node: "node-b", annotations: ["owner": "team-shop"]),
        pod("shop/cart-2", ["app": "cart", "tier": "frontend", "version": "v2"], node: "node-a", annotations: ["owner": "team-shop"]),
        pod("shop/cart-3", ["app": "cart", "tier": "frontend", "version": "v2"], node: "node-b", phase: "Unknown"),
        pod("shop/pay-0", ["app": "pay", "tier": "backend", "pci": "true"], node: "node-a"),
        pod("shop/pay-1", ["app": "pay", "tier": "backend", "pci": "true"], node: "node-b"),
        pod("shop/search-0", ["app": "search", "tier": "backend"], node: "node-a", annotations: ["owner": "team-search"]),
        pod("shop/search-1", ["app": "search", "tier": "backend"], node: "node-b", annotations: ["owner": "team-search"]),
        pod("infra/dns-0", ["app": "dns"], node: "node-b"),
        pod("infra/dns-1", ["app": "dns"], node: "node-b"),
        pod("infra/monitor-0", ["app": "monitor"], node: "node-a"),
        pod("infra/monitor-1", ["app": "monitor"], node: "node-b"),
        pod("infra/monitor-2", ["app": "monitor"], node: "node-a", phase: "Pending"),
        pod("infra/log-0", node: "node-a", phase: "Failed"),
    ]

    /// Ids of the pods `selector` matches, in id order, through `select(all)`
    /// and checked against `matches` so that the two never disagree.
    func matched(_ selector: PodSelectorSpec, in namespace: String = "default") -> [String] {
        let viaMatches = Self.inventory.filter { selector.matches($0, defaultNamespace: namespace) }.map(\.id).sorted()
        var random = SplitMix64(seed: 1)
        let viaSelect = (try? PodSelection.select(from: Self.inventory, selector: selector, mode: .all, value: nil,
                                                  defaultNamespace: namespace, using: &random).get())?.map(\.id) ?? []
        #expect(viaMatches == viaSelect)
        return viaSelect
    }

    func select(_ mode: SelectorMode, _ value: String? = nil, selector: PodSelectorSpec = PodSelectorSpec(),
                namespace: String = "default", seed: UInt64, from pods: [Pod] = inventory) -> Result<[Pod], SelectionError> {
        var random = SplitMix64(seed: seed)
        return PodSelection.select(from: pods, selector: selector, mode: mode, value: value,
                                   defaultNamespace: namespace, using: &random)
    }

    static let defaultIDs = inventory.filter { $0.namespace == "default" }.map(\.id).sorted()

    // MARK: Selector fields

    @Test func inventoryShape() {
        #expect(Self.inventory.count >= 20)
        #expect(Set(Self.inventory.map(\.namespace)).count == 3)
        #expect(Set(Self.inventory.map(\.nodeName)).count == 2)
        #expect(Set(Self.inventory.map(\.id)).count == Self.inventory.count)
    }

    @Test func namespacesDefaultToTheExperimentNamespace() {
        #expect(matched(PodSelectorSpec()) == Self.defaultIDs)
        #expect(matched(PodSelectorSpec(namespaces: [])) == Self.defaultIDs)
        #expect(matched(PodSelectorSpec(), in: "infra") ==
                ["infra/dns-0", "infra/dns-1", "infra/log-0", "infra/monitor-0", "infra/monitor-1", "infra/monitor-2"])
        #expect(matched(PodSelectorSpec(), in: "nowhere") == [])
    }

    @Test func namespacesListed() {
        let both = matched(PodSelectorSpec(namespaces: ["shop", "infra"]))
        #expect(both.count == 14)
        #expect(both.allSatisfy { $0.hasPrefix("shop/") || $0.hasPrefix("infra/") })
        #expect(matched(PodSelectorSpec(namespaces: ["shop"]), in: "infra").count == 8)
    }

    @Test func labelSelectorsAreAllRequired() {
        #expect(matched(PodSelectorSpec(labelSelectors: ["app": "web"])) ==
                ["default/web-0", "default/web-1", "default/web-2", "default/web-3"])
        #expect(matched(PodSelectorSpec(namespaces: ["shop"], labelSelectors: ["tier": "frontend", "version": "v2"])) ==
                ["shop/cart-2", "shop/cart-3"])
        #expect(matched(PodSelectorSpec(labelSelectors: ["app": "web", "tier": "backend"])) == [])
        #expect(matched(PodSelectorSpec(labelSelectors: ["missing": "x"])) == [])
    }

    @Test func expressionIn() {
        let selector = PodSelectorSpec(expressionSelectors: [.init(key: "app", operator: .in, values: ["db", "job"])])
        #expect(matched(selector) == ["default/db-0", "default/db-1", "default/job-0", "default/job-1"])
    }

    @Test func expressionNotInMatchesPodsWithoutTheKey() {
        let selector = PodSelectorSpec(expressionSelectors: [.init(key: "tier", operator: .notIn, values: ["frontend"])])
        // db and cache are backend; job has no tier label at all and still matches.
        #expect(matched(selector) == ["default/cache-0", "default/cache-1", "default/db-0", "default/db-1",
                                      "default/job-0", "default/job-1"])
    }

    @Test func expressionExistsAndDoesNotExist() {
        let exists = PodSelectorSpec(namespaces: ["shop"], expressionSelectors: [.init(key: "pci", operator: .exists)])
        #expect(matched(exists) == ["shop/pay-0", "shop/pay-1"])
        let absent = PodSelectorSpec(expressionSelectors: [.init(key: "tier", operator: .doesNotExist)])
        #expect(matched(absent) == ["default/job-0", "default/job-1"])
    }

    @Test func expressionsAndLabelsCombine() {
        let selector = PodSelectorSpec(namespaces: ["shop"], labelSelectors: ["tier": "frontend"],
                                       expressionSelectors: [.init(key: "version", operator: .notIn, values: ["v2"]),
                                                             .init(key: "app", operator: .exists)])
        #expect(matched(selector) == ["shop/cart-0", "shop/cart-1"])
    }

    @Test func annotationSelectors() {
        #expect(matched(PodSelectorSpec(annotationSelectors: ["backup": "daily"])) == ["default/db-0"])
        #expect(matched(PodSelectorSpec(namespaces: ["shop"], annotationSelectors: ["owner": "team-shop"])) ==
                ["shop/cart-0", "shop/cart-1", "shop/cart-2"])
        // Annotations are not labels, nor the other way round.
        #expect(matched(PodSelectorSpec(annotationSelectors: ["app": "web"])) == [])
        #expect(matched(PodSelectorSpec(labelSelectors: ["backup": "daily"])) == [])
    }

    @Test func fieldSelectorForms() {
        for value in ["web-1", "=web-1", "==web-1"] {
            #expect(matched(PodSelectorSpec(fieldSelectors: ["metadata.name": value])) == ["default/web-1"], "\(value)")
        }
        let notWeb1 = matched(PodSelectorSpec(fieldSelectors: ["metadata.name": "!=web-1"], labelSelectors: ["app": "web"]))
        #expect(notWeb1 == ["default/web-0", "default/web-2", "default/web-3"])
    }

    @Test func fieldSelectorKeys() {
        #expect(matched(PodSelectorSpec(namespaces: ["shop", "infra"], fieldSelectors: ["metadata.namespace": "infra"])).count == 6)
        // ANDed with `namespaces`: a namespace outside the list selects nothing.
        #expect(matched(PodSelectorSpec(fieldSelectors: ["metadata.namespace": "shop"])) == [])
        #expect(matched(PodSelectorSpec(fieldSelectors: ["spec.nodeName": "node-b", "status.phase": "Running"])) ==
                ["default/cache-0", "default/web-1"])
        #expect(matched(PodSelectorSpec(fieldSelectors: ["status.phase": "!=Running"])) ==
                ["default/job-0", "default/job-1", "default/web-3"])
        #expect(matched(PodSelectorSpec(fieldSelectors: ["status.podIP": "10.0.0.12"])) == ["default/web-2"])
        // The primary address only, as Kubernetes' `status.podIP`.
        #expect(matched(PodSelectorSpec(fieldSelectors: ["status.podIP": "fd00::5"])) == [])
    }

    @Test func unknownFieldSelectorMatchesNothing() {
        #expect(matched(PodSelectorSpec(fieldSelectors: ["spec.hostNetwork": "false"])) == [])
        #expect(matched(PodSelectorSpec(fieldSelectors: ["metadata.labels": "!=anything"])) == [])
    }

    @Test func phaseSelectors() {
        #expect(matched(PodSelectorSpec(podPhaseSelectors: ["Pending"])) == ["default/web-3"])
        #expect(matched(PodSelectorSpec(podPhaseSelectors: ["Succeeded", "Failed"])) == ["default/job-0", "default/job-1"])
        #expect(matched(PodSelectorSpec(podPhaseSelectors: ["!Running"])) ==
                ["default/job-0", "default/job-1", "default/web-3"])
        #expect(matched(PodSelectorSpec(podPhaseSelectors: ["!Running", "!Pending"])) == ["default/job-0", "default/job-1"])
        // Positive and negated together: in the positive set, in no negated one.
        #expect(matched(PodSelectorSpec(podPhaseSelectors: ["Pending", "Failed", "!Failed"])) == ["default/web-3"])
        #expect(matched(PodSelectorSpec(podPhaseSelectors: ["Running", "!Running"])) == [])
        #expect(matched(PodSelectorSpec(namespaces: ["shop"], podPhaseSelectors: ["Unknown"])) == ["shop/cart-3"])
    }

    @Test func nodesAndNodeSelectorsAreAUnion() {
        let onA = Self.inventory.filter { $0.namespace == "default" && $0.nodeName == "node-a" }.map(\.id).sorted()
        let onB = Self.inventory.filter { $0.namespace == "default" && $0.nodeName == "node-b" }.map(\.id).sorted()
        #expect(matched(PodSelectorSpec(nodes: ["node-a"])) == onA)
        #expect(matched(PodSelectorSpec(nodeSelectors: ["zone": "west"])) == onB)
        #expect(matched(PodSelectorSpec(nodeSelectors: ["zone": "west", "disk": "ssd"])) == [])
        #expect(matched(PodSelectorSpec(nodes: ["node-a"], nodeSelectors: ["zone": "west"])) == Self.defaultIDs)
        #expect(matched(PodSelectorSpec(nodes: ["node-x"], nodeSelectors: ["disk": "ssd"])) == onA)
        // A node selector that names no node selects nothing (not everything).
        #expect(matched(PodSelectorSpec(nodeSelectors: ["zone": "north"])) == [])
        #expect(matched(PodSelectorSpec(nodes: ["node-x"])) == [])
    }

    @Test func podsOverrideEveryOtherField() {
        let selector = PodSelectorSpec(namespaces: ["default"], pods: ["shop": ["cart-0", "pay-1"], "infra": ["dns-0", "gone"]],
                                       fieldSelectors: ["spec.hostNetwork": "true"], labelSelectors: ["app": "web"],
                                       podPhaseSelectors: ["Failed"])
        #expect(matched(selector) == ["infra/dns-0", "shop/cart-0", "shop/pay-1"])
        // Exact namespace and name: the same name elsewhere does not count.
        #expect(matched(PodSelectorSpec(pods: ["default": ["cart-0"]])) == [])
        // A namespace with no names selects nothing; an empty map is no `pods` at all.
        #expect(matched(PodSelectorSpec(pods: ["shop": []])) == [])
        #expect(matched(PodSelectorSpec(pods: [:], labelSelectors: ["app": "db"])) == ["default/db-0", "default/db-1"])
    }

    @Test func everyFieldIsANDed() {
        let selector = PodSelectorSpec(namespaces: ["default", "shop"], nodes: ["node-a"],
                                       fieldSelectors: ["metadata.name": "!=cart-0"], labelSelectors: ["tier": "frontend"],
                                       annotationSelectors: ["owner": "team-shop"],
                                       expressionSelectors: [.init(key: "version", operator: .in, values: ["v1", "v2"])],
                                       podPhaseSelectors: ["Running"])
        #expect(matched(selector) == ["shop/cart-2"])
    }

    // MARK: Modes

    @Test func allReturnsEveryMatchInIdOrder() throws {
        let pods = try select(.all, seed: 7, from: Self.inventory.reversed()).get()
        #expect(pods.map(\.id) == Self.defaultIDs)
    }

    @Test func oneReturnsOnePod() throws {
        for seed in 0..<50 as Range<UInt64> {
            let pods = try select(.one, seed: seed).get()
            #expect(pods.count == 1)
            #expect(Self.defaultIDs.contains(pods[0].id))
        }
    }

    @Test func oneReachesEveryPod() throws {
        var seen = Set<String>()
        for seed in 0..<300 as Range<UInt64> {
            seen.formUnion(try select(.one, seed: seed).get().map(\.id))
        }
        #expect(seen == Set(Self.defaultIDs))
    }

    @Test func fixedPicksDistinctPods() throws {
        var seen = Set<String>()
        for seed in 0..<100 as Range<UInt64> {
            let ids = try select(.fixed, "3", seed: seed).get().map(\.id)
            #expect(ids.count == 3)
            #expect(Set(ids).count == 3)
            #expect(ids == ids.sorted())
            #expect(Set(ids).isSubset(of: Self.defaultIDs))
            seen.formUnion(ids)
        }
        #expect(seen == Set(Self.defaultIDs))
    }

    @Test func fixedAboveAvailableTakesAll() throws {
        #expect(try select(.fixed, "100", seed: 3).get().map(\.id) == Self.defaultIDs)
        #expect(try select(.fixed, "10", seed: 3).get().count == 10)
    }

    @Test func fixedPercentRoundsUp() throws {
        // 10 pods in `default`.
        for (percent, expected) in [("1", 1), ("10", 1), ("11", 2), ("25", 3), ("50", 5), ("99", 10), ("100", 10)] {
            let ids = try select(.fixedPercent, percent, seed: 11).get().map(\.id)
            #expect(ids.count == expected, "\(percent)%")
            #expect(Set(ids).count == ids.count)
        }
        // 6 pods in `infra`: ceil(6 * 30 / 100) = ceil(1.8) = 2.
        #expect(try select(.fixedPercent, "30", namespace: "infra", seed: 5).get().count == 2)
    }

    @Test func randomMaxPercentIsBoundedAndSometimesZero() {
        var counts = Set<Int>()
        var zeroes = 0
        for seed in 0..<400 as Range<UInt64> {
            switch select(.randomMaxPercent, "30", seed: seed) {
            case .success(let pods):
                // ceil(10 * 30 / 100) = 3 at most.
                #expect((1...3).contains(pods.count))
                #expect(Set(pods.map(\.id)).count == pods.count)
                counts.insert(pods.count)
            case .failure(let error):
                #expect(error.message == "no target selected")
                #expect(error.reason == .noTargetSelected)
                #expect(error.description.hasPrefix("no target selected"))
                zeroes += 1
            }
        }
        #expect(zeroes > 0)
        #expect(counts == [1, 2, 3])
    }

    @Test func noMatchIsNoTargetSelected() {
        let result = select(.all, selector: PodSelectorSpec(labelSelectors: ["app": "nothing"]), seed: 1)
        guard case .failure(let error) = result else {
            Issue.record("expected a failure, got \(result)")
            return
        }
        #expect(error.message == "no target selected")
        #expect(error.description == "no target selected (selector matched 0 of 24 pods)")
        guard case .failure(let empty) = select(.one, seed: 1, from: []) else {
            Issue.record("an empty inventory selected something")
            return
        }
        #expect(empty.description == "no target selected (selector matched 0 of 0 pods)")
    }

    @Test func invalidValueIsReported() {
        for (mode, value) in [(SelectorMode.fixed, nil), (.fixed, "0"), (.fixed, "two"), (.fixedPercent, "0"),
                              (.fixedPercent, "101"), (.randomMaxPercent, ""), (.randomMaxPercent, "-5")] as [(SelectorMode, String?)] {
            guard case .failure(let error) = select(mode, value, seed: 1) else {
                Issue.record("\(mode) \(value ?? "nil") was accepted")
                continue
            }
            guard case .failure(let problem) = Selection.parse(mode: mode, value: value) else { continue }
            #expect(error.reason == .invalidValue)
            #expect(error.message == problem.message)
            #expect(error.field == "value")
        }
    }

    @Test func orderIsByIDText() throws {
        let everywhere = PodSelectorSpec(namespaces: ["default", "shop", "infra"])
        let ids = try select(.all, selector: everywhere, seed: 1, from: Self.inventory.reversed()).get().map(\.id)
        #expect(ids == Self.inventory.map(\.id).sorted())
        // By the whole id, not namespace then name: "a-b/x" sorts before "a/x"
        // because "-" sorts before "/".
        let pods = [Pod(name: "x", namespace: "a"), Pod(name: "x", namespace: "a-b"),
                    Pod(name: "a-very-long-pod-name-1", namespace: "a"), Pod(name: "a-very-long-pod-name", namespace: "a")]
        let ordered = try select(.all, selector: PodSelectorSpec(namespaces: ["a", "a-b"]), seed: 1, from: pods).get().map(\.id)
        #expect(ordered == ["a-b/x", "a/a-very-long-pod-name", "a/a-very-long-pod-name-1", "a/x"])
        #expect(ordered == ordered.sorted())
    }

    @Test func seededSelectionReplays() throws {
        let first = try select(.fixed, "4", seed: 42).get()
        let again = try select(.fixed, "4", seed: 42).get()
        let shuffled = try select(.fixed, "4", seed: 42, from: Self.inventory.reversed()).get()
        #expect(first == again)
        #expect(first == shuffled)
    }

    @Test func duplicateIdsAreTargetedOnce() throws {
        let doubled = Self.inventory + Self.inventory
        #expect(try select(.all, seed: 1, from: doubled).get().map(\.id) == Self.defaultIDs)
        for seed in 0..<20 as Range<UInt64> {
            let ids = try select(.fixed, "9", seed: seed, from: doubled).get().map(\.id)
            #expect(Set(ids).count == 9)
        }
    }

    @Test func targetCountWithGenerator() {
        var random = SplitMix64(seed: 9)
        for _ in 0..<100 {
            #expect((0...5).contains(Selection.randomMaxPercent(50).targetCount(of: 10, using: &random)))
        }
        #expect(Selection.fixedPercent(50).targetCount(of: 3, using: &random) == 2)
    }

    @Test func largeInventoryStaysLinear() throws {
        let many = (0..<5_000).map { index in
            Pod(name: "pod-\(index)", namespace: "ns-\(index % 5)", labels: ["app": "a\(index % 7)"],
                nodeName: "node-\(index % 2)", phase: index % 11 == 0 ? "Pending" : "Running")
        }
        let selector = PodSelectorSpec(namespaces: ["ns-1", "ns-2"], labelSelectors: ["app": "a3"], podPhaseSelectors: ["Running"])
        let expected = many.filter { selector.matches($0, defaultNamespace: "default") }.count
        for seed in 0..<50 as Range<UInt64> {
            let pods = try select(.fixedPercent, "10", selector: selector, seed: seed, from: many).get()
            #expect(pods.count == (expected * 10 + 99) / 100)
        }
    }
}

