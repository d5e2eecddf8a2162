"""`tunesmith adapt MODEL_DIR`: inspect a model folder, check what training needs, write a plugin file.

Checks, in order: config and transformers version; quantization; tokenizer and stop words; processor
(vision-language models); template (registered, or derived and run through the conformance battery);
composite keys; one LoRA training step and one greedy generation on a truncated copy on CPU. Each is
reported as found, passed, needs a human (with the exact reason) or failed.
"""

from __future__ import annotations

import logging
import re
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from tunesmith.adapt.inspect import Inspection, inspect_model_dir, stop_words, transformers_version_problem
from tunesmith.adapt.plugin import adapt_plugin_source
from tunesmith.adapt.report import AdaptReport, Check
from tunesmith.adapt.smoke import generate, load_for_smoke, train_step, truncated_copy
from tunesmith.adapt.template_check import TemplateOutcome, check_template
from tunesmith.model.composite import CompositeKeys, composite_keys, discover_composite, is_multimodal_config

logger = logging.getLogger(__name__)


def default_name(model_dir: str | Path) -> str:
    return re.sub(r"[^0-9a-zA-Z_]+", "_", Path(model_dir).resolve().name).strip("_").lower() or "model"


def _quantization_check(info: Inspection) -> Check:
    from tunesmith.model.fp8 import fp8_checkpoint

    if info.quantization is None:
        return Check("quantization", "pass", "none (full-precision weights)")
    if info.quantization == "fp8":
        fp8 = fp8_checkpoint(info.model_dir)
        assert fp8 is not None
        return Check(
            "quantization",
            "found",
            f"fine-grained FP8 ({fp8.fmt}, {fp8.block_size[0]}x{fp8.block_size[1]} blocks): dequantized for "
            "training (tunesmith.model.fp8); adapters cannot be merged into this checkpoint — export onto the "
            "full-precision original",
        )
    return Check(
        "quantization",
        "human",
        f"quantized ({info.quantization}): train LoRA on a GPU with its kernels; full/freeze tuning, "
        "ZeRO-3/FSDP and merging are refused; the CPU smoke test is skipped",
    )


def _processor_check(info: Inspection) -> Check:
    if not info.processor_files:
        return Check(
            "processor",
            "human",
            "vision-language config but no preprocessor_config.json/processor_config.json",
        )
    from transformers import AutoImageProcessor

    try:
        image = AutoImageProcessor.from_pretrained(str(info.model_dir))
    except Exception as exc:  # the reason (e.g. a torchvision-only class) goes to the report
        return Check(
            "processor", "human", f"{', '.join(info.processor_files)}: image processor does not load: {exc}"
        )
    return Check("processor", "found", f"{', '.join(info.processor_files)} → {type(image).__name__}")


def _composite_check(model: Any, catalog: Any) -> tuple[Check, CompositeKeys | None]:
    try:
        keys = composite_keys(model, catalog)
    except Exception as exc:
        return Check("composite", "fail", str(exc)), None
    assert keys is not None
    found = discover_composite(model)
    detail = (
        f"{keys.how}: vision tower {', '.join(keys.vision_tower)}; projector {', '.join(keys.projector)}; "
        f"language model {', '.join(keys.language_model)}"
    )
    if keys.how == "registered" and found != CompositeKeys(*keys.as_mapping().values(), how="discovered"):
        detail += f" (discovery differs: {found})"
    return Check("composite", "pass" if keys.how == "registered" else "found", detail), keys


def _unique_name(catalog: Any, name: str) -> str:
    taken = {n.lower() for n in catalog.templates.names()} | {n.lower() for n in catalog.families.names()}
    out, k = name, 1
    while out.lower() in taken or out.lower() in {g.lower() for g in catalog.groups.names()}:
        k += 1
        out = f"{name}_{k}"
    return out


