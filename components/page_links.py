"""Links to the portal's own pages inside a page's text.

On a phone the menu is folded away, so a message never sends people to "the menu": it names the
page and gives a link that opens it.
"""

from __future__ import annotations

import streamlit as st
from streamlit.errors import StreamlitPageNotFoundError


def link_to_page(path: str, label: str, icon: str | None = None) -> None:
    """A link to `path` (a file in pages/, as in app.py's PAGES) labelled `label`.

    A page run on its own, outside app.py's navigation (a test harness running one page file),
    has no pages to link to: the label then shows as text, so the sentence stays.
    """
    try:
        st.page_link(path, label=label, icon=icon)
    except StreamlitPageNotFoundError:
        st.markdown(f"**{label}**")
