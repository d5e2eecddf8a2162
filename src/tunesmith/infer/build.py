"""An engine from a resolved :class:`~tunesmith.config.RunConfig`: tokenizer, model, template."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from tunesmith.templates.base import RenderOptions

if TYPE_CHECKING:
    from tunesmith.config import RunConfig
    from tunesmith.infer.engine import TransformersEngine
    from tunesmith.infer.vision import VisionInputs
    from tunesmith.templates.base import ChatTemplate

logger = logging.getLogger(__name__)


def user_errors() -> tuple[type[BaseException], ...]:
    """Exceptions that mean bad input (config, files, data, model) rather than a bug: the CLI prints
    their message instead of a traceback."""
    from tunesmith.model import ModelError

    return (ValueError, OSError, ImportError, NotImplementedError, ModelError)


def render_options(cfg: RunConfig) -> RenderOptions:
    return RenderOptions(enable_thinking=cfg.template.enable_thinking)


def choose_run_template(cfg: RunConfig, tokenizer: Any) -> ChatTemplate:
    """The template ``cfg`` names (or the one chosen for the model, with the reason logged)."""
    from tunesmith.families import build_catalog
    from tunesmith.families.resolve import choose_template

    choice = choose_template(
        build_catalog(cfg.misc.plugins),
        tokenizer,
        name=cfg.template.template,
        model_dir=cfg.model.model_name_or_path,
    )
    return choice.template


def build_engine(cfg: RunConfig) -> TransformersEngine:
    """Load the tokenizer and model ``cfg.model`` names (adapters included) for inference and wrap
    them in an engine that renders prompts with the run's template."""
    if cfg.infer.infer_backend != "huggingface":
        raise NotImplementedError(
            f"infer_backend {cfg.infer.infer_backend!r} is not available yet; use infer_backend=huggingface"
        )
    if not cfg.model.model_name_or_path:
        raise ValueError("model_name_or_path is required (a model directory or Hub id)")
    from tunesmith.infer.engine import TransformersEngine
    from tunesmith.model import load_model, load_tokenizer

    loaded = load_tokenizer(cfg.model)
    # load_tokenizer may hand back the tokenizer alone or a bundle with a processor
    tokenizer = getattr(loaded, "tokenizer", loaded)
    model = load_model(cfg.model, tokenizer, finetune_cfg=cfg.finetune, for_training=False)
    model.eval()
    template = choose_run_template(cfg, tokenizer)
    return TransformersEngine(
        model,
        tokenizer,
        template,
        tool_format=cfg.template.tool_format,
        render_options=render_options(cfg),
        vision=vision_inputs(cfg, tokenizer, model),
        max_batch_size=cfg.infer.max_batch_size,
    )


def vision_inputs(cfg: RunConfig, tokenizer: Any, model: Any) -> VisionInputs | None:
    """For a vision-language model, what turns its images into inputs (None for a text model)."""
    from tunesmith.model.composite import is_multimodal_config

    config = getattr(model, "config", None)
    if config is None or not is_multimodal_config(config):
        return None
    from tunesmith.infer.vision import load_vision_inputs
    from tunesmith.model.hub import resolve_source

    assert cfg.model.model_name_or_path is not None
    source = resolve_source(cfg.model.model_name_or_path, cfg.model)
    return load_vision_inputs(source, tokenizer, model)
