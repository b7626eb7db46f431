/// One change a watch reports. A bookmark carries no object, only the
/// resource version the watch has reached, so a re-watch can start there.
public enum WatchEvent<T: KubernetesObject>: Sendable {
    case added(T)
    case modified(T)
    case deleted(T)
    case bookmark(resourceVersion: String)

    /// The resource version the stream has reached with this event.
    public var resourceVersion: String? {
        switch self {
        case .added(let object), .modified(let object), .deleted(let object): object.metadata.resourceVersion
        case .bookmark(let resourceVersion): resourceVersion
        }
    }
}

/// A watch line: `{"type": "ADDED", "object": {...}}`. Decoding looks at
/// `type` first because a BOOKMARK's object holds only metadata and an
/// ERROR's is a `Status`; neither need read as `T`.
struct WatchLine<T: KubernetesObject>: Decodable {
    enum Content {
        case event(WatchEvent<T>)
        case error(StatusObject)
    }

    var content: Content

    enum CodingKeys: String, CodingKey { case type, object }

    private struct Bookmark: Decodable {
        struct Meta: Decodable { var resourceVersion: String? }
        var metadata: Meta?
    }

    init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        let type = try container.decode(String.self, forKey: .type)
        switch type {
        case "ADDED": content = .event(.added(try container.decode(T.self, forKey: .object)))
        case "MODIFIED": content = .event(.modified(try container.decode(T.self, forKey: .object)))
        case "DELETED": content = .event(.deleted(try container.decode(T.self, forKey: .object)))
        case "BOOKMARK":
            let bookmark = try container.decode(Bookmark.self, forKey: .object)
            content = .event(.bookmark(resourceVersion: bookmark.metadata?.resourceVersion ?? ""))
        case "ERROR":
            content = .error(try container.decode(StatusObject.self, forKey: .object))
        default:
            throw DecodingError.dataCorruptedError(
                forKey: .type, in: container, debugDescription: "unknown watch event type \(type)")
        }
    }
}
