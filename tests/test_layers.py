"""The layout's rules (docs/architecture.md), checked on the source text alone: no module is
imported, so this runs in a fraction of a second without torch.

The layers, bottom to top:

    base        sdwebui/__init__.py, sdwebui/version.py
    engine      sdwebui/engine/      (pure generation code: no process-wide state)
    services    sdwebui/services/    (the process: runtime singletons, queue, extensions, models)
    interfaces  sdwebui/interfaces/  (HTTP API, Gradio UI, command line, app assembly)
    facade      modules/, webui.py, launch.py  (A1111's module names, entry points)

An import points down when its target's layer is at or below the importer's layer. Every import
counts: module level, inside functions, under `if TYPE_CHECKING`, and the by-name imports of
`importlib.import_module("...")` and the facade's `expose(__name__, "...")`.
"""
from __future__ import annotations

import ast
import os
from collections import deque
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("sdwebui", "modules")
ENTRY_POINTS = ("launch.py", "webui.py")

LAYERS = ("base", "engine", "services", "interfaces", "facade")

# Imports allowed to point up the layers, as {(importer, imported): why}. Rule (d) of issue 17
# allows at most three overall; rules (b) and (c) already forbid every upward import inside
# sdwebui/, so an entry here can only be one that neither of them covers (base importing up).
ALLOWED_UPWARD: dict[tuple[str, str], str] = {}
MAX_UPWARD = 3

MAX_LINES = 600         # the hard limit per source file
WARN_LINES = 500        # the aim; files over it are listed when the limit check fails
SOURCE_SUFFIXES = {".py", ".js", ".css", ".sh", ".html"}
# not our source: tests and tools are exempt; the rest are installs, data and build output
SKIPPED_TOP_DIRS = {"tests", "tools", "bench", "venv", "models", "outputs", "embeddings", "log", "tmp",
                    "build", "extensions"}


@dataclass(frozen=True)
class Import:
    importer: str       # dotted module name
    target: str         # dotted module name, one of ours
    path: Path
    line: int

    def where(self) -> str:
        return f"{self.path.relative_to(ROOT)}:{self.line}"

    def __str__(self) -> str:
        return f"{self.where()}: {self.importer} -> {self.target}"


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def our_modules() -> dict[str, Path]:
    found = {}
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            if "__pycache__" not in path.parts:
                found[module_name(path)] = path
    for name in ENTRY_POINTS:
        found[module_name(ROOT / name)] = ROOT / name
    return found


def layer(module: str) -> int:
    top, _, rest = module.partition(".")
    if top in ("modules", "webui", "launch"):
        return LAYERS.index("facade")
    sub = rest.split(".")[0]
    return LAYERS.index(sub if sub in ("engine", "services", "interfaces") else "base")


def _known(name: str, modules: dict[str, Path]) -> str | None:
    """The longest prefix of dotted `name` that is one of our modules (`a.b.func` -> `a.b`)."""
    parts = name.split(".")
    while parts:
        candidate = ".".join(parts)
        if candidate in modules:
            return candidate
        parts.pop()
    return None


def _from_base(node: ast.ImportFrom, importer: str, path: Path) -> str:
    """The absolute module a `from X import ...` reads from, relative levels resolved."""
    if not node.level:
        return node.module or ""
    package = importer.split(".") if path.name == "__init__.py" else importer.split(".")[:-1]
    package = package[:len(package) - (node.level - 1)]
    return ".".join(package + ([node.module] if node.module else []))


def _string_args(call: ast.Call) -> list[str]:
    return [a.value for a in call.args if isinstance(a, ast.Constant) and isinstance(a.value, str)]


def _imported_names(node: ast.AST, importer: str, path: Path, modules: dict[str, Path]) -> list[str]:
    """Dotted names that `node` imports: `from pkg import name` imports `pkg.name` when that is a
    module, else `pkg`."""
    if isinstance(node, ast.Import):
        return [alias.name for alias in node.names]
    if isinstance(node, ast.ImportFrom):
        base = _from_base(node, importer, path)
        return [f"{base}.{a.name}" if f"{base}.{a.name}" in modules else base for a in node.names]
    if isinstance(node, ast.Call):
        func = node.func
        called = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", None)
        if called == "import_module":
            return _string_args(node)[:1]
        if called == "expose":      # expose(__name__, "impl", ...): the facade imports each impl
            return _string_args(node)
    return []


def import_graph() -> tuple[dict[str, Path], list[Import]]:
    modules = our_modules()
    imports = []
    for importer, path in modules.items():
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        for node in ast.walk(tree):
            for name in _imported_names(node, importer, path, modules):
                target = _known(name, modules)
                if target is not None and target != importer:
                    imports.append(Import(importer, target, path, node.lineno))
    return modules, sorted(set(imports), key=lambda i: (str(i.path), i.line, i.target))


MODULES, IMPORTS = import_graph()


def _edges() -> dict[str, dict[str, Import]]:
    edges: dict[str, dict[str, Import]] = {m: {} for m in MODULES}
    for imp in IMPORTS:
        edges[imp.importer].setdefault(imp.target, imp)
    return edges


