import Testing
import TumultModel

/// Conditional branch expressions read and evaluate as expr (v1.8.9, which
/// Chaos Mesh uses) reads them, for the part a branch can use.
@Suite struct WorkflowExpressionTests {
    static func holds(_ text: String, exitCode: Int = 0, stdout: String = "") throws -> Bool {
        try WorkflowExpression(parsing: text).evaluate(exitCode: exitCode, stdout: stdout)
    }

    static func parseError(_ text: String) -> String? {
        do throws(InvalidValue) {
            _ = try WorkflowExpression(parsing: text)
            return nil
        } catch {
            return error.message
        }
    }

    static func evaluationError(_ text: String, exitCode: Int = 0, stdout: String = "") -> String? {
        do {
            _ = try holds(text, exitCode: exitCode, stdout: stdout)
            return nil
        } catch let error as InvalidValue {
            return error.message
        } catch {
            return "\(error)"
        }
    }

    @Test func chaosMeshsExamplesAndTests() throws {
        #expect(try Self.holds(#"exitCode == 0 && stdout == "branch-a""#, stdout: "branch-a"))
        #expect(try !Self.holds(#"exitCode == 0 && stdout == "branch-a""#, stdout: "branch-b"))
        #expect(try Self.holds("exitCode != 0", exitCode: 1))
        #expect(try Self.holds("0 == 0"))
        #expect(try !Self.holds("0 != 0"))
        #expect(try Self.holds(#"len(stdout) == 0 && stdout == """#))
        #expect(Self.evaluationError("0") == "\"0\" does not give true or false")
    }

    @Test func literals() throws {
        #expect(try Self.holds("true") && !Self.holds("false"))
        #expect(try Self.holds("nil == nil"))
        #expect(try Self.holds("1_000 == 1000 && 0x1F == 31 && 0o17 == 15 && 0b101 == 5"))
        #expect(try Self.holds("2.5 > 2 && .5 == 0.5 && 1e3 == 1000"))
        #expect(try Self.holds(#"'single' == "single""#))
        #expect(try Self.holds(#"stdout == "a\"b\\c\n\t\u00e9\x41\101""#, stdout: "a\"b\\c\n\té" + "AA"))
        #expect(try Self.holds(#"stdout == 'it\'s'"#, stdout: "it's"))
    }

    @Test func comparisons() throws {
        #expect(try Self.holds("exitCode < 2 && exitCode <= 1 && exitCode > 0 && exitCode >= 1", exitCode: 1))
        #expect(try Self.holds(#"stdout < "b" && stdout >= "a""#, stdout: "a"))
        // Numbers compare by value across int and float; other types are just unequal.
        #expect(try Self.holds("exitCode == 1.0", exitCode: 1))
        #expect(try Self.holds(#"exitCode != "0""#))
        #expect(try !Self.holds(#"exitCode == "0""#))
        #expect(try Self.holds("[1, 2] == [1, 2] && [1] != [2]"))
    }

    @Test func logicAndPrecedence() throws {
        #expect(try Self.holds("true and not false"))
        #expect(try Self.holds("false or !false"))
        #expect(try Self.holds("true || false && false"))  // and binds tighter
        #expect(try !Self.holds("(true || false) && false"))
        #expect(try Self.holds("not (exitCode == 1)"))
        #expect(try Self.holds("1 + 2 * 3 == 7 && (1 + 2) * 3 == 9 && 2 ** 3 ** 2 == 512"))
        #expect(try Self.holds("-exitCode == -4 && 7 / 2 == 3 && 7 % 3 == 1 && 7.0 / 2 == 3.5", exitCode: 4))
        #expect(try Self.holds(#""a" + "b" == "ab""#))
        // `or` stops at a true left side, `and` at a false one, as expr does.
        #expect(try Self.holds("true or stdout > 1"))
        #expect(try !Self.holds("false and stdout > 1"))
    }

    @Test func stringOperators() throws {
        let out = "service ready: 3 replicas"
        #expect(try Self.holds(#"stdout contains "ready""#, stdout: out))
        #expect(try Self.holds(#"stdout startsWith "service" && stdout endsWith "replicas""#, stdout: out))
        #expect(try !Self.holds(#"stdout startsWith "ready""#, stdout: out))
        #expect(try Self.holds(#"stdout matches "^service .*[0-9]+ replicas$""#, stdout: out))
        #expect(try Self.holds(#"stdout matches "ready""#, stdout: out))  // found anywhere, as Go's MatchString
        #expect(try Self.holds(#"not (stdout matches "^fail")"#, stdout: out))
        #expect(try Self.holds(#"len(stdout) == 2"#, stdout: "é"))  // Go counts bytes
    }

