"""OpenAI-style errors: every failure the API reports has the body
``{"error": {"message", "type", "param", "code"}}``.

Bad requests (schema violations, malformed JSON, conversations the template refuses) are 400; a wrong
API key is 401; an unknown model 404; a body over the size limit 413; a full queue 503 with
``Retry-After``. A 500 means a bug in the server, never bad input.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from fastapi import FastAPI, Request
    from fastapi.responses import JSONResponse

logger = logging.getLogger(__name__)

_TYPES: Mapping[int, str] = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    404: "not_found_error",
    405: "invalid_request_error",
    413: "invalid_request_error",
    422: "invalid_response_error",
    429: "rate_limit_error",
    501: "not_implemented_error",
    503: "service_unavailable_error",
}


class APIError(Exception):
    """An error the API reports to the client with an OpenAI-style body."""

    def __init__(
        self,
        status: int,
        message: str,
        *,
        type: str | None = None,
        param: str | None = None,
        code: str | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.type = type or _TYPES.get(status, "server_error" if status >= 500 else "invalid_request_error")
        self.param = param
        self.code = code
        self.headers = dict(headers or {})

    def body(self) -> dict[str, Any]:
        return error_body(self.message, type=self.type, param=self.param, code=self.code)


def error_body(
    message: str, *, type: str = "invalid_request_error", param: str | None = None, code: str | None = None
) -> dict[str, Any]:
    return {"error": {"message": message, "type": type, "param": param, "code": code}}


def bad_request(message: str, *, param: str | None = None, code: str | None = None) -> APIError:
    return APIError(400, message, param=param, code=code)


def error_response(error: APIError) -> JSONResponse:
    from fastapi.responses import JSONResponse

    return JSONResponse(error.body(), status_code=error.status, headers=error.headers or None)


def describe_validation_errors(errors: Sequence[Mapping[str, Any]]) -> tuple[str, str | None]:
    """A readable message for pydantic / FastAPI validation errors, and the first offending parameter
    (dotted, e.g. ``messages.0.role``)."""
    lines: list[str] = []
    first_param: str | None = None
    for err in errors[:5]:
        loc = [str(p) for p in err.get("loc", ()) if p not in ("body",)]
        # pydantic names union members in the location (``list[...]``, ``str``, ``NamedToolChoice``)
        loc = [
            p
            for p in loc
            if not any(ch in p for ch in "[]()") and p not in _TYPE_WORDS and not p[:1].isupper()
        ]
        param = ".".join(loc) or None
        if first_param is None:
            first_param = param
        msg = str(err.get("msg", "invalid value"))
        lines.append(f"{param}: {msg}" if param else msg)
    if len(errors) > 5:
        lines.append(f"... and {len(errors) - 5} more")
    return "; ".join(lines) or "invalid request", first_param


_TYPE_WORDS = frozenset(
    {"str", "int", "float", "bool", "list", "dict", "none", "json-or-python", "tagged-union"}
)


def install_error_handlers(app: FastAPI) -> None:
    """Route every error the app can raise to an OpenAI-style body."""
    from fastapi.exceptions import RequestValidationError
    from starlette.exceptions import HTTPException

    async def on_api_error(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, APIError)
        return error_response(exc)

    async def on_validation(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, RequestValidationError)
        errors = list(exc.errors())
        if any(e.get("type") == "json_invalid" for e in errors):
            return error_response(bad_request("the request body is not valid JSON", code="invalid_json"))
        message, param = describe_validation_errors(errors)
        return error_response(bad_request(message, param=param, code="invalid_value"))

    async def on_http(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, HTTPException)
        headers = dict(exc.headers or {})
        return error_response(APIError(exc.status_code, str(exc.detail), headers=headers))

    async def on_unexpected(request: Request, exc: Exception) -> JSONResponse:
        logger.exception("internal error serving %s %s", request.method, request.url.path)
        return error_response(
            APIError(500, f"internal server error ({type(exc).__name__})", type="server_error")
        )

    app.add_exception_handler(APIError, on_api_error)
    app.add_exception_handler(RequestValidationError, on_validation)
    app.add_exception_handler(HTTPException, on_http)
    app.add_exception_handler(Exception, on_unexpected)
