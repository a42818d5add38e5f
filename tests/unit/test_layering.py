"""No import circle between the modules of ``sealtrail`` (issue 13: "no import circles").

The graph is grimp's (import-linter's own library, which also checks the layering contracts in
pyproject.toml). A circle here means modules that need each other while they load, so only
imports executed at import time count: module-level statements, including those under a
module-level ``if``/``try``/``with`` and in class bodies. Imports inside functions (lazy, e.g.
the verifier's pyHanko PDF check) and under ``if TYPE_CHECKING:`` do not make a circle: they
run after every module has loaded, or never. They are still held to the layering by
``lint-imports``, which counts every import statement.

Each top-level package is a case of its own, so a failure names whose circle it is.
"""

from __future__ import annotations

import ast
import functools
from pathlib import Path

import grimp
import pytest

ROOT = Path(__file__).resolve().parents[2] / "sealtrail"
PACKAGES = sorted(p.name for p in ROOT.iterdir() if (p / "__init__.py").is_file())

# Circles still present in packages that another branch of issue 13 is rewriting (the api's CLI
# becomes a package). Strict: when the circle is gone the xfail turns into a failure, and its
# entry must be removed here.
KNOWN: dict[str, str] = {}


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _load_time_lines(body: list[ast.stmt], out: set[int]) -> None:
    """Line numbers of the import statements that run when the module loads."""
    for node in body:
        if isinstance(node, ast.Import | ast.ImportFrom):
            out.add(node.lineno)
        elif isinstance(node, ast.If):
            if not _is_type_checking(node.test):
                _load_time_lines(node.body, out)
            _load_time_lines(node.orelse, out)
        elif isinstance(node, ast.Try):
            for part in (node.body, node.orelse, node.finalbody):
                _load_time_lines(part, out)
            for handler in node.handlers:
                _load_time_lines(handler.body, out)
        elif isinstance(node, ast.With | ast.ClassDef):
            _load_time_lines(node.body, out)


def _source(module: str) -> Path:
    rel = Path(*module.split(".")[1:])
    path = ROOT / rel / "__init__.py"
    return path if path.is_file() else (ROOT / rel).with_suffix(".py")


@functools.cache
def _load_time_graph() -> dict[str, set[str]]:
    graph = grimp.build_graph("sealtrail", exclude_type_checking_imports=True)
    edges: dict[str, set[str]] = {}
    for importer in graph.modules:
        lines: set[int] = set()
        _load_time_lines(ast.parse(_source(importer).read_text()).body, lines)
        for imported in graph.find_modules_directly_imported_by(importer):
            details = graph.get_import_details(importer=importer, imported=imported)
            if any(d["line_number"] in lines for d in details):
                edges.setdefault(importer, set()).add(imported)
    return edges


def _circles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module, or a module importing itself
    (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    nodes = sorted(set(edges) | {m for ts in edges.values() for m in ts})
    for start in nodes:
        if start in index:
            continue
        work = [(start, iter(sorted(edges.get(start, ()))))]
        index[start] = low[start] = len(index)
        stack.append(start)
        on_stack.add(start)
        while work:
            v, children = work[-1]
            w = next(children, None)
            if w is not None:
                if w not in index:
                    index[w] = low[w] = len(index)
                    stack.append(w)
                    on_stack.add(w)
                    work.append((w, iter(sorted(edges.get(w, ())))))
                elif w in on_stack:
                    low[v] = min(low[v], index[w])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[v])
            if low[v] == index[v]:
                comp = []
                while True:
                    w = stack.pop()
                    on_stack.discard(w)
                    comp.append(w)
                    if w == v:
                        break
                if len(comp) > 1 or v in edges.get(v, ()):
                    found.append(sorted(comp))
    return found


def test_the_circle_finder_finds_circles() -> None:
    edges = {"a": {"b"}, "b": {"c"}, "c": {"a", "d"}, "d": set(), "e": {"e"}}
    assert sorted(_circles(edges)) == [["a", "b", "c"], ["e"]]
    assert _circles({"a": {"b"}, "b": set()}) == []


def test_imports_inside_functions_are_not_load_time() -> None:
    src = (
        "import a\nif TYPE_CHECKING:\n    import b\ntry:\n    import c\nexcept ImportError:\n"
        "    import d\ndef f():\n    import e\nclass K:\n    import g\n"
    )
    lines: set[int] = set()
    _load_time_lines(ast.parse(src).body, lines)
    assert lines == {1, 5, 7, 11}


@pytest.mark.parametrize(
    "package",
    [
        pytest.param(p, marks=pytest.mark.xfail(strict=True, reason=f"known: {KNOWN[p]}"))
        if p in KNOWN
        else p
        for p in PACKAGES
    ],
)
def test_no_import_circle(package: str) -> None:
    prefix = f"sealtrail.{package}"
    mine = [
        c
        for c in _circles(_load_time_graph())
        if any(m == prefix or m.startswith(prefix + ".") for m in c)
    ]
    assert not mine, "import circles (load-time imports):\n" + "\n".join(
        " <-> ".join(c) for c in mine
    )
