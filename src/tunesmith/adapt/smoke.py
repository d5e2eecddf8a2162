"""One LoRA training step and one generation on a truncated (few-layer) copy of the model, on CPU."""

from __future__ import annotations

import json
import logging
import shutil
from pathlib import Path
from typing import Any

import torch

from tunesmith.adapt.report import Check

logger = logging.getLogger(__name__)

SMOKE_CONVERSATION = [
    {"role": "user", "content": "What is the capital of France?"},
    {"role": "assistant", "content": "The capital of France is Paris."},
]


def _truncate_config(config: dict[str, Any], layers: int) -> dict[str, Any]:
    """``config`` with at most ``layers`` decoder (and vision) layers; per-layer lists cut to match."""

    def cut(cfg: dict[str, Any]) -> dict[str, Any]:
        out = dict(cfg)
        for key in ("num_hidden_layers", "depth", "num_layers"):
            n = out.get(key)
            if isinstance(n, int) and n > layers:
                out[key] = layers
                for k, v in cfg.items():
                    if isinstance(v, list) and len(v) == n:
                        out[k] = v[:layers]
        for k, v in cfg.items():
            if isinstance(v, dict) and k.endswith("_config") and k != "quantization_config":
                out[k] = cut(v)
        return out

    return cut(config)


def truncated_copy(model_dir: Path, work_dir: Path, layers: int = 2) -> Path:
    """A copy of ``model_dir`` whose config keeps ``layers`` layers (the weights of the others are
    ignored on load); weights are linked, not copied, where possible."""
    out = work_dir / "truncated"
    out.mkdir(parents=True, exist_ok=True)
    for item in model_dir.iterdir():
        if item.is_file() and item.name != "config.json":
            target = out / item.name
            if not target.exists():
                try:
                    target.symlink_to(item.resolve())
                except OSError:
                    shutil.copy2(item, target)
    config = json.loads((model_dir / "config.json").read_text(encoding="utf-8"))
    (out / "config.json").write_text(json.dumps(_truncate_config(config, layers), indent=2), encoding="utf-8")
    return out


def load_for_smoke(model_dir: Path) -> Any:
    import transformers

    from tunesmith.model.composite import model_auto_class

    config = json.loads((model_dir / "config.json").read_text(encoding="utf-8"))
    auto = getattr(transformers, model_auto_class(config))
    return auto.from_pretrained(str(model_dir), dtype=torch.float32)


def train_step(model: Any, tokenizer: Any, template: Any) -> tuple[Check, Any]:
    """Apply a LoRA adapter (the model layer's own path), take one optimizer step on one rendered
    conversation; passes when the loss is finite and the adapter weights changed."""
    from tunesmith.config import FinetuneConfig, ModelConfig
    from tunesmith.model.finetune import apply_finetuning
    from tunesmith.templates import Conversation, encode_rendered

    encoded = encode_rendered(tokenizer, template.render(Conversation.from_openai(SMOKE_CONVERSATION)))
    if not any(label != -100 for label in encoded.labels):
        return Check("train step", "fail", "the rendered example has no trained (assistant) tokens"), model
    model.train()
    model = apply_finetuning(
        model, FinetuneConfig(finetuning_type="lora", lora_rank=4), ModelConfig(), is_trainable=True
    )
    params = [p for p in model.parameters() if p.requires_grad]
    before = [p.detach().clone() for p in params]
    optimizer = torch.optim.AdamW(params, lr=1e-2)
    ids = torch.tensor([encoded.input_ids])
    labels = torch.tensor([encoded.labels])
    loss = model(input_ids=ids, attention_mask=torch.ones_like(ids), labels=labels).loss
    loss.backward()
    optimizer.step()
    changed = sum(not torch.equal(a, p.detach()) for a, p in zip(before, params, strict=True))
    if not torch.isfinite(loss) or changed == 0:
        return Check("train step", "fail", f"loss {loss.item():.4f}, {changed} tensors changed"), model
    detail = f"LoRA step on {len(encoded.input_ids)} tokens: loss {loss.item():.4f}, {changed}/{len(params)} tensors updated"
    return Check("train step", "pass", detail), model


def generate(model: Any, tokenizer: Any, template: Any) -> Check:
    from tunesmith.templates import Conversation

    prompt = template.render(
        Conversation.from_openai(SMOKE_CONVERSATION[:1]), add_generation_prompt=True
    ).text
    ids = tokenizer(prompt, add_special_tokens=False, return_tensors="pt")
    model.eval()
    with torch.no_grad():
        out = model.generate(**ids, max_new_tokens=4, do_sample=False, pad_token_id=tokenizer.pad_token_id)
    new = out[0, ids["input_ids"].shape[1] :].tolist()
    if not new:
        return Check("generation", "fail", "generate returned no new tokens")
    return Check("generation", "pass", f"{len(new)} tokens generated greedily: {tokenizer.decode(new)!r}")
