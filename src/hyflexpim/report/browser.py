"""Open a report page in a real headless Chromium (through Playwright), check it from the rendered DOM — every figure
decoded (natural width > 0), every table with rows — and save a screenshot.

The browser is the system's Chromium (Debian's ``chromium`` package; ``HYFLEXPIM_CHROMIUM`` names another binary):
Playwright's own browser download needs a network this tool does not assume.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path

from hyflexpim.errors import UserError

# flags for a sandboxed, offline machine (no background network, no GPU, runs as root in containers)
FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic"]

CHECK = """() => ({
  images: Array.from(document.images).map(i => ({alt: i.alt, complete: i.complete, width: i.naturalWidth})),
  tables: Array.from(document.querySelectorAll('table')).map(t => ({
      head: Array.from(t.querySelectorAll('th')).map(h => h.textContent).slice(0, 3).join(' | '),
      rows: t.tBodies.length ? t.tBodies[0].rows.length : 0})),
  sections: Array.from(document.querySelectorAll('section h2')).map(h => h.textContent),
  title: document.title,
})"""


@dataclass
class Rendered:
    title: str
    sections: list[str]
    images: list[dict]
    tables: list[dict]
    screenshot: Path | None = None
    problems: list[str] = field(default_factory=list)


def chromium() -> str | None:
    """The Chromium binary to drive, or None."""
    own = os.environ.get("HYFLEXPIM_CHROMIUM")
    if own:
        return own if Path(own).is_file() else None
    for name in ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable"):
        path = shutil.which(name)
        if path:
            return path
    return None


def available() -> str | None:
    """Why a page cannot be rendered here (None: it can)."""
    if importlib.util.find_spec("playwright") is None:
        return "Playwright is not installed (pip install playwright; its browser download is not needed)"
    if chromium() is None:
        return ("no Chromium found (install Debian's 'chromium' package, or set HYFLEXPIM_CHROMIUM to a Chromium or "
                "Chrome binary)")
    return None


def render(page: Path, screenshot: Path | None = None, width: int = 1280, height: int = 1300) -> Rendered:
    """Load ``page`` from disk in headless Chromium, read the rendered DOM, and save a screenshot of its top
    (``width`` × ``height`` pixels)."""
    why = available()
    if why:
        raise UserError(f"cannot render {page} in a browser: {why}")
    from playwright.sync_api import sync_playwright  # optional package, checked above

    page = Path(page).resolve()
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=chromium(), args=FLAGS)
        try:
            tab = browser.new_page(viewport={"width": width, "height": height})
            tab.goto(page.as_uri(), wait_until="load")
            tab.wait_for_function("() => Array.from(document.images).every(i => i.complete)", timeout=60_000)
            dom = tab.evaluate(CHECK)
            if screenshot is not None:
                tab.screenshot(path=str(screenshot), full_page=False)
        finally:
            browser.close()
    out = Rendered(dom["title"], dom["sections"], dom["images"], dom["tables"], screenshot)
    out.problems = [f"figure '{i['alt']}' did not load" for i in out.images if not i["width"]]
    out.problems += [f"table '{t['head']}' has no rows" for t in out.tables if not t["rows"]]
    return out
