#!/usr/bin/env bash
# Installs every build, test and benchmark dependency from Debian 12 packages.
# Idempotent: packages already present are left alone. Must run as root (or
# with sudo available). Nothing is downloaded at build time; this is the only
# place that touches the network, and only Debian's package mirrors.
set -euo pipefail

packages=(
  # toolchain
  build-essential g++ clang-14 clang libclang-rt-14-dev cmake ninja-build ccache
  pkg-config clang-format
  # libraries
  libboost1.81-all-dev libboost-url1.81-dev
  prometheus-cpp-dev libcpp-httplib-dev
  libprotobuf-dev protobuf-compiler
  libsnappy-dev libzstd-dev zlib1g-dev libssl-dev
  libyaml-cpp-dev libsimdjson-dev libre2-dev libexpected-dev
  libgtest-dev libgmock-dev libbenchmark-dev
  # tests: real peers and tools
  prometheus victoria-metrics curl procps
)

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
    missing+=("$p")
  fi
done

if ((${#missing[@]} == 0)); then
  echo "setup: all ${#packages[@]} packages already installed"
  exit 0
fi

SUDO=""
if [[ $(id -u) -ne 0 ]]; then SUDO="sudo"; fi
echo "setup: installing ${#missing[@]} packages: ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -q
# --no-install-recommends keeps the install lean; prometheus' recommends are
# not needed for its tests here.
$SUDO apt-get install -y -q --no-install-recommends "${missing[@]}"
echo "setup: done"
