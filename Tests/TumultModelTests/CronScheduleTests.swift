import Foundation
import Testing
@testable import TumultModel

/// A UTC instant from "2024-01-31T12:00:00Z" (fractional seconds allowed).
private func instant(_ text: String) -> Date {
    let formatter = ISO8601DateFormatter()
    formatter.formatOptions = text.contains(".")
        ? [.withInternetDateTime, .withFractionalSeconds] : [.withInternetDateTime]
    guard let date = formatter.date(from: text) else { fatalError("bad test date \(text)") }
    return date
}

private func zone(_ identifier: String) -> TimeZone { TimeZone(identifier: identifier)! }

private func parsed(_ text: String) throws -> CronSchedule { try CronSchedule(parsing: text) }

struct CronScheduleTests {
    // MARK: Parsing

    @Test(arguments: [
        "* * * * *", "*/5 * * * *", "0 30 * * * *", "5 * * * *", "0 9-17 * * MON-FRI",
        "0 0 1,15 * *", "0 0 * jan,Jul,DEC *", "0 0 ? * sun", "0 0 1 * ?", "*/15 * * * * *",
        "0 0-30/10 * * * *", "5/15 * * * *", "0 0 12 * * SAT", "0 0 1-31 * MON", "59 23 31 12 6",
        "@yearly", "@annually", "@monthly", "@weekly", "@daily", "@midnight", "@hourly",
        "@every 5s", "@every 1h30m", "@every 500ms", "@every 2h45m10s",
        "TZ=Asia/Shanghai 0 9 * * *", "CRON_TZ=America/New_York 0 0 * * *", "TZ=UTC @daily",
        "CRON_TZ=Europe/Berlin 0 30 2 * * *", "  0   0 * *  *  ", "0 0 * * 0",
    ])
    func validExpressionsParseAndKeepTheirText(text: String) throws {
        let schedule = try parsed(text)
        #expect(schedule.text == text)
        #expect(schedule.description == text)
    }

    @Test(arguments: [
        ("", "it is empty"),
        ("* * *", "expected 5 or 6 fields, got 3"),
        ("* * * * * * *", "expected 5 or 6 fields, got 7"),
        (" @hourly", "expected 5 or 6 fields, got 1 (a descriptor must be the whole schedule"),
        ("60 * * * *", "minute 60 is out of range 0-59"),
        ("61 * * * * *", "second 61 is out of range 0-59"),
        ("* 24 * * *", "hour 24 is out of range 0-23"),
        ("* * 0 * *", "day-of-month 0 is out of range 1-31"),
        ("* * 32 * *", "day-of-month 32 is out of range 1-31"),
        ("* * * 13 *", "month 13 is out of range 1-12 or JAN-DEC"),
        ("* * * * 7", "day-of-week 7 is out of range 0-6 or SUN-SAT (Sunday is 0 or SUN)"),
        ("* * * * 1-7", "day-of-week 7 is out of range 0-6 or SUN-SAT"),
        ("* * * FOO *", "month \"FOO\" is not a number or a month name (JAN-DEC)"),
        ("* * * JAN-FOO *", "month \"FOO\" is not a number or a month name (JAN-DEC)"),
        ("* * * * MONDAY", "day-of-week \"MONDAY\" is not a number or a weekday name (SUN-SAT)"),
        ("MON * * * *", "minute \"MON\" is not a number"),
        ("x * * * *", "minute \"x\" is not a number"),
        ("-5 * * * *", "minute \"-5\" is missing a number"),
        ("5- * * * *", "minute \"5-\" is missing a number"),
        ("30-10 * * * *", "minute range \"30-10\" starts after it ends (30 > 10)"),
        ("0 0 * * 6-SUN", "day-of-week range \"6-SUN\" starts after it ends (6 > 0)"),
        ("*/0 * * * *", "minute step in \"*/0\" must be a positive number"),
        ("*/ * * * *", "minute \"*/\" is missing a step after \"/\""),
        ("*/x * * * *", "minute step \"x\" in \"*/x\" is not a number"),
        ("1-2-3 * * * *", "minute \"1-2-3\" has more than one \"-\""),
        ("1/2/3 * * * *", "minute \"1/2/3\" has more than one \"/\""),
        ("@foo", "unknown descriptor \"@foo\": expected @yearly, @annually, @monthly, @weekly, @daily"),
        ("@Hourly", "(descriptors are lower-case)"),
        ("@hourly ", "(a descriptor allows no extra spaces)"),
        ("@every", "@every needs a duration after one space"),
        ("@every 5", "@every needs a Go duration such as \"5s\" or \"1h30m\", got \"5\""),
        ("@every  5s", "got \" 5s\" (no extra spaces allowed)"),
        ("@every 0s", "the @every duration \"0s\" must be positive"),
        ("@every -5s", "the @every duration \"-5s\" must be positive"),
        ("TZ=Mars/Base * * * * *", "unknown time zone \"Mars/Base\""),
        ("TZ=PST 0 * * * *", "unknown time zone \"PST\""),
        ("TZ=GMT+5 0 * * * *", "unknown time zone \"GMT+5\""),
        ("TZ=UTC", "the time zone prefix must be followed by a space and the schedule"),
        ("TZ=UTC ", "expected 5 or 6 fields, got 0"),
    ])
    func invalidExpressionsSayWhatIsWrong(text: String, problem: String) {
        do {
            _ = try CronSchedule(parsing: text)
            Issue.record("\"\(text)\" should not parse")
        } catch {
            #expect(error.message.hasPrefix("\"\(text)\" is not a cron schedule: "), "\(error.message)")
            #expect(error.message.contains(problem), "\(error.message)")
        }
    }