    @Test func membership() throws {
        #expect(try Self.holds("exitCode in [0, 2, 4]", exitCode: 2))
        #expect(try Self.holds("exitCode not in [0, 1]", exitCode: 2))
        #expect(try Self.holds(#"stdout in ["ok", "done"]"#, stdout: "done"))
        #expect(try Self.holds("exitCode in 1..3 && exitCode not in 4..9", exitCode: 3))
        #expect(try Self.holds("len(1..5) == 5 && len([]) == 0"))
    }

    @Test func blankAlwaysHolds() throws {
        #expect(try Self.holds(""))
        #expect(try Self.holds("   "))
    }

    @Test func parseErrorsSayWhatAndWhere() {
        #expect(Self.parseError("exitCode = 0") == #""exitCode = 0": column 10: unexpected "=" (compare with "==")"#)
        #expect(Self.parseError("exitcode == 0")
                == #""exitcode == 0": column 1: unknown name "exitcode"; an expression can use exitCode and stdout"#)
        #expect(Self.parseError("exitCode == ") == #""exitCode == ": column 13: the expression ends too early"#)
        #expect(Self.parseError("(exitCode == 0") == #""(exitCode == 0": column 15: missing ")" at the end"#)
        #expect(Self.parseError(#"stdout == "open"#)?.contains("column 11: a string is not closed") == true)
        #expect(Self.parseError("exitCode == 0 exitCode")?.contains(#"column 15: unexpected "exitCode""#) == true)
        #expect(Self.parseError("exitCode & 1")?.contains(#"use "&&""#) == true)
        #expect(Self.parseError(#"stdout matches "(""#)?.contains("is not a regular expression") == true)
        #expect(Self.parseError("upper(stdout)")?.contains("unknown function upper()") == true)
        #expect(Self.parseError("all([1])")?.contains("all() is not supported") == true)
        #expect(Self.parseError("{a: 1} == nil")?.contains(#""{" is not supported"#) == true)
        #expect(Self.parseError("exitCode > 0 ? true : false")?.contains(#""?" is not supported"#) == true)
        #expect(Self.parseError(#"stdout == "\q""#)?.contains("escape") == true)
        #expect(Self.parseError("12abc == 1")?.contains("bad number") == true)
    }

    @Test func evaluationErrorsNameTheTypes() {
        #expect(Self.evaluationError("stdout > 3") == #"">" cannot be applied to string and int"#)
        #expect(Self.evaluationError("exitCode && true") == #""&&" takes true or false, not int"#)
        #expect(Self.evaluationError("not stdout") == #""not" cannot be applied to string"#)
        #expect(Self.evaluationError("exitCode contains 1") == #""contains" cannot be applied to int and int"#)
        #expect(Self.evaluationError("exitCode in stdout") == #""in" cannot be applied to int and string"#)
        #expect(Self.evaluationError("1 / exitCode == 0") == "integer divide by zero")
        // `not` binds tighter than `==`, as in expr.
        #expect(Self.evaluationError("not exitCode == 0") == #""not" cannot be applied to int"#)
    }

    @Test func validationReportsABranchThatDoesNotParseAtItsField() throws {
        let yaml = """
        apiVersion: chaos-mesh.org/v1alpha1
        kind: Workflow
        metadata:
          name: branches
        spec:
          entry: entry
          templates:
            - name: entry
              templateType: Task
              task:
                container:
                  name: main
                  image: busybox
              conditionalBranches:
                - target: done
                  expression: exitCode == 0
                - target: done
                  expression: exitCode = 0
            - name: done
              templateType: Suspend
              deadline: 1s
        """
        let result = try report(yaml)
        #expect(result.document == nil)
        #expect(result.diagnostics.errors.map(\.description) == [
            #"spec.templates[0].conditionalBranches[1].expression: "exitCode = 0": column 10: unexpected "=" (compare with "==")"#,
        ])
    }
}
