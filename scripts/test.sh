#!/usr/bin/env bash
# README command (2), and what CI runs (.ci/run): install dependencies, then
# build each configuration once and run its tests:
#   1. g++ RelWithDebInfo: every test (unit, integration, e2e) and a short
#      smoke run of every benchmark binary;
#   2. clang ASan+UBSan: every test, then each libFuzzer target for a
#      bounded time;
#   3. clang TSan: the tests of the concurrent parts (ring, interning,
#      pipeline, clock, scheduler, push exporter, HTTP server, Kubernetes
#      watches).
# Sized for a 2-core CI machine (ninja, ccache).
#
# Stress mode, for developers before they touch concurrent code (CI does
# not run it): `scripts/test.sh --repeat N` builds the same three
# configurations, then runs the unit and integration tests of each N times
# (ctest --repeat until-fail:N) while a busy loop on every core loads the
# machine, so a test that races a thread or the clock fails here first.
# KM_STRESS_LOAD_SECONDS bounds each busy loop (default 7200).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD

repeat=0
while [[ $# -gt 0 ]]; do
  case $1 in
    --repeat)
      if ! [[ ${2:-} =~ ^[1-9][0-9]*$ ]]; then
        echo "test.sh: --repeat needs a count, e.g. --repeat 20" >&2
        exit 2
      fi
      repeat=$2
      shift 2
      ;;
    *)
      echo "test.sh: unknown argument '$1' (the only option is --repeat N)" >&2
      exit 2
      ;;
  esac
done

bash scripts/setup.sh

export CCACHE_DIR=${CCACHE_DIR:-$HOME/.cache/kubemetrics-ccache}
export CCACHE_MAXSIZE=${CCACHE_MAXSIZE:-5G}
jobs=$(nproc)
started=$SECONDS
stage() { echo; echo "=== $1 ($((SECONDS - started)) s elapsed)"; }

# Stress mode: the unit and integration tests of build directory $1,
# `repeat` times, under one busy loop per core (each ended by `timeout`
# even should this script die); the remaining arguments are environment
# settings for ctest (sanitizer options).
load_pids=()
stop_load() {
  for pid in "${load_pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  load_pids=()
}
trap stop_load EXIT
stress_tests() {
  local dir=$1
  shift
  stage "$dir: unit and integration tests, until-fail:$repeat, under load on $jobs cores"
  for _ in $(seq "$jobs"); do
    timeout "${KM_STRESS_LOAD_SECONDS:-7200}" bash -c 'while :; do :; done' &
    load_pids+=($!)
  done
  local status=0
  env "$@" ctest --test-dir "$dir" -L 'unit|integration' --repeat "until-fail:$repeat" \
    --output-on-failure -j "$jobs" || status=$?
  stop_load
  return "$status"
}

stage "formatting (clang-format, .clang-format)"
find include common scrapers exporters agent tests bench -name '*.h' -o -name '*.cc' |
  sort | xargs clang-format --dry-run -Werror

stage "g++ build"
cmake -S . -B build/release -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_CXX_COMPILER=g++ -DKM_WERROR=ON
ninja -C build/release
if ((repeat > 0)); then
  stress_tests build/release
else
  stage "g++ tests"
  ctest --test-dir build/release --output-on-failure -j "$jobs"
  stage "benchmark smoke run"
  for bench in build/release/bench/*_bench; do
    "$bench" --benchmark_min_time=0.01 > /dev/null
    echo "ok: $bench"
  done
fi

asan_env=(ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1)
stage "clang ASan+UBSan build"
cmake -S . -B build/asan -G Ninja -DCMAKE_BUILD_TYPE=Debug -DCMAKE_CXX_COMPILER=clang++-14 \
  -DKM_SANITIZE=address -DKM_BUILD_BENCH=OFF -DKM_BUILD_FUZZ=ON -DKM_WERROR=ON
ninja -C build/asan
if ((repeat > 0)); then
  stress_tests build/asan "${asan_env[@]}"
else
  stage "ASan+UBSan tests"
  env "${asan_env[@]}" ctest --test-dir build/asan --output-on-failure -j "$jobs"

  stage "fuzzing, ${KM_FUZZ_SECONDS:-20} s per target"
  # tests/fuzz/seeds.txt: "<target> <seed dir or file under ../shared/fixtures> ..."
  fuzz_work=$(mktemp -d)
  for fuzzer in build/asan/tests/*_fuzz; do
    [[ -x $fuzzer ]] || continue
    name=$(basename "$fuzzer")
    seeds=()
    for seed in $(awk -v n="$name" '$1 == n { $1 = ""; print }' tests/fuzz/seeds.txt 2>/dev/null); do
      seeds+=("$root/../shared/fixtures/$seed")
    done
    mkdir -p "$fuzz_work/$name"
    if ! ASAN_OPTIONS=detect_leaks=1 "$fuzzer" -max_total_time="${KM_FUZZ_SECONDS:-20}" \
      -rss_limit_mb=2048 -max_len=1048576 -print_final_stats=1 -artifact_prefix="$fuzz_work/" \
      "$fuzz_work/$name" "${seeds[@]}" > "$fuzz_work/$name.log" 2>&1; then
      cat "$fuzz_work/$name.log"
      echo "FAILED: $name found a crash (reproducer printed above)"
      exit 1
    fi
    grep -E "stat::number_of_executed_units|stat::peak_rss_mb" "$fuzz_work/$name.log" || true
    echo "ok: $name"
  done
  rm -rf "$fuzz_work"
fi

stage "clang TSan build (ring, interning, pipeline, clock, scheduler, push exporter, HTTP server, Kubernetes watches)"
cmake -S . -B build/tsan -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DCMAKE_CXX_COMPILER=clang++-14 -DKM_SANITIZE=thread -DKM_TEST_SUBSET=tsan -DKM_BUILD_BENCH=OFF -DKM_WERROR=ON
ninja -C build/tsan
if ((repeat > 0)); then
  stress_tests build/tsan TSAN_OPTIONS=halt_on_error=1
else
  stage "TSan tests"
  TSAN_OPTIONS=halt_on_error=1 ctest --test-dir build/tsan --output-on-failure -j "$jobs"
fi

stage "all configurations passed"
