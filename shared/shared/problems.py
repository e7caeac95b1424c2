"""Errors as application/problem+json (RFC 9457), with a `detail` a client can act on."""

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import DBAPIError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from starlette.exceptions import HTTPException as StarletteHTTPException

from shared.logging import get_logger

log = get_logger(__name__)

PROBLEM_JSON = "application/problem+json"


class Problem(Exception):
    """Raised by handlers and routers for a client error; turned into a problem+json answer."""

    def __init__(self, status: int, detail: str, title: str | None = None, headers: dict[str, str] | None = None):
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.title = title
        self.headers = headers


def problem_response(
    status: int, detail: str, title: str | None = None, headers: dict[str, str] | None = None, **extra
) -> JSONResponse:
    from http import HTTPStatus

    body = {"type": "about:blank", "title": title or HTTPStatus(status).phrase, "status": status, "detail": detail}
    body.update(extra)
    return JSONResponse(body, status_code=status, media_type=PROBLEM_JSON, headers=headers)


def _describe_validation_error(error: dict) -> str:
    location = ".".join(str(part) for part in error.get("loc", ()) if part != "body")
    return f"{location}: {error.get('msg')}" if location else str(error.get("msg"))


def install_problem_handlers(app: FastAPI) -> None:
    @app.exception_handler(Problem)
    async def _problem(_request: Request, exc: Problem):
        return problem_response(exc.status, exc.detail, exc.title, exc.headers)

    @app.exception_handler(StarletteHTTPException)
    async def _http(_request: Request, exc: StarletteHTTPException):
        detail = exc.detail if isinstance(exc.detail, str) else str(exc.detail)
        return problem_response(exc.status_code, detail, headers=getattr(exc, "headers", None))

    @app.exception_handler(RequestValidationError)
    async def _invalid(_request: Request, exc: RequestValidationError):
        errors = exc.errors()
        malformed = next((e for e in errors if e.get("type") == "json_invalid"), None)
        if malformed is not None:
            reason = (malformed.get("ctx") or {}).get("error")
            detail = f"The request body is not valid JSON: {reason}." if reason else "The request body is not valid JSON."
            return problem_response(400, detail, "Malformed JSON")
        detail = "; ".join(_describe_validation_error(e) for e in errors[:10])
        return problem_response(
            422,
            detail,
            "Invalid request",
            errors=[{"loc": list(e.get("loc", ())), "msg": e.get("msg"), "type": e.get("type")} for e in errors[:50]],
        )

    @app.exception_handler(DBAPIError)
    async def _database(_request: Request, exc: DBAPIError):
        # SQLSTATE class 22, "data exception": a value PostgreSQL cannot take (a NUL character, an
        # unpaired surrogate, a number out of range) came from the request. The transaction is
        # rolled back, so nothing of it remains.
        if str(getattr(exc.orig, "sqlstate", "")).startswith("22"):
            log.warning("request value refused by the database", error=repr(exc.orig))
            return problem_response(422, "A value in the request cannot be stored (a NUL character or an unpaired "
                                    "surrogate in a text, or a number out of range); correct it and retry.",
                                    "Invalid request")
        return _unexpected_error(exc)

    @app.exception_handler(Exception)
    async def _unexpected(_request: Request, exc: Exception):
        return _unexpected_error(exc)


# SQLSTATE classes of a database that cannot serve now: 08 connection exception, 53 insufficient
# resources ("too many clients"), 57P0x shut down or starting.
_UNAVAILABLE_SQLSTATES = ("08", "53", "57P01", "57P02", "57P03")


def _database_unavailable(exc: BaseException) -> bool:
    cause = getattr(exc, "orig", None) or exc
    sqlstate = str(getattr(cause, "sqlstate", "") or "")
    # PoolTimeout: every pooled connection stayed busy for the pool's whole timeout (an overload).
    # A connection lost under the request (PostgreSQL restarted, the backend terminated) is
    # dropped from the pool: the next request gets another.
    return (isinstance(cause, (ConnectionError, TimeoutError, PoolTimeout)) or sqlstate.startswith(_UNAVAILABLE_SQLSTATES)
            or getattr(exc, "connection_invalidated", False))


def _unexpected_error(exc: Exception) -> JSONResponse:
    if _database_unavailable(exc):  # the client may well succeed a moment later: say so, it is not a bug
        log.warning("database unavailable for a request", error=repr(exc))
        return problem_response(503, "The service's database cannot take this request right now; retry shortly.",
                                headers={"Retry-After": "1"})
    log.exception("unhandled error", error=repr(exc))
    return problem_response(500, "An unexpected error occurred; it has been logged.")
