"""`tunesmith template list|render|check|derive|export`."""

from __future__ import annotations

import argparse
import json
import logging
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="tunesmith template", description="Chat templates: list, render, check, derive."
    )
    sub = p.add_subparsers(dest="action", required=True)

    def plugins(sp: argparse.ArgumentParser) -> None:
        sp.add_argument(
            "--plugins",
            action="append",
            default=[],
            metavar="FILE",
            help="plugin file registering families (repeatable)",
        )

    sp = sub.add_parser("list", help="every registered template with its family and origin")
    plugins(sp)
    sp = sub.add_parser("render", help="render a conversation: text, ids and labels")
    sp.add_argument("--model", required=True, help="model directory (its tokenizer and chat template)")
    sp.add_argument("--messages", required=True, help="JSON file: a list of OpenAI-style messages")
    sp.add_argument("--tools", help="JSON file: a list of OpenAI-style tool definitions")
    sp.add_argument("--template", help="registered template name, or 'jinja' for the model's own")
    sp.add_argument("--add-generation-prompt", action="store_true")
    sp.add_argument("--enable-thinking", choices=("true", "false"), help="reasoning models: thinking on/off")
    sp.add_argument(
        "--json", action="store_true", help='print {"text", "input_ids", "labels"} as one JSON object'
    )
    plugins(sp)
    sp = sub.add_parser("check", help="conformance battery against the model's own chat template")
    sp.add_argument("--model", required=True)
    sp.add_argument("--template", help="template to check (default: the one chosen automatically)")
    plugins(sp)
    sp = sub.add_parser(
        "derive", help="derive a declarative template (plugin file) from a model's chat template"
    )
    sp.add_argument("--model", required=True)
    sp.add_argument("--out", help="plugin file to write (default: print it)")
    sp.add_argument("--name", help="template and family name (default: from the directory name)")
    sp = sub.add_parser("export", help="print the Jinja chat template of a registered declarative template")
    sp.add_argument("name")
    sp.add_argument("--out")
    plugins(sp)
    return p


def _fail(message: str, code: int = 1) -> int:
    print(f"tunesmith template: {message}", file=sys.stderr)
    return code


def _catalog(plugins: Sequence[str]):
    from tunesmith.families import build_catalog

    return build_catalog(plugins)


def _load_tokenizer(model: str) -> Any:
    path = Path(model)
    if not path.is_dir():
        raise FileNotFoundError(f"--model {model}: not a directory (expected a saved model or tokenizer)")
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(str(path))


def _choose(args: argparse.Namespace, tokenizer: Any):
    from tunesmith.families.resolve import choose_template

    return choose_template(_catalog(args.plugins), tokenizer, name=args.template, model_dir=args.model)


def cmd_list(args: argparse.Namespace) -> int:
    catalog = _catalog(args.plugins)
    rows = [(e.name, e.item.family, e.item.reference or "-", e.origin) for e in catalog.templates]
    rows.sort(key=lambda r: (r[1] != "generic", r[1], r[0]))
    header = ("template", "family", "official reference", "origin")
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(4)]
    for r in [header, *rows]:
        print("  ".join(f"{str(c):<{w}}" for c, w in zip(r, widths, strict=True)).rstrip())
    print(f"\n{len(rows)} templates; 'jinja' (any model's own chat template) is always available.")
    return 0


def _read_json_list(path: str, what: str) -> list[Any]:
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ValueError(f"{what} file not found: {path}") from None
    except json.JSONDecodeError as exc:
        raise ValueError(f"{what} file {path} is not valid JSON: {exc}") from None
    if not isinstance(data, list):
        raise ValueError(f"{what} file {path}: expected a JSON list, got {type(data).__name__}")
    return data


def _show(encoded, tty: bool) -> str:
    """Text with trained tokens visibly marked: green on a terminal, ⟦…⟧ otherwise."""
    out = []
    trained_run = False
    for (a, b), label in zip(encoded.offsets, encoded.labels, strict=True):
        piece = encoded.text[a:b]
        trained = label != -100
        if trained != trained_run:
            if tty:
                out.append("\x1b[1;32m" if trained else "\x1b[0m")
            else:
                out.append("⟦" if trained else "⟧")
            trained_run = trained
        out.append(piece)
    if trained_run:
        out.append("\x1b[0m" if tty else "⟧")
    return "".join(out)


