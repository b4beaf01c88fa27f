"""The project's packages, declared honestly (docs/dependencies.md): every third-party import of the
code is declared, the installed versions satisfy the declared ranges, the `compat` extra gives
extensions what A1111 ships, spandrel's pin is what webui.sh installs and `pip check` has exactly the
one documented complaint, and an extension's install.py cannot replace a package the app runs on."""
from __future__ import annotations

import ast
import base64
import hashlib
import importlib
import importlib.metadata
import importlib.util
import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from sdwebui.services.extensions import discovery as extensions, installers, launch_utils
from tests.ext_helpers import ext_env, make_ext  # noqa: F401

ROOT = Path(__file__).resolve().parent.parent
PROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
EXTRAS = PROJECT["optional-dependencies"]

# compat distribution -> what extensions import from it (A1111's own uses of the names included)
COMPAT_IMPORTS = {
    "gitpython": "git.Repo",
    "piexif": "piexif.dump",
    "omegaconf": "omegaconf.OmegaConf",
    "inflection": "inflection.underscore",
    "jsonmerge": "jsonmerge.merge",
    "diskcache": "diskcache.Cache",
    "blendmodes": "blendmodes.blend.blendLayers",
    "resize-right": "resize_right.resize",
    "kornia": "kornia.filters.gaussian_blur2d",
    "scikit-image": "skimage.metrics.structural_similarity",
    "requests": "requests.get",
}


def _requirements(reqs: list[str]) -> dict[str, Requirement]:
    return {canonicalize_name(r.name): r for r in map(Requirement, reqs)}


def _guarded(node: ast.AST, parents: dict[ast.AST, ast.AST]) -> bool:
    """Whether an import sits in a `try` whose handlers catch ImportError (an optional package)."""
    while node in parents:
        child, node = node, parents[node]
        if isinstance(node, ast.Try) and child in node.body:
            for handler in node.handlers:
                caught = handler.type
                names = [e.id for e in caught.elts if isinstance(e, ast.Name)] if isinstance(caught, ast.Tuple) \
                    else [caught.id] if isinstance(caught, ast.Name) else []
                if {"ImportError", "ModuleNotFoundError", "Exception"} & set(names):
                    return True
    return False


def _third_party_imports() -> dict[str, dict[str, bool]]:
    """Top-level modules imported by the shipped code (sdwebui/, modules/, launch.py, webui.py) that are
    neither the standard library nor the project -> {file: whether every import there is guarded}."""
    files = [*ROOT.joinpath("sdwebui").rglob("*.py"), *ROOT.joinpath("modules").rglob("*.py"),
             ROOT / "launch.py", ROOT / "webui.py"]
    found: dict[str, dict[str, bool]] = {}
    for path in files:
        tree = ast.parse(path.read_text(encoding="utf-8"))
        parents = {child: parent for parent in ast.walk(tree) for child in ast.iter_child_nodes(parent)}
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            else:
                continue
            for name in names:
                top = name.split(".")[0]
                if top not in sys.stdlib_module_names and top not in ("sdwebui", "modules", "launch", "webui"):
                    rel = str(path.relative_to(ROOT))
                    by_file = found.setdefault(top, {})
                    by_file[rel] = by_file.get(rel, True) and _guarded(node, parents)
    return found


# packages the code uses when installed and never installs (docs/dependencies.md says why)
DELIBERATELY_ABSENT = {"torchvision"}
# the modules of cluster mode: imported only after the app's guarded import of ray_cluster succeeded
# (interfaces/app.py _start_cluster), so they import the `cluster` extra's packages plainly
CLUSTER_ONLY = {"sdwebui/services/dispatch/ray_cluster.py", "sdwebui/interfaces/cluster/worker.py"}


def test_every_import_of_the_code_is_declared():
    """A plain import needs a declared dependency (spandrel: the `upscalers` extra, which webui.sh always
    installs); an import of a `compat` package must be guarded, since that extra can be left out."""
    required = set(_requirements(PROJECT["dependencies"])) | set(_requirements(EXTRAS["upscalers"]))
    optional = set(_requirements(EXTRAS["compat"]))
    cluster = set(_requirements(EXTRAS["cluster"]))
    owners = importlib.metadata.packages_distributions()
    missing = {}
    for module, files in _third_party_imports().items():
        dists = {canonicalize_name(d) for d in owners.get(module, [])}
        if not dists and module in DELIBERATELY_ABSENT:
            # used only when present, behind a guard (torchvision: upscaler_models' stand-in)
            assert all(files.values()), f"{module} is imported unguarded by {sorted(files)}"
            continue
        assert dists, f"{module} (imported by {sorted(files)}) is not installed"
        if dists & required:
            continue
        if dists & cluster and set(files) <= CLUSTER_ONLY:
            continue
        unguarded = sorted(f for f, guarded in files.items() if not guarded)
        if not dists & optional or unguarded:
            missing[module] = (sorted(dists), unguarded or sorted(files))
    assert not missing, f"imported but not declared in pyproject.toml's dependencies: {missing}"


@pytest.mark.parametrize("group", ["dependencies", "upscalers", "compat"])
def test_installed_versions_satisfy_the_declared_ranges(group):
    reqs = _requirements(PROJECT["dependencies"] if group == "dependencies" else EXTRAS[group])
    bad = {}
    for name, req in reqs.items():
        try:
            version = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            bad[name] = "not installed (./webui.sh installs it; or pip install -e '.[compat]')"
            continue
        # a local build label (torch 2.13.0+cpu) satisfies the release it is built from
        if not req.specifier.contains(version.split("+")[0], prereleases=True):
            bad[name] = f"{version} is outside {req.specifier}"
    assert not bad, bad


