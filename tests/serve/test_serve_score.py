"""``POST /v1/score`` with a reward model trained here (stage rm, a few steps on a tiny qwen3): served
alone or beside a chat model, the scores equal ``load_reward_model`` on the same rendered text."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("fastapi")

THINGS = ["apples", "rivers", "stars", "music", "bread", "trains", "rain", "cats"]
CONVERSATION = [
    {"role": "system", "content": "be kind"},
    {"role": "user", "content": "Tell me about cats."},
    {"role": "assistant", "content": "Sure: cats are lovely."},
]


@pytest.fixture(scope="module")
def rm_dir(tmp_path_factory: pytest.TempPathFactory, monkeypatch_module: Any) -> Path:
    from tunesmith.config import load_config
    from tunesmith.testing import build_tiny_model
    from tunesmith.train.workflow import run_train

    root = tmp_path_factory.mktemp("rm")
    monkeypatch_module.setenv("TUNESMITH_CACHE", str(root / "cache"))
    model_dir = build_tiny_model("qwen3", root / "base", seed=2)
    pairs = [
        {
            "conversations": [{"from": "human", "value": f"Tell me about {t}."}],
            "chosen": {"from": "gpt", "value": f"Sure: {t} are lovely."},
            "rejected": {"from": "gpt", "value": "No. Go away."},
        }
        for t in THINGS
    ]
    (root / "pairs.json").write_text(json.dumps(pairs))
    info = {
        "pairs": {
            "file_name": "pairs.json",
            "ranking": True,
            "formatting": "sharegpt",
            "columns": {"messages": "conversations", "chosen": "chosen", "rejected": "rejected"},
        }
    }
    (root / "dataset_info.json").write_text(json.dumps(info))
    out = root / "rm-out"
    config = {
        "model_name_or_path": str(model_dir),
        "stage": "rm",
        "do_train": True,
        "finetuning_type": "lora",
        "dataset": "pairs",
        "dataset_dir": str(root),
        "cutoff_len": 64,
        "output_dir": str(out),
        "per_device_train_batch_size": 4,
        "max_steps": 2,
        "learning_rate": 1e-2,
        "save_strategy": "no",
        "seed": 0,
        "report_to": "none",
        "disable_tqdm": True,
    }
    run_train(load_config([], verb="train", base=config))
    return out


@pytest.fixture(scope="module")
def monkeypatch_module() -> Any:
    with pytest.MonkeyPatch.context() as mp:
        yield mp


@pytest.fixture(scope="module")
def rm_alone(rm_dir: Path) -> Any:
    from fastapi.testclient import TestClient

    from tunesmith.config import load_config
    from tunesmith.serve import ServeSettings, create_app
    from tunesmith.serve.backend import build_served

    cfg = load_config([f"model_name_or_path={rm_dir}"], verb="serve")
    served = build_served(cfg)
    assert served.engine is None and served.scorer is not None
    app = create_app(served.engine, ServeSettings.from_config(cfg), scorer=served.scorer)
    return TestClient(app), served.scorer


def _direct(rm_dir: Path, texts: list[str]) -> list[float]:
    from tunesmith.train.reward import load_reward_model

    return load_reward_model(rm_dir).score(texts)


def test_reward_model_dir_is_recognised(rm_dir: Path, tmp_path: Path) -> None:
    from tunesmith.serve.score import is_reward_model_dir

    assert is_reward_model_dir(rm_dir)
    assert not is_reward_model_dir(tmp_path)
    (tmp_path / "config.json").write_text(json.dumps({"architectures": ["Qwen3ForCausalLM"]}))
    assert not is_reward_model_dir(tmp_path)
    (tmp_path / "config.json").write_text(json.dumps({"architectures": ["Qwen3ForSequenceClassification"]}))
    assert is_reward_model_dir(tmp_path)


def test_score_of_a_conversation_equals_the_reward_model(rm_alone, rm_dir: Path) -> None:
    from tunesmith.templates import Conversation

    client, scorer = rm_alone
    name = rm_dir.name
    r = client.post("/v1/score", json={"model": name, "messages": CONVERSATION})
    assert r.status_code == 200, r.text
    body = r.json()
    rendered = scorer.template.render(
        Conversation.from_openai(CONVERSATION), add_generation_prompt=False
    ).text
    assert rendered.endswith("Sure: cats are lovely.<|im_end|>\n")  # the text training scored
    (expected,) = _direct(rm_dir, [rendered])
    assert body["object"] == "list" and body["model"] == name
    assert [d["index"] for d in body["data"]] == [0]
    assert body["data"][0]["score"] == pytest.approx(expected, abs=1e-4)
    tokens = len(scorer.tokenizer(rendered, add_special_tokens=False)["input_ids"])
    assert body["usage"] == {"prompt_tokens": tokens, "total_tokens": tokens}


def test_score_of_texts_and_conversations_in_a_batch(rm_alone, rm_dir: Path) -> None:
    from tunesmith.templates import Conversation

    client, scorer = rm_alone
    texts = ["hello there", "a much longer text about rivers and stars and music", "x"]
    r = client.post("/v1/score", json={"model": rm_dir.name, "input": texts})
    assert r.status_code == 200, r.text
    scores = [d["score"] for d in r.json()["data"]]
    assert scores == pytest.approx(_direct(rm_dir, texts), abs=1e-4)
    assert len(set(scores)) == 3

    good = [{"role": "user", "content": "Tell me about rain."}, {"role": "assistant", "content": "Sure!"}]
    r = client.post("/v1/score", json={"model": rm_dir.name, "conversations": [CONVERSATION, good]})
    assert r.status_code == 200, r.text
    rendered = [
        scorer.template.render(Conversation.from_openai(c), add_generation_prompt=False).text
        for c in (CONVERSATION, good)
    ]
    assert [d["score"] for d in r.json()["data"]] == pytest.approx(_direct(rm_dir, rendered), abs=1e-4)


@pytest.mark.parametrize(
    ("body", "param"),
    [
        ({}, "input"),
        ({"input": "a", "messages": CONVERSATION}, "input"),
        ({"input": []}, "input"),
        ({"input": [""]}, "input"),
        ({"messages": []}, "messages"),
        ({"conversations": [[]]}, "conversations.0"),
        ({"input": ["a"] * 65}, "input"),
        (
            {"messages": [{"role": "user", "content": [{"type": "image_url", "image_url": {"url": "x"}}]}]},
            "messages.0.content.0",
        ),
    ],
)
def test_bad_score_requests_are_400(rm_alone, rm_dir: Path, body: dict[str, Any], param: str) -> None:
    client, _ = rm_alone
    r = client.post("/v1/score", json={"model": rm_dir.name, **body})
    assert r.status_code == 400, r.text
    assert r.json()["error"]["param"] == param


def test_a_reward_model_alone_does_not_generate(rm_alone, rm_dir: Path) -> None:
    client, _ = rm_alone
    messages = [{"role": "user", "content": "hi"}]
    r = client.post("/v1/chat/completions", json={"model": rm_dir.name, "messages": messages})
    assert r.status_code == 400 and r.json()["error"]["code"] == "reward_model_only"
    r = client.post("/v1/completions", json={"model": rm_dir.name, "prompt": "hi"})
    assert r.status_code == 400 and r.json()["error"]["code"] == "reward_model_only"
    assert client.post("/v1/score", json={"model": "other", "input": "x"}).status_code == 404


def test_reward_model_beside_a_chat_model(tiny_dir: Path, rm_dir: Path) -> None:
    from fastapi.testclient import TestClient

    from tunesmith.config import load_config
    from tunesmith.serve import ServeSettings, create_app
    from tunesmith.serve.backend import build_served

    cfg = load_config([f"model_name_or_path={tiny_dir}", f"score_model={rm_dir}"], verb="serve")
    served = build_served(cfg)
    assert served.engine is not None and served.scorer is not None
    client = TestClient(create_app(served.engine, ServeSettings.from_config(cfg), scorer=served.scorer))
    chat = client.post(
        "/v1/chat/completions",
        json={"model": tiny_dir.name, "messages": [{"role": "user", "content": "hi"}], "max_tokens": 2},
    )
    assert chat.status_code == 200, chat.text
    for model in (tiny_dir.name, rm_dir.name):  # the served name or the reward model's
        r = client.post("/v1/score", json={"model": model, "input": "hello there"})
        assert r.status_code == 200, r.text
        assert r.json()["data"][0]["score"] == pytest.approx(_direct(rm_dir, ["hello there"])[0], abs=1e-4)


@pytest.mark.slow
def test_no_server_errors_for_generated_score_requests(rm_alone, rm_dir: Path) -> None:
    schemathesis = pytest.importorskip("schemathesis")
    from schemathesis import GenerationMode

    from tests.serve.test_serve_schemathesis import run_operation

    client, _ = rm_alone
    schema = schemathesis.openapi.from_asgi("/openapi.json", client.app)
    seen: dict[str, dict[int, int]] = {}
    for result in schema.get_all_operations():
        operation = result.ok()
        if operation.path != "/v1/score":
            continue
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            counts = seen.setdefault(mode.value, {})
            run_operation(operation, mode, counts, model=rm_dir.name, scores=True)
    print(f"\nschemathesis /v1/score: {seen}")
    assert seen["positive"].get(200, 0) > 0, seen  # scoring was exercised, not only refusals
    assert all(status < 500 for counts in seen.values() for status in counts)
