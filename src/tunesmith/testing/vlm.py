"""Tiny random vision-language models of real transformers architectures, built offline.

:func:`tiny_vlm_config` gives a tiny config for every composite ``model_type`` the tests cover
(instantiate it with ``AutoModelForImageTextToText.from_config``); :func:`build_tiny_vlm` saves a
complete checkpoint — weights, tokenizer with the image tokens, a chat template with image
placeholders, the (PIL-based) image processor and processor files — for ``qwen2_vl`` and ``llava``.
The vision width differs from the text width, as in real checkpoints, so the projector is visible
in the module tree. Same arguments, same bytes. torchvision is never needed.
"""

from __future__ import annotations

import json
from pathlib import Path
from types import MappingProxyType
from typing import Any

from tunesmith.testing.tokenizer import build_tokenizer

TEXT = MappingProxyType(
    {
        "hidden_size": 64,
        "num_hidden_layers": 2,
        "num_attention_heads": 4,
        "num_key_value_heads": 2,
        "intermediate_size": 128,
        "head_dim": 16,
        "max_position_embeddings": 2048,
    }
)
VISION = MappingProxyType(
    {"hidden_size": 32, "intermediate_size": 64, "num_hidden_layers": 2, "num_attention_heads": 4}
)

QWEN2_VL_TEMPLATE = (
    "{% set image_count = namespace(value=0) %}{% set video_count = namespace(value=0) %}{% for message in messages %}"
    "{% if loop.first and message['role'] != 'system' %}<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n"
    "{% endif %}<|im_start|>{{ message['role'] }}\n{% if message['content'] is string %}{{ message['content'] }}"
    "<|im_end|>\n{% else %}{% for content in message['content'] %}{% if content['type'] == 'image' or 'image' in "
    "content or 'image_url' in content %}{% set image_count.value = image_count.value + 1 %}{% if add_vision_id %}"
    "Picture {{ image_count.value }}: {% endif %}<|vision_start|><|image_pad|><|vision_end|>{% elif content['type'] "
    "== 'video' or 'video' in content %}{% set video_count.value = video_count.value + 1 %}{% if add_vision_id %}"
    "Video {{ video_count.value }}: {% endif %}<|vision_start|><|video_pad|><|vision_end|>{% elif 'text' in content %}"
    "{{ content['text'] }}{% endif %}{% endfor %}<|im_end|>\n{% endif %}{% endfor %}{% if add_generation_prompt %}"
    "<|im_start|>assistant\n{% endif %}"
)
"""Qwen2-VL-7B-Instruct's official chat template (verbatim)."""

LLAVA_TEMPLATE = (
    "{{ bos_token }}{% for message in messages %}{% if message['role'] == 'system' %}{{ message['content'] }}\n"
    "{% elif message['role'] == 'user' %}USER: {% if message['content'] is string %}{{ message['content'] }}"
    "{% else %}{% for c in message['content'] %}{% if c['type'] == 'image' %}<image>\n{% elif c['type'] == 'text' %}"
    "{{ c['text'] }}{% endif %}{% endfor %}{% endif %}\n{% elif message['role'] == 'assistant' %}ASSISTANT: "
    "{% if message['content'] is string %}{{ message['content'] }}{% else %}{{ message['content'][0]['text'] }}"
    "{% endif %}{{ eos_token }}\n{% endif %}{% endfor %}{% if add_generation_prompt %}ASSISTANT: {% endif %}"
)
"""A LLaVA-1.5-style (vicuna) template accepting both string and list-of-parts content."""

QWEN_VL_TOKENS = (
    "<|im_start|>",
    "<|im_end|>",
    "<|endoftext|>",
    "<|vision_start|>",
    "<|vision_end|>",
    "<|vision_pad|>",
    "<|image_pad|>",
    "<|video_pad|>",
)


def _llama_text(**extra: Any) -> dict[str, Any]:
    return {**TEXT, "model_type": "llama", **extra}


def _clip_vision() -> dict[str, Any]:
    return {
        **VISION,
        "model_type": "clip_vision_model",
        "image_size": 28,
        "patch_size": 14,
        "projection_dim": 32,
    }


