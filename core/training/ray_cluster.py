"""Training on a Ray cluster: with ``RAY_ADDRESS`` set, each scheduled run trains in an actor there.

The server never talks to Ray itself. ``ray.init()`` replaces the SIGTERM handler of the process
that calls it and warns (an open Ray issue proposes failing) when called off the main thread, which
is where Streamlit runs every page. So the scheduler's worker processes (core/training/scheduler.py) are the
Ray drivers: each connects once, on its own main thread, and relays one run at a time. Ray's docs
steer long ML work to the Jobs API, but that needs the cluster's dashboard; a driver process does
not, and it is what lets Progress and Stop travel every fraction of a second. Keras 3 has no
MultiWorkerMirroredStrategy, so the cluster scales a class out as many independent runs, one actor
each, never one run split over machines.

The actor trains with ``core.training.train_and_save`` (the same code as a local run) into a
scratch store on its own node, and sends the ``.keras`` file back; the driver adds it to the
server's store under a free name. A worker or node that dies mid-run becomes a "failed" Progress
that says so, never a hang.
"""

from __future__ import annotations

import os
import socket
import tempfile
import threading
from dataclasses import replace
from pathlib import Path
from typing import Callable

from core.data.mnist import MnistData
from core.model.config import TrainConfig
from core.model.store import ModelStore, StoreError
from core.training.job import train_and_save
from core.training.progress import Progress, RunState

RAY_ADDRESS_VARIABLE = "RAY_ADDRESS"
# Ray CPUs one run reserves. TensorFlow spreads a run over every core of its node, so a run asks
# for two and Ray places at most (node CPUs / 2) runs per node; more wait in Ray's own queue.
CPUS_PER_RUN = 2
# How often the driver asks the actor for its Progress: the Train page redraws every 0.4 s.
POLL_SECONDS = 0.25
# How long the cluster's address may take to accept a connection before a run fails.
PROBE_SECONDS = 5.0
# What a gRPC (HTTP/2) client sends first, and the frame type a gRPC server such as Ray's head answers with.
HTTP2_PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
HTTP2_EMPTY_SETTINGS = b"\x00\x00\x00\x04\x00\x00\x00\x00\x00"
HTTP2_SETTINGS = 0x04
# An actor that does not answer a Progress request this long is treated as lost.
ANSWER_SECONDS = 30.0


def ray_address() -> str | None:
    """The cluster runs go to (``RAY_ADDRESS``), or None to train in local worker processes."""
    return os.environ.get(RAY_ADDRESS_VARIABLE, "").strip() or None


def connect(address: str) -> None:
    """Join the cluster at ``address`` from this process's main thread, shipping ``core`` to its workers.

    Raises RuntimeError naming the address and what to check when no cluster answers there.
    """
    try:
        import ray
    except ImportError:
        raise RuntimeError(f"{RAY_ADDRESS_VARIABLE}={address} asks for a Ray cluster, but Ray is not installed "
                           "here: pip install 'ray>=2.60,<3', or unset RAY_ADDRESS to train on this machine.") from None

    _check_answers(address)
    core_package = str(Path(__file__).resolve().parents[1])  # core/, with every subpackage
    if ray.is_initialized():  # joined another cluster before: RAY_ADDRESS changed between runs
        ray.shutdown()
    try:
        ray.init(address=address, runtime_env={"py_modules": [core_package]},
                 log_to_driver=False, logging_level="ERROR", configure_logging=False)
    except (ConnectionError, RuntimeError, ValueError) as error:
        raise _no_cluster(address, error) from None


def _check_answers(address: str) -> None:
    """Fail within PROBE_SECONDS when nothing at a host:port address answers as Ray's head does: ray.init() itself
    keeps retrying for minutes (205 s and counting against a port that answered but was not Ray).

    Ray's head serves gRPC, which is HTTP/2: it answers the client's connection preface with a SETTINGS frame.
    Anything else (silence, an HTTP/1 answer, a closed connection) is not a Ray head."""
    host, _, port = address.rpartition(":")
    if not host or not port.isdigit():
        return  # "auto" and other forms: left to ray.init
    try:
        with socket.create_connection((host, int(port)), timeout=PROBE_SECONDS) as probe:
            probe.settimeout(PROBE_SECONDS)
            probe.sendall(HTTP2_PREFACE + HTTP2_EMPTY_SETTINGS)
            header = probe.recv(9)  # a frame header: 3 bytes of length, its type, flags, stream id
    except OSError as error:
        raise _no_cluster(address, error) from None
    if len(header) < 4 or header[3] != HTTP2_SETTINGS:
        raise _no_cluster(address, f"something answers there, but not as a Ray head: it sent {header[:16]!r}")


def _no_cluster(address: str, error: Exception) -> RuntimeError:
    return RuntimeError(f"no Ray cluster answered at {RAY_ADDRESS_VARIABLE}={address} ({error}). Start one with "
                        "`ray start --head`, or unset RAY_ADDRESS to train on this machine.")


