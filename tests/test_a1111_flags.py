"""Every flag of A1111 1.10 (modules/cmd_args.py and the built-in extensions' preload.py) is accepted
with A1111's type and default; none exits 2; the inert ones warn once each, at start."""
from __future__ import annotations

import argparse
import json
import logging
import os
import subprocess
import sys
from pathlib import Path

import pytest

from sdwebui.interfaces.cli import flag_groups, flags as cmd_args, launcher
from sdwebui.services import paths, runtime
from tests.ext_helpers import ext_env, make_ext  # noqa: F401

ROOT = Path(__file__).resolve().parent.parent

# A1111 1.10.1's flags, as data, by the kind of value they take
STORE_TRUE = [
    "-f", "--update-all-extensions", "--skip-python-version-check", "--skip-torch-cuda-test", "--reinstall-xformers",
    "--reinstall-torch", "--update-check", "--test-server", "--log-startup", "--skip-prepare-environment",
    "--skip-install", "--dump-sysinfo", "--do-not-download-clip", "--no-half", "--no-half-vae",
    "--no-progressbar-hiding", "--allow-code", "--medvram", "--medvram-sdxl", "--lowvram", "--lowram",
    "--always-batch-cond-uncond", "--unload-gfpgan", "--upcast-sampling", "--share",
    "--enable-insecure-extension-access", "--xformers", "--force-enable-xformers", "--xformers-flash-attention",
    "--deepdanbooru", "--opt-split-attention", "--opt-sub-quad-attention", "--opt-split-attention-invokeai",
    "--opt-split-attention-v1", "--opt-sdp-attention", "--opt-sdp-no-mem-attention", "--disable-opt-split-attention",
    "--disable-nan-check", "--use-ipex", "--disable-model-loading-ram-optimization", "--listen",
    "--show-negative-prompt", "--hide-ui-dir-config", "--freeze-settings", "--gradio-debug", "--opt-channelslast",
    "--autolaunch", "--use-textbox-seed", "--disable-console-progressbars", "--enable-console-prompts",
    "--disable-safe-unpickle", "--api", "--api-log", "--nowebui", "--ui-debug-mode", "--administrator",
    "--gradio-queue", "--no-gradio-queue", "--skip-version-check", "--no-hashing", "--no-download-sd-model",
    "--add-stop-route", "--api-server-stop", "--disable-all-extensions", "--disable-extra-extensions",
    "--skip-load-model-at-start", "--unix-filenames-sanitization", "--no-prompt-history",
]
STORE_FALSE = ["--disable-tls-verify"]   # A1111: store_false with default None
# paths made absolute against the working directory (A1111's normalized_filepath)
ABSOLUTE_PATHS = [
    "--data-dir", "--models-dir", "--config", "--ckpt", "--ckpt-dir", "--vae-dir", "--gfpgan-dir", "--gfpgan-model",
    "--embeddings-dir", "--textual-inversion-templates-dir", "--hypernetwork-dir", "--localizations-dir",
    "--codeformer-models-path", "--gfpgan-models-path", "--esrgan-models-path", "--bsrgan-models-path",
    "--realesrgan-models-path", "--dat-models-path", "--clip-models-path", "--gradio-auth-path", "--vae-path",
    "--lora-dir", "--lyco-dir-backcompat",
]
# paths kept as given (A1111's type=str)
PLAIN_PATHS = ["--ui-config-file", "--ui-settings-file", "--ldsr-models-path", "--scunet-models-path",
               "--swinir-models-path"]
STRINGS = [
    "--loglevel", "--ngrok", "--ngrok-region", "--freeze-settings-in-sections", "--freeze-specific-settings",
    "--gradio-auth", "--gradio-img2img-tool", "--gradio-inpaint-tool", "--theme", "--api-auth", "--device-id",
    "--cors-allow-origins", "--cors-allow-origins-regex", "--tls-keyfile", "--tls-certfile", "--server-name",
    "--subpath",
]
INTS = ["--max-batch-count", "--sub-quad-q-chunk-size", "--sub-quad-kv-chunk-size", "--sub-quad-chunk-threshold",
        "--port", "--timeout-keep-alive", "--filenames-max-length"]
