"""Post-training-quantized checkpoints (GPTQ/AWQ/saved bnb): clear refusals without a GPU or the libraries."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from tunesmith.config import FinetuneConfig, ModelConfig
from tunesmith.model.errors import ModelError

GPTQ = {"quant_method": "gptq", "bits": 4, "group_size": 128, "desc_act": False, "sym": True}
AWQ = {"quant_method": "awq", "bits": 4, "group_size": 128, "zero_point": True, "version": "gemm"}


def _quantized_copy(tiny: Path, out: Path, qcfg: dict) -> Path:
    """The tiny model's files with ``quantization_config`` written into its config.json."""
    shutil.copytree(tiny, out)
    config = json.loads((out / "config.json").read_text())
    config["quantization_config"] = qcfg
    (out / "config.json").write_text(json.dumps(config))
    return out


@pytest.fixture
def no_libs(monkeypatch: pytest.MonkeyPatch) -> None:
    """Neither the quantization libraries nor a CUDA GPU, whatever the machine has."""
    import tunesmith.model.ptq as ptq

    monkeypatch.setattr(ptq, "_has", lambda module: False)
    monkeypatch.setattr(ptq, "cuda_available", lambda: False)
    monkeypatch.delenv("ACCELERATE_USE_FSDP", raising=False)
    monkeypatch.delenv("ACCELERATE_DEEPSPEED_ZERO_STAGE", raising=False)


def _load(path: Path, finetuning_type: str = "lora", *, for_training: bool = True, **model_kw):
    from tunesmith.model import load_model, load_tokenizer

    cfg = ModelConfig(model_name_or_path=str(path), **model_kw)
    return load_model(
        cfg,
        load_tokenizer(cfg),
        finetune_cfg=FinetuneConfig(finetuning_type=finetuning_type),
        for_training=for_training,
    )


def test_ptq_method_reads_config(tiny_dirs, tmp_path: Path) -> None:
    from tunesmith.model.ptq import ptq_method

    assert ptq_method(tiny_dirs["llama"]) is None
    assert ptq_method(tmp_path / "missing") is None
    assert ptq_method("org/hub-id") is None
    assert ptq_method(_quantized_copy(tiny_dirs["llama"], tmp_path / "g", GPTQ)) == "gptq"
    assert ptq_method(_quantized_copy(tiny_dirs["llama"], tmp_path / "a", AWQ)) == "awq"
    bnb = {"quant_method": "bitsandbytes", "load_in_4bit": True}
    assert ptq_method(_quantized_copy(tiny_dirs["llama"], tmp_path / "b", bnb)) == "bitsandbytes"
    hqq = _quantized_copy(tiny_dirs["llama"], tmp_path / "h", {"quant_method": "hqq"})
    with pytest.raises(ModelError, match="unsupported quantization method 'hqq'"):
        ptq_method(hqq)


@pytest.mark.parametrize(("qcfg", "label"), [(GPTQ, "GPTQ"), (AWQ, "AWQ")])
def test_lora_on_ptq_without_libs_or_cuda_is_a_clear_error(tiny_dirs, tmp_path, no_libs, qcfg, label) -> None:
    path = _quantized_copy(tiny_dirs["llama"], tmp_path / "q", qcfg)
    with pytest.raises(ModelError) as err:
        _load(path, "lora")
    msg = str(err.value)
    assert f"is {label}-quantized: install gptqmodel" in msg
    assert "use a CUDA GPU" in msg and "no CUDA GPU is visible" in msg and "not installed" in msg
    assert "LoRA training on it is supported, full fine-tuning is not" in msg
    with pytest.raises(ModelError, match=f"{label}-quantized: install"):  # inference needs them too
        _load(path, "full", for_training=False)


def test_unsupported_method_refused_by_loader(tiny_dirs, tmp_path) -> None:
    path = _quantized_copy(tiny_dirs["llama"], tmp_path / "e", {"quant_method": "eetq"})
    with pytest.raises(ModelError, match="unsupported quantization method 'eetq'"):
        _load(path)


@pytest.mark.parametrize("finetuning_type", ["full", "freeze"])
def test_full_and_freeze_tuning_of_ptq_refused(tiny_dirs, tmp_path, no_libs, finetuning_type) -> None:
    path = _quantized_copy(tiny_dirs["llama"], tmp_path / "g", GPTQ)
    with pytest.raises(ModelError, match=f"GPTQ-quantized: finetuning_type={finetuning_type} cannot update"):
        _load(path, finetuning_type)


def test_quantization_bit_on_a_ptq_checkpoint_refused(tiny_dirs, tmp_path, no_libs) -> None:
    path = _quantized_copy(tiny_dirs["llama"], tmp_path / "a", AWQ)
    with pytest.raises(ModelError, match=r"already quantized \(awq\); remove quantization_bit=4"):
        _load(path, quantization_bit=4)


def test_runtime_check_passes_with_libs_and_cuda(monkeypatch) -> None:
    import tunesmith.model.ptq as ptq

    monkeypatch.setattr(ptq, "_has", lambda module: True)
    monkeypatch.setattr(ptq, "cuda_available", lambda: True)
    for method in ("gptq", "awq", "bitsandbytes", "fp8", None):
        ptq.check_ptq_runtime(method, "m")
    monkeypatch.setattr(ptq, "cuda_available", lambda: False)
    with pytest.raises(ModelError, match=r"GPTQ-quantized: .*\(no CUDA GPU is visible\)"):
        ptq.check_ptq_runtime("gptq", "m")


