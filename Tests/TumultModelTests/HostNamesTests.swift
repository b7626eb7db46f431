import Testing
import TumultModel

/// The checks of names that reach the host, one by one: what `ip netns`,
/// the kernel and the path rules take, and the traversals and control
/// characters they must not.
@Suite struct HostNamesTests {
    @Test(arguments: ["web-1", "tmt-3f9a-a", "a", "ns.with.dots", "…", "x y", String(repeating: "n", count: 255)])
    func plainNetworkNamespaceNamesPass(name: String) {
        #expect(HostNames.problem(withNetworkNamespace: name) == nil)
    }

    @Test(arguments: ["", ".", "..", "a/b", "../../tmp/x/ns", "../../proc/1/ns/net", "/run/netns/web", "web/",
                      "nul\u{0}byte", "tab\tname", "new\nline", "del\u{7F}", "c1\u{85}", String(repeating: "n", count: 256),
                      String(repeating: "é", count: 128)])
    func networkNamespaceNamesThatLeaveTheDirectoryOrCannotBeNamesAreRefused(name: String) {
        let problem = HostNames.problem(withNetworkNamespace: name)
        #expect(problem?.hasSuffix("is not a valid network namespace name (a file name under /var/run/netns)") == true)
    }

    @Test func aRefusedNameIsQuotedWithItsControlCharactersEscaped() {
        #expect(HostNames.problem(withNetworkNamespace: "a/b")
                == #""a/b" is not a valid network namespace name (a file name under /var/run/netns)"#)
        #expect(HostNames.problem(withNetworkNamespace: "bad\nname")?.hasPrefix(#""bad\u{a}name" is not"#) == true)
        #expect(HostNames.problem(withDevice: "e\u{1B}[31m")?.hasPrefix(#""e\u{1b}[31m" is not"#) == true)
    }

    @Test(arguments: ["eth0", "veth-a", "lo", "br-0123456789a", "wlp3s0", "dev.100", "a%d", String(repeating: "x", count: 15)])
    func interfaceNamesTheKernelTakesPass(name: String) {
        #expect(HostNames.problem(withDevice: name) == nil)
    }

    /// `dev_valid_name`: 1-15 bytes, not . or .., no '/', ':' or isspace;
    /// and no control characters.
    @Test(arguments: ["", ".", "..", "eth0/1", "../eth0", "eth0:1", "eth 0", "eth\t0", "eth\n", "eth\u{A0}0",
                      "eth\u{0}", "eth\u{7}", String(repeating: "x", count: 16), "ééééééééé"])
    func interfaceNamesTheKernelRefusesAreRefused(name: String) {
        #expect(HostNames.problem(withDevice: name)
                == "\(Self.quoted(name)) is not a network device name (1-15 characters, no '/', ':' or spaces)")
    }

    @Test func pidsArePositiveAndNeitherInitNorTumult() {
        #expect(HostNames.problem(withPID: 2) == nil)
        #expect(HostNames.problem(withPID: 4_194_304) == nil)
        #expect(HostNames.problem(withPID: 4321, tumult: 1234) == nil)
        #expect(HostNames.problem(withPID: 1) == "pid 1 is init; Tumult does not attack it")
        #expect(HostNames.problem(withPID: 1234, tumult: 1234) == "pid 1234 is Tumult itself; Tumult does not attack it")
        for pid: Int64 in [0, -1, -4321, 4_194_305, Int64(Int32.max) + 1, .min, .max] {
            #expect(HostNames.problem(withPID: pid) == "\(pid) is not a process id (a number from 1 to 4194304)")
        }
    }

    @Test(arguments: ["/", "/tmp", "/tmp/", "/var/lib/tumult", "/mnt/data disk/x", "/a.b/..c/c..", "/.hidden"])
    func absoluteNormalisedPathsPass(path: String) {
        #expect(HostNames.problem(withPath: path) == nil)
    }

    @Test func relativeOrUnnormalisedPathsAreRefusedSayingWhy() {
        #expect(HostNames.problem(withPath: "relative/dir") == #""relative/dir" is not an absolute path (it must start with /)"#)
        #expect(HostNames.problem(withPath: "") == #""" is not an absolute path (it must start with /)"#)
        #expect(HostNames.problem(withPath: "./tmp")?.contains("not an absolute path") == true)
        for path in ["/tmp/../etc", "/..", "/tmp/.", "/./tmp", "/a/../../b", "/a/.."] {
            #expect(HostNames.problem(withPath: path) == "\"\(path)\" is not a normalised path (no . or .. components)")
        }
        for path in ["//", "//tmp", "/tmp//x", "/tmp//"] {
            #expect(HostNames.problem(withPath: path) == "\"\(path)\" is not a normalised path (no //)")
        }
        #expect(HostNames.problem(withPath: "/tmp/a\u{0}b") == #""/tmp/a\u{0}b" contains a NUL"#)
        let long = "/" + String(repeating: "a", count: 4095)
        #expect(HostNames.problem(withPath: long)?.hasSuffix("is longer than 4095 bytes") == true)
    }

    /// Documents and the inventory go through the same rule: a NetworkChaos
    /// `device` with a colon is refused with the same words.
    @Test func documentsShareTheDeviceRule() throws {
        let result = try report("""
            apiVersion: chaos-mesh.org/v1alpha1
            kind: NetworkChaos
            metadata: {name: web, namespace: shop}
            spec:
              action: delay
              mode: all
              selector: {pods: {shop: [web]}}
              delay: {latency: 10ms}
              device: "eth0:1"
            """)
        #expect(result.document == nil)
        #expect(result.diagnostics.errors.map(\.path.description) == ["spec.device"])
        #expect(result.diagnostics.errors.first?.message == HostNames.problem(withDevice: "eth0:1"))
    }

    static func quoted(_ text: String) -> String {
        var out = "\""
        for scalar in text.unicodeScalars {
            if scalar.value < 0x20 || (0x7F...0x9F).contains(scalar.value) {
                out += "\\u{\(String(scalar.value, radix: 16))}"
            } else {
                out.unicodeScalars.append(scalar)
            }
        }
        return out + "\""
    }
}
