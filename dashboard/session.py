"""What belongs to one browser session: its data set, its active model and its training run.

Everything here lives in ``st.session_state``, so two browsers never see each
other's uploads, choices or runs. Shared, server-wide things are in caches.py.
"""

from __future__ import annotations

import streamlit as st

from core.charts import LossCurve, smoothing_for
from core.data import DataError, MnistData
from core.models import TrainConfig
from core.sharing import default_model_name
from core.store import ModelInfo, ModelStore
from core.training import Progress, TrainingJob
from core.uploads import load_upload
from dashboard import caches

# st.session_state keys, one browser session each.
UPLOADED = "uploaded_data"  # (data key, MnistData) of an upload
ACTIVE_MODEL = "active_model"  # name of the model Evaluate and Draw use
JOB = "training_job"  # the TrainingJob, kept while the user visits other pages
CURVE = "training_curve"  # the LossCurve of the job's live chart, None until the run knows its length
SAVED = "saved_model"  # name the finished run was saved under ("" if saving failed)
SAVE_ERROR = "save_error"


def dataset() -> tuple[str, MnistData]:
    """(key, data): this session's upload, else the server's digits; the key names the data for caches."""
    if UPLOADED in st.session_state:
        return st.session_state[UPLOADED]
    key, data, _ = caches.default_data()
    return key, data


def has_upload() -> bool:
    return UPLOADED in st.session_state


def use_upload(files) -> str:
    """Switch this session to uploaded files (Streamlit UploadedFile objects); returns core's message if unusable."""
    try:
        data = load_upload([(file.name, file.getvalue()) for file in files])
    except DataError as error:
        return str(error)
    st.session_state[UPLOADED] = ("upload:" + "+".join(file.file_id for file in files), data)
    return ""


def forget_upload() -> None:
    st.session_state.pop(UPLOADED, None)


def active_model() -> ModelInfo | None:
    """The model this session works with: its last choice if still saved, else the newest one."""
    models = caches.saved_models().models
    chosen = next((info for info in models if info.name == st.session_state.get(ACTIVE_MODEL)), None)
    chosen = chosen or (models[0] if models else None)
    st.session_state[ACTIVE_MODEL] = chosen.name if chosen else None
    return chosen


def set_active_model(name: str) -> None:
    st.session_state[ACTIVE_MODEL] = name


def model_picker(key: str) -> ModelInfo | None:
    """A select box of saved models that changes the session's active model; None if none is saved."""
    current = active_model()
    if current is None:
        return None
    names = [info.name for info in caches.saved_models().models]
    st.selectbox("Model", names, index=names.index(current.name), key=key,
                 on_change=lambda: set_active_model(st.session_state[key]))
    return current


def job() -> TrainingJob | None:
    return st.session_state.get(JOB)


def progress() -> Progress | None:
    """A snapshot of this session's run, or None if it has not started one."""
    current = job()
    return current.snapshot() if current is not None else None


def training_running() -> bool:
    snapshot = progress()
    return snapshot is not None and not snapshot.done


def start_training(config: TrainConfig) -> None:
    """Start this session's run on a background thread; the page polls it, and the job saves the model."""
    _, data = dataset()
    st.session_state[JOB] = TrainingJob(config, data, store=ModelStore(), save_name=default_model_name(config)).start()
    st.session_state[CURVE] = None
    st.session_state.pop(SAVED, None)
    st.session_state.pop(SAVE_ERROR, None)


def loss_curve(snapshot: Progress) -> LossCurve:
    """The live chart's curve for this session's job, brought up to date with ``snapshot``."""
    if snapshot.total_steps == 0:  # still starting: nothing to draw yet
        return LossCurve()
    if st.session_state.get(CURVE) is None:
        st.session_state[CURVE] = LossCurve(smoothing_for(snapshot.total_steps))
    return st.session_state[CURVE].update(snapshot.batch_losses)


def collect_finished_run() -> None:
    """Note, once, the name this session's finished run was saved under and make it the active model."""
    snapshot = progress()
    if snapshot is None or SAVED in st.session_state:
        return
    if not snapshot.done or snapshot.state == "failed":
        return
    st.session_state[SAVED] = snapshot.saved_as
    if snapshot.saved_as:
        set_active_model(snapshot.saved_as)
    else:
        st.session_state[SAVE_ERROR] = snapshot.message
