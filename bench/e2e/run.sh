#!/usr/bin/env bash
# Side-by-side benchmark: kubemetrics-agent vs vmagent vs Prometheus (agent
# mode) on the same kube-state-metrics- and node-exporter-shaped targets,
# remote-writing to a real VictoriaMetrics sink. Everything on 127.0.0.1.
#
#   bench/e2e/run.sh              # 10,000 pods, 10 s interval, 120 s per contestant
#   bench/e2e/run.sh --quick      # smoke test: 2,000 pods, 30 s
#   bench/e2e/run.sh --memory     # 1M active series (33,000 pods, 30 s interval): peak RSS
#   bench/e2e/run.sh --profile    # the agent alone under callgrind, top functions
#   bench/e2e/run.sh --help       # every option (--pods, --window, --interval, ...)
#
# Needs the Debian packages victoria-metrics (vmagent, victoria-metrics),
# prometheus, python3, valgrind (for --profile). Builds the agent (Release)
# into build-e2ebench/ when it is missing; set AGENT_BIN to use another binary.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
repo="$(cd "$here/../.." && pwd)"

for tool in vmagent victoria-metrics prometheus python3; do
  command -v "$tool" >/dev/null || { echo "run.sh: $tool not found (apt-get install victoria-metrics prometheus python3)" >&2; exit 1; }
done

agent="${AGENT_BIN:-$repo/build-e2ebench/agent/kubemetrics-agent}"
if [[ ! -x "$agent" ]]; then
  echo "run.sh: building $agent (Release) ..." >&2
  cmake -S "$repo" -B "$repo/build-e2ebench" -G Ninja -DCMAKE_BUILD_TYPE=Release \
    -DKM_BUILD_TESTS=OFF -DKM_BUILD_BENCH=OFF >/dev/null
  ninja -j2 -C "$repo/build-e2ebench" kubemetrics-agent
fi

# e2e.py kills every process it started when it ends (or is interrupted);
# each of them also gets SIGKILL should e2e.py die first.
AGENT_BIN="$agent" exec python3 "$here/e2e.py" "$@"
