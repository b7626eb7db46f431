/// A small, fast, seedable generator (Vigna's SplitMix64). Where Tumult
/// draws at random (toxic jitter and slice sizes, a mode's pick of
/// targets) it takes any `RandomNumberGenerator`, so tests pass this one
/// with a fixed seed and a failure replays exactly; in use it is seeded
/// from the system's generator and so unpredictable.
public struct SplitMix64: RandomNumberGenerator, Sendable {
    private var state: UInt64

    public init(seed: UInt64) { state = seed }

    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
