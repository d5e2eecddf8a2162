"""The command line: verbs, fast --help, env, and the template commands (an external contract)."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from tests.conftest import shared_path
from tunesmith.cli.main import main

CONV = [
    {"role": "user", "content": "How are you"},
    {"role": "assistant", "content": "I am fine!"},
    {"role": "user", "content": "你好"},
    {"role": "assistant", "content": "很高兴认识你！"},
]


def _cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "tunesmith.cli.main", *args], capture_output=True, text=True)


@pytest.fixture(scope="module")
def qwen3_dir(tmp_path_factory) -> Path:
    from tunesmith.testing import build_tiny_model

    return build_tiny_model("qwen3", tmp_path_factory.mktemp("qwen3"))


@pytest.fixture(scope="module")
def gemma_dir(tmp_path_factory) -> Path:
    from tunesmith.testing import build_tiny_model

    return build_tiny_model("gemma2", tmp_path_factory.mktemp("gemma"))


@pytest.fixture()
def conv_file(tmp_path) -> Path:
    path = tmp_path / "conv.json"
    path.write_text(json.dumps(CONV, ensure_ascii=False))
    return path


def test_help_lists_verbs_fast_and_imports_nothing_heavy() -> None:
    code = (
        "import sys, time; t=time.perf_counter(); from tunesmith.cli.main import main; main(['--help']); "
        "print('ELAPSED', time.perf_counter()-t, 'torch' in sys.modules, 'transformers' in sys.modules)"
    )
    start = time.perf_counter()
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    wall = time.perf_counter() - start
    for verb in ("train", "chat", "predict", "serve", "export", "adapt", "template", "webui", "env"):
        assert f"  {verb} " in out
    last = out.strip().splitlines()[-1].split()
    assert last[2:] == ["False", "False"], "--help imported torch or transformers"
    assert wall < 5.0  # interpreter start included; the figure itself is in bench/


def test_version_and_unknown_verb(capsys) -> None:
    assert main(["version"]) == 0
    assert "tunesmith 0.1.0" in capsys.readouterr().out
    assert main(["tempalte"]) == 2
    assert "Did you mean template" in capsys.readouterr().err


def test_env_reports_versions_and_devices(capsys) -> None:
    assert main(["env"]) == 0
    out = capsys.readouterr().out
    for key in ("python", "torch", "transformers", "peft", "trl", "datasets", "accelerate", "cuda", "mps"):
        assert any(line.startswith(key) for line in out.splitlines()), key


def test_verb_help_lists_fields(capsys) -> None:
    assert main(["train", "--help"]) == 0
    out = capsys.readouterr().out
    assert "lora_rank" in out and "learning_rate" in out


def test_template_list_shows_family_and_origin(capsys) -> None:
    assert main(["template", "list"]) == 0
    out = capsys.readouterr().out
    assert "qwen3" in out and "builtin:families/qwen.py" in out and "chatml" in out


def test_render_json_matches_transformers(qwen3_dir: Path, conv_file: Path) -> None:
    from transformers import AutoTokenizer

    proc = _cli("template", "render", "--model", str(qwen3_dir), "--messages", str(conv_file), "--json")
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.strip().splitlines()
    assert len(lines) == 1
    out = json.loads(lines[0])
    assert set(out) == {"text", "input_ids", "labels"}
    tok = AutoTokenizer.from_pretrained(qwen3_dir)
    assert out["text"] == tok.apply_chat_template(CONV, tokenize=False)
    assert out["input_ids"] == tok.apply_chat_template(CONV, tokenize=True)["input_ids"]
    trained = tok.decode([t for t in out["labels"] if t != -100])
    # history reasoning is dropped by the official template; the final turn carries an empty think block
    assert trained == "I am fine!<|im_end|><think>\n\n</think>\n\n很高兴认识你！<|im_end|>"
    assert out["labels"][-1] == -100  # the newline after the end-of-turn marker is not trained


def test_render_human_marks_trained_tokens(qwen3_dir: Path, conv_file: Path) -> None:
    proc = _cli("template", "render", "--model", str(qwen3_dir), "--messages", str(conv_file))
    assert proc.returncode == 0, proc.stderr
    assert "⟦I am fine!<|im_end|>⟧" in proc.stdout


def test_render_generation_prompt_and_thinking_switch(qwen3_dir: Path, tmp_path: Path) -> None:
    conv = tmp_path / "c.json"
    conv.write_text(json.dumps(CONV[:1]))
    args = ["template", "render", "--model", str(qwen3_dir), "--messages", str(conv), "--json"]
    on = json.loads(_cli(*args, "--add-generation-prompt").stdout)
    off = json.loads(_cli(*args, "--add-generation-prompt", "--enable-thinking", "false").stdout)
    assert on["text"].endswith("<|im_start|>assistant\n")
    assert off["text"].endswith("<|im_start|>assistant\n<think>\n\n</think>\n\n")
    assert set(on["labels"]) == {-100}


def test_render_refused_by_official_template_fails_clearly(gemma_dir: Path, tmp_path: Path) -> None:
    conv = tmp_path / "c.json"
    conv.write_text(json.dumps([{"role": "user", "content": "a"}, {"role": "user", "content": "b"}]))
    proc = _cli(
        "template", "render", "--model", str(gemma_dir), "--messages", str(conv), "--template", "jinja"
    )
    assert proc.returncode != 0
    assert "alternate" in proc.stderr.lower()


def test_render_bad_messages_file(qwen3_dir: Path, tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text('{"role": "user"}')
    proc = _cli("template", "render", "--model", str(qwen3_dir), "--messages", str(bad))
    assert proc.returncode == 1 and "expected a JSON list" in proc.stderr
    bad.write_text('[{"role": "robot", "content": "x"}]')
    proc = _cli("template", "render", "--model", str(qwen3_dir), "--messages", str(bad))
    assert proc.returncode == 1 and "messages[0].role" in proc.stderr


@pytest.mark.parametrize("template", [None, "jinja"])
def test_check_passes_on_tiny_model(qwen3_dir: Path, template: str | None) -> None:
    args = ["template", "check", "--model", str(qwen3_dir)] + (["--template", template] if template else [])
    proc = _cli(*args)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "14/14 shape checks pass" in proc.stdout


def test_check_fails_with_first_difference(qwen3_dir: Path) -> None:
    proc = _cli("template", "check", "--model", str(qwen3_dir), "--template", "chatml")
    assert proc.returncode == 1
    assert "FAIL" in proc.stdout and "expected" in proc.stdout


PLUGIN = textwrap.dedent(
    """
    from tunesmith.families import DeclarativeTemplate, Family, ModelGroup

    ACME = DeclarativeTemplate(
        name="acme_chat",
        prefix="{bos_token}",
        system="<<SYS>>{content}<</SYS>>\\n",
        user="<<U>>{content}<</U>>\\n",
        assistant="<<A>>{content}{eos_token}\\n",
        family="acme",
    )

    def register(catalog):
        catalog.add_family(
            Family(name="acme", templates=(ACME,), model_types=("acme",),
                   groups=(ModelGroup("Acme-1B-Chat", "acme/Acme-1B-Chat"),))
        )
    """
)


def test_plugin_family_is_used_by_list_render_and_check(tmp_path: Path, conv_file: Path) -> None:
    from tunesmith.families import build_catalog
    from tunesmith.testing import build_tokenizer

    plugin = tmp_path / "acme_plugin.py"
    plugin.write_text(PLUGIN)
    template = build_catalog([plugin]).template("acme_chat")
    tok = build_tokenizer(
        special_tokens=["<<SYS>>", "<</SYS>>", "<<U>>", "<</U>>", "<<A>>"],
        bos_token="<s>",
        eos_token="</s>",
        chat_template=template.to_jinja(),
    )
    model = tmp_path / "acme-model"
    tok.save_pretrained(model)
    (model / "config.json").write_text(json.dumps({"model_type": "acme"}))

    listed = _cli("template", "list", "--plugins", str(plugin))
    assert "acme_chat" in listed.stdout and f"plugin:{plugin}" in listed.stdout
    rendered = _cli(
        "template",
        "render",
        "--model",
        str(model),
        "--messages",
        str(conv_file),
        "--plugins",
        str(plugin),
        "--json",
    )
    assert rendered.returncode == 0, rendered.stderr
    assert json.loads(rendered.stdout)["text"].startswith("<s><<U>>How are you<</U>>\n<<A>>I am fine!</s>\n")
    checked = _cli("template", "check", "--model", str(model), "--plugins", str(plugin))
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "acme_chat" in checked.stdout and "renders identically" in checked.stdout


def test_derive_unregistered_template_then_check(tmp_path: Path) -> None:
    from tunesmith.testing import tokenizer_from_template_spec

    spec = json.loads(shared_path("chat_templates", "aya-23-35b.json").read_text())
    tok = tokenizer_from_template_spec(spec)
    model = tmp_path / "aya-like"
    tok.save_pretrained(model)
    out = tmp_path / "aya_plugin.py"
    proc = _cli("template", "derive", "--model", str(model), "--out", str(out), "--name", "aya_like")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "14 battery shapes reproduced" in proc.stdout
    checked = _cli(
        "template", "check", "--model", str(model), "--template", "aya_like", "--plugins", str(out)
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr


def test_derive_reports_what_cannot_be_expressed(tmp_path: Path) -> None:
    from tunesmith.testing import tokenizer_from_template_spec

    spec = json.loads(shared_path("chat_templates", "llama-3_1-8b-instruct.json").read_text())
    tok = tokenizer_from_template_spec(spec)
    model = tmp_path / "llama31"
    tok.save_pretrained(model)
    proc = _cli("template", "derive", "--model", str(model), "--name", "l31")
    assert proc.returncode == 0
    assert "cannot be expressed declaratively: tools" in proc.stdout
