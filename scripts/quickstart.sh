#!/usr/bin/env bash
# The main job (README), offline: build the embedded tiny default model, check that the template we
# train with renders exactly like the model's own chat template, and show a rendered conversation
# with its trained tokens. (Fine-tuning, export and chat join this script with the training spine.)
set -euo pipefail
cd "$(dirname "$0")/.."
[ -x .venv/bin/tunesmith ] || bash scripts/install.sh
OUT=${OUT:-saves/quickstart}
mkdir -p "$OUT"
.venv/bin/python - "$OUT" <<'PY'
import json, sys
from pathlib import Path
from tunesmith.testing import build_tiny_model
out = Path(sys.argv[1])
model = build_tiny_model("qwen3", out / "base")
conv = [
    {"role": "system", "content": "You are a helpful assistant."},
    {"role": "user", "content": "What's the capital of France?"},
    {"role": "assistant", "content": "Paris.", "reasoning_content": "The capital of France is Paris."},
]
(out / "conversation.json").write_text(json.dumps(conv, indent=2))
print(f"tiny model (qwen3 architecture, random weights): {model}")
PY
.venv/bin/tunesmith template check --model "$OUT/base"
.venv/bin/tunesmith template render --model "$OUT/base" --messages "$OUT/conversation.json"
echo "quickstart outputs in $OUT/"
