"""`tunesmith webchat`: help, the missing-Gradio error, and the real command serving the page."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time

import pytest

from tunesmith.cli.main import main
from tunesmith.cli.webchat import run


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_help_lists_serving_keys(capsys) -> None:
    assert main(["webchat", "--help"]) == 0
    out = capsys.readouterr().out
    assert "port" in out and "temperature" in out and "model_name_or_path" in out


def test_missing_gradio_is_a_clear_error(monkeypatch, capsys, tmp_path) -> None:
    monkeypatch.setitem(sys.modules, "gradio", None)
    # checked before the model loads: a model path that does not exist is never read
    assert run([f"model_name_or_path={tmp_path / 'no-model'}"]) == 1
    assert "pip install 'tunesmith[webui]'" in capsys.readouterr().err


def test_bad_config_is_a_usage_error(capsys) -> None:
    assert run(["temprature=0.5"]) == 2
    assert "temperature" in capsys.readouterr().err


@pytest.mark.slow
def test_command_serves_the_page_and_stops_on_ctrl_c(tiny_dir) -> None:
    pytest.importorskip("gradio")
    httpx = pytest.importorskip("httpx")
    port = free_port()
    env = {**os.environ, "GRADIO_ANALYTICS_ENABLED": "False"}
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "tunesmith.cli.main",
            "webchat",
            f"model_name_or_path={tiny_dir}",
            f"port={port}",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=env,
    )
    try:
        deadline = time.monotonic() + 120
        page = None
        while time.monotonic() < deadline and proc.poll() is None:
            try:
                page = httpx.get(f"http://127.0.0.1:{port}/", timeout=5)
                break
            except httpx.TransportError:
                time.sleep(0.5)
        assert page is not None, f"the page never came up:\n{proc.communicate(timeout=30)[0]}"
        assert page.status_code == 200
        assert "tiny-qwen3" in page.text
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            output = proc.communicate(timeout=30)[0]
        except subprocess.TimeoutExpired:
            proc.kill()
            output = proc.communicate()[0]
    assert proc.returncode == 0, output
    assert f"http://127.0.0.1:{port}" in output
