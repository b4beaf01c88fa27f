"""Flags: A1111 names and defaults, derived values, unknown flags exit 2 with a message."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from sdwebui.interfaces.cli import flags as cmd_args
from sdwebui.services import paths

ROOT = Path(__file__).resolve().parent.parent


def parse(*argv):
    return cmd_args.parse_args(list(argv), use_env=False)


def test_defaults_bind_loopback_7860():
    ns = parse()
    assert ns.port == 7860 and not ns.listen and not ns.api
    assert parse("--nowebui").port == 7861
    assert parse("--nowebui").api
    assert parse("--port", "9000").port == 9000


def test_required_flags_exist():
    ns = parse("--api", "--listen", "--data-dir", "/tmp/x", "--ckpt-dir", "/tmp/c", "--ckpt", "m.safetensors",
               "--skip-install", "--use-cpu", "all", "--no-half", "--device-id", "1", "--api-auth", "a:b",
               "--cors-allow-origins", "http://x", "--api-log", "--enable-insecure-extension-access")
    assert ns.api and ns.listen and ns.skip_install and ns.no_half and ns.api_log
    assert ns.use_cpu == ["all"] and ns.device_id == "1" and ns.api_auth == "a:b"
    assert ns.webui_is_non_local and not ns.disable_extension_access
    assert parse("--listen").disable_extension_access


def test_inert_flags_accepted():
    argv = ["--xformers", "--opt-sdp-attention", "--theme", "dark", "--no-download-sd-model"]
    ns = parse(*argv)
    assert ns.xformers and ns.theme == "dark"
    assert [flag for flag, _why in cmd_args.inert_flags_given(argv)] == [    # --theme acts (page_assets)
        "--xformers", "--opt-sdp-attention", "--no-download-sd-model"]


def test_commandline_args_env(monkeypatch):
    monkeypatch.setenv("COMMANDLINE_ARGS", "--api --port 7999")
    ns = cmd_args.parse_args(["--port", "8001"])
    assert ns.api and ns.port == 8001


def test_data_dir_moves_everything(tmp_path):
    p = paths.from_args(parse("--data-dir", str(tmp_path)))
    assert p.checkpoints == tmp_path / "models" / "Stable-diffusion"
    assert p.config_file == tmp_path / "config.json" and p.cache_file == tmp_path / "cache.json"
    assert p.extensions == tmp_path / "extensions" and p.embeddings == tmp_path / "embeddings"
    assert p.resolve_output("outputs/txt2img-images") == tmp_path / "outputs" / "txt2img-images"


def test_unknown_flag_exits_2_with_message():
    r = subprocess.run([sys.executable, "launch.py", "--apii"], cwd=ROOT, capture_output=True, text=True,
                       env={"PATH": "/usr/bin:/bin", "HF_HUB_OFFLINE": "1"}, timeout=60)
    assert r.returncode == 2
    assert "unrecognized arguments: --apii" in r.stderr
    assert "did you mean --api" in r.stderr


def test_bind_host():
    from sdwebui.interfaces import app as webui

    assert webui.bind_host(parse()) == "127.0.0.1"
    assert webui.bind_host(parse("--listen")) == "0.0.0.0"
    assert webui.bind_host(parse("--server-name", "192.0.2.1")) == "192.0.2.1"
