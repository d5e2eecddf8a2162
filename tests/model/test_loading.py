from __future__ import annotations

import logging

import pytest
import torch

from tunesmith.config import load_config
from tunesmith.model import ModelError, bnb_config, load_model, load_tokenizer, resolve_dtype
from tunesmith.model.tokens import add_special_tokens, resize_embeddings

NO_CUDA = pytest.mark.skipif(torch.cuda.is_available(), reason="checks the CPU behaviour")


def _cfg(*args: str):
    return load_config(list(args), verb="train")


@NO_CUDA
def test_half_precision_on_cpu_falls_back_to_float32_with_warning(caplog):
    with caplog.at_level(logging.WARNING, logger="tunesmith.model.dtype"):
        assert resolve_dtype("bfloat16", device="cpu") is torch.float32
    assert "float32" in caplog.text and "bfloat16" in caplog.text
    assert resolve_dtype("auto", device="cpu") is torch.float32
    assert resolve_dtype("float16", device="cpu", key="export_dtype") is torch.float32


def test_unknown_dtype_names_the_key():
    with pytest.raises(ModelError, match="infer_dtype='float8'"):
        resolve_dtype("float8", device="cpu")


@NO_CUDA
def test_load_model_in_bf16_on_cpu_loads_float32(tiny_dirs, caplog):
    cfg = _cfg(f"model_name_or_path={tiny_dirs['llama']}", "infer_dtype=bfloat16")
    tokenizer = load_tokenizer(cfg.model)
    with caplog.at_level(logging.WARNING):
        model = load_model(cfg.model, tokenizer, for_training=False)
    assert model.dtype is torch.float32
    assert "no CUDA GPU" in caplog.text
    assert not any(p.requires_grad for p in model.parameters())


@NO_CUDA
def test_flash_attention_on_cpu_is_a_clear_error(tiny_dirs):
    cfg = _cfg(f"model_name_or_path={tiny_dirs['llama']}", "attn_implementation=flash_attention_2")
    with pytest.raises(ModelError, match="needs a CUDA GPU.*sdpa or eager"):
        load_model(cfg.model, load_tokenizer(cfg.model), for_training=False)


def test_attention_implementation_is_passed_through(tiny_dirs):
    cfg = _cfg(f"model_name_or_path={tiny_dirs['llama']}", "attn_implementation=eager")
    model = load_model(cfg.model, load_tokenizer(cfg.model), for_training=False)
    assert model.config._attn_implementation == "eager"


@NO_CUDA
@pytest.mark.parametrize("bits", [4, 8])
def test_qlora_on_cpu_is_a_clear_error(tiny_dirs, bits):
    cfg = _cfg(f"model_name_or_path={tiny_dirs['llama']}", f"quantization_bit={bits}")
    with pytest.raises(
        ModelError,
        match=rf"quantization_bit={bits} needs a CUDA GPU and bitsandbytes: pip install tunesmith\[bnb\]",
    ):
        bnb_config(cfg.model, torch.float32)
    with pytest.raises(ModelError, match="needs a CUDA GPU and bitsandbytes"):
        load_model(cfg.model, load_tokenizer(cfg.model), for_training=True)


def test_offline_hub_id_is_a_clear_error(monkeypatch, tmp_path):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    cfg = _cfg("model_name_or_path=tunesmith-test/no-such-model", f"cache_dir={tmp_path}")
    with pytest.raises(ModelError) as err:
        load_tokenizer(cfg.model)
    message = str(err.value)
    assert "tunesmith-test/no-such-model" in message
    assert "HF_HUB_OFFLINE" in message and "hf download tunesmith-test/no-such-model" in message


def test_missing_local_folder_is_a_clear_error(tmp_path):
    cfg = _cfg(f"model_name_or_path={tmp_path / 'nope'}")
    with pytest.raises(ModelError, match="no such directory"):
        load_tokenizer(cfg.model)


def test_modelscope_without_the_package_says_install(monkeypatch):
    import importlib.util

    if importlib.util.find_spec("modelscope") is not None:
        pytest.skip("modelscope is installed")
    cfg = _cfg("model_name_or_path=Qwen/Qwen3-0.6B", "use_modelscope_hub=true")
    with pytest.raises(ModelError, match="pip install modelscope"):
        load_tokenizer(cfg.model)


def test_new_tokens_get_mean_initialised_rows(tiny_dirs):
    cfg = _cfg(f"model_name_or_path={tiny_dirs['llama']}")
    tokenizer = load_tokenizer(cfg.model)
    model = load_model(cfg.model, tokenizer, for_training=False)
    old_in = model.get_input_embeddings().weight.detach().clone()
    old_out = model.get_output_embeddings().weight.detach().clone()
    assert add_special_tokens(tokenizer, ["<tool_x>", "<tool_y>"]) == 2
    assert resize_embeddings(model, tokenizer)
    new_in = model.get_input_embeddings().weight
    rows = old_in.shape[0]
    assert new_in.shape[0] >= len(tokenizer) and new_in.shape[0] % 64 == 0
    assert torch.equal(new_in[:rows], old_in)
    torch.testing.assert_close(new_in[rows:], old_in.mean(0, keepdim=True).expand_as(new_in[rows:]))
    torch.testing.assert_close(
        model.get_output_embeddings().weight[rows:],
        old_out.mean(0, keepdim=True).expand(new_in.shape[0] - rows, -1),
    )
    assert (
        tokenizer.convert_ids_to_tokens(tokenizer.encode("a<tool_x>", add_special_tokens=False))[-1]
        == "<tool_x>"
    )
    assert not resize_embeddings(model, tokenizer)


def test_tokenizer_larger_than_embeddings_needs_resize_vocab(tiny_dirs):
    cfg = _cfg(f"model_name_or_path={tiny_dirs['llama']}")
    tokenizer = load_tokenizer(cfg.model)
    tokenizer.add_tokens([f"<new{i}>" for i in range(3)])
    with pytest.raises(ModelError, match="resize_vocab=true"):
        load_model(cfg.model, tokenizer, for_training=False)
    cfg = _cfg(f"model_name_or_path={tiny_dirs['llama']}", "resize_vocab=true", "finetuning_type=lora")
    model = load_model(cfg.model, tokenizer, finetune_cfg=cfg.finetune, for_training=True)
    # the resized embeddings train with the adapter (their new rows would never move otherwise)
    assert set(model.peft_config["default"].modules_to_save) == {"embed_tokens", "lm_head"}


def test_gradient_checkpointing_for_training(tiny_dirs):
    cfg = _cfg(f"model_name_or_path={tiny_dirs['qwen3']}", "finetuning_type=lora")
    model = load_model(
        cfg.model,
        load_tokenizer(cfg.model),
        finetune_cfg=cfg.finetune,
        for_training=True,
        gradient_checkpointing=True,
    )
    base = model.get_base_model()
    assert base.model.layers[0].gradient_checkpointing
    assert base.config.use_cache is False
    ids = torch.tensor([[5, 17, 42, 99]])
    loss = model(input_ids=ids, labels=ids).loss
    loss.backward()
    grads = [p.grad for n, p in model.named_parameters() if "lora_A" in n]
    assert grads and all(g is not None for g in grads)