def test_deepspeed_and_fsdp_detection(tmp_path, monkeypatch) -> None:
    from tunesmith.model.ptq import deepspeed_zero_stage, fsdp_enabled, zero3_enabled

    monkeypatch.delenv("ACCELERATE_USE_FSDP", raising=False)
    monkeypatch.delenv("ACCELERATE_DEEPSPEED_ZERO_STAGE", raising=False)
    ds = tmp_path / "ds.json"
    ds.write_text(json.dumps({"zero_optimization": {"stage": 3}}))
    assert deepspeed_zero_stage(str(ds)) == 3 and zero3_enabled(ds)
    assert deepspeed_zero_stage({"zero_optimization": {"stage": 2}}) == 2
    assert deepspeed_zero_stage('{"zero_optimization": {"stage": "3"}}') == 3
    assert deepspeed_zero_stage({"zero_optimization": {"stage": "auto"}}) is None
    assert deepspeed_zero_stage(None) is None and not zero3_enabled(None)
    with pytest.raises(ModelError, match="no such DeepSpeed config file"):
        deepspeed_zero_stage(str(tmp_path / "nope.json"))
    assert fsdp_enabled("full_shard auto_wrap") and fsdp_enabled(["full_shard"]) and fsdp_enabled(True)
    assert (
        not fsdp_enabled("") and not fsdp_enabled(None) and not fsdp_enabled([]) and not fsdp_enabled(False)
    )
    monkeypatch.setenv("ACCELERATE_USE_FSDP", "true")
    assert fsdp_enabled(None)


def _run_cfg(model: Path, **extra):
    from tunesmith.config import load_config

    return load_config([], verb="train", base={"model_name_or_path": str(model), "stage": "sft", **extra})


def test_run_train_refuses_zero3_with_ptq_before_loading(tiny_dirs, tmp_path, no_libs, monkeypatch) -> None:
    from tunesmith.train import workflow

    path = _quantized_copy(tiny_dirs["llama"], tmp_path / "g", GPTQ)

    def no_args(cfg):  # the refusal must come before TrainingArguments (which would start DeepSpeed)
        raise AssertionError("training_arguments reached")

    monkeypatch.setattr(workflow, "training_arguments", no_args)
    cfg = _run_cfg(path, finetuning_type="lora", deepspeed={"zero_optimization": {"stage": 3}})
    with pytest.raises(ModelError, match=r"GPTQ-quantized: .*cannot be sharded with DeepSpeed ZeRO-3"):
        workflow.run_train(cfg)
    ds = tmp_path / "ds3.json"
    ds.write_text(json.dumps({"zero_optimization": {"stage": 3}}))
    with pytest.raises(ModelError, match="DeepSpeed ZeRO-3"):
        workflow.run_train(_run_cfg(path, finetuning_type="lora", deepspeed=str(ds)))


def test_run_train_refuses_fsdp_and_full_tuning_with_ptq(tiny_dirs, tmp_path, no_libs, monkeypatch) -> None:
    from tunesmith.train import workflow

    monkeypatch.setattr(workflow, "training_arguments", lambda cfg: pytest.fail("training_arguments reached"))
    path = _quantized_copy(tiny_dirs["llama"], tmp_path / "a", AWQ)
    with pytest.raises(ModelError, match=r"AWQ-quantized: .*cannot be sharded with FSDP"):
        workflow.run_train(_run_cfg(path, finetuning_type="lora", fsdp="full_shard auto_wrap"))
    with pytest.raises(ModelError, match="AWQ-quantized: finetuning_type=full cannot update"):
        workflow.run_train(_run_cfg(path, finetuning_type="full"))
    bnb = _quantized_copy(tiny_dirs["llama"], tmp_path / "b", {"quant_method": "bitsandbytes"})
    with pytest.raises(ModelError, match="bitsandbytes-quantized: .*FSDP"):
        workflow.run_train(_run_cfg(bnb, finetuning_type="lora", fsdp="shard_grad_op"))


def test_zero2_lora_on_ptq_passes_the_run_check(tiny_dirs, tmp_path, no_libs) -> None:
    from tunesmith.model.ptq import check_ptq_run

    path = _quantized_copy(tiny_dirs["llama"], tmp_path / "g", GPTQ)
    cfg = _run_cfg(path, finetuning_type="lora", deepspeed={"zero_optimization": {"stage": 2}})
    assert check_ptq_run(cfg) == "gptq"
    assert check_ptq_run(_run_cfg(tiny_dirs["llama"], finetuning_type="full", fsdp="full_shard")) is None


def test_fp8_checkpoint_is_not_refused(tiny_dirs, tmp_path, no_libs) -> None:
    from tunesmith.model.fp8 import save_fp8_checkpoint
    from tunesmith.model.ptq import check_ptq_run

    fp8 = save_fp8_checkpoint(tiny_dirs["llama"], tmp_path / "fp8")
    cfg = _run_cfg(fp8, finetuning_type="full", deepspeed={"zero_optimization": {"stage": 3}})
    assert check_ptq_run(cfg) == "fp8"  # dequantized before loading: trains like any model
