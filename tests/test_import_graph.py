"""No import circle inside ``alges_napari``: its modules' imports run one way.

The graph is built from the source with :mod:`ast`, without importing anything: one node per
module (a package is its ``__init__.py``), one edge per ``import`` / ``from ... import``
statement that names a module of the package, relative (``from .store import X``) or absolute
(``from alges_napari.core import store``). ``from package import name`` is an edge to the
submodule ``package.name`` when there is one, else to the package.

Every import statement counts, wherever it stands: at module level, under ``if TYPE_CHECKING:``
and inside functions. A deferred import avoids a circle at import time, not the circle itself:
the two modules still need each other, and the circle this test was written against
(``experiment/loop.py`` <-> ``experiment/distributed.py``, issue 24) ran through an import
inside a function. Importing ``a.b.c`` also runs the ``__init__`` of ``a`` and ``a.b``; those
implicit edges are left out (as import-linter leaves them out), since every submodule would
otherwise close a circle with a package ``__init__`` that imports it.
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def module_files(root: Path, package: str) -> dict[str, Path]:
    """Every module of ``package`` (a folder under ``root``): dotted name -> file."""
    modules = {}
    for path in sorted((root / package).rglob("*.py")):
        parts = list(path.relative_to(root).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        modules[".".join(parts)] = path
    return modules


def _imported(node: ast.AST, module: str, is_package: bool) -> list[str]:
    """The dotted names an import statement may refer to, most specific first per name."""
    if isinstance(node, ast.Import):
        return [alias.name for alias in node.names]
    assert isinstance(node, ast.ImportFrom)
    if node.level:
        # the package a relative import starts from: the module's own for an __init__
        parts = module.split(".") if is_package else module.split(".")[:-1]
        parts = parts[: len(parts) - (node.level - 1)]
        base = ".".join(parts + ([node.module] if node.module else []))
    else:
        base = node.module or ""
    return [f"{base}.{alias.name}" for alias in node.names] + [base]


def import_graph(root: Path, package: str) -> dict[str, set[str]]:
    """Each module of ``package`` -> the modules of ``package`` it imports (see the module)."""
    modules = module_files(root, package)
    graph: dict[str, set[str]] = {name: set() for name in modules}
    for name, path in modules.items():
        is_package = path.name == "__init__.py"
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
            if not isinstance(node, (ast.Import, ast.ImportFrom)):
                continue
            candidates = _imported(node, name, is_package)
            if isinstance(node, ast.ImportFrom):
                # `from a import b, c`: the submodules a.b, a.c where they exist, else a itself
                subs = [c for c in candidates[:-1] if c in modules]
                targets = subs or ([candidates[-1]] if candidates[-1] in modules else [])
            else:
                targets = [_nearest_module(c, modules) for c in candidates]
            graph[name].update(t for t in targets if t is not None and t != name)
    return graph


def _nearest_module(dotted: str, modules: dict[str, Path]) -> str | None:
    """``import a.b.c`` names module a.b.c; for a.b.c.attr (no such module) the nearest one."""
    parts = dotted.split(".")
    while parts:
        if ".".join(parts) in modules:
            return ".".join(parts)
        parts.pop()
    return None


def find_cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """One cycle (``[a, b, ..., a]``) per strongly connected component that has one."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    components: list[list[str]] = []

    def connect(v: str) -> None:  # Tarjan's algorithm
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph[v]):
            if w not in index:
                connect(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                components.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            connect(v)
    return [_cycle_in(graph, set(c)) for c in components]


def _cycle_in(graph: dict[str, set[str]], component: set[str]) -> list[str]:
    """A shortest cycle through the component's first module (breadth-first), for the message."""
    start = min(component)
    came_from: dict[str, str] = {}
    frontier = [start]
    while frontier:
        following = []
        for v in frontier:
            for w in sorted(graph[v] & component):
                if w == start:
                    path = [v]
                    while path[-1] != start:
                        path.append(came_from[path[-1]])
                    return [start, *reversed(path[:-1]), start]
                if w not in came_from:
                    came_from[w] = v
                    following.append(w)
        frontier = following
    raise AssertionError(f"no cycle in the strongly connected component {sorted(component)}")


def test_alges_napari_has_no_import_cycle() -> None:
    graph = import_graph(ROOT, "alges_napari")
    # the graph is the package's: the experiment modules are in it, with their one-way edges
    exp = "alges_napari.core.experiment."
    assert graph[exp + "loop"] >= {exp + "distributed", exp + "writer", exp + "store"}
    assert graph[exp + "distributed"] >= {exp + "writer", exp + "work"}
    assert exp + "loop" not in graph[exp + "distributed"] | graph[exp + "writer"]
    cycles = find_cycles(graph)
    assert not cycles, "import cycles:\n" + "\n".join(" -> ".join(c) for c in cycles)


def write_modules(root: Path, sources: dict[str, str]) -> None:
    """Write each module's source under ``root`` (``"pkg.sub.__init__"`` is a package)."""
    for dotted, text in sources.items():
        path = root.joinpath(*dotted.split(".")).with_suffix(".py")
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)


def test_a_cycle_through_a_deferred_relative_import_is_found(tmp_path: Path) -> None:
    write_modules(
        tmp_path,
        {
            "pkg.__init__": "from pkg import a\n",
            "pkg.a": "def f():\n    from pkg.sub import b\n",
            "pkg.sub.__init__": "",
            "pkg.sub.b": "from .. import c\n",
            "pkg.c": "import pkg.a.f\nfrom .sub import b as _b\n",
            "pkg.d": "from .c import x\n",  # into the circle, not part of it
        },
    )
    graph = import_graph(tmp_path, "pkg")
    assert graph == {
        "pkg": {"pkg.a"},
        "pkg.a": {"pkg.sub.b"},
        "pkg.sub": set(),
        "pkg.sub.b": {"pkg.c"},
        "pkg.c": {"pkg.a", "pkg.sub.b"},
        "pkg.d": {"pkg.c"},
    }
    # two circles share pkg.sub.b -> pkg.c: one component, reported by its shortest cycle
    assert find_cycles(graph) == [["pkg.a", "pkg.sub.b", "pkg.c", "pkg.a"]]


def test_an_acyclic_graph_and_a_two_module_cycle() -> None:
    assert find_cycles({"a": {"b", "c"}, "b": {"c"}, "c": set()}) == []
    assert find_cycles({"a": {"b"}, "b": {"a"}, "c": {"a"}}) == [["a", "b", "a"]]
