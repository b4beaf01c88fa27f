"""Every flag of A1111 1.10 (its modules/cmd_args.py and its built-in extensions' preload.py), with
A1111's spelling, type, default and help, in groups; then the few flags of our own.

A1111 computes its path defaults from `--data-dir` / `--models-dir` found on the command line before
the real parse (paths_internal.py); `derived_defaults(Roots.from_args(args))` is that table here,
which the parser applies again at each parse (flags._Parser), so the defaults always follow the
command line being parsed. Flags that cannot act on this backend are listed in INERT_FLAGS with the
reason, which is added to their help and logged once at start when one is given.

Standard library only: `modules.shared` and the launcher import this before anything is set up.
"""
from __future__ import annotations

import argparse
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

# the webui folder (A1111's script_path): this file is sdwebui/interfaces/cli/flag_groups.py
SCRIPT_PATH = Path(__file__).resolve().parents[3]

_ATTENTION = "PyTorch SDPA attention is always used"
_OFFLINE = "nothing is downloaded or installed at run time (offline)"
_NOOP_IN_A1111 = "it does nothing in A1111 1.10 either"

# flag -> why it has no effect here (logged once at start when given; see docs/compatibility.md)
INERT_FLAGS: dict[str, str] = {
    "-f": "webui.sh here runs as root without it",
    # launcher: environment preparation A1111 does in launch.py
    "--update-all-extensions": _OFFLINE,
    "--skip-python-version-check": "the Python version is checked by pip (requires-python)",
    "--skip-torch-cuda-test": "there is no CUDA test at start",
    "--reinstall-xformers": "xformers is not used",
    "--reinstall-torch": "webui.sh installs torch with TORCH_COMMAND only when it is missing",
    "--update-check": _OFFLINE,
    "--log-startup": "start-up steps are logged at INFO level",
    "--dump-sysinfo": "no sysinfo file is written; the app starts",
    "--do-not-download-clip": _OFFLINE,
    "--no-download-sd-model": _OFFLINE,
    "--skip-version-check": "no torch/xformers version check is done",
    # model loading and precision
    "--config": "the model's architecture is read from its weights, not from an LDM yaml config",
    "--upcast-sampling": "diffusers upcasts where each model needs it",
    "--lowram": "safetensors checkpoints are memory-mapped",
    "--disable-model-loading-ram-optimization": "safetensors checkpoints are memory-mapped",
    "--disable-safe-unpickle": "pickle checkpoints are always loaded with weights_only",
    "--disable-nan-check": "the NaN check always runs, so a black image is never returned silently",
    "--use-ipex": "Intel XPU is not supported",
    # attention optimisations
    "--xformers": _ATTENTION,
    "--force-enable-xformers": _ATTENTION,
    "--xformers-flash-attention": _ATTENTION,
    "--opt-split-attention": _ATTENTION,
    "--opt-split-attention-v1": _ATTENTION,
    "--opt-split-attention-invokeai": _ATTENTION,
    "--opt-sub-quad-attention": _ATTENTION,
    "--sub-quad-q-chunk-size": _ATTENTION,
    "--sub-quad-kv-chunk-size": _ATTENTION,
    "--sub-quad-chunk-threshold": _ATTENTION,
    "--opt-sdp-attention": _ATTENTION,
    "--opt-sdp-no-mem-attention": _ATTENTION,
    "--disable-opt-split-attention": _ATTENTION,
    # features this backend does not have
    "--gfpgan-dir": "A1111 1.10 does not read it either; GFPGAN's weights come from --gfpgan-models-path",
    "--gfpgan-model": "A1111 1.10 does not read it either; GFPGAN's weights come from --gfpgan-models-path",
    "--bsrgan-models-path": "there is no BSRGAN upscaler (" + _NOOP_IN_A1111 + ")",
    "--ldsr-models-path": "the LDSR upscaler is not supported",
    "--clip-models-path": "there is no CLIP interrogator here",
    "--hypernetwork-dir": "hypernetworks there are only listed (Extra networks), never applied",
    "--textual-inversion-templates-dir": "there is no textual inversion training here",
    # serving and UI
    "--share": "no Gradio share tunnel (the app works offline)",
    "--ngrok": "no ngrok tunnel (the app works offline)",
    "--ngrok-options": "no ngrok tunnel (the app works offline)",
    "--autolaunch": "no browser is opened",
    "--gradio-debug": "Gradio's debug mode is not used",
    "--no-gradio-queue": "the UI always goes through the generation queue",
    "--disable-tls-verify": "the server makes no TLS request to itself, so self-signed certificates already work",
    "--use-textbox-seed": "the seed field is always a number box",
    "--disable-console-progressbars": "not implemented yet: the console progress bar always shows",
    "--no-prompt-history": "no params.txt prompt history is written",
    # flags A1111 1.10 itself ignores
    "--max-batch-count": _NOOP_IN_A1111,
    "--always-batch-cond-uncond": _NOOP_IN_A1111,
    "--unload-gfpgan": _NOOP_IN_A1111,
    "--ngrok-region": _NOOP_IN_A1111,
    "--deepdanbooru": _NOOP_IN_A1111,
    "--show-negative-prompt": _NOOP_IN_A1111,
    "--gradio-img2img-tool": _NOOP_IN_A1111,
    "--gradio-inpaint-tool": _NOOP_IN_A1111,
    "--gradio-queue": _NOOP_IN_A1111,
    "--add-stop-route": _NOOP_IN_A1111,
    "--enable-console-prompts": _NOOP_IN_A1111 + " (the enable_console_prompts setting is read)",
    "--no-progressbar-hiding": "the progress bar is never hidden",
    "--administrator": _NOOP_IN_A1111,
}


