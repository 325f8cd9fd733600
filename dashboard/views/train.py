"""Train: pick a preset, edit it, Start; watch the loss live; the finished model is saved."""

import streamlit as st

from core.lecture import memorize_five, untrained_probabilities
from core.store import ModelStore, StoreError
from dashboard import figures, session, train_form

REFRESH_SECONDS = 0.4  # the live chart redraws at least twice a second
START_ERROR = "train_start_error"


def start():
    try:
        config = train_form.config()
    except ValueError as error:
        st.session_state[START_ERROR] = f"{error}. Fix it in the form, then press Start again."
        return
    st.session_state.pop(START_ERROR, None)
    if not session.training_running():
        session.start_training(config)


def rename(old_name):
    new_name = st.session_state[f"train_name_{old_name}"]
    try:
        ModelStore().rename(old_name, new_name)
    except (StoreError, OSError) as error:
        st.session_state[session.SAVE_ERROR] = f"{error}."
        return
    st.session_state[session.SAVED] = new_name.strip()
    session.set_active_model(new_name.strip())
    st.session_state.pop(session.SAVE_ERROR, None)


def progress_view(progress):
    """The progress bar and the loss chart of a run, running or done."""
    steps_per_epoch = progress.total_steps // max(progress.epochs, 1)
    if progress.state == "starting":
        text = "Starting TensorFlow and building the network..."
    elif progress.state == "evaluating":
        text = "Measuring accuracy on the training and test digits..."
    else:
        eta = f"{progress.eta_seconds:.0f} s left" if progress.eta_seconds is not None else ""
        text = (f"Epoch {progress.epoch}/{progress.epochs} · step {progress.step:,}/{progress.total_steps:,} · "
                f"{progress.samples_per_second:,.0f} samples/s · {eta}")
    st.progress(progress.fraction, text=text)
    validation = [(record.epoch, record.val_accuracy) for record in progress.epoch_history
                  if record.val_accuracy is not None]
    chart = figures.loss_figure(session.loss_curve(progress), steps_per_epoch, progress.total_steps, validation)
    st.plotly_chart(chart, key="train_loss_chart")


@st.fragment(run_every=REFRESH_SECONDS)
def live_view():
    """Redrawn on its own while the run goes on; the rest of the page stays put."""
    progress = session.job().snapshot()
    progress_view(progress)
    if progress.done:
        st.rerun()  # the whole page, to show the results and stop polling


def results_view(progress):
    if progress.state == "failed":
        st.error(progress.message)
        return
    progress_view(progress)
    if progress.stopped:
        st.info(f"Stopped after {progress.step:,} of {progress.total_steps:,} steps: "
                "the accuracies below are those of the model trained so far.")
    left, right = st.columns(2)
    # Fractions with four decimals, as the lecture's last cell prints them (0.9615).
    left.metric("Accuracy on training data", f"{progress.train_accuracy:.4f}")
    right.metric("Accuracy on test data", f"{progress.test_accuracy:.4f}")
    if st.session_state.get(session.SAVE_ERROR):
        st.error(st.session_state[session.SAVE_ERROR])
    if st.session_state.get(session.SAVED):
        st.success(f"Saved as **{st.session_state[session.SAVED]}**; open it on the Evaluate, Draw or Models page.")
        name, button = st.columns([3, 1], vertical_alignment="bottom")
        saved = st.session_state[session.SAVED]
        name.text_input("Model name", value=saved, key=f"train_name_{saved}")
        button.button("Rename", on_click=rename, args=(saved,))


st.title("Train")
train_form.load_link()
running = session.training_running()
train_form.form(disabled=running)
try:
    train_form.save_link(train_form.config())
    st.caption("The address bar now holds this setup: share the link and it opens with these values.")
except ValueError as error:
    st.error(f"{error}.")
start_column, stop_column, _ = st.columns([1, 1, 6])
start_column.button("Start", type="primary", on_click=start, disabled=running)
stop_column.button("Stop", on_click=lambda: session.job().stop(), disabled=not running)
if st.session_state.get(START_ERROR):
    st.error(st.session_state[START_ERROR])
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
