"""The translation layer: gettext catalogs (Babel) per language, plural forms, and dates,
times and numbers in the reader's language. Never imports Streamlit (pages use
`components.i18n`, which picks the language for the current browser and account).

- Messages are English (the source language) and go through `Translator.gettext` (`_`) or
  `Translator.ngettext`; placeholders are named (`"Sent {when}"`), filled after translation,
  so a sentence is never glued together from translated pieces.
- `N_("...")` marks a message defined before anyone reads it (module-level labels); it is
  translated where it is shown, with `_()`.
- Catalogs: `locales/<lang>/LC_MESSAGES/clinic.po`, compiled to `.mo` by `make setup`
  (`pybabel compile`); when a `.mo` is missing or older than its `.po` the `.po` is compiled in
  memory, so a fresh checkout shows the same words. `make i18n-extract` refreshes the template.
- `en_XA` is a pseudo-locale made by code (every message accented and bracketed): a page run in
  it shows at once any text that bypasses the catalog (tests/ui/test_i18n_pseudo.py).
"""

from __future__ import annotations

import datetime as dt
import functools
import gettext
import io
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from babel import Locale, UnknownLocaleError
from babel import dates as babel_dates
from babel import numbers as babel_numbers

LOCALES_DIR = Path(__file__).resolve().parents[1] / "locales"
DOMAIN = "clinic"
SOURCE_LANGUAGE = "en"
# The languages people can choose, each named in itself.
LANGUAGES: dict[str, str] = {
    "en": "English",
    "de": "Deutsch",
    "fr": "Français",
    "es": "Español",
    "nl": "Nederlands",
    "tr": "Türkçe",
    "ar": "العربية",
}
RTL_LANGUAGES: frozenset[str] = frozenset({"ar"})
PSEUDO_LOCALE = "en_XA"
PSEUDO_OPEN, PSEUDO_CLOSE = "⟦", "⟧"


def N_(message: str) -> str:  # noqa: N802 - the gettext convention for "translate later"
    """Mark `message` for the catalog without translating it now."""
    return message


def upper_first(text: str) -> str:
    """The first letter in upper case, the rest as it is (str.capitalize would lower German nouns)."""
    return text[:1].upper() + text[1:]


def normalise_language(code: str | None) -> str | None:
    """'de-DE' / 'de_de' / 'DE' -> 'de' when it is one of LANGUAGES (the pseudo-locale passes)."""
    if not code:
        return None
    code = code.strip().replace("-", "_")
    if code.lower() == PSEUDO_LOCALE.lower():
        return PSEUDO_LOCALE
    base = code.split("_")[0].lower()
    return base if base in LANGUAGES else None


def negotiate(accept_language: str | None, default: str = SOURCE_LANGUAGE) -> str:
    """The best of LANGUAGES for an HTTP Accept-Language header ('de-CH,de;q=0.9,en;q=0.5')."""
    weighted: list[tuple[float, int, str]] = []
    for index, part in enumerate((accept_language or "").split(",")):
        tag, _, params = part.strip().partition(";")
        quality = 1.0
        match = re.search(r"q=([0-9.]+)", params)
        if match:
            try:
                quality = float(match.group(1))
            except ValueError:
                quality = 0.0
        if tag and tag != "*" and quality > 0:
            weighted.append((-quality, index, tag))
    for _, _, tag in sorted(weighted):
        language = normalise_language(tag)
        if language and language != PSEUDO_LOCALE:
            return language
    return default


# --------------------------------------------------------------------------------------------
# catalogs


def catalog_path(language: str, suffix: str = ".po") -> Path:
    return LOCALES_DIR / language / "LC_MESSAGES" / f"{DOMAIN}{suffix}"


def _placeholder_safe(text: str) -> list[tuple[bool, str]]:
    """Split `text` into (translatable, piece): placeholders, markdown markup and icons stay."""
    pattern = re.compile(r"(\{[^{}]*\}|%\([^)]*\)[sd]|:material/[a-z_]+:|\*\*|https?://\S+|\n)")
    pieces: list[tuple[bool, str]] = []
    position = 0
    for match in pattern.finditer(text):
        if match.start() > position:
            pieces.append((True, text[position : match.start()]))
        pieces.append((False, match.group(0)))
        position = match.end()
    if position < len(text):
        pieces.append((True, text[position:]))
    return pieces


_ACCENTS = str.maketrans(
    "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ",
    "àƀçđéƒĝĥîĵķĺɱñöþǫŕšţûṽŵẋýžÀƁÇĐÉƑĜĤÎĴĶĹṀÑÖÞǪŔŠŢÛṼŴẊÝŽ",
)


def pseudo(text: str) -> str:
    """The pseudo-locale's version of a message: accented, bracketed, placeholders intact."""
    if not text:
        return text
    body = "".join(piece.translate(_ACCENTS) if free else piece for free, piece in _placeholder_safe(text))
    return f"{PSEUDO_OPEN}{body}{PSEUDO_CLOSE}"


class PseudoTranslations(gettext.NullTranslations):
    def gettext(self, message: str) -> str:
        return pseudo(message)

    def ngettext(self, msgid1: str, msgid2: str, n: int) -> str:
        return pseudo(msgid1 if n == 1 else msgid2)

    def pgettext(self, context: str, message: str) -> str:
        return pseudo(message)


