"""Config groups: which model to load, how to format its prompts, and which data to train on."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from tunesmith.config.meta import SECRET, empty_mapping


@dataclass(frozen=True)
class ModelConfig:
    """Which model to load, from where, and how."""

    model_name_or_path: str | None = None
    """Local path or Hugging Face Hub (or ModelScope) id of the base model."""
    adapter_name_or_path: tuple[str, ...] = ()
    """Paths or Hub ids of adapters to load on top of the base model (comma-separated list)."""
    cache_dir: str | None = None
    """Where downloaded models are stored (default: the Hugging Face cache)."""
    model_revision: str = "main"
    """Branch, tag or commit of the model repository to load."""
    hf_hub_token: str | None = field(default=None, metadata=SECRET)
    """Token for private or gated Hugging Face Hub repositories."""
    ms_hub_token: str | None = field(default=None, metadata=SECRET)
    """Token for the ModelScope hub."""
    use_modelscope_hub: bool = False
    """Download models and datasets from ModelScope instead of the Hugging Face Hub."""
    trust_remote_code: bool = False
    """Allow running the modelling/tokenizer code shipped with a Hub repository."""
    use_fast_tokenizer: bool = True
    """Use the fast (Rust) tokenizer when the model provides one."""
    resize_vocab: bool = False
    """Resize the embeddings when the tokenizer has more tokens than the model."""
    new_special_tokens: tuple[str, ...] = ()
    """Special tokens added to the tokenizer (comma list); the embeddings grow, new rows start at the mean."""
    attn_implementation: str | None = None
    """Attention kernel passed to transformers (eager, sdpa, flash_attention_2, ...); None lets
    transformers choose. The LLaMA-Factory key ``flash_attn`` (auto|disabled|sdpa|fa2|fa3) maps here."""
    rope_scaling: Literal["linear", "dynamic", "yarn", "llama3"] | None = None
    """RoPE scaling strategy used to extend the context beyond the model's trained length."""
    quantization_bit: int | None = None
    """Load the model quantized on the fly to this many bits (QLoRA): 2, 3, 4, 5, 6 or 8."""
    quantization_method: Literal["bnb", "hqq", "eetq"] = "bnb"
    """Library used for on-the-fly quantization."""
    quantization_type: Literal["fp4", "nf4"] = "nf4"
    """4-bit data type for bitsandbytes quantization."""
    double_quantization: bool = True
    """Quantize the quantization constants too (bitsandbytes 4-bit)."""
    infer_dtype: Literal["auto", "float16", "bfloat16", "float32"] = "auto"
    """Data type of the model weights at inference (auto: what the checkpoint or hardware suggests)."""
    low_cpu_mem_usage: bool = True
    """Load the weights lazily to save host memory."""
    model_init_kwargs: Mapping[str, Any] = field(default_factory=empty_mapping)
    """Extra keyword arguments for ``from_pretrained`` (a JSON object on the command line)."""
    image_max_pixels: int = 768 * 768
    """Largest number of pixels an input image is resized down to."""
    image_min_pixels: int = 32 * 32
    """Smallest number of pixels an input image is resized up to."""
    video_max_pixels: int = 256 * 256
    """Largest number of pixels of a video frame."""
    video_min_pixels: int = 16 * 16
    """Smallest number of pixels of a video frame."""
    video_fps: float = 2.0
    """Frames per second sampled from input videos."""
    video_maxlen: int = 128
    """Most frames sampled from one video."""
    freeze_vision_tower: bool = True
    """Keep the vision encoder of a vision-language model frozen."""
    freeze_multi_modal_projector: bool = True
    """Keep the multimodal projector of a vision-language model frozen."""
    freeze_language_model: bool = False
    """Keep the language model of a vision-language model frozen (train only vision parts)."""


@dataclass(frozen=True)
class TemplateConfig:
    """How conversations are rendered into the model's prompt format."""

    template: str | None = None
    """Name of the chat template; None uses the model's own chat template from its tokenizer."""
    default_system: str | None = None
    """System message used when a conversation has none (overrides the template's default)."""
    enable_thinking: bool | None = True
    """For reasoning models: let the model think (true), suppress thinking (false), or leave the
    choice to the data (null)."""
    tool_format: str | None = None
    """Tool-call format to use instead of the template's own (e.g. default, glm4, llama3, qwen)."""


@dataclass(frozen=True)
class DataConfig:
    """Which datasets to use and how they are turned into training examples."""

    dataset: tuple[str, ...] = ()
    """Names of training datasets (entries of dataset_info.json, local files or Hub ids), comma-separated."""
    dataset_dir: str = "data"
    """Folder holding dataset_info.json and local dataset files."""
    eval_dataset: tuple[str, ...] = ()
    """Names of evaluation datasets, comma-separated."""
    media_dir: str | None = None
    """Folder that relative image/video/audio paths are resolved against (default: dataset_dir)."""
    cutoff_len: int = 2048
    """Longest tokenized example in tokens; longer ones are truncated."""
    max_samples: int | None = None
    """Use at most this many examples from each dataset (for quick runs)."""
    val_size: float = 0.0
    """Hold out this fraction (< 1) or number (>= 1) of training examples for evaluation."""
    mix_strategy: Literal["concat", "interleave_under", "interleave_over"] = "concat"
    """How several datasets are combined: concatenated, or interleaved until the shortest
    (under-sampling) or the longest (over-sampling) is exhausted."""
    interleave_probs: tuple[float, ...] = ()
    """Sampling probability of each dataset when interleaving, comma-separated."""
    streaming: bool = False
    """Stream datasets instead of downloading and preprocessing them in full (needs max_steps)."""
    buffer_size: int = 16384
    """Shuffle buffer size when streaming."""
    overwrite_cache: bool = False
    """Preprocess again even when a cached result exists."""
    preprocessing_num_workers: int | None = None
    """Processes used for preprocessing (None: in the main process)."""
    preprocessing_batch_size: int = 1000
    """Examples per batch handed to a preprocessing worker."""
    packing: bool | None = None
    """Pack several examples into one sequence of cutoff_len tokens (None: on for pt, off otherwise)."""
    neat_packing: bool = False
    """Pack without cross-attention between the packed examples."""
    tokenized_path: str | None = None
    """Save the tokenized dataset here, or load it from here when it exists."""
    on_bad_record: Literal["skip", "error"] = "skip"
    """What a malformed record does: be skipped (counted and reported with file, row and reason;
    the default), or stop the run with an error naming the file and row."""
    train_on_prompt: bool = False
    """Compute the loss on prompt tokens too, not only on the assistant's replies."""
    mask_history: bool = False
    """Train only on the last assistant turn of each conversation."""
