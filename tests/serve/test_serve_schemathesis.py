"""Property-based requests generated from the app's own OpenAPI document (schemathesis, in process:
no network), both valid (positive) and schema-violating (negative): whatever the request, the answer
is never a 5xx, and every error carries the OpenAI body."""

from __future__ import annotations

import contextlib
import time
from typing import Any

import pytest

schemathesis = pytest.importorskip("schemathesis")
hypothesis = pytest.importorskip("hypothesis")

MAX_EXAMPLES = 50
MODEL = "tiny-qwen3"


@pytest.mark.slow
def test_no_server_errors_for_generated_requests(engine) -> None:
    from schemathesis import GenerationMode

    from tunesmith.infer import SamplingParams
    from tunesmith.serve import ServeSettings, create_app

    app = create_app(
        engine, ServeSettings(model_name=MODEL, defaults=SamplingParams(max_new_tokens=2), max_tokens_limit=2)
    )
    schema = schemathesis.openapi.from_asgi("/openapi.json", app)
    seen: dict[str, dict[int, int]] = {}
    started = time.monotonic()
    for result in schema.get_all_operations():
        operation = result.ok()
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            run_operation(operation, mode, seen.setdefault(f"{operation.label} ({mode.value})", {}))
    print(f"\nschemathesis ({time.monotonic() - started:.1f}s): {seen}")
    chat = seen["POST /v1/chat/completions (positive)"]
    completions = seen["POST /v1/completions (positive)"]
    for counts in (chat, completions):  # both generation and refusal were exercised
        assert counts.get(200, 0) > 0 and counts.get(400, 0) > 0, counts
    assert all(status < 500 or status == 501 for counts in seen.values() for status in counts)


def run_operation(
    operation: Any, mode: Any, counts: dict[int, int], *, model: str = MODEL, scores: bool = False
) -> None:
    """Run ``operation`` on generated cases, counting the statuses; ``scores``: a reward model is
    served (else /v1/score must answer 501 whatever is sent)."""
    from hypothesis import HealthCheck, given, settings
    from schemathesis.checks import not_a_server_error

    @settings(
        max_examples=MAX_EXAMPLES,
        deadline=None,
        database=None,
        derandomize=True,
        suppress_health_check=list(HealthCheck),
    )
    @given(case=operation.as_strategy(generation_mode=mode))
    def check(case: Any) -> None:
        if isinstance(case.body, dict) and "model" in case.body:
            case.body["model"] = model  # a random name is a 404 before anything else is looked at
        response = case.call()
        counts[response.status_code] = counts.get(response.status_code, 0) + 1
        if operation.path == "/v1/score" and not scores:  # documented: 501 without a reward model
            assert response.status_code == 501
        else:
            case.validate_response(response, checks=[not_a_server_error])
        if response.status_code >= 400:
            error = response.json()["error"]
            assert set(error) == {"message", "type", "param", "code"}

    with contextlib.suppress(hypothesis.errors.Unsatisfiable):  # nothing to negate (no inputs)
        check()
