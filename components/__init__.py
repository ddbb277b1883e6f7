"""Reusable Streamlit widgets; the only place besides pages/ and app.py that imports Streamlit."""
