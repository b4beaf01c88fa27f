"""Extension discovery and lifecycle: both folders, metadata.ini names/ordering/Requires, the
enabled state (settings and flags), install.py, preload.py, web assets, callback rules, API list."""
from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from sdwebui.interfaces.cli import flags as cmd_args, launcher
from sdwebui.services.extensions import discovery as extensions, installers
from tests.ext_helpers import ext_env, make_ext, make_repo, git  # noqa: F401


def names(exts) -> list[str]:
    return [e.name for e in exts]


def script_names(files) -> list[str]:
    return [f"{f.extension.dirname}/{f.filename}" for f in files]


def test_discovers_both_folders_builtins_first(ext_env):
    make_ext(ext_env.builtin, "zeta-builtin", {"scripts/a.py": ""})
    make_ext(ext_env.user, "beta", {"scripts/b.py": ""})
    make_ext(ext_env.user, "alpha", {"metadata.ini": "[Extension]\nName = Alpha Ext\n"})
    make_ext(ext_env.user, ".hidden")
    (ext_env.user / "not-a-folder.txt").write_text("x")
    exts = extensions.list_extensions()
    assert names(exts) == ["zeta-builtin", "Alpha Ext", "beta"]
    assert [e.is_builtin for e in exts] == [True, False, False]
    alpha = extensions.find("Alpha Ext")
    assert alpha is extensions.find("alpha") is extensions.find("alpha ext")     # folder or canonical name
    assert alpha.dirname == "alpha" and alpha.canonical_name == "alpha ext"
    assert extensions.extensions is not exts or extensions.extensions == exts
    b = extensions.find("beta")
    assert extensions.extension_for_path(b.path / "scripts" / "b.py") is b
    assert extensions.extension_for_path(ext_env.data / "elsewhere.py") is None
    assert b.list_files("scripts", ".PY") == [b.path / "scripts" / "b.py"]
    assert b.list_files("missing", ".py") == []
    # plain folders have no git information, and no git repo around them is consulted
    assert (b.remote, b.branch, b.commit_hash, b.version, b.status) == (None, None, "", "", "")


def test_disabled_list_and_disable_all_modes(ext_env):
    make_ext(ext_env.builtin, "core")
    make_ext(ext_env.user, "one")
    make_ext(ext_env.user, "two")
    ext_env.config.write_text(json.dumps({"disabled_extensions": ["two"], "disable_all_extensions": "none"}))
    ext_env.configure()
    extensions.list_extensions()
    assert not extensions.find("two").enabled
    assert names(extensions.active()) == ["core", "one"]

    ext_env.config.write_text(json.dumps({"disabled_extensions": [], "disable_all_extensions": "extra"}))
    ext_env.configure()
    extensions.list_extensions()
    assert names(extensions.active()) == ["core"]

    ext_env.config.write_text(json.dumps({"disabled_extensions": [], "disable_all_extensions": "all"}))
    ext_env.configure()
    extensions.list_extensions()
    assert extensions.active() == [] and len(extensions.extensions) == 3


@pytest.mark.parametrize("flag, expected", [("--disable-all-extensions", []),
                                            ("--disable-extra-extensions", ["core"])])
def test_disable_flags(ext_env, flag, expected):
    make_ext(ext_env.builtin, "core")
    make_ext(ext_env.user, "one")
    ext_env.configure(flag)
    extensions.list_extensions()
    assert names(extensions.active()) == expected


def test_enabled_state_read_from_config_before_options_load(ext_env):
    make_ext(ext_env.user, "one")
    make_ext(ext_env.user, "two")
    ext_env.config.write_text(json.dumps({"disabled_extensions": ["one"]}))
    ext_env.configure(opts_loaded=False)
    extensions.list_extensions()
    assert names(extensions.active()) == ["two"]


def test_script_order_before_after_and_requires(ext_env):
    make_ext(ext_env.builtin, "base", {"scripts/base.py": ""})
    make_ext(ext_env.user, "aaa", {
        "scripts/first.py": "", "scripts/second.py": "",
        "metadata.ini": "[Extension]\nName = aaa\n[scripts/first.py]\nAfter = zzz\n",
    })
    make_ext(ext_env.user, "mmm", {
        "scripts/m.py": "",
        # Before an extension = before all its scripts; `a|b` = whichever is there
        "metadata.ini": "[scripts/m.py]\nBefore = builtin/base/base.py\nRequires = nothere|zzz\n",
    })
    make_ext(ext_env.user, "needy", {
        "scripts/needs.py": "", "scripts/fine.py": "",
        "metadata.ini": "[scripts/needs.py]\nRequires = missing-ext\n",
    })
    make_ext(ext_env.user, "zzz", {"scripts/z.py": ""})
    extensions.list_extensions()
    order = script_names(extensions.list_script_files())
    assert "needy/needs.py" not in order                      # requirement missing: skipped ...
    needy = extensions.find("needy")
    assert any("missing-ext" in e and "needs.py" in e for e in needy.errors)   # ... and reported
    assert set(order) == {"base/base.py", "aaa/first.py", "aaa/second.py", "mmm/m.py", "needy/fine.py", "zzz/z.py"}
    assert order.index("mmm/m.py") < order.index("base/base.py")
    assert order.index("zzz/z.py") < order.index("aaa/first.py")
    # without rules the order is built-ins then user extensions, alphabetically, files sorted
    assert order.index("aaa/first.py") < order.index("aaa/second.py") < order.index("needy/fine.py")


