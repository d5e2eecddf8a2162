"""Images in chat requests to a served tiny Qwen2-VL (and LLaVA): data: URLs read under the media
policy, image tokens counted in the prompt, the reply equal to plain transformers on the same inputs;
text-only models and refused media answer 400."""

from __future__ import annotations

import base64
import io
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.serve.conftest import API_KEY, Running, serving

openai = pytest.importorskip("openai")
pytest.importorskip("PIL")

QWEN_IMAGE_TOKENS = 4
"""build_tiny_vlm: a 56x56 image is 4 ``<|image_pad|>`` tokens for qwen2_vl (4 ``<image>`` for llava)."""


def png_url(color: tuple[int, int, int], size: int = 56) -> str:
    from PIL import Image

    buf = io.BytesIO()
    Image.new("RGB", (size, size), color).save(buf, format="PNG")
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode()


def image_message(url: str, text: str = "What is in the picture?") -> list[dict[str, Any]]:
    return [
        {
            "role": "user",
            "content": [{"type": "image_url", "image_url": {"url": url}}, {"type": "text", "text": text}],
        }
    ]


def _engine(path: Path) -> Any:
    from tunesmith.config import load_config
    from tunesmith.serve.backend import build_serving_engine

    return build_serving_engine(load_config([f"model_name_or_path={path}"], verb="serve"))


@pytest.fixture(scope="module")
def qwen_vl(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Any]:
    from tunesmith.testing.vlm import build_tiny_vlm

    path = build_tiny_vlm("qwen2_vl", tmp_path_factory.mktemp("vlm") / "tiny-qwen2-vl", seed=3)
    return path, _engine(path)


@pytest.fixture(scope="module")
def vl_server(qwen_vl, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Running, Path]]:
    from tunesmith.serve import MediaPolicy

    media_dir = tmp_path_factory.mktemp("media")
    policy = MediaPolicy(allowed_dirs=(str(media_dir),), max_pixels=64 * 64)
    with serving(qwen_vl[1], model_name="tiny-qwen2-vl", api_key=API_KEY, media=policy) as running:
        yield running, media_dir


@pytest.fixture(scope="module")
def vl_client(vl_server) -> Any:
    return openai.OpenAI(base_url=vl_server[0].base_url, api_key=API_KEY, max_retries=0, timeout=120)


def test_image_tokens_are_counted_and_the_reply_equals_plain_transformers(vl_client, qwen_vl) -> None:
    import torch
    from transformers import AutoImageProcessor, AutoTokenizer

    from tunesmith.infer.vision import open_image
    from tunesmith.templates import Conversation

    path, engine = qwen_vl
    url = png_url((200, 30, 30))
    reply = vl_client.chat.completions.create(
        model="tiny-qwen2-vl", messages=image_message(url), temperature=0, max_tokens=8
    )
    text_only = engine.render(Conversation.from_openai(image_message(url))).text
    tokenizer = AutoTokenizer.from_pretrained(path)
    placeholder_ids = tokenizer(text_only, add_special_tokens=False)["input_ids"]
    assert text_only.count("<|image_pad|>") == 1
    assert reply.usage.prompt_tokens == len(placeholder_ids) - 1 + QWEN_IMAGE_TOKENS

    # plain transformers: the image processor, the pad token repeated, greedy generate
    pixels = AutoImageProcessor.from_pretrained(path)(images=[open_image(url)], return_tensors="pt")
    expanded = text_only.replace("<|image_pad|>", "<|image_pad|>" * QWEN_IMAGE_TOKENS)
    ids = torch.tensor([tokenizer(expanded, add_special_tokens=False)["input_ids"]])
    types = (ids == tokenizer.convert_tokens_to_ids("<|image_pad|>")).long()  # where M-RoPE puts the image
    with torch.no_grad():
        out = engine.model.generate(
            input_ids=ids,
            attention_mask=torch.ones_like(ids),
            mm_token_type_ids=types,
            **pixels,
            max_new_tokens=8,
            do_sample=False,
            eos_token_id=engine.stop_plan(engine_params()).eos_ids,
            pad_token_id=tokenizer.pad_token_id,
        )
    new = out[0, ids.shape[1] :].tolist()
    assert reply.usage.completion_tokens == len(new)
    eos = set(engine.stop_plan(engine_params()).eos_ids)
    assert reply.choices[0].message.content == tokenizer.decode(
        [t for t in new if t not in eos], skip_special_tokens=True
    )


def engine_params() -> Any:
    from tunesmith.infer import SamplingParams

    return SamplingParams(max_new_tokens=8)


