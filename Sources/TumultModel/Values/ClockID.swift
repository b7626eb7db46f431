/// A Linux clock a TimeChaos shifts (`clockIds`), by its `<time.h>` name.
/// These are the names Chaos Mesh's controller knows; it rejects any other.
public enum ClockID: String, ChaosEnum {
    case realtime = "CLOCK_REALTIME"
    case monotonic = "CLOCK_MONOTONIC"
    case processCPUTime = "CLOCK_PROCESS_CPUTIME_ID"
    case threadCPUTime = "CLOCK_THREAD_CPUTIME_ID"
    case monotonicRaw = "CLOCK_MONOTONIC_RAW"
    case realtimeCoarse = "CLOCK_REALTIME_COARSE"
    case monotonicCoarse = "CLOCK_MONOTONIC_COARSE"
    case boottime = "CLOCK_BOOTTIME"
    case realtimeAlarm = "CLOCK_REALTIME_ALARM"
    case boottimeAlarm = "CLOCK_BOOTTIME_ALARM"

    /// The kernel's `clockid_t` value (`uapi/linux/time.h`).
    public var kernelID: Int32 { Int32(Self.allCases.firstIndex(of: self)!) }

    /// The bit mask Chaos Mesh's daemon takes: bit `kernelID` per clock.
    public static func mask(_ clocks: [ClockID]) -> UInt64 {
        clocks.reduce(0) { $0 | (1 << UInt64($1.kernelID)) }
    }
}
