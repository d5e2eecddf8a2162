"""Config groups: generation, inference engines, serving, export, and plugins."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from tunesmith.config.meta import APPEND, SECRET, empty_mapping


@dataclass(frozen=True)
class GenerateConfig:
    """How text is generated (chat, predict, serve, and evaluation with predict_with_generate)."""

    do_sample: bool = True
    """Sample the next token; false decodes greedily (or with beam search)."""
    temperature: float = 0.95
    """Sampling temperature; lower is more deterministic."""
    top_p: float = 0.7
    """Nucleus sampling: keep the smallest set of tokens whose probability adds up to top_p."""
    top_k: int = 50
    """Sample among the top_k most likely tokens (0: no limit)."""
    max_new_tokens: int = 1024
    """Most tokens generated per reply."""
    repetition_penalty: float = 1.0
    """Penalty for repeating tokens (1.0: none)."""
    length_penalty: float = 1.0
    """Exponential length penalty in beam search."""
    num_beams: int = 1
    """Beams in beam search (1: no beam search)."""
    skip_special_tokens: bool = True
    """Drop special tokens when decoding the output."""


@dataclass(frozen=True)
class InferConfig:
    """Which inference engine runs the model (chat, predict, serve)."""

    infer_backend: Literal["huggingface", "vllm"] = "huggingface"
    """Inference engine: transformers' generate, or vLLM."""
    max_batch_size: int = 8
    """transformers engine: most sequences generated in one batch; concurrent requests (serve, web
    chat) that arrive while a batch runs join the next one, streams included (1: one at a time)."""
    vllm_maxlen: int = 4096
    """vLLM: longest sequence (prompt plus reply) in tokens."""
    vllm_gpu_util: float = 0.7
    """vLLM: fraction of GPU memory it may use, in (0, 1]."""
    vllm_enforce_eager: bool = False
    """vLLM: disable CUDA graphs."""
    vllm_max_lora_rank: int = 32
    """vLLM: largest LoRA rank it can serve."""
    vllm_config: Mapping[str, Any] = field(default_factory=empty_mapping)
    """vLLM: extra engine arguments (a JSON object on the command line)."""


@dataclass(frozen=True)
class ServeConfig:
    """The OpenAI-compatible API server and the web chat."""

    host: str = "127.0.0.1"
    """Address to listen on (0.0.0.0 exposes the server to the network)."""
    port: int = 8000
    """Port to listen on."""
    api_key: str | None = field(default=None, metadata=SECRET)
    """Clients must send this bearer token (None: no authentication)."""
    served_model_name: str | None = None
    """Model name reported by /v1/models and expected in requests (None: derived from the model path)."""
    max_concurrency: int = 8
    """Requests admitted at the same time; the transformers engine batches them (up to
    max_batch_size sequences), vLLM schedules them itself."""
    queue_size: int = 64
    """Requests waiting for a free slot before new ones are refused (HTTP 503)."""
    score_model: str | None = None
    """Reward model (a stage rm output_dir) served on /v1/score beside the chat model (None: a
    reward model given as model_name_or_path is served alone; otherwise /v1/score answers 501)."""


@dataclass(frozen=True)
class ExportConfig:
    """Merging adapters and writing the model out."""

    export_dir: str | None = None
    """Folder the exported (merged) model is written to."""
    export_size: int = 5
    """Largest size in GB of one weight shard."""
    export_device: Literal["cpu", "auto"] = "cpu"
    """Device used to merge the adapter into the weights."""
    export_dtype: Literal["float32", "float16", "bfloat16"] = "bfloat16"
    """Data type of the exported weights."""
    export_legacy_format: bool = False
    """Save .bin (pickle) weights instead of safetensors."""
    export_quantization_bit: int | None = None
    """Quantize the exported model to this many bits (GPTQ)."""
    export_quantization_dataset: str | None = None
    """Calibration dataset (path or Hub id) for export quantization."""
    export_quantization_nsamples: int = 128
    """Calibration examples for export quantization."""
    export_quantization_maxlen: int = 1024
    """Longest calibration example in tokens."""
    export_hub_model_id: str | None = None
    """Hub repository the exported model is pushed to (None: not pushed; needs network and hf_hub_token)."""
    export_adapter_only: bool = False
    """Write only the adapter (no merge) with the tokenizer and the training chat template."""


@dataclass(frozen=True)
class MiscConfig:
    """Plugins and other settings that apply to every verb."""

    plugins: tuple[str, ...] = field(default=(), metadata=APPEND)
    """Plugin files (or modules) registering model families, templates or datasets; repeat the flag
    (or list several) to load more than one. Values from all sources are combined."""
