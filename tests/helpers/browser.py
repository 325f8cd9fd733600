"""Page helpers for the browser tests: pages scroll inside a tall viewport, and a page is read only once its
script run has finished. The server and Chromium themselves come from harness/live_server.py."""

from __future__ import annotations

from playwright.sync_api import TimeoutError as PlaywrightTimeout

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


def choose(page, label: str, option: str, tries: int = 3) -> None:
    """Pick ``option`` in the select box labelled ``label`` and wait for the rerun it starts. A part of the page that
    redraws itself on a timer (the Models page's leaderboard) can close an open list: then it is opened again."""
    for attempt in range(tries):
        page.locator(MAIN).get_by_role("combobox", name=label, exact=True).click()
        choice = page.get_by_role("option", name=option, exact=True)
        try:
            choice.wait_for(timeout=PAGE_TIMEOUT_MS // 6 if attempt < tries - 1 else PAGE_TIMEOUT_MS)
            choice.click()
            break
        except PlaywrightTimeout:
            page.keyboard.press("Escape")
    wait_until_idle(page)


SIDEBAR = '[data-testid="stSidebar"]'


def unlock_teacher(page, passphrase: str) -> None:
    """Type the teacher's passphrase in the sidebar and unlock teacher mode."""
    box = page.locator(SIDEBAR).get_by_label("Teacher passphrase")
    box.fill(passphrase)
    box.press("Enter")
    wait_until_idle(page)
    page.locator(SIDEBAR).get_by_role("button", name="Unlock teacher mode").click()
    page.locator(SIDEBAR).get_by_role("button", name="Lock teacher mode").wait_for(timeout=PAGE_TIMEOUT_MS)
    wait_until_idle(page)


def smallest_font_sizes(page) -> dict[str, float | None]:
    """The smallest computed font size (px) of each kind of text shown in the main area; None for a kind not shown:
    body (st.markdown's paragraphs; not captions, smaller by design), code, table cells and headers, and chart
    labels (plotly's SVG text)."""
    return page.evaluate("""() => {
      const shown = (selector) => [...document.querySelectorAll('[data-testid="stMain"] ' + selector)]
          .filter(element => element.getBoundingClientRect().width > 0 && element.textContent.trim()
                             && !element.closest('[data-testid*="Caption"]'))
          .map(element => parseFloat(getComputedStyle(element).fontSize));
      const smallest = (sizes) => sizes.length ? Math.min(...sizes) : null;
      return {body: smallest(shown('[data-testid="stMarkdown"] p')), code: smallest(shown('pre.code-block')),
              table: smallest(shown(':is(td, th)')), chart: smallest(shown('.main-svg text'))};
    }""")


def cut_labels(page) -> list[str]:
    """The labels of the main area's buttons whose text does not fit (shown cut, as "P.."), and the tables that
    are clipped by the box around them."""
    return page.evaluate("""() => {
      const cut = [...document.querySelectorAll('[data-testid="stMain"] button')]
          .filter(button => [button, ...button.querySelectorAll('*')]
              .some(element => element.clientWidth > 0 && element.scrollWidth > element.clientWidth + 1))
          .map(button => 'button ' + button.innerText.replace(/\\s+/g, ' ').trim());
      for (const table of document.querySelectorAll('[data-testid="stMain"] table')) {
        const right = table.getBoundingClientRect().right;
        for (let box = table.parentElement; box && box.dataset.testid !== 'stMain'; box = box.parentElement) {
          if (getComputedStyle(box).overflowX !== 'visible' && right > box.getBoundingClientRect().right + 1) {
            cut.push('table ' + table.innerText.split('\\n')[0]);
            break;
          }
        }
      }
      return cut;
    }""")
