"""Entry point: dispatches to one module per verb, importing nothing heavy until a verb runs."""

from __future__ import annotations

import difflib
import importlib
import sys
from collections.abc import Sequence

from tunesmith import __version__

# verb → (module, summary). Modules are imported only when their verb runs (`--help` stays fast).
VERBS: dict[str, tuple[str, str]] = {
    "train": ("tunesmith.cli.train", "fine-tune a model (pt, sft, rm, dpo, kto, ppo, grpo)"),
    "chat": ("tunesmith.cli.chat", "chat with a model in the terminal"),
    "predict": ("tunesmith.cli.predict", "batch generation over a dataset"),
    "serve": ("tunesmith.cli.serve", "OpenAI-compatible API server"),
    "webchat": ("tunesmith.cli.webchat", "web chat page"),
    "export": ("tunesmith.cli.export", "merge adapters and save a model with its chat template"),
    "adapt": ("tunesmith.cli.adapt", "adapt a new model: inspect, check, write a plugin file"),
    "webui": ("tunesmith.cli.pending", "training / evaluation / chat / export board"),
    "data": ("tunesmith.cli.data", "preview datasets (converted conversations, labels, bad records)"),
    "template": ("tunesmith.cli.template", "list, render, check, derive and export chat templates"),
    "models": ("tunesmith.cli.models", "list the registered models: hub ids, default template, multimodal"),
    "env": ("tunesmith.cli.env", "versions of Python and the libraries, and the devices"),
    "version": ("tunesmith.cli.main", "print the tunesmith version"),
}

USAGE = """usage: tunesmith <verb> [CONFIG.yaml] [key=value | --key value ...]

Fine-tune Hugging Face language and vision-language models, trained exactly as they are served.

verbs:
{verbs}

`tunesmith <verb> --help` lists that verb's options with their defaults and docs.
"""


def usage() -> str:
    width = max(len(v) for v in VERBS)
    lines = [f"  {verb:<{width}}  {summary}" for verb, (_, summary) in VERBS.items()]
    return USAGE.format(verbs="\n".join(lines))


def run(argv: Sequence[str]) -> int:  # `tunesmith version`
    print(f"tunesmith {__version__}")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if not args or args[0] in ("-h", "--help", "help"):
        print(usage())
        return 0
    verb, rest = args[0], args[1:]
    if verb in ("--version", "-V"):
        verb = "version"
    if verb not in VERBS:
        close = difflib.get_close_matches(verb, list(VERBS), n=2)
        hint = f" Did you mean {' or '.join(close)}?" if close else ""
        print(
            f"tunesmith: unknown verb {verb!r}.{hint} Run `tunesmith --help` for the list.", file=sys.stderr
        )
        return 2
    module = importlib.import_module(VERBS[verb][0])
    return int(module.run(rest, verb=verb) if verb != "version" else module.run(rest) or 0)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
