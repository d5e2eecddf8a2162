"""`tunesmith webchat CONFIG [key=value ...]`: a chat page in the browser (see docs/serving.md).

Loads the model the way ``tunesmith serve`` does (same engine, same template) and serves a Gradio page
on ``host:port`` (127.0.0.1:8000 by default; set ``port=`` to run it beside the API server). Needs
``tunesmith[webui]``.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Sequence

from tunesmith.cli.common import load_run_config


def run(argv: Sequence[str], *, verb: str = "webchat") -> int:
    cfg = load_run_config(argv, verb, errors=(ValueError,))
    if isinstance(cfg, int):
        return cfg
    from tunesmith.webchat import require_gradio

    try:
        require_gradio()
    except ImportError as exc:
        print(f"tunesmith {verb}: {exc}", file=sys.stderr)
        return 1
    from tunesmith.infer.build import user_errors
    from tunesmith.serve.backend import build_serving_engine
    from tunesmith.webchat import WebChatSettings, build_demo, launch

    try:
        engine = build_serving_engine(cfg)
        settings = WebChatSettings.from_config(cfg, engine)
    except user_errors() as exc:
        print(f"tunesmith {verb}: {exc}", file=sys.stderr)
        return 1
    demo = build_demo(engine, settings)
    logging.getLogger(__name__).info(
        "web chat for %r on http://%s:%d (login: %s)",
        settings.title,
        cfg.serve.host,
        cfg.serve.port,
        "api key as password" if settings.api_key else "none",
    )
    launch(demo, settings, host=cfg.serve.host, port=cfg.serve.port, block=True)
    return 0
