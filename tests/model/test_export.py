from __future__ import annotations

import json

import pytest
import torch
from transformers import AutoModelForCausalLM, AutoTokenizer

from tests.model.conftest import randomise_lora_b, sample_ids
from tunesmith.cli.main import main
from tunesmith.config import load_config
from tunesmith.model import ModelError, export_model, load_model, load_tokenizer, merge_adapters
from tunesmith.templates import Conversation

TWO_TURNS = [
    {"role": "system", "content": "You are terse."},
    {"role": "user", "content": "Hi there"},
    {"role": "assistant", "content": "Hello!"},
    {"role": "user", "content": "How are you? 你好"},
    {"role": "assistant", "content": "Fine."},
]


def _adapter(model_dir, out_dir, *, save_tokenizer: bool = False, chat_template: str | None = None):
    cfg = load_config([f"model_name_or_path={model_dir}", "lora_rank=4"], verb="train")
    tokenizer = load_tokenizer(cfg.model)
    model = load_model(cfg.model, tokenizer, finetune_cfg=cfg.finetune, for_training=True)
    randomise_lora_b(model)
    model.eval()
    with torch.no_grad():
        logits = model(input_ids=sample_ids()).logits
    model.save_pretrained(out_dir)
    if save_tokenizer:
        if chat_template is not None:
            tokenizer.chat_template = chat_template
        tokenizer.save_pretrained(out_dir)
    return logits


def _export_cfg(model_dir, adapter, export_dir, *extra: str):
    return load_config(
        [
            f"model_name_or_path={model_dir}",
            f"adapter_name_or_path={adapter}",
            f"export_dir={export_dir}",
            "export_dtype=float32",
            *extra,
        ],
        verb="export",
    )


@pytest.mark.parametrize("arch", ["llama", "qwen3"])
def test_export_loads_with_plain_transformers_and_renders_the_training_template(tiny_dirs, tmp_path, arch):
    logits = _adapter(tiny_dirs[arch], tmp_path / "adapter")
    cfg = _export_cfg(tiny_dirs[arch], tmp_path / "adapter", tmp_path / "out")
    result = export_model(cfg)

    model = AutoModelForCausalLM.from_pretrained(tmp_path / "out")
    assert not any(".lora_" in n for n, _ in model.named_parameters())
    with torch.no_grad():
        torch.testing.assert_close(model(input_ids=sample_ids()).logits, logits, atol=1e-4, rtol=0)
    assert list((tmp_path / "out").glob("*.safetensors"))

    from tunesmith.families import build_catalog
    from tunesmith.families.resolve import choose_template

    tokenizer = AutoTokenizer.from_pretrained(tmp_path / "out")
    choice = choose_template(build_catalog(), load_tokenizer(cfg.model), model_dir=tiny_dirs[arch])
    assert result.template_name == choice.name
    ours = choice.template.render(Conversation.from_openai(TWO_TURNS)).text
    theirs = tokenizer.apply_chat_template(TWO_TURNS, tokenize=False)
    assert theirs == ours
    prompt = choice.template.render(Conversation.from_openai(TWO_TURNS[:-1]), add_generation_prompt=True).text
    assert tokenizer.apply_chat_template(TWO_TURNS[:-1], tokenize=False, add_generation_prompt=True) == prompt

    eos = model.generation_config.eos_token_id
    assert isinstance(eos, list)
    stops = [
        tokenizer.convert_tokens_to_ids(s) for s in choice.template.stop_strings if s in tokenizer.get_vocab()
    ]
    assert stops and eos[: len(stops)] == stops

    record = json.loads((tmp_path / "out" / "tunesmith_export.json").read_text())
    assert record["base"] == str(tiny_dirs[arch])
    assert record["adapters"] == [str(tmp_path / "adapter")]
    assert record["template"] == {"name": choice.name, "reason": choice.reason}
    assert record["dtype"] == "float32"