def run_adapt(
    model_dir: str | Path,
    *,
    name: str | None = None,
    out: str | Path | None = None,
    plugins: Sequence[str | Path] = (),
    layers: int = 2,
    work_dir: str | Path | None = None,
) -> AdaptReport:
    """Run every check on ``model_dir`` and write the plugin file to ``out`` (default
    ``<name>_plugin.py`` in the current folder). Returns the report; never raises for a failed check."""
    from transformers import AutoTokenizer

    from tunesmith.families import build_catalog

    catalog = build_catalog(plugins)
    name = _unique_name(catalog, name or default_name(model_dir))
    checks: list[Check] = []
    info = inspect_model_dir(model_dir)
    multimodal = is_multimodal_config(info.config)
    checks.append(
        Check(
            "config",
            "found",
            f"model_type {info.model_type}, {', '.join(info.architectures) or 'no architectures'}"
            + (", vision-language" if multimodal else ""),
        )
    )
    problem = transformers_version_problem(info.config)
    checks.append(
        Check("transformers version", "human", problem)
        if problem
        else Check("transformers version", "pass", "installed version is recent enough")
    )
    checks.append(_quantization_check(info))
    tokenizer = AutoTokenizer.from_pretrained(str(info.model_dir))
    stops = stop_words(tokenizer, info.generation_eos_ids)
    checks.append(
        Check(
            "tokenizer",
            "found",
            f"{type(tokenizer).__name__}, {len(tokenizer)} tokens ({', '.join(info.tokenizer_files)}); "
            f"stop words from generation eos ids {list(info.generation_eos_ids)}: {list(stops)}",
        )
    )
    if multimodal:
        checks.append(_processor_check(info))
    outcome: TemplateOutcome = check_template(catalog, tokenizer, str(info.model_dir), info.model_type, name)
    checks.append(outcome.check)
    keys: CompositeKeys | None = None
    smoke_ok = info.quantization in (None, "fp8") and outcome.template is not None
    if smoke_ok:
        with tempfile.TemporaryDirectory(dir=work_dir) as tmp:
            keys = _smoke(info, Path(tmp), layers, tokenizer, outcome.template, catalog, checks, multimodal)
    else:
        checks.append(
            Check(
                "train step",
                "human",
                "skipped: "
                + ("no template" if outcome.template is None else f"{info.quantization} weights need a GPU"),
            )
        )
    family = f"adapted_{name}"
    registered_type = (
        info.model_type is not None and catalog.family_for_model_type(info.model_type) is not None
    )
    template_name = outcome.registered or (outcome.derived.name if outcome.derived is not None else None)
    source = adapt_plugin_source(
        name=name,
        family=family,
        model_dir=str(model_dir),
        template_name=template_name,
        derived=outcome.derived,
        unsupported=outcome.unsupported,
        model_type=info.model_type,
        register_model_type=not registered_type and outcome.derived is not None and not outcome.unsupported,
        composite=keys,
        multimodal=multimodal,
        notes=f"adapted from {Path(model_dir).resolve()}; stop words {list(stops)}",
    )
    plugin_path = Path(out) if out else Path(f"{name}_plugin.py")
    plugin_path.write_text(source, encoding="utf-8")
    try:
        build_catalog([*plugins, plugin_path])
        checks.append(Check("plugin", "pass", f"{plugin_path} loads with --plugins"))
    except Exception as exc:
        checks.append(Check("plugin", "fail", f"{plugin_path} does not load: {exc}"))
    return AdaptReport(str(model_dir), name, tuple(checks), str(plugin_path))


def _smoke(
    info: Inspection,
    tmp: Path,
    layers: int,
    tokenizer: Any,
    template: Any,
    catalog: Any,
    checks: list[Check],
    multimodal: bool,
) -> CompositeKeys | None:
    source = info.model_dir
    try:
        if info.quantization == "fp8":
            import torch

            from tunesmith.model.fp8 import dequantize_checkpoint

            source = dequantize_checkpoint(source, tmp / "dequantized", dtype=torch.float32)
        model = load_for_smoke(truncated_copy(source, tmp, layers))
    except Exception as exc:
        checks.append(Check("load", "fail", f"truncated copy ({layers} layers) does not load: {exc}"))
        return None
    checks.append(Check("load", "pass", f"truncated copy ({layers} layers) loads as {type(model).__name__}"))
    keys = None
    if multimodal:
        check, keys = _composite_check(model, catalog)
        checks.append(check)
    try:
        check, model = train_step(model, tokenizer, template)
    except Exception as exc:
        check = Check("train step", "fail", f"{type(exc).__name__}: {exc}")
    checks.append(check)
    try:
        checks.append(generate(model, tokenizer, template))
    except Exception as exc:
        checks.append(Check("generation", "fail", f"{type(exc).__name__}: {exc}"))
    return keys
