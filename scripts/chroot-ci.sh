#!/usr/bin/env bash
# Runs `.ci/run` inside a chroot of a minimal Debian 12, as a new user's
# machine or a CI container would: nothing installed but what setup.sh
# installs, no host mount visible (the chroot's root is a plain folder, not
# a mount point, so /proc/mounts lists only /proc and /dev), a fresh clone
# of the committed tree. Shows that the tests depend on nothing of this
# machine. For developers; CI does not run it. Needs root and debootstrap.
#
#   scripts/chroot-ci.sh DIR [RUNS]
#
# DIR: the chroot (made with `debootstrap --variant=minbase bookworm` when
# it does not exist yet; reused after, so setup.sh's packages stay).
# RUNS: how many times in a row to run .ci/run (default 1); stops at the
# first failure. Each run starts from a fresh clone of HEAD, so no build
# directory carries over; ccache is shared with the host when
# KM_CHROOT_CCACHE=1 (faster: Debian's packages keep their files' mtimes,
# so ccache's default compiler check matches the host's compilers; the
# host's CCACHE_BASEDIR and CCACHE_NOHASHDIR are passed on so the
# hashes agree).
# The fixtures (../shared) are bind-mounted read-only at the same relative
# place, never copied.
set -euo pipefail

if [[ $# -lt 1 || $# -gt 2 ]]; then
  echo "usage: scripts/chroot-ci.sh DIR [RUNS]" >&2
  exit 2
fi
root=$(cd "$(dirname "$0")/.." && pwd)
chroot_dir=$(realpath -m "$1")
runs=${2:-1}
if ! [[ $runs =~ ^[1-9][0-9]*$ ]]; then
  echo "chroot-ci: RUNS must be a positive count (got '$runs')" >&2
  exit 2
fi
if [[ $(id -u) -ne 0 ]]; then
  echo "chroot-ci: needs root (debootstrap, chroot, mounts)" >&2
  exit 2
fi
shared=$(realpath "$root/../shared")
project=$(basename "$root")
work_parent=$(dirname "$root")

if [[ ! -x $chroot_dir/bin/bash ]]; then
  command -v debootstrap > /dev/null || {
    echo "chroot-ci: install debootstrap first (apt-get install debootstrap)" >&2
    exit 2
  }
  echo "chroot-ci: creating a minimal Debian 12 in $chroot_dir"
  debootstrap --variant=minbase bookworm "$chroot_dir" http://deb.debian.org/debian
fi
cp /etc/resolv.conf "$chroot_dir/etc/resolv.conf"
# The host's network may reach the npm registry through a TLS-inspecting
# proxy whose CA only the host trusts: setup.sh's `npm ci` in the chroot
# trusts what the host does (Node.js reads NODE_EXTRA_CA_CERTS).
extra_ca=()
if [[ -f /etc/ssl/certs/ca-certificates.crt ]]; then
  cp /etc/ssl/certs/ca-certificates.crt "$chroot_dir/etc/host-ca-certificates.crt"
  extra_ca=(NODE_EXTRA_CA_CERTS=/etc/host-ca-certificates.crt)
fi

for run in $(seq "$runs"); do
  inner=$chroot_dir$work_parent
  rm -rf "${inner:?}/$project"
  mkdir -p "$inner/shared"
  git clone -q "$root" "$inner/$project"
  echo "chroot-ci: run $run of $runs: .ci/run at $(git -C "$inner/$project" log --oneline -1)"
  started=$SECONDS
  status=0
  # A private mount namespace: every mount below goes away with it.
  unshare --mount --propagation private bash -euo pipefail -c '
    chroot_dir=$1 shared=$2 inner=$3 project=$4 work_parent=$5
    mount -t proc proc "$chroot_dir/proc"
    mount --rbind /dev "$chroot_dir/dev"
    mount --bind "$shared" "$inner/shared"
    mount -o remount,bind,ro "$inner/shared"
    if [[ ${KM_CHROOT_CCACHE:-0} == 1 ]]; then
      mkdir -p "$HOME/.cache/kubemetrics-ccache" "$chroot_dir/root/.cache/kubemetrics-ccache"
      mount --bind "$HOME/.cache/kubemetrics-ccache" "$chroot_dir/root/.cache/kubemetrics-ccache"
    fi
    exec chroot "$chroot_dir" /usr/bin/env -i HOME=/root TERM=dumb LANG=C.UTF-8 \
      PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
      CCACHE_BASEDIR=${CCACHE_BASEDIR:-} CCACHE_NOHASHDIR=${CCACHE_NOHASHDIR:-} ${6:-} \
      bash -c "cd \"$work_parent/$project\" && .ci/run"
  ' chroot-ci "$chroot_dir" "$shared" "$inner" "$project" "$work_parent" "${extra_ca[@]}" || status=$?
  echo "chroot-ci: run $run of $runs: exit $status after $((SECONDS - started)) s"
  [[ $status -eq 0 ]] || exit "$status"
done
