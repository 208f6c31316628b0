"""Every error the service returns, in OpenAI's shape: `{"error": {"message", "type", "param", "code"}}`.

Status codes follow what official OpenAI clients do with them: they retry 408, 409, 429 and every 5xx,
so a failure that would fail again the same way (bad input, a per-ask limit) is a 4xx, and only a
provider outage (502) or an unexpected server fault (500) is a 5xx.

| cause                                        | status | type                  | code               |
|----------------------------------------------|--------|-----------------------|--------------------|
| missing or wrong API key                     | 401    | authentication_error  | invalid_api_key    |
| unknown model / agent / trace / path         | 404    | invalid_request_error | *_not_found        |
| request body larger than the limit           | 413    | invalid_request_error | request_too_large  |
| body that is not JSON                        | 422    | invalid_request_error | invalid_json       |
| empty or too long question (`InputError`)    | 422    | invalid_request_error | invalid_input      |
| other schema violations (missing field, ...) | 400    | invalid_request_error | invalid_value      |
| text that is not valid Unicode (lone surrogate)| 400  | invalid_request_error | invalid_text       |
| per-ask limit hit (`LimitExceeded`)          | 422    | limit_error           | limit_exceeded     |
| other run failure (`RunError`)               | 422    | run_error             | run_failed         |
| rate or concurrency limit of the key         | 429    | rate_limit_error      | rate_limit_exceeded|
| every model provider failed (`ProviderError`)| 502    | server_error          | provider_error     |
| a bug                                        | 500    | server_error          | internal_error     |
"""

from __future__ import annotations

from typing import Any

import structlog
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from crossroads.errors import ConfigError, CrossroadsError, InputError, LimitExceeded, ProviderError, RunError
from crossroads.redact import redact
from crossroads.server.models import INVALID_TEXT

log = structlog.get_logger("crossroads.server")


class ApiError(Exception):
    """An error response the handlers raise; rendered in OpenAI's shape by `install_error_handlers`."""

    def __init__(
        self,
        status: int,
        message: str,
        *,
        type: str = "invalid_request_error",
        code: str | None = None,
        param: str | None = None,
        headers: dict[str, str] | None = None,
        extra: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(message)
        self.status, self.message, self.type, self.code, self.param = status, message, type, code, param
        self.headers = headers or {}
        self.extra = extra or {}


def error_response(
    status: int,
    message: str,
    *,
    type: str = "invalid_request_error",
    code: str | None = None,
    param: str | None = None,
    headers: dict[str, str] | None = None,
    extra: dict[str, Any] | None = None,
) -> JSONResponse:
    body: dict[str, Any] = {"error": {"message": message, "type": type, "param": param, "code": code}}
    body.update(extra or {})
    return JSONResponse(body, status_code=status, headers=headers)


def error_body(message: str, *, type: str, code: str | None, param: str | None = None) -> dict[str, Any]:
    return {"error": {"message": message, "type": type, "param": param, "code": code}}


def from_crossroads_error(exc: CrossroadsError) -> ApiError:
    """Map crossroads' error tree onto HTTP; a failed run's partial trace id travels with the error."""
    extra: dict[str, Any] = {}
    headers: dict[str, str] = {}
    partial = getattr(exc, "partial", None)
    if partial is not None:
        extra["crossroads"] = {
            "trace_id": partial.trace_id,
            "status": partial.status,
            "route": partial.route.agents,
            "handoff_path": partial.handoff_path,
        }
        headers["X-Crossroads-Trace-Id"] = partial.trace_id
    message = redact(str(exc))  # provider error text may carry the server's own provider key
    if isinstance(exc, InputError):
        return ApiError(422, message, code="invalid_input", param="question", extra=extra, headers=headers)
    if isinstance(exc, ConfigError):
        return ApiError(400, message, code="invalid_configuration", extra=extra, headers=headers)
    if isinstance(exc, LimitExceeded):
        return ApiError(
            422, message, type="limit_error", code="limit_exceeded", param=exc.limit, extra=extra, headers=headers
        )
    if isinstance(exc, ProviderError):
        return ApiError(502, message, type="server_error", code="provider_error", extra=extra, headers=headers)
    if isinstance(exc, RunError):
        return ApiError(422, message, type="run_error", code="run_failed", extra=extra, headers=headers)
    return ApiError(500, message, type="server_error", code="internal_error", extra=extra, headers=headers)


FASTAPI_BODY_PARSE_ERROR = "There was an error parsing the body"
"""FastAPI's HTTPException detail when a body cannot even be decoded (json_invalid covers the rest)."""


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(ApiError)
    async def _api_error(_: Request, exc: ApiError) -> JSONResponse:
        return error_response(
            exc.status, exc.message, type=exc.type, code=exc.code, param=exc.param, headers=exc.headers, extra=exc.extra
        )

    @app.exception_handler(CrossroadsError)
    async def _crossroads_error(request: Request, exc: CrossroadsError) -> JSONResponse:
        return await _api_error(request, from_crossroads_error(exc))

    @app.exception_handler(RequestValidationError)
    async def _validation(_: Request, exc: RequestValidationError) -> JSONResponse:
        errors = exc.errors()
        bad_json = next((e for e in errors if e.get("type") == "json_invalid"), None)
        if bad_json is not None:
            detail = (bad_json.get("ctx") or {}).get("error", "")
            return error_response(
                422, f"the request body is not valid JSON{': ' + str(detail) if detail else ''}", code="invalid_json"
            )
        bad_text = next((e for e in errors if e.get("type") == INVALID_TEXT), None)
        if bad_text is not None:  # its message names the field and never echoes the text
            param = (bad_text.get("ctx") or {}).get("param")
            return error_response(400, str(bad_text["msg"]), code=INVALID_TEXT, param=param)
        first = errors[0] if errors else {"msg": "invalid request", "loc": ()}
        param = ".".join(str(p) for p in first.get("loc", ())[1:]) or None
        return error_response(
            400,
            f"{param or 'request'}: {first['msg']}" if param else str(first["msg"]),
            code="invalid_value",
            param=param,
        )

    @app.exception_handler(StarletteHTTPException)
    async def _http(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        if exc.status_code == 400 and exc.detail == FASTAPI_BODY_PARSE_ERROR:  # e.g. bytes that are not UTF-8
            return error_response(
                422, "the request body is not valid JSON (it could not be decoded)", code="invalid_json"
            )
        code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "http_error")
        return error_response(exc.status_code, str(exc.detail), code=code, headers=dict(exc.headers or {}))

    @app.exception_handler(Exception)
    async def _unexpected(_: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error", error_type=type(exc).__name__)
        return error_response(500, "internal server error", type="server_error", code="internal_error")
