"""The engine a server runs, from a resolved config: transformers, or a clear error for vLLM."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from tunesmith.config import RunConfig

VLLM_UNAVAILABLE = (
    "infer_backend vllm needs vLLM and a CUDA GPU: install tunesmith[vllm] and use a CUDA GPU "
    "(the vLLM engine is not available in this version; infer_backend=huggingface works everywhere)"
)


def vllm_status() -> str:
    """Why vLLM cannot run here (what is missing), in a few words."""
    import importlib.util

    missing = []
    if importlib.util.find_spec("vllm") is None:
        missing.append("vllm is not installed")
    try:
        import torch

        if not torch.cuda.is_available():
            missing.append("no CUDA GPU is visible")
    except ImportError:  # pragma: no cover - torch is a dependency
        missing.append("torch is not installed")
    return "; ".join(missing) or "the vLLM engine is not implemented yet"


def build_serving_engine(cfg: RunConfig) -> Any:
    """The engine ``cfg.infer.infer_backend`` names; vLLM raises ``NotImplementedError`` with what to do."""
    if cfg.infer.infer_backend == "vllm":
        raise NotImplementedError(f"{VLLM_UNAVAILABLE} [{vllm_status()}]")
    from tunesmith.infer.build import build_engine

    return build_engine(cfg)
