import Foundation

/// A Schedule's cron expression, in the syntax Chaos Mesh accepts: robfig/cron v3
/// with an optional leading seconds field, descriptors (`@hourly`, `@every 1h30m`)
/// and an optional `TZ=Area/City ` or `CRON_TZ=Area/City ` prefix.
///
/// The text is kept as written and encoded back unchanged; `next(after:in:)`
/// computes fire times exactly as robfig's `SpecSchedule` / `ConstantDelaySchedule` do.
public struct CronSchedule: Sendable, Hashable, DecodingFallback, CustomStringConvertible, TextValue {
    public let text: String
    /// The zone named by a `TZ=` / `CRON_TZ=` prefix, as written.
    public let timeZoneIdentifier: String?
    let zone: Zone
    let rule: Rule

    /// Where fire times are computed: the caller's zone or the one the prefix names.
    enum Zone: Sendable {
        /// No prefix, or `TZ=Local`: robfig uses the location of the time it is given.
        case caller
        case fixed(TimeZone)
    }

    enum Rule: Sendable {
        case spec(Fields)
        /// `@every`: the duration as written and robfig's delay in whole seconds.
        case every(GoDuration, delaySeconds: Int64)
    }

    /// One bit per allowed value, plus `starBit` when the field was `*` or `?`
    /// without a step above 1 (robfig uses it for the day-of-month / day-of-week rule).
    struct Fields: Sendable, Hashable {
        var second: UInt64
        var minute: UInt64
        var hour: UInt64
        var dayOfMonth: UInt64
        var month: UInt64
        var dayOfWeek: UInt64
    }

    static let starBit: UInt64 = 1 << 63

    public static var decodingFallback: CronSchedule {
        // "@hourly" always parses.
        (try? CronSchedule(parsing: "@hourly"))!
    }

    public var description: String { text }

    /// The duration of an `@every` schedule, as written; nil for other schedules.
    public var interval: GoDuration? {
        if case .every(let duration, _) = rule { return duration }
        return nil
    }

    /// The delay robfig really uses for `@every`: the interval truncated to whole
    /// seconds, at least one second.
    public var effectiveIntervalSeconds: Int64? {
        if case .every(_, let delay) = rule { return delay }
        return nil
    }

    /// True when the expression has a leading seconds field (6 fields).
    public var hasSecondsField: Bool {
        guard case .spec = rule, !isDescriptor else { return false }
        return fieldTexts.count == 6
    }

    /// True for `@yearly`, `@every 5m` and the like.
    public var isDescriptor: Bool { body.hasPrefix("@") }

    // MARK: - Parsing

    /// Parses robfig/cron v3 syntax with `SecondOptional | Minute | Hour | Dom | Month | Dow | Descriptor`.
    public init(parsing text: String) throws(InvalidValue) {
        func failure(_ reason: String) -> InvalidValue {
            InvalidValue("\"\(text)\" is not a cron schedule: \(reason)")
        }
        guard !text.isEmpty else { throw failure("it is empty") }
        self.text = text

        var spec = Substring(text)
        if spec.hasPrefix("TZ=") || spec.hasPrefix("CRON_TZ=") {
            // robfig: the zone runs from the first "=" to the first space.
            guard let space = spec.firstIndex(of: " ") else {
                throw failure("the time zone prefix must be followed by a space and the schedule, e.g. \"TZ=Asia/Shanghai 0 9 * * *\"")
            }
            let equals = spec.firstIndex(of: "=")!
            let name = String(spec[spec.index(after: equals)..<space])
            guard let zone = Self.zone(named: name) else {
                throw failure("unknown time zone \"\(name)\" (expected an IANA name such as \"Europe/Berlin\" or \"UTC\")")
            }
            self.zone = zone
            self.timeZoneIdentifier = name
            spec = Self.trimmingSpace(spec[space...])
        } else {
            self.zone = .caller
            self.timeZoneIdentifier = nil
        }

        if spec.hasPrefix("@") {
            self.rule = try Self.parseDescriptor(spec, failure: failure)
            return
        }

        var fields = spec.split(whereSeparator: { $0.isWhitespace })
        guard fields.count == 5 || fields.count == 6 else {
            var reason = "expected 5 or 6 fields, got \(fields.count)"
            if fields.first?.hasPrefix("@") == true {
                reason += " (a descriptor must be the whole schedule, with no space before it)"
            }
            throw failure(reason)
        }
        if fields.count == 5 { fields.insert("0", at: 0) }
        var bits: [UInt64] = []
        for (field, fieldText) in zip(FieldKind.allCases, fields) {
            do {
                bits.append(try Self.parseField(fieldText, as: field))
            } catch {
                throw failure(error.message)
            }
        }
        self.rule = .spec(Fields(second: bits[0], minute: bits[1], hour: bits[2],
                                 dayOfMonth: bits[3], month: bits[4], dayOfWeek: bits[5]))
    }

