"""How one request is decoded: sampling parameters, independent of the engine that runs them."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from tunesmith.config import GenerateConfig


GREEDY_TEMPERATURE = 1e-5
"""Temperatures below this decode greedily."""


@dataclass(frozen=True)
class SamplingParams:
    """Decoding settings of one request (defaults: greedy, 512 new tokens)."""

    max_new_tokens: int = 512
    """Most tokens generated per reply."""
    do_sample: bool = False
    """Sample the next token; false decodes greedily (or with beam search)."""
    temperature: float = 1.0
    """Sampling temperature; 0 (or anything below 1e-5) means greedy decoding whatever ``do_sample`` says."""
    top_p: float = 1.0
    """Nucleus sampling threshold."""
    top_k: int = 0
    """Sample among the top_k most likely tokens (0: no limit)."""
    repetition_penalty: float = 1.0
    """Penalty for repeating tokens (1.0: none)."""
    presence_penalty: float = 0.0
    """Additive penalty on tokens already generated (OpenAI semantics; the vLLM engine only)."""
    frequency_penalty: float = 0.0
    """Additive penalty growing with a token's count so far (OpenAI semantics; the vLLM engine only)."""
    num_beams: int = 1
    """Beams in beam search (1: none; not available when streaming)."""
    length_penalty: float = 1.0
    """Exponential length penalty in beam search."""
    seed: int | None = None
    """Seed of the sampler for this request (None: whatever state the RNG is in)."""
    stop: tuple[str, ...] = ()
    """Extra stop strings, on top of the template's end-of-turn markers; never part of the output."""
    skip_special_tokens: bool = True
    """Drop special tokens when decoding the output."""

    def __post_init__(self) -> None:
        if isinstance(self.stop, str):
            object.__setattr__(self, "stop", (self.stop,))
        elif not isinstance(self.stop, tuple):
            object.__setattr__(self, "stop", tuple(self.stop))
        if self.max_new_tokens < 1:
            raise ValueError(f"max_new_tokens must be >= 1, got {self.max_new_tokens}")
        if self.temperature < 0:
            raise ValueError(f"temperature must be >= 0, got {self.temperature}")
        if not 0 < self.top_p <= 1:
            raise ValueError(f"top_p must be in (0, 1], got {self.top_p}")
        if self.top_k < 0:
            raise ValueError(f"top_k must be >= 0, got {self.top_k}")
        if self.num_beams < 1:
            raise ValueError(f"num_beams must be >= 1, got {self.num_beams}")
        if any(not s for s in self.stop):
            raise ValueError("stop strings must be non-empty")

    @property
    def greedy(self) -> bool:
        # below GREEDY_TEMPERATURE, logits / temperature overflow to inf: that is greedy decoding (as vLLM does)
        return not self.do_sample or self.temperature < GREEDY_TEMPERATURE

    @classmethod
    def from_config(cls, generate: GenerateConfig, **overrides: Any) -> SamplingParams:
        """The params a :class:`~tunesmith.config.GenerateConfig` describes; ``overrides`` win."""
        values: dict[str, Any] = {
            "max_new_tokens": generate.max_new_tokens,
            "do_sample": generate.do_sample,
            "temperature": generate.temperature,
            "top_p": generate.top_p,
            "top_k": generate.top_k,
            "repetition_penalty": generate.repetition_penalty,
            "num_beams": generate.num_beams,
            "length_penalty": generate.length_penalty,
            "skip_special_tokens": generate.skip_special_tokens,
        }
        values.update(overrides)
        return cls(**values)

    def replace(self, **changes: Any) -> SamplingParams:
        return dataclasses.replace(self, **changes)

    def generate_kwargs(self) -> dict[str, Any]:
        """Keyword arguments for transformers' ``generate`` (stops and special ids excluded)."""
        if self.presence_penalty or self.frequency_penalty:
            raise ValueError(
                "presence_penalty / frequency_penalty need the vLLM engine (transformers has no additive "
                "penalties); use repetition_penalty"
            )
        out: dict[str, Any] = {
            "max_new_tokens": self.max_new_tokens,
            "num_beams": self.num_beams,
            "repetition_penalty": self.repetition_penalty,
        }
        if self.num_beams > 1:
            out["length_penalty"] = self.length_penalty
        if self.greedy:
            out["do_sample"] = False
        else:
            out.update(do_sample=True, temperature=self.temperature, top_p=self.top_p, top_k=self.top_k)
        return out
