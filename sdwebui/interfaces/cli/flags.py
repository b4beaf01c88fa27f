"""Command-line flags with A1111's names, defaults and meaning.

Flags that have no meaning on a diffusers backend are still accepted (so users'
`webui-user.sh` keeps working) and are listed in docs/compatibility.md. They are
collected in NOOP_FLAGS so the startup log can say they were ignored.
"""
from __future__ import annotations

import argparse
import difflib
import os
import shlex
import sys
from typing import Callable, Sequence

# Flags accepted for compatibility that change nothing here (name -> why).
NOOP_FLAGS: dict[str, str] = {
    "--xformers": "SDPA attention is always used",
    "--force-enable-xformers": "SDPA attention is always used",
    "--reinstall-xformers": "xformers is not used",
    "--opt-sdp-attention": "SDPA attention is always used",
    "--opt-sdp-no-mem-attention": "SDPA attention is always used",
    "--opt-split-attention": "SDPA attention is always used",
    "--opt-split-attention-v1": "SDPA attention is always used",
    "--opt-split-attention-invokeai": "SDPA attention is always used",
    "--opt-sub-quad-attention": "SDPA attention is always used",
    "--disable-opt-split-attention": "SDPA attention is always used",
    "--upcast-sampling": "diffusers handles upcasting per model",
    "--skip-torch-cuda-test": "there is no CUDA test",
    "--skip-python-version-check": "the version is checked by pip (requires-python)",
    "--skip-prepare-environment": "use --skip-install",
    "--skip-version-check": "no version check is done",
    "--reinstall-torch": "reinstall with TORCH_COMMAND by hand",
    "--update-check": "no network access at run time",
    "--update-all-extensions": "no network access at run time",
    "--no-download-sd-model": "nothing is ever downloaded",
    "--do-not-download-clip": "nothing is ever downloaded",
    "--disable-nan-check": "no NaN check is done yet",
    "--disable-safe-unpickle": "checkpoints are always loaded with weights_only",
    "--lowram": "safetensors are memory-mapped",
    "--use-ipex": "Intel XPU is not supported",
    "--share": "no Gradio share tunnels (offline)",
    "--ngrok": "no tunnels (offline)",
    "--autolaunch": "no browser is opened",
    "--no-prompt-history": "no prompt history is kept",
    "--log-startup": "startup is logged at INFO level",
    "--dump-sysinfo": "not implemented",
    "--theme": "the UI follows the browser's colour scheme",
}


class _Parser(argparse.ArgumentParser):
    """argparse that says which flag was not understood and suggests the closest one."""

    def error(self, message: str) -> None:  # type: ignore[override]
        hint = ""
        if message.startswith("unrecognized arguments:"):
            unknown = [a.split("=")[0] for a in message.split(":", 1)[1].split() if a.startswith("-")]
            known = [o for a in self._actions for o in a.option_strings]
            for flag in unknown:
                close = difflib.get_close_matches(flag, known, n=1)
                if close:
                    hint += f"\n  did you mean {close[0]} instead of {flag}?"
        self.print_usage(sys.stderr)
        self.exit(2, f"{self.prog}: error: {message}{hint}\n"
                     f"Run `{self.prog} --help` for the list of flags.\n")


def _add_noop(parser: argparse.ArgumentParser, flag: str, takes_value: bool = False) -> None:
    help_text = f"accepted for A1111 compatibility; no effect ({NOOP_FLAGS[flag]})"
    if takes_value:
        parser.add_argument(flag, type=str, default=None, help=help_text)
    else:
        parser.add_argument(flag, action="store_true", help=help_text)


