/*
 * tumult-stress: one stress worker, placed in its target's cgroups before it
 * does any work.
 *
 *   tumult-stress cpu --load PERCENT [common]
 *   tumult-stress memory --bytes N [common]
 *   tumult-stress exec [common] -- PROGRAM [ARGS...]   (stress-ng, say)
 *
 * common: --cgroup DIR (repeatable: one per hierarchy; the worker writes its
 * pid into DIR/cgroup.procs), --oom-score-adj N, --die-with-parent.
 *
 * Order: parent-death signal, oom_score_adj, every cgroup, then "ready" on
 * standard output, then work. Nothing is printed to standard output after
 * "ready" (whoever started us may have closed the pipe).
 *
 * cpu: holds PERCENT of one CPU by duty cycle in 100 ms periods on
 * CLOCK_MONOTONIC. Each period it spins until the process's own CPU time
 * (CLOCK_PROCESS_CPUTIME_ID) reaches PERCENT of the time since the start,
 * then sleeps to the period's end: time lost to preemption is made up in the
 * following periods, so the average stays on target while the CPU is free.
 *
 * memory: maps N bytes, writes every page, then sleeps, writing every page
 * again every 10 s so the memory stays in use.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <time.h>
#include <unistd.h>

#define MAX_CGROUPS 64
#define PERIOD_NS 100000000LL

static void usage(void)
{
    fprintf(stderr,
            "usage: tumult-stress cpu --load PERCENT [common]\n"
            "       tumult-stress memory --bytes N [common]\n"
            "       tumult-stress exec [common] -- PROGRAM [ARGS...]\n"
            "common: [--cgroup DIR]... [--oom-score-adj N] [--die-with-parent]\n");
}

static int64_t now_ns(clockid_t clock)
{
    struct timespec ts;
    clock_gettime(clock, &ts);
    return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static int write_file(const char *path, const char *text)
{
    int fd = open(path, O_WRONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    size_t length = strlen(text);
    ssize_t written = write(fd, text, length);
    int saved = errno;
    close(fd);
    errno = saved;
    return written == (ssize_t)length ? 0 : -1;
}

static bool parse_long(const char *text, long long min, long long max, long long *out)
{
    char *end = NULL;
    errno = 0;
    long long value = strtoll(text, &end, 10);
    if (errno != 0 || end == text || *end != '\0' || value < min || value > max)
        return false;
    *out = value;
    return true;
}

static void burn_cpu(int load)
{
    if (load <= 0) {
        for (;;)
            pause();
    }
    volatile uint64_t sink = 0;
    if (load >= 100) {
        for (;;)
            sink += sink * 2654435761u + 1;
    }
    int64_t start = now_ns(CLOCK_MONOTONIC);
    int64_t cpu_start = now_ns(CLOCK_PROCESS_CPUTIME_ID);
    int64_t period_end = start;
    for (;;) {
        period_end += PERIOD_NS;
        int64_t wanted = (period_end - start) / 100 * load;
        for (;;) {
            for (int i = 0; i < 2000; i++)
                sink += sink * 2654435761u + 1;
            if (now_ns(CLOCK_PROCESS_CPUTIME_ID) - cpu_start >= wanted)
                break;
            if (now_ns(CLOCK_MONOTONIC) >= period_end)
                break;
        }
        struct timespec until = { .tv_sec = period_end / 1000000000LL, .tv_nsec = period_end % 1000000000LL };
        while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &until, NULL) == EINTR) {
        }
        int64_t now = now_ns(CLOCK_MONOTONIC);
        int64_t owed = wanted - (now_ns(CLOCK_PROCESS_CPUTIME_ID) - cpu_start);
        if (now - period_end > 5 * PERIOD_NS) {
            /* Stopped (SIGSTOP, a frozen cgroup): start afresh rather than burst to catch up. */
            start = now;
            period_end = now;
            cpu_start = now_ns(CLOCK_PROCESS_CPUTIME_ID);
        } else if (owed > PERIOD_NS) {
            /* Starved: carry at most one period of debt into the next periods. */
            cpu_start -= owed - PERIOD_NS;
        }
    }
}

