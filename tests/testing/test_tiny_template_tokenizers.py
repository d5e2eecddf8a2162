from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from tunesmith.testing import (
    build_tokenizer,
    family_tokens,
    special_strings_in,
    template_special_strings,
    tokenizer_for_jinja_template,
    tokenizer_from_template_spec,
)
from tunesmith.testing import chat_templates as ours

# The ``shared`` folder beside the repository root holds the chat-template corpus.
CHAT_TEMPLATES = Path(__file__).resolve().parents[2] / ".." / "shared" / "chat_templates"

SPEC_FILES = sorted(CHAT_TEMPLATES.glob("*.json")) if CHAT_TEMPLATES.is_dir() else []
needs_corpus = pytest.mark.skipif(
    not SPEC_FILES,
    reason=f"chat-template corpus not found at {CHAT_TEMPLATES} (shared/ beside the repo root)",
)

CONVERSATION = [
    {"role": "user", "content": "Hello 你好 😀"},
    {"role": "assistant", "content": "Hi there!"},
    {"role": "user", "content": "  Bye\n"},
]


def _trl_templates() -> list[Path]:
    import trl

    return sorted((Path(trl.__file__).parent / "chat_templates").glob("*.jinja"))


def _assert_specials_atomic(tok, rendered: str) -> None:
    ids = tok(rendered, add_special_tokens=False).input_ids
    assert tok.decode(ids) == rendered
    pieces = tok.convert_ids_to_tokens(ids)
    for special in special_strings_in([rendered]):
        assert special in pieces, f"{special!r} is not one token in {rendered!r}"


def test_pattern():
    source = (
        "{{ bos_token }}<|im_start|>{{ '[INST] ' + x + ' [/INST]' }}<<SYS>>\\n{{ '<start_of_turn>' }}"
        "{{ '<｜User｜>' }}{{ '<|turn>' + '<turn|>' }}{{ '{\"name\": <function-name>}' }}[i]{{ '[gMASK]<sop>' }}"
        "{% generation %}{{ '</think>' }}{% endgeneration %}"
    )
    found = template_special_strings(source)
    assert found == [
        "<|im_start|>",
        "[INST]",
        "[/INST]",
        "<start_of_turn>",
        "<｜User｜>",
        "<|turn>",
        "<turn|>",
        "[gMASK]",
        "<sop>",
        "</think>",
    ]


def test_dynamic_markers_found_by_probe_rendering():
    source = "{% for m in messages %}{{ '<|' + m.role + '|>\\n' + m.content + '<|end|>\\n' }}{% endfor %}"
    tok = tokenizer_for_jinja_template(source)
    for marker in ("<|user|>", "<|assistant|>", "<|end|>", "<|system|>"):
        assert len(tok(marker, add_special_tokens=False).input_ids) == 1, marker


def test_family_tokens():
    assert family_tokens("llama3_1.jinja") == ("<|begin_of_text|>", "<|eot_id|>")
    assert family_tokens("qwen2_5_training") == (None, "<|im_end|>")
    assert family_tokens("gemma3.jinja") == ("<bos>", "<eos>")
    assert family_tokens("unknown") == (None, None)


@needs_corpus
@pytest.mark.parametrize("path", SPEC_FILES, ids=[p.stem for p in SPEC_FILES])
def test_every_corpus_spec(path: Path):
    spec = json.loads(path.read_text(encoding="utf-8"))
    start = time.perf_counter()
    tok = tokenizer_from_template_spec(spec)
    assert time.perf_counter() - start < 1.0
    listed = [spec.get(k) for k in ("bos_token", "eos_token", "pad_token", "unk_token")]
    listed += spec.get("additional_special_tokens") or []
    for token in filter(None, listed):
        assert len(tok(token, add_special_tokens=False).input_ids) == 1, token
    templates = (
        spec["chat_template"] if isinstance(spec["chat_template"], dict) else {"": spec["chat_template"]}
    )
    for template in templates.values():
        _assert_specials_atomic(tok, _render(tok, template))


