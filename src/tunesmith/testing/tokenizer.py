"""A byte-level BPE tokenizer trained offline, in milliseconds, on the built-in corpus.

The trained base model is cached per process by :func:`functools.lru_cache` keyed on immutable
arguments (vocabulary size and extra text) and returned as a JSON string, so every caller gets a
fresh, independent :class:`tokenizers.Tokenizer` built from it; nothing shared is ever mutated.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from functools import lru_cache
from typing import TYPE_CHECKING

from tunesmith.testing.corpus import CORPUS

if TYPE_CHECKING:
    from transformers import PreTrainedTokenizerFast

DEFAULT_VOCAB_SIZE = 1024


@lru_cache(maxsize=16)
def _trained_base_json(vocab_size: int, extra_text: tuple[str, ...]) -> str:
    """Train byte-level BPE on the corpus (plus ``extra_text``); return the tokenizer as JSON."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

    tokenizer = Tokenizer(models.BPE())
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tokenizer.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        min_frequency=1,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
        special_tokens=[],
    )
    tokenizer.train_from_iterator([*CORPUS, *extra_text], trainer=trainer)
    return tokenizer.to_str()


def _ordered_specials(named: Sequence[str | None], extra: Sequence[str]) -> list[str]:
    """Named special tokens first (bos, eos, pad, unk), then ``extra`` in order; duplicates dropped."""
    out: list[str] = []
    for token in (*named, *extra):
        if token and token not in out:
            out.append(token)
    return out


def build_tokenizer(
    *,
    special_tokens: Sequence[str] = (),
    bos_token: str | None = None,
    eos_token: str | None = None,
    pad_token: str | None = None,
    unk_token: str | None = None,
    chat_template: str | Mapping[str, str] | None = None,
    vocab_size: int = DEFAULT_VOCAB_SIZE,
    extra_text: Sequence[str] = (),
    add_prefix_space: bool = False,
) -> PreTrainedTokenizerFast:
    """A fast byte-level BPE tokenizer with the given special tokens and chat template.

    Every special token is an *added special token* (never split, one id each), appended after the
    trained vocabulary in a fixed order: bos, eos, pad, unk, then ``special_tokens``. There is no
    post-processor, so ``tokenizer(text)`` never inserts BOS/EOS: chat templates write them.
    ``vocab_size`` is an upper bound for the trained part; a small corpus may stop earlier.
    ``add_prefix_space`` is accepted for symmetry with Hugging Face tokenizers; when true a space is
    prepended to text before byte-level pre-tokenization (then decode does not round-trip exactly).
    """
    from tokenizers import AddedToken, Tokenizer, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    if vocab_size < 257:
        raise ValueError(f"vocab_size must be at least 257 (256 bytes + 1 merge), got {vocab_size}")
    backend = Tokenizer.from_str(_trained_base_json(vocab_size, tuple(extra_text)))
    if add_prefix_space:
        backend.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=True)
    specials = _ordered_specials((bos_token, eos_token, pad_token, unk_token), special_tokens)
    backend.add_special_tokens(
        [
            AddedToken(t, special=True, normalized=False, lstrip=False, rstrip=False, single_word=False)
            for t in specials
        ]
    )
    named = {"bos_token": bos_token, "eos_token": eos_token, "pad_token": pad_token, "unk_token": unk_token}
    named_values = {v for v in named.values() if v}
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=backend,
        clean_up_tokenization_spaces=False,
        model_max_length=1 << 20,
        additional_special_tokens=[t for t in specials if t not in named_values],
        **{k: v for k, v in named.items() if v},
    )
    if chat_template is not None:
        tokenizer.chat_template = chat_template if isinstance(chat_template, str) else dict(chat_template)
    return tokenizer
