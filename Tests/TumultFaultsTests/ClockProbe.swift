import Foundation
@testable import TumultSystem

/// A small C program whose clock readings the TimeChaos tests measure: it
/// reads its clocks through glibc (so through the vDSO), in its main thread
/// and in reader threads, and answers signals:
/// - SIGUSR1: prints `R pid realtime_ns time_s gettimeofday_us monotonic_ns threads oldest_ns newest_ns`,
///   the last two being the reader threads' latest CLOCK_REALTIME readings;
/// - SIGUSR2: forks a child that does the same (without reader threads) and prints `F pid child`;
/// - SIGURG: starts 4 more reader threads and prints `T pid threads`.
/// It prints `S pid threads` once its first reader threads run. Started
/// with `busy`, its reader threads read the clocks without pause.
final class ClockProbe {
    static let source = #"""
    #define _GNU_SOURCE
    #include <pthread.h>
    #include <signal.h>
    #include <stdatomic.h>
    #include <stdio.h>
    #include <stdlib.h>
    #include <string.h>
    #include <sys/prctl.h>
    #include <sys/time.h>
    #include <time.h>
    #include <unistd.h>

    #define MAX_THREADS 512
    static volatile sig_atomic_t report, forking, more;
    static _Atomic long long latest[MAX_THREADS];
    static _Atomic int threads;

    static long long now(clockid_t clock) {
        struct timespec ts;
        clock_gettime(clock, &ts);
        return ts.tv_sec * 1000000000LL + ts.tv_nsec;
    }

    static int busy;

    static void *reader(void *argument) {
        int index = (int)(long)argument;
        for (;;) {
            latest[index] = now(CLOCK_REALTIME);
            if (busy) {
                struct timeval tv;
                gettimeofday(&tv, NULL);
                (void)time(NULL);
            } else {
                usleep(1000);
            }
        }
        return NULL;
    }

    static void start(int count) {
        for (int k = 0; k < count; k++) {
            int index = atomic_fetch_add(&threads, 1);
            if (index >= MAX_THREADS) { threads = MAX_THREADS; return; }
            pthread_t thread;
            pthread_create(&thread, NULL, reader, (void *)(long)index);
            pthread_detach(thread);
        }
        int n = threads;
        for (int i = 0; i < n; i++) while (latest[i] == 0) usleep(100);
    }

    static void say(const char *line) { (void)!write(1, line, strlen(line)); }

    static void on_signal(int signal) {
        if (signal == SIGUSR1) report = 1;
        else if (signal == SIGUSR2) forking = 1;
        else if (signal == SIGURG) more = 1;
    }

