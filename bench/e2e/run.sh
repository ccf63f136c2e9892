#!/usr/bin/env bash
# Side-by-side benchmark: kubemetrics-agent vs vmagent vs Prometheus (agent
# mode) on the same kube-state-metrics- and node-exporter-shaped targets,
# remote-writing to a real VictoriaMetrics sink. Everything on 127.0.0.1.
# The contestants run in interleaved rounds (agent, vmagent, prometheus, then
# again) and the table shows each one's median over its runs.
#
#   bench/e2e/run.sh              # 10,000 pods, 10 s interval, 90 s per run, 3 rounds (~40 min)
#   bench/e2e/run.sh --quick      # smoke test: 2,000 pods, 30 s, 1 round (~6 min)
#   bench/e2e/run.sh --memory     # 1M active series (33,000 pods, 30 s interval), 1 round (~26 min)
#   (each round runs both scenarios: tagged = cluster and node added by every
#   contestant, plain = cluster only; --scenarios picks one)
#   bench/e2e/run.sh --profile    # the agent alone under callgrind, top functions
#   bench/e2e/run.sh --listeners  # proxy role: Wavefront lines and remote write pushed to
#                                 # the agent, remote write vs vmagent (~8 min; listeners.py)
#   bench/e2e/run.sh --help       # every option (--repeat, --pods, --window, --interval, ...)
#
# Needs the Debian packages victoria-metrics (vmagent, victoria-metrics),
# prometheus, python3, valgrind (for --profile). Always runs the incremental
# ninja build of kubemetrics-agent (Release) in build-e2ebench/ first (a no-op
# when it is up to date), so a stale binary is never measured; set AGENT_BIN
# to measure another binary as it is. The results record the commit and
# whether the tree had uncommitted changes.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
repo="$(cd "$here/../.." && pwd)"

for a in "$@"; do
  if [[ "$a" == "-h" || "$a" == "--help" ]]; then
    [[ " $* " == *" --listeners "* ]] && exec python3 "$here/listeners.py" --help
    exec python3 "$here/e2e.py" --help
  fi
done

for tool in vmagent victoria-metrics prometheus python3 cmake ninja; do
  command -v "$tool" >/dev/null || { echo "run.sh: $tool not found (apt-get install victoria-metrics prometheus python3 cmake ninja-build)" >&2; exit 1; }
done

if [[ -n "${AGENT_BIN:-}" ]]; then
  agent="$AGENT_BIN"
  export KM_E2E_BUILT=0
else
  build="$repo/build-e2ebench"
  agent="$build/agent/kubemetrics-agent"
  if [[ ! -f "$build/build.ninja" ]]; then
    echo "run.sh: configuring $build (Release) ..." >&2
    cmake -S "$repo" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release \
      -DKM_BUILD_TESTS=OFF -DKM_BUILD_BENCH=OFF >/dev/null
  fi
  echo "run.sh: ninja -C $build kubemetrics-agent (incremental) ..." >&2
  ninja -j2 -C "$build" kubemetrics-agent >&2
  export KM_E2E_BUILT=1
fi

# --listeners: the proxy-role load bench (listeners.py) instead of the scrape bench.
for a in "$@"; do
  [[ "$a" == "--listeners" ]] && AGENT_BIN="$agent" exec python3 "$here/listeners.py" "$@"
done

# e2e.py kills every process it started when it ends (or is interrupted);
# each of them also gets SIGKILL should e2e.py die first.
AGENT_BIN="$agent" exec python3 "$here/e2e.py" "$@"
