"""The training workflow: config → tokenizer + template → datasets → model → Trainer → artefacts.

Stages pt and sft train a causal LM with :class:`~tunesmith.train.trainer.TunesmithTrainer`; rm,
dpo and kto build their model, reference and Trainer in :mod:`tunesmith.train.stages`.

output_dir ends up holding, in transformers' conventions: the adapter (LoRA) or the full model, the
tokenizer with the chat template used in training as ``chat_template``, ``trainer_state.json`` (with
``log_history``), ``tunesmith_config.yaml`` (the resolved config) and ``run_summary.json``.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tunesmith.config import RunConfig

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class TrainResult:
    output_dir: Path
    summary: dict[str, Any]


def _device_precision(kwargs: dict[str, Any]) -> dict[str, Any]:
    """bf16/fp16 on a machine without CUDA: fall back to fp32 with a warning, not a crash."""
    import torch

    if torch.cuda.is_available():
        if kwargs.get("bf16") and not torch.cuda.is_bf16_supported():
            logger.warning("bf16 is not supported on this GPU; training in fp16 instead")
            kwargs = {**kwargs, "bf16": False, "fp16": True}
        return kwargs
    if kwargs.get("bf16") or kwargs.get("fp16"):
        logger.warning("bf16/fp16 mixed precision needs a CUDA GPU; training in fp32 on this machine")
        kwargs = {**kwargs, "bf16": False, "fp16": False}
    return kwargs


def training_arguments(cfg: RunConfig):
    from transformers import Seq2SeqTrainingArguments

    from tunesmith.config.trainer_args import training_arguments_kwargs

    if not cfg.train.output_dir:
        raise ValueError("output_dir: required for training (where the model, logs and checkpoints go)")
    kwargs = _device_precision(training_arguments_kwargs(cfg))
    kwargs.setdefault("remove_unused_columns", False)
    return Seq2SeqTrainingArguments(**kwargs)


def template_source(template: Any) -> str | dict[str, str]:
    """The Jinja chat template that renders exactly like the training template (a model's own
    template is kept whole, named templates included)."""
    from tunesmith.templates import JinjaTemplate

    if isinstance(template, JinjaTemplate) and not isinstance(template.source, str):
        return dict(template.source)
    return template.to_jinja()


def save_tokenizer_with_template(tokenizer: Any, template: Any, output_dir: str | Path) -> None:
    tokenizer.chat_template = template_source(template)
    tokenizer.save_pretrained(str(output_dir))


def _plain(value: Any) -> Any:
    """Dataclasses and mappings → JSON-ready dicts (for the run summary)."""
    import dataclasses

    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: _plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, dict) or hasattr(value, "items"):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


def _bad_records(report: Any) -> dict[str, Any]:
    """The skipped records for the run summary: counts by reason and the first ones with their
    dataset, file, row (and line) and reason, so a user can find and fix each of them."""
    return {
        "total": report.total,
        "by_reason": report.by_reason(),
        "records": [
            {
                "dataset": bad.dataset,
                "file": bad.file,
                "row": bad.row,
                "line": bad.line,
                "reason": bad.reason.value,
                "detail": bad.detail,
            }
            for bad in report.examples
        ],
    }


def peak_memory_mb() -> float:
    """Peak memory of this process in MiB: CUDA allocations on a GPU, else the resident set size."""
    import resource

    import torch

    if torch.cuda.is_available():
        return torch.cuda.max_memory_allocated() / 2**20
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def resident_memory_mb() -> float | None:
    """Memory this process holds now (resident set, MiB; Linux), None where it cannot be read. Unlike the
    lifetime peak it is not dominated by transient allocations made while importing libraries."""
    import os

    try:
        pages = int(open("/proc/self/statm").read().split()[1])  # noqa: SIM115 - one short read
    except (OSError, ValueError, IndexError):
        return None
    return pages * os.sysconf("SC_PAGE_SIZE") / 2**20


def run_train(cfg: RunConfig) -> TrainResult:
    """Run stage pt, sft, rm, dpo or kto as the config says."""
    import yaml

    from tunesmith.data.collator import SupervisedCollator
    from tunesmith.data.pipeline import build_datasets
    from tunesmith.families import build_catalog
    from tunesmith.families.resolve import choose_template
    from tunesmith.model import load_model, load_tokenizer
    from tunesmith.train.generate_eval import generate_eval
    from tunesmith.train.plot import plot_loss
    from tunesmith.train.resume import resume_checkpoint
    from tunesmith.train.stages import PREFERENCE_STAGES, build_preference_trainer
    from tunesmith.train.trainer import TunesmithTrainer

    stage = cfg.finetune.stage if hasattr(cfg.finetune, "stage") else cfg.get("stage")
    if stage in ("grpo", "ppo"):
        from tunesmith.train.rl_workflow import run_rl

        return run_rl(cfg)
    if stage not in ("pt", "sft", *PREFERENCE_STAGES):
        raise ValueError(
            f"stage: {stage!r} is not available yet in this version; use pt, sft, {', '.join(PREFERENCE_STAGES)}"
        )
    # a GPTQ/AWQ/bnb checkpoint: refuse full/freeze tuning and ZeRO-3/FSDP before anything loads
    from tunesmith.model.ptq import check_ptq_run

    check_ptq_run(cfg)
    args = training_arguments(cfg)
    resume = resume_checkpoint(
        args.output_dir, cfg.train.resume_from_checkpoint, cfg.train.overwrite_output_dir
    )

    # seed before the model loads: LoRA's A matrices (and any newly initialised rows) draw from the
    # global RNG there, long before the Trainer seeds it; without this, same seed ≠ same run
    from transformers import set_seed

    set_seed(args.seed)
    tokenizer = load_tokenizer(cfg.model)
    choice = choose_template(
        build_catalog(cfg.misc.plugins),
        tokenizer,
        name=cfg.template.template,
        model_dir=cfg.model.model_name_or_path,
    )
    logger.info("template: %s (%s)", choice.name, choice.reason)
    data = build_datasets(cfg, tokenizer, choice.template, stage=stage)
    if data.report.total:
        logger.warning("skipped records:\n%s", data.report.summary())
    stage_summary: dict[str, Any] = {}
    if stage in PREFERENCE_STAGES:
        built = build_preference_trainer(cfg, stage, args, tokenizer, data)
        trainer, stage_summary = built.trainer, built.summary
    else:
        model = load_model(
            cfg.model,
            tokenizer,
            finetune_cfg=cfg.finetune,
            for_training=True,
            gradient_checkpointing=cfg.train.gradient_checkpointing,
        )
        collator = SupervisedCollator(tokenizer)
        trainer = TunesmithTrainer(
            model=model,
            args=args,
            train_dataset=data.train,
            eval_dataset=data.eval,
            data_collator=collator,
            processing_class=tokenizer,
        )
    out = Path(args.output_dir)
    out.mkdir(parents=True, exist_ok=True)
    (out / "tunesmith_config.yaml").write_text(
        yaml.safe_dump(cfg.to_dict(), sort_keys=False, allow_unicode=True)
    )
    summary: dict[str, Any] = {
        "stage": stage,
        "template": choice.name,
        "template_reason": choice.reason,
        **stage_summary,
    }
    if cfg.train.do_train:
        result = trainer.train(resume_from_checkpoint=resume)
        trainer.save_model()
        trainer.save_state()
        save_tokenizer_with_template(tokenizer, choice.template, out)
        summary.update({"train_loss": result.training_loss, "global_step": result.global_step})
        if isinstance(trainer, TunesmithTrainer):
            seconds = trainer.train_seconds()
            summary.update(
                {
                    "trained_tokens": trainer.trained_tokens,
                    "train_seconds": round(seconds, 3),
                    "train_tokens_per_second": round(trainer.trained_tokens / seconds, 2)
                    if seconds
                    else None,
                }
            )
        else:
            summary["train_seconds"] = result.metrics.get("train_runtime")
        summary["resumed_from"] = resume
        trainer.log_metrics("train", result.metrics)
        trainer.save_metrics("train", result.metrics)
        if cfg.train.plot_loss:
            plot_loss(out)
    if cfg.train.do_eval and data.eval is not None:
        metrics = trainer.evaluate()
        if stage == "sft" and cfg.train.predict_with_generate:
            metrics.update(generate_eval(cfg, trainer.model, tokenizer, choice.template, out))
        trainer.log_metrics("eval", metrics)
        trainer.save_metrics("eval", metrics)
        summary["eval"] = metrics
    summary.update(
        {
            "peak_memory_mb": round(peak_memory_mb(), 1),
            "memory_at_end_mb": None if (now := resident_memory_mb()) is None else round(now, 1),
            "data": {split: _plain(stats) for split, stats in data.stats.items()},
            "bad_records": _bad_records(data.report),
        }
    )
    (out / "run_summary.json").write_text(json.dumps(summary, indent=2, ensure_ascii=False, default=str))
    logger.info("run summary written to %s", out / "run_summary.json")
    return TrainResult(out, summary)
