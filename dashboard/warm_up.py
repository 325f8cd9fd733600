"""What the server does once as it starts, before any browser connects: load what the first page needs.

A cold server used to make its first visitor wait while it imported the router's and the Lecture page's
modules (numpy, Pillow, core, the dashboard: about 0.1 s of a 2-core machine's CPU, bench/startup.py) and
read the digits. ``streamlit run dashboard/app.py`` now does that here, in the server's start-up
(``st.App``'s lifespan), so a teacher's freshly started server answers its first student like a warm one.
Nothing in that start-up imports TensorFlow: the first page does not need it.

Once the first page has been served, the server prepares what the class asks for next, while nobody waits
(``prepare_for_the_class``): one training worker, which imports TensorFlow and reads the digits in its own
low-priority process, and TensorFlow in the server itself (the Lecture's steps 7-12 and Evaluate build and run
networks here). On a cold 2-core server the first Lecture run had waited about 16 s for its first point, step 8
7.4 s and Evaluate's first view 4.8 s (bench/cold_start.py measures them now).
"""

from __future__ import annotations

import ast
import contextlib
import importlib
import importlib.util
import logging
import os
import threading
import time
from pathlib import Path

import numpy as np
import plotly.io

from core.native_memory import return_large_blocks, trim_periodically
from core.tensorflow_import import import_tensorflow
from core.training.child_process import at_low_priority
from dashboard import figures

HERE = Path(__file__).resolve().parent
# The scripts a browser's first visit runs: the router, then the default page.
FIRST_PAGE_SCRIPTS = (HERE / "app.py", HERE / "views" / "lecture.py")

# Modules the preparing would import in the background (TensorFlow imports pandas) that a page may find
# half-imported: plotly reads pandas from sys.modules without importing it (get_module(..., should_load=False)),
# and a chart drawn while the preparing imported pandas failed with "partially initialized module 'pandas' has
# no attribute 'Series'". Imported whole as the server starts (about 0.3 s), they are never half-imported later.
WHOLE_BEFORE_PREPARING = ("pandas",)
# After the first page's script has run, its browser still fetches and paints it (about 0.5 s on a cold
# 2-core machine): the preparing starts after that, so the first page stays as quick as a minimal app's.
PREPARE_DELAY_SECONDS = 2.0

logger = logging.getLogger(__name__)
_first_page_served = threading.Event()
# Held while the preparing imports TensorFlow, and waited for by every page (wait_for_the_imports). Importing
# TensorFlow imports about 4,000 modules (Keras, SciPy, scikit-learn, pandas...), some of which a page imports
# too; two threads importing such a web of modules at once can each wait for the other, and Python then hands
# one of them a half-imported module (importlib's deadlock avoidance).
_importing = threading.Lock()
_low_priority_threads: set[int] = set()  # the native ids of the preparing's threads (at_low_priority)


