import ArgumentParser
import Foundation
import TumultModel

/// The `-f` inputs shared by commands that read documents.
struct InputOptions: ParsableArguments {
    @Option(name: [.customShort("f"), .customLong("filename")],
            help: ArgumentHelp("A file, a directory (read recursively for .yaml, .yml and .json files), or - for standard input.",
                               valueName: "path"))
    var paths: [String] = []

    @Flag(help: "Treat unknown fields as errors instead of warnings.")
    var strict = false

    func validate() throws {
        if paths.isEmpty {
            throw ValidationError("Give at least one input with -f PATH (a file, a directory, or - for standard input).")
        }
    }

    /// One input read into memory, or the reason it could not be read.
    struct Input {
        var name: String
        var text: Result<String, InputError>
    }

    struct InputError: Error, CustomStringConvertible {
        var description: String
    }

    /// Expands directories and reads every input. Unreadable paths are
    /// returned as failures so the caller can report them all.
    func readInputs() -> [Input] {
        var inputs: [Input] = []
        for path in paths {
            if path == "-" {
                let data = FileHandle.standardInput.readDataToEndOfFile()
                inputs.append(Input(name: "<stdin>", text: Self.decodeText(data, name: "<stdin>")))
                continue
            }
            var isDirectory: ObjCBool = false
            guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
                inputs.append(Input(name: path, text: .failure(InputError(description: "no such file or directory"))))
                continue
            }
            if isDirectory.boolValue {
                let files = Self.documentFiles(under: path)
                if files.isEmpty {
                    inputs.append(Input(name: path, text: .failure(InputError(description: "no .yaml, .yml or .json files in this directory"))))
                }
                for file in files { inputs.append(Self.read(file)) }
            } else {
                inputs.append(Self.read(path))
            }
        }
        return inputs
    }

    static func read(_ path: String) -> Input {
        guard let data = FileManager.default.contents(atPath: path) else {
            return Input(name: path, text: .failure(InputError(description: "cannot be read")))
        }
        return Input(name: path, text: decodeText(data, name: path))
    }

    static func decodeText(_ data: Data, name: String) -> Result<String, InputError> {
        guard let text = String(data: data, encoding: .utf8) else {
            return .failure(InputError(description: "is not UTF-8 text"))
        }
        return .success(text)
    }

    static func documentFiles(under directory: String) -> [String] {
        guard let enumerator = FileManager.default.enumerator(atPath: directory) else { return [] }
        var files: [String] = []
        while let relative = enumerator.nextObject() as? String {
            let lowered = relative.lowercased()
            if lowered.hasSuffix(".yaml") || lowered.hasSuffix(".yml") || lowered.hasSuffix(".json") {
                files.append((directory as NSString).appendingPathComponent(relative))
            }
        }
        return files.sorted()
    }
}

/// Writes to standard error.
func printError(_ text: String) {
    FileHandle.standardError.write(Data((text + "\n").utf8))
}
