"""The transformers engine under concurrent requests: batching off (``max_batch_size`` 1, one
request at a time) vs on (requests that wait while a batch runs join the next one).

One run builds a random model (:func:`tunesmith.testing.build_tiny_model`, preset ``--preset``),
then for each ``max_batch_size`` fires ``--requests`` chat requests from as many threads at once
(greedy, ``--max-new-tokens`` each; half of them streamed when ``--stream``) and measures the wall
time until all have answered, the generated tokens per second, and the number of ``generate`` calls.
It also checks that every reply equals the one the unbatched engine gives (greedy). Prints a table
and the JSON of every figure; quote the ratios, not the absolute numbers.

    .venv/bin/python bench/bench_serving.py [--preset tiny] [--arch qwen3] [--requests 16] \
        [--max-new-tokens 32] [--batch-sizes 1,4,16] [--stream]
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any


def measure(engine: Any, convs: list[Any], params: Any, stream: bool) -> tuple[float, list[str], int]:
    def one(i: int) -> tuple[str, int]:
        if stream and i % 2:
            s = engine.stream(convs[i], params)
            text = "".join(s)
            return text, s.completion_tokens
        (gen,) = engine.generate([convs[i]], params)
        return gen.text, gen.completion_tokens

    start = time.perf_counter()
    with ThreadPoolExecutor(max_workers=len(convs)) as pool:
        results = list(pool.map(one, range(len(convs))))
    wall = time.perf_counter() - start
    return wall, [t for t, _ in results], sum(n for _, n in results)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--preset", default="tiny")
    parser.add_argument("--arch", default="qwen3")
    parser.add_argument("--requests", type=int, default=16)
    parser.add_argument("--max-new-tokens", type=int, default=32)
    parser.add_argument("--batch-sizes", default="1,4,16")
    parser.add_argument("--stream", action="store_true", help="stream every other request")
    args = parser.parse_args()

    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from tunesmith.families import build_catalog
    from tunesmith.families.resolve import choose_template
    from tunesmith.infer import SamplingParams, TransformersEngine
    from tunesmith.templates import Conversation, Message
    from tunesmith.testing import build_tiny_model

    with tempfile.TemporaryDirectory() as tmp:
        path = build_tiny_model(args.arch, Path(tmp) / "model", preset=args.preset, seed=0)
        tokenizer = AutoTokenizer.from_pretrained(path)
        model = AutoModelForCausalLM.from_pretrained(path).eval()
        template = choose_template(build_catalog(), tokenizer, model_dir=path).template
    with torch.no_grad():  # random weights repeat one token; scaled ones wander (no early stops)
        for p in model.parameters():
            if p.dim() == 2:
                p.mul_(4.0)
    words = ["rivers", "stars", "music", "bread", "trains", "rain", "cats", "apples"]
    convs = [
        Conversation((Message("user", f"Tell me about {words[i % len(words)]} number {i}."),))
        for i in range(args.requests)
    ]
    params = SamplingParams(max_new_tokens=args.max_new_tokens)
    reference = [TransformersEngine(model, tokenizer, template).generate([c], params)[0].text for c in convs]
    rows = []
    for size in (int(s) for s in args.batch_sizes.split(",")):
        engine = TransformersEngine(model, tokenizer, template, max_batch_size=size)
        measure(engine, convs[:2], params, args.stream)  # warm-up
        before = engine.scheduler.batches if engine.scheduler else 0
        wall, texts, tokens = measure(engine, convs, params, args.stream)
        calls = (engine.scheduler.batches - before) if engine.scheduler else args.requests
        rows.append(
            {
                "max_batch_size": size,
                "wall_s": round(wall, 3),
                "tokens": tokens,
                "tokens_per_s": round(tokens / wall, 1),
                "generate_calls": calls,
                "equal_to_unbatched": texts == reference,
            }
        )
    base = rows[0]["tokens_per_s"]
    print(
        f"\n{args.requests} concurrent requests, {args.max_new_tokens} new tokens, {args.arch}/{args.preset}"
    )
    print("| max_batch_size | wall s | tokens/s | x vs first | generate calls | same replies |")
    print("|---|---|---|---|---|---|")
    for r in rows:
        print(
            f"| {r['max_batch_size']} | {r['wall_s']} | {r['tokens_per_s']} | {r['tokens_per_s'] / base:.2f} "
            f"| {r['generate_calls']} | {r['equal_to_unbatched']} |"
        )
    print(json.dumps({"args": vars(args), "rows": rows}, indent=2))


if __name__ == "__main__":
    main()
