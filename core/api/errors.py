"""Every error the API answers is JSON `{"error": code, "message": text}`: the core's refusals
(each CoreError carries its status), request validation (422 naming the field), conflicts of
concurrent requests (409), and, as a last resort, 500 — which the tests show never happens."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute, iter_route_contexts
from sqlalchemy.exc import DataError, DBAPIError, IntegrityError
from sqlalchemy.orm.exc import StaleDataError
from starlette.exceptions import HTTPException

from ..errors import CoreError, PaymentDeclined

log = logging.getLogger("churniq.core.api")

_HTTP_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    413: "request_too_large",
    415: "unsupported_media_type",
}
_LOCATIONS = ("body", "query", "path", "header", "cookie")


class ApiError(Exception):
    """A refusal of the API layer itself (authentication, roles, idempotency)."""

    def __init__(
        self, status: int, code: str, message: str, headers: dict[str, str] | None = None
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.headers = headers


def error_response(
    status: int, code: str, message: str, headers: dict[str, str] | None = None, **extra: Any
) -> JSONResponse:
    return JSONResponse({"error": code, "message": message, **extra}, status, headers=headers)


def field_path(loc: tuple | list) -> str:
    """`("body", "prices", "EUR")` → `prices.EUR`; `("query", "limit")` → `limit`."""
    parts = list(loc)
    if len(parts) > 1 and parts[0] in _LOCATIONS:
        parts = parts[1:]
    return ".".join(str(p) for p in parts) or "request"


def _message(error: dict[str, Any]) -> str:
    if error.get("type") == "json_invalid":
        why = (error.get("ctx") or {}).get("error", "")
        return f"not valid JSON ({why})" if why else "not valid JSON"
    return str(error.get("msg", "invalid")).removeprefix("Value error, ")


def _where(error: dict[str, Any]) -> str:
    if error.get("type") == "json_invalid":
        return "body"
    return field_path(error.get("loc", ()))


async def _core_error(_: Request, exc: CoreError) -> JSONResponse:
    extra = {"failure_code": exc.failure_code} if isinstance(exc, PaymentDeclined) else {}
    return error_response(exc.status, exc.code, str(exc), **extra)


async def _api_error(_: Request, exc: ApiError) -> JSONResponse:
    return error_response(exc.status, exc.code, str(exc), exc.headers)


def allowed_methods(request: Request) -> str:
    """Every method a route serves at the request's path, for the `Allow` of a 405 (the router
    names only the first route's: `GET /api-keys` and `POST /api-keys` are two routes)."""
    path = request.scope.get("path", "")
    methods: set[str] = set()
    for context in iter_route_contexts(request.app.routes):
        route = context.original_route
        if isinstance(route, APIRoute) and route.path_regex.match(path):
            methods |= route.methods
    return ", ".join(sorted(methods))


async def _http_error(request: Request, exc: HTTPException) -> JSONResponse:
    code = _HTTP_CODES.get(exc.status_code, "error")
    headers = getattr(exc, "headers", None)
    if exc.status_code == 405:
        headers = {**(headers or {}), "Allow": allowed_methods(request)}
    return error_response(exc.status_code, code, str(exc.detail), headers)


async def _validation_error(_: Request, exc: RequestValidationError) -> JSONResponse:
    errors = list(exc.errors())
    detail = [  # never the input back: it may be a card number
        {"loc": [str(p) for p in e.get("loc", ())], "msg": _message(e), "type": e.get("type")}
        for e in errors
    ]
    message = f"{_where(errors[0])}: {detail[0]['msg']}" if errors else "invalid request"
    return error_response(422, "invalid_input", message, detail=detail)


async def _stale(_: Request, exc: StaleDataError) -> JSONResponse:
    return error_response(409, "conflict", "a concurrent request changed this record: retry")


def _db_error_kind(exc: DBAPIError) -> str | None:
    """`conflict` for a lost race, `busy` for a lock wait that timed out, else None."""
    if isinstance(exc, IntegrityError):
        return "conflict"
    name = type(exc.orig).__name__ if exc.orig is not None else ""
    if name in ("SerializationFailure", "DeadlockDetected"):
        return "conflict"
    if name in ("LockNotAvailable", "QueryCanceled") or "database is locked" in str(exc.orig):
        return "busy"
    return None


async def _db_error(request: Request, exc: DBAPIError) -> JSONResponse:
    kind = _db_error_kind(exc)
    if kind == "conflict":
        return error_response(
            409, "conflict", "the request conflicts with a concurrent change or existing data"
        )
    if kind == "busy":
        return error_response(
            503, "busy", "the database is busy: retry shortly", {"Retry-After": "1"}
        )
    if isinstance(exc, DataError):  # a value the request validation should have refused
        log.warning("%s %s: value refused by the database: %s", request.method, request.url, exc)
        message = "a value does not fit its field"
        detail = [{"loc": [], "msg": message, "type": "database_refused"}]
        return error_response(422, "invalid_input", message, detail=detail)
    log.error("%s %s: database error", request.method, request.url, exc_info=exc)
    return error_response(500, "internal_error", "internal error")


async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
    log.error("%s %s: unhandled error", request.method, request.url, exc_info=exc)
    return error_response(500, "internal_error", "internal error")


def install(app: FastAPI) -> None:
    app.add_exception_handler(CoreError, _core_error)
    app.add_exception_handler(ApiError, _api_error)
    app.add_exception_handler(HTTPException, _http_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StaleDataError, _stale)
    app.add_exception_handler(DBAPIError, _db_error)
    app.add_exception_handler(Exception, _unexpected)
