"""The attacks of issue 22 on a real server: each leaves the health check and another student's page answering,
and memory taken by uploads comes back when their sessions end. One server for the module, real Chromium pages.

Bounds here are for a stall, never speed targets: before the fixes, 50,000 characters of a link held this
server for about 30 s (16-46 s on the machine the issue was found on), and closed upload sessions kept their
memory for 37 minutes.
"""

from __future__ import annotations

import json
import socket
import time
import zipfile

import psutil
import pytest

from core.model.store import META_ENTRY, ModelStore
from harness.live_server import CHROMIUM, CHROMIUM_ARGS, browser_missing, streamlit_server
from helpers.browser import MAIN, PAGE_TIMEOUT_MS, assert_no_error, wait_until_idle
from helpers.digits import blank_npz, make_tiny_data, npz_bytes

pytestmark = pytest.mark.slow
# The longest the health check or another session's page may take while an attack goes on: generous for a
# busy 2-core machine, far below the stalls the attacks caused.
STALL_SECONDS = 10
# How long the server may take to give the uploads' memory back after their sessions end (the grace time is
# 1 s here, the reaper looks every 0.5 s): a bound for a leak, not a target.
RELEASE_DEADLINE_SECONDS = 120
UPLOAD_DIGITS = 100_000  # 79 MB of uint8 pixels per session once read

ATTACKS = {
    "layer sizes of 50,000 characters": "train?hidden=1" + "+" * 50_000 + "x",
    "filters of 50,000 characters": "train?arch=cnn&filters=1" + "+" * 50_000 + "x",
    "a network whose estimate takes seconds": "train?hidden=2048,2048&batch_size=4096",
    "a network too large to build": "train?arch=cnn&filters=4096,4096,4096,4096&hidden=4096&batch_size=4096",
    "a run of 20 hours": "train?preset=cnn&epochs=500&batch_size=1",
    "a lecture step of 50,000 digits": "?step=" + "9" * 50_000,
}

if browser_missing():
    pytest.skip(browser_missing(), allow_module_level=True)


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """(base URL, process, models folder) of the module's server, on the tiny digits."""
    folder = tmp_path_factory.mktemp("attacks")
    digits = folder / "tiny.npz"
    digits.write_bytes(npz_bytes(make_tiny_data()))
    env = {"MNIST_PATH": str(digits), "MNIST_MODELS_DIR": str(folder / "models"), "TF_CPP_MIN_LOG_LEVEL": "3",
           "MNIST_UPLOAD_GRACE_SECONDS": "1"}
    with streamlit_server(env) as (base_url, process, _seconds):
        yield base_url, process, folder / "models"


@pytest.fixture(scope="module")
def browser(server):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


def health_answers(base_url: str) -> bool:
    """The server's health check, asked over a plain socket (the tests' no_network fixture blocks urllib's way of
    connecting, even to this machine); True when it says ok within STALL_SECONDS."""
    host, port = base_url.removeprefix("http://").split(":")
    with socket.socket() as connection:
        connection.settimeout(STALL_SECONDS)
        connection.connect((host, int(port)))
        connection.sendall(f"GET /_stcore/health HTTP/1.0\r\nHost: {host}\r\n\r\n".encode())
        answer = b""
        while chunk := connection.recv(4096):
            answer += chunk
    return answer.startswith(b"HTTP/1.1 200") and answer.rstrip().endswith(b"ok")


def another_student_sees_the_lecture(browser, base_url: str) -> None:
    """A new browser session opens the first page and sees its title within STALL_SECONDS."""
    context = browser.new_context()
    try:
        page = context.new_page()
        page.goto(base_url, timeout=STALL_SECONDS * 1000)
        page.wait_for_selector(f"{MAIN} h1", timeout=STALL_SECONDS * 1000)
    finally:
        context.close()


@pytest.mark.parametrize("attack", list(ATTACKS))
def test_an_attack_leaves_the_health_check_and_another_session_answering(server, browser, attack):
    base_url, _, _ = server
    context = browser.new_context()
    try:
        attacker = context.new_page()
        attacker.goto(f"{base_url}/{ATTACKS[attack]}", wait_until="commit")
        attacker.wait_for_selector(f"{MAIN} h1", timeout=PAGE_TIMEOUT_MS)  # the page's script is running
        assert health_answers(base_url)
        another_student_sees_the_lecture(browser, base_url)
        wait_until_idle(attacker)
        assert_no_error(attacker)
    finally:
        context.close()


