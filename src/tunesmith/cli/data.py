"""`tunesmith data preview CONFIG [--n 3] [key=value ...]`: what training will see.

For the first N examples: the converted conversation (or document), the rendered text with the
trained tokens marked, and token counts; then the encoding statistics of the whole dataset (which
also fills the tokenized-data cache) and the bad-record report (file, row, reason).
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

USAGE = "usage: tunesmith data preview CONFIG.yaml [--n N] [key=value | --key value ...]"


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="tunesmith data", add_help=False)
    p.add_argument("action", choices=("preview",))
    p.add_argument("--n", type=int, default=3, help="examples to show (default 3)")
    return p


def _marked(pieces: Sequence[str], trained: Sequence[bool], tty: bool) -> str:
    """Pieces joined with trained runs marked: green on a terminal, ⟦…⟧ otherwise."""
    out: list[str] = []
    run = False
    for piece, is_trained in zip(pieces, trained, strict=True):
        if is_trained != run:
            out.append(("\x1b[1;32m" if is_trained else "\x1b[0m") if tty else ("⟦" if is_trained else "⟧"))
            run = is_trained
        out.append(piece)
    if run:
        out.append("\x1b[0m" if tty else "⟧")
    return "".join(out)


def _conversation_lines(conversation: Any) -> list[str]:
    lines = []
    for m in conversation.messages:
        text = m.text
        if m.tool_calls:
            text += " " + "; ".join(f"call {c.name}({c.arguments_json()})" for c in m.tool_calls)
        if m.reasoning:
            text = f"[reasoning: {m.reasoning}] {text}"
        lines.append(f"  [{m.role}] {text}")
    if conversation.tools:
        lines.append(f"  (tools: {', '.join(t['function']['name'] for t in conversation.tools)})")
    return lines


def _show_supervised(example: Any, template: Any, tokenizer: Any, cfg: Any, tty: bool) -> list[str]:
    from tunesmith.data.encode import Dropped, encode_supervised
    from tunesmith.templates import LabelOptions, RenderOptions, encode_rendered

    label_options = LabelOptions(train_on_prompt=cfg.data.train_on_prompt, mask_history=cfg.data.mask_history)
    render_options = RenderOptions(enable_thinking=cfg.template.enable_thinking)
    lines = ["conversation:", *_conversation_lines(example.conversation)]
    out = encode_supervised(
        example.conversation,
        template,
        tokenizer,
        cutoff_len=cfg.data.cutoff_len,
        label_options=label_options,
        render_options=render_options,
    )
    if isinstance(out, Dropped):
        rendered = template.render(example.conversation, options=render_options)
        enc = encode_rendered(tokenizer, rendered, label_options)
        pieces = [enc.text[a:b] for a, b in enc.offsets]
        lines += ["rendered:", _marked(pieces, [x != -100 for x in enc.labels], tty)]
        lines.append(f"DROPPED: {out.reason}{f' ({out.detail})' if out.detail else ''}")
        return lines
    if out.truncated:
        pieces = [tokenizer.decode([t]) for t in out.input_ids]
    else:
        enc = encode_rendered(
            tokenizer, template.render(example.conversation, options=render_options), label_options
        )
        pieces = [enc.text[a:b] for a, b in enc.offsets]
    legend = "trained tokens in green" if tty else "trained tokens between ⟦ ⟧"
    lines += [f"rendered ({legend}):", _marked(pieces, [x != -100 for x in out.labels], tty)]
    trained = sum(1 for x in out.labels if x != -100)
    note = f", truncated to cutoff_len={cfg.data.cutoff_len}" if out.truncated else ""
    lines.append(f"tokens: {len(out.input_ids)} total, {trained} trained{note}")
    return lines


def _show_text(example: Any, tokenizer: Any) -> list[str]:
    from tunesmith.data.encode import Dropped, tokenize_document

    text = example.text if len(example.text) <= 600 else example.text[:600] + " …"
    ids = tokenize_document(example.text, tokenizer)
    count = ids.reason if isinstance(ids, Dropped) else f"{len(ids)} tokens (with EOS), all trained"
    return ["document:", f"  {text}", f"tokens: {count}"]


def _preview(cfg: Any, n: int) -> int:
    from transformers import AutoTokenizer

    from tunesmith.data import load_conversations
    from tunesmith.data.pipeline import build_datasets, load_arguments
    from tunesmith.families import build_catalog
    from tunesmith.families.resolve import choose_template

    model = cfg.model.model_name_or_path
    tokenizer = AutoTokenizer.from_pretrained(
        model, trust_remote_code=cfg.model.trust_remote_code, use_fast=cfg.model.use_fast_tokenizer
    )
    stage = "pt" if cfg.finetune.stage == "pt" else "sft"
    if cfg.finetune.stage not in ("pt", "sft"):
        print(f"# note: stage {cfg.finetune.stage} is previewed as sft (its pairs are not encoded here)")
    template = None
    if stage == "sft":
        model_dir = model if Path(model).is_dir() else None
        choice = choose_template(
            build_catalog(cfg.misc.plugins), tokenizer, name=cfg.template.template, model_dir=model_dir
        )
        template = choice.template
        print(f"# template: {choice.name} ({choice.reason})")
    tty = sys.stdout.isatty()
    shown = load_conversations(list(cfg.data.dataset), **load_arguments(cfg, stage))
    for k, example in enumerate(shown.examples[:n], 1):
        print(f"\n── example {k}: {example.source.describe()} ──")
        lines = (
            _show_text(example, tokenizer)
            if stage == "pt"
            else _show_supervised(example, template, tokenizer, cfg, tty)
        )
        print("\n".join(lines))
    result = build_datasets(cfg, tokenizer, template, stage=stage)
    print(
        f"\n── statistics ({'from the cache' if result.from_cache else 'computed'}: {result.cache_path}) ──"
    )
    for split, stats in result.stats.items():
        print(f"{split}: {stats.summary()}")
        for d in stats.dropped_examples[:10]:
            print(f"  dropped: dataset {d['dataset']!r}: {d['file']}, row {d['row']}: {d['reason']}")
    print("\n── bad records ──")
    print(result.report.summary())
    return 0


def run(argv: Sequence[str], *, verb: str = "data") -> int:
    args = list(argv)
    if not args or any(a in ("-h", "--help") for a in args):
        from tunesmith.config import format_help

        print(USAGE + "\n  --n N  examples to show (default 3)\n")
        print(format_help(verb))
        return 0
    parsed, rest = _parser().parse_known_args(args)
    logging.basicConfig(level=logging.WARNING, format="%(message)s")
    from tunesmith.config import ConfigError, load_config
    from tunesmith.data import DataError
    from tunesmith.registry import RegistryError
    from tunesmith.templates import ConversationError, TemplateError

    try:
        cfg = load_config(rest, verb=verb)
        missing = [
            k
            for k, v in (("model_name_or_path", cfg.model.model_name_or_path), ("dataset", cfg.data.dataset))
            if not v
        ]
        if missing:
            raise ConfigError(f"data preview needs {' and '.join(missing)} (the tokenizer and the data)")
        return _preview(cfg, parsed.n)
    except ConfigError as exc:
        print(f"tunesmith data: {exc}", file=sys.stderr)
        return 2
    except (DataError, TemplateError, ConversationError, RegistryError, OSError, ValueError) as exc:
        print(f"tunesmith data: {exc}", file=sys.stderr)
        return 1
