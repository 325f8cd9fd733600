"""The sidebar every page shares: where the digits came from, the active model, this session's run,
the student's name and the teacher's unlock; and the projector's present view."""

from __future__ import annotations

import streamlit as st

from core.classroom.identity import teacher_key_set
from dashboard import caches, session
from dashboard.large_type import LARGE_TYPE_CSS
from dashboard.plain_text import escape

FULL_SET_HINT = ("For the full 70,000 digits: set MNIST_PATH to an MNIST .npz, put mnist.npz in "
                 "~/.keras/datasets/, or upload it on the Digits page.")
NAME_INPUT = "sidebar_name"
NAME_POPOVER = "sidebar_name_popover"  # the popover that holds the name box: open or folded
NAME_ERROR = "sidebar_name_error"
PASSPHRASE_INPUT = "sidebar_teacher_passphrase"
PASSPHRASE_ERROR = "sidebar_teacher_error"
TRAINING_REFRESH_SECONDS = 1.0  # how often the sidebar's "Training: N% done" is redrawn during a run
# The projector: larger type (dashboard.large_type); the sidebar, the header and every input and button hidden.
PRESENT_CSS = LARGE_TYPE_CSS + """<style>
[data-testid="stSidebar"], [data-testid="stSidebarCollapsedControl"], [data-testid="stHeader"],
[data-testid="stButton"], [data-testid="stDownloadButton"], [data-testid="stTextInput"],
[data-testid="stNumberInput"], [data-testid="stSelectbox"], [data-testid="stMultiSelect"],
[data-testid="stCheckbox"], [data-testid="stSlider"], [data-testid="stRadio"], [data-testid="stFileUploader"],
[data-testid="stSegmentedControl"], [data-testid="stPopover"] { display: none !important; }
</style>"""


def sidebar() -> None:
    session.collect_finished_run()
    _, data = session.dataset()
    _, _, problem = caches.default_data()
    with st.sidebar:
        if data.is_sample:
            st.warning(f"**Data:** {escape(data.description)}. {FULL_SET_HINT}")
        else:
            full = len(data.x_train) == 60_000 and len(data.x_test) == 10_000
            uploaded = " (uploaded)" if session.has_upload() else ""
            st.markdown(f"**Data:** {'full MNIST, ' if full else ''}{escape(data.description)}{uploaded}")
        if problem and not session.has_upload():
            st.error(escape(problem))
        model = session.active_model()
        if model is None:
            st.markdown("**Active model:** none saved yet; train one on the Train page.")
        else:
            st.markdown(f"**Active model:** {escape(model.name)} ({session.owner_text(model)}, "
                        f"{model.test_accuracy:.2%} on test digits)")
        if session.training_running():
            training_status()
        name_box()
        if teacher_key_set():
            teacher_box()


@st.fragment(run_every=TRAINING_REFRESH_SECONDS)
def training_status() -> None:
    """This session's run, redrawn on its own: a page's own redraws (the Train page's live chart is a fragment)
    never reach the sidebar, whose percentage stayed at its first 0% for the whole run."""
    snapshot = session.progress()
    if snapshot is None or snapshot.done:
        st.rerun()  # the whole page: it collects the finished run, and the sidebar drops this line
    st.progress(snapshot.fraction, text=f"Training: {snapshot.fraction:.0%} done; watch it on the Train page")


def present_view() -> None:
    """Apply the projector view when this session asked for it with ?present=1."""
    if session.present_view():
        st.html(PRESENT_CSS)


def _name_entered() -> None:
    try:
        session.set_student_name(st.session_state[NAME_INPUT])
        st.session_state.pop(NAME_ERROR, None)
        st.session_state[NAME_POPOVER] = False  # done: fold the box away
    except ValueError as error:
        st.session_state[NAME_ERROR] = f"{error}."


def name_box() -> None:
    """The student's name: their saved models carry it, and only they may rename or delete those.

    The text box sits in a popover that shows the name: the browser fetches a text box's code (about 20
    files) before it paints a page that shows one, 0.2-0.3 s of every first page on a cold 2-core machine,
    and a popover's content only when it is opened."""
    if NAME_INPUT not in st.session_state:
        st.session_state[NAME_INPUT] = session.student_name()
    name = session.student_name()
    label = f"Your name: {escape(name)}" if name else "Your name"
    with st.popover(label, key=NAME_POPOVER, on_change="rerun", width="stretch", icon=":material/person:"):
        st.text_input("Your name", key=NAME_INPUT, on_change=_name_entered, max_chars=32,
                      help="Your saved models carry your name; only you (or the teacher) can rename or delete them.")
    if st.session_state.get(NAME_ERROR):
        st.error(escape(st.session_state[NAME_ERROR]))


def _unlock() -> None:
    """Unlock with the passphrase typed, as the server's guard allows (core.classroom.identity.PassphraseGuard)."""
    address = st.context.ip_address  # None on this machine (and not a string at all in Streamlit's AppTest)
    unlocked, message = caches.passphrase_guard().check(str(st.session_state.get(PASSPHRASE_INPUT, "")),
                                                        session.session_tag(),
                                                        address if isinstance(address, str) else None)
    if unlocked:
        session.set_teacher_unlocked(True)
        st.session_state.pop(PASSPHRASE_ERROR, None)
    else:
        st.session_state[PASSPHRASE_ERROR] = message
    st.session_state[PASSPHRASE_INPUT] = ""


def teacher_box() -> None:
    """Unlock teacher mode with the passphrase in MNIST_TEACHER_KEY, or lock it again."""
    if session.teacher_unlocked():
        st.markdown("**Teacher mode** is on: set the class rules and clear the class on the Models page.")
        st.button("Lock teacher mode", on_click=session.set_teacher_unlocked, args=(False,))
        return
    st.text_input("Teacher passphrase", type="password", key=PASSPHRASE_INPUT)
    st.button("Unlock teacher mode", on_click=_unlock)
    if st.session_state.get(PASSPHRASE_ERROR):
        st.error(st.session_state[PASSPHRASE_ERROR])
