import Foundation
import TumultSystem

/// A target for IO and time faults, made for one test: a Python probe in a
/// network namespace of its own (`tmt-<random>`, a pod of the test's
/// inventory) and a private mount namespace with a tmpfs mounted at
/// `volume`, taking commands through files in `control`. Remove it with
/// `tearDown()` in `defer`.
final class ProbeTarget {
    let tag = String(UInt32.random(in: 0..<UInt32.max), radix: 36)
    let netns: String
    let directory: String
    /// The tmpfs volume, mounted only in the probe's mount namespace.
    let volume: String
    let control: String
    let pid: Int32
    private var sequence = 0
    private let runner = ProcessCommandRunner()

    init() throws {
        netns = "tmt-\(tag)"
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("tmt-probe-\(tag)").path
        volume = directory + "/vol"
        control = directory + "/control"
        try FileManager.default.createDirectory(atPath: volume, withIntermediateDirectories: true)
        try FileManager.default.createDirectory(atPath: control, withIntermediateDirectories: true)
        try Self.source.write(toFile: directory + "/probe.py", atomically: true, encoding: .utf8)
        _ = try runner.check(Command(["ip", "netns", "add", netns]), doing: "adding the probe's namespace")
        do {
            let script = "mount -t tmpfs -o size=64m tmpfs \(volume) && exec python3 -u \(directory)/probe.py \(control)"
            let child = try Spawn.start(["ip", "netns", "exec", netns, "unshare", "--mount", "--propagation", "private",
                                         "sh", "-c", script], captureOutput: false)
            pid = child.pid
            // Ready once it answers.
            let deadline = Date().addingTimeInterval(10)
            while !FileManager.default.fileExists(atPath: control + "/ready") {
                guard Date() < deadline, Processes.isAlive(child.pid) else {
                    throw SystemError.processFailed("the probe did not start")
                }
                usleep(10_000)
            }
        } catch {
            _ = try? runner.run(Command(["ip", "netns", "del", netns]))
            try? FileManager.default.removeItem(atPath: directory)
            throw error
        }
    }

    /// Sends one command and waits for its answer.
    func ask(_ command: [String: Any], timeout: TimeInterval = 120) throws -> [String: Any] {
        sequence += 1
        let name = "cmd-\(sequence).json"
        let data = try JSONSerialization.data(withJSONObject: command)
        try data.write(to: URL(fileURLWithPath: control + "/." + name))
        rename(control + "/." + name, control + "/" + name)
        let answer = control + "/out-\(sequence).json"
        let deadline = Date().addingTimeInterval(timeout)
        while !FileManager.default.fileExists(atPath: answer) {
            guard Date() < deadline, Processes.isAlive(pid) else {
                throw SystemError.processFailed("the probe did not answer \(command)")
            }
            usleep(2_000)
        }
        let object = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: answer)))
        guard let dictionary = object as? [String: Any] else { throw SystemError.processFailed("bad answer") }
        if let failure = dictionary["exception"] as? String { throw SystemError.processFailed("probe: \(failure)") }
        return dictionary
    }

    /// Each write's duration in milliseconds and its errno (0: it worked).
    func writes(_ file: String, count: Int, size: Int = 4096) throws -> (milliseconds: [Double], errors: [Int]) {
        let answer = try ask(["op": "writes", "path": volume + "/" + file, "count": count, "size": size])
        return (answer["ms"] as? [Double] ?? [], answer["errors"] as? [Int] ?? [])
    }

    /// The probe's mount table (its /proc/PID/mountinfo, mount ids left out).
    var mountTable: [String] {
        let text = (try? String(contentsOfFile: "/proc/\(pid)/mountinfo", encoding: .utf8)) ?? ""
        return text.split(separator: "\n").map { $0.split(separator: " ").dropFirst(2).joined(separator: " ") }.sorted()
    }

    func tearDown() {
        // The probe and every child it left (all in its network namespace).
        let others = (try? runner.run(Command(["ip", "netns", "pids", netns])))?.stdout
            .split(separator: "\n").compactMap { Int32($0) } ?? []
        for other in others where other != pid { kill(other, SIGKILL) }
        kill(pid, SIGKILL)
        Spawn.wait(for: pid)
        _ = try? runner.run(Command(["ip", "netns", "del", netns]))
        try? FileManager.default.removeItem(atPath: directory)
    }

    /// The probe: polls `control` for `cmd-N.json`, answers in `out-N.json`.
    static let source = #"""
