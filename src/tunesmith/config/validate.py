"""Checks of single values' ranges and of combinations of values, after coercion.

All problems are collected and reported together, each naming its key(s), the value and the
source that set it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from tunesmith.config.errors import ConfigError
from tunesmith.config.run import RunConfig

MODEL_VERBS: frozenset[str] = frozenset({"train", "chat", "predict", "serve", "webchat", "export"})
"""Verbs that cannot run without model_name_or_path."""


class _Problems:
    def __init__(self, cfg: RunConfig, origins: Mapping[str, str]) -> None:
        self.cfg = cfg
        self.origins = origins
        self.lines: list[str] = []

    def _where(self, *keys: str) -> str:
        given = [f"{k} from {self.origins[k]}" for k in keys if k in self.origins]
        return f" ({'; '.join(given)})" if given else ""

    def value(self, key: str, ok: bool, requirement: str) -> None:
        """Record that ``key`` must satisfy ``requirement`` unless ``ok``."""
        if not ok:
            self.lines.append(f"{key}: {self.cfg.get(key)!r} {requirement}{self._where(key)}")

    def combo(self, ok: bool, message: str, *keys: str) -> None:
        """Record a problem about several keys unless ``ok``."""
        if not ok:
            self.lines.append(message + self._where(*keys))


def _check_model_and_data(p: _Problems, cfg: RunConfig) -> None:
    m, d = cfg.model, cfg.data
    p.value(
        "quantization_bit", m.quantization_bit in (None, 2, 3, 4, 5, 6, 8), "is not one of 2, 3, 4, 5, 6, 8"
    )
    p.value("image_min_pixels", m.image_min_pixels > 0, "must be > 0")
    p.value("image_max_pixels", m.image_max_pixels >= m.image_min_pixels, "must be >= image_min_pixels")
    p.value("video_fps", m.video_fps > 0, "must be > 0")
    p.value("cutoff_len", d.cutoff_len > 0, "must be > 0")
    p.value("max_samples", d.max_samples is None or d.max_samples > 0, "must be > 0")
    p.value("val_size", d.val_size >= 0, "must be >= 0")
    p.value(
        "val_size",
        d.val_size < 1 or float(d.val_size).is_integer(),
        "must be a fraction < 1 or a whole count",
    )
    p.value("buffer_size", d.buffer_size > 0, "must be > 0")
    p.value(
        "preprocessing_num_workers",
        d.preprocessing_num_workers is None or d.preprocessing_num_workers >= 1,
        "must be >= 1",
    )
    p.value("preprocessing_batch_size", d.preprocessing_batch_size >= 1, "must be >= 1")
    if d.interleave_probs:
        p.combo(
            d.mix_strategy != "concat",
            "interleave_probs is given but mix_strategy is concat; use interleave_under or interleave_over",
            "interleave_probs",
            "mix_strategy",
        )
        p.combo(
            len(d.interleave_probs) == len(d.dataset),
            f"interleave_probs has {len(d.interleave_probs)} values for {len(d.dataset)} datasets",
            "interleave_probs",
            "dataset",
        )
        p.value(
            "interleave_probs",
            all(x >= 0 for x in d.interleave_probs) and sum(d.interleave_probs) > 0,
            "must be >= 0 and not all 0",
        )
    if d.streaming:
        p.combo(
            not (cfg.train.do_train and cfg.train.max_steps <= 0),
            "streaming needs max_steps > 0 when training (a stream has no known length)",
            "streaming",
            "max_steps",
        )
        p.value("val_size", d.val_size == 0 or d.val_size >= 1, "must be a whole count when streaming")


def _check_finetune(p: _Problems, cfg: RunConfig) -> None:
    f, r = cfg.finetune, cfg.rlhf
    p.value("lora_rank", f.lora_rank > 0, "must be > 0")
    p.value("lora_alpha", f.lora_alpha is None or f.lora_alpha > 0, "must be > 0")
    p.value("lora_dropout", 0 <= f.lora_dropout < 1, "must be in [0, 1)")
    p.value("loraplus_lr_ratio", f.loraplus_lr_ratio is None or f.loraplus_lr_ratio > 0, "must be > 0")
    if f.finetuning_type == "freeze":
        p.value("freeze_trainable_layers", f.freeze_trainable_layers != 0, "must not be 0 with freeze tuning")
    p.combo(
        not (f.create_new_adapter and f.finetuning_type != "lora"),
        "create_new_adapter needs finetuning_type lora",
        "create_new_adapter",
        "finetuning_type",
    )
    p.combo(
        not (cfg.model.quantization_bit is not None and cfg.train.do_train and f.finetuning_type != "lora"),
        f"quantization_bit is set: training a quantized model needs finetuning_type lora, "
        f"not {f.finetuning_type}",
        "quantization_bit",
        "finetuning_type",
    )
    p.value("pref_beta", r.pref_beta > 0, "must be > 0")
    p.value("pref_ftx", r.pref_ftx >= 0, "must be >= 0")
    p.value("dpo_label_smoothing", 0 <= r.dpo_label_smoothing <= 0.5, "must be in [0, 0.5]")
    p.value("ppo_epochs", r.ppo_epochs >= 1, "must be >= 1")
    p.value("grpo_num_generations", r.grpo_num_generations >= 2, "must be >= 2 (advantages compare a group)")
    p.combo(
        not (f.stage == "ppo" and cfg.train.do_train and r.reward_model is None and not r.grpo_reward_funcs),
        "stage ppo needs reward_model or grpo_reward_funcs",
        "stage",
        "reward_model",
    )
    ppo_rm = f.stage == "ppo" and r.reward_model is not None
    p.combo(
        not (ppo_rm and r.reward_model_type == "lora" and f.finetuning_type != "lora"),
        f"reward_model_type lora loads the reward adapter onto the policy's base and needs finetuning_type "
        f"lora, not {f.finetuning_type}; set reward_model_type: full to load the reward model separately",
        "reward_model_type",
        "finetuning_type",
    )
    p.value(
        "reward_model",
        not (
            ppo_rm
            and r.reward_model_type == "api"
            and not str(r.reward_model).startswith(("http://", "https://"))
        ),
        "must be an http(s) URL of a /v1/score server when reward_model_type is api",
    )


def _check_train(p: _Problems, cfg: RunConfig) -> None:
    t, d = cfg.train, cfg.data
    p.combo(not (t.bf16 and t.fp16), "bf16 and fp16 cannot both be true", "bf16", "fp16")
    p.value("per_device_train_batch_size", t.per_device_train_batch_size >= 1, "must be >= 1")
    p.value("per_device_eval_batch_size", t.per_device_eval_batch_size >= 1, "must be >= 1")
    p.value("gradient_accumulation_steps", t.gradient_accumulation_steps >= 1, "must be >= 1")
    p.value("learning_rate", t.learning_rate >= 0, "must be >= 0")
    p.value("num_train_epochs", t.num_train_epochs >= 0, "must be >= 0")
    p.value("warmup_ratio", 0 <= t.warmup_ratio <= 1, "must be in [0, 1]")
    p.value("warmup_steps", t.warmup_steps >= 0, "must be >= 0")
    p.value("weight_decay", t.weight_decay >= 0, "must be >= 0")
    p.value("logging_steps", t.logging_steps > 0, "must be > 0")
    p.value("save_steps", t.save_steps > 0, "must be > 0")
    p.value("eval_steps", t.eval_steps is None or t.eval_steps > 0, "must be > 0")
    p.value("save_total_limit", t.save_total_limit is None or t.save_total_limit >= 0, "must be >= 0")
    p.value("ddp_timeout", t.ddp_timeout > 0, "must be > 0")
    p.combo(
        not (t.do_train and t.eval_strategy != "no" and not d.eval_dataset and d.val_size == 0),
        f"eval_strategy {t.eval_strategy} needs evaluation data: set eval_dataset or val_size",
        "eval_strategy",
    )
    p.combo(
        not (t.predict_with_generate and t.do_train and not t.do_eval),
        "predict_with_generate while training (do_train) needs do_eval: the eval split is generated "
        "for after training",
        "predict_with_generate",
        "do_train",
    )
    p.combo(
        not (t.predict_with_generate and cfg.finetune.stage != "sft"),
        f"predict_with_generate works with stage sft only, not {cfg.finetune.stage}",
        "predict_with_generate",
        "stage",
    )


def _check_inference(p: _Problems, cfg: RunConfig) -> None:
    g, i, s, e = cfg.generate, cfg.infer, cfg.serve, cfg.export
    p.value("temperature", g.temperature > 0 or not g.do_sample, "must be > 0 when do_sample is true")
    p.value("top_p", 0 < g.top_p <= 1, "must be in (0, 1]")
    p.value("top_k", g.top_k >= 0, "must be >= 0")
    p.value("max_new_tokens", g.max_new_tokens > 0, "must be > 0")
    p.value("repetition_penalty", g.repetition_penalty > 0, "must be > 0")
    p.value("num_beams", g.num_beams >= 1, "must be >= 1")
    p.value("vllm_gpu_util", 0 < i.vllm_gpu_util <= 1, "must be in (0, 1]")
    p.value("vllm_maxlen", i.vllm_maxlen > 0, "must be > 0")
    p.value("max_batch_size", i.max_batch_size >= 1, "must be >= 1")
    p.value("port", 1 <= s.port <= 65535, "must be in 1..65535")
    p.value("max_concurrency", s.max_concurrency >= 1, "must be >= 1")
    p.value("queue_size", s.queue_size >= 0, "must be >= 0")
    p.value("export_size", e.export_size >= 1, "must be >= 1")
    p.value(
        "export_quantization_bit", e.export_quantization_bit in (None, 2, 3, 4, 8), "is not one of 2, 3, 4, 8"
    )
    p.combo(
        e.export_quantization_bit is None or e.export_quantization_dataset is not None,
        "export_quantization_bit needs export_quantization_dataset (calibration data)",
        "export_quantization_bit",
    )


def _check_verb(p: _Problems, cfg: RunConfig, verb: str | None) -> None:
    if verb in MODEL_VERBS:
        p.combo(cfg.model.model_name_or_path is not None, f"{verb} needs model_name_or_path")
    if verb == "train" and cfg.train.do_train:
        p.combo(bool(cfg.data.dataset), "do_train needs dataset", "do_train")
        p.combo(cfg.train.output_dir is not None, "do_train needs output_dir", "do_train")
    if verb == "predict":
        p.combo(bool(cfg.data.dataset or cfg.data.eval_dataset), "predict needs dataset or eval_dataset")
    if verb == "export":
        p.combo(cfg.export.export_dir is not None, "export needs export_dir")


def validate(cfg: RunConfig, *, verb: str | None = None, origins: Mapping[str, Any] | None = None) -> None:
    """Raise :class:`ConfigError` listing every problem of ``cfg``; ``origins`` maps key → source."""
    p = _Problems(cfg, origins or {})
    _check_model_and_data(p, cfg)
    _check_finetune(p, cfg)
    _check_train(p, cfg)
    _check_inference(p, cfg)
    _check_verb(p, cfg, verb)
    if len(p.lines) == 1:
        raise ConfigError(p.lines[0])
    if p.lines:
        raise ConfigError("invalid configuration:\n" + "\n".join(f"  - {line}" for line in p.lines))
