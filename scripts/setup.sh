#!/usr/bin/env bash
# Installs every build, test and benchmark dependency from Debian 12 packages.
# Idempotent: packages already present are left alone. Must run as root (or
# with sudo available). Nothing is downloaded at build time; this is the only
# place that touches the network: Debian's package mirrors, and the npm
# registry for the locked packages of the manifest validation test.
set -euo pipefail

packages=(
  # toolchain
  build-essential g++ clang-14 clang libclang-rt-14-dev cmake ninja-build ccache
  pkg-config clang-format
  # libraries
  libboost1.81-all-dev libboost-url1.81-dev
  prometheus-cpp-dev libcpp-httplib-dev
  libprotobuf-dev protobuf-compiler
  libsnappy-dev libzstd-dev zlib1g-dev libisal-dev libssl-dev
  libyaml-cpp-dev libsimdjson-dev libre2-dev libexpected-dev
  libgtest-dev libgmock-dev libbenchmark-dev
  # tests: real peers and tools
  prometheus victoria-metrics curl procps
  # tests/manifests/validate.mjs (npm itself: see the end of this script)
  nodejs
)

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
    missing+=("$p")
  fi
done

SUDO=""
if [[ $(id -u) -ne 0 ]]; then SUDO="sudo"; fi
export DEBIAN_FRONTEND=noninteractive

if ((${#missing[@]} == 0)); then
  echo "setup: all ${#packages[@]} packages already installed"
else
  echo "setup: installing ${#missing[@]} packages: ${missing[*]}"
  $SUDO apt-get update -q
  # --no-install-recommends keeps the install lean; prometheus' recommends are
  # not needed for its tests here.
  $SUDO apt-get install -y -q --no-install-recommends "${missing[@]}"
fi

# npm packages of the manifest validation test (tests/manifests: package.json
# and package-lock.json), installed exactly as locked, only when node_modules
# is missing or the lock file changed since the last install; the only
# network use besides Debian's mirrors, and only the npm registry. Skipped
# when the lock file is not there (the Dockerfile's build stage runs this
# script alone). npm comes with the nodejs package of NodeSource, which
# conflicts with Debian's npm package, so Debian's is installed only when no
# npm is on the PATH.
manifests_tests="$(cd "$(dirname "$0")/.." && pwd)/tests/manifests"
if [[ -f $manifests_tests/package-lock.json ]]; then
  lock_sum=$(sha256sum "$manifests_tests/package-lock.json" | cut -d' ' -f1)
  stamp="$manifests_tests/node_modules/.km-package-lock.sha256"
  if [[ -f $stamp && $(cat "$stamp") == "$lock_sum" ]]; then
    echo "setup: npm packages of tests/manifests up to date"
  else
    if ! command -v npm > /dev/null; then
      $SUDO apt-get update -q
      $SUDO apt-get install -y -q --no-install-recommends npm
    fi
    npm ci --prefix "$manifests_tests" --no-audit --no-fund
    echo "$lock_sum" > "$stamp"
  fi
fi
echo "setup: done"
