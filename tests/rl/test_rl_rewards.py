"""Reward functions: builtins with dataset columns, user functions from a file and a module, errors."""

from __future__ import annotations

import sys

import pytest

from tunesmith.train.rl.rewards import RewardError, load_reward_func, load_reward_funcs, score


def test_builtins_with_dataset_columns() -> None:
    completions = [" 42 ", "the answer is 42", "41"]
    cols = {"answer": ["42", "42", "42"]}
    exact = load_reward_func("exact_match")
    assert exact.func([""] * 3, completions, **cols) == [1.0, 0.0, 0.0]
    assert load_reward_func("contains").func([""] * 3, completions, **cols) == [1.0, 1.0, 0.0]
    # the label (final assistant turn) is the fallback reference; a named column wins
    assert exact.func([""], ["x"], label=["x"]) == [1.0]
    assert load_reward_func("exact_match:gold").func([""], ["y"], gold=["y"], answer=["x"]) == [1.0]
    boxed = load_reward_func(r"regex_match:\\boxed\{(.*?)\}")
    assert boxed.func([""] * 2, [r"so \boxed{42}.", r"\boxed{7}"], answer=[42, 42]) == [1.0, 0.0]
    fmt = load_reward_func("format")
    assert fmt.func([""] * 2, ["<think>hm</think> <answer>1</answer>", "1"]) == [1.0, 0.0]
    assert load_reward_func("format:[a-z]+").func([""] * 2, ["abc", "ab1"]) == [1.0, 0.0]
    assert load_reward_func("length:4").func([""] * 3, ["abcd", "ab", "abcdefghijkl"]) == [1.0, 0.5, 0.0]


def test_builtin_errors_name_the_problem() -> None:
    with pytest.raises(RewardError, match="needs the dataset column 'gold'"):
        load_reward_func("exact_match:gold").func([""], ["x"], answer=["x"])
    with pytest.raises(RewardError, match="needs a pattern"):
        load_reward_func("regex_match")
    with pytest.raises(RewardError, match="not a valid regular expression"):
        load_reward_func("format:(")
    with pytest.raises(RewardError, match="must be an integer"):
        load_reward_func("length:abc")


def test_user_function_from_file(tmp_path) -> None:
    file = tmp_path / "my_rewards.py"
    file.write_text(
        "def shouty(prompts, completions, **kwargs):\n"
        "    return [float(c.isupper()) + kwargs['bonus'][i] for i, c in enumerate(completions)]\n"
    )
    reward = load_reward_func(f"{file}:shouty")
    assert reward.name == "shouty"
    assert score([reward], ["p", "p"], ["HI", "hi"], {"bonus": [0.5, 0.0]}) == {"shouty": [1.5, 0.0]}


def test_user_function_from_module(tmp_path, monkeypatch) -> None:
    pkg = tmp_path / "rewpkg"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "funcs.py").write_text(
        "def nonempty(prompts, completions, **kw):\n    return [float(bool(c)) for c in completions]\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    try:
        reward = load_reward_func("rewpkg.funcs:nonempty")
        assert reward.func([], ["a", ""]) == [1.0, 0.0]
    finally:
        for name in ("rewpkg", "rewpkg.funcs"):
            sys.modules.pop(name, None)


def test_unloadable_specs_name_the_spec(tmp_path) -> None:
    with pytest.raises(RewardError, match="'no_such_module_xyz:f'.*cannot import module"):
        load_reward_func("no_such_module_xyz:f")
    with pytest.raises(RewardError, match="'missing.py:f'.*not found"):
        load_reward_func("missing.py:f")
    (tmp_path / "r.py").write_text("x = 1\n")
    with pytest.raises(RewardError, match="has no attribute 'f'"):
        load_reward_func(f"{tmp_path / 'r.py'}:f")
    with pytest.raises(RewardError, match="not callable"):
        load_reward_func(f"{tmp_path / 'r.py'}:x")
    (tmp_path / "broken.py").write_text("raise RuntimeError('boom')\n")
    with pytest.raises(RewardError, match="importing .* failed.*boom"):
        load_reward_func(f"{tmp_path / 'broken.py'}:f")
    with pytest.raises(RewardError, match="not a builtin"):
        load_reward_func("nope")


def test_weights_duplicate_names_and_wrong_length() -> None:
    loaded = load_reward_funcs(["length:4", "length:8"], [1.0, 0.5])
    assert [r.name for r in loaded] == ["length_0", "length_1"] and loaded[1].weight == 0.5
    with pytest.raises(RewardError, match="2 values for 1"):
        load_reward_funcs(["length"], [1.0, 2.0])
    bad = load_reward_funcs(["length"])[0]
    bad = type(bad)("short", lambda prompts, completions, **kw: [1.0])
    with pytest.raises(RewardError, match="'short' returned 1 scores for 2"):
        score([bad], ["a", "b"], ["a", "b"], {})
