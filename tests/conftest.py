"""The tests' fixtures, and only fixtures: tiny synthetic digits, a private models folder, no network ever, trained
models shared by a session, the teacher's key and a fake training scheduler. Builders and page helpers live in
tests/helpers/."""

from __future__ import annotations

import os
import socket
import tempfile
from pathlib import Path

import pytest

from core import classroom
from core.data.mnist import MnistData, load_mnist
from core.model.config import preset
from core.model.store import ModelStore
from core.training import scheduler
from core.training.loop import train
from dashboard.caches import passphrase_guard
from helpers.digits import make_tiny_data, npz_bytes
from helpers.fake_scheduler import FakeScheduler
from helpers.paths import FULL_MNIST


def pytest_configure(config):
    """Before any test: TensorFlow's start-up chatter off, and the unpacked copies of the data files the tests load
    (core.data.mnist) in a folder of this test session, which the servers and workers the tests start inherit;
    never the user's ~/.cache."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    os.environ["MNIST_CACHE_DIR"] = tempfile.mkdtemp(prefix="mnist-classroom-tests-")


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
    path = tmp_path / "tiny_mnist.npz"
    path.write_bytes(npz_bytes(make_tiny_data()))
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
    return train(preset("lecture").replace(epochs=2), make_tiny_data())


@pytest.fixture
def saved_model(tiny_result, private_models_dir) -> str:
    """The name of that model, saved in this test's own models folder."""
    ModelStore().save("tiny-lecture", tiny_result)
    return "tiny-lecture"


@pytest.fixture(scope="session")
def tiny_cnn_result():
    """A small CNN-preset model (ReLU, batch norm, pooling) trained on the tiny digits, shared by the tests."""
    config = preset("cnn").replace(conv_filters=(4, 8), hidden_units=(16,), batch_size=32, epochs=3, augment=False)
    return train(config, make_tiny_data())


@pytest.fixture(scope="session")
def full_mnist_data() -> MnistData:
    """The full MNIST set (MNIST_PATH), loaded once per test session; skips when it is missing."""
    if not FULL_MNIST.is_file():
        pytest.skip(f"full MNIST not found at {FULL_MNIST}; set MNIST_PATH to run this test")
    return load_mnist(FULL_MNIST)


@pytest.fixture(scope="session")
def full_lecture_result(full_mnist_data):
    """The Lecture preset trained on the full set, once per test session."""
    return train(preset("lecture"), full_mnist_data)


@pytest.fixture(scope="session")
def full_cnn_result(full_mnist_data):
    """The CNN preset trained on the full set, once per test session."""
    return train(preset("cnn"), full_mnist_data)


@pytest.fixture
def teacher_key(monkeypatch) -> str:
    """The teacher's passphrase of this test's class (MNIST_TEACHER_KEY), with no wrong guess remembered from an
    earlier test (every AppTest session comes from the same address)."""
    passphrase_guard.clear()
    monkeypatch.setenv(classroom.TEACHER_KEY_VARIABLE, "owl-42")
    return "owl-42"


@pytest.fixture
def fake_scheduler(tiny_result, monkeypatch) -> FakeScheduler:
    """Runs started from a page in this test go to a FakeScheduler instead of the server's worker processes."""
    fake = FakeScheduler(tiny_result)
    monkeypatch.setattr(scheduler, "server_scheduler", lambda: fake)
    return fake
