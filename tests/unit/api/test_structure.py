"""The edge's shape (issue 13): no import circles in sealtrail/api, no module importing another
module's private names, and an OpenAPI document whose fragments fit together."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import sealtrail
from sealtrail.api import openapi

ROOT = Path(sealtrail.__file__).parent


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports(path: Path) -> Iterator[tuple[str, list[str]]]:
    """(module, names) of every ``from … import …`` in ``path``, at any depth, except those
    only for type checkers."""
    tree = ast.parse(path.read_text())
    skip: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            skip |= {id(n) for n in ast.walk(node)}
    for node in ast.walk(tree):
        if id(node) in skip:
            continue
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            yield node.module, [a.name for a in node.names]
        elif isinstance(node, ast.Import):
            for a in node.names:
                yield a.name, []


def api_graph() -> dict[str, set[str]]:
    """sealtrail.api module → the sealtrail.api modules it imports (lazy imports included)."""
    files = {module_name(p): p for p in (ROOT / "api").rglob("*.py")}
    graph: dict[str, set[str]] = {m: set() for m in files}
    for mod, path in files.items():
        for target, names in imports(path):
            for cand in [target, *(f"{target}.{n}" for n in names)]:
                if cand in files and cand != mod:
                    graph[mod].add(cand)
    return graph


def test_no_import_circle_in_the_api_package() -> None:
    graph = api_graph()
    done: set[str] = set()

    def visit(node: str, stack: list[str]) -> None:
        if node in stack:
            cycle = [*stack[stack.index(node) :], node]
            raise AssertionError("import circle: " + " -> ".join(cycle))
        if node in done:
            return
        for nxt in sorted(graph[node]):
            visit(nxt, [*stack, node])
        done.add(node)

    for m in sorted(graph):
        # a package's __init__ importing its own submodules is not a circle unless they import
        # the package back, which the graph records as an edge to the package's name
        visit(m, [])


def test_no_api_module_imports_another_modules_private_names() -> None:
    for path in (ROOT / "api").rglob("*.py"):
        for target, names in imports(path):
            if not target.startswith("sealtrail"):
                continue
            private = [n for n in names if n.startswith("_") and not n.startswith("__")]
            assert not private, f"{module_name(path)} imports {private} from {target}"


def refs(obj: Any) -> Iterator[str]:
    if isinstance(obj, dict):
        for k, v in obj.items():
            if k == "$ref":
                yield v
            else:
                yield from refs(v)
    elif isinstance(obj, list):
        for v in obj:
            yield from refs(v)


def test_every_openapi_reference_resolves_and_every_schema_is_used() -> None:
    doc = openapi.spec()
    schemas = doc["components"]["schemas"]
    used = {r.removeprefix("#/components/schemas/") for r in refs(doc)}
    assert used <= set(schemas), sorted(used - set(schemas))
    assert set(schemas) <= used, sorted(set(schemas) - used)