def json_value(text: str) -> object:
    """A1111's json.loads type (--ngrok-options), named so that argparse's error says "invalid json value"."""
    return json.loads(text)


json_value.__name__ = "json"


def normalized_filepath(filepath: str) -> str:
    """A1111's type for path flags: absolute against the working directory (symlinks kept)."""
    return str(Path(filepath).absolute())


@dataclass(frozen=True)
class Roots:
    """The folders A1111's path defaults hang from: `data` and `models` as given on the command line
    (a relative `--data-dir` stays relative here, as in A1111, and is taken against the working
    directory wherever it is used), `script` the webui folder."""
    script: str
    data: str
    models: str

    @classmethod
    def from_args(cls, args: Sequence[str]) -> "Roots":
        pre = argparse.ArgumentParser(add_help=False)
        pre.add_argument("--data-dir", type=str, default=str(SCRIPT_PATH))
        pre.add_argument("--models-dir", type=str, default=None)
        known, _unknown = pre.parse_known_args(list(args))
        return cls(str(SCRIPT_PATH), known.data_dir, known.models_dir or os.path.join(known.data_dir, "models"))


# models/<folder> defaults, by dest (A1111's folder names)
MODEL_FOLDERS: dict[str, str] = {
    "hypernetwork_dir": "hypernetworks",
    "codeformer_models_path": "Codeformer",
    "gfpgan_models_path": "GFPGAN",
    "esrgan_models_path": "ESRGAN",
    "bsrgan_models_path": "BSRGAN",
    "realesrgan_models_path": "RealESRGAN",
    "dat_models_path": "DAT",
    "ldsr_models_path": "LDSR",
    "lora_dir": "Lora",
    "lyco_dir_backcompat": "LyCORIS",
    "scunet_models_path": "ScuNET",
    "swinir_models_path": "SwinIR",
}


def derived_defaults(roots: Roots) -> dict[str, object]:
    """The defaults A1111 computes from where things are (dest -> default, before argparse's type
    conversion, which argparse applies to string defaults as A1111 relies on)."""
    out: dict[str, object] = {
        "data_dir": roots.script,
        "config": os.path.join(roots.script, "configs", "v1-inference.yaml"),
        "ckpt": os.path.join(roots.script, "model.ckpt"),
        "textual_inversion_templates_dir": os.path.join(roots.script, "textual_inversion_templates"),
        "localizations_dir": os.path.join(roots.script, "localizations"),
        "gfpgan_dir": "./src/gfpgan" if os.path.exists("./src/gfpgan") else "./GFPGAN",
        "embeddings_dir": os.path.join(roots.data, "embeddings"),
        "ui_config_file": os.path.join(roots.data, "ui-config.json"),
        "ui_settings_file": os.path.join(roots.data, "config.json"),
        "gradio_allowed_path": [roots.data],
    }
    out.update({dest: os.path.join(roots.models, folder) for dest, folder in MODEL_FOLDERS.items()})
    return out