def strongly_connected(edges: dict[str, dict[str, Import]]) -> list[list[str]]:
    """Tarjan's algorithm, iterative: the groups of modules that import each other in a circle."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    groups = []
    for start in edges:
        if start in index:
            continue
        work = [(start, iter(edges[start]))]
        index[start] = low[start] = len(index)
        stack.append(start)
        on_stack.add(start)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(edges[child])))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                group = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    group.append(member)
                    if member == node:
                        break
                if len(group) > 1:
                    groups.append(sorted(group))
    return groups


def shortest_circle(start: str, group: set[str], edges: dict[str, dict[str, Import]]) -> list[Import]:
    """One shortest circle through `start` inside `group`, as the imports that make it."""
    came_from: dict[str, Import] = {}
    queue = deque([start])
    while queue:
        node = queue.popleft()
        for target, imp in edges[node].items():
            if target not in group:
                continue
            if target == start:
                path = [imp]
                while path[0].importer != start:
                    path.insert(0, came_from[path[0].importer])
                return path
            if target not in came_from:
                came_from[target] = imp
                queue.append(target)
    return []


def _listing(imports: list[Import]) -> str:
    return "\n".join(f"  {imp}" for imp in imports)


def test_the_graph_sees_the_tree():
    """A guard for the checks below: they would pass vacuously on an empty or misparsed tree."""
    assert {"sdwebui.engine.context", "sdwebui.services.runtime", "modules.shared", "launch"} <= set(MODULES)
    assert any(i.importer == "modules.shared" and i.target == "sdwebui.services.runtime" for i in IMPORTS)
    assert len(IMPORTS) > 100


def test_no_import_circle():
    edges = _edges()
    problems = []
    for group in strongly_connected(edges):
        circle = shortest_circle(group[0], set(group), edges)
        problems.append(f"{len(group)} modules import each other: {', '.join(group)}\n"
                        f" one circle among them:\n{_listing(circle)}")
    if problems:
        pytest.fail("import circles:\n" + "\n".join(problems), pytrace=False)


def test_sdwebui_never_imports_the_facade_or_the_entry_points():
    bad = [i for i in IMPORTS if i.importer.split(".")[0] == "sdwebui"
           and i.target.split(".")[0] in ("modules", "webui", "launch")]
    if bad:
        pytest.fail("sdwebui/ must not import modules/ (A1111's facade), webui or launch; the facade "
                    "forwards to sdwebui, never the other way:\n" + _listing(bad), pytrace=False)


def test_engine_and_services_import_nothing_above_them():
    engine, services, interfaces = (LAYERS.index(n) for n in ("engine", "services", "interfaces"))
    bad = [i for i in IMPORTS
           if (layer(i.importer) == engine and layer(i.target) in (services, interfaces))
           or (layer(i.importer) == services and layer(i.target) == interfaces)]
    if bad:
        pytest.fail("the engine imports nothing from services or interfaces, services nothing from "
                    "interfaces (pass what is needed down as arguments, GenerationContext or Hooks):\n"
                    + _listing(bad), pytrace=False)


def test_at_most_three_imports_point_up():
    assert len(ALLOWED_UPWARD) <= MAX_UPWARD, f"at most {MAX_UPWARD} allowed upward imports, listed: {ALLOWED_UPWARD}"
    upward = [i for i in IMPORTS if layer(i.target) > layer(i.importer)]
    unlisted = [i for i in upward if (i.importer, i.target) not in ALLOWED_UPWARD]
    if unlisted:
        pytest.fail(f"imports pointing up the layers ({' -> '.join(reversed(LAYERS))}) that are not "
                    "in ALLOWED_UPWARD:\n" + _listing(unlisted), pytrace=False)
    stale = set(ALLOWED_UPWARD) - {(i.importer, i.target) for i in upward}
    assert not stale, f"ALLOWED_UPWARD lists imports that no longer exist: {sorted(stale)}"


def source_files() -> list[Path]:
    found = []
    for directory, subdirs, files in os.walk(ROOT):
        here = Path(directory)
        subdirs[:] = sorted(d for d in subdirs
                            if not d.startswith(".") and d not in ("__pycache__", "node_modules")
                            and not d.endswith(".egg-info") and not (here == ROOT and d in SKIPPED_TOP_DIRS))
        found += [here / f for f in sorted(files) if Path(f).suffix in SOURCE_SUFFIXES]
    return found


def test_no_source_file_over_the_line_limit():
    lengths = {p.relative_to(ROOT): len(p.read_text(encoding="utf-8", errors="replace").splitlines())
               for p in source_files()}
    assert Path("sdwebui/engine/context.py") in lengths     # the walk reaches the package
    over = {p: n for p, n in lengths.items() if n > MAX_LINES}
    long = sorted(((n, p) for p, n in lengths.items() if n > WARN_LINES), reverse=True)
    if over:
        pytest.fail(f"source files over {MAX_LINES} lines (split them by what they hold):\n"
                    + "\n".join(f"  {p}: {n}" for p, n in sorted(over.items()))
                    + f"\nall files over {WARN_LINES} lines:\n" + "\n".join(f"  {p}: {n}" for n, p in long),
                    pytrace=False)


def test_test_modules_have_unique_basenames():
    """tests/ has no __init__.py, so pytest imports each test file by its basename: two files with the
    same name in different folders stop the whole run at collection."""
    seen: dict[str, Path] = {}
    for path in sorted((ROOT / "tests").rglob("test_*.py")):
        assert path.name not in seen, f"{path} and {seen[path.name]} share a basename"
        seen[path.name] = path
