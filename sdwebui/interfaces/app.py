"""App assembly: one FastAPI app with the /sdapi/v1 API and the Gradio UI, served by uvicorn."""
from __future__ import annotations

import argparse
import logging
import os
import time

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("DIFFUSERS_OFFLINE", "1")
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")
os.environ.setdefault("DO_NOT_TRACK", "1")

from fastapi import Depends, FastAPI  # noqa: E402

from sdwebui.interfaces.cli import flags
from sdwebui.interfaces.startup import prepare_api_scripts, prepare_services
from sdwebui.services.extensions import callbacks as script_callbacks
from sdwebui.services import runtime as shared  # noqa: E402

logger = logging.getLogger("webui")


def _gradio_credentials(ns: argparse.Namespace) -> list[tuple[str, str]] | None:
    from sdwebui.interfaces.api.auth import parse_credentials

    text = ns.gradio_auth or ""
    if ns.gradio_auth_path:
        with open(ns.gradio_auth_path, encoding="utf-8") as f:
            text += "," + ",".join(line.strip() for line in f if line.strip())
    creds = parse_credentials(text)
    return list(creds.items()) or None


def create_app(ns: argparse.Namespace, *, load_model: bool = True) -> FastAPI:
    """Initialise the shared services and build the app. The checkpoint load is queued as the
    first job, so the server answers at once and generation requests wait their turn."""
    from sdwebui.services import util
    from sdwebui.services.util import startup_timer

    if util.startup_record is not None:     # a second app in this process (tests): its own profile
        startup_timer.reset()
    else:       # "import": from the process's start (the interpreter, launch.py, the packages) to here
        import psutil

        startup_timer.start = min(startup_timer.start, psutil.Process().create_time())
    startup_timer.record("import")      # since the timer's module was imported: the packages before this
    prepare_services(ns)
    clustered = bool(getattr(ns, "cluster_workers", 0) or getattr(ns, "cluster", None))
    app = FastAPI(title="Stable Diffusion API", version="1.10.1", docs_url="/docs", redoc_url="/redoc")

    from sdwebui.interfaces.api.middleware import install_middleware
    from sdwebui.interfaces.api.routes import Api

    install_middleware(app)
    from fastapi.middleware.cors import CORSMiddleware

    # Always installed, with no origin at all unless --cors-allow-origins(-regex) names some: the
    # mounted Gradio app otherwise adds its own CORS middleware, which answers ANY Origin (with
    # credentials) whenever the Host header is not localhost - e.g. every request under --listen.
    # Gradio steps aside when the parent app has a CORSMiddleware, so CORS stays closed by default.
    app.add_middleware(CORSMiddleware, allow_origins=ns.cors_allow_origins.split(",") if ns.cors_allow_origins else [],
                       allow_origin_regex=ns.cors_allow_origins_regex or None, allow_methods=["*"],
                       allow_credentials=True, allow_headers=["*"])
    # without --api only the UI's /internal/* routes are served, as in A1111
    Api(app, sdapi=ns.api or ns.nowebui, internal=not ns.nowebui)

    if clustered:   # the workers load the models; this process never does
        _start_cluster(ns)
    elif load_model and not ns.skip_load_model_at_start and not ns.ui_debug_mode:
        shared.startup_load = (shared.queue, shared.queue.submit(_initial_load, name="load-checkpoint").future)

    demo = None
    if ns.nowebui:
        prepare_api_scripts()
    else:
        import gradio as gr

        from sdwebui.interfaces.ui import gradio_compat
        from sdwebui.interfaces.ui.app import create_ui, head_html

        demo = create_ui()
        startup_timer.record("create ui")
        # before the UI is mounted at "/": routes added after the mount would never be reached
        with gradio_compat.gradio3_fns(demo):        # extensions iterate demo.fns as gradio 3's list
            script_callbacks.app_started_callback(demo, app)
        demo.queue(max_size=64, api_open=False, default_concurrency_limit=None)
        allowed = [str(shared.paths.resolve_output("outputs"))] + flags.user_allowed_paths(ns)
        credentials = _gradio_credentials(ns)
        from sdwebui.interfaces import file_route

        file_route.register(app, ui_credentials=credentials)   # /file=: the page's and extensions' files
        from sdwebui.interfaces.ui import extra_networks   # the cards' previews, metadata and single cards

        extra_networks.add_pages_to_demo(app, dependencies=[Depends(file_route.ui_login_required(credentials))])
        app = gr.mount_gradio_app(app, demo, path="/", auth=credentials, ssr_mode=False, head=head_html(),
                                  allowed_paths=allowed, root_path=ns.subpath or None,
                                  # no gradio footer: the UI's own (A1111's links and versions) is at the
                                  # page's end, and gradio's "Use via API" would list the page's internal events
                                  footer_links=[])
        startup_timer.record("mount gradio")
    if demo is None:
        script_callbacks.app_started_callback(None, app)
    _keep_startup_record()
    return app


def _start_cluster(ns: argparse.Namespace) -> None:
    """--cluster-workers / --cluster: the workers start in the background (Ray, then the replicas);
    generation requests wait for them. Needs the `cluster` extra."""
    from sdwebui.services import dispatch

    dispatch.prepare_ray_environment(local_head=not ns.cluster)
    try:
        from sdwebui.services.dispatch import ray_cluster
    except ImportError as e:
        import sys

        print(f"--cluster-workers / --cluster need Ray Serve, which is not installed ({e}): "
              "pip install -e .[cluster]", file=sys.stderr, flush=True)
        raise SystemExit(2) from None
    from sdwebui.interfaces.cluster.worker import SDWorker

    shared.cluster = ray_cluster.Cluster(ns, SDWorker)
    shared.cluster.start()


def _keep_startup_record() -> None:
    """What /internal/profile-startup shows (A1111's timer.startup_record)."""
    from sdwebui.services import util

    util.startup_timer.record("app started")
    util.startup_record = util.startup_timer.dump()


def _initial_load() -> None:
    try:
        shared.ensure_model_loaded()
    except Exception as e:  # the server keeps running; the next request retries and reports the error
        logger.error("could not load the checkpoint at start: %s", e)


def bind_host(ns: argparse.Namespace) -> str:
    """Loopback unless the user asked for the network (A1111: --listen or --server-name)."""
    return ns.server_name or ("0.0.0.0" if ns.listen else "127.0.0.1")


def serve(ns: argparse.Namespace) -> None:
    import uvicorn

    started = time.perf_counter()
    app = create_app(ns)
    host = bind_host(ns)
    config = uvicorn.Config(app, host=host, port=ns.port, log_level="warning",
                            timeout_keep_alive=ns.timeout_keep_alive,
                            ssl_keyfile=ns.tls_keyfile, ssl_certfile=ns.tls_certfile,
                            root_path=ns.subpath or "")
    server = uvicorn.Server(config)
    shared._server_stop_callbacks.append(lambda: setattr(server, "should_exit", True))
    scheme = "https" if ns.tls_certfile else "http"
    logger.info("Startup time: %.1fs", time.perf_counter() - started)
    print(f"Running on local URL:  {scheme}://{host}:{ns.port}{ns.subpath or ''}", flush=True)
    try:
        server.run()
    finally:
        shared.queue.stop()
        if shared.cluster is not None:
            shared.cluster.shutdown()
