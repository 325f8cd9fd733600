"""Train: pick a preset, edit it, Start; watch the loss live; the finished model is saved."""

import streamlit as st

from core.lecture import memorize_five, untrained_probabilities
from dashboard import caches, figures, session, train_form
from dashboard.plain_text import escape
from dashboard.training_view import live_view, results_view

START_ERROR = "train_start_error"
ESTIMATE_POLL_SECONDS = 1.0  # while the server times a new network shape, the page asks this often


def start():
    try:
        config = train_form.config()
    except ValueError as error:
        st.session_state[START_ERROR] = f"{error}. Fix it in the form, then press Start again."
        return
    st.session_state.pop(START_ERROR, None)
    if not session.training_running():
        try:  # the teacher's class rules (none without MNIST_TEACHER_KEY), then the server's limits
            session.start_training(config, add_class_digits=train_form.add_class_digits())
        except ValueError as error:
            st.session_state[START_ERROR] = f"Training cannot start: {error}. Change the form, then press Start again."


def estimate_note(config) -> None:
    """How long the run will take here; while its steps are still being timed (once per server and network
    shape, seconds), a note that polls for it, so the page never waits for the timing."""
    estimate = caches.training_estimate(config, session.dataset()[1])
    if estimate is None:
        st.fragment(_estimate_pending, run_every=ESTIMATE_POLL_SECONDS)(config)
        return
    st.info(f"This run will take **{estimate}**, from a few of its steps timed on this server.",
            icon=":material/timer:")


def _estimate_pending(config) -> None:
    if caches.training_estimate(config, session.dataset()[1]) is not None:
        st.rerun()  # the whole page, with the estimate; a full run also ends this fragment's polling
    st.info("Timing a few training steps on this server for an estimate of the run's time...",
            icon=":material/timer:")


def main() -> None:
    """The Train page."""
    st.title("Train")
    train_form.load_link()
    running = session.training_running()
    train_form.form(disabled=running)
    try:
        config = train_form.config()
        train_form.save_link(config)
        st.caption("The address bar now holds this setup: share the link and it opens with these values.")
        if not running:
            estimate_note(config)
    except ValueError as error:
        st.error(f"{escape(error)}.")
    start_column, stop_column, _ = st.columns([1, 1, 6])
    start_column.button("Start", type="primary", on_click=start, disabled=running)
    stop_column.button("Stop", on_click=lambda: session.job().stop(), disabled=not running)
    if st.session_state.get(START_ERROR):
        st.error(escape(st.session_state[START_ERROR]))
    if running:
        live_view()
    elif session.job() is not None:
        results_view(session.job().snapshot())

    with st.expander("Why our loss is not quite the lecture's"):
        st.markdown(
            "The lecture computes its loss as `-sum(y * log(softmax(class_probs)))`, but `class_probs` is already a "
            "softmax: **softmax is applied twice**. A second softmax squashes the ten probabilities into roughly "
            "0.09-0.23, so the loss can never get near 0 and its gradients stay small (the large learning rate of 0.5 "
            "partly makes up for it). Here the network outputs logits and is trained with the cross-entropy the "
            "lecture meant, computed from the logits: it goes to 0 for a confident right answer and pushes hard on a "
            "confident wrong one. Probabilities are one softmax away, and that is what every page shows."
        )

    with st.expander("The lecture's two small experiments"):
        _, data = session.dataset()
        labels = [int(label) for label in data.y_train[:5]]
        st.markdown("An **untrained** network guesses: about 0.1 for every digit. Then **200 SGD steps on just these "
                    "five digits** make it memorize them: near-certain answers, but it has learned nothing general.")
        left, right = st.columns(2)
        if left.button("Ask the untrained network"):
            with st.spinner("Building the network..."):
                st.session_state["train_untrained"] = (labels, untrained_probabilities(data))
        if right.button("Memorize the first five digits"):
            with st.spinner("200 SGD steps on five digits..."):
                st.session_state["train_memorized"] = (labels, memorize_five(data))
        for key, title in (("train_untrained", "Untrained"), ("train_memorized", "After 200 steps on these five")):
            if key in st.session_state:
                st.caption(f"{title}: probability of each digit for the first five training digits")
                shown_labels, probabilities = st.session_state[key]
                st.plotly_chart(figures.probability_table(probabilities, shown_labels), key=f"{key}_chart")


main()
