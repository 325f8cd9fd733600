"""Runs: every training run of the class in progress or queued, with its student, preset, progress, place in
the queue and time left, redrawn every second; the teacher can stop any of them."""

import streamlit as st

from core.model.config import describe_network, preset_name
from core.training.scheduler import RunStatus, server_scheduler
from dashboard import session
from dashboard.plain_text import escape

REFRESH_SECONDS = 1.0
COLUMNS = (2, 2, 4, 1, 2, 1)  # student, preset, progress, place in the queue, time left, Stop
HEADINGS = ("Student", "Preset", "Progress", "Queue", "Time left", "")


def stop(run_id: int) -> None:
    server_scheduler().stop(run_id)


def time_left(run: RunStatus) -> str:
    progress = run.job.snapshot()
    if run.queue_position:
        waiting = run.starts_in_seconds
        return f"starts in about {waiting:.0f} s" if waiting is not None else "after the runs ahead"
    return f"{progress.eta_seconds:.0f} s" if progress.eta_seconds is not None else "timing its first steps"


def progress_text(run: RunStatus) -> str:
    progress = run.job.snapshot()
    if run.queue_position or not progress.total_steps:
        return "waiting" if run.queue_position else "starting"
    return f"epoch {progress.epoch}/{progress.epochs}, step {progress.step:,}/{progress.total_steps:,}"


def row(run: RunStatus, teacher: bool) -> None:
    config, progress = run.job.config, run.job.snapshot()
    student, name, bar, queue, left, button = st.columns(COLUMNS, vertical_alignment="center")
    student.markdown(escape(run.job.owner) if run.job.owner else "*the teacher*")
    name.markdown(f"{escape(preset_name(config) or describe_network(config))}, seed {config.seed}")
    bar.progress(progress.fraction, text=progress_text(run))
    queue.markdown(str(run.queue_position) if run.queue_position else "training")
    left.markdown(time_left(run))
    if teacher:
        button.button("Stop", key=f"runs_stop_{run.run_id}", on_click=stop, args=(run.run_id,))


@st.fragment(run_every=REFRESH_SECONDS)
def runs_table() -> None:
    try:
        runs = server_scheduler().runs()
    except ValueError as error:  # a bad MNIST_MAX_TRAINING: nothing trains on this server until it is fixed
        st.error(f"{escape(error)}.")
        return
    if not runs:
        st.info("No run is training or waiting: runs started on the Train or Lecture page show here.")
        return
    for column, heading in zip(st.columns(COLUMNS), HEADINGS):
        column.markdown(f"**{heading}**" if heading else "")
    teacher = session.teacher_unlocked()
    for run in runs:
        row(run, teacher)


def main() -> None:
    """The Runs page."""
    st.title("Runs")
    if session.teacher_unlocked():
        st.caption("Every run of the class, training first, then the queue in its order. Stop ends a queued run at "
                   "once and a training one after its current steps, keeping the model trained so far.")
    else:
        st.caption("Every run of the class, training first, then the queue in its order. The teacher can stop them.")
    runs_table()


main()
