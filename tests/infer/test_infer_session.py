"""Chat session history, and the `tunesmith chat` command (in-process loop and a subprocess)."""

from __future__ import annotations

import io
import subprocess
import sys
from pathlib import Path

import pytest

from tunesmith.cli.chat import loop, split_query
from tunesmith.infer import ChatSession, SamplingParams, TransformersEngine

GREEDY = SamplingParams(max_new_tokens=6)


def test_session_keeps_history_and_system(engine: TransformersEngine) -> None:
    session = ChatSession(engine, GREEDY, system="be brief")
    first = session.send("hi")
    roles = [m.role for m in session.conversation.messages]
    assert roles == ["system", "user", "assistant"]
    assert session.conversation.messages[-1].content == first.reply
    streamed = "".join(session.stream("and then?"))
    assert [m.role for m in session.conversation.messages][-2:] == ["user", "assistant"]
    assert session.conversation.messages[-1].content == streamed
    assert (
        streamed
        == engine.generate([session.conversation.__class__(session.conversation.messages[:-1])], GREEDY)[
            0
        ].text
    )
    session.clear()
    assert [m.role for m in session.conversation.messages] == ["system"]


def test_split_query() -> None:
    assert split_query(["c.yaml", "--query", "hi there", "x=1"]) == ("hi there", ["c.yaml", "x=1"])
    assert split_query(["--query=yo"]) == ("yo", [])
    assert split_query(["c.yaml"]) == (None, ["c.yaml"])
    with pytest.raises(ValueError):
        split_query(["--query"])


def test_loop_commands(engine: TransformersEngine) -> None:
    session = ChatSession(engine, GREEDY)
    out = io.StringIO()
    loop(session, io.StringIO("hi\n\nclear\nhello\nexit\nnever read\n"), out)
    text = out.getvalue()
    assert text.count("Assistant: ") == 2 and "History cleared." in text
    assert [m.role for m in session.conversation.messages] == ["user", "assistant"]
    assert session.conversation.messages[0].content == "hello"


def test_loop_multi_line_message(engine: TransformersEngine) -> None:
    session = ChatSession(engine, GREEDY)
    out = io.StringIO()
    loop(session, io.StringIO('"""\nfirst line\n\nsecond line\n"""\nexit\n'), out)
    assert out.getvalue().count("Assistant: ") == 1
    assert session.conversation.messages[0].content == "first line\n\nsecond line"


def test_chat_piped_stdin_without_a_config_file(tmp_path: Path, tiny_dir: Path) -> None:
    """`printf 'Hello\nexit\n' | tunesmith chat model_name_or_path=DIR` works."""
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "tunesmith.cli.main",
            "chat",
            f"model_name_or_path={tiny_dir}",
            "max_new_tokens=4",
        ],
        input="Hello\nexit\n",
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.count("Assistant: ") == 1


def test_chat_command_answers_one_query(tmp_path: Path, tiny_dir: Path) -> None:
    pytest.importorskip("tunesmith.model", reason="model loading (tunesmith.model) has not landed")
    config = tmp_path / "chat.yaml"
    config.write_text(
        f"model_name_or_path: {tiny_dir}\ndo_sample: false\nmax_new_tokens: 6\n", encoding="utf-8"
    )
    proc = subprocess.run(
        [sys.executable, "-m", "tunesmith.cli.main", "chat", str(config), "--query", "hi"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.endswith("\n")
    help_out = subprocess.run(
        [sys.executable, "-m", "tunesmith.cli.main", "chat", "--help"], capture_output=True, text=True
    ).stdout
    assert "--query" in help_out and "max_new_tokens" in help_out
