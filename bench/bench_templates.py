"""Template engine throughput: render + encode (conversations/s), declarative vs Jinja path, and the
wall time of `tunesmith --help`. Figures are measured side by side in one run; quote ratios.

    .venv/bin/python bench/bench_templates.py [--shared ../shared] [--repeat 3]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def _throughput(template, tokenizer, conversations, repeat: int) -> float:
    from tunesmith.templates import encode_rendered

    best = 0.0
    for _ in range(repeat):
        start = time.perf_counter()
        for conv in conversations:
            encode_rendered(tokenizer, template.render(conv))
        best = max(best, len(conversations) / (time.perf_counter() - start))
    return best


def _help_wall(n: int = 7) -> float:
    times = []
    for _ in range(n):
        start = time.perf_counter()
        subprocess.run([str(REPO / ".venv/bin/tunesmith"), "--help"], check=True, capture_output=True)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--shared", default=str(REPO.parent / "shared"))
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--template", default="qwen2_5", help="registered declarative template")
    parser.add_argument(
        "--reference", default="qwen2_5-7b-instruct", help="its official template (corpus stem)"
    )
    args = parser.parse_args()

    from tunesmith.data import load_conversations
    from tunesmith.families import build_catalog
    from tunesmith.templates import jinja_template_from_tokenizer
    from tunesmith.testing import tokenizer_from_template_spec

    shared = Path(args.shared)
    spec = json.loads((shared / "chat_templates" / f"{args.reference}.json").read_text())
    tokenizer = tokenizer_from_template_spec(spec)
    declarative = build_catalog(entry_points=False).template(args.template).bind(tokenizer.special_tokens_map)
    jinja = jinja_template_from_tokenizer(tokenizer, args.reference)
    results = {}
    for dataset in ("alpaca_en_demo", "glaive_toolcall_en_demo"):
        loaded = load_conversations([dataset], shared / "data")
        convs = [ex.conversation for ex in loaded.examples]
        d = _throughput(declarative, tokenizer, convs, args.repeat)
        j = _throughput(jinja, tokenizer, convs, args.repeat)
        results[dataset] = {"n": len(convs), "declarative_conv_per_s": round(d), "jinja_conv_per_s": round(j)}
        results[dataset]["declarative_over_jinja"] = round(d / j, 2)
    results["tunesmith --help wall (s, median of 7)"] = round(_help_wall(), 3)
    json.dump(results, sys.stdout, indent=2)
    print()


if __name__ == "__main__":
    main()