def build_parser(prog: str = "launch.py") -> argparse.ArgumentParser:
    p = _Parser(prog=prog, description="Stable Diffusion web UI (A1111-compatible, diffusers backend)")
    add = p.add_argument

    # serving
    add("--api", action="store_true", help="serve the /sdapi/v1 API on the web UI's app and port")
    add("--nowebui", action="store_true", help="serve the API only (default port 7861)")
    add("--listen", action="store_true", help="bind 0.0.0.0 so other machines on the network can connect")
    add("--server-name", type=str, default=None, help="host name or address to bind")
    add("--port", type=int, default=None, help="port (default 7860, or 7861 with --nowebui)")
    add("--subpath", type=str, default=None, help="serve under this URL path prefix (root_path)")
    add("--tls-keyfile", type=str, default=None, help="TLS key file")
    add("--tls-certfile", type=str, default=None, help="TLS certificate file")
    add("--disable-tls-verify", action="store_true", help="accepted; certificates are not verified by the server")
    add("--timeout-keep-alive", type=int, default=30, help="uvicorn keep-alive timeout in seconds")
    add("--no-gradio-queue", action="store_true", help="accepted; the UI always uses the shared queue")
    add("--gradio-debug", action="store_true", help="verbose Gradio logging")
    add("--gradio-allowed-path", action="append", default=[], help="extra directory the UI may serve files from")
    add("--gradio-auth", type=str, default=None, help='UI login "user:pass[,user2:pass2]"')
    add("--gradio-auth-path", type=str, default=None, help="file with UI logins, one user:pass per line or comma-separated")

    # API auth, logging, CORS
    add("--api-auth", type=str, default=None, help='HTTP Basic auth for the API, "user:pass[,user2:pass2]"')
    add("--api-log", action="store_true", help="log every API request")
    add("--api-server-stop", action="store_true", help="enable /sdapi/v1/server-stop, server-restart and server-kill")
    add("--cors-allow-origins", type=str, default=None, help="comma-separated allowed CORS origins")
    add("--cors-allow-origins-regex", type=str, default=None, help="regex of allowed CORS origins")

    # paths
    add("--data-dir", type=str, default=None, help="base directory for models, outputs, extensions, config.json")
    add("--models-dir", type=str, default=None, help="base directory for models (default <data-dir>/models)")
    add("--ckpt", type=str, default=None, help="checkpoint to load at start")
    add("--ckpt-dir", type=str, default=None, help="extra directory scanned for checkpoints")
    add("--vae-dir", type=str, default=None, help="extra directory scanned for VAE files")
    add("--vae-path", type=str, default=None, help="VAE file to use")
    add("--embeddings-dir", type=str, default=None, help="textual inversion embeddings directory")
    add("--hypernetwork-dir", type=str, default=None, help="hypernetwork directory")
    add("--lora-dir", type=str, default=None, help="LoRA directory")
    add("--ui-settings-file", type=str, default=None, help="settings file (default <data-dir>/config.json)")
    add("--ui-config-file", type=str, default=None, help="UI defaults file (default <data-dir>/ui-config.json)")
    add("--styles-file", type=str, action="append", default=None, help="styles file(s)")

    # device and precision
    add("--device-id", type=str, default=None, help="CUDA device index to use")
    add("--use-cpu", nargs="+", default=[], help="run these parts on the CPU: all, sd, interrogate, gfpgan, esrgan, codeformer")
    add("--no-half", action="store_true", help="use fp32 weights on the GPU")
    add("--no-half-vae", action="store_true", help="keep the VAE in fp32")
    add("--precision", type=str, choices=["full", "half", "autocast"], default="autocast",
        help="full = fp32; half/autocast = fp16 on a GPU; on the CPU fp32, or bf16 with half on a CPU with "
             "bf16 instructions")
    add("--medvram", action="store_true", help="offload model parts to the CPU between uses")
    add("--medvram-sdxl", action="store_true", help="--medvram for SDXL models only")
    add("--lowvram", action="store_true", help="sequential CPU offload (slowest, least VRAM)")
    add("--opt-channelslast", action="store_true", help="channels-last memory format for the UNet and VAE")
    add("--compile", action="store_true",
        help="torch.compile the UNet and VAE decoder when a model loads (CUDA graphs on a GPU); not an A1111 flag")
    add("--compile-mode", type=str, default="auto", choices=["auto", "default", "reduce-overhead", "max-autotune",
                                                           "max-autotune-no-cudagraphs"],
        help="torch.compile mode for --compile; auto = reduce-overhead (CUDA graphs) on a GPU, default on the CPU")

    # launcher
    add("--skip-install", action="store_true", help="do not run extensions' install.py")
    add("--exit", action="store_true", help="prepare the environment and exit")
    add("--loglevel", type=str, default=None, help="log level (DEBUG, INFO, WARNING, ...)")
    add("--test-server", action="store_true", help="--api with settings suited to tests")

    # behaviour
    add("--no-hashing", action="store_true", help="do not compute sha256 of checkpoints")
    add("--skip-load-model-at-start", action="store_true", help="load the checkpoint on first use")
    add("--freeze-settings", action="store_true", help="refuse changes to settings")
    add("--hide-ui-dir-config", action="store_true", help="hide directory settings from the UI")
    add("--enable-insecure-extension-access", action="store_true",
        help="allow installing extensions from the UI even when the server is reachable from the network")
    add("--disable-all-extensions", action="store_true", help="load no extensions")
    add("--disable-extra-extensions", action="store_true", help="load only built-in extensions")
    add("--allow-code", action="store_true", help="allow the Custom code script")
    add("--filenames-max-length", type=int, default=128, help="maximum length of a saved file name part")
    add("--unix-filenames-sanitization", action="store_true", help="only replace / in file names")
    add("--ui-debug-mode", action="store_true", help="start without loading a model")
    add("--max-image-pixels", type=int, default=4096 * 4096,
        help="largest width*height a request may ask for (not an A1111 flag)")

    value_flags = {"--ngrok", "--theme"}
    for flag in NOOP_FLAGS:
        _add_noop(p, flag, takes_value=flag in value_flags)
    return p


