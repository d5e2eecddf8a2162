"""Batch prediction: prompts and labels from a dataset, batched generation, the two result files."""

from __future__ import annotations

import json
from pathlib import Path

from tunesmith.config import load_config
from tunesmith.infer import (
    PREDICTIONS_FILE,
    RESULTS_FILE,
    SamplingParams,
    TransformersEngine,
    run_predict,
    split_prompt,
)
from tunesmith.templates import Conversation, Message, ToolCall

RECORDS = [
    {"instruction": "Say hi", "input": "", "output": "hi"},
    {"instruction": "Translate", "input": "你好", "output": "hello"},
    {"instruction": "Count to three, slowly and carefully", "input": "", "output": "one two three"},
]


def write_dataset(root: Path) -> Path:
    data = root / "data"
    data.mkdir()
    (data / "tiny.json").write_text(json.dumps(RECORDS, ensure_ascii=False), encoding="utf-8")
    (data / "dataset_info.json").write_text(
        json.dumps({"tiny": {"file_name": "tiny.json"}}), encoding="utf-8"
    )
    return data


def test_split_prompt() -> None:
    conv = Conversation((Message("user", "q"), Message("assistant", "a")))
    prompt, label = split_prompt(conv)
    assert prompt.messages == (Message("user", "q"),) and label == "a"
    assert split_prompt(prompt) == (prompt, None)
    call = Conversation(
        (Message("user", "q"), Message("assistant", "", tool_calls=(ToolCall("f", {"x": 1}),)))
    )
    assert (
        split_prompt(call, tool_format="qwen")[1]
        == '<tool_call>\n{"name": "f", "arguments": {"x": 1}}\n</tool_call>'
    )


def test_predict_writes_predictions_and_metrics(
    tmp_path: Path, tiny_dir: Path, engine: TransformersEngine
) -> None:
    data = write_dataset(tmp_path)
    out = tmp_path / "out"
    cfg = load_config(
        [
            f"model_name_or_path={tiny_dir}",
            "eval_dataset=tiny",
            f"dataset_dir={data}",
            f"output_dir={out}",
            "do_sample=false",
            "max_new_tokens=8",
            "per_device_eval_batch_size=2",
        ],
        verb="predict",
    )
    result = run_predict(cfg, engine=engine, show_progress=False)
    lines = (out / PREDICTIONS_FILE).read_text(encoding="utf-8").splitlines()
    rows = [json.loads(line) for line in lines]
    assert [set(r) for r in rows] == [{"prompt", "predict", "label"}] * 3
    assert [r["label"] for r in rows] == ["hi", "hello", "one two three"]
    params = SamplingParams(max_new_tokens=8)
    for record, row in zip(RECORDS, rows, strict=True):
        user = record["instruction"] + ("\n" + record["input"] if record["input"] else "")
        conv = Conversation((Message("user", user),))
        assert row["prompt"] == engine.render(conv).text
        assert row["predict"] == engine.generate([conv], params)[0].text  # batching changes nothing
    saved = json.loads((out / RESULTS_FILE).read_text(encoding="utf-8"))
    for key in ("predict_bleu-4", "predict_rouge-1", "predict_rouge-2", "predict_rouge-l"):
        assert 0.0 <= saved[key] <= 100.0
    assert saved["predict_samples"] == 3 and saved["predict_samples_per_second"] > 0
    assert result.metrics == saved


def test_predict_command(tmp_path: Path, tiny_dir: Path, capsys) -> None:
    from tunesmith.cli.main import main

    data = write_dataset(tmp_path)
    out = tmp_path / "out"
    args = [f"model_name_or_path={tiny_dir}", "dataset=tiny", f"dataset_dir={data}", "do_sample=false"]
    assert main(["predict", *args, f"output_dir={out}", "max_new_tokens=4"]) == 0
    assert "predict_rouge-l" in capsys.readouterr().out
    assert len((out / PREDICTIONS_FILE).read_text(encoding="utf-8").splitlines()) == 3
    assert main(["predict", *args]) == 1  # no output_dir
    assert "output_dir" in capsys.readouterr().err
