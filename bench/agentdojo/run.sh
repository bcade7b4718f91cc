#!/usr/bin/env bash
# Reproduce docs/benchmark.md's table: AgentDojo v1.2.1's four suites replayed through bundles
# compiled from bench/agentdojo/policies/<suite>, each decided by a real `opa run --server`.
#
#   AGENTDOJO_SRC=DIR bench/agentdojo/run.sh      (DIR filled by bench/agentdojo/setup.sh)
#   PYTHON=.venv/bin/python3 bench/agentdojo/run.sh   (after pip install agentdojo==0.1.35)
#
# Writes bench/agentdojo/results/results.{json,md} (override with OUT=DIR) and prints the
# table. agentctl and opa are built from this module into $BIN (default
# ${TMPDIR:-/tmp}/agentctl-bench). Extra arguments go to harness.py (e.g. --suites banking).
set -euo pipefail
cd "$(dirname "$0")/../.."
bin="${BIN:-${TMPDIR:-/tmp}/agentctl-bench}"
mkdir -p "$bin"
go build -o "$bin/agentctl" ./cmd/agentctl
go build -o "$bin/opa" github.com/open-policy-agent/opa
export PYTHONDONTWRITEBYTECODE=1
exec "${PYTHON:-python3}" bench/agentdojo/harness.py --agentctl "$bin/agentctl" --opa "$bin/opa" \
	--out "${OUT:-bench/agentdojo/results}" "$@"