# flag -> (argv value, parsed value)
SPECIAL = {
    "--precision": ("full", "full"),
    "--ngrok-options": ('{"basic_auth": "u:p"}', {"basic_auth": "u:p"}),
    "--use-cpu": ("SD", ["sd"]),
    "--styles-file": ("my-styles.csv", ["my-styles.csv"]),
}
A1111_FLAGS = STORE_TRUE + STORE_FALSE + ABSOLUTE_PATHS + PLAIN_PATHS + STRINGS + INTS + [*SPECIAL, "--gradio-allowed-path"]


def dest(flag: str) -> str:
    return flag.lstrip("-").replace("-", "_")


def argv_and_value(flag: str, cwd: Path) -> tuple[list[str], object]:
    if flag in STORE_TRUE:
        return [flag], True
    if flag in STORE_FALSE:
        return [flag], False
    if flag in ABSOLUTE_PATHS:
        return [flag, "some/rel"], str(cwd / "some" / "rel")
    if flag in PLAIN_PATHS:
        return [flag, "some/rel"], "some/rel"
    if flag in STRINGS:
        return [flag, "x:y"], "x:y"
    if flag in INTS:
        return [flag, "5"], 5
    if flag == "--gradio-allowed-path":
        return [flag, "/srv/x"], [str(ROOT), "/srv/x"]
    value, parsed = SPECIAL[flag]
    return [flag, value], parsed


def parse(*argv: str) -> argparse.Namespace:
    return cmd_args.parse_args(list(argv), use_env=False)


def test_the_list_is_a1111s_whole_list():
    assert len(A1111_FLAGS) == len(set(A1111_FLAGS)) == 126
    options = {o for a in cmd_args.build_parser()._actions for o in a.option_strings}
    assert set(A1111_FLAGS) <= options


