"""What the server does once as it starts, before any browser connects: load what the first page needs.

A cold server used to make its first visitor wait while it imported the router's and the Lecture page's
modules (numpy, Pillow, core, the dashboard: about 0.1 s of a 2-core machine's CPU, bench/startup.py) and
read the digits. ``streamlit run dashboard/app.py`` now does that here, in the server's start-up
(``st.App``'s lifespan), so a teacher's freshly started server answers its first student like a warm one.
Nothing here imports TensorFlow: the first page does not need it.
"""

from __future__ import annotations

import ast
import contextlib
import importlib
import importlib.util
import logging
from pathlib import Path

HERE = Path(__file__).resolve().parent
# The scripts a browser's first visit runs: the router, then the default page.
FIRST_PAGE_SCRIPTS = (HERE / "app.py", HERE / "views" / "lecture.py")

logger = logging.getLogger(__name__)


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
    """Import the first page's modules and read the digits and the saved-model listing into the server's
    caches. Never raises: whatever fails here is logged, and the first page does it (and reports it) instead."""
    try:
        for name in first_page_modules():
            importlib.import_module(name)
        from core.data.mnist import load_default
        from dashboard import caches

        load_default()  # core.data keeps it for the process: the first page's st.cache_resource finds it there
        caches.saved_models()
    except Exception:  # noqa: BLE001 - a warm-up that fails must not keep the server from starting
        logger.warning("The server's warm-up failed; the first page will load it instead", exc_info=True)


@contextlib.asynccontextmanager
async def lifespan(app):
    """st.App's lifespan: warm up before the server takes its first request."""
    warm_up()
    yield
