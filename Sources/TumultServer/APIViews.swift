import Foundation
import TumultController
import TumultModel

/// The API's JSON for records, byte for byte what the routes answer, for
/// clients that read the records in process (`tumult get --kubeconfig`
/// reads a cluster's objects directly) and print them as they print the
/// server's answers.
public enum APIViews {
    /// A `GET /api/experiments` item.
    public static func experiment(_ record: ExperimentRecord, at now: Date) -> Data {
        encoded(ExperimentItem(record, at: now))
    }

    /// `GET /api/experiments/:uid`; with `result`, a `POST`'s answer.
    public static func experimentDetail(_ record: ExperimentRecord, at now: Date, result: String? = nil) -> Data {
        guard let result else { return encoded(ExperimentDetail(record, at: now)) }
        return encoded(AppliedObject(experiment: ExperimentDetail(record, at: now), schedule: nil, result: result))
    }

    /// A `GET /api/schedules` item.
    public static func schedule(_ record: ScheduleRecord) -> Data {
        encoded(ScheduleItem(record))
    }

    /// `GET /api/schedules/:uid`; with `result`, a `POST`'s answer.
    public static func scheduleDetail(_ record: ScheduleRecord, result: String? = nil) -> Data {
        guard let result else { return encoded(ScheduleDetail(record)) }
        return encoded(AppliedObject(experiment: nil, schedule: ScheduleDetail(record), result: result))
    }

    /// `GET /api/events`.
    public static func events(_ events: [EventRecord]) -> Data {
        encoded(events.map(EventItem.init))
    }

    /// `GET /api/pods`.
    public static func pods(_ pods: [Pod]) -> Data {
        encoded(pods)
    }

    static func encoded(_ value: some Encodable) -> Data {
        (try? JSONResponse.encoder.encode(value)) ?? Data("{}".utf8)
    }
}