static void hold_memory(unsigned long long bytes)
{
    long page = sysconf(_SC_PAGESIZE);
    if (bytes == 0) {
        for (;;)
            pause();
    }
    unsigned char *memory = mmap(NULL, (size_t)bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (memory == MAP_FAILED) {
        fprintf(stderr, "tumult-stress: cannot map %llu bytes: %s\n", bytes, strerror(errno));
        exit(1);
    }
    unsigned char round = 1;
    for (;;) {
        /* A non-zero write per page: a read would only map the shared zero page. */
        for (unsigned long long offset = 0; offset < bytes; offset += (unsigned long long)page)
            memory[offset] = round;
        round = round == 255 ? 1 : round + 1;
        sleep(10);
    }
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        usage();
        return 2;
    }
    const char *mode = argv[1];
    bool is_cpu = strcmp(mode, "cpu") == 0, is_memory = strcmp(mode, "memory") == 0, is_exec = strcmp(mode, "exec") == 0;
    if (!is_cpu && !is_memory && !is_exec) {
        usage();
        return 2;
    }
    const char *cgroups[MAX_CGROUPS];
    int cgroup_count = 0;
    long long load = 100, bytes = 0, oom_score_adj = 0;
    bool has_oom = false, die_with_parent = false;
    char **program = NULL;
    for (int i = 2; i < argc; i++) {
        const char *a = argv[i];
        const char *value = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(a, "--") == 0) {
            program = &argv[i + 1];
            break;
        } else if (strcmp(a, "--die-with-parent") == 0) {
            die_with_parent = true;
        } else if (value == NULL) {
            fprintf(stderr, "tumult-stress: %s needs a value\n", a);
            return 2;
        } else if (strcmp(a, "--cgroup") == 0) {
            if (cgroup_count == MAX_CGROUPS) {
                fprintf(stderr, "tumult-stress: more than %d cgroups\n", MAX_CGROUPS);
                return 2;
            }
            cgroups[cgroup_count++] = value;
            i++;
        } else if (strcmp(a, "--load") == 0) {
            if (!parse_long(value, 0, 100, &load)) {
                fprintf(stderr, "tumult-stress: --load must be 0-100, not '%s'\n", value);
                return 2;
            }
            i++;
        } else if (strcmp(a, "--bytes") == 0) {
            if (!parse_long(value, 0, INT64_MAX, &bytes)) {
                fprintf(stderr, "tumult-stress: --bytes must be a byte count, not '%s'\n", value);
                return 2;
            }
            i++;
        } else if (strcmp(a, "--oom-score-adj") == 0) {
            if (!parse_long(value, -1000, 1000, &oom_score_adj)) {
                fprintf(stderr, "tumult-stress: --oom-score-adj must be -1000..1000, not '%s'\n", value);
                return 2;
            }
            has_oom = true;
            i++;
        } else {
            fprintf(stderr, "tumult-stress: unknown option %s\n", a);
            usage();
            return 2;
        }
    }
    if (is_exec && (program == NULL || program[0] == NULL)) {
        fprintf(stderr, "tumult-stress: exec needs -- PROGRAM\n");
        return 2;
    }
    signal(SIGPIPE, SIG_IGN);

    if (die_with_parent) {
        pid_t parent = getppid();
        if (prctl(PR_SET_PDEATHSIG, SIGKILL) != 0) {
            perror("tumult-stress: prctl(PR_SET_PDEATHSIG)");
            return 1;
        }
        if (getppid() != parent || parent == 1) {
            fprintf(stderr, "tumult-stress: parent already gone\n");
            return 1;
        }
    }
    if (has_oom) {
        char text[32];
        snprintf(text, sizeof text, "%lld", oom_score_adj);
        if (write_file("/proc/self/oom_score_adj", text) != 0) {
            fprintf(stderr, "tumult-stress: cannot set oom_score_adj %s: %s\n", text, strerror(errno));
            return 1;
        }
    }
    char pid_text[32];
    snprintf(pid_text, sizeof pid_text, "%d", (int)getpid());
    for (int i = 0; i < cgroup_count; i++) {
        char path[4096];
        snprintf(path, sizeof path, "%s/cgroup.procs", cgroups[i]);
        if (write_file(path, pid_text) != 0) {
            fprintf(stderr, "tumult-stress: cannot join cgroup %s: %s\n", cgroups[i], strerror(errno));
            return 1;
        }
    }
    printf("ready pid=%d\n", (int)getpid());
    fflush(stdout);

    if (is_exec) {
        /* Nobody reads our pipes any more: stress-ng's chatter goes nowhere. */
        int null = open("/dev/null", O_WRONLY);
        if (null >= 0) {
            dup2(null, 1);
            dup2(null, 2);
            close(null);
        }
        execvp(program[0], program);
        fprintf(stderr, "tumult-stress: cannot run %s: %s\n", program[0], strerror(errno));
        return 127;
    }
    if (is_cpu)
        burn_cpu((int)load);
    hold_memory((unsigned long long)bytes);
    return 0;
}
