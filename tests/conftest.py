"""Shared fixtures: tiny checkpoints written through the real exporter, one in-process app, the
reliability tests' server; early scenarios (slow subprocess work started ahead, see below); one
SSL context for httpx's per-call clients."""
from __future__ import annotations

import os

os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["TRANSFORMERS_OFFLINE"] = "1"
os.environ["GRADIO_ANALYTICS_ENABLED"] = "False"
os.environ.pop("COMMANDLINE_ARGS", None)

import shutil  # noqa: E402
import sys  # noqa: E402
import threading  # noqa: E402
from concurrent.futures import Future  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any, Callable  # noqa: E402

import pytest  # noqa: E402

from sdwebui.engine.models.tiny import write_tiny_checkpoint  # noqa: E402
from sdwebui.engine.models.tiny_dit import write_tiny_flux, write_tiny_sd3  # noqa: E402
from tests import server_process  # noqa: E402

# the environment before any test changed it (monkeypatch.setenv): what an early scenario's servers get
ENV_BEFORE_TESTS = dict(os.environ)
EARLY_TIMEOUT_S = 3600      # an upper bound only; a scenario's own waits are bounded well below it


def _reuse_httpx_default_ssl_context() -> None:
    """`httpx.get(...)` and friends build a client per call, and every client builds an SSL context
    that loads the whole CA bundle (~30 ms); the tests send thousands of plain-http requests to
    loopback servers, where no context is ever used. The default context is built once here and
    shared; any other `verify`/`cert` still gets its own. Only this test process is affected."""
    try:
        from httpx._transports import default as transport
    except ImportError:         # another httpx layout: keep its own behaviour
        return
    build = transport.create_ssl_context
    built: dict[tuple, object] = {}

    def create_ssl_context(verify=True, cert=None, trust_env=True):
        if verify is not True or cert is not None:
            return build(verify=verify, cert=cert, trust_env=trust_env)
        key = (trust_env, os.environ.get("SSL_CERT_FILE"), os.environ.get("SSL_CERT_DIR")) if trust_env else ()
        if key not in built:
            built[key] = build(verify=True, trust_env=trust_env)
        return built[key]

    transport.create_ssl_context = create_ssl_context


_reuse_httpx_default_ssl_context()


@pytest.fixture(scope="session")
def tiny_files(tmp_path_factory) -> dict[str, Path]:
    """Tiny fp16 checkpoints in A1111 layout: two different SD1 models, an SD2-v, an SDXL, an SD1 inpainting
    and an SD3 one (with its CLIP-L/G and T5 bundled), a FLUX.1 dev one (all-in-one)."""
    d = tmp_path_factory.mktemp("ckpts")
    return {
        "sd1": write_tiny_checkpoint(d / "tiny-sd1.safetensors", "sd1", seed=0),
        "sd1b": write_tiny_checkpoint(d / "tiny-sd1-b.safetensors", "sd1", seed=1),
        "sd2v": write_tiny_checkpoint(d / "tiny-sd2v.safetensors", "sd2", seed=2, prediction_type="v_prediction"),
        "sdxl": write_tiny_checkpoint(d / "tiny-sdxl.safetensors", "sdxl", seed=3),
        "sd1inpaint": write_tiny_checkpoint(d / "tiny-sd1-inpainting.safetensors", "sd1", seed=4, inpaint=True),
        "sd3": write_tiny_sd3(d / "tiny-sd3.safetensors", "sd3", seed=5),
        "flux": write_tiny_flux(d / "tiny-flux.safetensors", "dev", seed=6, all_in_one=True),
    }


@pytest.fixture(scope="session")
def data_dir(tmp_path_factory, tiny_files, tiny_vae_file) -> Path:
    """A --data-dir with two SD1 checkpoints, one in a sub folder, and an --ckpt-dir ("extra")
    beside it with SD2-v, SDXL, SD1-inpainting, SD3 and Flux ones."""
    d = tmp_path_factory.mktemp("data")
    ckpt = d / "models" / "Stable-diffusion"
    (ckpt / "sub").mkdir(parents=True)
    shutil.copy(tiny_files["sd1"], ckpt / "alpha.safetensors")
    shutil.copy(tiny_files["sd1b"], ckpt / "sub" / "beta.safetensors")
    extra = d / "extra"
    extra.mkdir()
    for key in ("sd2v", "sdxl", "sd1inpaint", "sd3", "flux"):
        shutil.copy(tiny_files[key], extra / tiny_files[key].name)
    (d / "models" / "VAE").mkdir(parents=True)
    shutil.copy(tiny_vae_file, d / "models" / "VAE" / tiny_vae_file.name)
    return d