def _launcher(add) -> None:
    add("-f", action='store_true', help=argparse.SUPPRESS)
    add("--update-all-extensions", action='store_true', help="launch.py argument: download updates for all extensions when starting the program")
    add("--skip-python-version-check", action='store_true', help="launch.py argument: do not check python version")
    add("--skip-torch-cuda-test", action='store_true', help="launch.py argument: do not check if CUDA is able to work properly")
    add("--reinstall-xformers", action='store_true', help="launch.py argument: install the appropriate version of xformers even if you have some version already installed")
    add("--reinstall-torch", action='store_true', help="launch.py argument: install the appropriate version of torch even if you have some version already installed")
    add("--update-check", action='store_true', help="launch.py argument: check for updates at startup")
    add("--test-server", action='store_true', help="launch.py argument: configure server for testing")
    add("--log-startup", action='store_true', help="launch.py argument: print a detailed log of what's happening at startup")
    add("--skip-prepare-environment", action='store_true', help="launch.py argument: skip all environment preparation")
    add("--skip-install", action='store_true', help="launch.py argument: skip installation of packages")
    add("--dump-sysinfo", action='store_true', help="launch.py argument: dump limited sysinfo file (without information about extensions, options) to disk and quit")
    add("--loglevel", type=str, help="log level; one of: CRITICAL, ERROR, WARNING, INFO, DEBUG", default=None)
    add("--do-not-download-clip", action='store_true', help="do not download CLIP model even if it's not included in the checkpoint")


def _paths(add) -> None:
    add("--data-dir", type=normalized_filepath, help="base path where all user data is stored")
    add("--models-dir", type=normalized_filepath, default=None, help="base path where models are stored; overrides --data-dir")
    add("--config", type=normalized_filepath, help="path to config which constructs model")
    add("--ckpt", type=normalized_filepath, help="path to checkpoint of stable diffusion model; if specified, this checkpoint will be added to the list of checkpoints and loaded")
    add("--ckpt-dir", type=normalized_filepath, default=None, help="Path to directory with stable diffusion checkpoints")
    add("--vae-dir", type=normalized_filepath, default=None, help="Path to directory with VAE files")
    add("--gfpgan-dir", type=normalized_filepath, help="GFPGAN directory")
    add("--gfpgan-model", type=normalized_filepath, help="GFPGAN model file name", default=None)
    add("--embeddings-dir", type=normalized_filepath, help="embeddings directory for textual inversion (default: embeddings)")
    add("--textual-inversion-templates-dir", type=normalized_filepath, help="directory with textual inversion templates")
    add("--hypernetwork-dir", type=normalized_filepath, help="hypernetwork directory")
    add("--localizations-dir", type=normalized_filepath, help="localizations directory")
    add("--codeformer-models-path", type=normalized_filepath, help="Path to directory with codeformer model file(s).")
    add("--gfpgan-models-path", type=normalized_filepath, help="Path to directory with GFPGAN model file(s).")
    add("--esrgan-models-path", type=normalized_filepath, help="Path to directory with ESRGAN model file(s).")
    add("--bsrgan-models-path", type=normalized_filepath, help="Path to directory with BSRGAN model file(s).")
    add("--realesrgan-models-path", type=normalized_filepath, help="Path to directory with RealESRGAN model file(s).")
    add("--dat-models-path", type=normalized_filepath, help="Path to directory with DAT model file(s).")
    add("--clip-models-path", type=normalized_filepath, help="Path to directory with CLIP model file(s).", default=None)
    add("--vae-path", type=normalized_filepath, help='Checkpoint to use as VAE; setting this argument disables all settings related to VAE', default=None)
    add("--ui-config-file", type=str, help="filename to use for ui configuration")
    add("--ui-settings-file", type=str, help="filename to use for ui settings")
    add("--styles-file", type=str, action='append', help="path or wildcard path of styles files, allow multiple entries.", default=[])


