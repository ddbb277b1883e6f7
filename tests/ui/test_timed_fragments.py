"""Pages that show a timed fragment (`st.fragment(run_every=...)`) end their runs by returning.

A run that ends with st.stop() leaves the previous run's fragments registered in Streamlit, so a
tick already on its way re-runs such a fragment into a layout that no longer exists, and the
browser's page goes blank ("Cannot set a node at a delta path"). That is how the patient's live
consult page went blank when the physician ended the call. See docs/ARCHITECTURE.md.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
PAGES = sorted((REPO_ROOT / "pages").glob("*.py"))
COMPONENT_REFERENCE = re.compile(r"components\.(\w+)")


def _has_timed_fragment(source: str) -> bool:
    return any(
        isinstance(node, ast.keyword) and node.arg == "run_every" for node in ast.walk(ast.parse(source))
    )


def _st_stop_lines(source: str) -> list[int]:
    return [
        node.lineno
        for node in ast.walk(ast.parse(source))
        if isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr == "stop"
        and isinstance(node.func.value, ast.Name)
        and node.func.value.id == "st"
    ]


def _component_sources() -> dict[str, str]:
    return {path.stem: path.read_text() for path in (REPO_ROOT / "components").glob("*.py")}


def _components_with_timed_fragments() -> set[str]:
    """Components that define a timed fragment, or use one that does (followed transitively)."""
    sources = _component_sources()
    # components.session only defines `session_fragment`; a caller passes run_every itself.
    timed = {name for name, source in sources.items() if name != "session" and _has_timed_fragment(source)}
    while True:
        more = {
            name
            for name, source in sources.items()
            if name not in timed and set(COMPONENT_REFERENCE.findall(source)) & timed
        }
        if not more:
            return timed
        timed |= more


def shows_timed_fragment(page: Path) -> bool:
    """The page or a component it uses (directly or through other components) has a timed fragment."""
    source = page.read_text()
    return _has_timed_fragment(source) or bool(
        set(COMPONENT_REFERENCE.findall(source)) & _components_with_timed_fragments()
    )


def test_the_live_pages_and_the_case_page_are_recognised_as_showing_timed_fragments() -> None:
    timed = {page.name for page in PAGES if shows_timed_fragment(page)}
    assert {"patient_live_consult.py", "physician_live_consult.py", "physician_case.py"} <= timed
    assert "admin_users.py" not in timed


def test_no_page_with_a_timed_fragment_ends_a_run_with_st_stop() -> None:
    offenders = {
        page.name: lines
        for page in PAGES
        if shows_timed_fragment(page) and (lines := _st_stop_lines(page.read_text()))
    }
    assert offenders == {}, f"st.stop() in pages with timed fragments (use return): {offenders}"


def _components_that_stop() -> set[str]:
    """Names of functions in components/ whose body calls st.stop() (e.g. session.require_role)."""
    names: set[str] = set()
    for component in (REPO_ROOT / "components").glob("*.py"):
        for node in ast.walk(ast.parse(component.read_text())):
            if isinstance(node, ast.FunctionDef) and _st_stop_lines(ast.unparse(node)):
                names.add(node.name)
    return names


def _calls(source: str, names: set[str]) -> list[int]:
    return [
        node.lineno
        for node in ast.walk(ast.parse(source))
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in names
    ]


def test_no_page_with_a_timed_fragment_calls_a_component_that_stops_the_run() -> None:
    stopping = _components_that_stop()
    assert "require_role" in stopping  # the rule sees through components/session.py
    offenders = {
        page.name: lines
        for page in PAGES
        if shows_timed_fragment(page) and (lines := _calls(page.read_text(), stopping))
    }
    assert offenders == {}, (
        f"pages with timed fragments call st.stop() helpers (use signed_in_as): {offenders}"
    )


def test_the_rule_catches_st_stop_in_a_page_with_a_timed_fragment(tmp_path: Path) -> None:
    page = tmp_path / "page.py"
    page.write_text(
        "import streamlit as st\n"
        "@st.fragment(run_every=1)\n"
        "def poll():\n    st.write('tick')\n"
        "if st.session_state.get('ended'):\n    st.stop()\n"
        "poll()\n"
    )
    assert shows_timed_fragment(page)
    assert _st_stop_lines(page.read_text()) == [6]
