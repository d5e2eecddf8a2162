"""`tunesmith serve CONFIG [key=value ...]`: the OpenAI-compatible API server (see docs/serving.md).

Loads the model with the template it was trained with and serves ``/v1/chat/completions``,
``/v1/completions``, ``/v1/models`` and, with a reward model, ``/v1/score`` with uvicorn on
``host:port`` (127.0.0.1:8000 by default).
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Sequence

from tunesmith.cli.common import load_run_config


def run(argv: Sequence[str], *, verb: str = "serve") -> int:
    cfg = load_run_config(argv, verb, errors=(ValueError,))
    if isinstance(cfg, int):
        return cfg
    try:
        import fastapi  # noqa: F401
        import uvicorn
    except ImportError:
        print(
            f"tunesmith {verb}: the server needs FastAPI and uvicorn: pip install 'tunesmith[serve]'",
            file=sys.stderr,
        )
        return 1
    from tunesmith.infer.build import user_errors
    from tunesmith.serve import ServeSettings, create_app
    from tunesmith.serve.backend import build_served

    try:
        served = build_served(cfg)
        settings = ServeSettings.from_config(cfg)
    except user_errors() as exc:
        print(f"tunesmith {verb}: {exc}", file=sys.stderr)
        return 1
    app = create_app(served.engine, settings, scorer=served.scorer)
    logging.getLogger(__name__).info(
        "serving %r on http://%s:%d/v1 (auth: %s)",
        settings.model_name,
        cfg.serve.host,
        cfg.serve.port,
        "api key" if settings.api_key else "none",
    )
    uvicorn.run(app, host=cfg.serve.host, port=cfg.serve.port, log_level="info")
    return 0
