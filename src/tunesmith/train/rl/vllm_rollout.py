"""GRPO/PPO rollouts through vLLM in colocate mode (``use_vllm: true``).

One ``vllm.LLM`` is built once, in the training process, on the same GPU as the policy (trl's
"colocate" mode: ``distributed_executor_backend="external_launcher"``), holding at most
``vllm_gpu_util`` of the GPU memory, ``vllm_maxlen`` tokens per sequence, ``vllm_enforce_eager`` and
any ``vllm_config`` engine arguments. Prompts go in as the token ids our template rendered
(:mod:`tunesmith.data.prompts`), never re-rendered by vLLM; each prompt is asked for
``n = num_generations`` completions with the template's stop tokens (:func:`vllm_sampling_kwargs`).

Weights: before each sampling the policy's current weights are pushed into the vLLM model
(:meth:`VLLMRollout.sync_weights`, i.e. after every optimizer step that changed them and after a
resume). A LoRA policy is merged in a *copy*, one layer at a time (:func:`policy_weights`:
``W + scale · B A`` from peft's ``get_delta_weight``), so the trained weights are never merged and
unmerged in place. The tensors are loaded with the vLLM model's own ``load_weights`` — the call
trl's GRPOTrainer makes in colocate mode (``trl/generation/vllm_generation.py``, ``sync_weights``,
for vLLM 0.22–0.31) — then the prefix cache is reset, so no stale KV entry survives the update.

vllm is imported lazily; without it, or without a CUDA GPU, :func:`check_vllm` says what is missing.
"""

from __future__ import annotations

import importlib.util
import logging
import os
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Any

from tunesmith.infer.sampling import SamplingParams

if TYPE_CHECKING:
    import torch

    from tunesmith.config import RunConfig

logger = logging.getLogger(__name__)

__all__ = [
    "VLLMRollout",
    "VLLMUnavailableError",
    "check_vllm",
    "llm_kwargs",
    "policy_weights",
    "vllm_sampling_kwargs",
    "vllm_weight_name",
]


class VLLMUnavailableError(RuntimeError):
    """``use_vllm: true`` on a machine that cannot run vLLM."""


def missing_for_vllm(*, has_vllm: bool, has_cuda: bool) -> list[str]:
    """What is missing for vLLM rollouts (empty: nothing). Pure function."""
    missing = []
    if not has_vllm:
        missing.append("the vllm package (pip install 'tunesmith[vllm]')")
    if not has_cuda:
        missing.append("a CUDA GPU")
    return missing


def check_vllm() -> None:
    """Raise :class:`VLLMUnavailableError` naming what is missing (vllm, CUDA) and the fix."""
    import torch

    missing = missing_for_vllm(
        has_vllm=importlib.util.find_spec("vllm") is not None, has_cuda=torch.cuda.is_available()
    )
    if missing:
        raise VLLMUnavailableError(
            "use_vllm: vLLM rollouts for GRPO/PPO need "
            + " and ".join(missing)
            + "; install tunesmith[vllm] "
            "and use a CUDA GPU, or set use_vllm: false (and infer_backend: huggingface) to sample with "
            "transformers"
        )


def vllm_sampling_kwargs(
    params: SamplingParams, n: int, *, stop_token_ids: Sequence[int], stop: Sequence[str] = ()
) -> dict[str, Any]:
    """Keyword arguments of ``vllm.SamplingParams`` equal to ``params`` for ``n`` completions per
    prompt. Greedy (``do_sample`` false or temperature below 1e-5) is temperature 0; ``top_k`` 0
    (no limit) is vLLM's -1; generation stops at ``stop_token_ids`` (the template's end-of-turn
    tokens and EOS, kept at the end of the completion ids) and at ``stop`` strings that are no single
    token. Pure function."""
    if n < 1:
        raise ValueError(f"n must be >= 1, got {n}")
    if params.num_beams != 1:
        raise ValueError("vLLM rollouts sample; num_beams must be 1")
    greedy = params.greedy
    return {
        "n": n,
        "temperature": 0.0 if greedy else params.temperature,
        "top_p": 1.0 if greedy else params.top_p,
        "top_k": -1 if greedy or params.top_k == 0 else params.top_k,
        "repetition_penalty": params.repetition_penalty,
        "max_tokens": params.max_new_tokens,
        "seed": params.seed,
        "stop_token_ids": list(dict.fromkeys(int(i) for i in stop_token_ids)),
        "stop": list(stop),
        "skip_special_tokens": False,
    }


