"""The layers of the package, as the paths show them, and every import pointing inward.

::

    cli, testing ──► server ──► wire ──► _core
         │             ├──────► api ──► _store ──► _core
         │             └──────► worldfile ──► api
         └──► _client ──► api, wire, _store, _ids

    wire, api, _client, server, cli, testing ──► catalogue ──► _core

Each top-level module or package of ``taskcancel`` is one layer; a layer may import only
the layers listed for it below (and itself). The test reads every module's source, so an
import added anywhere -- even inside a function -- that points outward fails here.
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest

import taskcancel

PACKAGE = Path(taskcancel.__file__).parent

#: The library below the facade: what the top-level namespace may import.
_LIBRARY = {"_core", "catalogue", "api", "_store", "wire", "worldfile", "_client", "_ids"}

#: layer -> the layers it may import (besides itself).
ALLOWED: dict[str, set[str]] = {
    "_core": set(),
    "_ids": set(),
    "catalogue": {"_core"},
    "wire": {"_core", "catalogue"},
    "_store": {"_core"},
    "api": {"_core", "catalogue", "_store", "wire"},
    "worldfile": {"_core", "api", "_store"},
    "_client": {"_core", "catalogue", "api", "_store", "wire", "_ids"},
    "server": {"_core", "catalogue", "api", "_store", "wire", "worldfile", "_ids"},
    "__init__": _LIBRARY,
    # The outer layers: the command and the testing kit use everything but each other.
    "cli": _LIBRARY | {"__init__", "server"},
    "testing": _LIBRARY | {"__init__", "server"},
    "__main__": {"cli"},
}
#: Layers that must stay pure: standard library and attrs only, no I/O, clock or randomness.
PURE = {"_core", "catalogue", "wire"}
_FORBIDDEN_MODULES = {"random", "uuid", "time", "secrets", "os", "socket", "io", "pathlib"}
_FORBIDDEN_NAMES = {"open", "print", "input"}
_FORBIDDEN_ATTRIBUTES = {"now", "utcnow", "today", "urandom", "monotonic", "perf_counter"}


def _layer_of(path: Path) -> str:
    parts = path.relative_to(PACKAGE).parts
    return parts[0].removesuffix(".py")


def _modules() -> list[Path]:
    return sorted(p for p in PACKAGE.rglob("*.py") if "__pycache__" not in p.parts)


def _imported_layers(path: Path, tree: ast.Module) -> set[str]:
    """The layers ``path`` imports, from relative and absolute imports alike."""
    package = list(path.relative_to(PACKAGE).parts[:-1])
    layers: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.level:
            base = package[: len(package) - (node.level - 1)] if node.level > 1 else package
            target = [*base, *(node.module or "").split(".")] if node.module else base
            target = [part for part in target if part]
            if target:
                layers.add(target[0])
            else:  # "from .. import x" reaching the top: a layer, or a name of the facade
                for alias in node.names:
                    layers.add(alias.name if alias.name in ALLOWED else "__init__")
        elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith("taskcancel"):
            parts = (node.module or "").split(".")
            layers.add(parts[1] if len(parts) > 1 else "__init__")
        elif isinstance(node, ast.Import):
            for alias in node.names:
                parts = alias.name.split(".")
                if parts[0] == "taskcancel":
                    layers.add(parts[1] if len(parts) > 1 else "__init__")
    return layers


def test_every_module_belongs_to_a_known_layer() -> None:
    unknown = {_layer_of(p) for p in _modules()} - set(ALLOWED) - {"py"}
    assert not unknown, f"add these to ALLOWED in {__file__}: {sorted(unknown)}"


@pytest.mark.parametrize("path", _modules(), ids=lambda p: str(p.relative_to(PACKAGE)))
def test_imports_point_inward(path: Path) -> None:
    layer = _layer_of(path)
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    outward = _imported_layers(path, tree) - ALLOWED[layer] - {layer}
    assert not outward, f"{path.relative_to(PACKAGE)} ({layer}) imports {sorted(outward)}"


@pytest.mark.parametrize(
    "path",
    [p for p in _modules() if _layer_of(p) in PURE],
    ids=lambda p: str(p.relative_to(PACKAGE)),
)
def test_pure_layers_do_no_io_read_no_clock_and_draw_no_random(path: Path) -> None:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    for node in ast.walk(tree):
        if isinstance(node, ast.Import | ast.ImportFrom) and not getattr(node, "level", 0):
            names = (
                [a.name for a in node.names]
                if isinstance(node, ast.Import)
                else [node.module or ""]
            )
            for name in names:
                top = name.split(".")[0]
                assert top in sys.stdlib_module_names or top in {"attrs", "taskcancel"}, name
                assert top not in _FORBIDDEN_MODULES, f"{path.name} imports {name}"
        if isinstance(node, ast.Name):
            assert node.id not in _FORBIDDEN_NAMES, f"{path.name} uses {node.id}"
        if isinstance(node, ast.Attribute):
            assert node.attr not in _FORBIDDEN_ATTRIBUTES, f"{path.name} reads .{node.attr}"


def test_the_layer_test_catches_an_outward_import(tmp_path: Path) -> None:
    """The checker itself: a core module importing the server is flagged."""
    fake = PACKAGE / "_core" / "_model.py"
    tree = ast.parse("from ..server import Emulator\nimport taskcancel.cli\n")
    assert _imported_layers(fake, tree) - ALLOWED["_core"] == {"server", "cli"}


# -- no import cycles ----------------------------------------------------------------------


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(["taskcancel", *parts])


def _imported_modules(path: Path, tree: ast.Module, known: set[str]) -> set[str]:
    """The package's modules ``path`` imports at module level, ``if TYPE_CHECKING:``
    blocks included (a cycle of annotations is still two modules that need each other);
    imports inside functions too, which is how a cycle is usually hidden."""
    name = _module_name(path)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()

    def add(module: str, names: list[str]) -> None:
        for alias in names:  # "from . import x": x may be a submodule
            if f"{module}.{alias}" in known:
                found.add(f"{module}.{alias}")
        if module in known:
            found.add(module)

    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - (node.level - 1)]
                module = ".".join([*base, *([node.module] if node.module else [])])
            else:
                module = node.module or ""
            if module.startswith("taskcancel"):
                add(module, [alias.name for alias in node.names])
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.startswith("taskcancel") and alias.name in known:
                    found.add(alias.name)
    found.discard(name)
    return found


def _import_graph() -> dict[str, set[str]]:
    paths = {_module_name(p): p for p in _modules()}
    known = set(paths)
    graph = {}
    for name, path in paths.items():
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        graph[name] = _imported_modules(path, tree, known)
    return graph


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan's algorithm),
    and modules importing themselves: every import cycle is inside one of them."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in sorted(graph.get(node, ())):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1 or node in graph.get(node, ()):
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def _packages_to_submodules(graph: dict[str, set[str]]) -> dict[str, set[str]]:
    """A package's ``__init__`` importing its own submodules is how a package is built,
    not a cycle; a submodule importing its package's ``__init__`` back would be: keep the
    former edges out so that only the latter show."""
    return {
        name: {t for t in targets if not t.startswith(name + ".")}
        for name, targets in graph.items()
    }


def test_no_import_cycles_anywhere_in_the_package() -> None:
    cycles = _cycles(_packages_to_submodules(_import_graph()))
    assert not cycles, "import cycles (strongly connected components):\n" + "\n".join(
        " <-> ".join(component) for component in cycles
    )


def test_the_cycle_check_finds_a_cycle() -> None:
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}, "e": {"e"}}
    assert _cycles(graph) == [["a", "b", "c"], ["e"]]
