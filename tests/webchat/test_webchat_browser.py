"""The page in a real browser: headless Chromium (Debian's /usr/bin/chromium) driven by playwright
types a message, clicks Send and waits for the streamed greedy reply; a screenshot is kept as an
artefact (in tmp_path, and in $TUNESMITH_ARTIFACTS when set)."""

from __future__ import annotations

import os
import re
import shutil
import socket
import time
import unicodedata
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tunesmith.infer import SamplingParams
from tunesmith.templates.messages import Conversation, Message
from tunesmith.webchat import WebChatSettings, build_demo, launch
from tunesmith.webchat.app import CHATBOT_ID, IMAGE_ID, MESSAGE_ID, SEND_ID

pytestmark = pytest.mark.slow

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
SYSTEM = "Be helpful."
QUESTION = "What is the weather like?"


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def visible_text(text: str) -> str:
    """What a page shows of ``text``: control characters dropped, whitespace runs as one space."""
    shown = "".join(c for c in text if not unicodedata.category(c).startswith("C") or c.isspace())
    return re.sub(r"\s+", " ", shown).strip()


@pytest.fixture
def page_url(engine) -> Iterator[str]:
    pytest.importorskip("gradio")
    settings = WebChatSettings(title="tiny-qwen3", defaults=SamplingParams(max_new_tokens=24), system=SYSTEM)
    demo = build_demo(engine, settings)
    port = free_port()
    launch(demo, settings, host="127.0.0.1", port=port, block=False)
    try:
        yield f"http://127.0.0.1:{port}/"
    finally:
        demo.close()


@pytest.fixture
def browser() -> Iterator[Any]:
    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} not found: install Debian's chromium (scripts/install.sh does, as root)")
    sync_api = pytest.importorskip(
        "playwright.sync_api", reason="playwright is not installed (pip install -e '.[dev]')"
    )
    with sync_api.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


def test_message_gets_the_streamed_greedy_reply(browser, engine, page_url, tmp_path) -> None:
    # the page starts at temperature 0 (the defaults are greedy), so its reply is the greedy one
    expected = engine.generate(
        [Conversation((Message("system", SYSTEM), Message("user", QUESTION)))],
        SamplingParams(max_new_tokens=24),
    )[0].text
    assert visible_text(expected), (
        "the tiny model should say something visible for this test to mean anything"
    )

    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.goto(page_url, wait_until="domcontentloaded")
    assert page.locator(f"#{IMAGE_ID}").count() == 0 or not page.locator(f"#{IMAGE_ID}").is_visible()
    page.locator(f"#{MESSAGE_ID} textarea").fill(QUESTION)
    page.locator(f"#{SEND_ID}").click()

    chat = page.locator(f"#{CHATBOT_ID}")
    chat.locator("[data-testid='user']").filter(has_text=QUESTION).wait_for(timeout=60_000)
    bot = chat.locator("[data-testid='bot']").last
    bot.wait_for(timeout=60_000)
    # poll until the streamed reply is complete (or give up and show what the page has)
    want, shown = visible_text(expected), ""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        shown = visible_text(bot.inner_text())
        if shown == want:
            break
        time.sleep(0.2)
    shot = tmp_path / "webchat.png"
    page.screenshot(path=str(shot), full_page=True)
    artefacts = os.environ.get("TUNESMITH_ARTIFACTS")
    if artefacts:
        Path(artefacts).mkdir(parents=True, exist_ok=True)
        shutil.copy(shot, Path(artefacts) / "webchat.png")
    assert shown == want
    assert page.locator(f"#{MESSAGE_ID} textarea").input_value() == ""
    context.close()