def first_page_modules(scripts=FIRST_PAGE_SCRIPTS) -> list[str]:
    """The modules ``scripts`` import, read from their import statements (so this list never drifts from
    the pages), in the order they first appear; ``from package import module`` names the module itself."""
    modules: list[str] = []
    for script in scripts:
        for node in ast.walk(ast.parse(Path(script).read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                modules += [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module != "__future__":
                submodules = [f"{node.module}.{alias.name}" for alias in node.names]
                modules += [node.module] + [name for name in submodules if _is_module(name)]
    return list(dict.fromkeys(modules))


def _is_module(name: str) -> bool:
    try:
        return importlib.util.find_spec(name) is not None
    except ImportError:  # the parent is not a package: ``from core.data import MnistData``
        return False


def warm_up() -> None:
    """Import the first page's modules (and WHOLE_BEFORE_PREPARING) and read the digits and the saved-model listing
    into the server's caches. Never raises: whatever fails here is logged, and the first page does it (and reports
    it) instead."""
    try:
        for name in first_page_modules() + list(WHOLE_BEFORE_PREPARING):
            importlib.import_module(name)
        from core.data.mnist import load_default
        from dashboard import caches

        load_default()  # core.data keeps it for the process: the first page's st.cache_resource finds it there
        caches.saved_models()
    except Exception:  # noqa: BLE001 - a warm-up that fails must not keep the server from starting
        logger.warning("The server's warm-up failed; the first page will load it instead", exc_info=True)


def first_page_served() -> None:
    """Said by the router after each page it runs (dashboard/app.py): the first lets the preparing begin."""
    _first_page_served.set()


def wait_for_the_imports() -> None:
    """Called by the router before each page (dashboard/app.py): a page never imports while the preparing imports
    TensorFlow (a few seconds, once, soon after the first page), so neither can find a module half-imported.
    A page that has to wait lifts the import to the server's own priority (where the system lets a thread
    raise its priority again): at the low one, a busy machine would make the page wait far longer."""
    if _importing.acquire(blocking=False):
        _importing.release()
        return
    for thread_id in list(_low_priority_threads):
        with contextlib.suppress(OSError):
            os.setpriority(os.PRIO_PROCESS, thread_id, os.getpriority(os.PRIO_PROCESS, 0))
    with _importing:
        pass


def prepare_for_the_class() -> None:
    """One training worker started ahead of the first run, and TensorFlow imported and run once in the server, at a
    low priority. Never raises: whatever fails here is logged, and the page that needs it does it instead."""
    try:
        from core.training.scheduler import server_scheduler

        server_scheduler().prepare_worker()  # a child process, already at CHILD_NICENESS
        with _importing:
            at_low_priority(import_tensorflow, running=_low_priority_threads)
        # TensorFlow makes its thread pools with its first operation, and threads inherit their maker's priority:
        # made here, at the server's own, so that later drawings and evaluations are not held back.
        tf = import_tensorflow()  # imported just above: only bound here
        tf.add(tf.constant(1.0), 1.0)
        at_low_priority(_first_networks, running=_low_priority_threads)
        at_low_priority(first_figures, running=_low_priority_threads)
    except Exception:  # noqa: BLE001 - the class's pages prepare what they need themselves
        logger.warning("The server could not prepare TensorFlow ahead of the class", exc_info=True)


def _first_networks() -> None:
    """What the first visits of the Lecture's network steps and of Evaluate pay once per process: Keras building
    a network, and TensorFlow's first compiled function (about 2 s, core.training.loop.warm_up_tensorflow)."""
    from core.lecture import fresh_network
    from core.training.loop import warm_up_tensorflow

    warm_up_tensorflow()
    fresh_network()


def first_figures() -> None:
    """Plotly imports the code of a kind of chart (its validators) when the first one is made, and Streamlit sends
    each as JSON: Evaluate's first view spent 150 ms of its 415 ms there (2-core AMD EPYC). Made once here, with
    the Lecture's and Evaluate's figure functions."""
    empty = np.zeros(10)
    for figure in (figures.confusion_figure(np.zeros((10, 10), int)), figures.precision_recall_figure(empty, empty),
                   figures.probability_table(np.full((1, 10), 0.1), [0]),
                   figures.embedding_figure(np.zeros((10, 2)), np.arange(10), np.arange(10), np.arange(10))):
        plotly.io.to_json(figure, validate=False)  # as st.plotly_chart sends it


def _prepare_after_the_first_page() -> None:
    _first_page_served.wait()
    time.sleep(PREPARE_DELAY_SECONDS)
    prepare_for_the_class()


@contextlib.asynccontextmanager
async def lifespan(app):
    """st.App's lifespan: warm up before the server takes its first request; prepare for the class once the
    first page has been served. First of all, what the server frees goes back to the system from now on
    (core.native_memory): a server that runs for a lesson does not keep every evaluation's memory."""
    return_large_blocks()
    trim_periodically()
    warm_up()
    threading.Thread(target=_prepare_after_the_first_page, name="mnist-prepare", daemon=True).start()
    yield