def llm_kwargs(cfg: RunConfig, model_path: str, dtype: str) -> dict[str, Any]:
    """Keyword arguments of ``vllm.LLM`` for colocate rollouts (module docstring). Pure function of
    the config. A prompt plus its completion must fit in ``vllm_maxlen``."""
    i = cfg.infer
    longest = cfg.data.cutoff_len + cfg.rlhf.max_completion_length
    if longest > i.vllm_maxlen:
        raise ValueError(
            f"vllm_maxlen: {i.vllm_maxlen} tokens is less than cutoff_len ({cfg.data.cutoff_len}) + "
            f"max_completion_length ({cfg.rlhf.max_completion_length}) = {longest}; raise vllm_maxlen or "
            "lower cutoff_len"
        )
    kwargs: dict[str, Any] = {
        "model": model_path,
        "dtype": dtype,
        "gpu_memory_utilization": i.vllm_gpu_util,
        "max_model_len": i.vllm_maxlen,
        "enforce_eager": i.vllm_enforce_eager,
        "seed": cfg.train.seed,
        "trust_remote_code": cfg.model.trust_remote_code,
        # in this process, on this GPU: the trainer and vLLM share it (trl's colocate mode)
        "distributed_executor_backend": "external_launcher",
        "tensor_parallel_size": 1,
    }
    kwargs.update(dict(i.vllm_config))
    return kwargs


def vllm_weight_name(name: str) -> str | None:
    """The vLLM (= base transformers) name of a policy parameter, None for parameters vLLM does not
    hold (LoRA matrices, the frozen original of a ``modules_to_save`` module). Pure function."""
    name = name.removeprefix("base_model.model.").replace(".base_layer", "")
    if "lora_" in name or "original_module" in name:
        return None
    return name.replace("modules_to_save.default.", "").replace("_checkpoint_wrapped_module.", "")


def policy_weights(model: Any) -> Iterator[tuple[str, torch.Tensor]]:
    """The policy's weights under vLLM's names, one tensor at a time; a LoRA model's weights merged
    in a copy (``W + ΔW`` of the active adapter), the model itself untouched."""
    import torch

    from tunesmith.train.rl.loop import is_peft

    deltas: dict[str, Any] = {}
    if is_peft(model):
        from peft.tuners.lora import LoraLayer

        adapter = model.active_adapter
        for module_name, module in model.named_modules():
            if not isinstance(module, LoraLayer) or adapter not in module.active_adapters:
                continue
            if module.use_dora.get(adapter, False):
                raise ValueError(
                    "use_vllm: DoRA adapters (use_dora) cannot be merged for vLLM; set use_vllm: false"
                )
            deltas[f"{module_name}.base_layer.weight"] = module
    with torch.no_grad():
        for name, param in model.named_parameters():
            target = vllm_weight_name(name)
            if target is None:
                continue
            tensor = param.detach()
            layer = deltas.get(name)
            if layer is not None:
                tensor = tensor + layer.get_delta_weight(model.active_adapter).to(tensor.dtype)
            yield target, tensor


class VLLMRollout:
    """Colocated vLLM generation for GRPO/PPO (module docstring); implements
    :class:`~tunesmith.train.rl.rollout.CompletionGenerator`."""

    def __init__(
        self, cfg: RunConfig, model: Any, *, stop_token_ids: Sequence[int], stop: Sequence[str] = ()
    ) -> None:
        check_vllm()
        from vllm import LLM

        dtype = str(next(model.parameters()).dtype).removeprefix("torch.")
        # external_launcher runs vLLM in this process as rank 0 of a group of one (as trl sets them)
        for key, value in (("RANK", "0"), ("LOCAL_RANK", "0"), ("WORLD_SIZE", "1")):
            os.environ.setdefault(key, value)
        os.environ.setdefault("MASTER_ADDR", "localhost")
        os.environ.setdefault("MASTER_PORT", str(_free_port()))
        kwargs = llm_kwargs(cfg, cfg.model.model_name_or_path, dtype)
        logger.info(
            "building vLLM for rollouts (gpu_memory_utilization %s, max_model_len %s)",
            kwargs["gpu_memory_utilization"],
            kwargs["max_model_len"],
        )
        self.llm = LLM(**kwargs)
        self.stop_token_ids = tuple(stop_token_ids)
        self.stop = tuple(stop)

    def sync_weights(self, model: Any) -> None:
        """Load the policy's current weights into vLLM (merged copy for LoRA) and drop cached prefixes."""
        runner_model = self.llm.llm_engine.model_executor.driver_worker.model_runner.model
        for name, tensor in policy_weights(model):
            runner_model.load_weights([(name, tensor)])
        self.llm.reset_prefix_cache()

    def generate(self, prompts: Sequence[Sequence[int]], n: int, params: SamplingParams) -> list[list[int]]:
        """``n`` completions of each prompt (token ids), prompt-major."""
        from vllm import SamplingParams as VLLMSamplingParams

        sampling = VLLMSamplingParams(
            **vllm_sampling_kwargs(params, n, stop_token_ids=self.stop_token_ids, stop=self.stop)
        )
        outputs = self.llm.generate(
            [{"prompt_token_ids": list(ids)} for ids in prompts], sampling_params=sampling, use_tqdm=False
        )
        return [list(out.token_ids) for request in outputs for out in request.outputs]


def _free_port() -> int:
    import socket

    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("localhost", 0))
        return int(s.getsockname()[1])


def engine_stops(plan: Any) -> tuple[tuple[int, ...], tuple[str, ...]]:
    """Stop token ids and multi-token stop strings of an engine's :class:`~tunesmith.infer.engine.StopPlan`."""
    return tuple(plan.eos_ids), tuple(plan.generate_strings)