    /// Quirks of robfig/cron that Chaos Mesh therefore accepts.
    @Test(arguments: ["? * * * *", "*-5 * * * *", "+5 * * * *", "*/100 * * * *", "1,,2 * * * *", "0 0 , * MON"])
    func robfigQuirksAreAccepted(text: String) throws {
        _ = try parsed(text)
    }

    @Test func properties() throws {
        let every = try parsed("@every 1h30m")
        #expect(every.interval == (try GoDuration(parsing: "1h30m")))
        #expect(every.effectiveIntervalSeconds == 5400)
        #expect(every.isDescriptor)
        #expect(every.timeZoneIdentifier == nil)
        #expect(try parsed("@every 1.9s").effectiveIntervalSeconds == 1)
        #expect(try parsed("@every 200ms").effectiveIntervalSeconds == 1)

        let zoned = try parsed("CRON_TZ=Asia/Shanghai 0 0 9 * * *")
        #expect(zoned.timeZoneIdentifier == "Asia/Shanghai")
        #expect(zoned.interval == nil)
        #expect(zoned.hasSecondsField)
        #expect(!zoned.isDescriptor)
        #expect(!(try parsed("0 9 * * *")).hasSecondsField)
        #expect(try parsed("TZ=UTC @hourly").isDescriptor)
    }

    // MARK: Codable and identity

    @Test func encodesBackTheTextUnchanged() throws {
        let text = "TZ=Europe/Berlin  0 9 * * mon-FRI"
        let schedule = try parsed(text)
        let data = try JSONEncoder().encode([schedule])
        #expect(String(decoding: data, as: UTF8.self) == "[\"TZ=Europe\\/Berlin  0 9 * * mon-FRI\"]")
        let decoded = try JSONDecoder().decode([CronSchedule].self, from: data)
        #expect(decoded == [schedule])
        #expect(decoded[0].text == text)
    }

    @Test func decodingReportsTheProblemAndFallsBack() {
        var diagnostics = Diagnostics()
        let result = ValueDecoder().decode(CronSchedule.self, from: .string("* * * * 7"), diagnostics: &diagnostics)
        #expect(result == CronSchedule.decodingFallback)
        #expect(diagnostics.errors.count == 1)
        #expect(diagnostics.errors.first?.message.contains("day-of-week 7 is out of range") == true)

        var numbers = Diagnostics()
        _ = ValueDecoder().decode(CronSchedule.self, from: .integer(5), diagnostics: &numbers)
        #expect(numbers.hasErrors)
    }

