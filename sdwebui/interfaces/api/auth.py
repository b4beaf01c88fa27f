"""--api-auth: parsing the credentials, the API router's HTTP Basic dependency, and the check by
path that the middleware applies to every /sdapi and /internal request."""
from __future__ import annotations

import base64
import binascii
import logging
import secrets
from typing import Any, Callable, Mapping

from fastapi import Depends, HTTPException
from fastapi.security import HTTPBasic, HTTPBasicCredentials

logger = logging.getLogger(__name__)

AUTH_PREFIXES = ("/sdapi/", "/internal/")


def parse_credentials(value: str | None) -> dict[str, str]:
    """{user: password} from "user:pass[,user2:pass2]", as --api-auth and --gradio-auth take them."""
    out = {}
    for item in (value or "").split(","):
        item = item.strip()
        if ":" in item:
            user, password = item.split(":", 1)
            out[user] = password
    return out


def _credentials_match(username: str, password: str, credentials: dict[str, str]) -> bool:
    return username in credentials and secrets.compare_digest(password.encode(), credentials[username].encode())


def auth_dependency(credentials: dict[str, str]) -> Callable[..., None]:
    """A FastAPI dependency that answers 401 unless the request's HTTP Basic login is one of these."""
    security = HTTPBasic(auto_error=False)

    def check(creds: HTTPBasicCredentials | None = Depends(security)) -> None:
        if creds is not None and _credentials_match(creds.username, creds.password, credentials):
            return
        raise HTTPException(status_code=401, detail="Incorrect username or password",
                            headers={"WWW-Authenticate": "Basic"})

    return check


def needs_api_auth(scope: Mapping[str, Any]) -> bool:
    """Whether --api-auth applies to this request: every path under /sdapi and /internal, whoever
    added the route (built-in, or an extension in on_app_started), and even when no route exists."""
    path = scope.get("path", "")
    root = scope.get("root_path", "")
    if root and path.startswith(root):   # behind --subpath the path carries the root path
        path = path[len(root):]
    return path.startswith(AUTH_PREFIXES) or path in ("/sdapi", "/internal")


def basic_auth_ok(header: str | None, credentials: dict[str, str]) -> bool:
    """An `Authorization: Basic ...` header that matches one of the credentials."""
    scheme, _, value = (header or "").partition(" ")
    if scheme.lower() != "basic" or not value:
        return False
    try:
        user, sep, password = base64.b64decode(value.strip(), validate=True).decode("utf-8").partition(":")
    except (binascii.Error, ValueError):
        return False
    return bool(sep) and _credentials_match(user, password, credentials)
