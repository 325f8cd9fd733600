"""What every session shares, computed once per server: the default digits, saved-model listings, loaded
models and their evaluations (``st.cache_resource``). Nothing here imports TensorFlow until a model is loaded."""

from __future__ import annotations

import gc
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import streamlit as st

from core.classroom.identity import PassphraseGuard
from core.data.mnist import MNIST_PATH_VARIABLE, MnistData, load_default
from core.drawing.strokes import canvas_json
from core.evaluation.evaluate import Evaluation, evaluate
from core.evaluation.explain import EmbedMethod, activations, embed, saliency
from core.evaluation.metrics import train_accuracy as measure_train_accuracy
from core.model.config import TrainConfig
from core.model.predict import predict_canvas_json
from core.model.store import Listing, ModelInfo, ModelStore, StoreError


@st.cache_resource(show_spinner="Loading the digits...")
def _default_data(mnist_path: str | None) -> tuple[MnistData, str]:
    """(data, problem): the digits from core's usual sources; the sample and the reason when MNIST_PATH is bad."""
    return load_default(mnist_path)


def default_data() -> tuple[str, MnistData, str]:
    """(key, data, problem): the server's digits, a key naming them for caches, and why MNIST_PATH was not used."""
    path = os.environ.get(MNIST_PATH_VARIABLE)
    data, problem = _default_data(path)
    return f"default:{path}:{data.source}", data, problem


@st.cache_resource(max_entries=8, show_spinner=False)
def class_means(data_key: str, split: str, _images: np.ndarray, _labels: np.ndarray) -> np.ndarray:
    """(10, 28, 28) float32 average image of each digit in one split of a data set (zeros for a missing digit)."""
    return np.stack([
        _images[_labels == digit].mean(axis=0, dtype=np.float32) if np.any(_labels == digit)
        else np.zeros(_images.shape[1:], np.float32)
        for digit in range(10)
    ])


@st.cache_resource
def passphrase_guard() -> PassphraseGuard:
    """The guard of the teacher's passphrase every session of this server shares (its wrong guesses, by session
    and by address)."""
    return PassphraseGuard()


def saved_models() -> Listing:
    """The store's listing, read again only when a model file changes (here or on another server on the folder)."""
    store = ModelStore()
    try:
        signature = tuple(sorted((path.name, path.stat().st_mtime_ns) for path in store.folder.glob("*.keras")
                                 if not path.name.startswith(".")))  # not saves in progress: they come and go
    except OSError:  # a model deleted while we looked (by another session or server): read the folder uncached
        return store.list()
    return _listing(str(store.folder), signature)


# One listing per folder state: every save makes a new signature, and an old one is never asked for again. A
# listing holds every model's loss history (0.28 MB a model: a 5-epoch lecture run is 9,375 losses), so keeping
# 16 of them grew the server by 16 copies of the class's histories, class after class (bench/classroom.py).
@st.cache_resource(max_entries=2, show_spinner=False)
def _listing(folder: str, signature) -> Listing:
    return ModelStore(folder).list()


@st.cache_resource(max_entries=4, show_spinner="Loading the model...")
def _model(path: str, mtime_ns: int):
    model = ModelStore(Path(path).parent).load(Path(path).stem)
    # TensorFlow and Keras leave hundreds of thousands of long-lived objects that every full garbage
    # collection walks again: 580-740 ms each, a pause in the middle of a drawing's answer. Freezing what
    # exists once a model is loaded takes them out of later collections (about 5 ms each; busy 2-core
    # Intel Xeon, bench/draw_latency.py). Once per process: what a later freeze caught would never be
    # collected, and a model this cache drops (max_entries) would stay in memory for good.
    global _frozen
    if not _frozen:
        gc.freeze()
        _frozen = True
    return model


_frozen = False  # whether gc.freeze() ran (see _model)


def load_model(info: ModelInfo):
    """The Keras model of a saved model, loaded once per file version; raises StoreError."""
    return _model(str(info.path), _mtime(info))


def drawing_model(info: ModelInfo):
    """``load_model``, with all a drawing runs through (the guess, saliency, activations) run once already; raises
    StoreError. Their first calls build TensorFlow's functions and load scipy: 85 ms for the guess, 0.6 s for
    the explanations, on the session's first drawing otherwise (AMD EPYC, 2 cores, busy)."""
    return _drawing_model(str(info.path), _mtime(info))


@st.cache_resource(max_entries=4, show_spinner="Loading the model...")
def _drawing_model(path: str, mtime_ns: int):
    model = _model(path, mtime_ns)
    digit, _ = predict_canvas_json(model, canvas_json([{"width": 20, "points": [140, 40, 140, 240]}]))  # a 1
    saliency(model, digit, target=1)
    activations(model, digit[None])
    return model


@st.cache_resource(max_entries=4, show_spinner="Measuring the model on the test digits...")
def _evaluation(path: str, mtime_ns: int, data_key: str, _data: MnistData) -> Evaluation:
    return evaluate(_model(path, mtime_ns), _data, measure_train=False)


