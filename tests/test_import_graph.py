"""natsx's module graph has no cycles, and the seams between its parts hold.

Every import statement counts: top level, inside a function (an import moved into a function to
dodge a cycle is still a cycle: the modules still need each other) and under ``if TYPE_CHECKING``
(a type-only import still couples the two modules). Importing ``a.b.c`` counts as an edge to
``a.b.c`` only, not to the packages ``a`` and ``a.b`` that Python initialises on the way: an
``__init__`` that re-exports its submodules does not make them depend on each other. Cython
sources (.pyx/.pxd) are read for ``import``/``cimport`` of natsx modules too.
"""
from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "natsx"

_CYTHON_IMPORT = re.compile(r"^\s*(?:from\s+(natsx[\w.]*)\s+c?import\s+(.+)|c?import\s+(natsx[\w.]*))", re.M)


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _modules() -> dict[str, Path]:
    found: dict[str, Path] = {}
    for pattern in ("*.py", "*.pyx", "*.pxd"):
        for path in PACKAGE.rglob(pattern):
            if "build" not in path.relative_to(ROOT).parts:
                found.setdefault(_module_name(path), path)
    return found


def _target(modules: dict[str, Path], base: str, name: str) -> str | None:
    """`from base import name`: the submodule base.name if there is one, else base."""
    if f"{base}.{name}" in modules:
        return f"{base}.{name}"
    return base if base in modules else None


def _imports(module: str, path: Path, modules: dict[str, Path]) -> set[str]:
    out: set[str] = set()
    text = path.read_text()
    if path.suffix in (".pyx", ".pxd"):
        for m in _CYTHON_IMPORT.finditer(text):
            if m.group(3):
                out.add(m.group(3))
            else:
                names = m.group(2).strip("()\\ ").replace("\n", " ").split(",")
                for name in names:
                    target = _target(modules, m.group(1), name.split()[0] if name.split() else "")
                    if target:
                        out.add(target)
        return {t for t in out if t in modules}
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    for node in ast.walk(ast.parse(text, str(path))):
        if isinstance(node, ast.Import):
            out.update(a.name for a in node.names if a.name in modules)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                parts = package.split(".")
                base = ".".join(parts[:len(parts) - node.level + 1] + ([node.module] if node.module else []))
            else:
                base = node.module or ""
            for alias in node.names:
                target = _target(modules, base, alias.name)
                if target:
                    out.add(target)
    out.discard(module)
    return out


def import_graph() -> dict[str, set[str]]:
    modules = _modules()
    return {name: _imports(name, path, modules) for name, path in modules.items()}


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan), each as a path."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph.get(v, ())):
            if w not in index:
                visit(w)
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
                found.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def _reaches(graph: dict[str, set[str]], start: str) -> set[str]:
    seen: set[str] = set()
    todo = [start]
    while todo:
        for w in graph.get(todo.pop(), ()):
            if w not in seen:
                seen.add(w)
                todo.append(w)
    return seen


def test_the_graph_is_read():
    graph = import_graph()
    # A few edges every version of natsx has: the reader must see them, or the checks below are empty.
    assert "natsx.client" in graph["natsx.server"]
    assert "natsx._core.sublist" in graph["natsx._core.conn"]          # a cimport in conn.pyx
    assert "natsx.server" in graph["natsx"]                             # the lazy Server, in a function
    assert "natsx.store.snapshot" in graph["natsx.store.filestore"]     # a function-local import


def test_no_import_cycles():
    assert _cycles(import_graph()) == []


def test_seams():
    graph = import_graph()
    # Client connections use the registry and a typed host, not the server or the monitor.
    assert not _reaches(graph, "natsx.client") & {"natsx.server", "natsx.monitor"}
    # The registry is below both the client and the server.
    assert not _reaches(graph, "natsx.registry") & {"natsx.client", "natsx.server", "natsx.monitor"}
    # The monitor reads typed inputs; the server starts it, so it must not need the server.
    monitor = {m for m in graph if m == "natsx.monitor" or m.startswith("natsx.monitor.")}
    for m in monitor:
        assert not _reaches(graph, m) & {"natsx.server", "natsx.client", "natsx"}, m
    # The snapshot format knows no store; restoring into one is natsx.store.restore's job.
    assert not _reaches(graph, "natsx.store.snapshot") & {"natsx.store.filestore", "natsx.store.memstore"}
