"""The server's warm-up (dashboard/warm_up.py): what it loads, that it never stops a server from starting,
and that ``streamlit run dashboard/app.py`` runs it before the first browser connects."""

from __future__ import annotations

import asyncio
import json
import logging
import subprocess
import sys
from pathlib import Path

import pytest

from dashboard import warm_up
from harness.live_server import ROOT, streamlit_server
from helpers.digits import make_tiny_data, npz_bytes


def test_the_first_page_modules_are_read_from_the_router_and_the_lecture_page():
    modules = warm_up.first_page_modules()
    for name in ("streamlit", "numpy", "dashboard.sidebar", "dashboard.caches", "dashboard.html_blocks",
                 "core.lecture", "core.data.mnist", "core.model.config"):
        assert name in modules, (name, modules)
    assert not any(name.split(".")[0] in ("tensorflow", "keras") for name in modules), modules
    assert "core.data.MnistData" not in modules and "typing.Literal" not in modules  # names, not modules


def test_a_module_named_with_from_import_is_found(tmp_path):
    script = tmp_path / "page.py"
    script.write_text("from __future__ import annotations\nimport json\nfrom core import lecture, preset\n"
                      "from dashboard.plain_text import escape\n")
    assert warm_up.first_page_modules([script]) == ["json", "core", "core.lecture", "dashboard.plain_text"]


def test_warm_up_loads_the_first_page_without_tensorflow(tiny_npz):
    code = (f"import sys, json; sys.path.insert(0, {str(ROOT)!r})\n"
            "from dashboard import warm_up\n"
            "warm_up.warm_up()\n"
            "import core.data.mnist\n"
            "print(json.dumps([sorted(sys.modules), len(core.data.mnist._cache)]))\n")
    finished = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert finished.returncode == 0, finished.stderr[-2000:]
    loaded, cached_data_sets = json.loads(finished.stdout.splitlines()[-1])
    assert set(warm_up.first_page_modules()) <= set(loaded)
    assert cached_data_sets == 1  # the digits MNIST_PATH names, read once for the process
    assert not any(name.startswith(("tensorflow", "keras")) for name in loaded)
    assert "Traceback" not in finished.stderr and "warm-up failed" not in finished.stderr


def test_a_failing_warm_up_is_logged_and_never_raises(monkeypatch, caplog):
    monkeypatch.setattr(warm_up, "first_page_modules", lambda: ["no_such_module_anywhere"])
    with caplog.at_level(logging.WARNING, logger=warm_up.__name__):
        warm_up.warm_up()
    assert "warm-up failed" in caplog.text and "no_such_module_anywhere" in caplog.text


@pytest.fixture(scope="module")
def server_maps(tmp_path_factory) -> str:
    """/proc/<pid>/maps of a fresh `streamlit run dashboard/app.py` that no browser has opened yet.

    Module-scoped, so outside conftest's no_network patch, which would refuse the health check too."""
    digits = tmp_path_factory.mktemp("digits") / "tiny_mnist.npz"
    digits.write_bytes(npz_bytes(make_tiny_data()))
    env = {"MNIST_PATH": str(digits), "MNIST_MODELS_DIR": str(tmp_path_factory.mktemp("models"))}
    with streamlit_server(env) as (_base_url, process, _seconds):
        return Path(f"/proc/{process.pid}/maps").read_text()


def test_streamlit_run_warms_the_server_up_before_any_browser_connects(server_maps):
    maps = server_maps
    # Only the first page's imports bring these native libraries into a bare Streamlit server; no page ran.
    assert "_multiarray_umath" in maps and "PIL/_imaging" in maps, "the server did not run dashboard/warm_up.py"
    assert "libtensorflow" not in maps


def test_the_first_figures_are_made_ahead_of_the_class_with_the_pages_own_figure_functions():
    warm_up.first_figures()  # a figure function whose arguments changed would raise here, not in a log line
    assert "plotly.graph_objs._heatmap" in sys.modules  # what Evaluate's first view had paid 150 ms to import


def test_the_server_returns_freed_memory_to_the_system_before_it_warms_up(monkeypatch):
    calls = []
    monkeypatch.setattr(warm_up, "return_large_blocks", lambda: calls.append("return_large_blocks") or True)
    monkeypatch.setattr(warm_up, "trim_periodically", lambda: calls.append("trim_periodically") or True)
    monkeypatch.setattr(warm_up, "warm_up", lambda: calls.append("warm_up"))
    monkeypatch.setattr(warm_up, "_prepare_after_the_first_page", lambda: None)

    async def serve():
        async with warm_up.lifespan(app=None):
            calls.append("serving")

    asyncio.run(serve())
    assert calls == ["return_large_blocks", "trim_periodically", "warm_up", "serving"]
