import Foundation
import Testing
import TumultAgent
import TumultAgentHTTP
import TumultHandoff

/// The front program's handoff: the command line as JSON written by hand,
/// the reply in fields and a body, the home resolved as the whole program
/// resolves it, and the route on the agent's local socket.
@Suite struct CommandHandoffTests {
    @Test func theHandWrittenRequestReadsAsJSON() throws {
        let arguments = ["attack", "network", "delay", "--latency", "10ms", "quote \" back\\slash", "tab\tnew\nline\r",
                         "\u{01}\u{1F}", "ünïcødé ✓ 🐒", ""]
        struct Request: Decodable { var arguments: [String] }
        let decoded = try JSONDecoder().decode(Request.self, from: Data(CommandHandoff.requestBody(arguments: arguments)))
        #expect(decoded.arguments == arguments)
        #expect(CommandHandoff.jsonString("\u{01}") == "\"\\u0001\"")
    }

    @Test func theReplySplitsTheErrorFromTheOutput() throws {
        let reply = CommandHandoff.Reply(status: 2, standardOutput: "out\n", standardError: "tumult: bad ✗\n")
        let fields = reply.fields.map { (name: $0.0.lowercased(), value: $0.1) }
        let answer = UnixSocketExchange.Answer(status: 200, fields: fields, body: reply.body)
        #expect(CommandHandoff.Reply(answer: answer) == reply)
        // Not a reply: another status, a missing field, a length past the body.
        #expect(CommandHandoff.Reply(answer: .init(status: 409, fields: fields, body: reply.body)) == nil)
        #expect(CommandHandoff.Reply(answer: .init(status: 200, fields: Array(fields.prefix(1)), body: reply.body)) == nil)
        let long = fields.map { $0.name == "tumult-standard-error-length" ? (name: $0.name, value: "999") : $0 }
        #expect(CommandHandoff.Reply(answer: .init(status: 200, fields: long, body: reply.body)) == nil)
    }

    @Test func theHomeIsTheWholeProgramsHome() {
        let none: (String) -> String? = { _ in nil }
        let env: (String) -> String? = { ["TUMULT_HOME": "/srv/chaos", "HOME": "/home/sre"][$0] }
        #expect(CommandHandoff.home(arguments: ["recover", "--all"], environment: none, directory: "/", isRoot: true) == "/var/lib/tumult")
        #expect(CommandHandoff.home(arguments: ["recover", "--all"], environment: { ["HOME": "/home/sre"][$0] }, directory: "/",
                                    isRoot: false) == "/home/sre/.tumult")
        #expect(CommandHandoff.home(arguments: ["recover", "--all"], environment: env, directory: "/", isRoot: true) == "/srv/chaos")
        #expect(CommandHandoff.home(arguments: ["recover", "--state-dir", "state", "--all"], environment: env, directory: "/work",
                                    isRoot: true) == "/work/state")
        #expect(CommandHandoff.home(arguments: ["recover", "--state-dir=/abs", "x"], environment: env, directory: "/work",
                                    isRoot: true) == "/abs")
        // After `--` it is an argument, not the option.
        #expect(CommandHandoff.home(arguments: ["recover", "--", "--state-dir", "x"], environment: env, directory: "/w",
                                    isRoot: true) == "/srv/chaos")
        #expect(CommandHandoff.socketPath(home: "/srv/chaos/") == "/srv/chaos/agent.sock")
        #expect(CommandHandoff.socketPath(home: "/" + String(repeating: "d", count: 120)) == nil)
    }

    @Test func answersAreReadWithALengthOrInChunks() {
        let sized = Array("HTTP/1.1 200 OK\r\nContent-Length: 5\r\nX-A:  b \r\n\r\nhello".utf8)
        #expect(UnixSocketExchange.complete(Array(sized.dropLast())) == nil)
        let answer = UnixSocketExchange.complete(sized)
        #expect(answer?.status == 200 && answer?.body == Array("hello".utf8) && answer?.field("x-a") == "b")
        let chunked = Array("HTTP/1.1 409 Conflict\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n".utf8)
        #expect(UnixSocketExchange.complete(chunked) == nil)
        #expect(UnixSocketExchange.complete(chunked, atEnd: true)?.body == Array("abcde".utf8))
    }
}

extension LocalAgentSocketTests {
    /// The route the front program calls: the command line in, the reply
    /// (or 409) out; an agent served without a parser has no such route (404).
    @Test func commandLinesAreHandedOverWhole() async throws {
        let home = try home()
        defer { try? FileManager.default.removeItem(at: home) }
        let path = try #require(LocalAgentClient.socketPath(home: home))
        let agent = FakeHostAgent(machine: "here")
        let commands: LocalAgentSocket.CommandLines = { arguments, agent in
            if arguments.first == "decline" { return nil }
            let machine = (try? await agent.status().machine) ?? "?"
            return CommandHandoff.Reply(status: 3, standardOutput: arguments.joined(separator: " ") + " on \(machine)\n",
                                        standardError: "warned\n")
        }
        @Sendable func post(_ arguments: [String]) throws -> UnixSocketExchange.Answer {
            try UnixSocketExchange(path: path, timeout: 5).post(CommandHandoff.target, fields: [("Content-Type", "application/json")],
                                                                body: CommandHandoff.requestBody(arguments: arguments))
        }
        try await serving(agent, at: path, commands: commands) {
            let answer = try await blocking { try post(["attack", "network", "a b"]) }
            let reply = try #require(CommandHandoff.Reply(answer: answer))
            #expect(reply == CommandHandoff.Reply(status: 3, standardOutput: "attack network a b on \(Fixture.status.machine)\n",
                                                  standardError: "warned\n"))
            #expect(try await blocking { try post(["decline"]) }.status == CommandHandoff.declined)
            // Not a command line: refused as the agent refuses any bad body.
            let garbage = try await blocking {
                try UnixSocketExchange(path: path, timeout: 5).post(CommandHandoff.target, body: Array("{\"arguments\":7}".utf8))
            }
            #expect(garbage.status == 400)
        }
        try await serving(agent, at: path) {
            let unserved = try await blocking { try post(["recover", "--all"]) }
            #expect(unserved.status == 404)
        }
    }
}
