#!/usr/bin/env bash
# Fuzzes a real `tumult server` with schemathesis (PyPI) against its own
# description, GET /api/openapi.json: a bounded number of examples per
# operation; fails on any 5xx answer, any answer that does not match its
# described schema, status or content type.
#
# The server can stop processes, shape traffic and load the machine, and
# fuzzed requests do reach it, so it runs in a sandbox: its own network
# namespace (loopback only; the fuzzer runs there too), its own mount
# namespace (a private /run: no container sockets, no named netns of the
# host), its own pid namespace nested in the fuzzer's (process attacks see
# the server and its helpers only; the server is that namespace's init, so
# it cannot kill or stop itself), and cgroups capping its memory and
# process count. chaosd's disk attack is left out: it writes files where
# it is told. Every attack that succeeds is recovered at once and a halt
# lifted at once (scripts/schemathesis_hooks.py).
#
# Usage, as root:  swift build && scripts/schemathesis.sh [more `st run` options]
# (for instance --include-path /api/attack/stress to fuzz one operation).
# Environment: TUMULT (default .build/debug/tumult), SCHEMATHESIS_EXAMPLES
# (per operation, default 300), SCHEMATHESIS_TIME_LIMIT (seconds for the
# whole run, default 420), SCHEMATHESIS_SEED, SCHEMATHESIS_VENV,
# SCHEMATHESIS_REPORT_DIR (keeps the JUnit report and the server's log).
set -euo pipefail
self=$(realpath "$0")
cd "$(dirname "$self")/.."

version=4.32.5
port=2333
examples=${SCHEMATHESIS_EXAMPLES:-300}
time_limit=${SCHEMATHESIS_TIME_LIMIT:-420}
venv=${SCHEMATHESIS_VENV:-${XDG_CACHE_HOME:-$HOME/.cache}/tumult/schemathesis-$version}
tumult=$(realpath "${TUMULT:-.build/debug/tumult}")
checks=not_a_server_error,response_schema_conformance,status_code_conformance,content_type_conformance

# Inside the sandbox: pid 1 of a fresh pid, network, mount and cgroup namespace.
if [ "${1:-}" = "--inside" ]; then
    work=$2
    shift 2
    ip link set lo up
    mount -t tmpfs -o mode=0755 tumult-fuzz-run /run
    mkdir -p /run/netns
    # The capped cgroups are this namespace's roots: "the whole host" to
    # a stress attack means the sandbox. A hierarchy mounted afresh inside
    # the cgroup namespace shows its root at the cap, and replaces the
    # host's mount (a bind mount on top would leave the host's, whose root
    # lies outside the namespace, first in mountinfo).
    while read -r mountpoint type options; do
        umount -l "$mountpoint"
        mount -t "$type" ${options:+-o "$options"} tumult-fuzz "$mountpoint"
    done <"$work/cgroups"

    unshare --pid --fork --mount-proc --kill-child \
        "$tumult" server --listen "127.0.0.1:$port" --home "$work/home" --token "$(cat "$work/token")" \
        >"$work/server.log" 2>&1 &
    server=$!
    url="http://127.0.0.1:$port"
    for _ in $(seq 1 120); do
        if curl -fsS -o /dev/null -H "Authorization: Bearer $(cat "$work/token")" "$url/api/openapi.json" 2>/dev/null; then break; fi
        kill -0 "$server" 2>/dev/null || { echo "tumult server exited:" >&2; cat "$work/server.log" >&2; exit 2; }
        sleep 0.5
    done

    status=0
    TUMULT_URL=$url TUMULT_TOKEN=$(cat "$work/token") TUMULT_HOOK_FAILURES=$work/hook-failures \
    PYTHONPATH=$PWD/scripts SCHEMATHESIS_HOOKS=schemathesis_hooks \
        "$work/venv/bin/st" run "$url/api/openapi.json" \
        --header "Authorization: Bearer $(cat "$work/token")" \
        --checks "$checks" \
        --max-examples "$examples" \
        --phases examples,coverage,fuzzing \
        --exclude-path /api/attack/disk \
        --exclude-path /api/stream \
        --request-timeout 30 \
        --workers 1 \
        --continue-on-failure \
        --generation-database none \
        --suppress-health-check all \
        ${SCHEMATHESIS_SEED:+--seed "$SCHEMATHESIS_SEED"} \
        --no-color \
        --report junit --report-junit-path "$work/junit.xml" \
        "$@" || status=$?
    if [ -s "$work/hook-failures" ]; then
        echo "recoveries the hooks made that failed:" >&2
        cat "$work/hook-failures" >&2
        [ "$status" -ne 0 ] || status=1
    fi
    if ! kill -0 "$server" 2>/dev/null; then
        echo "tumult server died during the run:" >&2
        tail -n 50 "$work/server.log" >&2
        [ "$status" -ne 0 ] || status=1
    fi
    # unshare --fork blocks SIGTERM in its parent: stop the server itself
    # (its only child), give it time to recover what is left, then kill.
    kill -TERM $(cat "/proc/$server/task/$server/children" 2>/dev/null) 2>/dev/null || true
    for _ in $(seq 1 40); do kill -0 "$server" 2>/dev/null || break; sleep 0.25; done
    kill -KILL "$server" 2>/dev/null || true
    wait "$server" 2>/dev/null || true
    exit "$status"
