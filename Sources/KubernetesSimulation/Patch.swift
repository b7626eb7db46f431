import Foundation

/// The three patch formats kubectl and controllers send, over JSON trees.
enum Patch {
    /// RFC 7386 JSON merge patch: objects merge key by key, `null` deletes,
    /// anything else (lists included) replaces.
    static func merge(_ target: Any?, _ patch: Any) -> Any {
        guard let patchObject = patch as? [String: Any] else { return patch }
        var result = target as? [String: Any] ?? [:]
        for (key, value) in patchObject {
            if value is NSNull {
                result.removeValue(forKey: key)
            } else {
                result[key] = merge(result[key], value)
            }
        }
        return result
    }

    /// Strategic merge patch, simplified: a JSON merge patch except that a
    /// list of objects that all carry a `name` key is merged element by
    /// element by name (the patch strategy of containers, ports, volumes,
    /// conditions keyed by name, ...), `$patch: delete` in such an element
    /// removes it, `$deleteFromPrimitiveList/KEY` removes values from a
    /// list of strings, and the other `$` directives kubectl adds
    /// (`$setElementOrder`, `$retainKeys`) are ignored. The real server
    /// reads each field's patch strategy and merge key from the Go types;
    /// lists of primitives with strategy "merge" (finalizers) are replaced
    /// here, not unioned.
    static func strategicMerge(_ target: Any?, _ patch: Any) -> Any {
        guard let patchObject = patch as? [String: Any] else { return patch }
        if (patchObject["$patch"] as? String) == "replace" {
            return patchObject.filter { !$0.key.hasPrefix("$") }
        }
        var result = target as? [String: Any] ?? [:]
        for (key, value) in patchObject {
            if key.hasPrefix("$deleteFromPrimitiveList/") {
                let field = String(key.dropFirst("$deleteFromPrimitiveList/".count))
                let removed = (value as? [Any] ?? []).map { JSONValue.data($0) }
                if let list = result[field] as? [Any] {
                    result[field] = list.filter { !removed.contains(JSONValue.data($0)) }
                }
                continue
            }
            if key.hasPrefix("$") { continue }
            if value is NSNull {
                result.removeValue(forKey: key)
            } else if let patchList = value as? [Any], let targetList = result[key] as? [Any],
                      let merged = mergeNamedLists(targetList, patchList) {
                result[key] = merged
            } else {
                result[key] = strategicMerge(result[key], value)
            }
        }
        return result
    }

    private static func mergeNamedLists(_ target: [Any], _ patch: [Any]) -> [Any]? {
        let named: ([Any]) -> [[String: Any]]? = { list in
            let objects = list.compactMap { $0 as? [String: Any] }
            guard objects.count == list.count, objects.allSatisfy({ $0["name"] is String }) else { return nil }
            return objects
        }
        guard let patchObjects = named(patch), !patchObjects.isEmpty, var result = named(target) else { return nil }
        for element in patchObjects {
            let name = element["name"] as? String
            let index = result.firstIndex { ($0["name"] as? String) == name }
            if (element["$patch"] as? String) == "delete" {
                if let index { result.remove(at: index) }
            } else if let index {
                result[index] = strategicMerge(result[index], element) as? [String: Any] ?? element
            } else {
                result.append(strategicMerge(nil, element) as? [String: Any] ?? element)
            }
        }
        return result
    }

