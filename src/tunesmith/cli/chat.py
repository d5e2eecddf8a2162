"""`tunesmith chat CONFIG [key=value ...] [--query TEXT]`: chat with a model in the terminal.

Interactive: type a message, the reply streams back; ``clear`` forgets the history, ``exit`` (or
end of input) quits. With ``--query TEXT`` one turn is answered and the command exits.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, TextIO

from tunesmith.cli.common import load_run_config

if TYPE_CHECKING:
    from tunesmith.infer.session import ChatSession

QUERY_HELP = """
chat only:
  --query TEXT  answer this one message, print the reply and exit (no interactive loop)
  in the loop:  `clear` forgets the history, `exit` quits; a line of three double quotes starts and ends a multi-line message"""


def split_query(argv: Sequence[str]) -> tuple[str | None, list[str]]:
    """``--query TEXT`` / ``--query=TEXT`` taken out of ``argv`` (not a config key)."""
    query: str | None = None
    rest: list[str] = []
    args = list(argv)
    i = 0
    while i < len(args):
        arg = args[i]
        if arg == "--query":
            if i + 1 >= len(args):
                raise ValueError("--query needs a value: --query 'your message'")
            query = args[i + 1]
            i += 2
            continue
        if arg.startswith("--query="):
            query = arg.split("=", 1)[1]
        else:
            rest.append(arg)
        i += 1
    return query, rest


def answer(session: ChatSession, query: str, out: TextIO) -> None:
    for piece in session.stream(query):
        out.write(piece)
        out.flush()
    out.write("\n")
    out.flush()


def loop(session: ChatSession, stdin: TextIO, out: TextIO, err: TextIO | None = None) -> None:
    """Read messages from ``stdin`` until ``exit`` or end of input; stream each reply to ``out``."""
    interactive = stdin.isatty()
    out.write(
        'Type a message (a line of """ starts and ends a multi-line one); `clear` forgets the history, '
        "`exit` quits.\n"
    )
    while True:
        if interactive:
            out.write("\nUser: ")
            out.flush()
        line = stdin.readline()
        if not line:
            return
        if line.strip() == '"""':  # multi-line input: everything up to the next line of """
            lines = []
            while (more := stdin.readline()) and more.strip() != '"""':
                lines.append(more.rstrip("\n"))
            line = "\n".join(lines)
        query = line.strip()
        if not query:
            continue
        if query == "exit":
            return
        if query == "clear":
            session.clear()
            out.write("History cleared.\n")
            continue
        out.write("Assistant: ")
        try:
            answer(session, query, out)
        except ValueError as exc:  # e.g. the template refuses the conversation; the loop goes on
            out.write("\n")
            (err or sys.stderr).write(f"error: {exc}\n")


def run(argv: Sequence[str], *, verb: str = "chat") -> int:
    from tunesmith.config import load_config

    def load(args: list[str]) -> tuple[str | None, Any]:
        query, rest = split_query(args)
        return query, load_config(rest, verb=verb)

    loaded = load_run_config(argv, verb, errors=(ValueError,), more_help=QUERY_HELP, load=load)
    if isinstance(loaded, int):
        return loaded
    query, cfg = loaded
    from tunesmith.infer.build import build_engine, user_errors
    from tunesmith.infer.sampling import SamplingParams
    from tunesmith.infer.session import ChatSession

    try:
        engine = build_engine(cfg)
    except user_errors() as exc:
        print(f"tunesmith {verb}: {exc}", file=sys.stderr)
        return 1
    session = ChatSession(
        engine, SamplingParams.from_config(cfg.generate), system=cfg.template.default_system
    )
    try:
        if query is not None:
            answer(session, query, sys.stdout)
        else:
            loop(session, sys.stdin, sys.stdout)
    except KeyboardInterrupt:
        print(file=sys.stdout)
    return 0
