#!/usr/bin/env bash
# The main job (README), offline on CPU: build the embedded tiny default model, LoRA-SFT it on the
# shipped demo data, export the merged model (carrying the exact chat template used in training),
# and answer one chat turn from it.
set -euo pipefail
cd "$(dirname "$0")/.."
[ -x .venv/bin/tunesmith ] || bash scripts/install.sh
TS=.venv/bin/tunesmith
mkdir -p saves/quickstart
.venv/bin/python - <<'PY'
from tunesmith.testing import build_tiny_model
# a random Qwen3-architecture model, small enough for a CPU, large enough to memorise the demo
path = build_tiny_model("qwen3", "saves/quickstart/base", hidden_size=512, num_layers=2, intermediate_size=1024)
print(f"[1/4] tiny base model: {path}")
PY
echo "[2/4] LoRA fine-tuning on src/tunesmith/demo/demo_sft.json"
$TS train examples/quickstart/train.yaml
echo "[3/4] merging the adapter into the base model"
$TS export examples/quickstart/export.yaml
echo "[4/4] one chat turn with the merged model"
$TS chat examples/quickstart/chat.yaml --query "Who are you?"
echo
echo "base model:      saves/quickstart/base"
echo "LoRA adapter:    saves/quickstart/lora (run_summary.json, trainer_state.json, training_loss.png)"
echo "merged model:    saves/quickstart/merged (chat_template = the template used in training)"
