"""Training on a real Ray cluster through RAY_ADDRESS: the run trains in an actor there, Progress and Stop
travel, the model comes home to the store, and a lost actor fails the run with a message.

The cluster is a local head that .ci/run starts (`ray start --head --node-ip-address 127.0.0.1 ...`) and
names in MNIST_TEST_RAY_ADDRESS; elsewhere these tests skip, unless RAY_REQUIRED=1 says they must run.
"""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import threading

import psutil
import pytest

from core.model.config import preset
from core.model.store import ModelStore
from core.training import ray_cluster
from core.training.progress import RunState
from core.training.scheduler import ScheduledJob, TrainingScheduler
from harness.live_server import ROOT
from helpers.apptest import button, metrics, run_to_the_end, train_page, wait_for
from helpers.digits import make_tiny_data

CLUSTER = os.environ.get("MNIST_TEST_RAY_ADDRESS", "")

pytestmark = pytest.mark.slow
if not CLUSTER:
    if os.environ.get("RAY_REQUIRED") == "1":
        raise RuntimeError("RAY_REQUIRED=1 but MNIST_TEST_RAY_ADDRESS names no Ray cluster")
    pytestmark = [pytestmark, pytest.mark.skip(reason="no Ray cluster: start one with `ray start --head "
                                                      "--node-ip-address 127.0.0.1 --port PORT` and set "
                                                      "MNIST_TEST_RAY_ADDRESS=127.0.0.1:PORT")]


@pytest.fixture(scope="module")
def scheduler():
    """One relay worker for the module: it joins the cluster once."""
    scheduler = TrainingScheduler(max_workers=1)
    yield scheduler
    scheduler.shutdown()


@pytest.fixture(autouse=True)
def on_the_cluster(monkeypatch):
    monkeypatch.setenv("RAY_ADDRESS", CLUSTER)


def our_processes() -> set[int]:
    me = psutil.Process()
    return {me.pid, *(child.pid for child in me.children(recursive=True))}


def test_a_run_trains_on_the_cluster_and_its_model_comes_home(scheduler):
    job = ScheduledJob(preset("lecture").replace(epochs=2), make_tiny_data(), store=ModelStore(),
                       save_name="on-ray", scheduler=scheduler).start()
    progress = wait_for(job)
    assert progress.state == RunState.FINISHED, progress.message
    assert progress.test_accuracy > 0.5 and progress.batch_losses
    assert progress.saved_as == "on-ray" and ModelStore().info("on-ray").test_accuracy == progress.test_accuracy
    trained_by = int(re.search(r"Trained on Ray node \S+, process (\d+)", progress.message).group(1))
    assert trained_by not in our_processes()  # the cluster's CPU, not this server's nor its workers'


# One run straight on the actor, in a driver process of its own (ray.init would take over pytest's SIGTERM):
# prints the state train() returned, and the state progress() shows after it.
ACTOR_CODE = """
import sys
import threading
sys.path.insert(0, sys.argv[1])
import ray
from core.training import ray_cluster as ray_training
from core.data import load_file
from core.model.config import preset
ray_training.connect(sys.argv[2])
actor = ray_training._remote_run_class().remote()
final, content, where = ray.get(actor.train.remote(preset("lecture").replace(epochs=1), load_file(sys.argv[3]), "end", ""))
print(final.state, bool(content), ray.get(actor.progress.remote()).state)
"""


def test_the_actor_tells_a_runs_end_only_with_its_model(tiny_npz):
    """A page that saw the end in progress() showed the actor's save name before the model reached the store."""
    answer = subprocess.run([sys.executable, "-c", ACTOR_CODE, str(ROOT), CLUSTER, str(tiny_npz)],
                            capture_output=True, text=True, timeout=300)
    assert answer.returncode == 0, answer.stderr[-2000:]
    assert answer.stdout.split() == ["finished", "True", "evaluating"]


def test_stop_reaches_the_run_on_the_cluster(scheduler):
    job = ScheduledJob(preset("lecture").replace(epochs=500), make_tiny_data(), store=ModelStore(),
                       save_name="stopped", scheduler=scheduler).start()
    wait_for(job, lambda progress: progress.step > 0, "the first steps")
    job.stop()
    progress = wait_for(job)
    assert progress.state == RunState.STOPPED and progress.stopped
    assert 0 < progress.step < progress.total_steps
    assert progress.saved_as == "stopped"


def test_a_worker_killed_on_the_cluster_fails_the_run_with_a_message(scheduler):
    job = ScheduledJob(preset("lecture").replace(epochs=500), make_tiny_data(), store=ModelStore(),
                       save_name="lost", scheduler=scheduler).start()
    wait_for(job, lambda progress: progress.step > 0, "the first steps")
    actors = [process for process in psutil.process_iter(["cmdline"])
              if any("RemoteRun" in part for part in process.info["cmdline"] or ())]
    assert actors, "no Ray actor process training the run was found"
    for actor in actors:
        actor.kill()
    progress = wait_for(job)
    assert progress.state == RunState.FAILED
    assert "Ray worker training this run was lost" in progress.message and "start it again" in progress.message
    assert not ModelStore().list().models


def test_a_run_started_on_the_train_page_trains_on_the_cluster(tiny_npz):
    at = train_page()
    at.number_input(key="train_epochs").set_value(1).run()
    button(at, "Start").click().run()
    assert not at.exception and not at.error
    run_to_the_end(at)
    assert not at.exception and not at.error and "Accuracy on test data" in metrics(at)
    assert any(caption.value.startswith("Trained on Ray node") for caption in at.caption)
    assert [info.name for info in ModelStore().list().models] == ["mlp-64-tanh-sgd-1ep"]


def test_no_cluster_at_the_address_fails_the_run_at_once_with_what_to_do(scheduler, monkeypatch):
    from harness.live_server import free_port

    nowhere = f"127.0.0.1:{free_port()}"
    monkeypatch.setenv("RAY_ADDRESS", nowhere)
    job = ScheduledJob(preset("lecture"), make_tiny_data(), store=ModelStore(), scheduler=scheduler).start()
    progress = wait_for(job)
    assert progress.state == RunState.FAILED
    assert f"no Ray cluster answered at RAY_ADDRESS={nowhere}" in progress.message
    assert "unset RAY_ADDRESS" in progress.message


REAL_CREATE_CONNECTION = socket.create_connection  # before the tests' no_network patch: these servers are loopback


@pytest.mark.parametrize("answer", [None, b"HTTP/1.1 400 Bad Request\r\n\r\n"], ids=["silent", "http1"])
def test_an_address_that_answers_but_not_as_ray_fails_within_the_probe_time(answer, monkeypatch):
    """Issue 22, row 13: ray.init kept retrying for minutes against a port that answered but was not Ray."""
    monkeypatch.setattr(socket, "create_connection", REAL_CREATE_CONNECTION)
    monkeypatch.setattr(ray_cluster, "PROBE_SECONDS", 1.0)
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen()
    accepted = []

    def serve():
        client, _ = server.accept()
        accepted.append(client)
        client.recv(100)
        if answer is not None:
            client.sendall(answer)

    threading.Thread(target=serve, daemon=True).start()
    address = f"127.0.0.1:{server.getsockname()[1]}"
    try:
        with pytest.raises(RuntimeError, match=f"no Ray cluster answered at RAY_ADDRESS={address}"):
            ray_cluster.connect(address)
    finally:
        server.close()
        for client in accepted:
            client.close()
    assert accepted, "the probe never reached the server"