    /// The text after any time zone prefix.
    private var body: Substring {
        let spec = Substring(text)
        guard spec.hasPrefix("TZ=") || spec.hasPrefix("CRON_TZ="),
              let space = spec.firstIndex(of: " ") else { return spec }
        return Self.trimmingSpace(spec[space...])
    }

    private var fieldTexts: [Substring] { body.split(whereSeparator: { $0.isWhitespace }) }

    static func trimmingSpace(_ text: Substring) -> Substring {
        var text = text
        while let first = text.first, first.isWhitespace { text.removeFirst() }
        while let last = text.last, last.isWhitespace { text.removeLast() }
        return text
    }

    /// Go's `time.LoadLocation`: "" and "UTC" are UTC, "Local" is the caller's zone,
    /// anything else must be a zoneinfo name (Foundation's extra spellings such as
    /// "GMT+5" or Java's "PST" are not).
    static func zone(named name: String) -> Zone? {
        switch name {
        case "", "UTC": return .fixed(TimeZone(secondsFromGMT: 0)!)
        case "Local": return .caller
        default: break
        }
        if name.contains("..") || name.hasPrefix("/") || name.hasPrefix("\\") { return nil }
        if !TimeZone.knownTimeZoneIdentifiers.contains(name) {
            if javaOnlyIdentifiers.contains(name) { return nil }
            let upper = name.uppercased()
            if (upper.hasPrefix("GMT") || upper.hasPrefix("UTC")) && name.count > 3
                && !["GMT0", "GMT+0", "GMT-0"].contains(name) { return nil }
            guard name.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || "/_-+".contains($0)) }) else {
                return nil
            }
        }
        guard let zone = TimeZone(identifier: name) else { return nil }
        return .fixed(zone)
    }

    /// Three-letter IDs ICU accepts for Java compatibility that are not in tzdata.
    static let javaOnlyIdentifiers: Set<String> = [
        "ACT", "AET", "AGT", "ART", "AST", "BET", "BST", "CAT", "CNT", "CST", "CTT", "EAT", "ECT",
        "IET", "IST", "JST", "MIT", "NET", "NST", "PLT", "PNT", "PRT", "PST", "SST", "VST",
    ]

    static let descriptors = ["@yearly", "@annually", "@monthly", "@weekly", "@daily", "@midnight", "@hourly"]

    static func parseDescriptor(
        _ spec: Substring, failure: (String) -> InvalidValue
    ) throws(InvalidValue) -> Rule {
        let all: UInt64 = starBit
        switch spec {
        case "@yearly", "@annually":
            return .spec(Fields(second: 1, minute: 1, hour: 1, dayOfMonth: 1 << 1, month: 1 << 1,
                                dayOfWeek: bits(0, 6, 1) | all))
        case "@monthly":
            return .spec(Fields(second: 1, minute: 1, hour: 1, dayOfMonth: 1 << 1,
                                month: bits(1, 12, 1) | all, dayOfWeek: bits(0, 6, 1) | all))
        case "@weekly":
            return .spec(Fields(second: 1, minute: 1, hour: 1, dayOfMonth: bits(1, 31, 1) | all,
                                month: bits(1, 12, 1) | all, dayOfWeek: 1))
        case "@daily", "@midnight":
            return .spec(Fields(second: 1, minute: 1, hour: 1, dayOfMonth: bits(1, 31, 1) | all,
                                month: bits(1, 12, 1) | all, dayOfWeek: bits(0, 6, 1) | all))
        case "@hourly":
            return .spec(Fields(second: 1, minute: 1, hour: bits(0, 23, 1) | all,
                                dayOfMonth: bits(1, 31, 1) | all, month: bits(1, 12, 1) | all,
                                dayOfWeek: bits(0, 6, 1) | all))
        default:
            break
        }
        if spec.hasPrefix("@every ") {
            let durationText = String(spec.dropFirst("@every ".count))
            guard let duration = try? GoDuration(parsing: durationText) else {
                var reason = "@every needs a Go duration such as \"5s\" or \"1h30m\", got \"\(durationText)\""
                if trimmingSpace(Substring(durationText)) != Substring(durationText) {
                    reason += " (no extra spaces allowed)"
                }
                throw failure(reason)
            }
            guard duration.nanoseconds > 0 else {
                throw failure("the @every duration \"\(durationText)\" must be positive")
            }
            // robfig: below one second becomes one second, the rest is truncated to seconds.
            let delay = max(duration.nanoseconds, 1_000_000_000) / 1_000_000_000
            return .every(duration, delaySeconds: delay)
        }
        let known = "expected @yearly, @annually, @monthly, @weekly, @daily, @midnight, @hourly or @every <duration>"
        if spec == "@every" || trimmingSpace(spec) == "@every" {
            throw failure("@every needs a duration after one space, e.g. \"@every 5m\"")
        }
        var message = "unknown descriptor \"\(spec)\": \(known)"
        let trimmed = trimmingSpace(spec)
        if trimmed != spec && (descriptors.contains(String(trimmed)) || trimmed.hasPrefix("@every ")) {
            message += " (a descriptor allows no extra spaces)"
        } else if descriptors.contains(spec.lowercased()) {
            message += " (descriptors are lower-case)"
        }
        throw failure(message)
    }

    // MARK: Fields

    enum FieldKind: Int, CaseIterable {
        case second, minute, hour, dayOfMonth, month, dayOfWeek

        var name: String {
            switch self {
            case .second: "second"
            case .minute: "minute"
            case .hour: "hour"
            case .dayOfMonth: "day-of-month"
            case .month: "month"
            case .dayOfWeek: "day-of-week"
            }
        }

        var bounds: ClosedRange<Int> {
            switch self {
            case .second, .minute: 0...59
            case .hour: 0...23
            case .dayOfMonth: 1...31
            case .month: 1...12
            case .dayOfWeek: 0...6
            }
        }

        var names: [String: Int]? {
            switch self {
            case .month:
                ["jan": 1, "feb": 2, "mar": 3, "apr": 4, "may": 5, "jun": 6,
                 "jul": 7, "aug": 8, "sep": 9, "oct": 10, "nov": 11, "dec": 12]
            case .dayOfWeek:
                ["sun": 0, "mon": 1, "tue": 2, "wed": 3, "thu": 4, "fri": 5, "sat": 6]
            default:
                nil
            }
        }

        var rangeDescription: String {
            switch self {
            case .month: "1-12 or JAN-DEC"
            case .dayOfWeek: "0-6 or SUN-SAT"
            default: "\(bounds.lowerBound)-\(bounds.upperBound)"
            }
        }
    }

    /// robfig's `getField`: a comma-separated list of ranges (empty items are skipped).
    static func parseField(_ text: Substring, as field: FieldKind) throws(InvalidValue) -> UInt64 {
        var result: UInt64 = 0
        for item in text.split(separator: ",") {
            result |= try parseRange(item, as: field)
        }
        return result
    }

    /// robfig's `getRange`: `*`, `?`, `n`, `a-b`, each optionally followed by `/step`.
    static func parseRange(_ expression: Substring, as field: FieldKind) throws(InvalidValue) -> UInt64 {
        let name = field.name
        let bounds = field.bounds
        let rangeAndStep = expression.split(separator: "/", omittingEmptySubsequences: false)
        let lowAndHigh = rangeAndStep[0].split(separator: "-", omittingEmptySubsequences: false)
        var start: Int
        var end: Int
        var extra: UInt64 = 0

        if lowAndHigh[0] == "*" || lowAndHigh[0] == "?" {
            // robfig ignores anything after "*-".
            start = bounds.lowerBound
            end = bounds.upperBound
            extra = starBit
        } else {
            start = try value(lowAndHigh[0], in: expression, as: field)
            switch lowAndHigh.count {
            case 1: end = start
            case 2: end = try value(lowAndHigh[1], in: expression, as: field)
            default: throw InvalidValue("\(name) \"\(expression)\" has more than one \"-\"")
            }
        }

        var step = 1
        switch rangeAndStep.count {
        case 1:
            break
        case 2:
            step = try stepValue(rangeAndStep[1], in: expression, as: field)
            // "n/step" means "n-max/step".
            if lowAndHigh.count == 1 { end = bounds.upperBound }
            if step > 1 { extra = 0 }
        default:
            throw InvalidValue("\(name) \"\(expression)\" has more than one \"/\"")
        }

        func outOfRange(_ value: Int) -> InvalidValue {
            let hint = field == .dayOfWeek && value == 7 ? " (Sunday is 0 or SUN)" : ""
            return InvalidValue("\(name) \(value) is out of range \(field.rangeDescription)\(hint)")
        }
        if start < bounds.lowerBound || start > bounds.upperBound { throw outOfRange(start) }
        if end > bounds.upperBound { throw outOfRange(end) }
        if start > end {
            throw InvalidValue("\(name) range \"\(expression)\" starts after it ends (\(start) > \(end))")
        }
        if step == 0 {
            throw InvalidValue("\(name) step in \"\(expression)\" must be a positive number")
        }
        return bits(start, end, step) | extra
    }

    /// A value of a range: a number (Go's `strconv.Atoi`) or, for months and weekdays, a name.
    static func value(_ text: Substring, in expression: Substring, as field: FieldKind) throws(InvalidValue) -> Int {
        if let names = field.names, let named = names[text.lowercased()] { return named }
        if text.isEmpty {
            throw InvalidValue("\(field.name) \"\(expression)\" is missing a number")
        }
        guard let number = atoi(text) else {
            if field.names != nil {
                let kind = field == .month ? "month name (JAN-DEC)" : "weekday name (SUN-SAT)"
                throw InvalidValue("\(field.name) \"\(text)\" is not a number or a \(kind)")
            }
            throw InvalidValue("\(field.name) \"\(text)\" is not a number")
        }
        return number
    }

    static func stepValue(_ text: Substring, in expression: Substring, as field: FieldKind) throws(InvalidValue) -> Int {
        if text.isEmpty {
            throw InvalidValue("\(field.name) \"\(expression)\" is missing a step after \"/\"")
        }
        guard let number = atoi(text) else {
            throw InvalidValue("\(field.name) step \"\(text)\" in \"\(expression)\" is not a number")
        }
        guard number >= 0 else {
            throw InvalidValue("\(field.name) step in \"\(expression)\" must be a positive number")
        }
        return number
    }

    /// Go's `strconv.Atoi`: an optional sign and decimal digits that fit in 64 bits.
    static func atoi(_ text: Substring) -> Int? {
        var digits = text
        var negative = false
        if let sign = digits.first, sign == "+" || sign == "-" {
            negative = sign == "-"
            digits = digits.dropFirst()
        }
        guard !digits.isEmpty, digits.allSatisfy({ $0.isASCII && $0.isNumber }) else { return nil }
        guard let magnitude = Int(digits) else { return nil }
        return negative ? -magnitude : magnitude
    }

    /// robfig's `getBits`: every `step`-th value from `low` through `high`.
    static func bits(_ low: Int, _ high: Int, _ step: Int) -> UInt64 {
        var result: UInt64 = 0
        var value = low
        while value <= high {
            result |= 1 << UInt64(value)
            value += step
        }
        return result
    }

    // MARK: - Fire times

    /// The first fire time strictly after `date`, or nil when there is none within
    /// five years (robfig's limit, e.g. `0 0 30 2 *`).
    ///
    /// Times are computed in the prefix's zone when there is one, else in `timeZone`
    /// (robfig uses the location of the time it is given; Chaos Mesh's controller runs in UTC).
    public func next(after date: Date, in timeZone: TimeZone = TimeZone(identifier: "UTC")!) -> Date? {
        let seconds = date.timeIntervalSince1970
        guard seconds.isFinite, abs(seconds) < 1e14 else { return nil }
        let whole = Int64(seconds.rounded(.down))
        switch rule {
        case .every(_, let delay):
            // ConstantDelaySchedule: t + delay - t.Nanosecond().
            return Date(timeIntervalSince1970: TimeInterval(whole + delay))
        case .spec(let fields):
            let zone: TimeZone
            switch self.zone {
            case .caller: zone = timeZone
            case .fixed(let fixed): zone = fixed
            }
            guard let next = fields.next(after: whole, in: WallClock(zone)) else { return nil }
            return Date(timeIntervalSince1970: TimeInterval(next))
        }
    }

    /// The next `count` fire times after `date` (fewer when the schedule stops firing).
    public func nextTimes(after date: Date, count: Int, in timeZone: TimeZone = TimeZone(identifier: "UTC")!) -> [Date] {
        var result: [Date] = []
        var current = date
        while result.count < count, let next = next(after: current, in: timeZone) {
            result.append(next)
            current = next
        }
        return result
    }

    // MARK: - Codable, Hashable


    public static func == (lhs: CronSchedule, rhs: CronSchedule) -> Bool { lhs.text == rhs.text }
    public func hash(into hasher: inout Hasher) { hasher.combine(text) }
}