def cmd_render(args: argparse.Namespace) -> int:
    from tunesmith.templates import Conversation, RenderOptions, encode_rendered

    messages = _read_json_list(args.messages, "--messages")
    tools = _read_json_list(args.tools, "--tools") if args.tools else None
    conversation = Conversation.from_openai(messages, tools)
    tokenizer = _load_tokenizer(args.model)
    choice = _choose(args, tokenizer)
    thinking = None if args.enable_thinking is None else args.enable_thinking == "true"
    rendered = choice.template.render(
        conversation,
        add_generation_prompt=args.add_generation_prompt,
        options=RenderOptions(enable_thinking=thinking),
    )
    encoded = encode_rendered(tokenizer, rendered)
    if args.json:
        print(
            json.dumps(
                {"text": encoded.text, "input_ids": encoded.input_ids, "labels": encoded.labels},
                ensure_ascii=False,
            )
        )
        return 0
    tty = sys.stdout.isatty()
    print(f"# template: {choice.name} ({choice.reason})")
    trained = sum(1 for x in encoded.labels if x != -100)
    legend = "trained tokens in green" if tty else "trained tokens between ⟦ ⟧"
    print(f"# {len(encoded.input_ids)} tokens, {trained} trained ({legend})")
    print(_show(encoded, tty))
    return 0


def cmd_check(args: argparse.Namespace) -> int:
    from tunesmith.templates.conformance import battery, format_table, run_battery

    tokenizer = _load_tokenizer(args.model)
    if not getattr(tokenizer, "chat_template", None):
        return _fail(f"{args.model} has no chat template to check against")
    choice = _choose(args, tokenizer)
    specials = [
        t for t in tokenizer.all_special_tokens if t not in (tokenizer.bos_token, tokenizer.pad_token)
    ]
    results = run_battery(choice.template, tokenizer, shapes=battery(specials))
    print(f"template {choice.name} ({choice.reason}) vs {args.model}'s own chat template")
    print(format_table({choice.name: results}))
    return 0 if all(r.ok for r in results) else 1


def cmd_derive(args: argparse.Namespace) -> int:
    from tunesmith.templates import jinja_template_from_tokenizer
    from tunesmith.templates.derive import derive, plugin_source

    tokenizer = _load_tokenizer(args.model)
    own = jinja_template_from_tokenizer(tokenizer)
    name = args.name or Path(args.model).resolve().name.lower().replace("-", "_").replace(".", "_")
    result = derive(own, tokenizer, name)
    if result.template is None:
        print(f"{result.problem}\nThe model's own Jinja template is used as is (template: jinja).")
        return 1
    print(f"derived template {name!r}: {len(result.passed)} battery shapes reproduced")
    for shape, why in result.failed:
        print(f"  cannot be expressed declaratively: {shape}: {why[:200]}")
    source = plugin_source(result.template, family=name, unsupported=result.failed)
    if args.out:
        Path(args.out).write_text(source, encoding="utf-8")
        print(f"wrote {args.out} (load it with --plugins {args.out})")
    else:
        print(source)
    return 0


def cmd_export(args: argparse.Namespace) -> int:
    source = _catalog(args.plugins).template(args.name).to_jinja()
    if args.out:
        Path(args.out).write_text(source, encoding="utf-8")
    else:
        print(source)
    return 0


def run(argv: Sequence[str], *, verb: str = "template") -> int:
    args = _parser().parse_args(list(argv))
    logging.basicConfig(level=logging.WARNING, format="%(message)s")
    handler = {
        "list": cmd_list,
        "render": cmd_render,
        "check": cmd_check,
        "derive": cmd_derive,
        "export": cmd_export,
    }
    from tunesmith.registry import RegistryError
    from tunesmith.templates import ConversationError, TemplateError

    try:
        return handler[args.action](args)
    except (
        TemplateError,
        ConversationError,
        RegistryError,
        ValueError,
        FileNotFoundError,
        ImportError,
    ) as exc:
        return _fail(str(exc))