def test_extension_requires_reported(ext_env):
    make_ext(ext_env.user, "child", {"metadata.ini": "[Extension]\nRequires = parent, ghost\n"})
    make_ext(ext_env.user, "parent")
    ext_env.config.write_text(json.dumps({"disabled_extensions": ["parent"]}))
    ext_env.configure()
    extensions.list_extensions()
    errors = extensions.find("child").errors
    assert any('"parent"' in e and "disabled" in e for e in errors)
    assert any('"ghost"' in e and "not installed" in e for e in errors)


def test_duplicate_canonical_name_keeps_the_first(ext_env):
    make_ext(ext_env.user, "one", {"metadata.ini": "[Extension]\nName = Same\n"})
    make_ext(ext_env.user, "two", {"metadata.ini": "[Extension]\nName = same\n"})
    extensions.list_extensions()
    assert [e.dirname for e in extensions.extensions] == ["one"]
    assert any("same name" in e for e in extensions.extensions[0].errors)


def test_a_users_copy_of_a_built_in_extension_is_not_loaded_and_says_so(ext_env):
    """An A1111 user's clone of sd-webui-controlnet: the built-in one of that name answers for it."""
    make_ext(ext_env.builtin, "sd-webui-controlnet", {"scripts/own.py": ""})
    make_ext(ext_env.user, "sd-webui-controlnet", {"scripts/theirs.py": ""})
    extensions.list_extensions()
    assert [(e.dirname, e.is_builtin) for e in extensions.extensions] == [("sd-webui-controlnet", True)]
    assert any("is built in here" in e and "not loaded" in e for e in extensions.extensions[0].errors)


def test_broken_metadata_is_reported_not_fatal(ext_env):
    make_ext(ext_env.user, "bad", {"metadata.ini": "this is not ini\n[[[\n", "scripts/s.py": ""})
    extensions.list_extensions()
    bad = extensions.find("bad")
    assert bad.name == "bad" and bad.errors and "metadata.ini" in bad.errors[0]
    assert script_names(extensions.list_script_files()) == ["bad/s.py"]


def test_report_error_survives_relisting(ext_env):
    make_ext(ext_env.user, "flaky")
    extensions.list_extensions()
    extensions.find("flaky").report_error("import failed: boom")
    extensions.list_extensions()
    assert "import failed: boom" in extensions.find("flaky").errors


def test_web_assets_of_active_extensions(ext_env):
    make_ext(ext_env.builtin, "b", {"javascript/x.js": "", "javascript/a.js": "", "style.css": ""})
    make_ext(ext_env.user, "u", {"javascript/u.js": "", "javascript/readme.txt": ""})
    make_ext(ext_env.user, "off", {"javascript/off.js": "", "style.css": ""})
    ext_env.config.write_text(json.dumps({"disabled_extensions": ["off"]}))
    ext_env.configure()
    extensions.list_extensions()
    js, css = extensions.web_assets()
    assert [p.name for p in js] == ["a.js", "x.js", "u.js"]
    assert css == [extensions.find("b").path / "style.css"]


def test_callback_order_rules(ext_env):
    make_ext(ext_env.user, "alpha", {"metadata.ini": """
        [callbacks/alpha/s.py/model_loaded]
        Before = beta/t.py/model_loaded
        [callbacks/beta/t.py/model_loaded]
        After = gamma/u.py/model_loaded
    """})
    make_ext(ext_env.user, "beta",
             {"metadata.ini": "[callbacks/beta/t.py/model_loaded]\nAfter = gamma/u.py/model_loaded\n"})
    extensions.list_extensions()
    rules = extensions.callback_order_rules()
    assert rules == {"alpha/s.py/model_loaded": {"before": ("beta/t.py/model_loaded",), "after": ()},
                     "beta/t.py/model_loaded": {"before": (), "after": ("gamma/u.py/model_loaded",)}}
    assert any("another extension" in e for e in extensions.find("alpha").errors)
    order = extensions.order_callbacks(["beta/t.py/model_loaded", "gamma/u.py/model_loaded", "alpha/s.py/model_loaded"])
    assert order.index("alpha/s.py/model_loaded") < order.index("beta/t.py/model_loaded")
    assert order.index("gamma/u.py/model_loaded") < order.index("beta/t.py/model_loaded")


