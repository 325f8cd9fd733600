"""Shared fixtures: tiny synthetic digits, a private models folder, and no network, ever."""

from __future__ import annotations

import os
import socket
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
# Unpacked copies of the data files the tests load (core.data) go to a folder of this test session,
# which servers and workers started by the tests inherit; never the user's ~/.cache.
os.environ["MNIST_CACHE_DIR"] = tempfile.mkdtemp(prefix="mnist-classroom-tests-")

from core.data import MnistData  # noqa: E402

FULL_MNIST = Path(os.environ.get("MNIST_PATH") or ROOT.parent / "shared" / "data" / "mnist_data.npz")


def make_digits(count: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Learnable fake digits: class k is a bright bar at row 4 + 2k, plus noise.

    Returns uint8 images (count, 28, 28) and uint8 labels (count,), every class present.
    """
    rng = np.random.default_rng(seed)
    labels = (np.arange(count) % 10).astype(np.uint8)
    rng.shuffle(labels)
    images = rng.integers(0, 40, size=(count, 28, 28)).astype(np.uint8)
    for index, label in enumerate(labels):
        row = 4 + 2 * int(label)
        images[index, row: row + 2, 4:24] = 255
    return images, labels


def make_tiny_data(train: int = 300, test: int = 100) -> MnistData:
    x_train, y_train = make_digits(train, seed=1)
    x_test, y_test = make_digits(test, seed=2)
    return MnistData(x_train, y_train, x_test, y_test, source="synthetic test digits")


@pytest.fixture(autouse=True)
def no_network(monkeypatch):
    """Any attempt to open a connection fails at once, as on a machine without network."""

    def refuse(*args, **kwargs):
        raise OSError("network disabled in tests")

    monkeypatch.setattr(socket, "create_connection", refuse)


@pytest.fixture(autouse=True)
def private_models_dir(tmp_path, monkeypatch) -> Path:
    """Every test saves models into its own empty folder."""
    folder = tmp_path / "models"
    monkeypatch.setenv("MNIST_MODELS_DIR", str(folder))
    return folder


@pytest.fixture
def tiny_data() -> MnistData:
    return make_tiny_data()


@pytest.fixture
def tiny_npz(tmp_path, monkeypatch) -> Path:
    """The tiny data set as an npz in the lecture's format, and MNIST_PATH pointing at it."""
    data = make_tiny_data()
    path = tmp_path / "tiny_mnist.npz"
    np.savez(path, X_train=data.x_train, y_train=data.y_train, X_test=data.x_test, y_test=data.y_test)
    monkeypatch.setenv("MNIST_PATH", str(path))
    return path


@pytest.fixture
def full_mnist_path() -> Path:
    if not FULL_MNIST.is_file():
        pytest.skip(f"full MNIST not found at {FULL_MNIST}; set MNIST_PATH to run this test")
    return FULL_MNIST


@pytest.fixture(scope="session")
def tiny_result():
    """One Lecture-preset model trained on the tiny digits, shared by every test that needs a saved model."""
    from core.models import preset
    from core.training import train

    return train(preset("lecture").replace(epochs=2), make_tiny_data())


@pytest.fixture
def saved_model(tiny_result, private_models_dir) -> str:
    """The name of that model, saved in this test's own models folder."""
    from core.store import ModelStore

    ModelStore().save("tiny-lecture", tiny_result)
    return "tiny-lecture"


@pytest.fixture(scope="session")
def tiny_cnn_result():
    """A small CNN-preset model (ReLU, batch norm, pooling) trained on the tiny digits, shared by the tests."""
    from core.models import preset
    from core.training import train

    config = preset("cnn").replace(conv_filters=(4, 8), hidden_units=(16,), batch_size=32, epochs=3, augment=False)
    return train(config, make_tiny_data())


@pytest.fixture(scope="session")
def full_mnist_data() -> MnistData:
    """The full MNIST set (MNIST_PATH), loaded once per test session; skips when it is missing."""
    from core.data import load_mnist

    if not FULL_MNIST.is_file():
        pytest.skip(f"full MNIST not found at {FULL_MNIST}; set MNIST_PATH to run this test")
    return load_mnist(FULL_MNIST)


@pytest.fixture(scope="session")
def full_lecture_result(full_mnist_data):
    """The Lecture preset trained on the full set, once per test session."""
    from core.models import preset
    from core.training import train

    return train(preset("lecture"), full_mnist_data)


@pytest.fixture(scope="session")
def full_cnn_result(full_mnist_data):
    """The CNN preset trained on the full set, once per test session."""
    from core.models import preset
    from core.training import train

    return train(preset("cnn"), full_mnist_data)


def metrics(at) -> dict[str, str]:
    """An AppTest page's metrics, label -> value."""
    return {metric.label: metric.value for metric in at.metric}


def rerun_until(at, done, timeout: float = 120.0):
    """Rerun an AppTest page, as the browser's polling does, until done(at); fails after ``timeout`` seconds.

    A training run in a worker process has no event the page script could wait on: the page itself
    polls, so the test polls the page the same way.
    """
    deadline = time.monotonic() + timeout
    while not done(at):
        assert time.monotonic() < deadline, "the training run did not get there in time"
        time.sleep(0.3)
        at.run()
    return at