def split_env_args(value: str | None) -> list[str]:
    """COMMANDLINE_ARGS from webui-user.sh, split like a shell would."""
    return shlex.split(value) if value else []


def collect_args(argv: Sequence[str] | None = None, *, use_env: bool = True) -> list[str]:
    """COMMANDLINE_ARGS from the environment first, then argv (so argv wins)."""
    args = list(sys.argv[1:] if argv is None else argv)
    if use_env:
        args = split_env_args(os.environ.get("COMMANDLINE_ARGS")) + args
    return args


def parse_args(argv: Sequence[str] | None = None, *, use_env: bool = True,
               parser: argparse.ArgumentParser | None = None) -> argparse.Namespace:
    """Parse flags; COMMANDLINE_ARGS from the environment come first, then argv (argv wins)."""
    parser = parser or build_parser()
    ns = parser.parse_args(collect_args(argv, use_env=use_env))
    finalize(ns)
    return ns


def parse_early(args: Sequence[str], parser: argparse.ArgumentParser | None = None) -> argparse.Namespace:
    """The flags known before extensions' preload.py added theirs (--data-dir, the disable and
    install flags ...): unknown flags are left for the full parse, --help too."""
    parser = parser or build_parser()
    ns, _unknown = parser.parse_known_args([a for a in args if a not in ("-h", "--help")])
    finalize(ns)
    return ns


# one step between the early and the full parse: (parser, early flags) -> None; it may add flags
ParseHook = Callable[[argparse.ArgumentParser, argparse.Namespace], None]


def parse_args_in_stages(argv: Sequence[str] | None = None, *, use_env: bool = True,
                         hooks: Sequence[ParseHook] = ()) -> argparse.Namespace:
    """A1111's launch order: the known flags first; then each hook, in order, with the parser and
    those early flags (the launcher's hooks run extensions' install.py and preload.py, whose
    `preload(parser)` may add flags); then the whole command line is parsed, so an unknown flag
    still exits 2."""
    parser = build_parser()
    args = collect_args(argv, use_env=use_env)
    early = parse_early(args, parser)
    for hook in hooks:
        hook(parser, early)
    ns = parser.parse_args(args)
    finalize(ns)
    return ns


def finalize(ns: argparse.Namespace) -> None:
    """Derived values, as A1111 computes them after parsing."""
    if ns.test_server:
        ns.api = True
    ns.webui_is_non_local = bool(ns.listen or ns.server_name or ns.share or ns.ngrok)
    ns.disable_extension_access = ns.webui_is_non_local and not ns.enable_insecure_extension_access
    if ns.port is None:
        ns.port = 7861 if ns.nowebui else 7860
    if ns.nowebui:
        ns.api = True


def used_noop_flags(ns: argparse.Namespace) -> list[str]:
    out = []
    for flag in NOOP_FLAGS:
        value = getattr(ns, flag.lstrip("-").replace("-", "_"), None)
        if value:
            out.append(flag)
    return out