// MARK: - robfig's SpecSchedule.Next

extension CronSchedule.Fields {
    private func has(_ set: UInt64, _ value: Int) -> Bool { set & (1 << UInt64(value)) != 0 }

    /// robfig's `dayMatches`: when either day field is `*`/`?` both must match
    /// (so only the other one restricts); otherwise either may match.
    func dayMatches(_ time: WallClock.Fields) -> Bool {
        let domMatch = has(dayOfMonth, time.day)
        let dowMatch = has(dayOfWeek, time.weekday)
        if dayOfMonth & CronSchedule.starBit != 0 || dayOfWeek & CronSchedule.starBit != 0 {
            return domMatch && dowMatch
        }
        return domMatch || dowMatch
    }

    /// A step-by-step port of robfig/cron v3 `SpecSchedule.Next`, on Unix seconds:
    /// skip to a matching month, then day, hour, minute and second, starting over
    /// when a field wraps; give up five years on.
    func next(after start: Int64, in clock: WallClock) -> Int64? {
        let fieldMask: UInt64 = ~CronSchedule.starBit
        // A time field with no value at all (e.g. ",") never matches: robfig searches
        // five years in vain. (An empty day field can still fire through the other one.)
        if [second, minute, hour, month].contains(where: { $0 & fieldMask == 0 }) {
            return nil
        }
        var t = start + 1
        var added = false
        let yearLimit = clock.fields(t).year + 5

        // Robfig's own bound is the year limit; this one only guards against a zone
        // whose rules defeat it.
        var wraps = 0
        wrap: while true {
            var f = clock.fields(t)
            if f.year > yearLimit { return nil }
            wraps += 1
            if wraps > 200_000 { return nil }

            while !has(month, f.month) {
                if !added {
                    added = true
                    t = clock.date(f.year, f.month, 1, 0, 0, 0)
                    f = clock.fields(t)
                }
                let before = t
                t = clock.date(f.year, f.month + 1, f.day, f.hour, f.minute, f.second)
                if t <= before { t = before + 86_400 }   // see the day loop
                f = clock.fields(t)
                if f.month == 1 { continue wrap }
            }

            while !dayMatches(f) {
                if !added {
                    added = true
                    t = clock.date(f.year, f.month, f.day, 0, 0, 0)
                    f = clock.fields(t)
                }
                let before = t
                t = clock.date(f.year, f.month, f.day + 1, f.hour, f.minute, f.second)
                // A skipped local day (Pacific/Apia, 2011-12-30) maps "the next day" back
                // onto this one and robfig loops forever there; step a day of real time instead.
                if t <= before { t = before + 86_400 }
                f = clock.fields(t)
                // Midnight may not exist on a DST day: get back to it.
                if f.hour != 0 {
                    t += f.hour > 12 ? Int64(24 - f.hour) * 3600 : -Int64(f.hour) * 3600
                    f = clock.fields(t)
                }
                if f.day == 1 { continue wrap }
            }

            while !has(hour, f.hour) {
                if !added {
                    added = true
                    t = clock.date(f.year, f.month, f.day, f.hour, 0, 0)
                }
                t += 3600
                f = clock.fields(t)
                if f.hour == 0 { continue wrap }
            }

            while !has(minute, f.minute) {
                if !added {
                    added = true
                    t = CivilCalendar.floorDivide(t, 60) * 60
                }
                t += 60
                f = clock.fields(t)
                if f.minute == 0 { continue wrap }
            }

            while !has(second, f.second) {
                added = true
                t += 1
                f = clock.fields(t)
                if f.second == 0 { continue wrap }
            }

            return t
        }
    }
}

