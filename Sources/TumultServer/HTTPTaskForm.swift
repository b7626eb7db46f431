import Foundation
import TumultModel

/// Chaos Mesh dashboard's HTTP request form (`pkg/curl.RequestForm`): a
/// request that `render-task/http` turns into a Workflow Task running
/// curl, and `parse-task/http` reads back from such a Task. Tumult runs
/// the Task's command on the host, so curl must be installed there (the
/// image Chaos Mesh names is kept in the template but not pulled).
struct HTTPTaskForm: Codable, Sendable, Hashable {
    var name: String
    var url: String
    var method: String
    var body: String
    var header: [String: [String]]
    var followLocation: Bool
    var jsonContent: Bool

    /// The image Chaos Mesh's renderer names.
    static let image = "curlimages/curl:7.78.0"

    enum CodingKeys: String, CodingKey { case name, url, method, body, header, followLocation, jsonContent }

    init(name: String, url: String, method: String = "GET", body: String = "", header: [String: [String]] = [:],
         followLocation: Bool = false, jsonContent: Bool = false) {
        self.name = name
        self.url = url
        self.method = method
        self.body = body
        self.header = header
        self.followLocation = followLocation
        self.jsonContent = jsonContent
    }

    init(from decoder: Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        name = try container.decodeIfPresent(String.self, forKey: .name) ?? ""
        url = try container.decodeIfPresent(String.self, forKey: .url) ?? ""
        method = try container.decodeIfPresent(String.self, forKey: .method) ?? "GET"
        body = try container.decodeIfPresent(String.self, forKey: .body) ?? ""
        header = try container.decodeIfPresent([String: [String]].self, forKey: .header) ?? [:]
        followLocation = try container.decodeIfPresent(Bool.self, forKey: .followLocation) ?? false
        jsonContent = try container.decodeIfPresent(Bool.self, forKey: .jsonContent) ?? false
    }

    /// The curl command: `-i -s`, `-L` to follow redirects, the method,
    /// each header, the body, then the URL. Arguments, never a shell line.
    var command: [String] {
        var command = ["curl", "-i", "-s"]
        if followLocation { command.append("-L") }
        command += ["-X", method.uppercased()]
        var headers = header
        if jsonContent { headers["Content-Type"] = ["application/json"] }
        for key in headers.keys.sorted() {
            for value in headers[key] ?? [] { command += ["-H", "\(key): \(value)"] }
        }
        if !body.isEmpty { command += ["-d", body] }
        command.append(url)
        return command
    }

    /// The Workflow template (`templateType: Task`) that makes this request.
    func renderedTemplate() throws -> Value {
        guard !name.isEmpty else { throw APIError(.badRequest, "BadRequest", "name: required") }
        guard let parsed = URL(string: url), let scheme = parsed.scheme?.lowercased(), ["http", "https"].contains(scheme),
              parsed.host != nil else {
            throw APIError(.badRequest, "BadRequest", "url: \"\(url)\" is not an http or https URL")
        }
        let container = Value.object(Value.Object([
            ("name", .string(name)),
            ("image", .string(Self.image)),
            ("command", .array(command.map(Value.string))),
        ]))
        return .object(Value.Object([
            ("name", .string(name)),
            ("templateType", .string("Task")),
            ("task", .object(Value.Object([("container", container)]))),
        ]))
    }

    /// Reads a rendered template back; throws for a Task that is not one.
    init(parsing template: Value) throws {
        let object = template.objectValue
        guard object?["templateType"]?.stringValue == "Task",
              let container = object?["task"]?.objectValue?["container"]?.objectValue,
              case .array(let items)? = container["command"] else {
            throw APIError(.badRequest, "BadRequest", "not a rendered HTTP task: templateType Task with task.container.command expected")
        }
        let words = items.compactMap(\.stringValue)
        guard words.count == items.count, words.first == "curl", let url = words.last, words.count >= 2 else {
            throw APIError(.badRequest, "BadRequest", "not a rendered HTTP task: the command is not curl ... URL")
        }
        var form = HTTPTaskForm(name: object?["name"]?.stringValue ?? "", url: url)
        var index = 1
        let options = words.dropLast()
        while index < options.count {
            let word = options[options.startIndex + index]
            let next = index + 1 < options.count ? options[options.startIndex + index + 1] : nil
            switch word {
            case "-i", "-s": index += 1
            case "-L": form.followLocation = true; index += 1
            case "-X":
                guard let next else { throw APIError(.badRequest, "BadRequest", "not a rendered HTTP task: -X without a method") }
                form.method = next
                index += 2
            case "-d":
                guard let next else { throw APIError(.badRequest, "BadRequest", "not a rendered HTTP task: -d without a body") }
                form.body = next
                index += 2
            case "-H":
                guard let next, let colon = next.firstIndex(of: ":") else {
                    throw APIError(.badRequest, "BadRequest", "not a rendered HTTP task: -H without a header")
                }
                let key = String(next[..<colon])
                let value = next[next.index(after: colon)...].trimmingCharacters(in: .whitespaces)
                if key == "Content-Type" && value == "application/json" {
                    form.jsonContent = true
                } else {
                    form.header[key, default: []].append(value)
                }
                index += 2
            default:
                throw APIError(.badRequest, "BadRequest", "not a rendered HTTP task: unexpected curl argument \(word)")
            }
        }
        self = form
    }
}
