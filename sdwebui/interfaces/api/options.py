"""The settings over the API: /sdapi/v1/options (read and change) and /sdapi/v1/cmd-flags."""
from __future__ import annotations

import logging
from typing import Any

from fastapi import Body, HTTPException

from sdwebui.services import runtime as shared
from sdwebui.services.options.apply import apply_settings
from sdwebui.services.request_errors import field_error

logger = logging.getLogger(__name__)

SECRET_FLAGS = ("api_auth", "gradio_auth", "tls_keyfile", "ngrok")


class OptionRoutes:
    """Api's handlers for the options and the command-line flags."""

    async def get_options(self) -> dict:
        return shared.opts.as_dict()

    async def set_options(self, body: dict[str, Any] = Body(..., description="option keys and their new values "
                                                                           "(the dict GET returns is accepted)")) -> None:
        _changed, error = await apply_settings(body, from_api=True)
        if error is None:
            return None
        if error.key is None:   # about no single option: frozen settings, a failed save
            raise HTTPException(status_code=error.status_code, detail=str(error))
        # loc ["body", "<key>"]: the option is a key of the body (a key with dots stays one part)
        raise field_error((error.key,), str(error), error.status_code)

    async def cmd_flags(self) -> dict:
        out = {}
        for k, v in vars(shared.cmd_opts).items():
            if k in SECRET_FLAGS and v:
                v = "<hidden>"
            out[k] = v
        return out