@pytest.mark.parametrize("flag", A1111_FLAGS)
def test_each_flag_parses_to_a1111s_value(flag, monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    argv, value = argv_and_value(flag, tmp_path)
    ns = parse(*argv)     # an argparse error would raise SystemExit(2)
    assert getattr(ns, dest(flag)) == value


def test_all_flags_at_once_and_none_exits_2(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    argv = [a for flag in A1111_FLAGS for a in argv_and_value(flag, tmp_path)[0]]
    ns = parse(*argv)
    assert ns.xformers and ns.lyco_dir_backcompat == str(tmp_path / "some" / "rel")


def test_lyco_dir_abbreviation_as_a1111_help_says():
    assert parse("--lyco-dir", "/x/ly").lyco_dir_backcompat == "/x/ly"


def test_a1111_defaults(tmp_path):
    data = tmp_path / "d"
    ns = parse("--data-dir", str(data))
    models = data / "models"
    assert ns.data_dir == str(data) and ns.models_dir is None
    assert ns.embeddings_dir == str(data / "embeddings")
    assert ns.ui_settings_file == str(data / "config.json") and ns.ui_config_file == str(data / "ui-config.json")
    assert ns.gradio_allowed_path == [str(data)] and ns.styles_file == [str(data / "styles.csv")]
    for d, folder in flag_groups.MODEL_FOLDERS.items():
        assert getattr(ns, d) == str(models / folder), d
    assert ns.hypernetwork_dir == str(models / "hypernetworks") and ns.lora_dir == str(models / "Lora")
    assert ns.ckpt == str(ROOT / "model.ckpt") and ns.config == str(ROOT / "configs" / "v1-inference.yaml")
    assert ns.textual_inversion_templates_dir == str(ROOT / "textual_inversion_templates")
    assert ns.localizations_dir == str(ROOT / "localizations")
    assert (ns.ckpt_dir, ns.vae_dir, ns.vae_path, ns.clip_models_path, ns.gfpgan_model) == (None,) * 5
    assert ns.precision == "autocast" and ns.use_cpu == [] and ns.ngrok_options == {} and ns.ngrok_region == ""
    assert ns.disable_tls_verify is None and ns.gradio_queue is True
    assert (ns.sub_quad_q_chunk_size, ns.max_batch_count, ns.timeout_keep_alive, ns.filenames_max_length) == (1024, 16, 30, 128)
    assert parse().data_dir == str(ROOT)


def test_models_dir_moves_model_defaults(tmp_path):
    ns = parse("--data-dir", str(tmp_path / "d"), "--models-dir", str(tmp_path / "m"))
    assert ns.lora_dir == str(tmp_path / "m" / "Lora") and ns.esrgan_models_path == str(tmp_path / "m" / "ESRGAN")
    assert ns.embeddings_dir == str(tmp_path / "d" / "embeddings")   # data, not models


def test_relative_data_dir_as_a1111(tmp_path, monkeypatch):
    """A1111 keeps a relative --data-dir relative in the str-typed defaults and makes the path-typed
    ones absolute; either way they name the same place, and so do the app's paths."""
    monkeypatch.chdir(tmp_path)
    ns = parse("--data-dir", "rel")
    assert ns.data_dir == str(tmp_path / "rel") and ns.embeddings_dir == str(tmp_path / "rel" / "embeddings")
    assert ns.ui_settings_file == os.path.join("rel", "config.json")
    assert ns.scunet_models_path == os.path.join("rel", "models", "ScuNET")
    p = paths.from_args(ns)
    assert p.config_file == tmp_path / "rel" / "config.json" and p.embeddings == tmp_path / "rel" / "embeddings"
    assert p.upscalers["ScuNET"] == tmp_path / "rel" / "models" / "ScuNET"


def test_flag_defaults_and_app_paths_agree(tmp_path):
    ns = parse("--data-dir", str(tmp_path))
    p = paths.from_args(ns)
    assert (str(p.embeddings), str(p.lora), str(p.lyco), str(p.config_file)) == (
        ns.embeddings_dir, ns.lora_dir, ns.lyco_dir_backcompat, ns.ui_settings_file)
    for name, d in paths.UPSCALER_DIR_FLAGS.items():
        assert str(p.upscalers[name]) == getattr(ns, d)
    assert paths.DEFAULT_CKPT == Path(ns.ckpt) and paths.SCRIPT_PATH == flag_groups.SCRIPT_PATH
    # a namespace without the path values (built by hand) gets the same places
    bare = argparse.Namespace(data_dir=str(tmp_path), models_dir=None, ckpt_dir=None, vae_dir=None)
    assert paths.from_args(bare) == p


def test_moved_upscaler_folder_is_scanned(tmp_path):
    from sdwebui.engine.upscalers import UpscalerRegistry

    moved = tmp_path / "elsewhere"
    moved.mkdir()
    (moved / "4x_test.pth").write_bytes(b"")
    p = paths.from_args(parse("--data-dir", str(tmp_path / "d"), "--esrgan-models-path", str(moved)))
    registry = UpscalerRegistry(p.models, "cpu", None, dirs=p.upscalers)
    assert list(registry._model_files()) == [moved / "4x_test.pth"]


def test_disable_extension_access_computed():
    for argv in (["--share"], ["--listen"], ["--ngrok", "tok"], ["--server-name", "h"]):
        assert parse(*argv).disable_extension_access, argv
        assert not parse(*argv, "--enable-insecure-extension-access").disable_extension_access
    assert not parse().disable_extension_access


def test_gradio_serves_only_the_allowed_paths_given(tmp_path):
    assert cmd_args.user_allowed_paths(parse()) == []
    ns = parse("--data-dir", str(tmp_path), "--gradio-allowed-path", "/srv/a")
    assert ns.gradio_allowed_path == [str(tmp_path), "/srv/a"]
    assert cmd_args.user_allowed_paths(ns) == ["/srv/a"]


def test_every_inert_flag_is_an_a1111_flag_and_says_why_in_help():
    assert set(flag_groups.INERT_FLAGS) <= set(A1111_FLAGS)
    helps = {o: a.help for a in cmd_args.build_parser()._actions for o in a.option_strings}
    for flag, why in flag_groups.INERT_FLAGS.items():
        assert flag == "-f" or helps[flag].endswith(f"[no effect here: {why}]"), flag


def test_inert_flags_warn_once_each(caplog, monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    inert = list(flag_groups.INERT_FLAGS)
    argv = [a for flag in inert for a in argv_and_value(flag, tmp_path)[0]]
    monkeypatch.setenv("COMMANDLINE_ARGS", "--xformers --api")    # given twice: still one line
    with caplog.at_level(logging.WARNING, logger=launcher.logger.name):
        warned = launcher.warn_inert_flags(argv + ["--no-half", "--xformers", "--opt-sdp-attention"])
    assert sorted(warned) == sorted(inert)
    lines = [r.getMessage() for r in caplog.records if r.name == launcher.logger.name]
    assert len(lines) == len(inert)
    for flag, why in flag_groups.INERT_FLAGS.items():
        assert sum(line.startswith(f"{flag} has no effect here: ") for line in lines) == 1, flag
        assert f"{flag} has no effect here: {why}" in lines


def test_acting_flags_do_not_warn():
    assert cmd_args.inert_flags_given(["--api", "--port", "7898", "--no-half-vae", "--medvram", "--lora-dir", "/x"],
                                      cmd_args.build_parser()) == []
    # --flag=value and unambiguous abbreviations count, values do not; argv order, once each
    assert cmd_args.inert_flags_given(["--ngrok-region=eu", "--xformers-f", "--gradio-auth", "share:x", "--port",
                                       "-5", "--ngrok-region", "us", "--theme", "dark"],
                                      cmd_args.build_parser()) == [
        ("--ngrok-region", flag_groups.INERT_FLAGS["--ngrok-region"]),
        ("--xformers-flash-attention", flag_groups.INERT_FLAGS["--xformers-flash-attention"])]


def test_a1111_module_names_expose_parser_and_cmd_opts():
    from modules import cmd_args as a1111_cmd_args, shared, shared_cmd_options

    assert shared_cmd_options.parser is a1111_cmd_args.parser is cmd_args.get_parser()
    assert shared_cmd_options.cmd_opts is shared.cmd_opts
    assert shared_cmd_options.cmd_opts.embeddings_dir.endswith("embeddings")
    assert a1111_cmd_args.normalized_filepath("x") == str(Path("x").absolute())
    assert shared_cmd_options.models_path == str(shared.paths.models)


def test_launch_parser_is_cmd_args_parser(tmp_path):
    """The parser the launch parses with is `modules.cmd_args.parser`, and a preload.py's flag on it works."""
    from modules import cmd_args as a1111_cmd_args

    seen = []

    def preload(parser, _early):
        seen.append(parser)
        a1111_cmd_args.parser.add_argument("--my-ext-flag", type=int, default=3)

    ns = cmd_args.parse_args_in_stages(["--data-dir", str(tmp_path), "--my-ext-flag", "4"], use_env=False,
                                       hooks=(preload,))
    assert ns.my_ext_flag == 4 and seen == [a1111_cmd_args.parser]


def test_launch_with_inert_flags_starts_and_warns_once_each(tmp_path):
    """As a user would: webui-user.sh's COMMANDLINE_ARGS plus the command line; --exit stops after
    the flags (and the extensions' install.py, skipped here), where the server would start."""
    env = {"PATH": os.environ["PATH"], "HF_HUB_OFFLINE": "1",
           "COMMANDLINE_ARGS": "--xformers --opt-sdp-attention --medvram --gradio-debug"}
    r = subprocess.run([sys.executable, "launch.py", "--api", "--port", "7898", "--no-half-vae", "--xformers",
                        "--lowram", "--hypernetwork-dir", "hn", "--data-dir", str(tmp_path), "--skip-install", "--exit"],
                       cwd=ROOT, capture_output=True, text=True, env=env, timeout=120)
    assert r.returncode == 0, r.stderr
    for flag in ("--xformers", "--opt-sdp-attention", "--gradio-debug", "--lowram", "--hypernetwork-dir"):
        assert r.stderr.count(f"{flag} has no effect here:") == 1, (flag, r.stderr)
    assert "--medvram has no" not in r.stderr and "--no-half-vae has no" not in r.stderr


def test_preload_sees_the_data_dir_of_the_command_line(ext_env, monkeypatch):
    """A built-in-style preload.py takes its default from `modules.paths.models_path`, which follows
    --data-dir at preload time, as in A1111 (the app has no flags yet then)."""
    make_ext(ext_env.user, "pre", {"preload.py": """
        import os
        from modules import paths

        def preload(parser):
            parser.add_argument("--pre-models", default=os.path.join(paths.models_path, "Pre"))
    """})
    monkeypatch.setattr(runtime, "cmd_opts", None)
    monkeypatch.setattr(runtime, "paths", None)
    ns = launcher.parse_args_with_extensions(["--data-dir", str(ext_env.data), "--skip-install"], use_env=False)
    assert ns.pre_models == str(ext_env.data / "models" / "Pre")


@pytest.mark.parametrize("argv, message", [
    (["--ngrok-options", "notjson"], "argument --ngrok-options: invalid json value: 'notjson'"),
    (["--port", "x"], "argument --port: invalid int value: 'x'"),
    (["--precision", "fp8"], "argument --precision: invalid choice: 'fp8'"),
])
def test_a_bad_value_exits_2_naming_the_flag(argv, message, capsys):
    with pytest.raises(SystemExit) as exc:
        parse(*argv)
    err = capsys.readouterr().err
    assert exc.value.code == 2 and message in err and "usage:" not in err


def test_settings_and_ui_flags_act_so_none_is_inert():
    for flag in ("--hide-ui-dir-config", "--freeze-settings", "--freeze-settings-in-sections",
                 "--freeze-specific-settings", "--localizations-dir", "--ui-config-file"):
        assert flag not in flag_groups.INERT_FLAGS, flag


def test_shared_parser_and_a1111_model_file_names():
    from modules import cmd_args as a1111_cmd_args, paths as a1111_paths, shared

    assert shared.parser is a1111_cmd_args.parser is cmd_args.get_parser()
    for module in (shared, a1111_paths):
        assert module.sd_model_file == module.default_sd_model_file == str(ROOT / "model.ckpt")


def test_shared_before_the_app_parses_the_process_command_line(monkeypatch, tmp_path):
    """As A1111's shared_cmd_options: a script that imports modules.shared gets its own command line;
    another program's arguments (pytest's) are ignored, never abbreviated, never exit."""
    from modules import shared

    monkeypatch.setattr(runtime, "cmd_opts", None)
    monkeypatch.setattr(runtime, "paths", None)
    monkeypatch.setattr(sys, "argv", ["my_script.py", "-q", "--co", "tests/x.py", "--port", "7999",
                                      "--hide-ui-dir-config", "--data-dir", str(tmp_path), "--help"])
    ns = shared.cmd_opts
    assert (ns.port, ns.hide_ui_dir_config, ns.data_dir) == (7999, True, str(tmp_path))
    assert shared.hide_dirs == {"visible": False} and shared.data_path == str(tmp_path)
    monkeypatch.setattr(runtime, "cmd_opts", None)
    monkeypatch.setattr(sys, "argv", ["my_script.py", "--port", "not-a-number"])
    assert shared.cmd_opts.port == 7860      # a bad value: the defaults, and the program goes on


def test_ui_config_file_gives_the_tabs_their_defaults(api, tmp_path, monkeypatch):
    """--ui-config-file: saved values fill the fields when the page is built, new fields are
    written to it, and Settings > Defaults writes the values changed on the page."""
    from sdwebui.interfaces.ui.app import create_ui

    path = tmp_path / "my-ui-config.json"
    path.write_text(json.dumps({"txt2img/Sampling steps/value": 33}), encoding="utf-8")
    monkeypatch.setattr(runtime.cmd_opts, "ui_config_file", str(path))
    demo = create_ui()
    comps = {b.elem_id: b for b in demo.blocks.values() if getattr(b, "elem_id", None)}
    assert comps["txt2img_steps"].value == 33
    saved = json.loads(path.read_text(encoding="utf-8"))
    assert saved["txt2img/Sampling steps/value"] == 33 and saved["img2img/Sampling steps/value"] == 20
    loadsave = demo.ui_loadsave
    values = [c.value for c in loadsave.component_mapping.values()]
    values[list(loadsave.component_mapping).index("img2img/Sampling steps/value")] = 41
    assert loadsave.ui_apply(*values) == "Wrote 1 changes."
    assert json.loads(path.read_text(encoding="utf-8"))["img2img/Sampling steps/value"] == 41
