"""The clinic portal's core: storage, crypto, auth, workflow, vision, assessment and AR.

Nothing in this package imports Streamlit; every piece is testable without a browser.
"""

__version__ = "0.1.0"
