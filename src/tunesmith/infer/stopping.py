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


class RowStops(StoppingCriteria):
    """Per-row ends for a batch that merges several requests: a row ends at an end-of-sequence id, at
    its own token budget, when its reader cancels it, or (with ``text``) when its generated text
    holds a stop string. Where each row ended is kept (:attr:`ended_at`), so its tokens can be cut
    exactly there and a streamer can ignore what ``generate`` appends to ended rows."""

    def __init__(
        self,
        prompt_width: int,
        budgets: Sequence[int],
        eos_ids: Sequence[int],
        *,
        cancels: Sequence[threading.Event | None] | None = None,
        text: StopOnText | None = None,
    ) -> None:
        self.prompt_width = prompt_width
        self.budgets = tuple(budgets)
        self.eos_ids = frozenset(eos_ids)
        self.cancels = tuple(cancels) if cancels is not None else (None,) * len(self.budgets)
        self.text = text
        self.ended_at: list[int | None] = [None] * len(self.budgets)
        """Per row, how many tokens it had generated when it ended (None: still running)."""

    def __call__(self, input_ids: torch.Tensor, scores: torch.Tensor, **kwargs: Any) -> torch.Tensor:
        if input_ids.shape[0] != len(self.budgets):
            raise ValueError(f"RowStops holds {len(self.budgets)} rows, generate runs {input_ids.shape[0]}")
        generated = input_ids.shape[1] - self.prompt_width
        by_text = self.text(input_ids, scores).tolist() if self.text is not None else None
        last = input_ids[:, -1].tolist()
        for row, budget in enumerate(self.budgets):
            if self.ended_at[row] is not None:
                continue
            cancel = self.cancels[row]
            if (
                generated >= budget
                or last[row] in self.eos_ids
                or (cancel is not None and cancel.is_set())
                or (by_text is not None and by_text[row])
            ):
                self.ended_at[row] = generated
        done = [end is not None for end in self.ended_at]
        return torch.tensor(done, dtype=torch.bool, device=input_ids.device)

    def running_at(self, row: int, step: int) -> bool:
        """Whether row ``row`` generated its ``step``-th token (1-based) before it ended."""
        end = self.ended_at[row]
        return end is None or step <= end

    def cut(self, row: int, ids: list[int]) -> list[int]:
        """Row ``row``'s generated ``ids`` up to where it ended."""
        end = self.ended_at[row]
        return ids if end is None else ids[:end]


def row_streamer(stops: RowStops, feeds: Sequence[Any]) -> Any:
    """A streamer for ``generate`` that hands each row's new tokens to its feed (a ``put(token)`` /
    ``close()`` object, or None for rows nobody reads), up to the token the row ended with."""
    from transformers.generation.streamers import BaseStreamer

    class RowStreamer(BaseStreamer):
        def __init__(self) -> None:
            self.step = -1  # generate hands over the prompt first

        def put(self, value: Any) -> None:
            self.step += 1
            if self.step == 0:
                return
            # generate may call the criteria before or after handing over the step's tokens
            for row, token in enumerate(value.reshape(-1).tolist()):
                feed = feeds[row]
                if feed is not None and stops.running_at(row, self.step):
                    feed.put(int(token))

        def end(self) -> None:
            for feed in feeds:
                if feed is not None:
                    feed.close()

    return RowStreamer()