def _builtin_extensions(add) -> None:
    """The flags of A1111's built-in extensions (their preload.py), which are part of the app here."""
    add("--ldsr-models-path", type=str, help="Path to directory with LDSR model file(s).")
    add("--lora-dir", type=normalized_filepath, help="Path to directory with Lora networks.")
    add("--lyco-dir-backcompat", type=normalized_filepath, help="Path to directory with LyCORIS networks (for backawards compatibility; can also use --lyco-dir).")
    add("--scunet-models-path", type=str, help="Path to directory with ScuNET model file(s).")
    add("--swinir-models-path", type=str, help="Path to directory with SwinIR model file(s).")


def _device(add) -> None:
    add("--no-half", action='store_true', help="do not switch the model to 16-bit floats")
    add("--no-half-vae", action='store_true', help="do not switch the VAE model to 16-bit floats")
    add("--medvram", action='store_true', help="enable stable diffusion model optimizations for sacrificing a little speed for low VRM usage")
    add("--medvram-sdxl", action='store_true', help="enable --medvram optimization just for SDXL models")
    add("--lowvram", action='store_true', help="enable stable diffusion model optimizations for sacrificing a lot of speed for very low VRM usage")
    add("--lowram", action='store_true', help="load stable diffusion checkpoint weights to VRAM instead of RAM")
    add("--precision", type=str, help="evaluate at this precision", choices=["full", "half", "autocast"], default="autocast")
    add("--upcast-sampling", action='store_true', help="upcast sampling. No effect with --no-half. Usually produces similar results to --no-half with better performance while using less memory.")
    add("--disable-nan-check", action='store_true', help="do not check if produced images/latent spaces have nans; useful for running without a checkpoint in CI")
    add("--use-cpu", nargs='+', help="use CPU as torch device for specified modules", default=[], type=str.lower)
    add("--use-ipex", action="store_true", help="use Intel XPU as torch device")
    add("--disable-model-loading-ram-optimization", action='store_true', help="disable an optimization that reduces RAM use when loading a model")
    add("--opt-channelslast", action='store_true', help="change memory type for stable diffusion to channels last")
    add("--disable-safe-unpickle", action='store_true', help="disable checking pytorch models for malicious code", default=False)
    add("--device-id", type=str, help="Select the default CUDA device to use (export CUDA_VISIBLE_DEVICES=0,1,etc might be needed before)", default=None)
    add("--no-hashing", action='store_true', help="disable sha256 hashing of checkpoints to help loading performance", default=False)
    add("--no-download-sd-model", action='store_true', help="don't download SD1.5 model even if no model is found in --ckpt-dir", default=False)
    add("--skip-version-check", action='store_true', help="Do not check versions of torch and xformers")


def _attention(add) -> None:
    add("--xformers", action='store_true', help="enable xformers for cross attention layers")
    add("--force-enable-xformers", action='store_true', help="enable xformers for cross attention layers regardless of whether the checking code thinks you can run it; do not make bug reports if this fails to work")
    add("--xformers-flash-attention", action='store_true', help="enable xformers with Flash Attention to improve reproducibility (supported for SD2.x or variant only)")
    add("--opt-split-attention", action='store_true', help="prefer Doggettx's cross-attention layer optimization for automatic choice of optimization")
    add("--opt-sub-quad-attention", action='store_true', help="prefer memory efficient sub-quadratic cross-attention layer optimization for automatic choice of optimization")
    add("--sub-quad-q-chunk-size", type=int, help="query chunk size for the sub-quadratic cross-attention layer optimization to use", default=1024)
    add("--sub-quad-kv-chunk-size", type=int, help="kv chunk size for the sub-quadratic cross-attention layer optimization to use", default=None)
    add("--sub-quad-chunk-threshold", type=int, help="the percentage of VRAM threshold for the sub-quadratic cross-attention layer optimization to use chunking", default=None)
    add("--opt-split-attention-invokeai", action='store_true', help="prefer InvokeAI's cross-attention layer optimization for automatic choice of optimization")
    add("--opt-split-attention-v1", action='store_true', help="prefer older version of split attention optimization for automatic choice of optimization")
    add("--opt-sdp-attention", action='store_true', help="prefer scaled dot product cross-attention layer optimization for automatic choice of optimization; requires PyTorch 2.*")
    add("--opt-sdp-no-mem-attention", action='store_true', help="prefer scaled dot product cross-attention layer optimization without memory efficient attention for automatic choice of optimization, makes image generation deterministic; requires PyTorch 2.*")
    add("--disable-opt-split-attention", action='store_true', help="prefer no cross-attention layer optimization for automatic choice of optimization")


