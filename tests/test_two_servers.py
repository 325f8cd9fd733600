"""Two Streamlit servers on one models folder, as docs/deploy.md sets up a class behind a proxy: a model saved
through one appears in the other, and deleting it in one (through its Models page) while the other has it
selected never breaks the other. With a Ray cluster (MNIST_TEST_RAY_ADDRESS), a run started on one server's
Train page trains there and its model appears in the other. deploy/compose.yaml must parse."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from contextlib import ExitStack

import numpy as np
import pytest
import yaml

from core.model.config import default_model_name, preset
from core.model.store import ModelStore
from harness.live_server import CHROMIUM, CHROMIUM_ARGS, ROOT, browser_missing, streamlit_server
from helpers.browser import MAIN, PAGE_TIMEOUT_MS, assert_no_error, choose, open_page, switch_page
from helpers.digits import make_tiny_data

CLUSTER = os.environ.get("MNIST_TEST_RAY_ADDRESS", "")
TRAIN_TIMEOUT_MS = 300_000  # a cold Ray worker imports TensorFlow first; a bound, never a target

pytestmark = pytest.mark.slow


needs_browser = pytest.mark.skipif(bool(browser_missing()), reason=browser_missing() or "Chromium is here")
if not CLUSTER and os.environ.get("RAY_REQUIRED") == "1":
    raise RuntimeError("RAY_REQUIRED=1 but MNIST_TEST_RAY_ADDRESS names no Ray cluster")
needs_cluster = pytest.mark.skipif(not CLUSTER, reason="no Ray cluster: start one with `ray start --head "
                                   "--node-ip-address 127.0.0.1 --port PORT` and set MNIST_TEST_RAY_ADDRESS=127.0.0.1:PORT")
LISTINGS = 3000  # listings read while another process saves and deletes; before the fix 21 called a file damaged
# Another server's store, in its own process: save a model file as "churn-<n>" and delete it again, forever.
CHURN_CODE = """
import itertools, sys
sys.path.insert(0, sys.argv[1])
from core.model.store import ModelStore, StoreError
store, content = ModelStore(sys.argv[2]), open(sys.argv[3], "rb").read()
for count in itertools.count():
    store.add_file(f"churn-{count % 4}", content)
    store.delete(f"churn-{count % 4}")
    if count == 8:
        print("churning", flush=True)
"""


def test_the_compose_file_parses_and_shares_one_models_volume():
    compose = yaml.safe_load((ROOT / "deploy" / "compose.yaml").read_text())
    services = compose["services"]
    apps = [name for name, service in services.items() if "streamlit" in str(service.get("command", ""))]
    assert len(apps) >= 2, f"two app replicas expected, got {apps}"
    for name in apps:
        environment = services[name]["environment"]
        assert environment["MNIST_MODELS_DIR"] == "/models" and environment["RAY_ADDRESS"] == "ray-head:6379"
        assert "models:/models" in services[name]["volumes"]
    assert {"ray-head", "ray-worker", "proxy"} <= set(services) and "models" in compose["volumes"]
    assert (ROOT / "deploy" / services["proxy"]["volumes"][0].split(":")[0].removeprefix("./")).is_file()


def test_a_listing_skips_models_another_server_deletes_meanwhile(tmp_path, tiny_result):
    source = ModelStore(tmp_path / "source").save("source", tiny_result).path
    shared = ModelStore(tmp_path / "shared")
    shared.save("stays", tiny_result)
    churn = subprocess.Popen([sys.executable, "-c", CHURN_CODE, str(ROOT), str(shared.folder), str(source)],
                             stdout=subprocess.PIPE, text=True)
    try:
        assert churn.stdout.readline().strip() == "churning"
        listings = [shared.list() for _ in range(LISTINGS)]
    finally:
        churn.kill()
        churn.wait()
    assert [listing.problems for listing in listings if listing.problems] == []
    assert all("stays" in [info.name for info in listing.models] for listing in listings)


SAVES_EACH = 100  # saves per server under one free name; before the fix 2-14 of the 200 were overwritten
# Another server saving finished runs as the scheduler does: under a free name from unique_name, trying again
# when another server took that name first.
SAVE_CODE = """
import sys
sys.path.insert(0, sys.argv[1])
from core.model.store import ModelStore, StoreError
store, content = ModelStore(sys.argv[2]), open(sys.argv[3], "rb").read()
sys.stdin.readline()
for _ in range(int(sys.argv[4])):  # a tight loop: far more collisions than runs finishing at a person's pace
    saved = False
    while not saved:  # another process took the free name first: ask for the next one
        try:
            store.add_file(store.unique_name("lecture"), content)
            saved = True
        except StoreError:
            saved = False