    @Test func fallbackIsHourly() {
        #expect(CronSchedule.decodingFallback.text == "@hourly")
        #expect(CronSchedule.decodingFallback.next(after: instant("2024-01-01T10:30:00Z")) == instant("2024-01-01T11:00:00Z"))
    }

    @Test func equalityIsByText() throws {
        #expect(try parsed("0 * * * *") == parsed("0 * * * *"))
        #expect(try parsed("0 * * * *") != parsed("0 0 * * * *"))
        #expect(Set([try parsed("@daily"), try parsed("@daily"), try parsed("@midnight")]).count == 2)
    }

    // MARK: Fire times (UTC); expected values checked against robfig/cron v3.0.1

    @Test(arguments: [
        // minutes and seconds
        ("* * * * *", "2024-01-01T00:00:00Z", "2024-01-01T00:01:00Z"),
        ("* * * * *", "2024-01-01T00:00:59.5Z", "2024-01-01T00:01:00Z"),
        ("5 * * * *", "2024-01-01T10:05:00Z", "2024-01-01T11:05:00Z"),
        ("5 * * * *", "2024-01-01T10:04:59Z", "2024-01-01T10:05:00Z"),
        ("30 * * * * *", "2024-01-01T00:00:30Z", "2024-01-01T00:01:30Z"),
        ("*/15 * * * * *", "2024-01-01T00:00:07Z", "2024-01-01T00:00:15Z"),
        ("0 30 23 * * *", "2024-12-31T23:30:00Z", "2025-01-01T23:30:00Z"),
        // steps, ranges, lists
        ("*/20 * * * *", "2024-01-01T00:41:00Z", "2024-01-01T01:00:00Z"),
        ("5/20 * * * *", "2024-01-01T00:06:00Z", "2024-01-01T00:25:00Z"),
        ("*/100 * * * *", "2024-01-01T00:00:30Z", "2024-01-01T01:00:00Z"),
        ("0 9-17/4 * * *", "2024-01-01T10:00:00Z", "2024-01-01T13:00:00Z"),
        ("0 9-17/4 * * *", "2024-01-01T17:00:00Z", "2024-01-02T09:00:00Z"),
        ("0 0 1,15 * *", "2024-01-02T00:00:00Z", "2024-01-15T00:00:00Z"),
        ("0 0 1,15 * *", "2024-01-15T00:00:00Z", "2024-02-01T00:00:00Z"),
        ("0 0 31 * *", "2024-04-01T00:00:00Z", "2024-05-31T00:00:00Z"),
        // names
        ("0 0 1 jul,DEC *", "2024-02-01T00:00:00Z", "2024-07-01T00:00:00Z"),
        ("0 0 1 Jul,dec *", "2024-07-01T00:00:00Z", "2024-12-01T00:00:00Z"),
        ("0 12 * * mon-FRI", "2024-01-06T00:00:00Z", "2024-01-08T12:00:00Z"),
        ("0 0 ? * SUN", "2024-01-01T00:00:00Z", "2024-01-07T00:00:00Z"),
        ("0 0 * * 0", "2024-01-01T00:00:00Z", "2024-01-07T00:00:00Z"),
        // day-of-month OR day-of-week when both are restricted
        ("0 0 13 * FRI", "2024-01-01T00:00:00Z", "2024-01-05T00:00:00Z"),
        ("0 0 13 * FRI", "2024-09-12T01:00:00Z", "2024-09-13T00:00:00Z"),
        ("0 0 13 * FRI", "2024-01-05T00:00:00Z", "2024-01-12T00:00:00Z"),
        ("0 0 */10 * MON", "2024-01-01T00:00:00Z", "2024-01-08T00:00:00Z"),
        ("0 0 */10 * MON", "2024-01-08T00:00:00Z", "2024-01-11T00:00:00Z"),
        ("0 0 1-31 * MON", "2024-01-01T00:00:00Z", "2024-01-02T00:00:00Z"),
        ("0 0 , * MON", "2024-01-02T00:00:00Z", "2024-01-08T00:00:00Z"),
        // ... but only the restricted one when the other is * or ?
        ("0 0 13 * *", "2024-01-01T00:00:00Z", "2024-01-13T00:00:00Z"),
        ("0 0 13 * ?", "2024-01-01T00:00:00Z", "2024-01-13T00:00:00Z"),
        ("0 0 * * FRI", "2024-01-01T00:00:00Z", "2024-01-05T00:00:00Z"),
        ("0 0 ? * FRI", "2024-01-01T00:00:00Z", "2024-01-05T00:00:00Z"),
        // descriptors
        ("@yearly", "2024-06-01T00:00:00Z", "2025-01-01T00:00:00Z"),
        ("@annually", "2024-12-31T23:59:59Z", "2025-01-01T00:00:00Z"),
        ("@monthly", "2024-06-01T00:00:00Z", "2024-07-01T00:00:00Z"),
        ("@weekly", "2024-01-01T00:00:00Z", "2024-01-07T00:00:00Z"),
        ("@daily", "2024-06-01T00:00:00Z", "2024-06-02T00:00:00Z"),
        ("@midnight", "2024-06-01T23:00:00Z", "2024-06-02T00:00:00Z"),
        ("@hourly", "2024-06-01T10:30:00Z", "2024-06-01T11:00:00Z"),
        // leap years
        ("0 0 29 2 *", "2024-03-01T00:00:00Z", "2028-02-29T00:00:00Z"),
        ("0 0 29 2 *", "2024-01-01T00:00:00Z", "2024-02-29T00:00:00Z"),
        ("0 0 29 2 *", "2099-03-01T00:00:00Z", "2104-02-29T00:00:00Z"),
    ])
    func nextFireTime(text: String, after start: String, expected: String) throws {
        #expect(try parsed(text).next(after: instant(start)) == instant(expected))
    }

