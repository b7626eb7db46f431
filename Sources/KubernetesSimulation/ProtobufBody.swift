import Foundation

/// Just enough of Kubernetes' protobuf encoding to read what kubectl's
/// typed commands send (`kubectl create namespace|configmap|secret|serviceaccount`
/// POST `application/vnd.kubernetes.protobuf` and do not fall back to
/// JSON on a 415). Reads the `k8s\0` envelope (runtime.Unknown), and from
/// the object: ObjectMeta's name, generateName, namespace, labels,
/// annotations and finalizers, plus a ConfigMap's data/binaryData and a
/// Secret's data/type/stringData. Any other kind is 415, which makes
/// kubectl report the limitation instead of storing half an object.
enum ProtobufBody {
    static func json(from data: Data) throws -> [String: Any] {
        let bytes = [UInt8](data)
        guard bytes.count >= 4, bytes[0..<4] == [0x6b, 0x38, 0x73, 0x00] else { throw unsupported("no k8s envelope") }
        var apiVersion = ""
        var kind = ""
        var raw: [UInt8] = []
        for field in try fields(bytes[4...]) {
            switch field.number {
            case 1:
                for typeField in try fields(field.bytes[...]) {
                    if typeField.number == 1 { apiVersion = string(typeField.bytes) }
                    if typeField.number == 2 { kind = string(typeField.bytes) }
                }
            case 2: raw = field.bytes
            default: break
            }
        }
        var object: [String: Any] = ["apiVersion": apiVersion, "kind": kind]
        let supportedKinds = ["Namespace", "ConfigMap", "Secret", "ServiceAccount"]
        guard apiVersion == "v1", supportedKinds.contains(kind) else {
            throw unsupported("protobuf bodies are read only for \(supportedKinds.joined(separator: ", "))")
        }
        var data: [String: Any] = [:]
        var binaryData: [String: Any] = [:]
        for field in try fields(raw[...]) {
            switch (kind, field.number) {
            case (_, 1): object["metadata"] = try metadata(field.bytes)
            case ("ConfigMap", 2), ("Secret", 4):
                let (key, value) = try entry(field.bytes)
                if kind == "Secret" {
                    var stringData = object["stringData"] as? [String: Any] ?? [:]
                    stringData[key] = string(value)
                    object["stringData"] = stringData
                } else {
                    data[key] = string(value)
                }
            case ("ConfigMap", 3), ("Secret", 2):
                let (key, value) = try entry(field.bytes)
                (kind == "Secret" ? { data[key] = Data(value).base64EncodedString() }
                                  : { binaryData[key] = Data(value).base64EncodedString() })()
            case ("Secret", 3): object["type"] = string(field.bytes)
            default: break
            }
        }
        if !data.isEmpty { object["data"] = data }
        if !binaryData.isEmpty { object["binaryData"] = binaryData }
        if kind == "Secret", let stringData = object.removeValue(forKey: "stringData") as? [String: Any] {
            // The apiserver folds stringData into data on write.
            var merged = object["data"] as? [String: Any] ?? [:]
            for (key, value) in stringData { merged[key] = Data((value as? String ?? "").utf8).base64EncodedString() }
            object["data"] = merged
        }
        return object
    }

    private static func metadata(_ bytes: [UInt8]) throws -> [String: Any] {
        var metadata: [String: Any] = [:]
        var labels: [String: String] = [:]
        var annotations: [String: String] = [:]
        var finalizers: [String] = []
        for field in try fields(bytes[...]) {
            switch field.number {
            case 1: metadata["name"] = string(field.bytes)
            case 2: metadata["generateName"] = string(field.bytes)
            case 3: metadata["namespace"] = string(field.bytes)
            case 11: let (key, value) = try entry(field.bytes); labels[key] = string(value)
            case 12: let (key, value) = try entry(field.bytes); annotations[key] = string(value)
            case 14: finalizers.append(string(field.bytes))
            default: break
            }
        }
        if !labels.isEmpty { metadata["labels"] = labels }
        if !annotations.isEmpty { metadata["annotations"] = annotations }
        if !finalizers.isEmpty { metadata["finalizers"] = finalizers }
        return metadata
    }

    /// A map entry: key (field 1, string) and value (field 2).
    private static func entry(_ bytes: [UInt8]) throws -> (String, [UInt8]) {
        var key = ""
        var value: [UInt8] = []
        for field in try fields(bytes[...]) {
            if field.number == 1 { key = string(field.bytes) }
            if field.number == 2 { value = field.bytes }
        }
        return (key, value)
    }

    private struct Field {
        var number: Int
        /// The payload of a length-delimited field (empty for scalars, which are skipped).
        var bytes: [UInt8]
    }

    private static func fields(_ bytes: ArraySlice<UInt8>) throws -> [Field] {
        var fields: [Field] = []
        var index = bytes.startIndex
        func varint() throws -> UInt64 {
            var result: UInt64 = 0
            var shift: UInt64 = 0
            while true {
                guard index < bytes.endIndex, shift < 64 else { throw unsupported("truncated varint") }
                let byte = bytes[index]
                index += 1
                result |= UInt64(byte & 0x7f) << shift
                if byte & 0x80 == 0 { return result }
                shift += 7
            }
        }
        while index < bytes.endIndex {
            let key = try varint()
            let number = Int(key >> 3)
            switch key & 7 {
            case 0: _ = try varint()
            case 1: index += 8
            case 5: index += 4
            case 2:
                let length = Int(try varint())
                guard length >= 0, index + length <= bytes.endIndex else { throw unsupported("truncated field") }
                fields.append(Field(number: number, bytes: Array(bytes[index..<(index + length)])))
                index += length
            default: throw unsupported("unknown wire type")
            }
        }
        return fields
    }

    private static func string(_ bytes: [UInt8]) -> String {
        String(decoding: bytes, as: UTF8.self)
    }

    private static func unsupported(_ detail: String) -> APIError {
        APIError(code: 415, reason: "UnsupportedMediaType",
                 message: "the body of the request was in an unknown format (\(detail)) - accepted media types include: application/json, application/merge-patch+json, application/json-patch+json, application/strategic-merge-patch+json")
    }
}
