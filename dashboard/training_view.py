"""A training run as the pages show it: progress bar and live loss chart, then the accuracies and the saved model.

The Train and Lecture pages both show this session's one run (session.job()) through these functions,
so a run started on either page is watched the same way on both.
"""

from __future__ import annotations

from urllib.parse import urlencode

import streamlit as st

from core.lecture import lecture_loss_floor
from core.model.share_links import repeat_query
from core.model.store import StoreError
from core.training.progress import Progress, RunState
from dashboard import figures, session
from dashboard.explain_blocks import weights_sheet_html
from dashboard.plain_text import escape

REFRESH_SECONDS = 0.4  # the live chart redraws at least twice a second
WEIGHT_IMAGES = 64  # the lecture's 64 units in full; a wider layer's first 64 (each redraw sends every picture)


def _rename(old_name: str) -> None:
    try:
        session.rename_model(old_name, st.session_state[f"train_name_{old_name}"])
    except (StoreError, OSError) as error:
        st.session_state[session.SAVE_ERROR] = f"{error}."
        return
    st.session_state.pop(session.SAVE_ERROR, None)


def _waiting_text(progress: Progress) -> str:
    """What a run that has not trained a step yet is waiting for: its place in the server's queue, or TensorFlow."""
    job = session.job()
    place = job.queue_position if job is not None else 0
    if not place:
        return escape(progress.message) or "Starting TensorFlow and building the network..."
    ahead = "1 run is" if place == 1 else f"{place} runs are"
    start = job.estimated_start_seconds
    when = f"; it should start in about {start:.0f} s" if start is not None else ""
    return f"Waiting in the queue: {ahead} ahead of or training before this one{when}. Stop takes it out of the queue."


def progress_view(progress: Progress, lecture_loss: bool = False) -> None:
    """The progress bar and the loss chart of a run, running or done, and an MLP's first-layer weights.

    lecture_loss : also plot the same batches' loss as the lecture wrote it, and the floor it never goes below."""
    steps_per_epoch = progress.total_steps // max(progress.epochs, 1)
    if progress.state == RunState.STARTING:
        # Waiting in the queue (or for TensorFlow): the place and the wait only. The chart and the weights cost
        # the server 30-130 ms a redraw (busy 2-core AMD EPYC), 2.5 times a second for every waiting student,
        # and have nothing to show yet.
        st.progress(progress.fraction, text=_waiting_text(progress))
        return
    if progress.state == RunState.EVALUATING:
        text = "Measuring accuracy on the training and test digits..."
    else:
        eta = f"{progress.eta_seconds:.0f} s left" if progress.eta_seconds is not None else ""
        text = (f"Epoch {progress.epoch}/{progress.epochs} · step {progress.step:,}/{progress.total_steps:,} · "
                f"{progress.samples_per_second:,.0f} samples/s · {eta}")
    st.progress(progress.fraction, text=text)
    validation = [(record.epoch, record.val_accuracy) for record in progress.epoch_history
                  if record.val_accuracy is not None]
    chart = figures.loss_figure(session.loss_curve(progress), steps_per_epoch, progress.total_steps, validation,
                                lecture=session.loss_curve(progress, lecture=True) if lecture_loss else None,
                                lecture_floor=lecture_loss_floor() if lecture_loss else None)
    st.plotly_chart(chart, key="train_loss_chart")
    job = session.job()
    if job is not None:  # the seed was drawn at random (core.model.config.random_seed) unless the form set it
        st.caption(f"Seed {job.config.seed}: [this link](train?{urlencode(repeat_query(job.config))}) sets this "
                   "run up again, and with the same seed and digits it trains the same model here.")
    if progress.first_layer_weights is not None:
        units = len(progress.first_layer_weights)
        shown = f"the first {WEIGHT_IMAGES} of {units} hidden units" if units > WEIGHT_IMAGES else "each hidden unit"
        st.caption(f"The first layer's weights as they learn, one 28×28 picture for {shown} "
                   "(red: ink there pushes the unit up, blue: down):")
        st.html(weights_sheet_html(progress.first_layer_weights[:WEIGHT_IMAGES], columns=16, size=40))


@st.fragment(run_every=REFRESH_SECONDS)
def live_view(lecture_loss: bool = False) -> None:
    """Redrawn on its own while the run goes on; the rest of the page stays put. lecture_loss: see progress_view."""
    progress = session.job().snapshot()
    progress_view(progress, lecture_loss)
    if progress.done:
        st.rerun()  # the whole page, to show the results and stop polling


def results_view(progress: Progress, lecture_loss: bool = False) -> None:
    """A finished, stopped or failed run: its chart, train and test accuracy, and the name it was saved under.
    lecture_loss: see progress_view."""
    if progress.failed:
        st.error(escape(progress.message))
        return
    if progress.step == 0:  # stopped while it waited in the queue
        st.info(escape(progress.message))
        return
    progress_view(progress, lecture_loss)
    if progress.stopped:
        st.info(f"Stopped after {progress.step:,} of {progress.total_steps:,} steps: "
                "the accuracies below are those of the model trained so far.")
    left, right = st.columns(2)
    # Fractions with four decimals, as the lecture's last cell prints them (0.9615).
    left.metric("Accuracy on training data", f"{progress.train_accuracy:.4f}")
    right.metric("Accuracy on test data", f"{progress.test_accuracy:.4f}")
    if st.session_state.get(session.SAVE_ERROR):
        st.error(escape(st.session_state[session.SAVE_ERROR]))
    if st.session_state.get(session.SAVED):
        st.success(f"Saved as **{escape(st.session_state[session.SAVED])}**; open it on the Evaluate, Draw or "
                   "Models page.")
        if progress.message:  # where a run on a Ray cluster trained
            st.caption(escape(progress.message))
        name, button = st.columns([3, 1], vertical_alignment="bottom")
        saved = st.session_state[session.SAVED]
        name.text_input("Model name", value=saved, key=f"train_name_{saved}")
        button.button("Rename", on_click=_rename, args=(saved,))
