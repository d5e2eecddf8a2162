"""Where a run starts from: an explicit checkpoint, the last checkpoint in output_dir, or scratch."""

from __future__ import annotations

import logging
from pathlib import Path

logger = logging.getLogger(__name__)


class OutputDirError(ValueError):
    pass


def wants_latest(resume_from_checkpoint: str | bool | None) -> bool:
    """``resume_from_checkpoint: true``: the last checkpoint in output_dir."""
    return resume_from_checkpoint is True or (
        isinstance(resume_from_checkpoint, str) and resume_from_checkpoint.strip().lower() == "true"
    )


def resume_checkpoint(
    output_dir: str, resume_from_checkpoint: str | bool | None, overwrite_output_dir: bool
) -> str | None:
    """The checkpoint to resume from (None: start from scratch).

    * ``resume_from_checkpoint`` a path → that one (must exist); ``true`` → the last ``checkpoint-N``
      in ``output_dir`` (must exist);
    * else, unless ``overwrite_output_dir``, the last ``checkpoint-N`` in ``output_dir`` (logged);
    * a non-empty ``output_dir`` without checkpoints is refused unless ``overwrite_output_dir``.
    """
    if wants_latest(resume_from_checkpoint):
        from transformers.trainer_utils import get_last_checkpoint

        last = get_last_checkpoint(output_dir) if Path(output_dir).is_dir() else None
        if last is None:
            raise OutputDirError(
                f"resume_from_checkpoint: true, but output_dir {output_dir} holds no checkpoint-N folder "
                "(give a checkpoint path, or leave resume_from_checkpoint unset to start from scratch)"
            )
        return last
    if isinstance(resume_from_checkpoint, str) and resume_from_checkpoint.strip().lower() == "false":
        resume_from_checkpoint = None
    if resume_from_checkpoint:
        if not Path(str(resume_from_checkpoint)).is_dir():
            raise OutputDirError(f"resume_from_checkpoint: {resume_from_checkpoint} is not a directory")
        return str(resume_from_checkpoint)
    out = Path(output_dir)
    if overwrite_output_dir or not out.is_dir():
        return None
    from transformers.trainer_utils import get_last_checkpoint

    last = get_last_checkpoint(str(out))
    if last is not None:
        logger.info(
            "resuming from the last checkpoint in output_dir: %s (overwrite_output_dir: true to restart)",
            last,
        )
        return last
    if any(out.iterdir()):
        raise OutputDirError(
            f"output_dir {out} already exists and is not empty (and holds no checkpoint to resume). "
            "Set overwrite_output_dir: true, or choose another output_dir."
        )
    return None
