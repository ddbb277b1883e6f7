"""The layering rules the code relies on, checked on every run (docs/ARCHITECTURE.md):
core/ never imports Streamlit, no import cycle inside core/, and the type checker is clean on
core/ and components/ (the seams between areas are typed, not guessed)."""

from __future__ import annotations

import ast
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
CORE = REPO / "core"


def _module_name(path: Path) -> str:
    parts = path.relative_to(REPO).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: Path, modules: set[str]) -> set[str]:
    """The core modules `path` imports (anywhere in the file, TYPE_CHECKING blocks included:
    a type-only import still couples the two modules)."""
    found: set[str] = set()
    package = _module_name(path) if path.name == "__init__.py" else _module_name(path).rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text())):
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            names = [f"{base}.{alias.name}" for alias in node.names] + [base]
        for name in names:
            while name and name not in modules:
                name = name.rpartition(".")[0]
            if name and name.startswith("core."):
                found.add(name)
    found.discard(_module_name(path))
    return found


def import_graph() -> dict[str, set[str]]:
    paths = sorted(CORE.rglob("*.py"))
    modules = {_module_name(path) for path in paths}
    # A package's __init__ is not an edge target of its own submodules' relative imports.
    return {_module_name(path): _imports(path, modules) - {"core"} for path in paths}


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    sys.setrecursionlimit(max(sys.getrecursionlimit(), 10_000))

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in graph.get(node, ()):
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
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def streamlit_importers() -> list[str]:
    """The core files that import Streamlit."""
    offenders = []
    for path in sorted(CORE.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            names = (
                [alias.name for alias in node.names]
                if isinstance(node, ast.Import)
                else [node.module or ""]
                if isinstance(node, ast.ImportFrom)
                else []
            )
            if any(name == "streamlit" or name.startswith("streamlit.") for name in names):
                offenders.append(str(path.relative_to(REPO)))
    return offenders


def in_fresh_interpreter(expression: str) -> object:
    """The JSON value of `expression` (over this module's functions) computed in a new Python
    process. CPython 3.11 keeps the AST constructor's recursion counter per interpreter, so
    `ast.parse` in this process can fail with "AST constructor recursion depth mismatch" while
    another thread parses at the same time (python/cpython#106905): a Streamlit script run left by
    an earlier test parses its page for "magic". A fresh interpreter has no such thread."""
    code = (
        f"import json, sys; sys.path.insert(0, {str(REPO)!r}); "
        f"from tests.test_architecture import *; print(json.dumps({expression}))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, timeout=120)
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.splitlines()[-1])


def test_no_import_cycle_in_core() -> None:
    assert in_fresh_interpreter("cycles(import_graph())") == []


def test_the_cycle_check_sees_a_cycle() -> None:
    assert cycles({"core.a": {"core.b"}, "core.b": {"core.c"}, "core.c": {"core.a"}, "core.d": set()}) == [
        ["core.a", "core.b", "core.c"]
    ]
    # the parser finds real edges
    assert in_fresh_interpreter('"core.consult.cases" in import_graph()["core.clinic"]') is True


def test_core_never_imports_streamlit() -> None:
    assert in_fresh_interpreter("streamlit_importers()") == []


def test_the_type_checker_is_clean_on_core_and_components() -> None:
    pyright = shutil.which("pyright", path=str(Path(sys.executable).parent))
    if pyright is None:
        pytest.fail("pyright is pinned in requirements.txt: run `make setup`")
    result = subprocess.run([pyright], cwd=REPO, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stdout[-4000:]
