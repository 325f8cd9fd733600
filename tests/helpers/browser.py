"""Page helpers for the browser tests: pages scroll inside a tall viewport, and a page is read only once its
script run has finished. The server and Chromium themselves come from harness/live_server.py."""

from __future__ import annotations

MAIN = '[data-testid="stMain"]'
PAGE_TIMEOUT_MS = 60_000  # a generous bound for a cold page on a busy 2-core machine, never a target


def wait_until_idle(page, timeout: float = PAGE_TIMEOUT_MS) -> None:
    """Wait for the script run to finish (the running indicator goes away) and every chart to be drawn."""
    page.wait_for_function(
        "() => !document.querySelector('[data-testid=\"stStatusWidget\"] [data-testid=\"stStatusWidgetRunningIcon\"]')"
        " && [...document.querySelectorAll('[data-testid=\"stPlotlyChart\"]')].every(c => c.querySelector('.main-svg'))",
        timeout=timeout,
    )


def open_page(page, base_url: str, slug: str, query: str = "") -> None:
    """Open a page by its address: a new browser session on that server."""
    page.goto(f"{base_url}/{slug}{query}")
    page.wait_for_selector(f"{MAIN} h1", timeout=PAGE_TIMEOUT_MS)
    wait_until_idle(page)


def switch_page(page, title: str) -> None:
    """Go to another page through the sidebar's links, in the same browser session (its state kept)."""
    page.locator('[data-testid="stSidebarNav"] a').filter(has_text=title).click()
    page.wait_for_function("title => document.querySelector('[data-testid=\"stMain\"] h1')?.innerText.includes(title)",
                           arg=title, timeout=PAGE_TIMEOUT_MS)
    wait_until_idle(page)


def assert_no_error(page) -> None:
    """No traceback and no exception element reached the page."""
    exceptions = page.locator('[data-testid="stException"]')
    assert exceptions.count() == 0, f"an exception reached the page: {exceptions.first.inner_text()[:2000]}"
    text = page.inner_text("body")
    assert "Traceback" not in text and "Page not found" not in text


def choose(page, label: str, option: str) -> None:
    """Pick ``option`` in the select box labelled ``label`` and wait for the rerun it starts."""
    page.locator(MAIN).get_by_role("combobox", name=label, exact=True).click()
    page.get_by_role("option", name=option, exact=True).click()
    wait_until_idle(page)
