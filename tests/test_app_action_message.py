"""An action's message in Streamlit's AppTest (dashboard.action_message): shown under its control on the next
run, with the script that brings it into view, once or until cleared. That it really comes into view when the
button sat at the bottom of the screen: tests/test_browser_classroom.py."""

from __future__ import annotations

from streamlit.testing.v1 import AppTest

from dashboard.plain_text import escape

TYPED = "Bo's [model](http://127.0.0.1:9/x)"  # what a student typed, quoted in a message


def page_with_a_button(keep, typed):
    """A button whose callback reports a refusal quoting ``typed``, a Clear button, and the message under them."""
    import streamlit as st

    from dashboard import action_message

    st.button("Delete", on_click=action_message.report, args=("here", "error", f"{typed} is not yours."))
    st.button("Clear", on_click=action_message.clear, args=("here",))
    action_message.show("here", keep=keep)


def app(keep: bool) -> AppTest:
    return AppTest.from_function(page_with_a_button, kwargs={"keep": keep, "typed": TYPED}, default_timeout=30)


def scripts(at) -> list[str]:
    return [element.proto.body for element in at.get("html")]


def test_a_message_shows_once_under_its_button_escaped_with_the_script_that_scrolls_it_into_view():
    at = app(keep=False).run()
    assert not at.error and not scripts(at)
    at.button[0].click().run()
    assert [error.value for error in at.error] == [escape(f"{TYPED} is not yours.")]  # shown as typed: no link
    (script,) = scripts(at)
    assert "scrollIntoView" in script and at.get("html")[0].proto.unsafe_allow_javascript
    at.run()  # any later run: gone
    assert not at.error and not scripts(at)


def test_a_kept_message_stays_until_cleared_with_the_same_action_id_and_a_new_report_gets_a_new_one():
    at = app(keep=True).run()
    at.button[0].click().run()
    first = scripts(at)
    at.run()  # the same action: the same script, so the browser does not scroll the page again
    assert len(at.error) == 1 and scripts(at) == first
    at.button[0].click().run()  # pressed again: a new action, brought into view again
    assert len(at.error) == 1 and scripts(at) != first
    at.button[1].click().run()
    assert not at.error and not scripts(at)
