"""Tokenizers for arbitrary chat templates: the template's own special strings become special tokens.

A real model's tokenizer keeps markers such as ``<|im_start|>`` or ``[INST]`` as single ids. To test
a template without downloading its tokenizer, the strings it writes are found (string constants and
literal text of the Jinja AST, plus a probe rendering that catches markers assembled at run time,
e.g. ``'<|' + role + '|>'``), and those that look like special tokens are added as such.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from tunesmith.testing.tokenizer import build_tokenizer

if TYPE_CHECKING:
    import jinja2
    from transformers import PreTrainedTokenizerFast

SPECIAL_STRING_PATTERN = re.compile(
    r"<\|[^\s<>]{1,64}?\|>"  # <|im_start|>, <|"|>, <|START_OF_TURN_TOKEN|>
    r"|<｜[^\s<>｜]{1,64}｜>"  # DeepSeek: <｜User｜>, <｜end▁of▁sentence｜>
    r"|<\|[A-Za-z_]\w{0,63}>|<[A-Za-z_]\w{0,63}\|>"  # Gemma 4 halves: <|turn>, <turn|>
    r"|(?<!<)</?[A-Za-z_][\w.:]{0,63}>(?!>)"  # <think>, </tool_call>, <start_of_turn>, <s>; not <<SYS>>
    r"|\[/?[a-z]?[A-Z][A-Z_]{2,63}\]"  # [INST], [/INST], [TOOL_CALLS], [gMASK]
)
"""What a special-looking string is. Placeholders with hyphens or spaces (``<function-name>``) and
short bracketed words (``[i]``) are deliberately not matched."""

# (name prefix, bos, eos): the tokens a template family expects when only its Jinja source is known.
_FAMILY_TOKENS: tuple[tuple[str, str | None, str | None], ...] = (
    ("llama3", "<|begin_of_text|>", "<|eot_id|>"),
    ("llama4", "<|begin_of_text|>", "<|eot|>"),
    ("llava", "<s>", "</s>"),
    ("qwen", None, "<|im_end|>"),
    ("gemma4", "<bos>", "<turn|>"),
    ("diffusion_gemma", "<bos>", "<turn|>"),
    ("gemma", "<bos>", "<eos>"),
    ("phi", "<s>", "<|endoftext|>"),
    ("deepseek", "<｜begin▁of▁sentence｜>", "<｜end▁of▁sentence｜>"),
    ("cohere", "<BOS_TOKEN>", "<|END_OF_TURN_TOKEN|>"),
    ("glm", None, "<|endoftext|>"),
    ("gptoss", "<|startoftext|>", "<|return|>"),
    ("gpt_oss", "<|startoftext|>", "<|return|>"),
    ("idefics", "<|begin_of_text|>", "<end_of_utterance>"),
    ("smolvlm", "<|im_start|>", "<end_of_utterance>"),
    ("lfm2", "<|startoftext|>", "<|im_end|>"),
    ("nemotron", "<s>", "<|im_end|>"),
    ("muse", "<|start|>", "<|eot|>"),
    ("mistral", "<s>", "</s>"),
    ("mixtral", "<s>", "</s>"),
)

_PROBE_CONVERSATIONS: tuple[tuple[dict[str, str], ...], ...] = (
    (
        {"role": "system", "content": "You are helpful."},
        {"role": "user", "content": "Hello"},
        {"role": "assistant", "content": "Hi there"},
        {"role": "user", "content": "Bye"},
    ),
    ({"role": "user", "content": "Hello"}, {"role": "assistant", "content": "Hi there"}),
)


def family_tokens(name: str) -> tuple[str | None, str | None]:
    """``(bos, eos)`` guessed from a template family name such as ``llama3_1`` or ``qwen2_5.jinja``;
    ``(None, None)`` for an unknown family."""
    key = name.rsplit("/", 1)[-1].removesuffix(".jinja").lower().replace("-", "_")
    for prefix, bos, eos in _FAMILY_TOKENS:
        if key.startswith(prefix):
            return bos, eos
    return None, None


def _template_env() -> jinja2.Environment:
    import jinja2
    import jinja2.ext
    import jinja2.nodes

    class _GenerationTag(jinja2.ext.Extension):
        """Parses ``{% generation %}…{% endgeneration %}`` (TRL training templates) as a plain scope."""

        tags = {"generation"}

        def parse(self, parser: Any) -> jinja2.nodes.Node:
            lineno = next(parser.stream).lineno
            body = parser.parse_statements(("name:endgeneration",), drop_needle=True)
            return jinja2.nodes.Scope(body).set_lineno(lineno)

    return jinja2.Environment(extensions=[jinja2.ext.loopcontrols, _GenerationTag])


def _literal_strings(source: str) -> Iterator[str]:
    import jinja2.nodes

    ast = _template_env().parse(source)
    for node in ast.find_all((jinja2.nodes.TemplateData, jinja2.nodes.Const)):
        value = node.data if isinstance(node, jinja2.nodes.TemplateData) else node.value
        if isinstance(value, str):
            yield value


def special_strings_in(texts: Iterable[str]) -> list[str]:
    """Special-looking substrings of ``texts`` (see :data:`SPECIAL_STRING_PATTERN`), first-seen order."""
    found: dict[str, None] = {}
    for text in texts:
        for match in SPECIAL_STRING_PATTERN.finditer(text):
            found.setdefault(match.group(0))
    return list(found)


def template_special_strings(source: str) -> list[str]:
    """Special-looking strings written literally by a Jinja chat template, in source order."""
    return special_strings_in(_literal_strings(source))


def _template_sources(chat_template: str | Mapping[str, str]) -> list[str]:
    return (
        [chat_template]
        if isinstance(chat_template, str)
        else [chat_template[k] for k in sorted(chat_template)]
    )


def _probe_renderings(tokenizer: PreTrainedTokenizerFast, sources: Sequence[str]) -> Iterator[str]:
    """Render each template on small conversations; templates that reject a shape are skipped."""
    for source in sources:
        for conversation in _PROBE_CONVERSATIONS:
            try:
                yield tokenizer.apply_chat_template(
                    list(conversation), chat_template=source, tokenize=False, add_generation_prompt=True
                )
            except Exception:  # a probe only: rejecting a conversation shape is the template's right
                continue


def _build_for_template(
    chat_template: str | Mapping[str, str],
    *,
    bos_token: str | None,
    eos_token: str | None,
    pad_token: str | None = None,
    unk_token: str | None = None,
    special_tokens: Sequence[str] = (),
    vocab_size: int | None = None,
) -> PreTrainedTokenizerFast:
    sources = _template_sources(chat_template)
    specials = [*special_tokens]
    for token in (s for source in sources for s in template_special_strings(source)):
        if token not in specials:
            specials.append(token)
    kwargs: dict[str, Any] = {
        "bos_token": bos_token,
        "eos_token": eos_token,
        "pad_token": pad_token,
        "unk_token": unk_token,
        "chat_template": chat_template,
    }
    if vocab_size is not None:
        kwargs["vocab_size"] = vocab_size
    tokenizer = build_tokenizer(special_tokens=specials, **kwargs)
    known = set(tokenizer.all_special_tokens) | set(specials)
    dynamic = [s for s in special_strings_in(_probe_renderings(tokenizer, sources)) if s not in known]
    if not dynamic:
        return tokenizer
    return build_tokenizer(special_tokens=[*specials, *dynamic], **kwargs)


def tokenizer_for_jinja_template(
    source: str | Mapping[str, str],
    bos_token: str | None = None,
    eos_token: str | None = None,
    *,
    family: str | None = None,
    pad_token: str | None = None,
) -> PreTrainedTokenizerFast:
    """A tiny tokenizer for a bare Jinja chat template (e.g. TRL's ``chat_templates/*.jinja``).

    ``bos_token``/``eos_token`` left as None are guessed from ``family`` (a template or file name)
    with :func:`family_tokens`. The template's special-looking strings become special tokens.
    """
    if family is not None:
        guessed_bos, guessed_eos = family_tokens(family)
        bos_token = bos_token if bos_token is not None else guessed_bos
        eos_token = eos_token if eos_token is not None else guessed_eos
    return _build_for_template(source, bos_token=bos_token, eos_token=eos_token, pad_token=pad_token)


def tokenizer_from_template_spec(spec: Mapping[str, Any]) -> PreTrainedTokenizerFast:
    """A tiny tokenizer for one entry of the chat-template corpus (``shared/chat_templates/*.json``).

    Keys used: ``chat_template`` (str or name → str), ``bos_token``, ``eos_token``, ``pad_token``,
    ``unk_token``, ``additional_special_tokens``; special tokens may be strings or dicts with a
    ``content`` key (as in ``tokenizer_config.json``). The template's own special strings are added.
    """
    if "chat_template" not in spec:
        name = spec.get("model", "<unnamed>")
        raise KeyError(f"template spec {name!r} has no 'chat_template' key")

    extra = [t for t in (_token_text(v) for v in spec.get("additional_special_tokens") or ()) if t]
    return _build_for_template(
        spec["chat_template"],
        bos_token=_token_text(spec.get("bos_token")),
        eos_token=_token_text(spec.get("eos_token")),
        pad_token=_token_text(spec.get("pad_token")),
        unk_token=_token_text(spec.get("unk_token")),
        special_tokens=extra,
    )


def _token_text(value: Any) -> str | None:
    if isinstance(value, Mapping):
        value = value.get("content")
    return value if isinstance(value, str) and value else None