def _compile_po(po_path: Path) -> gettext.GNUTranslations:
    from babel.messages.mofile import write_mo
    from babel.messages.pofile import read_po

    with po_path.open("rb") as handle:
        catalog = read_po(handle, locale=po_path.parts[-3])
    buffer = io.BytesIO()
    write_mo(buffer, catalog)  # fuzzy entries left out, as pybabel compile does
    buffer.seek(0)
    return gettext.GNUTranslations(buffer)


@functools.cache
def _catalog(language: str) -> gettext.NullTranslations:
    if language == PSEUDO_LOCALE:
        return PseudoTranslations()
    if language == SOURCE_LANGUAGE:
        return gettext.NullTranslations()
    po_path, mo_path = catalog_path(language), catalog_path(language, ".mo")
    if mo_path.exists() and (not po_path.exists() or mo_path.stat().st_mtime >= po_path.stat().st_mtime):
        with mo_path.open("rb") as handle:
            return gettext.GNUTranslations(handle)
    if po_path.exists():
        return _compile_po(po_path)
    return gettext.NullTranslations()


def reload_catalogs() -> None:
    """Forget loaded catalogs (after `make i18n-compile` in a running process, and in tests)."""
    _catalog.cache_clear()


# --------------------------------------------------------------------------------------------
# the translator


@dataclass(frozen=True)
class Translator:
    """Messages, plural forms, dates and numbers for one language."""

    language: str

    @property
    def _messages(self) -> gettext.NullTranslations:
        return _catalog(self.language)

    @property
    def babel_locale(self) -> Locale:
        code = SOURCE_LANGUAGE if self.language == PSEUDO_LOCALE else self.language
        try:
            return Locale.parse(code)
        except (UnknownLocaleError, ValueError):
            return Locale.parse(SOURCE_LANGUAGE)

    @property
    def direction(self) -> str:
        return "rtl" if self.language in RTL_LANGUAGES else "ltr"

    @property
    def html_lang(self) -> str:
        return SOURCE_LANGUAGE if self.language == PSEUDO_LOCALE else self.language

    def gettext(self, message: str, /, **values: Any) -> str:
        """The message in this language; named placeholders filled from `values`."""
        if not message:
            return message
        text = self._messages.gettext(message)
        return text.format(**values) if values else text

    __call__ = gettext

    def ngettext(self, singular: str, plural: str, n: int, /, **values: Any) -> str:
        """The plural form for `n` (the placeholder `{n}` is the count, localised)."""
        text = self._messages.ngettext(singular, plural, n)
        return text.format(n=self.number(n), **values)

    # dates, times, numbers ------------------------------------------------------------------
    def date(self, value: dt.date, format: str = "medium") -> str:
        return babel_dates.format_date(value, format=format, locale=self.babel_locale)

    def datetime(self, value: dt.datetime, format: str = "medium", timezone: str | None = None) -> str:
        """A date and time in `timezone` (an IANA name; the value's own zone when None)."""
        tzinfo = None
        if timezone and value.tzinfo is not None:
            try:
                tzinfo = babel_dates.get_timezone(timezone)
            except LookupError:
                tzinfo = None
        if format == "medium":
            # to the minute: seconds mean nothing to a patient
            pattern = self.babel_locale.datetime_formats["medium"].format(
                self.babel_locale.time_formats["short"], self.babel_locale.date_formats["medium"]
            )
            if tzinfo is not None:
                value = value.astimezone(tzinfo)
            return babel_dates.format_datetime(value, format=pattern, locale=self.babel_locale)
        return babel_dates.format_datetime(value, format=format, tzinfo=tzinfo, locale=self.babel_locale)

    def time(self, value: dt.time | dt.datetime, format: str = "short") -> str:
        return babel_dates.format_time(value, format=format, locale=self.babel_locale)

    def number(self, value: float, decimals: int | None = None) -> str:
        if decimals is None:
            return babel_numbers.format_decimal(value, locale=self.babel_locale)
        pattern = "#,##0" + ("." + "0" * decimals if decimals > 0 else "")
        return babel_numbers.format_decimal(value, format=pattern, locale=self.babel_locale)

    def join(self, items: list[str]) -> str:
        """'front, left side and right side' in this language (Babel's list patterns)."""
        from babel.lists import format_list

        return format_list(list(items), locale=self.babel_locale) if items else ""

    def language_name(self, code: str | None) -> str:
        """A language's name in this language ('de' -> 'German' in English, 'Deutsch' in German)."""
        base = normalise_language(code)
        if base is None or base == PSEUDO_LOCALE:
            name = code or ""
        else:
            try:
                name = Locale.parse(base).get_display_name(self.babel_locale) or base
            except (UnknownLocaleError, ValueError):
                name = base
        return pseudo(name) if self.language == PSEUDO_LOCALE else name

    def percent(self, value: float, decimals: int = 0) -> str:
        """A fraction as a percentage in this language (0.131 -> '13.1%', '13,1 %', '%13,1')."""
        pattern = self.babel_locale.percent_formats[None].pattern  # where the sign goes, per language
        if decimals > 0:
            pattern = pattern.replace("0", "0." + "0" * decimals, 1)
        return babel_numbers.format_percent(value, format=pattern, locale=self.babel_locale)


@functools.cache
def translator(language: str | None) -> Translator:
    """The translator for a language code ('de', 'de-DE'); English for unknown codes."""
    return Translator(normalise_language(language) or SOURCE_LANGUAGE)
