"""The SFT spine, end to end on CPU: preprocessing throughput and LoRA training throughput.

One run measures, for each model preset (``tiny`` and ``100m`` of :func:`tunesmith.testing.build_tiny_model`):

* **preprocessing** of the sft pipeline on ``alpaca_en_demo`` + ``identity`` (load, render, tokenize,
  labels, truncation, packing or not, ``datasets.Dataset`` build, cache write), in examples/s, with
  ``preprocessing_num_workers`` 1 and 2, packing off and on. The on-disk cache is bypassed
  (``overwrite_cache`` in a fresh ``TUNESMITH_CACHE``). ``encode`` is the encoding step alone
  (:func:`~tunesmith.data.pipeline.encode_examples`), ``build`` the whole
  :func:`~tunesmith.data.pipeline.build_datasets` call; best of ``--repeat`` runs.
* **LoRA SFT training** with :func:`tunesmith.train.workflow.run_train`, packing off and on, same data
  and batch settings, each configuration in its own subprocess so that its peak RSS is its own.
  Trained tokens are the label != -100 tokens the loss sees (the trainer's ``trained_tokens``).
  ``tok/s`` excludes the first ``--warmup-steps`` steps (derived from the per-step log);
  ``tok/s all`` is the trainer's own figure over every step.

Prints a markdown table, the packing/no-packing ratios and the JSON of every figure; ``--out``
also writes the JSON to a file. Figures are side by side in one run: quote ratios, not absolutes.

    .venv/bin/python bench/bench_spine.py [--presets tiny,100m] [--max-steps tiny=20,100m=10] [--out FILE]
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
DATASETS = "alpaca_en_demo,identity"
CUTOFF = {"tiny": 1024, "100m": 512}
DEFAULT_STEPS = {"tiny": 20, "100m": 10}
RESULT_MARK = "@@BENCH_RESULT@@ "


def _quiet_env() -> None:
    os.environ.setdefault("HF_DATASETS_DISABLE_PROGRESS_BARS", "1")
    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    os.environ.setdefault("TQDM_DISABLE", "1")


def _log(message: str) -> None:
    print(f"[bench_spine {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def _config(model_dir: Path, data_dir: str, cutoff: int, packing: bool, output_dir: Path, **extra: Any):
    from tunesmith.config import load_config

    args = {
        "model_name_or_path": str(model_dir),
        "stage": "sft",
        "do_train": True,
        "finetuning_type": "lora",
        "lora_target": "all",
        "lora_rank": 8,
        "dataset": DATASETS,
        "dataset_dir": data_dir,
        "cutoff_len": cutoff,
        "packing": packing,
        "output_dir": str(output_dir),
        "overwrite_output_dir": True,
        "report_to": "none",
        "seed": 42,
        **extra,
    }
    return load_config(
        [f"{k}={str(v).lower() if isinstance(v, bool) else v}" for k, v in args.items()], verb="train"
    )


# --------------------------------------------------------------------------------------------- data


def bench_preprocessing(
    preset: str, model_dir: Path, data_dir: str, workers: list[int], repeat: int, tmp: Path
):
    """encode-only and build_datasets throughput for one preset."""
    from tunesmith.data.loader import load_conversations
    from tunesmith.data.pipeline import EncodeJob, build_datasets, encode_examples, load_arguments
    from tunesmith.families import build_catalog
    from tunesmith.families.resolve import choose_template
    from tunesmith.model import load_tokenizer
    from tunesmith.templates.base import RenderOptions
    from tunesmith.templates.encode import LabelOptions

    cutoff = CUTOFF[preset]
    base = _config(model_dir, data_dir, cutoff, False, tmp / "unused")
    tokenizer = load_tokenizer(base.model)
    choice = choose_template(
        build_catalog(base.misc.plugins), tokenizer, name=base.template.template, model_dir=str(model_dir)
    )
    loaded = load_conversations(DATASETS.split(","), **load_arguments(base, "sft"))
    examples = loaded.examples
    n = len(examples)
    job = EncodeJob(
        stage="sft",
        template=choice.template,
        tokenizer=tokenizer,
        cutoff_len=cutoff,
        label_options=LabelOptions(),
        render_options=RenderOptions(),
    )
    # worker settings: (label, num_workers, preprocessing_batch_size)
    settings: list[tuple[str, int, int]] = []
    for w in workers:
        settings.append((f"{w}", w, 1000))
        if w > 1 and math.ceil(n / w) < 1000:
            settings.append((f"{w} (balanced chunks)", w, math.ceil(n / w)))

    rows: list[dict[str, Any]] = []
    for label, w, chunk in settings:
        best = math.inf
        for _ in range(repeat):
            start = time.perf_counter()
            encode_examples(examples, job, num_workers=w, chunk_size=chunk)
            best = min(best, time.perf_counter() - start)
        rows.append(
            {
                "preset": preset,
                "step": "encode",
                "packing": None,
                "workers": label,
                "preprocessing_batch_size": chunk,
                "examples": n,
                "seconds": round(best, 3),
                "examples_per_second": round(n / best, 1),
            }
        )
        _log(f"{preset} encode workers={label}: {n / best:.1f} examples/s")
        if chunk != 1000:  # the balanced-chunk variant is measured for the encoding step only
            continue
        for packing in (False, True):
            best, stats = math.inf, None
            for _ in range(repeat):
                cfg = _config(
                    model_dir,
                    data_dir,
                    cutoff,
                    packing,
                    tmp / "unused",
                    overwrite_cache=True,
                    preprocessing_num_workers=w,
                    preprocessing_batch_size=chunk,
                )
                start = time.perf_counter()
                data = build_datasets(cfg, tokenizer, choice.template, stage="sft")
                seconds = time.perf_counter() - start
                assert not data.from_cache
                if seconds < best:
                    best, stats = seconds, data.stats["train"]
            assert stats is not None
            rows.append(
                {
                    "preset": preset,
                    "step": "build",
                    "packing": packing,
                    "workers": label,
                    "preprocessing_batch_size": chunk,
                    "examples": stats.examples_in,
                    "sequences": stats.sequences,
                    "total_tokens": stats.total_tokens,
                    "trainable_tokens": stats.trainable_tokens,
                    "truncated": stats.truncated,
                    "seconds": round(best, 3),
                    "examples_per_second": round(stats.examples_in / best, 1),
                }
            )
            _log(
                f"{preset} build packing={packing} workers={label}: {stats.examples_in / best:.1f} examples/s"
            )
    return rows, choice.name


# ------------------------------------------------------------------------------------------- train


def _steady_rate(history: list[dict[str, Any]], warmup: int) -> tuple[float | None, int]:
    """Trained tokens/s after ``warmup`` steps, from the per-step log (time = tokens / rate)."""
    points = [
        (int(h["step"]), h["trained_tokens"], h["trained_tokens"] / h["train_tokens_per_second"])
        for h in history
        if "trained_tokens" in h and h.get("train_tokens_per_second")
    ]
    if not points:
        return None, 0
    first = [p for p in points if p[0] <= warmup]
    if not first or first[-1] == points[-1]:
        _, tokens, seconds = points[-1]
        return tokens / seconds, 0
    _, tok0, t0 = first[-1]
    _, tok1, t1 = points[-1]
    return (tok1 - tok0) / (t1 - t0), first[-1][0]


def train_worker(spec: dict[str, Any]) -> None:
    """Runs in a subprocess: one LoRA SFT run, prints its figures as one JSON line."""
    import logging

    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    from tunesmith.train.workflow import run_train

    cfg = _config(
        Path(spec["model_dir"]),
        spec["data_dir"],
        spec["cutoff"],
        spec["packing"],
        Path(spec["output_dir"]),
        per_device_train_batch_size=spec["batch_size"],
        gradient_accumulation_steps=1,
        learning_rate=1e-4,
        max_steps=spec["max_steps"],
        logging_steps=1,
        save_strategy="no",
    )
    start = time.perf_counter()
    result = run_train(cfg)
    wall = time.perf_counter() - start
    state = json.loads((result.output_dir / "trainer_state.json").read_text())
    steady, after = _steady_rate(state["log_history"], spec["warmup_steps"])
    s = result.summary
    steps = s["global_step"]
    data = s["data"]["train"]
    out = {
        "template": s["template"],
        "global_step": steps,
        "trained_tokens": s["trained_tokens"],
        "trained_tokens_per_step": round(s["trained_tokens"] / steps, 1) if steps else None,
        "train_seconds": s["train_seconds"],
        "seconds_per_step": round(s["train_seconds"] / steps, 3) if steps else None,
        "tokens_per_second_all": s["train_tokens_per_second"],
        "tokens_per_second": round(steady, 2) if steady else None,
        "steady_after_step": after,
        "train_loss": s["train_loss"],
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "summary_peak_memory_mb": s["peak_memory_mb"],
        "dataset_sequences": data["sequences"],
        "wall_seconds": round(wall, 2),
        "load_average_1min_end": round(os.getloadavg()[0], 2),
    }
    print(RESULT_MARK + json.dumps(out), flush=True)


def bench_training(preset: str, model_dir: Path, args: argparse.Namespace, steps: int, tmp: Path):
    rows = []
    for packing in (False, True):
        spec = {
            "model_dir": str(model_dir),
            "data_dir": args.data_dir,
            "cutoff": CUTOFF[preset],
            "packing": packing,
            "output_dir": str(tmp / f"run-{preset}-{'pack' if packing else 'nopack'}"),
            "batch_size": args.batch_size,
            "max_steps": steps,
            "warmup_steps": args.warmup_steps,
        }
        _log(f"{preset} train packing={packing}: {steps} steps ...")
        load_start = os.getloadavg()[0]
        start = time.perf_counter()
        proc = subprocess.run(
            [sys.executable, __file__, "--train-worker", json.dumps(spec)],
            capture_output=True,
            text=True,
            check=False,
        )
        wall = time.perf_counter() - start
        lines = [ln for ln in proc.stdout.splitlines() if ln.startswith(RESULT_MARK)]
        if proc.returncode or not lines:
            sys.stderr.write(proc.stdout[-4000:] + proc.stderr[-4000:])
            raise SystemExit(
                f"training subprocess failed ({preset}, packing={packing}), rc={proc.returncode}"
            )
        row = {
            "preset": preset,
            "packing": packing,
            "cutoff_len": CUTOFF[preset],
            "batch_size": args.batch_size,
            "max_steps": steps,
            **json.loads(lines[-1][len(RESULT_MARK) :]),
            "process_wall_seconds": round(wall, 2),
            "load_average_1min_start": round(load_start, 2),
        }
        rows.append(row)
        _log(
            f"{preset} train packing={packing}: {row['tokens_per_second']} tok/s, "
            f"peak RSS {row['peak_rss_mb']} MB, {wall:.0f} s"
        )
    return rows


# ------------------------------------------------------------------------------------------ report


def _ratio(a: float | None, b: float | None) -> float | None:
    return round(a / b, 3) if a and b else None


def ratios(result: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for preset in result["presets"]:
        train = {r["packing"]: r for r in result["training"] if r["preset"] == preset}
        build = {
            (r["packing"], r["workers"]): r["examples_per_second"]
            for r in result["preprocessing"]
            if r["preset"] == preset and r["step"] == "build"
        }
        encode = {
            r["workers"]: r["examples_per_second"]
            for r in result["preprocessing"]
            if r["preset"] == preset and r["step"] == "encode"
        }
        entry: dict[str, Any] = {}
        if True in train and False in train:
            entry["train_tokens_per_second_packing_vs_not"] = _ratio(
                train[True]["tokens_per_second"], train[False]["tokens_per_second"]
            )
            entry["train_tokens_per_second_all_packing_vs_not"] = _ratio(
                train[True]["tokens_per_second_all"], train[False]["tokens_per_second_all"]
            )
            entry["peak_rss_packing_vs_not"] = _ratio(train[True]["peak_rss_mb"], train[False]["peak_rss_mb"])
        for w in sorted({k[1] for k in build}):
            entry[f"build_packing_vs_not_workers_{w}"] = _ratio(build.get((True, w)), build.get((False, w)))
            if w != "1":
                entry[f"build_workers_{w}_vs_1_nopacking"] = _ratio(
                    build.get((False, w)), build.get((False, "1"))
                )
        for w in encode:
            if w != "1":
                entry[f"encode_workers_{w}_vs_1"] = _ratio(encode.get(w), encode.get("1"))
        out[preset] = entry
    return out


def markdown(result: dict[str, Any]) -> str:
    lines = [
        f"Machine: {result['machine']['cpus']} CPU cores, torch {result['machine']['torch']}, "
        f"transformers {result['machine']['transformers']}; arch {result['arch']}.",
        "",
        f"Preprocessing (alpaca_en_demo + identity, sft; best of {result['repeat']}; cache bypassed):",
        "",
        "| preset | step | packing | workers | chunk | examples | sequences | s | examples/s |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in result["preprocessing"]:
        packing = "-" if r["packing"] is None else ("on" if r["packing"] else "off")
        lines.append(
            f"| {r['preset']} | {r['step']} | {packing} | {r['workers']} | {r['preprocessing_batch_size']} "
            f"| {r['examples']} | {r.get('sequences', '-')} | {r['seconds']} | {r['examples_per_second']} |"
        )
    lines += [
        "",
        f"LoRA SFT training (batch {result['batch_size']}, steady state after {result['warmup_steps']} "
        "warm-up steps; one subprocess per row):",
        "",
        "| preset | packing | cutoff | steps | trained tok/step | s/step | tok/s | tok/s all | peak RSS MB | loss | load avg |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in result["training"]:
        lines.append(
            f"| {r['preset']} | {'on' if r['packing'] else 'off'} | {r['cutoff_len']} | {r['global_step']} "
            f"| {r['trained_tokens_per_step']} | {r['seconds_per_step']} | {r['tokens_per_second']} "
            f"| {r['tokens_per_second_all']} | {r['peak_rss_mb']} | {r['train_loss']:.3f} "
            f"| {r['load_average_1min_start']}-{r['load_average_1min_end']} |"
        )
    lines += ["", "Ratios:", ""]
    for preset, entry in result["ratios"].items():
        for key, value in entry.items():
            lines.append(f"- {preset}: {key} = {value}")
    return "\n".join(lines)


def _steps(text: str, presets: list[str]) -> dict[str, int]:
    if "=" not in text:
        return dict.fromkeys(presets, int(text))
    steps = dict(DEFAULT_STEPS)
    for part in text.split(","):
        name, _, value = part.partition("=")
        steps[name.strip()] = int(value)
    return steps


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--presets", default="tiny,100m", help="comma-separated TINY_PRESETS names")
    parser.add_argument("--arch", default="llama", help="tiny-model architecture (llama, qwen2, ...)")
    parser.add_argument(
        "--max-steps",
        default=",".join(f"{k}={v}" for k, v in DEFAULT_STEPS.items()),
        help="training steps: one number for every preset, or preset=N,... (default %(default)s)",
    )
    parser.add_argument(
        "--warmup-steps", type=int, default=2, help="steps left out of the steady-state tok/s"
    )
    parser.add_argument("--batch-size", type=int, default=4)
    parser.add_argument("--workers", default="1,2", help="preprocessing_num_workers values")
    parser.add_argument("--repeat", type=int, default=3, help="preprocessing runs per setting (best is kept)")
    parser.add_argument("--data-dir", default=str(REPO.parent / "shared" / "data"))
    parser.add_argument("--skip-train", action="store_true", help="preprocessing only")
    parser.add_argument("--out", help="also write the JSON results to this file")
    parser.add_argument("--train-worker", help=argparse.SUPPRESS)
    args = parser.parse_args()
    _quiet_env()
    if args.train_worker:
        train_worker(json.loads(args.train_worker))
        return

    presets = [p.strip() for p in args.presets.split(",") if p.strip()]
    steps = _steps(args.max_steps, presets)
    workers = [int(w) for w in args.workers.split(",")]
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="bench_spine-") as tmpdir:
        tmp = Path(tmpdir)
        os.environ["TUNESMITH_CACHE"] = str(tmp / "cache")  # fresh cache; inherited by the subprocesses
        import torch
        import transformers

        from tunesmith.testing import build_tiny_model

        result: dict[str, Any] = {
            "command": " ".join([Path(sys.executable).name, *sys.argv]),
            "machine": {
                "cpus": os.cpu_count(),
                "torch_threads": torch.get_num_threads(),
                "platform": platform.platform(),
                "python": platform.python_version(),
                "torch": torch.__version__,
                "transformers": transformers.__version__,
            },
            "arch": args.arch,
            "presets": presets,
            "datasets": DATASETS,
            "repeat": args.repeat,
            "batch_size": args.batch_size,
            "warmup_steps": args.warmup_steps,
            "templates": {},
            "preprocessing": [],
            "training": [],
        }
        for preset in presets:
            model_dir = build_tiny_model(args.arch, tmp / f"model-{preset}", preset=preset)
            _log(f"built {args.arch} {preset} model")
            rows, template = bench_preprocessing(preset, model_dir, args.data_dir, workers, args.repeat, tmp)
            result["preprocessing"] += rows
            result["templates"][preset] = template
            if not args.skip_train:
                result["training"] += bench_training(preset, model_dir, args, steps[preset], tmp)
        result["ratios"] = ratios(result)
        result["total_seconds"] = round(time.perf_counter() - started, 1)
    print(markdown(result))
    print()
    print(json.dumps(result, indent=2))
    if args.out:
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.out).write_text(json.dumps(result, indent=2) + "\n")
        _log(f"results written to {args.out}")
    _log(f"total {result['total_seconds']} s")


if __name__ == "__main__":
    main()