def _remote_run_class():
    """The actor class, defined on first use so that importing this module does not import Ray."""
    import ray

    @ray.remote(max_concurrency=2)  # one thread trains; the other answers progress() and stop()
    class RemoteRun:
        """One run. Its end (finished, stopped or failed) is returned by train() with the model, never
        shown by progress(): a page that saw it there would name a model not yet in the server's store,
        under the actor's name rather than the free one it gets there. CI hit this once in a browser test."""

        def __init__(self):
            self._progress: Progress | None = None  # the latest Progress of a run still going on
            self._end: Progress | None = None
            self._stop = threading.Event()

        def train(self, config: TrainConfig, data: MnistData, save_name: str,
                  owner: str) -> tuple[Progress, bytes, str]:
            """(the last Progress, the saved .keras file or b"", where it trained)."""
            with tempfile.TemporaryDirectory() as folder:
                store = ModelStore(folder)
                train_and_save(config, data, store, save_name, publish=self._publish, should_stop=self._stop.is_set,
                               owner=owner)
                final = self._end
                content = store.path_of(final.saved_as).read_bytes() if final.saved_as else b""
            return final, content, f"Ray node {socket.gethostname()}, process {os.getpid()}"

        def _publish(self, progress: Progress) -> None:
            if progress.done:
                self._end = progress
            else:
                self._progress = progress  # one reference swap: the other thread reads whole snapshots

        def progress(self) -> Progress | None:
            return self._progress

        def stop(self) -> None:
            self._stop.set()

    return RemoteRun


_actor_class = None
# The data sets last sent to the cluster's object store, newest first, each with its reference there.
# The data are kept with their references, never only their id(): an upload or a set with the class's
# drawings is a new object per run, and a later one could get a freed one's id and train on its digits.
# Two: the server's digits stay while a run on other digits comes and goes.
_sent: list[tuple[MnistData, object]] = []
SENT_KEPT = 2


def train_and_save_on_ray(
    config: TrainConfig,
    data: MnistData,
    store: ModelStore | None,
    save_name: str,
    publish: Callable[[Progress], None],
    should_stop: Callable[[], bool],
    owner: str = "",
) -> None:
    """``core.training.train_and_save``, run by an actor on the cluster this process joined with ``connect``.

    Publishes the actor's Progress while it trains; Stop reaches it within POLL_SECONDS plus one chunk.
    The finished model is added to ``store`` here. Never raises: a lost actor, node or cluster ends
    the run as "failed" with a message saying what happened and what to do.
    """
    import ray
    from ray.exceptions import GetTimeoutError, RayError

    global _actor_class
    _actor_class = _actor_class or _remote_run_class()
    last = Progress(epochs=config.epochs, message="Waiting for a free place on the Ray cluster...")
    publish(last)
    actor = None
    try:
        actor = _actor_class.options(num_cpus=CPUS_PER_RUN).remote()
        finished = actor.train.remote(config, _in_object_store(data), save_name, owner)
        stop_sent = False
        while not ray.wait([finished], timeout=POLL_SECONDS)[0]:
            if should_stop() and not stop_sent:
                actor.stop.remote()
                stop_sent = True
            progress = ray.get(actor.progress.remote(), timeout=ANSWER_SECONDS)
            if progress is not None and progress is not last:
                last = progress
                publish(progress)
        final, content, where = ray.get(finished)
    except GetTimeoutError:
        publish(replace(last, state=RunState.FAILED, message=(
            f"The Ray cluster stopped answering for {ANSWER_SECONDS:.0f} s; the run is lost and no model was saved. "
            "Check the cluster (`ray status`) and start the run again.")))
        return
    except RayError as error:
        publish(replace(last, state=RunState.FAILED, message=(
            f"The Ray worker training this run was lost ({type(error).__name__}): its process or node died. "
            "The run is lost and no model was saved; start it again.")))
        return
    finally:
        if actor is not None:
            ray.kill(actor)
    publish(_bring_home(final, content, where, store, save_name))


def _in_object_store(data: MnistData):
    """The reference to ``data`` in the cluster's object store: the server's digits go there once per
    worker, other digits (an upload, the class's drawings added) with their run."""
    import ray

    global _sent
    ref = next((ref for sent, ref in _sent if sent is data), None)
    if ref is None:
        ref = ray.put(data)
    _sent = [(data, ref)] + [(sent, kept) for sent, kept in _sent if sent is not data][: SENT_KEPT - 1]
    return ref


def _bring_home(final: Progress, content: bytes, where: str, store: ModelStore | None, save_name: str) -> Progress:
    """The actor's last Progress, with its model added to the server's store under a free name."""
    message = f"{final.message} Trained on {where}.".strip()
    if not content or store is None:
        return replace(final, saved_as="", message=message)
    try:
        saved = store.add_new_file(save_name, content)
    except StoreError as error:
        return replace(final, saved_as="", message=f"{error}. Trained on {where}.")
    return replace(final, saved_as=saved.name, message=message)
