"""Errors the engine raises for a request it cannot do as asked; the API turns them into 4xx."""
from __future__ import annotations


class ProcessingError(ValueError):
    """A request that cannot be processed as given (bad checkpoint name, ...); 4xx in the API.
    `field` names the request field it is about."""

    def __init__(self, field: str, message: str, status_code: int = 422):
        super().__init__(message)
        self.field = field
        self.status_code = status_code