    @Test func consecutiveFireTimes() throws {
        let times = try parsed("0 */15 9 * * MON").nextTimes(after: instant("2024-01-01T09:20:00Z"), count: 4)
        #expect(times == [
            instant("2024-01-01T09:30:00Z"), instant("2024-01-01T09:45:00Z"),
            instant("2024-01-08T09:00:00Z"), instant("2024-01-08T09:15:00Z"),
        ])
        // 2100 is not a leap year, and robfig gives up after five years: no fire time after 2096.
        let leap = try parsed("0 0 29 2 *").nextTimes(after: instant("2095-01-01T00:00:00Z"), count: 2)
        #expect(leap == [instant("2096-02-29T00:00:00Z")])
    }

    @Test(arguments: ["0 0 30 2 *", "0 0 31 4,6,9,11 *", "0 0 31 2 ?", "* * 30 FEB *", "0 , * * *", "0 0 , * *"])
    func impossibleSchedulesNeverFire(text: String) throws {
        let schedule = try parsed(text)
        let clock = ContinuousClock()
        let elapsed = clock.measure {
            #expect(schedule.next(after: instant("2024-01-01T00:00:00Z")) == nil)
            #expect(schedule.nextTimes(after: instant("2024-01-01T00:00:00Z"), count: 3).isEmpty)
        }
        #expect(elapsed < .seconds(2))
    }

    @Test func searchIsFastForRareSchedules() throws {
        let schedule = try parsed("59 59 23 29 2 *")
        let clock = ContinuousClock()
        var date: Date? = instant("2001-01-01T00:00:00Z")
        let elapsed = clock.measure {
            for _ in 0..<20 { date = date.flatMap { schedule.next(after: $0) } }
        }
        #expect(date == instant("2080-02-29T23:59:59Z"))
        #expect(elapsed < .seconds(2))
    }

    // MARK: @every

    @Test(arguments: [
        ("@every 5s", 1000.25, 1005.0),
        ("@every 5s", 1000.0, 1005.0),
        ("@every 1h30m", 0.0, 5400.0),
        ("@every 500ms", 10.9, 11.0),
        ("@every 1.9s", 10.0, 11.0),
        ("@every 90s", 5.0, 95.0),
    ])
    func everyAddsTheDelayToTheWholeSecond(text: String, start: Double, expected: Double) throws {
        let schedule = try parsed(text)
        #expect(schedule.next(after: Date(timeIntervalSince1970: start)) == Date(timeIntervalSince1970: expected))
        // The zone makes no difference.
        #expect(schedule.next(after: Date(timeIntervalSince1970: start), in: zone("Asia/Kolkata"))
            == Date(timeIntervalSince1970: expected))
    }

    @Test func everyKeepsItsRhythm() throws {
        let times = try parsed("@every 90s").nextTimes(after: Date(timeIntervalSince1970: 5), count: 3)
        #expect(times.map(\.timeIntervalSince1970) == [95, 185, 275])
    }

    // MARK: Time zones

    @Test(arguments: [
        ("TZ=Asia/Shanghai 0 9 * * *", "2024-01-01T00:00:00Z", "2024-01-01T01:00:00Z"),
        ("CRON_TZ=America/New_York 0 0 * * *", "2024-07-01T00:00:00Z", "2024-07-01T04:00:00Z"),
        ("CRON_TZ=America/New_York 0 0 * * *", "2024-01-01T00:00:00Z", "2024-01-01T05:00:00Z"),
        ("TZ=Asia/Kolkata @daily", "2024-01-01T00:00:00Z", "2024-01-01T18:30:00Z"),
        ("TZ=UTC 0 0 * * *", "2024-01-01T00:00:00Z", "2024-01-02T00:00:00Z"),
        ("TZ= 0 0 * * *", "2024-01-01T00:00:00Z", "2024-01-02T00:00:00Z"),
        ("TZ=Australia/Sydney 0 0 1 * *", "2024-01-01T00:00:00Z", "2024-01-31T13:00:00Z"),
    ])
    func prefixZoneWinsOverTheCallersZone(text: String, after start: String, expected: String) throws {
        let schedule = try parsed(text)
        #expect(schedule.next(after: instant(start)) == instant(expected))
        #expect(schedule.next(after: instant(start), in: zone("Europe/Berlin")) == instant(expected))
    }

    @Test func withoutPrefixTheCallersZoneIsUsed() throws {
        let schedule = try parsed("0 0 * * *")
        let start = instant("2024-01-01T00:00:00Z")
        #expect(schedule.next(after: start) == instant("2024-01-02T00:00:00Z"))
        #expect(schedule.next(after: start, in: zone("Asia/Kolkata")) == instant("2024-01-01T18:30:00Z"))
        // TZ=Local means the caller's zone too.
        #expect(try parsed("TZ=Local 0 0 * * *").next(after: start, in: zone("Asia/Kolkata"))
            == instant("2024-01-01T18:30:00Z"))
    }

    /// Daylight saving time, as robfig handles it.
    @Test(arguments: [
        // 02:30 does not exist on 2024-03-10 in New York: that day is skipped.
        ("30 2 * * *", "America/New_York", "2024-03-09T12:00:00Z", "2024-03-11T06:30:00Z"),
        // 2024-11-03 has two 01:xx hours; 02:30 exists once.
        ("30 2 * * *", "America/New_York", "2024-11-02T12:00:00Z", "2024-11-03T07:30:00Z"),
        // Sao Paulo skipped midnight on 2018-11-04: the day starts at 01:00.
        ("0 0 * * *", "America/Sao_Paulo", "2018-11-03T12:00:00Z", "2018-11-05T02:00:00Z"),
        ("0 * * * *", "America/New_York", "2024-03-10T06:30:00Z", "2024-03-10T07:00:00Z"),
        // Samoa skipped 2011-12-30 (robfig loops forever there; next() does not).
        ("0 0 * * SUN", "Pacific/Apia", "2011-12-29T08:14:03Z", "2011-12-31T10:00:00Z"),
    ])
    func daylightSavingTime(text: String, zone name: String, after start: String, expected: String) throws {
        #expect(try parsed(text).next(after: instant(start), in: zone(name)) == instant(expected))
    }
}