def tiny_vlm_config(model_type: str, vocab_size: int = 512, **top: Any) -> Any:
    """A tiny transformers config of composite ``model_type`` (``top``: extra top-level keys)."""
    import transformers as tf

    text = {**TEXT, "vocab_size": vocab_size}
    qwen_rope = {"rope_type": "default", "mrope_section": [2, 3, 3]}
    qwen_vision = {
        "depth": 2,
        "num_heads": 4,
        "patch_size": 14,
        "spatial_merge_size": 2,
        "temporal_patch_size": 2,
    }
    makers = {
        "qwen2_vl": lambda: tf.Qwen2VLConfig(
            text_config={**text, "rope_scaling": qwen_rope},
            vision_config={
                **qwen_vision,
                "embed_dim": 32,
                "hidden_size": TEXT["hidden_size"],
                "mlp_ratio": 2,
            },
            **top,
        ),
        "qwen2_5_vl": lambda: tf.Qwen2_5_VLConfig(
            text_config={**text, "rope_scaling": qwen_rope},
            vision_config={
                **qwen_vision,
                "hidden_size": 32,
                "intermediate_size": 64,
                "out_hidden_size": TEXT["hidden_size"],
                "fullatt_block_indexes": [1],
                "window_size": 28,
            },
            **top,
        ),
        "llava": lambda: tf.LlavaConfig(
            text_config=_llama_text(vocab_size=vocab_size), vision_config=_clip_vision(), **top
        ),
        "llava_next": lambda: tf.LlavaNextConfig(
            text_config=_llama_text(vocab_size=vocab_size), vision_config=_clip_vision(), **top
        ),
        "mistral3": lambda: tf.Mistral3Config(
            text_config={**text, "model_type": "mistral", "sliding_window": None},
            vision_config={
                **VISION,
                "model_type": "pixtral",
                "image_size": 28,
                "patch_size": 14,
                "head_dim": 8,
            },
            **top,
        ),
        "gemma3": lambda: tf.Gemma3Config(
            text_config={**text, "sliding_window": 64, "query_pre_attn_scalar": 16},
            vision_config={**VISION, "model_type": "siglip_vision_model", "image_size": 28, "patch_size": 14},
            mm_tokens_per_image=4,
            **top,
        ),
        "llama4": lambda: tf.Llama4Config(
            text_config={
                **text,
                "num_local_experts": 2,
                "intermediate_size_mlp": 128,
                "interleave_moe_layer_step": 1,
            },
            vision_config={
                **VISION,
                "image_size": 28,
                "patch_size": 14,
                "vision_output_dim": 32,
                "projector_input_dim": 32,
                "projector_output_dim": TEXT["hidden_size"],
            },
            **top,
        ),
        "idefics3": lambda: tf.Idefics3Config(
            text_config=_llama_text(vocab_size=vocab_size),
            vision_config={**VISION, "image_size": 28, "patch_size": 14},
            **top,
        ),
        "smolvlm": lambda: tf.SmolVLMConfig(
            text_config=_llama_text(vocab_size=vocab_size),
            vision_config={**VISION, "image_size": 28, "patch_size": 14},
            **top,
        ),
    }
    if model_type not in makers:
        raise ValueError(
            f"unknown tiny vision-language model_type {model_type!r}; supported: {', '.join(makers)}"
        )
    return makers[model_type]()


TINY_VLM_TYPES: tuple[str, ...] = (
    "qwen2_vl",
    "qwen2_5_vl",
    "llava",
    "llava_next",
    "mistral3",
    "gemma3",
    "llama4",
    "idefics3",
    "smolvlm",
)
"""Model types :func:`tiny_vlm_config` builds."""

SAVED_VLM_TYPES: tuple[str, ...] = ("qwen2_vl", "llava")
"""Model types :func:`build_tiny_vlm` saves with tokenizer and processor."""


