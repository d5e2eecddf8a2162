"""OpenAI-compatible API server: ``create_app(engine, settings)`` builds the FastAPI app
(see docs/serving.md). Importing this package imports neither FastAPI nor torch."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from tunesmith.serve.errors import APIError
from tunesmith.serve.media import MediaError, MediaPolicy
from tunesmith.serve.settings import ServeSettings, served_model_name

if TYPE_CHECKING:
    from fastapi import FastAPI


def create_app(engine: Any, settings: ServeSettings, *, scorer: Any = None) -> FastAPI:
    """The FastAPI app serving ``engine`` and, on ``/v1/score``, the reward model ``scorer``
    (see :func:`tunesmith.serve.app.create_app`)."""
    from tunesmith.serve.app import create_app as build

    return build(engine, settings, scorer=scorer)


__all__ = ["APIError", "MediaError", "MediaPolicy", "ServeSettings", "create_app", "served_model_name"]
