#!/usr/bin/env bash
# README command (1): install dependencies, build, and run the agent on its
# built-in default configuration (host metrics, /metrics on 0.0.0.0:9464).
# Extra arguments go to the agent, e.g. scripts/run.sh --listen 127.0.0.1:9464
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
cmake -S . -B build/release -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DKM_BUILD_TESTS=OFF -DKM_BUILD_BENCH=OFF
ninja -C build/release kubemetrics-agent
echo "run: starting build/release/agent/kubemetrics-agent; try: curl localhost:9464/metrics"
exec build/release/agent/kubemetrics-agent "$@"