def _tokenizer(model_type: str) -> Any:
    if model_type == "qwen2_vl":
        return build_tokenizer(
            eos_token="<|im_end|>",
            pad_token="<|endoftext|>",
            special_tokens=QWEN_VL_TOKENS,
            chat_template=QWEN2_VL_TEMPLATE,
        )
    return build_tokenizer(
        bos_token="<s>",
        eos_token="</s>",
        pad_token="<pad>",
        unk_token="<unk>",
        special_tokens=("<image>",),
        chat_template=LLAVA_TEMPLATE,
    )


def _processor(model_type: str, tokenizer: Any) -> Any:
    import transformers as tf

    if model_type == "qwen2_vl":
        image = tf.Qwen2VLImageProcessorPil(
            min_pixels=56 * 56, max_pixels=56 * 56, patch_size=14, merge_size=2, temporal_patch_size=2
        )
        # Qwen2VLProcessor cannot be built without torchvision (its video processor needs it): the image
        # processor and the tokenizer (with its chat template) are saved on their own, as a hub repo has them
        return image
    image = tf.CLIPImageProcessorPil(size={"shortest_edge": 28}, crop_size={"height": 28, "width": 28})
    return tf.LlavaProcessor(
        image_processor=image,
        tokenizer=tokenizer,
        patch_size=14,
        vision_feature_select_strategy="default",
        chat_template=LLAVA_TEMPLATE,
        num_additional_image_tokens=1,
    )


def build_tiny_vlm(model_type: str, out_dir: str | Path, *, seed: int = 0) -> Path:
    """Save a tiny random ``model_type`` (``qwen2_vl`` or ``llava``) VLM with tokenizer and processor.

    ``qwen2_vl``: 56x56 images become 4 ``<|image_pad|>`` tokens; ``llava``: 28x28 images 4 ``<image>``
    tokens. Returns ``out_dir`` as a :class:`~pathlib.Path`."""
    import torch
    from transformers import AutoModelForImageTextToText, GenerationConfig

    if model_type not in SAVED_VLM_TYPES:
        raise ValueError(
            f"build_tiny_vlm: {model_type!r} is not supported; supported: {', '.join(SAVED_VLM_TYPES)}"
        )
    tokenizer = _tokenizer(model_type)
    ids = tokenizer.convert_tokens_to_ids
    if model_type == "qwen2_vl":
        top = {
            "image_token_id": ids("<|image_pad|>"),
            "video_token_id": ids("<|video_pad|>"),
            "vision_start_token_id": ids("<|vision_start|>"),
            "vision_end_token_id": ids("<|vision_end|>"),
        }
    else:
        top = {"image_token_id": ids("<image>"), "vision_feature_select_strategy": "default"}
    config = tiny_vlm_config(model_type, vocab_size=len(tokenizer), **top)
    eos, pad = tokenizer.eos_token_id, tokenizer.pad_token_id
    for cfg in (config, config.text_config):
        cfg.eos_token_id, cfg.pad_token_id = eos, pad
        cfg.bos_token_id = tokenizer.bos_token_id
    torch.manual_seed(seed)
    model = AutoModelForImageTextToText.from_config(config, dtype=torch.float32)
    stops = [eos] + ([ids("<|endoftext|>")] if model_type == "qwen2_vl" else [])
    model.generation_config = GenerationConfig(
        bos_token_id=tokenizer.bos_token_id, eos_token_id=stops if len(stops) > 1 else eos, pad_token_id=pad
    )
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(out)
    _processor(model_type, tokenizer).save_pretrained(
        out
    )  # preprocessor_config.json (+ processor_config.json)
    tokenizer.save_pretrained(out)
    _portable(out / "tokenizer_config.json")
    return out


def _portable(path: Path) -> None:
    config = json.loads(path.read_text(encoding="utf-8"))
    config["tokenizer_class"] = "PreTrainedTokenizerFast"
    extra = config.pop("extra_special_tokens", None)
    if isinstance(extra, list):
        config["additional_special_tokens"] = extra
    path.write_text(json.dumps(config, indent=2, ensure_ascii=False, sort_keys=True) + "\n", encoding="utf-8")
