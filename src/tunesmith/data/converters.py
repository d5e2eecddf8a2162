"""alpaca / sharegpt / openai records → typed examples (:mod:`tunesmith.data.examples`).

The rules are LLaMA-Factory's, made explicit and reported:

* sharegpt: after an optional leading system turn, turns alternate user-or-observation /
  assistant-or-function_call, starting with the user side; a conversation to learn from ends on the
  assistant side, a ranking prompt ends on the user side (its answers are ``chosen``/``rejected``).
* openai: the same alternation over role/content messages, where consecutive ``tool`` messages
  (parallel tool results) count as one observation turn and assistant ``tool_calls`` are calls.
* alpaca: ``history`` pairs, then one user turn ``prompt + "\\n" + query`` (empty parts left out), then
  the response.
* Function calls become assistant messages with ``tool_calls``; observations become ``tool`` messages;
  the ``tools`` column (JSON function schemas) becomes the conversation's tools.
* Media (images/videos/audios columns) become parts of the first user message; the text keeps its
  ``<image>``-style placeholders, whose count must match the media.
* Pre-training text (kind ``"text"``) is the first prompt turn, as LLaMA-Factory's pretrain stage
  takes it (for alpaca: ``prompt`` and ``query``; c4-style entries map ``prompt`` to ``text``).
* An online-RL prompt (kind ``"prompt"``): alpaca's history and user turn (the response, if any, is
  the reference answer); for sharegpt/openai the conversation up to its last user-side turn (a final
  assistant turn, if any, is the reference answer); a ranking record's prompt with its chosen answer
  as the reference. The whole record is kept as the example's columns.

A malformed record raises :class:`RecordError`; the loader reports it and goes on (or stops).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Literal

from tunesmith.data.examples import (
    ConversationExample,
    Example,
    FeedbackExample,
    PairExample,
    PromptOnlyExample,
    RecordRef,
    TextExample,
)
from tunesmith.data.fields import (
    MISSING,
    check_placeholders,
    get_column,
    optional_text,
    parse_function_calls,
    parse_media,
    parse_tools,
    require_text,
    tool_call,
)
from tunesmith.data.info import DatasetAttr
from tunesmith.data.report import Reason, RecordError
from tunesmith.templates.messages import Conversation, Message, Part

ExampleKind = Literal["text", "conversation", "pair", "feedback", "prompt"]
EXAMPLE_KINDS: tuple[str, ...] = ("text", "conversation", "pair", "feedback", "prompt")
Ending = Literal["assistant", "user", "either"]
"""Which side a conversation must end on: the assistant's (to learn from), the user's (a ranking
prompt), or either (an online-RL prompt, whose final assistant turn is its reference answer)."""

_IN, _OUT = "in", "out"  # the user side (user, observation) and the assistant side (assistant, call)


@dataclass(frozen=True)
class _Parsed:
    """A record's turns: ``turns`` ends on the assistant side unless the record is a ranking prompt,
    whose two answers are ``chosen`` and ``rejected``."""

    system: str
    turns: tuple[Message, ...]
    chosen: Message | None = None
    rejected: Message | None = None


# --------------------------------------------------------------------------- role order


def _side(message: Message) -> str:
    return _IN if message.role in ("user", "tool") else _OUT


def _check_order(turns: Sequence[Message], labels: Sequence[str], *, end: Ending, group_tools: bool) -> None:
    """Alternation user-side / assistant-side starting with the user side; ``labels`` name each turn
    (its index and role as written) for the message."""
    expected = _IN
    previous: Message | None = None
    for message, label in zip(turns, labels, strict=True):
        if group_tools and previous is not None and previous.role == "tool" and message.role == "tool":
            continue
        if _side(message) != expected:
            want = "a user or observation turn" if expected == _IN else "an assistant or function call turn"
            raise RecordError(Reason.WRONG_ROLE_ORDER, f"{label} where {want} is expected")
        expected = _OUT if expected == _IN else _IN
        previous = message
    if not turns:
        raise RecordError(Reason.WRONG_ROLE_ORDER, "the conversation has no turns")
    if end == "user" and expected == _IN:
        raise RecordError(
            Reason.WRONG_ROLE_ORDER,
            "a ranking prompt must end with a user or observation turn (answers go in chosen/rejected)",
        )
    if end == "assistant" and expected == _OUT:
        raise RecordError(Reason.WRONG_ROLE_ORDER, "the conversation must end with an assistant turn")


# --------------------------------------------------------------------------- sharegpt / openai


def _message_fields(raw: Any, where: str, attr: DatasetAttr) -> tuple[Any, Any]:
    tags = attr.tags
    if not isinstance(raw, Mapping):
        raise RecordError(Reason.INVALID_VALUE, f"{where}: expected an object, got {type(raw).__name__}")
    if tags.role_tag not in raw:
        raise RecordError(Reason.INVALID_VALUE, f"{where} has no {tags.role_tag!r} key")
    if tags.content_tag not in raw and not raw.get("tool_calls"):
        raise RecordError(Reason.INVALID_VALUE, f"{where} has no {tags.content_tag!r} key")
    return raw[tags.role_tag], raw.get(tags.content_tag)


def _turn(raw: Mapping[str, Any], role: Any, content: Any, where: str, attr: DatasetAttr) -> Message:
    """One non-system turn as a typed message."""
    tags = attr.tags
    label = f"{where} ({tags.role_tag}={role!r})"
    if role == tags.user_tag:
        return Message("user", require_text(content, label))
    if role == tags.function_tag:
        return Message("assistant", "", tool_calls=parse_function_calls(content, label))
    if role == tags.observation_tag:
        call_id = raw.get("tool_call_id")
        return Message(
            "tool",
            require_text(content, label, allow_empty=True),
            tool_call_id=call_id if isinstance(call_id, str) else None,
        )
    if role == tags.assistant_tag:
        calls = raw.get("tool_calls") if attr.formatting == "openai" else None
        if calls:
            if not isinstance(calls, list):
                raise RecordError(Reason.INVALID_FUNCTION_CALL, f"{label}.tool_calls: expected a list")
            parsed = tuple(tool_call(c, f"{label}.tool_calls[{i}]") for i, c in enumerate(calls))
            text = "" if content is None else require_text(content, label, allow_empty=True)
            return Message("assistant", text, tool_calls=parsed)
        return Message("assistant", require_text(content, label))
    if role == tags.system_tag:
        raise RecordError(Reason.WRONG_ROLE_ORDER, f"{label}: a system turn may only come first")
    known = (tags.user_tag, tags.assistant_tag, tags.observation_tag, tags.function_tag, tags.system_tag)
    raise RecordError(Reason.UNKNOWN_ROLE, f"{label}: expected one of {', '.join(repr(t) for t in known)}")


def _answer(raw: Any, column: str, attr: DatasetAttr) -> Message:
    """A ranking answer (``chosen``/``rejected``): one assistant-side message object."""
    role, content = _message_fields(raw, f"column {column!r}", attr)
    message = _turn(raw, role, content, f"column {column!r}", attr)
    if message.role != "assistant":
        raise RecordError(
            Reason.WRONG_ROLE_ORDER,
            f"column {column!r} must be an assistant or function call turn, got {role!r}",
        )
    return message


def _parse_chat(record: Mapping[str, Any], attr: DatasetAttr, *, prompt_only: bool = False) -> _Parsed:
    column = attr.columns.messages or "conversations"
    raw_messages = get_column(record, column, required=True)
    if not isinstance(raw_messages, list):
        raise RecordError(
            Reason.INVALID_VALUE,
            f"column {column!r}: expected a list of messages, got {type(raw_messages).__name__}",
        )
    system = ""
    start = 0
    if raw_messages:
        role, content = _message_fields(raw_messages[0], f"{column}[0]", attr)
        if role == attr.tags.system_tag:
            system = optional_text(content, f"{column}[0] (system)")
            start = 1
    if start == 0:
        system = optional_text(
            get_column(record, attr.columns.system, required=False), f"column {attr.columns.system!r}"
        )
    turns: list[Message] = []
    labels: list[str] = []
    for index in range(start, len(raw_messages)):
        raw = raw_messages[index]
        where = f"{column}[{index}]"
        role, content = _message_fields(raw, where, attr)
        turns.append(_turn(raw, role, content, where, attr))
        labels.append(f"{where} has {attr.tags.role_tag}={role!r}")
    end: Ending = "either" if prompt_only else "user" if attr.ranking else "assistant"
    _check_order(turns, labels, end=end, group_tools=attr.formatting == "openai")
    if not attr.ranking:
        return _Parsed(system, tuple(turns))
    chosen_col, rejected_col = attr.columns.chosen or "chosen", attr.columns.rejected or "rejected"
    if prompt_only:  # the chosen answer is the reference; rejected is not needed
        raw = get_column(record, chosen_col, required=False)
        chosen = None if raw is None or raw is MISSING else _answer(raw, chosen_col, attr)
        return _Parsed(system, tuple(turns), chosen)
    chosen = _answer(get_column(record, chosen_col, required=True), chosen_col, attr)
    rejected = _answer(get_column(record, rejected_col, required=True), rejected_col, attr)
    return _Parsed(system, tuple(turns), chosen, rejected)


# --------------------------------------------------------------------------- alpaca


def _parse_alpaca(record: Mapping[str, Any], attr: DatasetAttr, *, need_response: bool) -> _Parsed:
    cols = attr.columns
    turns: list[Message] = []
    history = get_column(record, cols.history, required=False)
    if history is not None and history is not MISSING:
        if not isinstance(history, list):
            raise RecordError(
                Reason.INVALID_VALUE, f"column {cols.history!r}: expected a list of [prompt, response] pairs"
            )
        for i, pair in enumerate(history):
            if not isinstance(pair, (list, tuple)) or len(pair) != 2:
                raise RecordError(
                    Reason.INVALID_VALUE, f"{cols.history}[{i}]: expected a [prompt, response] pair"
                )
            turns.append(Message("user", require_text(pair[0], f"{cols.history}[{i}][0] (user)")))
            turns.append(Message("assistant", require_text(pair[1], f"{cols.history}[{i}][1] (assistant)")))
    prompt = get_column(record, cols.prompt, required=False)
    query = get_column(record, cols.query, required=False)
    if prompt is MISSING and (query is MISSING or cols.query is None):
        raise RecordError(Reason.MISSING_COLUMN, f"column {cols.prompt!r} is missing")
    pieces = [
        optional_text(prompt, f"column {cols.prompt!r}"),
        optional_text(query, f"column {cols.query!r}"),
    ]
    user_text = "\n".join(p for p in pieces if p)
    turns.append(
        Message("user", require_text(user_text, f"the user turn (columns {cols.prompt!r}, {cols.query!r})"))
    )
    system = optional_text(get_column(record, cols.system, required=False), f"column {cols.system!r}")
    if not need_response:
        return _Parsed(system, tuple(turns))
    if attr.ranking:
        answers = []
        for column in (cols.chosen or "chosen", cols.rejected or "rejected"):
            value = get_column(record, column, required=True)
            answers.append(Message("assistant", require_text(value, f"column {column!r} (assistant)")))
        return _Parsed(system, tuple(turns), answers[0], answers[1])
    if cols.response is None:
        raise RecordError(Reason.MISSING_COLUMN, "the dataset has no response column (columns.response)")
    value = get_column(record, cols.response, required=True)
    turns.append(Message("assistant", require_text(value, f"column {cols.response!r} (assistant)")))
    return _Parsed(system, tuple(turns))


def _prompt_only(record: Mapping[str, Any], attr: DatasetAttr) -> tuple[_Parsed, str | None]:
    """An online-RL prompt's turns (ending on the user side) and its reference answer, if any."""
    if attr.formatting == "alpaca":
        parsed = _parse_alpaca(record, attr, need_response=False)
        cols = attr.columns
        column = (cols.chosen or "chosen") if attr.ranking else cols.response
        value = get_column(record, column, required=False)
        reference = optional_text(value, f"column {column!r}") if column else ""
        return parsed, reference or None
    parsed = _parse_chat(record, attr, prompt_only=True)
    if parsed.chosen is not None:
        return _Parsed(parsed.system, parsed.turns), parsed.chosen.text or None
    if _side(parsed.turns[-1]) == _OUT:  # the dataset's answer: the reference, not part of the prompt
        return _Parsed(parsed.system, parsed.turns[:-1]), parsed.turns[-1].text or None
    return parsed, None


