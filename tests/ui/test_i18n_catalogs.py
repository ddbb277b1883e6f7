"""CI checks of the translation layer: every catalog complete, the template current, core's
messages still written in core, and the translator's plural forms, dates and negotiation."""

from __future__ import annotations

import datetime as dt
import re
import subprocess
import sys
from pathlib import Path

import pytest
from babel.messages.pofile import read_po

from core.i18n import LANGUAGES, LOCALES_DIR, SOURCE_LANGUAGE, negotiate, pseudo, translator

REPO_ROOT = Path(__file__).resolve().parents[2]
TRANSLATED = [code for code in LANGUAGES if code != SOURCE_LANGUAGE]
PLACEHOLDER = re.compile(r"\{\w+\}")


def read_catalog(language: str):
    with (LOCALES_DIR / language / "LC_MESSAGES" / "clinic.po").open("rb") as handle:
        return read_po(handle, locale=language)


def template_ids() -> set:
    with (LOCALES_DIR / "clinic.pot").open("rb") as handle:
        return {message.id for message in read_po(handle) if message.id}


@pytest.mark.parametrize("language", TRANSLATED)
def test_every_catalog_entry_is_translated_and_not_fuzzy(language: str) -> None:
    catalog = read_catalog(language)
    assert not catalog.fuzzy, f"{language}: the catalog header is marked fuzzy"
    problems = []
    for message in catalog:
        if not message.id:
            continue
        strings = message.string if isinstance(message.string, tuple) else (message.string,)
        if message.fuzzy:
            problems.append(f"fuzzy: {message.id!r}")
        elif not all(strings):
            problems.append(f"untranslated: {message.id!r}")
        else:
            wanted = set(PLACEHOLDER.findall(message.id[-1] if isinstance(message.id, tuple) else message.id))
            for text in strings:
                missing = wanted - set(PLACEHOLDER.findall(text)) - {"{n}"}
                if missing and not isinstance(message.id, tuple):
                    problems.append(f"placeholders {sorted(missing)} lost: {message.id!r}")
    assert not problems, f"{language}:\n" + "\n".join(problems)
    assert template_ids() <= {message.id for message in catalog if message.id}, (
        f"{language}: entries of locales/clinic.pot are missing; run make i18n-extract and translate them"
    )


def test_the_template_lists_every_message_in_the_code(tmp_path: Path) -> None:
    """A message added to the code without `make i18n-extract` fails here (and so in CI)."""
    fresh = tmp_path / "clinic.pot"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "babel.messages.frontend",
            "extract",
            "-q",
            "-F",
            "babel.cfg",
            "-o",
            str(fresh),
            ".",
        ],
        cwd=REPO_ROOT,
        check=False,
        capture_output=True,
    )
    if not fresh.exists():  # older Babel without a module entry point: the CLI
        pybabel = Path(sys.executable).with_name("pybabel")
        subprocess.run(
            [str(pybabel), "extract", "-F", "babel.cfg", "-o", str(fresh), "."],
            cwd=REPO_ROOT,
            check=True,
            capture_output=True,
        )
    with fresh.open("rb") as handle:
        in_code = {message.id for message in read_po(handle) if message.id}
    missing = in_code - template_ids()
    assert not missing, f"run make i18n-extract and translate: {sorted(map(str, missing))[:10]}"


def test_core_messages_listed_for_the_catalog_are_still_core_messages() -> None:
    from components.core_messages import CORE_MESSAGES

    source = "".join(path.read_text() for path in (REPO_ROOT / "core").rglob("*.py"))
    source = re.sub(r'"\s*\n\s*"', "", source)  # implicit concatenation of literals
    source = source.replace("{MIN_PASSWORD_LENGTH}", "10")
    stale = [message for message in CORE_MESSAGES if message not in source]
    assert not stale, f"core no longer says these (update components/core_messages.py): {stale}"


def test_quality_gate_instructions_are_whole_translated_sentences() -> None:
    """Every instruction the gate can give is a catalog entry: the patient reads it translated."""
    from core.vision import quality

    text = "\n".join(path.read_text() for path in sorted(Path(quality.__file__).parent.glob("*.py")))
    marked = set(re.findall(r'N_\(\s*"([^"]+)"\s*\)', text))
    assert len(marked) >= 35
    german = translator("de")
    for sentence in marked:
        assert german.gettext(sentence) != sentence, sentence


def test_plural_forms_dates_numbers_and_lists_follow_the_language() -> None:
    singular, plural = "{done} of {total} view done", "{done} of {total} views done"
    assert translator("de").ngettext(singular, plural, 3, done=1, total=3) == "1 von 3 Ansichten fertig"
    assert translator("en").ngettext(singular, plural, 1, done=0, total=1) == "0 of 1 view done"
    when = dt.datetime(2024, 3, 1, 9, 5, tzinfo=dt.UTC)
    assert translator("de").datetime(when, timezone="Europe/Amsterdam") == "01.03.2024, 10:05"
    assert translator("fr").number(1234.5, 1) == "1\u202f234,5"
    assert translator("de").join(["a", "b", "c"]) == "a, b und c"
    assert translator("ar").direction == "rtl" and translator("de").direction == "ltr"


def test_language_negotiation_from_accept_language() -> None:
    assert negotiate("de-CH,de;q=0.9,en;q=0.8") == "de"
    assert negotiate("ja,tr;q=0.5,en;q=0.4") == "tr"
    assert negotiate("ar-MA") == "ar"
    assert negotiate("ja, zh;q=0.9") == "en"
    assert negotiate(None) == "en"
    assert negotiate("en;q=0.1, nl") == "nl"


def test_pseudo_locale_keeps_placeholders_and_markup() -> None:
    text = pseudo("Sent {when} to **{name}** :material/check:")
    assert text.startswith("⟦") and text.endswith("⟧")
    assert "{when}" in text and "{name}" in text and "**" in text and ":material/check:" in text
    assert "Sent" not in text


@pytest.mark.parametrize("language", TRANSLATED)
def test_every_catalog_compiles_as_make_setup_does(language: str) -> None:
    """`make setup` runs pybabel compile, which refuses a catalog whose entries Babel's checkers
    fault (e.g. a message with '%' before a word reads as a %-format and its translation as a
    mismatch): every entry passes them."""
    catalog = read_catalog(language)
    problems = [f"line {message.lineno}: {error}" for message, errors in catalog.check() for error in errors]
    assert not problems, f"{language}:\n" + "\n".join(problems[:10])


def test_no_message_is_hidden_inside_an_f_string() -> None:
    """pybabel cannot see a _() or gettext() call inside an f-string's braces: such a message
    never reaches the catalog and shows in English. Translate into a variable first."""
    hidden = re.compile(r"""f["'][^\n]*\{\s*(?:_|N_|t\.gettext|tr\(\)\.gettext|ngettext)\(\s*["']""")

    found = []
    for folder in ("pages", "components", "core"):
        for path in (REPO_ROOT / folder).rglob("*.py"):
            for number, line in enumerate(path.read_text().splitlines(), 1):
                if hidden.search(line):
                    found.append(f"{path.relative_to(REPO_ROOT)}:{number}: {line.strip()}")
    assert not found, "\n".join(found)
