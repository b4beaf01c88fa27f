"""What wraps every request on the app: the body size limit, A1111's error bodies, --api-auth by
path, X-Process-Time and --api-log, and a clear 500 for anything unhandled."""
from __future__ import annotations

import logging
import re
import time

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from sdwebui.interfaces.api.auth import basic_auth_ok, needs_api_auth, parse_credentials
from sdwebui.services import runtime as shared
from sdwebui.services.request_errors import error_message

logger = logging.getLogger(__name__)

_CONTROL_CHARS = re.compile(r"[\x00-\x1f\x7f]")

MAX_BODY_BYTES = 192 * 2**20   # a 4096x4096 PNG in base64 is at most ~70 MB; a few of them fit


class BodySizeLimit:
    """Answer 413 to a request body over MAX_BODY_BYTES, by its Content-Length or while it streams in,
    instead of reading it all into memory."""

    def __init__(self, app, limit: int = MAX_BODY_BYTES):
        self.app = app
        self.limit = limit

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        length = dict(scope.get("headers") or []).get(b"content-length")
        if length is not None and length.isdigit() and int(length) > self.limit:
            return await self._reject(send)
        seen = 0
        started = False

        async def limited_receive():
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.limit:
                    raise _BodyTooLarge()
            return message

        async def tracking_send(message):
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, limited_receive, tracking_send)
        except _BodyTooLarge:
            if not started:
                await self._reject(send)

    async def _reject(self, send) -> None:
        body = (b'{"error":"RequestTooLarge","detail":"the request body is larger than '
                + str(self.limit).encode() + b' bytes","body":"","errors":"413: request body too large"}')
        await send({"type": "http.response.start", "status": 413,
                    "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]})
        await send({"type": "http.response.body", "body": body})


class _BodyTooLarge(Exception):
    pass


def install_middleware(app: FastAPI) -> None:
    """X-Process-Time on every response, --api-log lines, A1111's error body, and errors that never
    crash the server."""
    from starlette.exceptions import HTTPException as StarletteHTTPException

    api_log = shared.cmd_opts.api_log
    app.add_middleware(BodySizeLimit)

    from fastapi.exceptions import RequestValidationError

    @app.exception_handler(RequestValidationError)
    async def validation_error(request: Request, e: RequestValidationError) -> JSONResponse:
        # FastAPI's 422 shape as A1111 clients know it ({"detail": [{loc, msg, type}]}); the offending
        # input is not echoed back (it may be huge, or NaN, which JSON cannot carry)
        detail = [{"loc": list(err.get("loc", ())), "msg": err.get("msg", ""), "type": err.get("type", "")}
                  for err in e.errors()]
        return JSONResponse(status_code=422, content={"detail": detail})

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, e: StarletteHTTPException) -> JSONResponse:
        # A1111's shape {error, detail, body, errors}; `detail` keeps FastAPI's list form for field errors
        # so clients that read detail[0]["msg"] work too. Unlike A1111, headers (WWW-Authenticate) are kept.
        body = {"error": type(e).__name__, "detail": e.detail, "body": "",
                "errors": f"{e.status_code}: {error_message(e.detail)}"}
        return JSONResponse(status_code=e.status_code, content=body, headers=getattr(e, "headers", None))

    # --api-auth is also checked here, by path, and not only by the API router's dependency: routes
    # that extensions add under /sdapi or /internal (app.add_api_route in on_app_started) never get
    # that dependency, and would otherwise be open to anyone.
    api_credentials = parse_credentials(shared.cmd_opts.api_auth)

    @app.middleware("http")
    async def log_and_time(request: Request, call_next):
        start = time.perf_counter()
        try:
            if _CONTROL_CHARS.search(request.scope.get("path", "")):
                # a %00 or other control character in a path is never a real URL; some of Gradio's
                # routes (/gradio_api/proxy=) answer one with an unhandled 500
                response = JSONResponse(status_code=400, content={
                    "error": "InvalidURL", "detail": "control characters in the URL path", "body": "",
                    "errors": "400: control characters in the URL path"})
            elif api_credentials and needs_api_auth(request.scope) and \
                    not basic_auth_ok(request.headers.get("authorization"), api_credentials):
                message = "Incorrect username or password"
                response = JSONResponse(status_code=401, headers={"WWW-Authenticate": "Basic"}, content={
                    "error": "HTTPException", "detail": message, "body": "", "errors": f"401: {message}"})
            else:
                response = await call_next(request)
        except Exception as e:  # the last line of defence: a clear 500, the server keeps serving
            logger.exception("unhandled error in %s %s", request.method, request.url.path)
            response = JSONResponse(status_code=500, content={
                "error": type(e).__name__, "detail": "internal error", "body": "", "errors": str(e)})
        duration = time.perf_counter() - start
        response.headers["X-Process-Time"] = f"{duration:.4f}"
        if api_log and request.url.path.startswith("/sdapi"):
            client = f"{request.client.host}:{request.client.port}" if request.client else "-"
            logger.info("API %s %s %s/%s %s %s %s %.4f", time.strftime("%Y-%m-%d %H:%M:%S"), response.status_code,
                        request.url.scheme, request.scope.get("http_version", ""), request.method, request.url.path,
                        client, duration)
        return response