def _serving(add) -> None:
    add("--share", action='store_true', help="use share=True for gradio and make the UI accessible through their site")
    add("--ngrok", type=str, help="ngrok authtoken, alternative to gradio --share", default=None)
    add("--ngrok-region", type=str, help="does not do anything.", default="")
    add("--ngrok-options", type=json_value, help='The options to pass to ngrok in JSON format, e.g.: \'{"authtoken_from_env":true, "basic_auth":"user:password", "oauth_provider":"google", "oauth_allow_emails":"user@asdf.com"}\'', default=dict())
    add("--listen", action='store_true', help="launch gradio with 0.0.0.0 as server name, allowing to respond to network requests")
    add("--port", type=int, help="launch gradio with given server port, you need root/admin rights for ports < 1024, defaults to 7860 if available", default=None)
    add("--server-name", type=str, help="Sets hostname of server", default=None)
    add("--subpath", type=str, help='customize the subpath for gradio, use with reverse proxy')
    add("--tls-keyfile", type=str, help="Partially enables TLS, requires --tls-certfile to fully function", default=None)
    add("--tls-certfile", type=str, help="Partially enables TLS, requires --tls-keyfile to fully function", default=None)
    add("--disable-tls-verify", action="store_false", help="When passed, enables the use of self-signed certificates.", default=None)
    add("--timeout-keep-alive", type=int, default=30, help='set timeout_keep_alive for uvicorn')
    add("--gradio-debug", action='store_true', help="launch gradio with --debug option")
    add("--gradio-auth", type=str, help='set gradio authentication like "username:password"; or comma-delimit multiple like "u1:p1,u2:p2,u3:p3"', default=None)
    add("--gradio-auth-path", type=normalized_filepath, help='set gradio authentication file path ex. "/path/to/auth/file" same auth format as --gradio-auth', default=None)
    add("--gradio-allowed-path", action='append', help="add path to gradio's allowed_paths, make it possible to serve files from it")
    add("--gradio-queue", action='store_true', help="does not do anything", default=True)
    add("--no-gradio-queue", action='store_true', help="Disables gradio queue; causes the webpage to use http requests instead of websockets; was the default in earlier versions")
    add("--autolaunch", action='store_true', help="open the webui URL in the system's default browser upon launch", default=False)
    add("--api", action='store_true', help="use api=True to launch the API together with the webui (use --nowebui instead for only the API)")
    add("--api-auth", type=str, help='Set authentication for API like "username:password"; or comma-delimit multiple like "u1:p1,u2:p2,u3:p3"', default=None)
    add("--api-log", action='store_true', help="use api-log=True to enable logging of all API requests")
    add("--nowebui", action='store_true', help="use api=True to launch the API instead of the webui")
    add("--api-server-stop", action='store_true', help='enable server stop/restart/kill via api')
    add("--add-stop-route", action='store_true', help='does not do anything')
    add("--cors-allow-origins", type=str, help="Allowed CORS origin(s) in the form of a comma-separated list (no spaces)", default=None)
    add("--cors-allow-origins-regex", type=str, help="Allowed CORS origin(s) in the form of a single regular expression", default=None)
    add("--enable-insecure-extension-access", action='store_true', help="enable extensions tab regardless of other options")
    add("--administrator", action='store_true', help="Administrator rights", default=False)


