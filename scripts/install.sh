#!/usr/bin/env bash
# Installs Tumult on a Debian machine: the Debian packages it needs, release
# builds of `tumult`, its userspace packet engine `tumult-netem` and stress
# worker `tumult-stress` in /usr/local/bin; then starts (or restarts)
# `tumult server` on 127.0.0.1:2333: as a systemd service where systemd
# runs, else as a background process logging to /var/log/tumult/server.log.
set -euo pipefail
cd "$(dirname "$0")/.."

# What Tumult drives at run time (tc, ip, iptables, ipset, nft) and the
# NFQUEUE library the engine is built against; libfuse3 for the IO faults' file system.
packages=(iproute2 iptables ipset nftables libnetfilter-queue-dev libfuse3-dev)
missing=()
for package in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" || missing+=("$package")
done
if [ "${#missing[@]}" -gt 0 ]; then
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq "${missing[@]}"
fi

# The C helpers as they are; `tumult` (the small front program) and
# `tumult-cli` (the whole program, which the front becomes for most
# commands) with the Swift runtime linked in (--static-swift-stdlib), so
# that they start without loading ~50 shared libraries (docs/benchmarks.md,
# "The fast path"). They are installed side by side: the front runs the
# `tumult-cli` beside it.
swift build -c release --product tumult-netem
swift build -c release --product tumult-stress
swift build -c release --static-swift-stdlib --product tumult-cli
swift build -c release --static-swift-stdlib --product tumult
install -m 0755 .build/release/tumult .build/release/tumult-cli .build/release/tumult-netem .build/release/tumult-stress /usr/local/bin/
tumult --version
tumult validate -q -f examples/

# The main job: `tumult server` with its API (and dashboard) on 127.0.0.1:2333.
if [ -d /run/systemd/system ] && command -v systemctl >/dev/null; then
    install -m 0644 scripts/tumult.service /etc/systemd/system/tumult.service
    systemctl daemon-reload
    systemctl enable tumult.service >/dev/null
    systemctl restart tumult.service
else
    mkdir -p /var/log/tumult /run/tumult
    if [ -f /run/tumult/server.pid ] && kill -0 "$(cat /run/tumult/server.pid)" 2>/dev/null; then
        # SIGTERM: the old server recovers what it injected before exiting;
        # the new one takes its experiments back from the store.
        kill -TERM "$(cat /run/tumult/server.pid)"
        for _ in $(seq 50); do kill -0 "$(cat /run/tumult/server.pid)" 2>/dev/null || break; sleep 0.1; done
    fi
    setsid nohup /usr/local/bin/tumult server >>/var/log/tumult/server.log 2>&1 </dev/null &
    echo $! >/run/tumult/server.pid
fi
for _ in $(seq 50); do
    tumult get experiments >/dev/null 2>&1 && break
    sleep 0.1
done
tumult get experiments >/dev/null
echo "tumult server is running on http://127.0.0.1:2333 (tumult get experiments, tumult apply -f FILE)"
