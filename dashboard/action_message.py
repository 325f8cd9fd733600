"""What a button or an upload said (a refusal, an error, a success), right under it and in view.

Streamlit never scrolls a page. A student who pressed Delete at the bottom of the screen had the refusal drawn
under the button, below the fold: in Chromium at 1366x768 it was out of view in 2 runs of 3
(tests/test_browser_classroom.py). So each message comes with a few lines of JavaScript that scroll it into view,
as little as needed (``block: "nearest"``), once per action: a later run of the page that shows the same message
again leaves the page where the user put it.

A callback reports (``report``) and the page shows the message where the control is (``show``).
"""

from __future__ import annotations

import uuid
from typing import Literal

import streamlit as st

from dashboard.plain_text import escape

Kind = Literal["error", "warning", "success", "info"]
PREFIX = "action_message_"  # + where: (kind, text, action id) in the session's state

# The message's container, scrolled into view once per action id: a window-wide set remembers which ids this tab
# has already brought into view. Streamlit runs a script again only when its element is drawn anew.
SCROLL_INTO_VIEW = """<script>
(() => {
  const shown = (window.mnistActionsShown ??= new Set());
  if (shown.has("ACTION_ID")) return;
  shown.add("ACTION_ID");
  const message = document.currentScript.closest('[data-testid="stVerticalBlock"]');
  requestAnimationFrame(() => message.scrollIntoView({block: "nearest"}));
})();
</script>"""


def report(where: str, kind: Kind, text: str) -> None:
    """From a callback: the message ``show(where)`` draws on the page's next run. ``text`` is plain text (a name or
    an error may quote what a user typed): it is escaped when shown."""
    st.session_state[PREFIX + where] = (kind, text, uuid.uuid4().hex)


def clear(where: str) -> None:
    """No message at ``where`` any more (the action succeeded)."""
    st.session_state.pop(PREFIX + where, None)


def show(where: str, keep: bool = False) -> None:
    """The message reported for ``where``, if any, scrolled into view the first time it is drawn.

    keep : draw it on every later run too, until ``clear`` or the next ``report`` (a refusal that stands while
        the student changes the form); else once.
    """
    message = st.session_state.get(PREFIX + where) if keep else st.session_state.pop(PREFIX + where, None)
    if message is None:
        return
    kind, text, action_id = message
    with st.container(gap=None):  # the alert and its script, one block to bring into view
        getattr(st, kind)(escape(text))
        st.html(SCROLL_INTO_VIEW.replace("ACTION_ID", action_id), unsafe_allow_javascript=True)
