"""Errors that mean "this request cannot be done as asked", in one shape for every interface.

A `RequestError` carries an HTTP status and FastAPI's validation-error detail (a list of
{loc, msg, type} naming the request field), so the API answers it as before and the UI shows
`error_message(detail)`. No web framework is imported here: the API turns a RequestError into
its HTTPException where it installs its routes.
"""
from __future__ import annotations

import logging
from typing import Any

import torch

from sdwebui.engine.models.single_file import CheckpointLoadError
from sdwebui.services.extensions.callbacks import ExtensionError
from sdwebui.services.options.store import OptionError

logger = logging.getLogger(__name__)


class RequestError(Exception):
    """A request at fault (4xx), or a failure the client must be told about precisely (507, 500)."""

    def __init__(self, status_code: int, detail: Any, headers: dict[str, str] | None = None):
        super().__init__(error_message(detail))
        self.status_code = status_code
        self.detail = detail
        self.headers = headers      # e.g. Retry-After with a 503


def field_error(field: str | tuple[str, ...], message: str, status_code: int = 422) -> RequestError:
    """An error in FastAPI's validation-error shape, naming the field: "a.b.c", or a tuple of parts
    when a part may hold dots itself (a script title)."""
    loc = ["body", *(field if isinstance(field, tuple) else field.split("."))]
    return RequestError(status_code, [{"loc": loc, "msg": message, "type": "value_error"}])


def error_from(e: BaseException) -> RequestError | None:
    """A RequestError for the errors that mean "this request cannot be done as asked". They carry the
    request field they are about (SamplerError, ProcessingError, LoraError, UpscalerError ...)."""
    if isinstance(e, OptionError):
        return field_error(e.key, str(e), e.status_code)
    if isinstance(e, ValueError) and isinstance(getattr(e, "field", None), (str, tuple)):
        return field_error(e.field, str(e), getattr(e, "status_code", 422))
    if isinstance(e, torch.OutOfMemoryError) or (isinstance(e, RuntimeError) and "can't allocate memory" in str(e)):
        return RequestError(507, f"out of memory for this request ({str(e).splitlines()[0][:200]}); "
                                 "try a smaller size, batch or model; the server keeps running")
    if isinstance(e, ExtensionError):   # the server's fault, but say exactly which extension failed
        return RequestError(500, str(e))
    if isinstance(e, CheckpointLoadError):
        return field_error("sd_model_checkpoint", f"{e}; the previous model is still loaded")
    return None


def error_message(detail: Any) -> str:
    """One line for an error detail: "field: message; ..." for validation-error lists."""
    if isinstance(detail, list):
        return "; ".join(f"{'.'.join(str(x) for x in d.get('loc', [])[1:])}: {d.get('msg', '')}"
                         if isinstance(d, dict) else str(d) for d in detail)
    return str(detail or "")
