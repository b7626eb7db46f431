#!/usr/bin/env bash
# Installs Tumult on a Debian machine: the Debian packages it needs, a
# release build of `tumult` in /usr/local/bin, and a first check that it runs.
set -euo pipefail
cd "$(dirname "$0")/.."

# Debian packages Tumult uses at run time (none yet beyond the Swift toolchain).
packages=()
if [ "${#packages[@]}" -gt 0 ]; then
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq "${packages[@]}"
fi

swift build -c release --product tumult
install -m 0755 .build/release/tumult /usr/local/bin/tumult
tumult --version
# Tumult's main job today: checking Chaos Mesh documents.
tumult validate -f examples/
