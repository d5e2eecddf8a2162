"""A tiny qwen3 model served by the real app under uvicorn on 127.0.0.1 (a free port, a background
thread), and helpers to start more servers with other settings."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("fastapi")
pytest.importorskip("uvicorn")

API_KEY = "sk-test-key"


@dataclass(frozen=True)
class Running:
    base_url: str
    """``http://127.0.0.1:<port>/v1``"""
    app: Any


@contextmanager
def serving(engine: Any, *, scorer: Any = None, **settings: Any) -> Iterator[Running]:
    """Run ``create_app(engine, ServeSettings(**settings), scorer=scorer)`` with uvicorn until the
    block ends."""
    import uvicorn

    from tunesmith.serve import ServeSettings, create_app

    settings.setdefault("model_name", "tiny-qwen3")
    app = create_app(engine, ServeSettings(**settings), scorer=scorer)
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", timeout_graceful_shutdown=5))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.01)
    try:
        yield Running(f"http://127.0.0.1:{port}/v1", app)
    finally:
        server.should_exit = True
        thread.join(timeout=30)
        sock.close()


@pytest.fixture(scope="session")
def tiny_dir(tmp_path_factory) -> Path:
    from tunesmith.testing import build_tiny_model

    return build_tiny_model("qwen3", tmp_path_factory.mktemp("serve") / "tiny-qwen3", seed=1)


@pytest.fixture(scope="session")
def engine(tiny_dir) -> Any:
    """The engine ``tunesmith serve`` builds for the tiny model; weights scaled up so that greedy
    decoding wanders over many tokens instead of repeating one."""
    import torch

    from tunesmith.config import load_config
    from tunesmith.serve.backend import build_serving_engine

    engine = build_serving_engine(load_config([f"model_name_or_path={tiny_dir}"], verb="serve"))
    with torch.no_grad():
        for p in engine.model.parameters():
            if p.dim() == 2:
                p.mul_(4.0)
    return engine


@pytest.fixture(scope="session")
def server(engine) -> Iterator[Running]:
    """The shared server: API key required, up to 64 requests queued, 16 new tokens by default."""
    from tunesmith.infer import SamplingParams

    with serving(engine, api_key=API_KEY, defaults=SamplingParams(max_new_tokens=16)) as running:
        yield running


@pytest.fixture(scope="session")
def client(server) -> Any:
    openai = pytest.importorskip("openai")
    return openai.OpenAI(base_url=server.base_url, api_key=API_KEY, max_retries=0, timeout=120)