def _behaviour(add) -> None:
    add("--no-progressbar-hiding", action='store_true', help="do not hide progressbar in gradio UI (we hide it because it slows down ML if you have hardware acceleration in browser)")
    add("--max-batch-count", type=int, default=16, help="does not do anything")
    add("--allow-code", action='store_true', help="allow custom script execution from webui")
    add("--always-batch-cond-uncond", action='store_true', help="does not do anything")
    add("--unload-gfpgan", action='store_true', help="does not do anything.")
    add("--deepdanbooru", action='store_true', help="does not do anything")
    add("--show-negative-prompt", action='store_true', help="does not do anything", default=False)
    add("--hide-ui-dir-config", action='store_true', help="hide directory configuration from webui", default=False)
    add("--freeze-settings", action='store_true', help="disable editing of all settings globally", default=False)
    add("--freeze-settings-in-sections", type=str, help='disable editing settings in specific sections of the settings page by specifying a comma-delimited list such like "saving-images,upscaling". The list of setting names can be found in the modules/shared_options.py file', default=None)
    add("--freeze-specific-settings", type=str, help='disable editing of individual settings by specifying a comma-delimited list like "samples_save,samples_format". The list of setting names can be found in the config.json file', default=None)
    add("--gradio-img2img-tool", type=str, help='does not do anything')
    add("--gradio-inpaint-tool", type=str, help="does not do anything")
    add("--theme", type=str, help="launches the UI with light or dark theme", default=None)
    add("--use-textbox-seed", action='store_true', help="use textbox for seeds in UI (no up/down, but possible to input long seeds)", default=False)
    add("--disable-console-progressbars", action='store_true', help="do not output progressbars to console", default=False)
    add("--enable-console-prompts", action='store_true', help="does not do anything", default=False)
    add("--ui-debug-mode", action='store_true', help="Don't load model to quickly launch UI")
    add("--disable-all-extensions", action='store_true', help="prevent all extensions from running regardless of any other settings", default=False)
    add("--disable-extra-extensions", action='store_true', help="prevent all extensions except built-in from running regardless of any other settings", default=False)
    add("--skip-load-model-at-start", action='store_true', help="if load a model at web start, only take effect when --nowebui")
    add("--unix-filenames-sanitization", action='store_true', help="allow any symbols except '/' in filenames. May conflict with your browser and file system")
    add("--filenames-max-length", type=int, default=128, help='maximal length of filenames of saved images. If you override it, it can conflict with your file system')
    add("--no-prompt-history", action='store_true', help="disable read prompt from last generation feature; settings this argument will not create '--data_path/params.txt' file")


def _not_a1111(add) -> None:
    """Flags of our own (documented in docs/compatibility.md as not A1111's)."""
    add("--exit", action="store_true", help="prepare the environment (extensions' install.py) and exit")
    add("--compile", action="store_true",
        help="torch.compile the UNet and VAE decoder when a model loads (CUDA graphs on a GPU); not an A1111 flag")
    add("--compile-mode", type=str, default="auto",
        choices=["auto", "default", "reduce-overhead", "max-autotune", "max-autotune-no-cudagraphs"],
        help="torch.compile mode for --compile; auto = reduce-overhead (CUDA graphs) on a GPU, default on the CPU")
    add("--max-image-pixels", type=int, default=4096 * 4096,
        help="largest width*height a request may ask for (not an A1111 flag)")
    # a cluster of workers behind this process (docs/scale-out.md); needs the `cluster` extra
    add("--cluster-workers", type=int, default=0, metavar="N",
        help="run generation on N worker processes on this machine (a Ray head inside the app, on loopback); "
             "each gets one GPU, or an equal share of the CPU threads; not an A1111 flag")
    add("--cluster", type=str, default=None, metavar="ADDRESS",
        help="run generation on the workers of an existing Ray cluster (ray start --head ...); with "
             "--cluster-workers N, N of them (default: one per GPU); not an A1111 flag")
    add("--cluster-worker-threads", type=int, default=0, metavar="T",
        help="CPU threads of each cluster worker on a machine without GPUs (default: the cores shared equally)")
    add("--cluster-queue-limit", type=int, default=64,
        help="jobs that may wait for a cluster worker; more are answered 503 with Retry-After")
    add("--cluster-retries", type=int, default=2,
        help="times a job whose worker died is sent again to another worker (same seed, same pixels)")
    add("--cluster-timeout", type=float, default=300, metavar="S",
        help="seconds a job may wait while no cluster worker is alive (all dead or restarting) before it is "
             "answered 503; 0 waits for ever")


GROUPS = (_launcher, _paths, _builtin_extensions, _device, _attention, _serving, _behaviour, _not_a1111)


def add_all(parser: argparse.ArgumentParser, roots: Roots) -> None:
    """Add every flag to `parser`, with the path defaults for `roots`; an inert flag's help says why."""
    for group in GROUPS:
        group(parser.add_argument)
    parser.set_defaults(**derived_defaults(roots))
    for action in parser._actions:
        why = next((INERT_FLAGS[o] for o in action.option_strings if o in INERT_FLAGS), None)
        if why and action.help != argparse.SUPPRESS:
            action.help = f"{action.help} [no effect here: {why}]"
