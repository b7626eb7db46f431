/// How many of the selected targets an experiment hits (`spec.mode`).
public enum SelectorMode: String, ChaosEnum {
    case one
    case all
    case fixed
    case fixedPercent = "fixed-percent"
    case randomMaxPercent = "random-max-percent"
}

/// `mode` and `value` read together, as the controller uses them.
public enum Selection: Sendable, Hashable {
    /// One target at random.
    case one
    /// Every target.
    case all
    /// `min(count, n)` targets at random.
    case fixed(Int)
    /// `ceil(count * p / 100)` targets at random.
    case fixedPercent(Int)
    /// Draw `p` uniformly from `[0, value]`, then `ceil(count * p / 100)`.
    case randomMaxPercent(Int)

    /// Reads `mode` and `value` with Chaos Mesh's rules: `fixed` takes an
    /// integer of at least 1, the percent modes an integer in (0, 100].
    public static func parse(mode: SelectorMode, value: String?) -> Result<Selection, InvalidValue> {
        switch mode {
        case .one: return .success(.one)
        case .all: return .success(.all)
        case .fixed, .fixedPercent, .randomMaxPercent:
            guard let text = value, !text.isEmpty else {
                return .failure(InvalidValue("is required when mode is \(mode.rawValue)"))
            }
            guard let number = Int(text) else {
                return .failure(InvalidValue("\"\(text)\" is not an integer (mode \(mode.rawValue) takes a whole number)"))
            }
            if mode == .fixed {
                guard number >= 1 else {
                    return .failure(InvalidValue("\"\(text)\" must be at least 1 for mode fixed"))
                }
                return .success(.fixed(number))
            }
            guard number > 0 && number <= 100 else {
                return .failure(InvalidValue("\"\(text)\" is out of range: mode \(mode.rawValue) takes a percentage in (0, 100]"))
            }
            return .success(mode == .fixedPercent ? .fixedPercent(number) : .randomMaxPercent(number))
        }
    }

    /// How many of `count` candidates to take; `randomPercent` is the draw for
    /// `random-max-percent` (kept outside so that selection stays pure).
    public func targetCount(of count: Int, randomPercent: (Int) -> Int = { Int.random(in: 0...$0) }) -> Int {
        func ceilPercent(_ percent: Int) -> Int { (count * percent + 99) / 100 }
        switch self {
        case .one: return min(1, count)
        case .all: return count
        case .fixed(let number): return min(number, count)
        case .fixedPercent(let percent): return ceilPercent(percent)
        case .randomMaxPercent(let maximum): return ceilPercent(randomPercent(maximum))
        }
    }
}
