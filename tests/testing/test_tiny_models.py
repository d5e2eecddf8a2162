from __future__ import annotations

import json

import pytest
import torch
from transformers import AutoModelForCausalLM, AutoTokenizer

from tunesmith.testing import ARCH_SPECS, ARCHITECTURES, TINY_PRESETS, build_tiny_model, tiny_tokenizer

MESSAGES = [
    {"role": "system", "content": "You are a tiny model."},
    {"role": "user", "content": "Hi 你好 😀"},
    {"role": "assistant", "content": "Hello!"},
    {"role": "user", "content": "Bye"},
]


def test_architectures_cover_the_families():
    assert {"llama", "qwen2", "qwen3", "mistral", "gemma2", "phi3"} <= set(ARCHITECTURES)
    assert set(TINY_PRESETS) >= {"tiny", "100m"}


@pytest.mark.parametrize("arch", ARCHITECTURES)
def test_loads_renders_and_runs(arch, tiny_models):
    path = tiny_models[arch]
    spec = ARCH_SPECS[arch]
    tok = AutoTokenizer.from_pretrained(path)
    model = AutoModelForCausalLM.from_pretrained(path)
    assert model.config.model_type == arch
    assert model.config.vocab_size == len(tok)

    text = tok.apply_chat_template(MESSAGES, tokenize=False, add_generation_prompt=arch != "mistral")
    ids = tok(text, add_special_tokens=False).input_ids
    assert tok.decode(ids) == text
    assert (
        ids
        == tok.apply_chat_template(MESSAGES, add_generation_prompt=arch != "mistral", return_dict=True)[
            "input_ids"
        ]
    )

    with torch.no_grad():
        logits = model(torch.tensor([ids])).logits
    assert logits.shape == (1, len(ids), len(tok))

    # Same ids as the tokenizer object the factory builds (whatever class AutoTokenizer picked).
    assert ids == tiny_tokenizer(arch)(text, add_special_tokens=False).input_ids

    for token in (spec.bos_token, spec.eos_token, spec.pad_token, spec.unk_token, *spec.special_tokens):
        if token:
            assert len(tok(token, add_special_tokens=False).input_ids) == 1, token
    assert tok.eos_token == spec.eos_token
    assert tok.pad_token == spec.pad_token
    assert model.config.eos_token_id == tok.eos_token_id
    assert model.config.pad_token_id == tok.pad_token_id
    assert model.config.bos_token_id == (tok.bos_token_id if spec.bos_token else None)
    stops = model.generation_config.eos_token_id
    stops = stops if isinstance(stops, list) else [stops]
    assert stops[0] == tok.eos_token_id
    assert model.generation_config.pad_token_id == tok.pad_token_id
    assert model.config.tie_word_embeddings == spec.tie_word_embeddings


@pytest.mark.parametrize("arch", ARCHITECTURES)
def test_generation_stops_at_end_of_turn(arch, tiny_models):
    path = tiny_models[arch]
    tok = AutoTokenizer.from_pretrained(path)
    model = AutoModelForCausalLM.from_pretrained(path)
    prompt = torch.tensor([tok("Hello", add_special_tokens=False).input_ids])
    with torch.no_grad():
        # Force the end-of-turn token: generation must stop right after it.
        bias = torch.zeros(len(tok))
        bias[tok.eos_token_id] = 1e4
        model.lm_head.bias = torch.nn.Parameter(bias) if model.lm_head.bias is None else model.lm_head.bias
        out = model.generate(prompt, max_new_tokens=5, do_sample=False)
    assert out[0, prompt.shape[1] :].tolist() == [tok.eos_token_id]


def test_deterministic(tmp_path):
    a = build_tiny_model("qwen3", tmp_path / "a", seed=3)
    b = build_tiny_model("qwen3", tmp_path / "b", seed=3)
    c = build_tiny_model("qwen3", tmp_path / "c", seed=4)
    for name in (
        "tokenizer.json",
        "tokenizer_config.json",
        "config.json",
        "generation_config.json",
        "model.safetensors",
    ):
        assert (a / name).read_bytes() == (b / name).read_bytes(), name
    sa = AutoModelForCausalLM.from_pretrained(a).state_dict()
    sb = AutoModelForCausalLM.from_pretrained(b).state_dict()
    sc = AutoModelForCausalLM.from_pretrained(c).state_dict()
    assert sa.keys() == sb.keys()
    assert all(torch.equal(sa[k], sb[k]) for k in sa)
    assert not all(torch.equal(sa[k], sc[k]) for k in sa)


def test_overrides(tmp_path):
    template = "{% for m in messages %}{{ m.content }}{% endfor %}"
    path = build_tiny_model(
        "llama", tmp_path, chat_template=template, hidden_size=32, num_layers=1, vocab_size=2000
    )
    config = json.loads((path / "config.json").read_text())
    assert (config["hidden_size"], config["num_hidden_layers"], config["vocab_size"]) == (32, 1, 2000)
    tok = AutoTokenizer.from_pretrained(path)
    assert tok.apply_chat_template([{"role": "user", "content": "x"}], tokenize=False) == "x"


def test_bad_arguments(tmp_path):
    with pytest.raises(ValueError, match="unknown tiny architecture 'gpt9'"):
        build_tiny_model("gpt9", tmp_path)
    with pytest.raises(ValueError, match="preset"):
        build_tiny_model("llama", tmp_path, preset="huge")
    with pytest.raises(ValueError, match="divisible"):
        build_tiny_model("llama", tmp_path, hidden_size=30)
    with pytest.raises(ValueError, match="smaller than the tokenizer"):
        build_tiny_model("llama", tmp_path, vocab_size=100)


@pytest.mark.slow
def test_100m_preset(tmp_path):
    path = build_tiny_model("llama", tmp_path, preset="100m")
    model = AutoModelForCausalLM.from_pretrained(path)
    params = sum(p.numel() for p in model.parameters())
    assert 90e6 < params < 110e6