def test_the_image_changes_what_the_model_sees(qwen_vl) -> None:
    import torch

    from tunesmith.templates import Conversation

    _, engine = qwen_vl
    logits = []
    for color in ((255, 0, 0), (0, 0, 255)):
        prompt = engine.render(Conversation.from_openai(image_message(png_url(color))))
        ids = torch.tensor([prompt.ids])
        with torch.no_grad():
            logits.append(engine.model(input_ids=ids, **prompt.inputs).logits[0, -1])
    assert not torch.allclose(logits[0], logits[1])


def test_streamed_image_reply_equals_the_non_streamed_one(vl_client) -> None:
    messages = image_message(png_url((10, 200, 10)), "Describe it.")
    whole = vl_client.chat.completions.create(
        model="tiny-qwen2-vl", messages=messages, temperature=0, max_tokens=8
    )
    pieces = []
    for chunk in vl_client.chat.completions.create(
        model="tiny-qwen2-vl", messages=messages, temperature=0, max_tokens=8, stream=True
    ):
        pieces.extend(c.delta.content or "" for c in chunk.choices)
    assert "".join(pieces) == whole.choices[0].message.content


def test_allow_listed_local_image(vl_server, vl_client) -> None:
    _, media_dir = vl_server
    image = media_dir / "red.png"
    image.write_bytes(base64.b64decode(png_url((250, 0, 0)).split(",", 1)[1]))
    by_path = vl_client.chat.completions.create(
        model="tiny-qwen2-vl", messages=image_message(str(image)), temperature=0, max_tokens=4
    )
    by_url = vl_client.chat.completions.create(
        model="tiny-qwen2-vl", messages=image_message(png_url((250, 0, 0))), temperature=0, max_tokens=4
    )
    assert by_path.choices[0].message.content == by_url.choices[0].message.content


@pytest.mark.parametrize(
    ("url", "words"),
    [
        ("/etc/hostname", "outside the allowed media folder"),
        ("http://169.254.169.254/latest/meta-data", "disabled"),
        (png_url((1, 2, 3), size=100), "exceeds the limit"),
        ("data:image/png;base64,AAAA", "not a readable image"),
        ("data:image/png;base64,???", "not valid base64"),
    ],
)
def test_refused_images_are_400(vl_server, url: str, words: str) -> None:
    body = {"model": "tiny-qwen2-vl", "messages": image_message(url), "max_tokens": 2}
    r = httpx.post(
        f"{vl_server[0].base_url}/chat/completions", json=body, headers={"Authorization": f"Bearer {API_KEY}"}
    )
    assert r.status_code == 400, r.text
    error = r.json()["error"]
    assert words in error["message"] and error["param"] == "messages"


def test_audio_for_a_vision_model_is_400(vl_server) -> None:
    content = [{"type": "input_audio", "input_audio": {"data": "AAAA", "format": "wav"}}]
    body = {"model": "tiny-qwen2-vl", "messages": [{"role": "user", "content": content}]}
    r = httpx.post(
        f"{vl_server[0].base_url}/chat/completions", json=body, headers={"Authorization": f"Bearer {API_KEY}"}
    )
    assert r.status_code == 400 and r.json()["error"]["code"] == "unsupported_content"


def test_text_model_refuses_images_with_a_clear_message(server) -> None:
    body = {"model": "tiny-qwen3", "messages": image_message(png_url((0, 0, 0)))}
    r = httpx.post(
        f"{server.base_url}/chat/completions", json=body, headers={"Authorization": f"Bearer {API_KEY}"}
    )
    assert r.status_code == 400
    error = r.json()["error"]
    assert error["code"] == "unsupported_content" and "need a vision model" in error["message"]


def test_llava_counts_its_image_tokens(tmp_path: Path) -> None:
    from tunesmith.templates import Conversation
    from tunesmith.testing.vlm import build_tiny_vlm

    engine = _engine(build_tiny_vlm("llava", tmp_path / "tiny-llava"))
    with serving(engine, model_name="tiny-llava") as running:
        client = openai.OpenAI(base_url=running.base_url, api_key="x", max_retries=0)
        messages = image_message(png_url((9, 9, 9), size=28))
        reply = client.chat.completions.create(
            model="tiny-llava", messages=messages, temperature=0, max_tokens=4
        )
    text = engine.render(Conversation.from_openai(messages)).text
    assert text.count("<image>") == 1
    placeholder_ids = engine.tokenizer(text, add_special_tokens=False)["input_ids"]
    assert reply.usage.prompt_tokens == len(placeholder_ids) - 1 + 4