def test_run_installers_success_failure_and_launch_helpers(ext_env):
    make_ext(ext_env.user, "good", {"install.py": """
        import pathlib, launch
        assert callable(launch.run_pip) and callable(launch.is_installed) and launch.is_installed("pytest")
        pathlib.Path("installed.marker").write_text(launch.git_tag())
    """})
    make_ext(ext_env.user, "broken", {"install.py": "raise SystemExit('cannot install this')\n"})
    make_ext(ext_env.user, "off", {"install.py": "open('ran.marker', 'w')\n"})
    ext_env.config.write_text(json.dumps({"disabled_extensions": ["off"]}))
    ext_env.configure()
    extensions.list_extensions()
    installers.run_installers()                       # never raises
    assert (ext_env.user / "good" / "installed.marker").is_file()
    assert not extensions.find("good").errors
    assert not (ext_env.user / "off" / "ran.marker").exists()
    errors = extensions.find("broken").errors
    assert errors and "install.py failed" in errors[0] and "cannot install this" in errors[0]


def test_installer_env_pins_every_installed_package():
    """install.py may add packages but never replace one the app runs on (torch, transformers ...)."""
    import importlib.metadata

    env = installers.installer_env()
    assert env["PYTHONPATH"].split(":")[0] == str(Path(__file__).resolve().parent.parent)
    pins = set(Path(env["PIP_CONSTRAINT"]).read_text().split())
    for name in ("torch", "transformers", "diffusers", "gradio", "huggingface_hub", "numpy", "pydantic"):
        dist = importlib.metadata.distribution(name)
        assert f"{dist.metadata['Name']}=={dist.version}" in pins, name


def test_launch_runs_installers_unless_skip_install(ext_env):
    make_ext(ext_env.user, "inst", {"install.py": "open('ran.marker', 'a').write('x')\n"})
    marker = ext_env.user / "inst" / "ran.marker"
    launcher.parse_args_with_extensions(["--data-dir", str(ext_env.data), "--skip-install"], use_env=False)
    assert not marker.exists()
    launcher.parse_args_with_extensions(["--data-dir", str(ext_env.data)], use_env=False)
    assert marker.read_text() == "x"


def test_preload_adds_a_flag_that_then_parses(ext_env):
    make_ext(ext_env.user, "pre", {"preload.py": """
        def preload(parser):
            parser.add_argument("--pre-dir", type=str, default="none", help="from an extension")
    """})
    make_ext(ext_env.user, "badpre", {"preload.py": "def preload(parser):\n    raise RuntimeError('preload bug')\n"})
    make_ext(ext_env.user, "offpre", {"preload.py": """
        def preload(parser):
            parser.add_argument("--off-flag", action="store_true")
    """})
    ext_env.config.write_text(json.dumps({"disabled_extensions": ["offpre"]}))
    ns = launcher.parse_args_with_extensions(["--data-dir", str(ext_env.data), "--skip-install", "--pre-dir", "/x"],
                                             use_env=False)
    assert ns.pre_dir == "/x"
    assert any("preload bug" in e for e in extensions.find("badpre").errors)
    with pytest.raises(SystemExit) as exc:            # a disabled extension's flag is unknown
        launcher.parse_args_with_extensions(["--data-dir", str(ext_env.data), "--skip-install", "--off-flag"],
                                            use_env=False)
    assert exc.value.code == 2


def test_preload_with_data_dir_argument(ext_env):
    make_ext(ext_env.user, "pre",
             {"preload.py": "def preload(parser):\n    parser.add_argument('--pre-x', type=int)\n"})
    parser = cmd_args.build_parser()
    active = installers.preload_extensions(parser, ext_env.data)
    assert names(active) == ["pre"]
    assert parser.parse_args(["--pre-x", "3"]).pre_x == 3


def test_api_list_shape(ext_env):
    make_ext(ext_env.builtin, "core")
    make_ext(ext_env.user, "plain")
    url = make_repo(ext_env.data / "src" / "gitext", {"scripts/g.py": ""})
    git(ext_env.user, "clone", "-q", url, "gitext")
    ext_env.config.write_text(json.dumps({"disabled_extensions": ["plain"]}))
    ext_env.configure()
    items = {i["name"]: i for i in extensions.api_list()}
    assert set(items) == {"core", "plain", "gitext"}
    assert items["plain"] == {"name": "plain", "remote": "", "branch": "", "commit_hash": "", "version": "",
                              "commit_date": 0, "enabled": False, "errors": []}
    g = items["gitext"]
    assert g["remote"] == url and g["branch"] == "main" and len(g["commit_hash"]) == 40
    assert g["version"] == g["commit_hash"][:8] and g["commit_date"] > 0 and g["enabled"]


def test_unknown_flag_still_exits_2(ext_env):
    with pytest.raises(SystemExit) as exc:
        launcher.parse_args_with_extensions(["--data-dir", str(ext_env.data), "--skip-install", "--apii"],
                                            use_env=False)
    assert exc.value.code == 2
    assert sys.modules.get("sdwebui.services.extensions.discovery") is extensions
