"""Reporting errors the way A1111's `modules.errors` does, for extensions that call it: the message
and traceback go to the log (A1111 prints them to stderr with `***` prefixes; here the log is where
every other error of the app goes), and the last few are kept for the sysinfo report
(`get_exceptions`)."""
from __future__ import annotations

import logging
import sys
import traceback
from types import TracebackType
from typing import Any, Callable

logger = logging.getLogger(__name__)

__all__ = ["already_displayed", "check_versions", "display", "display_once", "exception_records",
           "format_exception", "format_traceback", "get_exceptions", "print_error_explanation",
           "record_exception", "report", "run"]

exception_records: list[dict[str, Any]] = []
MAX_RECORDS = 5
already_displayed: dict[str, int] = {}


def format_traceback(tb: TracebackType | None) -> list[list[str]]:
    return [[f"{frame.filename}, line {frame.lineno}, {frame.name}", frame.line or ""]
            for frame in reversed(traceback.extract_tb(tb))]


def format_exception(e: BaseException, tb: TracebackType | None) -> dict[str, Any]:
    return {"exception": str(e), "traceback": format_traceback(tb)}


def get_exceptions() -> list[dict[str, Any]]:
    """The recorded exceptions, newest first."""
    return list(reversed(exception_records))


def record_exception() -> None:
    """Keep the exception being handled (if any) for get_exceptions()."""
    _, e, tb = sys.exc_info()
    if e is None:
        return
    record = format_exception(e, tb)
    if exception_records and exception_records[-1] == record:
        return
    exception_records.append(record)
    del exception_records[:-MAX_RECORDS]


def report(message: str, *, exc_info: bool = False) -> None:
    """Log `message`, with the current exception's traceback when `exc_info`."""
    record_exception()
    logger.error("%s", message, exc_info=exc_info and sys.exc_info()[0] is not None)


def print_error_explanation(message: str) -> None:
    record_exception()
    lines = message.strip().splitlines() or [""]
    rule = "=" * max(len(line) for line in lines)
    logger.error("\n%s\n%s\n%s", rule, "\n".join(lines), rule)


def display(e: BaseException, task: str, *, full_traceback: bool = False) -> None:
    """Log an exception that happened while doing `task`."""
    record_exception()
    stack = traceback.format_exception(type(e), e, e.__traceback__)
    if not full_traceback:
        stack = stack[-12:]
    logger.error("%s: %s\n%s", task, type(e).__name__, "".join(stack).rstrip())


def display_once(e: BaseException, task: str) -> None:
    """display(), but only the first time this task fails."""
    record_exception()
    if task in already_displayed:
        return
    display(e, task)
    already_displayed[task] = 1


def run(code: Callable[[], Any], task: str) -> None:
    """Call `code`, logging (not raising) what it raises."""
    try:
        code()
    except Exception as e:
        display(e, task)


def check_versions() -> None:
    """A1111 warns here when torch, xformers or gradio differ from the versions it was tested with.
    This project declares its own tested ranges in pyproject.toml and pip enforces them, so there is
    nothing more to check."""
