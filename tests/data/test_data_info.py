"""dataset_info.json parsing: LLaMA-Factory's keys and defaults, and clear errors for the rest."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tunesmith.data import DataError, DatasetColumns, DatasetTags, get_dataset_attrs, load_conversations
from tunesmith.data.info import OPENAI_TAGS, parse_dataset_attr, read_dataset_info

DATA = Path(__file__).resolve().parents[2].parent / "shared" / "data"
needs_data = pytest.mark.skipif(
    not (DATA / "dataset_info.json").is_file(), reason=f"LLaMA-Factory demo data not found at {DATA}"
)


def write_info(tmp_path: Path, info: dict) -> Path:
    (tmp_path / "dataset_info.json").write_text(json.dumps(info), encoding="utf-8")
    return tmp_path


@needs_data
def test_every_entry_of_llamafactory_file_parses() -> None:
    info = read_dataset_info(DATA)
    attrs = get_dataset_attrs(list(info), DATA)
    assert len(attrs) == len(info) == 104
    by_name = {a.name: a for a in attrs}
    assert (
        by_name["alpaca_en"].load_from == "hf_hub" and by_name["alpaca_en"].path == "llamafactory/alpaca_en"
    )
    assert by_name["dpo_mix_en"].subset == "en" and by_name["dpo_mix_en"].ranking


@needs_data
def test_llamafactory_defaults() -> None:
    alpaca, glaive, mllm, c4, kto = get_dataset_attrs(
        ["alpaca_en_demo", "glaive_toolcall_en_demo", "mllm_demo", "c4_demo", "kto_en_demo"], str(DATA)
    )
    assert (alpaca.load_from, alpaca.path, alpaca.formatting, alpaca.split) == (
        "file",
        "alpaca_en_demo.json",
        "alpaca",
        "train",
    )
    assert alpaca.columns == DatasetColumns()
    assert (alpaca.columns.prompt, alpaca.columns.query, alpaca.columns.response) == (
        "instruction",
        "input",
        "output",
    )
    assert alpaca.columns.history is None
    assert glaive.formatting == "sharegpt"
    assert (glaive.columns.messages, glaive.columns.tools) == ("conversations", "tools")
    assert glaive.tags == DatasetTags(
        "from", "value", "human", "gpt", "observation", "function_call", "system"
    )
    assert (mllm.columns.messages, mllm.columns.images) == ("messages", "images")
    assert (mllm.tags.role_tag, mllm.tags.content_tag, mllm.tags.user_tag, mllm.tags.assistant_tag) == (
        "role", "content", "user", "assistant",
    )  # fmt: skip
    # naming columns unsets the alpaca columns not named (LLaMA-Factory's rule): a plain-text corpus
    assert (c4.columns.prompt, c4.columns.query, c4.columns.response) == ("text", None, None)
    assert kto.columns.kto_tag == "label"


def test_openai_defaults() -> None:
    attr = parse_dataset_attr("x", {"file_name": "x.json", "formatting": "openai"})
    assert attr.columns.messages == "messages"
    assert attr.tags == OPENAI_TAGS
    assert (attr.tags.role_tag, attr.tags.user_tag, attr.tags.observation_tag) == ("role", "user", "tool")


def test_source_priority() -> None:
    both = {"hf_hub_url": "org/hf", "ms_hub_url": "org/ms", "file_name": "local.json"}
    assert parse_dataset_attr("x", both).load_from == "hf_hub"
    assert parse_dataset_attr("x", both, prefer_modelscope=True).path == "org/ms"
    assert parse_dataset_attr("x", {"ms_hub_url": "org/ms"}).load_from == "ms_hub"
    assert parse_dataset_attr("x", {"script_url": "s"}).load_from == "script"


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        (
            {"file_name": "x.json", "formating": "sharegpt"},
            "dataset 'x': unknown key 'formating'. Did you mean 'formatting'?",
        ),
        (
            {"file_name": "x.json", "columns": {"prompts": "q"}},
            "dataset 'x'.columns: unknown key 'prompts'. Did you mean 'prompt'?",
        ),
        ({"file_name": "x.json", "tags": {"role": "r"}}, "dataset 'x'.tags: unknown key 'role'"),
        ({"file_name": "x.json", "formatting": "chatml"}, "formatting: unknown value 'chatml'"),
        ({"file_name": "x.json", "ranking": "yes"}, "ranking: expected true or false"),
        ({"file_name": "x.json", "num_samples": 0}, "num_samples: expected a positive integer"),
        ({"file_name": "x.json", "columns": {"prompt": 3}}, "columns.prompt: expected a string"),
        ({"formatting": "alpaca"}, "needs one of hf_hub_url"),
        ("x.json", "expected an object"),
    ],
)
def test_entry_errors(entry: object, message: str) -> None:
    with pytest.raises(DataError) as info:
        parse_dataset_attr("x", entry)
    assert message in str(info.value)


def test_unknown_key_error_through_loader(tmp_path: Path) -> None:
    root = write_info(tmp_path, {"mine": {"file_name": "m.json", "colums": {}}})
    with pytest.raises(DataError, match=r"dataset 'mine': unknown key 'colums'\. Did you mean 'columns'\?"):
        load_conversations(["mine"], str(root))


@needs_data
def test_unknown_dataset_lists_close_matches() -> None:
    with pytest.raises(DataError) as info:
        get_dataset_attrs(["alpaca_en_dem"], DATA)
    message = str(info.value)
    assert "dataset 'alpaca_en_dem' is not defined in" in message
    assert "Did you mean: alpaca_en_demo" in message


def test_missing_and_broken_info_file(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="cannot find dataset_info.json"):
        get_dataset_attrs(["x"], tmp_path)
    (tmp_path / "dataset_info.json").write_text("{broken", encoding="utf-8")
    with pytest.raises(DataError, match="not valid JSON"):
        get_dataset_attrs(["x"], tmp_path)


def test_online_names_are_hub_ids() -> None:
    (attr,) = get_dataset_attrs(["org/data"], "ONLINE")
    assert (attr.load_from, attr.path, attr.formatting) == ("hf_hub", "org/data", "alpaca")
