"""The projector's type: what ``?present=1`` (the present view) and the Lecture's "Presenting" apply.

Streamlit sizes its text, code, tables, spacing and its charts' labels in rem, so raising the root font size
from 16 px to 24 px enlarges all of it at once, as a browser's zoom would: body text 24 px, code and
captions 21 px, tables and chart labels 18 px (computed sizes in Chromium at 1366x768,
tests/test_browser_classroom.py). Only what is sized in pixels needs its own rule: the pixel table.
"""

from __future__ import annotations

LARGE_TYPE_CSS = """<style>
html { font-size: 24px !important; }
table.pixel-table { font-size: 16px !important; }  /* over its own inline 9 px */
table.pixel-table td { width: 30px; height: 24px; }
</style>"""
