"""The engine's sha256 covers every file that can change a number it reports."""

from __future__ import annotations

import ast
from pathlib import Path

from core.assessment import engine
from core.paths import REPO_ROOT

MEASURING_PACKAGES = ("core.assessment", "core.vision")


def _module_file(module: str) -> Path | None:
    base = REPO_ROOT.joinpath(*module.split("."))
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


def _imports(path: Path) -> set[str]:
    """Modules named by every import in the file, function-level (lazy) imports included."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
    return found


def _engine_modules() -> dict[str, Path]:
    """The engine and everything it imports, transitively, within the assessment and vision packages."""
    seen: dict[str, Path] = {}
    pending = ["core.assessment.engine"]
    while pending:
        module = pending.pop()
        path = _module_file(module)
        if module in seen or path is None or not module.startswith(MEASURING_PACKAGES):
            continue
        seen[module] = path
        pending.extend(_imports(path))
    return seen


def test_every_module_the_engine_imports_is_hashed():
    covered = set(engine.engine_source_files())
    modules = _engine_modules()
    # The walk must really follow imports (a broken walk would pass trivially).
    assert {
        "core.assessment.colour_chart",
        "core.assessment.canonical",
        "core.assessment.registry",  # imported lazily
        "core.vision.regions",
        "core.vision.landmarks",
        "core.vision.quality",
    } <= set(modules)
    missing = {name for name, path in modules.items() if path not in covered}
    assert not missing, f"engine modules outside the version hash: {sorted(missing)}"


def test_the_hash_covers_the_filter_bank_builder_and_only_existing_files():
    files = engine.engine_source_files()
    assert REPO_ROOT / "scripts" / "build_filterbank.py" in files
    assert all(path.is_file() for path in files)


def test_identity_names_the_version_and_changes_with_the_filter_bank(monkeypatch):
    from core.assessment import filterbank

    identity = engine.engine_identity()
    assert identity["version"] == engine.ENGINE_VERSION and len(identity["sha256"]) == 64
    assert engine.engine_identity()["sha256"] == identity["sha256"]  # stable

    real = filterbank.load_filterbank(None)

    class OtherBank:
        version, sha256 = real.version, "0" * 64

    monkeypatch.setattr(engine, "load_filterbank", lambda *args, **kwargs: OtherBank())
    assert engine.engine_identity()["sha256"] != identity["sha256"]