def _render(tok, template: str) -> str:
    """Render plainly; templates that need tools, documents or ``functions`` get them on retry."""
    kwargs = {"chat_template": template, "tokenize": False, "add_generation_prompt": True}
    try:
        return tok.apply_chat_template(CONVERSATION, **kwargs)
    except Exception:  # retried below with the inputs such templates require
        documents = [{"title": "Doc", "text": "Paris is sunny."}]
        extra = {
            "tools": _TOOLS,
            "documents": documents,
            "functions": json.dumps(_TOOLS),
            "datetime": "2024-07-26",
        }
        return tok.apply_chat_template(CONVERSATION, **kwargs, **extra)


@pytest.mark.parametrize("path", _trl_templates(), ids=lambda p: p.stem)
def test_trl_templates(path: Path):
    bos, eos = family_tokens(path.name)
    tok = tokenizer_for_jinja_template(path.read_text(encoding="utf-8"), family=path.name)
    assert (tok.bos_token, tok.eos_token) == (bos, eos)
    for special in template_special_strings(path.read_text(encoding="utf-8")):
        assert len(tok(special, add_special_tokens=False).input_ids) == 1, special
    try:
        rendered = tok.apply_chat_template(CONVERSATION, tokenize=False, add_generation_prompt=True)
    except Exception:  # multimodal templates (llava_next) want content as a list of parts
        parts = [{**m, "content": [{"type": "text", "text": m["content"]}]} for m in CONVERSATION]
        rendered = tok.apply_chat_template(parts, tokenize=False, add_generation_prompt=True)
    _assert_specials_atomic(tok, rendered)


# Our default templates render as the official ones where the corpus holds the same format.
_PARITY = [
    ("QWEN2_TEMPLATE", "qwen2_5-7b-instruct.json", True, True),
    ("QWEN3_TEMPLATE", "qwen3-0_6b.json", True, True),
    ("LLAMA3_TEMPLATE", "meta-llama-3-8b-instruct.json", True, False),
    ("GEMMA_TEMPLATE", "gemma-3-1b-it.json", False, False),
    ("PHI3_TEMPLATE", "phi-3_5-mini-instruct.json", True, False),
]
_TOOLS = [
    {
        "type": "function",
        "function": {
            "name": "get_weather",
            "description": "Get the weather.",
            "parameters": {
                "type": "object",
                "properties": {"city": {"type": "string", "description": "City."}},
            },
        },
    }
]
_TOOL_DIALOGUE = [
    {"role": "user", "content": "Weather in Paris?"},
    {
        "role": "assistant",
        "content": "",
        "tool_calls": [
            {"type": "function", "function": {"name": "get_weather", "arguments": {"city": "Paris"}}}
        ],
    },
    {"role": "tool", "content": "sunny"},
    {"role": "assistant", "content": "It is sunny.", "reasoning_content": "Easy."},
]


@needs_corpus
@pytest.mark.parametrize(("ours_name", "official_file", "with_system", "with_tools"), _PARITY)
def test_default_templates_match_official(ours_name, official_file, with_system, with_tools):
    official_path = CHAT_TEMPLATES / official_file
    if not official_path.exists():
        pytest.skip(f"{official_file} not in the corpus")
    spec = json.loads(official_path.read_text(encoding="utf-8"))
    tok = build_tokenizer(bos_token=spec["bos_token"], eos_token=spec["eos_token"])
    cases = [(CONVERSATION, None)]
    if with_system:
        cases.append(([{"role": "system", "content": "Be brief."}, *CONVERSATION], None))
    if with_tools:
        cases.append((_TOOL_DIALOGUE, _TOOLS))
    for messages, tools in cases:
        kwargs = {"tokenize": False, "add_generation_prompt": True, "tools": tools}
        mine = tok.apply_chat_template(messages, chat_template=getattr(ours, ours_name), **kwargs)
        official = tok.apply_chat_template(messages, chat_template=spec["chat_template"], **kwargs)
        assert mine == official