/// Wall-clock arithmetic in one zone with Go's `time` semantics: fields of an
/// instant, and `time.Date` (normalising overflowing fields, and resolving
/// skipped or repeated local times the way Go does).
struct WallClock {
    let zone: TimeZone
    let isUTC: Bool

    init(_ zone: TimeZone) {
        self.zone = zone
        self.isUTC = ["GMT", "UTC", "Etc/UTC", "Etc/GMT"].contains(zone.identifier) && zone.secondsFromGMT() == 0
    }

    struct Fields {
        var year: Int, month: Int, day: Int, hour: Int, minute: Int, second: Int
        /// 0 is Sunday.
        var weekday: Int
    }

    func offset(at unix: Int64) -> Int64 {
        isUTC ? 0 : Int64(zone.secondsFromGMT(for: Date(timeIntervalSince1970: TimeInterval(unix))))
    }

    func fields(_ unix: Int64) -> Fields {
        let local = unix + offset(at: unix)
        let days = CivilCalendar.floorDivide(local, 86_400)
        let secondOfDay = Int(local - days * 86_400)
        let (year, month, day) = CivilCalendar.civil(fromDays: days)
        let weekday = Int(((days % 7) + 7 + 4) % 7)   // 1970-01-01 was a Thursday
        return Fields(year: year, month: month, day: day, hour: secondOfDay / 3600,
                      minute: secondOfDay / 60 % 60, second: secondOfDay % 60, weekday: weekday)
    }

    /// Go's `time.Date(year, month, day, hour, minute, second, 0, zone)`.
    func date(_ year: Int, _ month: Int, _ day: Int, _ hour: Int, _ minute: Int, _ second: Int) -> Int64 {
        let monthIndex = month - 1
        let normalizedYear = year + Int(CivilCalendar.floorDivide(Int64(monthIndex), 12))
        let normalizedMonth = Int(CivilCalendar.floorModulo(Int64(monthIndex), 12)) + 1
        let days = CivilCalendar.days(fromCivil: normalizedYear, normalizedMonth, 1) + Int64(day - 1)
        let local = days * 86_400 + Int64(hour) * 3600 + Int64(minute) * 60 + Int64(second)
        // Go: take the offset in force at `local` read as UTC; if the instant it gives
        // falls outside that offset's period, use the offset at that instant instead.
        return local - offset(at: local - offset(at: local))
    }
}