def test_compat_extra_gives_what_extensions_import():
    assert set(_requirements(EXTRAS["compat"])) == set(COMPAT_IMPORTS)
    for dist, dotted in COMPAT_IMPORTS.items():
        module_name, _, attr = dotted.rpartition(".")
        module = importlib.import_module(module_name)
        assert callable(getattr(module, attr)), (dist, dotted)
    # none of them brings torchvision (and with it a second, CUDA, torch)
    assert importlib.util.find_spec("torchvision") is None


def test_spandrel_pins_and_the_pip_check_complaints():
    """webui.sh installs the `upscalers` extra with --no-deps; pip check then names exactly the one
    dependency left out on purpose (torchvision) for each of its packages (docs/dependencies.md)."""
    reqs = _requirements(EXTRAS["upscalers"])
    assert sorted(reqs) == ["spandrel", "spandrel-extra-arches"]
    for name, req in reqs.items():
        assert req.specifier.contains(importlib.metadata.version(name)), name
        assert name not in _requirements(PROJECT["dependencies"])  # a plain dependency would pull torchvision
    webui_sh = (ROOT / "webui.sh").read_text(encoding="utf-8")
    assert '["optional-dependencies"]["upscalers"]' in webui_sh and "--no-deps" in webui_sh
    if importlib.util.find_spec("torchvision") is not None:
        pytest.skip("torchvision is installed here")
    out = subprocess.run([sys.executable, "-m", "pip", "check"], capture_output=True, text=True, timeout=120)
    complaints = [line for line in out.stdout.splitlines() if line.strip() and "No broken requirements" not in line]
    assert sorted(complaints) == [f"{name} {importlib.metadata.version(name)} requires torchvision, which is not "
                                  "installed." for name in ("spandrel", "spandrel-extra-arches")], out.stdout + out.stderr


# --- an extension's install.py cannot replace a package the app runs on -----------------------------

def _wheel(dest: Path, name: str, version: str) -> Path:
    """A minimal pure-Python wheel of `name` (an empty package), built here: nothing is downloaded."""
    dist_info = f"{name}-{version}.dist-info"
    files = {
        f"{name}/__init__.py": f'__version__ = "{version}"\n',
        f"{dist_info}/METADATA": f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n",
        f"{dist_info}/WHEEL": "Wheel-Version: 1.0\nGenerator: tests\nRoot-Is-Purelib: true\nTag: py3-none-any\n",
    }
    record = []
    for path, text in files.items():
        digest = base64.urlsafe_b64encode(hashlib.sha256(text.encode()).digest()).rstrip(b"=").decode()
        record.append(f"{path},sha256={digest},{len(text.encode())}")
    files[f"{dist_info}/RECORD"] = "\n".join([*record, f"{dist_info}/RECORD,,"]) + "\n"
    wheel = dest / f"{name}-{version}-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as zf:
        for path, text in files.items():
            zf.writestr(path, text)
    return wheel


def _version_in(python: Path, dist: str) -> str:
    code = f"import importlib.metadata as m; print(m.version({dist!r}))"
    return subprocess.run([str(python), "-c", code], capture_output=True, text=True, check=True).stdout.strip()


def test_install_py_cannot_downgrade_a_core_package(ext_env, tmp_path, monkeypatch):
    """A1111 users lost their UI when an extension's install.py pinned an older gradio/fastapi. Here the
    app's environment is a scratch venv holding the app's fastapi version (a stand-in wheel built
    here); an install.py asking for A1111 1.10's fastapi 0.94.0 fails with pip's reason, fastapi stays,
    and a package that replaces nothing still installs."""
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=180)
    python = venv / "bin" / "python"
    wheels = tmp_path / "wheels"
    wheels.mkdir()
    app_version = importlib.metadata.version("fastapi")
    for name, version in (("fastapi", app_version), ("fastapi", "0.94.0"), ("sdwebui_probe", "1.0")):
        _wheel(wheels, name, version)
    pip_offline = f"--no-index --find-links {wheels}"
    subprocess.run([str(python), "-m", "pip", "install", "-q", *pip_offline.split(), f"fastapi=={app_version}"],
                   check=True, timeout=180, capture_output=True)

    make_ext(ext_env.user, "wants-old-fastapi", {"install.py": f"""
        import launch
        launch.run_pip("install fastapi==0.94.0 {pip_offline}", "fastapi==0.94.0")
    """})
    make_ext(ext_env.user, "adds-a-package", {"install.py": f"""
        import launch
        if not launch.is_installed("sdwebui_probe"):
            launch.run_pip("install sdwebui_probe==1.0 {pip_offline}", "sdwebui_probe")
    """})
    ext_env.configure()
    extensions.list_extensions()
    monkeypatch.setattr(launch_utils, "python", str(python))  # the app "runs" in the scratch venv
    installers.run_installers()

    assert _version_in(python, "fastapi") == app_version
    (error,) = extensions.find("wants-old-fastapi").errors
    assert "install.py failed" in error and "Cannot install fastapi==0.94.0" in error, error
    assert not extensions.find("adds-a-package").errors
    assert _version_in(python, "sdwebui_probe") == "1.0"
