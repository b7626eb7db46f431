// STUB: to be replaced
public struct CronSchedule: Codable, Sendable, Hashable, DecodingFallback {
    public let text: String
    public static var decodingFallback: CronSchedule { CronSchedule(text: "@hourly") }
    init(text: String) { self.text = text }
}