def _pretrain_text(record: Mapping[str, Any], attr: DatasetAttr) -> str:
    if attr.formatting == "alpaca":
        parsed = _parse_alpaca(record, attr, need_response=False)
        return parsed.turns[0].text
    column = attr.columns.messages or "conversations"
    raw_messages = get_column(record, column, required=True)
    if not isinstance(raw_messages, list):
        raise RecordError(Reason.INVALID_VALUE, f"column {column!r}: expected a list of messages")
    for index, raw in enumerate(raw_messages):
        role, content = _message_fields(raw, f"{column}[{index}]", attr)
        if role != attr.tags.system_tag:
            return require_text(content, f"{column}[{index}]")
    raise RecordError(Reason.EMPTY_TURN, f"column {column!r} has no text turn")


# --------------------------------------------------------------------------- assembling


def _with_media(turns: tuple[Message, ...], media: tuple[Part, ...]) -> tuple[Message, ...]:
    if not media:
        return turns
    for i, message in enumerate(turns):
        if message.role == "user":
            content = (*media, Part("text", text=message.text))
            return (*turns[:i], replace(message, content=content), *turns[i + 1 :])
    raise RecordError(Reason.MEDIA_MISMATCH, "media given but the conversation has no user turn")


def _conversation(system: str, turns: Sequence[Message], tools: Any) -> Conversation:
    messages = ((Message("system", system),) if system else ()) + tuple(turns)
    return Conversation(messages, tools)


