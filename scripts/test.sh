#!/usr/bin/env bash
# The test command (README): install if needed, then the fast tier, then the slow tier.
set -euo pipefail
cd "$(dirname "$0")/.."
[ -x .venv/bin/tunesmith ] || bash scripts/install.sh
.venv/bin/ruff check src tests bench
.venv/bin/ruff format --check src tests bench
.venv/bin/python -m pytest -q -m "not slow and not gpu" "$@"
set +e
.venv/bin/python -m pytest -q -m "slow and not gpu" "$@"
rc=$?
set -e
# exit code 5: no test carries the slow marker yet
if [ "$rc" -ne 0 ] && [ "$rc" -ne 5 ]; then exit "$rc"; fi
