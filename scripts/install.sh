#!/usr/bin/env bash
# Installs Tumult on a Debian machine: the Debian packages it needs, release
# builds of `tumult` and its userspace packet engine `tumult-netem` in
# /usr/local/bin, and a first check that it runs.
set -euo pipefail
cd "$(dirname "$0")/.."

# What Tumult drives at run time (tc, ip, iptables, ipset, nft) and the
# NFQUEUE library the engine is built against.
packages=(iproute2 iptables ipset nftables libnetfilter-queue-dev)
missing=()
for package in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" || missing+=("$package")
done
if [ "${#missing[@]}" -gt 0 ]; then
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq "${missing[@]}"
fi

swift build -c release --product tumult
swift build -c release --product tumult-netem
swift build -c release --product tumult-stress
install -m 0755 .build/release/tumult .build/release/tumult-netem .build/release/tumult-stress /usr/local/bin/
tumult --version
# Tumult's main job today: checking Chaos Mesh documents and attacking one target at a time.
tumult validate -f examples/
