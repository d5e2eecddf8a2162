"""What a server runs, from a resolved config: the generating engine (transformers or vLLM) and,
when a reward model is served, the scorer behind ``/v1/score``."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from tunesmith.config import RunConfig
    from tunesmith.serve.score import RewardScorer

VLLM_UNAVAILABLE = "infer_backend vllm needs vLLM and a CUDA GPU: install tunesmith[vllm] and use a CUDA GPU"


def vllm_status() -> str:
    """Why vLLM cannot run here (what is missing), in a few words; empty when it can."""
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
    return "; ".join(missing)


def build_serving_engine(cfg: RunConfig) -> Any:
    """The engine ``cfg.infer.infer_backend`` names; vLLM without vllm or CUDA raises
    ``NotImplementedError`` saying what to do."""
    if cfg.infer.infer_backend == "vllm":
        missing = vllm_status()
        if missing:
            raise NotImplementedError(f"{VLLM_UNAVAILABLE} [{missing}]")
        from tunesmith.infer.vllm_engine import build_vllm_engine

        return build_vllm_engine(cfg)
    from tunesmith.infer.build import build_engine

    return build_engine(cfg)


@dataclass(frozen=True)
class Served:
    """What one server runs: a generating engine, a reward model, or both."""

    engine: Any | None
    scorer: RewardScorer | None


def build_served(cfg: RunConfig) -> Served:
    """The engine and scorer for ``cfg``: a reward model as ``model_name_or_path`` is served alone
    (score only); ``score_model`` adds one beside the chat model."""
    from tunesmith.serve.score import build_scorer, is_reward_model_dir

    model_path = cfg.model.model_name_or_path
    if is_reward_model_dir(model_path):
        assert model_path is not None
        if cfg.serve.score_model:
            raise ValueError(
                f"model_name_or_path {model_path} is a reward model; give the chat model as "
                "model_name_or_path to serve score_model beside it"
            )
        return Served(None, build_scorer(model_path, cfg))
    engine = build_serving_engine(cfg)
    scorer = build_scorer(cfg.serve.score_model, cfg) if cfg.serve.score_model else None
    return Served(engine, scorer)
