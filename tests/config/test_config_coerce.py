"""Coercion of file and command-line values to field types."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

import pytest

from tunesmith.config.coerce import CoercionError, coerce, describe, thaw, type_name


@pytest.mark.parametrize(
    ("text", "expected"),
    [("true", True), ("False", False), ("1", True), ("0", False), ("yes", True), ("no", False), (True, True)],
)
def test_bool(text: Any, expected: bool) -> None:
    assert coerce(text, bool) is expected


def test_int_and_float() -> None:
    assert coerce("8", int) == 8
    assert coerce(" 8 ", int) == 8
    assert coerce(8.0, int) == 8
    assert coerce("1e3", int) == 1000
    assert coerce("1e-4", float) == pytest.approx(1e-4)
    assert coerce(3, float) == 3.0 and isinstance(coerce(3, float), float)
    for bad, tp in [("8.5", int), (True, int), ("abc", float), (False, float)]:
        with pytest.raises(CoercionError):
            coerce(bad, tp)


def test_int_or_float_keeps_integers() -> None:
    assert coerce("10", int | float) == 10 and isinstance(coerce("10", int | float), int)
    assert coerce("0.5", int | float) == 0.5


def test_optional() -> None:
    assert coerce("null", int | None) is None
    assert coerce("none", int | None) is None
    assert coerce(None, str | None) is None
    assert coerce("none", str | None) == "none"  # a real value for report_to and friends
    with pytest.raises(CoercionError, match="is not an integer or null"):
        coerce("x", int | None)


def test_literal() -> None:
    tp = Literal["lora", "freeze", "full"]
    assert coerce("lora", tp) == "lora"
    assert coerce("LoRA", tp) == "lora"
    with pytest.raises(CoercionError, match="'lorra' is not one of lora, freeze, full; did you mean lora"):
        coerce("lorra", tp)
    assert coerce("4", Literal[2, 4, 8]) == 4
    assert coerce(False, Literal["no", "steps"]) == "no"


def test_sequences() -> None:
    assert coerce("a, b,,c", tuple[str, ...]) == ("a", "b", "c")
    assert coerce(["a", "b"], tuple[str, ...]) == ("a", "b")
    assert coerce("[1, 2]", tuple[int, ...]) == (1, 2)
    assert coerce("0.5,0.5", tuple[float, ...]) == (0.5, 0.5)
    assert coerce(None, tuple[str, ...]) == ()
    assert coerce("", tuple[str, ...]) == ()
    with pytest.raises(CoercionError, match="is not a list of a number"):
        coerce("a,b", tuple[float, ...])


def test_mappings_are_frozen_and_thaw_back() -> None:
    value = coerce('{"a": [1, {"b": 2}]}', Mapping[str, Any])
    assert value == {"a": (1, {"b": 2})}
    with pytest.raises(TypeError):
        value["c"] = 1  # type: ignore[index]
    assert thaw(value) == {"a": [1, {"b": 2}]}
    assert coerce("{a: 1}", dict) == {"a": 1}  # YAML flow style
    with pytest.raises(CoercionError):
        coerce("[1]", Mapping[str, Any])


def test_dict_or_str_prefers_the_mapping() -> None:
    assert coerce('{"a": 1}', dict | str | None) == {"a": 1}
    assert coerce("ds.json", dict | str | None) == "ds.json"


def test_str_accepts_yaml_numbers_but_not_booleans() -> None:
    assert coerce(1.0, str) == "1.0"
    with pytest.raises(CoercionError):
        coerce(True, str)


def test_lenient_accepts_unknown_classes() -> None:
    class Opaque:
        pass

    with pytest.raises(CoercionError):
        coerce("x", Opaque)
    assert coerce("x", Opaque, lenient=True) == "x"
    assert coerce(None, Opaque | None, lenient=True) is None


def test_type_spelling() -> None:
    assert type_name(int | None) == "int | None"
    assert type_name(tuple[str, ...]) == "list[str]"
    assert type_name(Literal["a", "b"]) == "a|b"
    assert describe(Literal["a", "b"] | None) == "one of a, b or null"