def _media_columns(attr: DatasetAttr) -> dict[str, str | None]:
    cols = attr.columns
    return {"image": cols.images, "video": cols.videos, "audio": cols.audios}


def convert_record(
    record: Mapping[str, Any],
    attr: DatasetAttr,
    ref: RecordRef,
    *,
    kind: ExampleKind,
    dataset_dir: str | Path | None,
) -> Example:
    """One record as an example of ``kind``; raises :class:`RecordError` when it is malformed.

    ``dataset_dir`` resolves relative media paths (and they must exist); None keeps them as given.
    """
    if kind == "text":
        return TextExample(_pretrain_text(record, attr), ref)

    reference: str | None = None
    if kind == "prompt":
        parsed, reference = _prompt_only(record, attr)
    elif attr.formatting == "alpaca":
        parsed = _parse_alpaca(record, attr, need_response=True)
    else:
        parsed = _parse_chat(record, attr)
    tools = parse_tools(get_column(record, attr.columns.tools, required=False), attr.columns.tools or "tools")

    media_columns = _media_columns(attr)
    base = Path(dataset_dir) if dataset_dir is not None else None
    media = parse_media(record, media_columns, base)
    if any(media_columns.values()):
        prompt_texts = [m.text for m in parsed.turns]
        answers = [[a.text] for a in (parsed.chosen, parsed.rejected) if a is not None]
        for answer in answers or [[]]:
            check_placeholders(prompt_texts + answer, media)
    turns = _with_media(parsed.turns, media)

    if kind == "pair":
        if parsed.chosen is None or parsed.rejected is None:
            raise RecordError(
                Reason.INVALID_VALUE, 'not a ranking record (the dataset needs "ranking": true)'
            )
        return PairExample(
            _conversation(parsed.system, (*turns, parsed.chosen), tools),
            _conversation(parsed.system, (*turns, parsed.rejected), tools),
            ref,
        )
    conversation = _conversation(parsed.system, turns, tools)
    if kind == "prompt":
        return PromptOnlyExample(conversation, ref, reference, dict(record))
    if kind == "feedback":
        column = attr.columns.kto_tag or "kto_tag"
        label = get_column(record, column, required=True)
        if not isinstance(label, bool):
            raise RecordError(
                Reason.INVALID_VALUE, f"column {column!r}: expected true or false, got {label!r}"
            )
        return FeedbackExample(conversation, label, ref)
    return ConversationExample(conversation, ref)
