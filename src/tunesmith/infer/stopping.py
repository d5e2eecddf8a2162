"""Stopping criteria for transformers' ``generate`` (imported only when generating: needs torch).

transformers' own ``stop_strings`` also matches a stop string that begins inside the prompt (a
prompt ending in ``"\\n"`` stops a reply at its first ``"\\n\\n"`` when ``"\\n\\n\\n"`` is a stop string);
:class:`StopOnText` looks at the generated tokens only, decoded as the reply will be.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import Any

import torch
from transformers import StoppingCriteria


class StopOnText(StoppingCriteria):
    """Ends a row once its generated text contains one of ``stops``."""

    def __init__(
        self, tokenizer: Any, stops: Sequence[str], prompt_width: int, *, skip_special_tokens: bool = True
    ) -> None:
        self.tokenizer = tokenizer
        self.stops = tuple(s for s in stops if s)
        self.prompt_width = prompt_width
        self.skip_special_tokens = skip_special_tokens
        # A new match ends in the newest token; a window a few tokens longer than the longest stop
        # string (every token decodes to at least one character, bar partial UTF-8) contains it.
        self.window = max((len(s) for s in self.stops), default=0) + 4

    def __call__(self, input_ids: torch.Tensor, scores: torch.Tensor, **kwargs: Any) -> torch.Tensor:
        done = torch.zeros(input_ids.shape[0], dtype=torch.bool, device=input_ids.device)
        if not self.stops:
            return done
        generated = input_ids[:, self.prompt_width :]
        tail = generated[:, -self.window :].tolist()
        for row, ids in enumerate(tail):
            text = self.tokenizer.decode(ids, skip_special_tokens=self.skip_special_tokens)
            if any(s in text for s in self.stops):
                done[row] = True
        return done


class StopOnEvent(StoppingCriteria):
    """Ends every row once ``event`` is set (a streaming reader went away)."""

    def __init__(self, event: threading.Event) -> None:
        self.event = event

    def __call__(self, input_ids: torch.Tensor, scores: torch.Tensor, **kwargs: Any) -> torch.Tensor:
        return torch.full(
            (input_ids.shape[0],), self.event.is_set(), dtype=torch.bool, device=input_ids.device
        )


def counting_streamer(tokenizer: Any, **kwargs: Any) -> Any:
    """A ``TextIteratorStreamer`` that also counts the generated tokens and keeps the last one."""
    from transformers import TextIteratorStreamer

    class CountingStreamer(TextIteratorStreamer):
        def __init__(self, *args: Any, **kw: Any) -> None:
            super().__init__(*args, **kw)
            self.generated = 0
            self.last_token: int | None = None

        def put(self, value: Any) -> None:
            if not self.next_tokens_are_prompt:
                flat = value.reshape(-1).tolist()
                self.generated += len(flat)
                if flat:
                    self.last_token = int(flat[-1])
            super().put(value)

    return CountingStreamer(tokenizer, **kwargs)