fi

if [ "$(id -u)" -ne 0 ]; then echo "schemathesis.sh: run as root (it builds namespaces and cgroups)" >&2; exit 2; fi
for tool in unshare ip curl python3; do
    command -v "$tool" >/dev/null || { echo "schemathesis.sh: $tool is missing" >&2; exit 2; }
done
[ -x "$tumult" ] || { echo "schemathesis.sh: no tumult at $tumult (swift build first, or set TUMULT)" >&2; exit 2; }

# schemathesis, pinned, in its own venv (PyPI only).
if [ "$("$venv/bin/st" --version 2>/dev/null)" != "st, version $version" ]; then
    rm -rf "$venv"
    python3 -m venv "$venv"
    "$venv/bin/pip" install --quiet --disable-pip-version-check "schemathesis==$version"
fi

work=$(mktemp -d /tmp/tumult-schemathesis.XXXXXX)
mkdir "$work/home"
ln -s "$venv" "$work/venv"
python3 -c 'import secrets; print(secrets.token_hex(16))' >"$work/token"
cgroups=()
cleanup() {
    for directory in "${cgroups[@]}"; do
        for _ in 1 2 3 4 5 6 7 8 9 10; do rmdir "$directory" 2>/dev/null && break; sleep 0.5; done
    done
    if [ -n "${SCHEMATHESIS_REPORT_DIR:-}" ]; then
        mkdir -p "$SCHEMATHESIS_REPORT_DIR"
        cp -f "$work/junit.xml" "$work/server.log" "$SCHEMATHESIS_REPORT_DIR"/ 2>/dev/null || true
    fi
    rm -rf "$work"
}
trap cleanup EXIT

# Caps: memory and processes, for everything in the sandbox. cgroup v1
# (a hierarchy per controller) or v2 (one), below this shell's own cgroup.
: >"$work/cgroups"
cap() { # hierarchy-mountpoint own-path mount-type mount-options, then file value pairs
    local directory="$1${2%/}/tumult-fuzz-$$" mountpoint=$1 type=$3 options=$4
    shift 4
    mkdir -p "$directory" || { echo "schemathesis.sh: no cgroup $directory: running without caps" >&2; return 0; }
    cgroups+=("$directory")
    echo "$mountpoint $type $options" >>"$work/cgroups"
    while [ $# -gt 0 ]; do
        echo "$2" >"$directory/$1" || echo "schemathesis.sh: could not set $directory/$1" >&2
        shift 2
    done
}
own() { sed -n "s/^[0-9]*:$1:\\(.*\\)/\\1/p" /proc/self/cgroup | head -n 1; }
if [ "$(stat -fc %T /sys/fs/cgroup)" = cgroup2fs ]; then
    cap /sys/fs/cgroup "$(own '')" cgroup2 "" memory.max $((4 << 30)) pids.max 4096
else
    if [ -d /sys/fs/cgroup/memory ]; then cap /sys/fs/cgroup/memory "$(own memory)" cgroup memory memory.limit_in_bytes $((4 << 30)); fi
    if [ -d /sys/fs/cgroup/pids ]; then cap /sys/fs/cgroup/pids "$(own pids)" cgroup pids pids.max 4096; fi
fi

started=$(date +%s)
status=0
(
    for directory in "${cgroups[@]}"; do echo "$BASHPID" >"$directory/cgroup.procs"; done
    # SIGKILL: unshare --fork blocks SIGTERM; killing it kills the sandbox (--kill-child).
    exec timeout --signal=KILL "$time_limit" \
        unshare --cgroup --net --pid --mount --fork --mount-proc --kill-child \
        env TUMULT="$tumult" SCHEMATHESIS_EXAMPLES="$examples" "$self" --inside "$work" "$@"
) || status=$?
echo "schemathesis.sh: $(( $(date +%s) - started )) s, exit $status"
if [ "$status" -eq 124 ] || [ "$status" -eq 137 ]; then
    echo "schemathesis.sh: the run did not finish within $time_limit s" >&2
fi
exit "$status"
