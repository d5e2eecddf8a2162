"""Stages rm, dpo (sigmoid, robust, orpo, simpo, cpo) and kto end to end through ``run_train`` on a tiny model.

The data: 16 prompts "Tell me about X." whose chosen answer talks about X and whose rejected
answer is always the same refusal (kto: the even rows desirable, the odd ones the refusal).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.train.conftest import log_history, logged_losses

SIZE = {"hidden_size": 128, "num_layers": 2, "intermediate_size": 256}
THINGS = [
    "apples",
    "rivers",
    "stars",
    "music",
    "bread",
    "trains",
    "rain",
    "cats",
    "books",
    "snow",
    "tea",
    "bridges",
    "clocks",
    "maps",
    "boats",
    "lamps",
]
REFUSAL = "No. Go away now."


def _good(thing: str) -> str:
    return f"Sure: {thing} are lovely and I like {thing}."


@pytest.fixture(scope="module")
def pref_data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    d = tmp_path_factory.mktemp("pref_data")
    pairs = [
        {
            "conversations": [{"from": "human", "value": f"Tell me about {t}."}],
            "chosen": {"from": "gpt", "value": _good(t)},
            "rejected": {"from": "gpt", "value": REFUSAL},
        }
        for t in THINGS
    ]
    kto = [
        {
            "messages": [
                {"role": "user", "content": f"Tell me about {t}."},
                {"role": "assistant", "content": _good(t) if i % 2 == 0 else REFUSAL},
            ],
            "label": i % 2 == 0,
        }
        for i, t in enumerate(THINGS)
    ]
    (d / "pairs.json").write_text(json.dumps(pairs))
    (d / "kto.json").write_text(json.dumps(kto))
    info = {
        "pairs": {
            "file_name": "pairs.json",
            "ranking": True,
            "formatting": "sharegpt",
            "columns": {"messages": "conversations", "chosen": "chosen", "rejected": "rejected"},
        },
        "kto": {
            "file_name": "kto.json",
            "formatting": "sharegpt",
            "columns": {"messages": "messages", "kto_tag": "label"},
            "tags": {
                "role_tag": "role",
                "content_tag": "content",
                "user_tag": "user",
                "assistant_tag": "assistant",
            },
        },
    }
    (d / "dataset_info.json").write_text(json.dumps(info))
    return d


def _config(
    model_dir: Path, data_dir: Path, output_dir: Path, stage: str, **overrides: Any
) -> dict[str, Any]:
    base: dict[str, Any] = {
        "model_name_or_path": str(model_dir),
        "stage": stage,
        "do_train": True,
        "finetuning_type": "lora",
        "dataset": "kto" if stage == "kto" else "pairs",
        "dataset_dir": str(data_dir),
        "cutoff_len": 64,
        "output_dir": str(output_dir),
        "per_device_train_batch_size": 8,
        "logging_steps": 1,
        "save_strategy": "no",
        "max_steps": 8,
        "learning_rate": 1e-2,
        "seed": 0,
        "report_to": "none",
        "disable_tqdm": True,
    }
    base.update(overrides)
    return base


def _run(model_dir: Path, data_dir: Path, output_dir: Path, stage: str, **overrides: Any):
    """``run_train`` from a YAML file holding the config (as ``tunesmith train x.yaml`` does)."""
    from tunesmith.config import load_config
    from tunesmith.train.workflow import run_train

    path = output_dir.parent / f"{output_dir.name}.yaml"
    path.write_text(yaml.safe_dump(_config(model_dir, data_dir, output_dir, stage, **overrides)))
    return run_train(load_config([str(path)], verb="train"))


def _series(output_dir: Path, key: str) -> list[float]:
    return [entry[key] for entry in log_history(output_dir) if key in entry and "loss" in entry]


def _summary(output_dir: Path) -> dict[str, Any]:
    return json.loads((output_dir / "run_summary.json").read_text())


# ---------------------------------------------------------------------------------- data


def test_preference_datasets_have_their_columns(tiny_model, pref_data, tmp_path) -> None:
    from tunesmith.config import load_config
    from tunesmith.data.pipeline import build_datasets
    from tunesmith.data.report import DataError
    from tunesmith.families import build_catalog
    from tunesmith.families.resolve import choose_template
    from tunesmith.model import load_tokenizer
    from tunesmith.templates.encode import IGNORE_INDEX

    model_dir = tiny_model("qwen3", **SIZE)
    cfg = load_config([], verb="train", base=_config(model_dir, pref_data, tmp_path / "o", "dpo"))
    tok = load_tokenizer(cfg.model)
    template = choose_template(build_catalog(()), tok, name=None, model_dir=str(model_dir)).template
    pairs = build_datasets(cfg, tok, template, stage="dpo")
    assert pairs.train.column_names == [
        "chosen_input_ids",
        "chosen_labels",
        "rejected_input_ids",
        "rejected_labels",
    ]
    assert pairs.stats["train"].sequences == 16 and len(pairs.train) == 16
    row = pairs.train[0]
    chosen = tok.decode([t for t in row["chosen_labels"] if t != IGNORE_INDEX])
    rejected = tok.decode([t for t in row["rejected_labels"] if t != IGNORE_INDEX])
    # qwen3's template writes an empty think block at the start of the final answer
    assert chosen.endswith(_good("apples") + "<|im_end|>") and rejected.endswith(REFUSAL + "<|im_end|>")
    kto_cfg = load_config([], verb="train", base=_config(model_dir, pref_data, tmp_path / "o", "kto"))
    feedback = build_datasets(kto_cfg, tok, template, stage="kto")
    assert feedback.train.column_names == ["input_ids", "labels", "prompt_len", "kto_label"]
    assert feedback.train["kto_label"] == [i % 2 == 0 for i in range(16)]
    packed = load_config(
        [], verb="train", base=_config(model_dir, pref_data, tmp_path / "o", "dpo", packing=True)
    )
    with pytest.raises(DataError, match="packing"):
        build_datasets(packed, tok, template, stage="dpo")


# ---------------------------------------------------------------------------------- rm


def test_rm_learns_every_pair_and_reloads_with_the_same_scores(tiny_model, pref_data, tmp_path) -> None:
    import torch
    from peft import PeftModel
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    from tunesmith.train.reward import load_reward_model

    model_dir = tiny_model("qwen3", **SIZE)
    out = tmp_path / "rm"
    result = _run(model_dir, pref_data, out, "rm", do_eval=True, eval_dataset="pairs")
    assert result.summary["eval"]["eval_rewards/accuracies"] == 1.0
    assert _summary(out)["stage"] == "rm" and _summary(out)["global_step"] == 8
    saved = json.loads((out / "adapter_config.json").read_text())
    assert saved["task_type"] == "SEQ_CLS" and "score" in saved["modules_to_save"]

    rm = load_reward_model(out)
    chats = [
        [{"role": "user", "content": f"Tell me about {t}."}, {"role": "assistant", "content": answer}]
        for t in THINGS
        for answer in (_good(t), REFUSAL)
    ]
    scores = rm.score(chats)
    assert all(c > r for c, r in zip(scores[::2], scores[1::2], strict=True))

    # plain transformers + peft, one unpadded sequence at a time
    tok = AutoTokenizer.from_pretrained(str(out))
    base = AutoModelForSequenceClassification.from_pretrained(str(model_dir), num_labels=1)
    plain = PeftModel.from_pretrained(base, str(out)).eval()
    for chat, score in zip(chats[:4], scores[:4], strict=True):
        ids = tok(
            tok.apply_chat_template(chat, tokenize=False), add_special_tokens=False, return_tensors="pt"
        )
        with torch.no_grad():
            value = plain(**ids).logits.item()
        assert value == pytest.approx(score, abs=1e-4)
    texts = [rm.tokenizer.apply_chat_template(c, tokenize=False) for c in chats[:4]]
    assert rm.score(texts, batch_size=3) == pytest.approx(scores[:4], abs=1e-4)


# ---------------------------------------------------------------------------------- dpo family


def test_dpo_sigmoid_raises_margin_and_chosen_logratio_and_exports(tiny_model, pref_data, tmp_path) -> None:
    import torch
    from transformers import AutoModelForCausalLM

    from tunesmith.config import load_config
    from tunesmith.model import export_model

    model_dir = tiny_model("qwen3", **SIZE)
    out = tmp_path / "dpo"
    result = _run(model_dir, pref_data, out, "dpo", pref_loss="sigmoid", pref_beta=0.1)
    margins, chosen = _series(out, "rewards/margins"), _series(out, "rewards/chosen")
    assert margins[0] == pytest.approx(0.0, abs=1e-5)  # the adapter starts at zero: policy == reference
    assert margins[-1] > margins[0] + 1.0 and chosen[-1] > chosen[0] + 0.2
    assert _series(out, "rewards/accuracies")[-1] == 1.0
    summary = _summary(out)
    assert summary["objective"] == "sigmoid" and "adapter disabled" in summary["reference"]
    assert summary == json.loads(json.dumps(result.summary, default=str))

    export_dir = tmp_path / "dpo_merged"
    export_model(
        load_config(
            [],
            verb="export",
            base={
                "model_name_or_path": str(model_dir),
                "adapter_name_or_path": str(out),
                "export_dir": str(export_dir),
                "export_dtype": "float32",
            },
        )
    )
    merged = AutoModelForCausalLM.from_pretrained(str(export_dir)).eval()
    from peft import PeftModel

    policy = PeftModel.from_pretrained(AutoModelForCausalLM.from_pretrained(str(model_dir)), str(out)).eval()
    ids = torch.tensor([[5, 17, 42, 99, 7]])
    with torch.no_grad():
        torch.testing.assert_close(merged(ids).logits, policy(ids).logits, atol=1e-4, rtol=1e-4)


@pytest.mark.parametrize(("loss", "beta"), [("orpo", 0.1), ("simpo", 2.0), ("cpo", 0.1)])
def test_reference_free_losses_decrease(tiny_model, pref_data, tmp_path, loss: str, beta: float) -> None:
    out = tmp_path / loss
    result = _run(
        tiny_model("qwen3", **SIZE), pref_data, out, "dpo", pref_loss=loss, pref_beta=beta, max_steps=6
    )
    losses = logged_losses(out)
    assert len(losses) == 6 and losses[-1] < 0.9 * losses[0]
    assert result.summary["objective"] == loss and result.summary["reference"] == "none"
    assert _summary(out)["stage"] == "dpo"


def test_precomputed_reference_log_probs_match_live_reference(tiny_model, pref_data, tmp_path) -> None:
    model_dir = tiny_model("qwen3", **SIZE)
    live = tmp_path / "live"
    _run(model_dir, pref_data, live, "dpo", max_steps=4)
    pre = tmp_path / "pre"
    result = _run(model_dir, pref_data, pre, "dpo", max_steps=4, precompute_ref_log_probs=True)
    assert "precomputed" in result.summary["reference"]
    assert logged_losses(pre) == pytest.approx(logged_losses(live), abs=1e-5)
    assert _series(pre, "rewards/margins") == pytest.approx(_series(live, "rewards/margins"), abs=1e-5)
    explicit = _run(
        model_dir,
        pref_data,
        tmp_path / "explicit",
        "dpo",
        max_steps=1,
        ref_model=str(model_dir),
        precompute_ref_log_probs=True,
    )
    # the explicit reference model is freed once its log-probs are stored
    assert explicit.summary["parameters_in_memory"] == result.summary["parameters_in_memory"]


def test_robust_dpo_selected_from_config_raises_the_margin(tiny_model, pref_data, tmp_path) -> None:
    out = tmp_path / "robust"
    result = _run(
        tiny_model("qwen3", **SIZE), pref_data, out, "dpo", pref_loss="robust", dpo_label_smoothing=0.1
    )
    assert result.summary["objective"] == "robust"
    margins = _series(out, "rewards/margins")
    assert margins[0] == pytest.approx(0.0, abs=1e-5) and margins[-1] > margins[0]


# ---------------------------------------------------------------------------------- kto


def test_kto_raises_the_desirable_reward(tiny_model, pref_data, tmp_path) -> None:
    out = tmp_path / "kto"
    _run(tiny_model("qwen3", **SIZE), pref_data, out, "kto", pref_beta=0.1)
    chosen, rejected = _series(out, "rewards/chosen"), _series(out, "rewards/rejected")
    assert chosen[0] == pytest.approx(0.0, abs=1e-5)
    assert chosen[-1] > chosen[0] + 0.5 and rejected[-1] < rejected[0]
    losses = logged_losses(out)
    assert losses[-1] < losses[0]
    summary = _summary(out)
    assert summary["stage"] == "kto" and summary["data"]["train"]["sequences"] == 16
    assert (out / "adapter_model.safetensors").is_file()


# ---------------------------------------------------------------------------------- memory


def _train_in_subprocess(config: dict[str, Any], tmp_path: Path, name: str) -> dict[str, Any]:
    path = tmp_path / f"{name}.yaml"
    path.write_text(yaml.safe_dump(config))
    env = {**os.environ, "TUNESMITH_CACHE": str(tmp_path / "cache")}
    code = "import sys; from tunesmith.config import load_config; from tunesmith.train.workflow import run_train; "
    code += "run_train(load_config([sys.argv[1]], verb='train'))"
    proc = subprocess.run(
        [sys.executable, "-c", code, str(path)],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    return _summary(Path(config["output_dir"]))


@pytest.mark.slow
def test_lora_dpo_holds_one_copy_of_the_weights(tiny_model, pref_data, tmp_path) -> None:
    """Peak RSS of two fresh processes: LoRA DPO (reference = adapter disabled) against the same run
    with an explicit ref_model. A 32k-row untied vocabulary at width 1024 makes one copy of the weights
    about 270 MB (float32): far above what importing the libraries costs, so the peak sees it."""
    model_dir = tiny_model("llama", hidden_size=1024, num_layers=2, intermediate_size=1024, vocab_size=32768)
    common = {"max_steps": 1, "per_device_train_batch_size": 2, "logging_steps": 1}
    lora = _train_in_subprocess(
        _config(model_dir, pref_data, tmp_path / "lora", "dpo", **common), tmp_path, "lora"
    )
    explicit = _train_in_subprocess(
        _config(model_dir, pref_data, tmp_path / "ref", "dpo", ref_model=str(model_dir), **common),
        tmp_path,
        "ref",
    )
    assert "adapter disabled" in lora["reference"] and explicit["reference"].startswith("ref_model")
    weights = 2 * 32768 * 1024  # embeddings + untied head
    assert explicit["parameters_in_memory"] - lora["parameters_in_memory"] > weights
    # resident memory with the models loaded (the lifetime peak can be set earlier, while importing
    # libraries); RSS need not see the whole copy (file pages may be shared): a quarter is safe
    held = explicit["memory_at_end_mb"] - lora["memory_at_end_mb"]
    assert held > 0.25 * weights * 4 / 2**20, (explicit, lora)


def test_lora_kto_holds_one_copy_and_an_explicit_ref_model_a_second(tiny_model, pref_data, tmp_path) -> None:
    """KTO shares the reference logic of dpo: LoRA alone keeps one copy of the weights (the reference
    is the adapter-disabled policy); an explicit ref_model adds a whole second copy."""
    model_dir = tiny_model("qwen3", **SIZE)
    common = {"max_steps": 1, "per_device_train_batch_size": 2}
    lora = _run(model_dir, pref_data, tmp_path / "lora", "kto", **common).summary
    explicit = _run(model_dir, pref_data, tmp_path / "ref", "kto", ref_model=str(model_dir), **common).summary
    assert "adapter disabled" in lora["reference"] and explicit["reference"].startswith("ref_model")
    from transformers import AutoModelForCausalLM

    base = sum(p.numel() for p in AutoModelForCausalLM.from_pretrained(str(model_dir)).parameters())
    assert explicit["parameters_in_memory"] - lora["parameters_in_memory"] == base