    /// RFC 6902 JSON patch: add, remove, replace, move, copy and test, with
    /// RFC 6901 pointers. A failed `test` or a missing path fails the whole patch.
    static func json(_ document: Any, operations: Any) throws -> Any {
        guard let operations = operations as? [Any] else {
            throw APIError(code: 400, reason: "BadRequest", message: "a JSON patch must be a list of operations")
        }
        var document = document
        for case let operation as [String: Any] in operations {
            guard let op = operation["op"] as? String, let path = operation["path"] as? String else {
                throw APIError.invalidPatch("an operation needs \"op\" and \"path\"")
            }
            let tokens = try pointer(path)
            switch op {
            case "add":
                guard let value = operation["value"] else { throw APIError.invalidPatch("add needs a value") }
                document = try update(document, tokens[...], .add(value))
            case "remove":
                document = try update(document, tokens[...], .remove)
            case "replace":
                guard let value = operation["value"] else { throw APIError.invalidPatch("replace needs a value") }
                document = try update(document, tokens[...], .replace(value))
            case "move", "copy":
                guard let from = operation["from"] as? String else { throw APIError.invalidPatch("\(op) needs from") }
                let fromTokens = try pointer(from)
                guard let value = value(document, fromTokens[...]) else {
                    throw APIError.invalidPatch("missing value at \(from)")
                }
                if op == "move" { document = try update(document, fromTokens[...], .remove) }
                document = try update(document, tokens[...], .add(value))
            case "test":
                guard JSONValue.equal(value(document, tokens[...]), operation["value"] ?? NSNull()) else {
                    throw APIError(code: 422, reason: "Invalid",
                                   message: "the server rejected our request due to an error in our request: testing value \(path) failed")
                }
            default:
                throw APIError.invalidPatch("unknown op \(op)")
            }
        }
        return document
    }

    private enum Leaf {
        case add(Any)
        case remove
        case replace(Any)
    }

    private static func pointer(_ path: String) throws -> [String] {
        if path.isEmpty { return [] }
        guard path.hasPrefix("/") else { throw APIError.invalidPatch("invalid pointer \(path)") }
        return path.dropFirst().split(separator: "/", omittingEmptySubsequences: false).map {
            $0.replacingOccurrences(of: "~1", with: "/").replacingOccurrences(of: "~0", with: "~")
        }
    }

    private static func value(_ node: Any, _ tokens: ArraySlice<String>) -> Any? {
        guard let token = tokens.first else { return node }
        if let object = node as? [String: Any], let child = object[token] { return value(child, tokens.dropFirst()) }
        if let array = node as? [Any], let index = Int(token), array.indices.contains(index) {
            return value(array[index], tokens.dropFirst())
        }
        return nil
    }

    private static func update(_ node: Any, _ tokens: ArraySlice<String>, _ leaf: Leaf) throws -> Any {
        guard let token = tokens.first else {
            switch leaf {
            case let .add(value), let .replace(value): return value
            case .remove: throw APIError.invalidPatch("cannot remove the root")
            }
        }
        let last = tokens.count == 1
        if var object = node as? [String: Any] {
            if last {
                switch leaf {
                case let .add(value): object[token] = value
                case .remove:
                    guard object.removeValue(forKey: token) != nil else {
                        throw APIError.invalidPatch("unable to remove nonexistent key: \(token)")
                    }
                case let .replace(value):
                    guard object[token] != nil else {
                        throw APIError.invalidPatch("replace operation does not apply: doc is missing key: \(token)")
                    }
                    object[token] = value
                }
                return object
            }
            guard let child = object[token] else { throw APIError.invalidPatch("doc is missing path: \(token)") }
            object[token] = try update(child, tokens.dropFirst(), leaf)
            return object
        }
        if var array = node as? [Any] {
            if last, token == "-", case let .add(value) = leaf {
                array.append(value)
                return array
            }
            guard let index = Int(token), index >= 0 else { throw APIError.invalidPatch("invalid index \(token)") }
            if last {
                switch leaf {
                case let .add(value):
                    guard index <= array.count else { throw APIError.invalidPatch("index out of range: \(index)") }
                    array.insert(value, at: index)
                case .remove:
                    guard index < array.count else { throw APIError.invalidPatch("index out of range: \(index)") }
                    array.remove(at: index)
                case let .replace(value):
                    guard index < array.count else { throw APIError.invalidPatch("index out of range: \(index)") }
                    array[index] = value
                }
                return array
            }
            guard index < array.count else { throw APIError.invalidPatch("index out of range: \(index)") }
            array[index] = try update(array[index], tokens.dropFirst(), leaf)
            return array
        }
        throw APIError.invalidPatch("path component \(token) does not name an object or a list")
    }
}

extension APIError {
    static func invalidPatch(_ message: String) -> APIError {
        APIError(code: 422, reason: "Invalid",
                 message: "the server rejected our request due to an error in our request: \(message)")
    }
}