def test_export_casts_and_shards(tiny_dirs, tmp_path):
    _adapter(tiny_dirs["llama"], tmp_path / "adapter")
    cfg = load_config(
        [
            f"model_name_or_path={tiny_dirs['llama']}",
            f"adapter_name_or_path={tmp_path / 'adapter'}",
            f"export_dir={tmp_path / 'out'}",
            "export_dtype=bfloat16",
        ],
        verb="export",
    )
    export_model(cfg)
    model = AutoModelForCausalLM.from_pretrained(tmp_path / "out", dtype="auto")
    assert model.dtype is torch.bfloat16


def test_export_prefers_the_tokenizer_saved_with_the_adapter(tiny_dirs, tmp_path):
    trained_template = (
        "{% for m in messages %}<|start_header_id|>{{ m['role'] }}<|end_header_id|>\n\n"
        "{{ m['content'] }}<|eot_id|>{% endfor %}"
        "{% if add_generation_prompt %}<|start_header_id|>assistant<|end_header_id|>\n\n{% endif %}"
    )
    _adapter(tiny_dirs["llama"], tmp_path / "adapter", save_tokenizer=True, chat_template=trained_template)
    result = export_model(_export_cfg(tiny_dirs["llama"], tmp_path / "adapter", tmp_path / "out"))
    assert result.template_name == "jinja"
    tokenizer = AutoTokenizer.from_pretrained(tmp_path / "out")
    assert tokenizer.chat_template == trained_template


def test_export_with_a_named_template(tiny_dirs, tmp_path):
    _adapter(tiny_dirs["qwen3"], tmp_path / "adapter")
    result = export_model(
        _export_cfg(tiny_dirs["qwen3"], tmp_path / "adapter", tmp_path / "out", "template=qwen3")
    )
    assert (result.template_name, result.template_reason) == ("qwen3", "asked for by name")


def test_export_cli(tiny_dirs, tmp_path, capsys):
    _adapter(tiny_dirs["qwen3"], tmp_path / "adapter")
    config = tmp_path / "export.yaml"
    config.write_text(
        f"model_name_or_path: {tiny_dirs['qwen3']}\nadapter_name_or_path: {tmp_path / 'adapter'}\n"
        "export_size: 1\nexport_dtype: float32\n"
    )
    assert main(["export", str(config), f"export_dir={tmp_path / 'out'}"]) == 0
    assert "exported to" in capsys.readouterr().out
    assert (tmp_path / "out" / "tunesmith_export.json").is_file()
    assert main(["export", str(config)]) == 2
    assert "export_dir" in capsys.readouterr().err
    assert main(["export", str(config), "export_dirr=x"]) == 2
    assert main(["export", "--help"]) == 0


def test_merge_into_a_quantized_model_is_refused(tiny_dirs, tmp_path):
    _adapter(tiny_dirs["llama"], tmp_path / "adapter")
    cfg = load_config([f"model_name_or_path={tiny_dirs['llama']}", "finetuning_type=full"], verb="chat")
    model = load_model(cfg.model, load_tokenizer(cfg.model), finetune_cfg=cfg.finetune, for_training=False)
    model.config.quantization_config = {"quant_method": "gptq", "bits": 4}
    with pytest.raises(ModelError, match=r"quantized \(gptq\).*full-precision base"):
        merge_adapters(model, [str(tmp_path / "adapter")])


def test_export_of_a_quantized_checkpoint_is_refused(tiny_dirs, tmp_path):
    import shutil

    base = shutil.copytree(tiny_dirs["llama"], tmp_path / "quantized")
    config = json.loads((base / "config.json").read_text())
    config["quantization_config"] = {"quant_method": "bitsandbytes", "load_in_4bit": True}
    (base / "config.json").write_text(json.dumps(config))
    _adapter(tiny_dirs["llama"], tmp_path / "adapter")
    with pytest.raises(ModelError, match=r"quantized \(bitsandbytes\)"):
        export_model(_export_cfg(base, tmp_path / "adapter", tmp_path / "out"))
    with pytest.raises(ModelError, match="quantization_bit=4"):
        export_model(
            _export_cfg(tiny_dirs["llama"], tmp_path / "adapter", tmp_path / "out", "quantization_bit=4")
        )
    assert not (tmp_path / "out").exists()
