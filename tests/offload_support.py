"""Offloaded tests: CPU-heavy tests that need nothing from the rest of the run (their own models,
servers and temporary folders) run in one child pytest beside the main run.

The suite keeps about one of the two CI cores busy; the child, started with the early scenarios
(at the first test outside tests/browser, at a lower priority), takes the other. In the main run
each offloaded test is replaced by an item that waits for the child and reports the child's outcome
for it (a failure shows the child's report for that test). The child runs them as ordinary tests;
so does a run that selected nothing but offloaded tests, where a child would gain nothing.

Mark a test (or a module, with `pytestmark`) `@pytest.mark.offload`.
"""
from __future__ import annotations

import os
import subprocess
import sys
import xml.etree.ElementTree as ElementTree
from concurrent.futures import Future
from pathlib import Path
from typing import Callable

import pytest

CHILD_ENV = "SDWEBUI_OFFLOADED_CHILD"
ROOT = Path(__file__).resolve().parents[1]
TIMEOUT_S = 3000        # an upper bound for the whole child run


def in_child() -> bool:
    return os.environ.get(CHILD_ENV) == "1"


class OffloadedTest(pytest.Item):
    """Stands for a test the child runs: passes, fails or skips as it did there."""

    def __init__(self, *, original: pytest.Item, **kwargs) -> None:
        super().__init__(**kwargs)
        self.original_nodeid = original.nodeid
        self.own_markers.extend(original.own_markers)
        self.keywords.update(original.keywords)

    def runtest(self) -> None:
        outcomes, output = start_child(self.config).result(timeout=TIMEOUT_S)
        outcome = outcomes.get(self.original_nodeid)
        if outcome is None:
            raise AssertionError(f"the offloaded run reported nothing for {self.original_nodeid}; its output "
                                 f"ends:\n{output[-4000:]}")
        kind, message = outcome
        if kind == "skipped":
            pytest.skip(message)
        if kind != "passed":
            raise AssertionError(f"failed in the offloaded run:\n{message}")

    def repr_failure(self, excinfo, style=None):
        if isinstance(excinfo.value, AssertionError):      # the child's own report, not this stand-in's
            return str(excinfo.value)
        return super().repr_failure(excinfo, style=style)

    def reportinfo(self):
        return self.path, None, f"{self.original_nodeid} (offloaded)"


CHILD_RUN = pytest.StashKey[Future]()
STARTER = pytest.StashKey[Callable[[], Future]]()


def split_items(config, items: list, start: Callable[[list[str]], Future]) -> None:
    """Replace the offloaded items with stand-ins (not in the child, and not when they are all the
    run has). `start(node_ids)` starts the child run (on a thread) and gives its future."""
    if in_child():
        return
    offloaded = [item for item in items if item.get_closest_marker("offload") is not None]
    if not offloaded or len(offloaded) == len(items):
        return
    for i, item in enumerate(items):
        if item.get_closest_marker("offload") is not None:
            items[i] = OffloadedTest.from_parent(item.parent, name=item.name, original=item)
    nodeids = [item.nodeid for item in offloaded]
    config.stash[STARTER] = lambda: start(nodeids)


def start_child(config) -> Future | None:
    """The child run's future, started on the first call; None when this run offloads nothing."""
    if CHILD_RUN not in config.stash:
        if STARTER not in config.stash:
            return None
        config.stash[CHILD_RUN] = config.stash[STARTER]()
    return config.stash[CHILD_RUN]


def run_child(nodeids: list[str], tmp: Path, env: dict[str, str]) -> tuple[dict[str, tuple[str, str]], str]:
    """The offloaded tests in a child pytest: {node id: (outcome, message)} and its output."""
    report = tmp / "offloaded.xml"
    command = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", f"--basetemp={tmp / 'base'}",
               f"--junitxml={report}", "-o", "junit_family=xunit1", *nodeids]
    done = subprocess.run(command, cwd=ROOT, env={**env, CHILD_ENV: "1"}, capture_output=True, text=True,
                          timeout=TIMEOUT_S)
    output = done.stdout + done.stderr
    return (_outcomes(report) if report.is_file() else {}), output


def _outcomes(report: Path) -> dict[str, tuple[str, str]]:
    out: dict[str, tuple[str, str]] = {}
    for case in ElementTree.parse(report).getroot().iter("testcase"):
        file = case.get("file") or case.get("classname", "").replace(".", "/") + ".py"
        nodeid = f"{file}::{case.get('name')}"
        failure = case.find("failure")
        if failure is None:
            failure = case.find("error")
        skipped = case.find("skipped")
        if failure is not None:
            out[nodeid] = ("failed", (failure.get("message") or "") + "\n" + (failure.text or ""))
        elif skipped is not None:
            out[nodeid] = ("skipped", skipped.get("message") or "")
        else:
            out[nodeid] = ("passed", "")
    return out