    int main(int argc, char **argv) {
        struct sigaction action;
        memset(&action, 0, sizeof action);
        action.sa_handler = on_signal;
        action.sa_flags = SA_RESTART;
        sigaction(SIGUSR1, &action, NULL);
        sigaction(SIGUSR2, &action, NULL);
        sigaction(SIGURG, &action, NULL);
        busy = argc > 2 && strcmp(argv[2], "busy") == 0;
        start(argc > 1 ? atoi(argv[1]) : 0);
        char line[256];
        snprintf(line, sizeof line, "S %d %d\n", getpid(), (int)threads);
        say(line);
        for (;;) {
            if (report) {
                report = 0;
                long long realtime = now(CLOCK_REALTIME);
                long long seconds = (long long)time(NULL);
                struct timeval tv;
                gettimeofday(&tv, NULL);
                long long micros = tv.tv_sec * 1000000LL + tv.tv_usec;
                long long monotonic = now(CLOCK_MONOTONIC);
                int n = threads;
                long long oldest = 0, newest = 0;
                for (int i = 0; i < n; i++) {
                    long long value = latest[i];
                    if (oldest == 0 || value < oldest) oldest = value;
                    if (value > newest) newest = value;
                }
                snprintf(line, sizeof line, "R %d %lld %lld %lld %lld %d %lld %lld\n",
                         getpid(), realtime, seconds, micros, monotonic, n, oldest, newest);
                say(line);
            }
            if (forking) {
                forking = 0;
                pid_t parent = getpid();
                pid_t child = fork();
                if (child == 0) {
                    prctl(PR_SET_PDEATHSIG, SIGKILL);
                    threads = 0;
                } else {
                    snprintf(line, sizeof line, "F %d %d\n", parent, child);
                    say(line);
                }
            }
            if (more) {
                more = 0;
                start(4);
                snprintf(line, sizeof line, "T %d %d\n", getpid(), (int)threads);
                say(line);
            }
            usleep(200);
        }
    }
    """#

    /// One answer to SIGUSR1, with the test's own real and monotonic time
    /// just before the request and just after the answer.
    struct Reading {
        var realtime: Int64, time: Int64, gettimeofday: Int64, monotonic: Int64
        var threads: Int, oldestThread: Int64, newestThread: Int64
        var sent: Int64, received: Int64, sentMonotonic: Int64, receivedMonotonic: Int64
    }

    /// Compiles the probe into a new temporary directory; nil without `cc`.
    static func build() throws -> URL? {
        guard (try? ProcessCommandRunner.locate("cc")) != nil else { return nil }
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("tmt-clock-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let source = directory.appendingPathComponent("probe.c"), binary = directory.appendingPathComponent("probe")
        try Self.source.write(to: source, atomically: true, encoding: .utf8)
        let result = try Spawn.run(["cc", "-O2", "-pthread", "-o", binary.path, source.path])
        guard result.status == 0 else {
            try? FileManager.default.removeItem(at: directory)
            throw SystemError.processFailed("cannot compile the clock probe: \(result.stderr)")
        }
        return directory
    }

    static let hasCompiler = (try? ProcessCommandRunner.locate("cc")) != nil

    let pid: Int32
    private(set) var children: [Int32] = []
    private let output: Int32
    private var buffer: [UInt8] = []

    /// Starts the probe from `directory` with `threads` reader threads and waits until they run.
    init(directory: URL, threads: Int = 0, busy: Bool = false) throws {
        let child = try Spawn.start([directory.appendingPathComponent("probe").path, "\(threads)"] + (busy ? ["busy"] : []))
        close(child.stderr)
        pid = child.pid
        output = child.stdout
        guard line(matching: "S \(pid) ") != nil else {
            stop()
            throw SystemError.processFailed("the clock probe did not start")
        }
    }

    /// Kills and reaps the probe and its children.
    func stop() {
        for child in children { kill(child, SIGKILL) }
        kill(pid, SIGKILL)
        Spawn.wait(for: pid)
        // The children are the probe's: the kernel reparents them; wait until they are gone.
        for child in children {
            for _ in 0..<500 where Processes.isAlive(child) { usleep(2_000) }
        }
        close(output)
    }

    /// The readings of the probe (or of one of its children).
    func reading(of target: Int32? = nil) throws -> Reading {
        let target = target ?? pid
        let sent = Self.now(CLOCK_REALTIME), sentMonotonic = Self.now(CLOCK_MONOTONIC)
        kill(target, SIGUSR1)
        guard let line = line(matching: "R \(target) ") else {
            throw SystemError.processFailed("probe \(target) did not report its clocks")
        }
        let received = Self.now(CLOCK_REALTIME), receivedMonotonic = Self.now(CLOCK_MONOTONIC)
        let fields = line.split(separator: " ").dropFirst(2).compactMap { Int64($0) }
        guard fields.count == 7 else { throw SystemError.processFailed("probe said: \(line)") }
        return Reading(realtime: fields[0], time: fields[1], gettimeofday: fields[2], monotonic: fields[3],
                       threads: Int(fields[4]), oldestThread: fields[5], newestThread: fields[6],
                       sent: sent, received: received, sentMonotonic: sentMonotonic, receivedMonotonic: receivedMonotonic)
    }

    /// Makes the probe fork a child and returns its pid.
    func fork() throws -> Int32 {
        kill(pid, SIGUSR2)
        guard let line = line(matching: "F \(pid) "), let child = line.split(separator: " ").last.flatMap({ Int32($0) }) else {
            throw SystemError.processFailed("the probe did not fork")
        }
        children.append(child)
        return child
    }

    /// Starts 4 more reader threads; returns the thread count.
    func addThreads() throws -> Int {
        kill(pid, SIGURG)
        guard let line = line(matching: "T \(pid) "), let count = line.split(separator: " ").last.flatMap({ Int($0) }) else {
            throw SystemError.processFailed("the probe did not start threads")
        }
        return count
    }

    var maps: String { String(decoding: Tracee.contents(of: "/proc/\(pid)/maps") ?? [], as: UTF8.self) }

    static func now(_ clock: clockid_t) -> Int64 {
        var spec = timespec()
        clock_gettime(clock, &spec)
        return Int64(spec.tv_sec) * 1_000_000_000 + Int64(spec.tv_nsec)
    }

    /// The next output line starting with `prefix` (others are skipped), within 5 s.
    private func line(matching prefix: String) -> String? {
        let deadline = Date().addingTimeInterval(5)
        while Date() < deadline {
            while let newline = buffer.firstIndex(of: UInt8(ascii: "\n")) {
                let line = String(decoding: buffer[..<newline], as: UTF8.self)
                buffer.removeSubrange(...newline)
                if line.hasPrefix(prefix) { return line }
            }
            var descriptor = pollfd(fd: output, events: Int16(POLLIN), revents: 0)
            guard poll(&descriptor, 1, 100) >= 0 || errno == EINTR else { return nil }
            if descriptor.revents != 0 {
                var chunk = [UInt8](repeating: 0, count: 4096)
                let count = read(output, &chunk, chunk.count)
                if count <= 0 { return nil }
                buffer += chunk[0..<count]
            }
        }
        return nil
    }
}
