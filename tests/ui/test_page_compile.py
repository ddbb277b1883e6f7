"""Pages compile from their text (no Streamlit "magic"), so a garbage collection during a page's
compile cannot fail it, and an AppTest run of a page that does not compile fails loudly.

On CPython 3.11.7 `ast.parse` fails with "SystemError: AST constructor recursion depth mismatch"
when a collection during the parse runs a finalizer that itself formats a traceback
(python/cpython#106905, fixed in 3.11.8). With magic, Streamlit compiles each page through
`ast.parse`; in a full test run the finalizers were those of asyncio tasks earlier tests left
pending, and AppTest, which reports compile errors nowhere, returned a run of pages/register.py
with no elements at all.
"""

from __future__ import annotations

import ast
import contextlib
import gc
import sys
import tomllib
import traceback
from collections.abc import Iterator
from pathlib import Path

import pytest
from streamlit.runtime.scriptrunner.script_cache import ScriptCache
from streamlit.testing.v1 import AppTest

from core.consent import consent_text
from tests.ui.conftest import APP_TIMEOUT_S, REPO_ROOT

# Interpreters whose AST constructor shares one recursion counter between parses.
SHARED_AST_COUNTER = (3, 11) <= sys.version_info[:3] < (3, 11, 8)


class _Litter:
    """Cyclic garbage whose finalizer formats a traceback (as asyncio's "Task was destroyed but it
    is pending!" and pytest's unraisable-exception hook do) and leaves new garbage behind, so
    every collection for a while finds some."""

    left = 0

    def __init__(self) -> None:
        self.cycle = self

    def __del__(self) -> None:
        try:
            {}["missing"] + 1  # a caret under part of the line: traceback parses the segment
        except KeyError as error:
            with contextlib.suppress(Exception):
                traceback.format_exception(error)
        if _Litter.left > 0:
            _Litter.left -= 1
            _Litter()


@contextlib.contextmanager
def finalizers_in_every_collection() -> Iterator[None]:
    """A collection every few allocations, each running a finalizer that parses."""
    thresholds = gc.get_threshold()
    _Litter.left = 2_000
    _Litter()
    gc.set_threshold(50)
    try:
        yield
    finally:
        gc.set_threshold(*thresholds)
        _Litter.left = 0
        gc.collect()


@pytest.fixture
def page_compiles_among_finalizers() -> Iterator[None]:
    """The conditions of the failed run, made certain: they hold while a page is compiled."""
    compile_page = ScriptCache.get_bytecode

    def get_bytecode(self: ScriptCache, script_path: str) -> object:
        with finalizers_in_every_collection():
            return compile_page(self, script_path)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(ScriptCache, "get_bytecode", get_bytecode)
        yield


def test_the_server_compiles_pages_without_magic() -> None:
    config = tomllib.loads((REPO_ROOT / ".streamlit/config.toml").read_text())
    assert config["runner"]["magicEnabled"] is False


def test_the_conditions_fail_a_parse_but_never_a_compile_from_text() -> None:
    """What the page test below guards against is real on this interpreter."""
    source = (REPO_ROOT / "pages/register.py").read_text()
    with finalizers_in_every_collection():
        compile(source, "register.py", "exec")  # no AST objects: no shared counter
    if not SHARED_AST_COUNTER:
        pytest.skip("this interpreter's AST constructor counts per parse (python/cpython#106905)")
    with finalizers_in_every_collection(), pytest.raises(SystemError, match="recursion depth mismatch"):
        ast.parse(source)


def test_a_page_compiled_among_finalizers_runs_in_full(clinic, page_compiles_among_finalizers: None) -> None:
    from components.i18n import LANGUAGE_KEY

    app = AppTest.from_file(str(REPO_ROOT / "pages/register.py"), default_timeout=APP_TIMEOUT_S)
    app.session_state[LANGUAGE_KEY] = "de"
    app.run()
    assert not app.exception
    shown = "\n".join(str(element.value) for element in app.markdown)
    assert consent_text("telemedicine", "de").title in shown, app.main


def test_a_page_that_does_not_compile_fails_its_run(tmp_path: Path) -> None:
    page = tmp_path / "broken.py"
    page.write_text("import streamlit as st\nst.title('never shown'\n")
    app = AppTest.from_file(str(page), default_timeout=APP_TIMEOUT_S)
    with pytest.raises(RuntimeError, match=r"broken\.py did not compile: SyntaxError"):
        app.run()
