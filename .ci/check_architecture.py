"""Import rules that the import-linter contracts cannot state, checked in CI beside them.

1. No import cycles anywhere in ``cnnspec`` (module level or inside functions alike):
   every strongly connected component of the import graph has one module.
2. No module imports another module's private name (``from cnnspec.x import _y``), so a
   rename never breaks code that runs only now and then.

Prints what it finds and exits 1 on any violation.  Run: ``python .ci/check_architecture.py``.
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import grimp

ROOT = Path(__file__).resolve().parent.parent


def import_cycles(graph: grimp.ImportGraph) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    counter = 0
    for start in sorted(graph.modules):
        if start in index:
            continue
        work = [(start, iter(sorted(graph.find_modules_directly_imported_by(start))))]
        index[start] = low[start] = counter
        counter += 1
        stack.append(start)
        on_stack.add(start)
        while work:
            node, children = work[-1]
            advanced = False
            for child in children:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph.find_modules_directly_imported_by(child)))))
                    advanced = True
                    break
                if child in on_stack:
                    low[node] = min(low[node], index[child])
            if advanced:
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    found.append(sorted(component))
    return found


def private_imports(package: Path) -> list[str]:
    """``file:line: from cnnspec.x import _y`` for each private name imported across modules."""
    bad = []
    for path in sorted(package.rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("cnnspec"):
                for alias in node.names:
                    if alias.name.startswith("_") and not alias.name.startswith("__"):
                        bad.append(
                            f"{path.relative_to(package.parent)}:{node.lineno}: from {node.module} import {alias.name}"
                        )
    return bad


def main() -> int:
    sys.path.insert(0, str(ROOT))
    graph = grimp.build_graph("cnnspec")
    cycles = import_cycles(graph)
    for component in cycles:
        print("import cycle: " + " <-> ".join(component))
    private = private_imports(ROOT / "cnnspec")
    for line in private:
        print("private import: " + line)
    print(f"architecture: {len(graph.modules)} modules, {len(cycles)} import cycles, {len(private)} private imports")
    return 1 if cycles or private else 0


if __name__ == "__main__":
    sys.exit(main())
