"""Streamlit's own widget words (components/widget_words.py): what the page bridge sends per language."""

from __future__ import annotations

import re

import pytest

from components.widget_words import STREAMLIT_WORDS, widget_words
from core.i18n import LANGUAGES, PSEUDO_LOCALE, SOURCE_LANGUAGE, translator

PLACEHOLDER = re.compile(r"\{\w+\}")


def test_in_english_there_is_nothing_to_swap() -> None:
    assert widget_words(translator(SOURCE_LANGUAGE)) == {}


def test_the_pseudo_locale_swaps_every_word_so_a_page_run_in_it_shows_any_left_over() -> None:
    words = widget_words(translator(PSEUDO_LOCALE))
    assert set(words) == set(STREAMLIT_WORDS)


@pytest.mark.parametrize("language", [code for code in LANGUAGES if code != SOURCE_LANGUAGE])
def test_every_word_is_translated_with_its_placeholders(language: str) -> None:
    words = widget_words(translator(language))
    # A word may read the same in a language ("dd" in Spanish); then there is nothing to swap.
    same = [english for english in STREAMLIT_WORDS if english not in words]
    assert all(translator(language)(english) == english for english in same)
    assert len(words) >= len(STREAMLIT_WORDS) - 6, f"{language}: untranslated widget words: {same}"
    for english, translated in words.items():
        assert sorted(PLACEHOLDER.findall(translated)) == sorted(PLACEHOLDER.findall(english)), (
            language,
            english,
        )