import ctypes, json, os, sys, time
control = sys.argv[1]
libc = ctypes.CDLL("libc.so.6", use_errno=True)
libc.time.restype = ctypes.c_long
kept = {}

def clocks():
    return {"realtime": time.time(), "time": libc.time(None), "monotonic": time.monotonic(), "pid": os.getpid()}

def run(cmd):
    op = cmd["op"]
    if op == "writes":
        ms, errors = [], []
        fd = os.open(cmd["path"], os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
        data = b"x" * cmd.get("size", 4096)
        for _ in range(cmd["count"]):
            start = time.perf_counter()
            try:
                os.write(fd, data)
                errors.append(0)
            except OSError as e:
                errors.append(e.errno)
            ms.append((time.perf_counter() - start) * 1000)
        os.close(fd)
        return {"ms": ms, "errors": errors}
    if op == "reads":
        ms, errors, data = [], [], []
        fd = os.open(cmd["path"], os.O_RDONLY)
        for _ in range(cmd["count"]):
            start = time.perf_counter()
            try:
                data.append(os.pread(fd, cmd.get("size", 4096), 0).hex())
                errors.append(0)
            except OSError as e:
                errors.append(e.errno)
                data.append("")
            ms.append((time.perf_counter() - start) * 1000)
        os.close(fd)
        return {"ms": ms, "errors": errors, "data": data}
    if op == "create":
        with open(cmd["path"], "wb") as f:
            f.write(bytes.fromhex(cmd["hex"]))
        return {}
    if op == "stat":
        st = os.stat(cmd["path"])
        return {"size": st.st_size, "mode": st.st_mode, "ino": st.st_ino, "nlink": st.st_nlink,
                "uid": st.st_uid, "gid": st.st_gid, "mtime": int(st.st_mtime)}
    if op == "open":
        kept[cmd["name"]] = os.open(cmd["path"], os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
        return {}
    if op == "fdwrites":
        ms = []
        for _ in range(cmd["count"]):
            start = time.perf_counter()
            os.write(kept[cmd["name"]], b"y" * 4096)
            ms.append((time.perf_counter() - start) * 1000)
        return {"ms": ms}
    if op == "clocks":
        return clocks()
    if op == "forkkeep":
        child = os.fork()
        if child == 0:
            time.sleep(3600)
            os._exit(0)
        return {"child": child}
    if op == "forkclocks":
        r, w = os.pipe()
        child = os.fork()
        if child == 0:
            os.write(w, json.dumps(clocks()).encode())
            os._exit(0)
        os.close(w)
        text = os.read(r, 4096)
        os.close(r)
        os.waitpid(child, 0)
        return json.loads(text)
    raise Exception("unknown op " + op)

open(os.path.join(control, "ready"), "w").close()
n = 1
while True:
    path = os.path.join(control, "cmd-%d.json" % n)
    if not os.path.exists(path):
        time.sleep(0.002)
        continue
    with open(path) as f:
        cmd = json.load(f)
    try:
        answer = run(cmd)
    except Exception as e:
        answer = {"exception": repr(e)}
    with open(os.path.join(control, ".out"), "w") as f:
        json.dump(answer, f)
    os.rename(os.path.join(control, ".out"), os.path.join(control, "out-%d.json" % n))
    n += 1
"""#
}