def evaluation(info: ModelInfo, data_key: str, data: MnistData) -> Evaluation:
    """The test digits of ``data`` measured with a saved model (not the training digits: see train_accuracy),
    computed once per (model file, data set); raises StoreError."""
    return _evaluation(str(info.path), _mtime(info), data_key, data)


@st.cache_resource(max_entries=8, show_spinner="Measuring the model on the training digits...")
def _train_accuracy(path: str, mtime_ns: int, data_key: str, _data: MnistData) -> float:
    return measure_train_accuracy(_model(path, mtime_ns), _data)


def train_accuracy(info: ModelInfo, data_key: str, data: MnistData) -> float:
    """A saved model's accuracy on the training digits of ``data`` (core.evaluation.metrics.train_accuracy),
    measured once per (model file, data set); raises StoreError."""
    return _train_accuracy(str(info.path), _mtime(info), data_key, data)


@dataclass(frozen=True)
class Embedding:
    """Test digits laid out in 2-D by a model's last hidden layer.

    indices : (N,) positions of the digits in the test set, ascending.
    points : (N, 2) float32 map coordinates, one row per digit.
    """

    indices: np.ndarray
    points: np.ndarray


# Test digits on the embedding map: about 200 per digit, enough for each digit's cloud to take
# shape; t-SNE's time grows faster than the count (27 s for 2,000 here, one thread, machine shared).
EMBEDDING_DIGITS = 2000


def _embedding_indices(test_digits: int) -> np.ndarray:
    """The same EMBEDDING_DIGITS test digits every time: a random sample (seed 0) of the whole test set."""
    count = min(EMBEDDING_DIGITS, test_digits)
    return np.sort(np.random.default_rng(0).choice(test_digits, size=count, replace=False))


@st.cache_resource(max_entries=8, show_spinner=False)
def _embedding(path: str, mtime_ns: int, data_key: str, method: EmbedMethod, _data: MnistData) -> Embedding:
    indices = _embedding_indices(len(_data.x_test))
    # Made inside the cached function, so that a cache hit replays it (and its removal) without error.
    bar = st.progress(0.0, text=f"Laying out {len(indices):,} test digits...")
    try:
        points = embed(_model(path, mtime_ns), _data.x_test[indices], method,
                       on_progress=lambda fraction, stage: bar.progress(fraction, text=f"{stage}..."))
    finally:
        bar.empty()
    return Embedding(indices, points)


def embedding(info: ModelInfo, data_key: str, data: MnistData, method: EmbedMethod) -> Embedding:
    """EMBEDDING_DIGITS test digits of ``data`` mapped to 2-D, once per (model file, data set, method),
    with a progress bar while it runs; raises StoreError, and ValueError for fewer than 2 test digits."""
    return _embedding(str(info.path), _mtime(info), data_key, method, data)


@st.cache_resource(max_entries=4, show_spinner=False)
def _embedding_features(path: str, mtime_ns: int, data_key: str, _data: MnistData) -> np.ndarray:
    images = _data.x_test[_embedding_indices(len(_data.x_test))]
    return activations(_model(path, mtime_ns), images)[-1][1].reshape(len(images), -1)  # (N, units)


def embedding_features(info: ModelInfo, data_key: str, data: MnistData) -> np.ndarray:
    """(N, units) last hidden layer of the digits ``embedding`` maps, in the same order; raises StoreError."""
    return _embedding_features(str(info.path), _mtime(info), data_key, data)


def _mtime(info: ModelInfo) -> int:
    try:
        return info.path.stat().st_mtime_ns
    except OSError:
        raise StoreError(f"{info.name!r} is no longer in the store; pick another model") from None


def training_estimate(config: TrainConfig, data: MnistData, wait: float | None = None):
    """How long ``config`` will train on ``data`` on this server: a core.training.estimate.Estimate, counting a
    cold training worker when the run would need one (core.training.scheduler.cold_start_seconds).

    The first request for a network shape times a few of its steps in the server's calibration process
    (core.training.estimate.server_calibrator: a few seconds, once per server and shape). A page waits at most a
    second for it (``wait``: that default, WAIT_SECONDS), then gets a rough Estimate from the network's size.
    Raises ValueError for a config that cannot train, or one too large or slow to time here (CalibrationRefused),
    and RuntimeError when that process cannot answer.
    """
    from core.training.estimate import WAIT_SECONDS, server_calibrator
    from core.training.scheduler import server_scheduler

    estimate = server_calibrator().estimate(config, len(data.x_train), len(data.x_test),
                                            WAIT_SECONDS if wait is None else wait)
    try:
        cold = server_scheduler().cold_start_seconds()
    except ValueError:  # a bad MNIST_MAX_TRAINING: Start says so
        cold = 0.0
    return estimate.with_cold_start(estimate.startup_seconds if cold is None else cold)