@pytest.fixture(scope="session")
def api(data_dir):
    """The real app (API only) in-process, with the shared queue and model manager."""
    from fastapi.testclient import TestClient

    from sdwebui.interfaces import app as webui
    from sdwebui.interfaces.cli import flags as cmd_args
    from sdwebui.services import runtime as shared

    ns = cmd_args.parse_args(["--nowebui", "--data-dir", str(data_dir), "--ckpt-dir", str(data_dir / "extra")],
                             use_env=False)
    app = webui.create_app(ns)
    with TestClient(app) as client:
        yield client
    shared.queue.stop()


@pytest.fixture(scope="session")
def tiny_vae_file(tmp_path_factory):
    """A standalone A1111 VAE file (LDM VAE keys, no prefix) with weights unlike the checkpoints'."""
    import torch
    from safetensors.torch import save_file

    from sdwebui.engine.models.ldm_export import vae_to_ldm
    from sdwebui.engine.models.tiny import build_tiny_components

    vae = build_tiny_components("sd1", seed=42).vae
    sd = {k: v.contiguous() for k, v in vae_to_ldm(vae.state_dict(), vae.config).items()}
    path = tmp_path_factory.mktemp("vae") / "tiny-vae.safetensors"
    save_file({k: v.to(torch.float16) for k, v in sd.items()}, str(path))
    return path


# --- early scenarios ---------------------------------------------------------------------------
# A test marked `@pytest.mark.early(scenario=fn)` has `fn(tmp_dir, env)` run in a thread started at the
# first test outside tests/browser; at its own turn the test waits for it (`early_result()`, a
# fixture) and gets what it returned, or what it raised, its failed asserts included. For the slowest scenarios
# whose work is done by subprocesses (launch.py servers compiling with inductor, bench/run.py): this
# process only waits on them, so the other tests run meanwhile on the CPU time they leave (the suite
# alone keeps about one of two cores busy). Not beside the browser tests: Chromium slows down by half
# next to anything else. `env` is ENV_BEFORE_TESTS, so no test's monkeypatched variable reaches them.

EARLY_NICE = 10    # the scenario's processes give way to the tests' own (see _run_early)


def _run_early(future: Future, scenario: Callable[[Path, dict[str, str]], Any], tmp: Path) -> None:
    if sys.platform == "linux":
        # On Linux the nice value belongs to the thread, and a process started from this thread
        # inherits it: the scenario's servers and compilers run at a lower priority and take the CPU
        # the other tests leave, instead of slowing them down (and their torch threads with them).
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), EARLY_NICE)
    try:
        future.set_result(scenario(tmp, dict(ENV_BEFORE_TESTS)))
    except BaseException as e:  # noqa: BLE001  (re-raised in the test)
        future.set_exception(e)


@pytest.fixture(scope="session")
def _early_scenarios(request, tmp_path_factory) -> dict[str, Future]:
    started: dict[str, Future] = {}
    for item in request.session.items:
        marker = item.get_closest_marker("early")
        if marker is None:
            continue
        future: Future = Future()
        tmp = tmp_path_factory.mktemp(f"early-{item.originalname}"[:40])
        threading.Thread(target=_run_early, args=(future, marker.kwargs["scenario"], tmp), daemon=True,
                         name=f"early {item.nodeid}").start()
        started[item.nodeid] = future
    return started


def pytest_collection_modifyitems(config, items):
    # A test with an early scenario goes last (the others keep their order): by its turn the
    # scenario has had the whole run to finish, so the test rarely has to wait for it.
    items.sort(key=lambda item: item.get_closest_marker("early") is not None)


@pytest.fixture(autouse=True)
def _start_early_scenarios(request):
    if request.node.get_closest_marker("browser") is None:
        request.getfixturevalue("_early_scenarios")


@pytest.fixture
def early_result(request, _early_scenarios) -> Callable[[], Any]:
    """`early_result()` waits for this test's early scenario and returns what it returned, or raises
    what it raised (called in the test body, so that a failure there is the test's failure)."""
    future = _early_scenarios[request.node.nodeid]
    return lambda: future.result(timeout=EARLY_TIMEOUT_S)


def pytest_sessionfinish(session, exitstatus):
    # a run cut short (-x, Ctrl+C) may leave an early scenario's server running
    server_process.stop_all()


# one real server (launch.py --api) shared by the reliability tests, load and faults
from tests.reliability_support import reliability_server  # noqa: E402,F401
