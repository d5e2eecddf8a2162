#!/usr/bin/env bash
# Create .venv and install tunesmith with its test tools. On machines without CUDA, torch is pinned to
# the CPU build 2.13.0 first (an unpinned torch would pull gigabytes of CUDA packages).
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  "$PY" -m venv .venv
fi
.venv/bin/python -m pip install -q --upgrade pip
if ! command -v nvidia-smi >/dev/null 2>&1; then
  .venv/bin/python -m pip install -q "torch==2.13.0"
fi
.venv/bin/python -m pip install -q -e ".[dev,serve,webui]"
# Headless Chromium for the web chat's browser test (Debian's build; playwright drives it, never downloads one).
if command -v apt-get >/dev/null && [ "$(id -u)" = 0 ] && ! command -v chromium >/dev/null; then (apt-get update -q >/dev/null && apt-get install -y -q chromium >/dev/null) || true; fi
