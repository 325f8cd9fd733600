"""Train: pick a preset, edit it, Start; watch the loss live; the finished model is saved."""

import streamlit as st

from core.classroom.rules import check_duration
from core.lecture import memorize_five, untrained_probabilities
from core.model.config import default_model_name
from dashboard import action_message, caches, figures, session, train_form
from dashboard.code_panel import code_panel
from dashboard.plain_text import escape
from dashboard.training_view import live_view, results_view

ESTIMATE_REFRESH_SECONDS = 1.0  # how often a rough estimate asks again for the network's own timing


def start():
    try:
        config = train_form.config()
    except ValueError as error:
        action_message.report("start", "error", f"{error}. Fix it in the form, then press Start again.")
        return
    action_message.clear("start")
    if not session.training_running():
        try:  # the teacher's class rules (none without MNIST_TEACHER_KEY), then the server's limits
            session.start_training(config, add_class_digits=train_form.add_class_digits())
        except ValueError as error:
            action_message.report("start", "error",
                                  f"Training cannot start: {error}. Change the form, then press Start again.")


def show_estimate(config, wait: float | None = None) -> bool:
    """How long the run will take here (or why it cannot train here); True when that is still a rough figure.
    wait : the most seconds to wait for the network's timing (caches.training_estimate); None: a second."""
    try:
        estimate = caches.training_estimate(config, session.dataset()[1], wait)
    except RuntimeError as error:
        st.info(f"This run will take an unknown time ({escape(error)}).", icon=":material/timer:")
        return False
    except ValueError as error:  # too large or too slow to time here (core.training.estimate.CalibrationRefused)
        st.error(f"This run cannot train on this server: {escape(error)}.")
        return False
    how = ("a first guess from the network's size, while a few of its steps are timed on this server" if estimate.rough
           else "from a few of its steps timed on this server")
    st.info(f"This run will take **{estimate.duration()}**, {how}.", icon=":material/timer:")
    if not session.teacher_unlocked():
        try:
            check_duration(estimate.seconds, estimate.text())
        except ValueError as error:
            st.warning(f"Start will refuse it: {escape(error)}.")
    return estimate.rough


@st.fragment(run_every=ESTIMATE_REFRESH_SECONDS)
def rough_estimate(config) -> None:
    """A rough estimate, asked again every second until the network's own timing is in; then the whole page."""
    if not show_estimate(config, wait=0):
        st.rerun()


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
            session.check_rules(config)  # before the estimate: a network the rules refuse is never built or timed
            first = st.empty()
            with first.container():
                rough = show_estimate(config)
            if rough:  # the same place, redrawn on its own until the network's own timing is in
                first.empty()
                rough_estimate(config)
    except ValueError as error:
        st.error(f"{escape(error)}.")
    with st.container(horizontal=True):  # side by side on a phone too (columns stack there, a row apart)
        st.button("Start", type="primary", on_click=start, disabled=running)
        st.button("Stop", on_click=lambda: session.job().stop(), disabled=not running)
    action_message.show("start", keep=True)  # until the next Start: the rules it names stay while the form changes
    if running:
        live_view()
    elif session.job() is not None:
        results_view(session.job().snapshot())

    with st.expander("Code", key="train_code", on_change="rerun") as code:
        if code.open:  # the form's current settings as a standalone Keras script
            try:
                config = train_form.config()
            except ValueError as error:
                st.info(f"The form has a value that cannot train ({escape(error)}): fix it to see its code.")
            else:
                code_panel(config, default_model_name(config), key="train_code_download")

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