"""


def test_two_servers_saving_under_one_free_name_never_overwrite_each_other(tmp_path, tiny_result):
    source = ModelStore(tmp_path / "source").save("source", tiny_result).path
    shared = tmp_path / "shared"
    servers = [subprocess.Popen([sys.executable, "-c", SAVE_CODE, str(ROOT), str(shared), str(source), str(SAVES_EACH)],
                                stdin=subprocess.PIPE, text=True) for _ in range(2)]
    for server in servers:  # both start at once, once both have started Python
        server.stdin.write("go\n")
        server.stdin.flush()
    assert [server.wait(120) for server in servers] == [0, 0]
    assert len(ModelStore(shared).list().models) == 2 * SAVES_EACH


@pytest.fixture(scope="module")
def shared_folder(tmp_path_factory):
    return tmp_path_factory.mktemp("shared-models")


@pytest.fixture(scope="module")
def servers(tmp_path_factory, shared_folder):
    """(A, B): the base addresses of two servers on one models folder, and their logs once they end."""
    data = make_tiny_data()
    npz = tmp_path_factory.mktemp("data") / "tiny_mnist.npz"
    np.savez(npz, X_train=data.x_train, y_train=data.y_train, X_test=data.x_test, y_test=data.y_test)
    env = {"MNIST_MODELS_DIR": str(shared_folder), "MNIST_PATH": str(npz), "TF_CPP_MIN_LOG_LEVEL": "3",
           "RAY_ADDRESS": CLUSTER}
    logs: list[str] = []
    with ExitStack() as stack:
        running = [stack.enter_context(streamlit_server(env)) for _ in range(2)]
        # Read each server's log as it comes, so a chatty server never blocks on a full pipe.
        readers = [threading.Thread(target=lambda process=process: logs.append(process.stdout.read()), daemon=True)
                   for _, process, _ in running]
        for reader in readers:
            reader.start()
        yield tuple(base_url for base_url, _, _ in running)
    for reader in readers:
        reader.join(10)
    assert not any("Traceback" in log for log in logs), "a server logged a traceback:\n" + "\n".join(logs)


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def tabs(browser):
    """One tab on each server, as two students behind the proxy would be."""
    pages = [browser.new_page(viewport={"width": 1400, "height": 1800}) for _ in range(2)]
    yield pages
    for page in pages:
        page.close()


@needs_browser
def test_a_model_saved_on_one_server_appears_in_the_other(servers, tabs, shared_folder, tiny_result):
    (_, b), (_, tab_b) = servers, tabs
    open_page(tab_b, b, "models")
    tab_b.get_by_text("No saved model yet").wait_for(timeout=PAGE_TIMEOUT_MS)
    ModelStore(shared_folder).save("from-a", tiny_result)  # what server A's training worker does
    switch_page(tab_b, "Evaluate")
    switch_page(tab_b, "Models")
    tab_b.get_by_text("Yes, delete from-a").wait_for(timeout=PAGE_TIMEOUT_MS)
    assert_no_error(tab_b)
    ModelStore(shared_folder).delete("from-a")


@needs_browser
def test_deleting_in_one_server_never_breaks_the_other(servers, tabs, shared_folder, tiny_result):
    (a, b), (tab_a, tab_b) = servers, tabs
    store = ModelStore(shared_folder)
    store.save("kept", tiny_result)
    store.save("doomed", tiny_result)
    # B works with "doomed": it is B's active model, loaded in B's cache, and chosen for deleting there too.
    open_page(tab_b, b, "evaluate")
    choose(tab_b, "Model", "doomed")
    tab_b.get_by_text("doomed: trained on").wait_for(timeout=PAGE_TIMEOUT_MS)
    switch_page(tab_b, "Models")
    choose(tab_b, "Model", "doomed")
    tab_b.get_by_text("Yes, delete doomed").click()
    # A deletes it through its own Models page.
    open_page(tab_a, a, "models")
    choose(tab_a, "Model", "doomed")
    tab_a.get_by_text("Yes, delete doomed").click()
    tab_a.get_by_role("button", name="Delete").click()
    tab_a.get_by_text("Deleted doomed.").wait_for(timeout=PAGE_TIMEOUT_MS)
    assert not store.path_of("doomed").exists()
    # B deletes it too, late: a clear message, and B goes on with the model that is left.
    tab_b.get_by_role("button", name="Delete").click()
    tab_b.locator(f'{MAIN} [data-testid="stAlert"]').filter(has_text="no saved model named 'doomed'").wait_for(
        timeout=PAGE_TIMEOUT_MS)
    assert_no_error(tab_b)
    assert tab_b.get_by_text("Yes, delete doomed").count() == 0
    switch_page(tab_b, "Evaluate")
    tab_b.get_by_text("kept: trained on").wait_for(timeout=PAGE_TIMEOUT_MS)
    assert "Active model: kept" in tab_b.inner_text('[data-testid="stSidebar"]')
    assert_no_error(tab_b)
    store.delete("kept")


@needs_browser
@needs_cluster
def test_a_run_started_on_one_server_trains_on_ray_and_appears_in_the_other(servers, tabs):
    (a, b), (tab_a, tab_b) = servers, tabs
    config = preset("lecture").replace(epochs=1)
    open_page(tab_a, a, "train", "?preset=lecture&epochs=1")
    tab_a.get_by_role("button", name="Start", exact=True).click()
    tab_a.get_by_text("Accuracy on test data").first.wait_for(timeout=TRAIN_TIMEOUT_MS)
    for shown in (f"Saved as {default_model_name(config)}", "Trained on Ray node"):
        tab_a.get_by_text(shown).wait_for(timeout=PAGE_TIMEOUT_MS)
    assert_no_error(tab_a)
    open_page(tab_b, b, "models")
    tab_b.get_by_text(f"Yes, delete {default_model_name(config)}").wait_for(timeout=PAGE_TIMEOUT_MS)
    assert_no_error(tab_b)