def test_an_upload_of_a_million_blank_digits_is_refused_and_the_server_answers(server, browser):
    """issue 22: a 760 kB npz of 980,000 blank digits took 750 MB of the server in each session."""
    base_url, _, _ = server
    context = browser.new_context()
    try:
        page = context.new_page()
        page.goto(f"{base_url}/digits")
        page.wait_for_selector(f"{MAIN} h1", timeout=PAGE_TIMEOUT_MS)
        wait_until_idle(page)
        page.set_input_files('input[type="file"]', files=[{"name": "zeros.npz", "mimeType": "application/octet-stream",
                                                           "buffer": blank_npz(970_000, 10_000)}])
        assert health_answers(base_url)
        page.get_by_text("more than the 256 MB one session may use for an upload").wait_for(timeout=PAGE_TIMEOUT_MS)
        another_student_sees_the_lecture(browser, base_url)
        assert_no_error(page)
    finally:
        context.close()


def test_a_crafted_model_file_leaves_the_models_page_working_for_everyone(server, browser, tiny_result):
    """issue 22: a mnist_run.json with 1e300 parameters broke the Models page's table for everyone."""
    base_url, _, folder = server
    models = ModelStore(folder)
    good = models.save("good", tiny_result)
    with zipfile.ZipFile(good.path) as archive:
        meta = json.loads(archive.read(META_ENTRY))
    crafted = models.folder / "crafted.keras"
    with zipfile.ZipFile(crafted, "w") as archive:
        archive.writestr(META_ENTRY, json.dumps({**meta, "parameters": 1e300, "batch_losses": [[1, 2], "x"]}))
    context = browser.new_context()
    try:
        page = context.new_page()
        page.goto(f"{base_url}/models")
        page.get_by_text("crafted.keras is skipped").wait_for(timeout=PAGE_TIMEOUT_MS)
        wait_until_idle(page)
        assert_no_error(page)
        assert "Active model: good" in page.inner_text('[data-testid="stSidebar"]')
    finally:
        context.close()
        crafted.unlink()
        models.delete("good")


def server_memory(process) -> int:
    """The server's resident memory, the least of a few looks (a look may catch a passing allocation)."""
    looks = []
    for _ in range(5):
        looks.append(psutil.Process(process.pid).memory_info().rss)
        time.sleep(0.2)
    return min(looks)


def upload_on_the_digits_page(browser, base_url: str, name: str, content: bytes):
    context = browser.new_context()
    page = context.new_page()
    page.goto(f"{base_url}/digits")
    page.wait_for_selector(f"{MAIN} h1", timeout=PAGE_TIMEOUT_MS)
    wait_until_idle(page)
    page.set_input_files('input[type="file"]', files=[{"name": name, "mimeType": "application/octet-stream",
                                                       "buffer": content}])
    page.wait_for_function("() => document.querySelector('[data-testid=\"stSidebar\"]')?.innerText"
                           ".includes('(uploaded)')", timeout=PAGE_TIMEOUT_MS)
    return context


def test_the_memory_of_closed_upload_sessions_comes_back(server, browser):
    """issue 22: three sessions' uploads took a server from 1.06 to 3.3 GB, and 37 minutes after their browsers
    closed the memory was still held."""
    base_url, process, _ = server
    upload_on_the_digits_page(browser, base_url, "warm-up.npz", npz_bytes(make_tiny_data())).close()
    before = server_memory(process)
    sessions = [upload_on_the_digits_page(browser, base_url, f"blank-{index}.npz",
                                          blank_npz(UPLOAD_DIGITS - index, 1_000)) for index in range(3)]
    held = server_memory(process)
    assert held - before > 2 * UPLOAD_DIGITS * 784  # three different uploads: each held (else nothing is measured)
    for context in sessions:
        context.close()
    deadline = time.monotonic() + RELEASE_DEADLINE_SECONDS
    while server_memory(process) > 1.1 * before:
        assert time.monotonic() < deadline, (f"the server still holds {server_memory(process) / 2**20:.0f} MB, "
                                             f"{before / 2**20:.0f} MB before the uploads")
        time.sleep(1)
