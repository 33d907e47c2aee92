"""Open built HTML pages in a real headless browser (Debian's Chromium driven by Playwright).

The book must work offline from ``file://``: a page is opened, every request it makes to
anything but a local file is recorded *and aborted* (so a test never depends on the network
and a remote resource shows up as a failure, not as a slow page), console errors are
collected, and a screenshot is taken for a human to look at.

Usage from a test::

    from browser import open_browser

    with open_browser() as browser:          # skips (or fails, in CI) without a browser
        visit = browser.visit(path, screenshot=tmp_path / "page.png")
        assert visit.remote_requests == []

Set ``AUDIOSLOTS_REQUIRE_BROWSER=1`` (CI does) to turn a missing Chromium or Playwright into a
test failure instead of a skip.
"""

from __future__ import annotations

import contextlib
import os
import shutil
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

CHROMIUM = os.environ.get("AUDIOSLOTS_CHROMIUM", "/usr/bin/chromium")
REQUIRE_ENV = "AUDIOSLOTS_REQUIRE_BROWSER"
# Keep Chromium itself quiet too: no update checks, sync or field trials phoning home.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-default-apps",
    "--disable-extensions",
    "--no-first-run",
    "--metrics-recording-only",
]
LOCAL_SCHEMES = ("file:", "data:", "blob:", "about:")
# Console noise from upstream that is not our problem (TOOLCHAIN.md, "A real browser"):
# sphinx-thebe declares its constant twice; the theme's mode switcher dislikes file://.
HARMLESS_CONSOLE_ERRORS = (
    "Identifier 'THEBE_JS_URL' has already been declared",
    "Got invalid theme mode",
)
VIEWPORT = {"width": 1280, "height": 1600}
#: The height in CSS pixels of a reader's first screen (a laptop's, at 1280 wide).
FIRST_SCREEN = 800

#: Resolves when MathJax has typeset the page (or after the given milliseconds). MathJax is a
#: deferred script, so it has run by the load event, and typesets asynchronously; if the script
#: did not load, ``window.MathJax`` is only Sphinx's configuration object, without ``startup``.
MATHJAX_SETTLED_SCRIPT = """(ms) => (window.MathJax && window.MathJax.startup && window.MathJax.startup.promise)
    ? Promise.race([window.MathJax.startup.promise, new Promise(resolve => setTimeout(resolve, ms))])
    : null"""
#: The elements of the page's text column (the theme's ``article.bd-article``) that do not fit in
#: it: their right edge passes the column's, or they scroll sideways. Descendants of an element
#: already listed are not listed again.
TOO_WIDE_SCRIPT = """() => {
    const column = document.querySelector('article.bd-article');
    if (!column) return [];
    const edge = column.getBoundingClientRect().right;
    const width = Math.round(column.getBoundingClientRect().width);
    const found = [];
    for (const element of column.querySelectorAll('*')) {
        if (found.some(([outer]) => outer.contains(element))) continue;
        const box = element.getBoundingClientRect();
        if (box.width === 0) continue;
        const style = getComputedStyle(element);
        const scrolls = ['auto', 'scroll'].includes(style.overflowX) && element.scrollWidth > element.clientWidth + 1;
        if (box.right > edge + 1 || scrolls) found.push([element, Math.round(Math.max(box.width, element.scrollWidth))]);
    }
    return found.map(([element, size]) => `${element.tagName.toLowerCase()}.${element.classList[0] || ''} `
        + `(${size} px > column ${width} px): ${(element.textContent || '').trim().slice(0, 60)}`);
}"""


@dataclass
class PageVisit:
    """What happened when a page was opened.

    Attributes:
        url: the ``file://`` URL that was opened.
        remote_requests: every requested URL that is not a local file (all were aborted).
        console_errors: console messages of type error, and uncaught page exceptions.
        math_containers: number of MathJax output elements (``mjx-container``) on the page.
        unrendered_math: text of Sphinx math elements that MathJax did not typeset.
        math_fonts: ``family: status`` of every MathJax web font the page declared
            (``loaded``, ``error``, or ``unloaded`` when no glyph needed it).
        broken_images: ``src`` (first 80 characters) of every image that did not decode.
        audio_players: number of ``<audio>`` elements.
        broken_audio: ``src`` of every ``<audio>`` whose media failed or has no usable source.
        screenshot: where the screenshot was written, if one was asked for.
        visible_text: the page's rendered text (``innerText``: folded code and removed or
            hidden cells are not in it), one line per block, table cells separated by tabs.
        first_screen_text: the text a reader sees without scrolling, on a screen
            :data:`FIRST_SCREEN` high (each visible text node whose box starts above its bottom).
        first_screen_whole_text: the same, only the text nodes whose box ends above that bottom.
        first_screen_images: the file names of the images whole on that first screen.
        too_wide: each element of the text column that is wider than the column or scrolls
            sideways inside it (outermost ones only), as ``"tag.class (width px > column px): text…"``.
    """

    url: str
    remote_requests: list[str] = field(default_factory=list)
    console_errors: list[str] = field(default_factory=list)
    math_containers: int = 0
    unrendered_math: list[str] = field(default_factory=list)
    math_fonts: list[str] = field(default_factory=list)
    broken_images: list[str] = field(default_factory=list)
    audio_players: int = 0
    broken_audio: list[str] = field(default_factory=list)
    screenshot: Path | None = None
    visible_text: str = ""
    first_screen_text: str = ""
    first_screen_whole_text: str = ""
    first_screen_images: list[str] = field(default_factory=list)
    too_wide: list[str] = field(default_factory=list)

    @property
    def unexpected_console_errors(self) -> list[str]:
        """Console errors other than the known harmless upstream ones."""
        return [e for e in self.console_errors if not any(h in e for h in HARMLESS_CONSOLE_ERRORS)]


def missing_browser_reason() -> str | None:
    """Why no browser can be driven here, or ``None`` when Chromium and Playwright are present."""
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "Playwright is not installed (pip install playwright; no browser download needed)"
    if not (os.access(CHROMIUM, os.X_OK) or shutil.which(CHROMIUM)):
        return f"Chromium not found at {CHROMIUM} (as root: apt-get install -y chromium)"
    return None


def skip_or_fail_without_browser() -> None:
    """Skip the calling test when no browser is available; fail instead in CI.

    Raises:
        pytest.skip.Exception: no browser and ``AUDIOSLOTS_REQUIRE_BROWSER`` is not ``1``.
        pytest.fail.Exception: no browser and ``AUDIOSLOTS_REQUIRE_BROWSER=1``.
    """
    reason = missing_browser_reason()
    if reason is None:
        return
    if os.environ.get(REQUIRE_ENV) == "1":
        pytest.fail(f"{reason}; {REQUIRE_ENV}=1 requires a browser.")
    pytest.skip(f"{reason}; set {REQUIRE_ENV}=1 to make this a failure.")


class Browser:
    """One headless Chromium; each :meth:`visit` opens a page in a fresh context."""

    def __init__(self, chromium):
        self._chromium = chromium

    def too_wide_all(self, paths: list[str | os.PathLike], at_once: int = 4,
                     timeout_ms: int = 20_000) -> dict[Path, list[str]]:
        """The elements of each page that do not fit its text column (:data:`TOO_WIDE_SCRIPT`), once the page
        has loaded and MathJax has typeset it: the layout alone, without the rest of :meth:`visit`. ``at_once``
        pages load side by side in tabs of one context, so the browser works on the next while one is measured.

        Returns:
            ``{path: elements too wide}`` for every page.
        """
        context = self._chromium.new_context(viewport=VIEWPORT, service_workers="block")
        found = {}
        try:
            context.route("**/*", lambda route: route.continue_() if route.request.url.startswith(LOCAL_SCHEMES)
                          else route.abort())
            tabs = [context.new_page() for _ in range(at_once)]
            paths = [Path(p) for p in paths]
            for start in range(0, len(paths), at_once):
                batch = list(zip(tabs, paths[start:start + at_once]))
                for tab, path in batch:  # returns as soon as each navigation starts: the pages load together
                    tab.goto(path.resolve().as_uri(), wait_until="commit", timeout=timeout_ms)
                for tab, path in batch:
                    tab.wait_for_load_state("load", timeout=timeout_ms)
                    tab.evaluate(MATHJAX_SETTLED_SCRIPT, timeout_ms)
                    tab.evaluate("() => document.fonts.ready.then(() => null)")
                    found[path] = tab.evaluate(TOO_WIDE_SCRIPT)
        finally:
            context.close()
        return found

    def visit(self, path: str | os.PathLike, screenshot: str | os.PathLike | None = None,
              timeout_ms: int = 20_000) -> PageVisit:
        """Open a local HTML file, wait for it and for MathJax to settle, and report.

        Args:
            path: the HTML file to open.
            screenshot: PNG of the whole page (1280 pixels wide) to write, or ``None``.
            timeout_ms: how long to wait for the page and for MathJax.

        Returns:
            The :class:`PageVisit`.
        """
        from playwright.sync_api import TimeoutError as PlaywrightTimeout

        path = Path(path).resolve()
        visit = PageVisit(url=path.as_uri())
        context = self._chromium.new_context(viewport=VIEWPORT, service_workers="block")
        try:
            def route(route):
                if route.request.url.startswith(LOCAL_SCHEMES):
                    route.continue_()
                else:
                    visit.remote_requests.append(route.request.url)
                    route.abort()

            context.route("**/*", route)
            page = context.new_page()
            page.on("console", lambda m: m.type == "error" and visit.console_errors.append(m.text))
            page.on("pageerror", lambda e: visit.console_errors.append(f"uncaught: {e}"))
            page.goto(visit.url, wait_until="load", timeout=timeout_ms)
            page.evaluate(MATHJAX_SETTLED_SCRIPT, timeout_ms)
            page.wait_for_load_state("networkidle", timeout=timeout_ms)
            visit.math_containers = page.locator("mjx-container").count()
            visit.unrendered_math = page.evaluate(
                """() => Array.from(document.querySelectorAll('.math'))
                         .filter(e => !e.querySelector('mjx-container'))
                         .map(e => e.textContent.trim())"""
            )
            # A font that failed to load from file:// would fall back silently to system fonts.
            visit.math_fonts = page.evaluate(
                """() => document.fonts.ready.then(() => Array.from(document.fonts)
                         .filter(f => f.family.replace(/["']/g, '').startsWith('MJX'))
                         .map(f => f.family.replace(/["']/g, '') + ': ' + f.status))"""
            )
            # decode() loads even lazy images below the fold, and rejects for a broken one.
            visit.broken_images = page.evaluate(
                """() => Promise.all(Array.from(document.images).map(i => {
                           i.loading = 'eager';
                           return i.decode().then(() => null,
                                                  () => (i.getAttribute('src') || '').slice(0, 80));
                         })).then(r => r.filter(x => x !== null))"""
            )
            visit.audio_players = page.locator("audio").count()
            # Media load after the load event: give every player time to decode or fail.
            with contextlib.suppress(PlaywrightTimeout):
                page.wait_for_function(
                    """() => Array.from(document.querySelectorAll('audio'))
                             .every(a => a.readyState >= 1 || a.error !== null || a.networkState === 3)""",
                    timeout=timeout_ms,
                )
            # NETWORK_NO_SOURCE (3): none of the <source> children could be used.
            visit.broken_audio = page.evaluate(
                """() => Array.from(document.querySelectorAll('audio'))
                         .filter(a => a.error !== null || a.networkState === 3)
                         .map(a => (a.currentSrc || a.innerHTML).slice(0, 80))"""
            )
            visit.visible_text = page.evaluate("() => document.body.innerText")
            # Text nodes on the first screen: touching it, and wholly inside it; one walk for both.
            visit.first_screen_text, visit.first_screen_whole_text = page.evaluate(
                """(height) => {
                    const touching = [], whole = [];
                    const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
                    for (let node = walker.nextNode(); node; node = walker.nextNode()) {
                        const text = node.textContent.trim();
                        if (!text) continue;
                        const range = document.createRange();
                        range.selectNodeContents(node);
                        const box = range.getBoundingClientRect();
                        if (box.height === 0) continue;
                        if (box.top < height && box.bottom > 0) touching.push(text);
                        if (box.top >= 0 && box.bottom <= height) whole.push(text);
                    }
                    return [touching.join('\\n'), whole.join('\\n')];
                }""",
                FIRST_SCREEN,
            )
            # Images whole on the first screen (top and bottom inside it), as their src's file name.
            visit.first_screen_images = page.evaluate(
                """(height) => Array.from(document.images)
                    .filter(img => { const box = img.getBoundingClientRect();
                                     return box.height > 0 && box.top >= 0 && box.bottom <= height; })
                    .map(img => img.getAttribute('src').split('/').pop())""",
                FIRST_SCREEN,
            )
            visit.too_wide = page.evaluate(TOO_WIDE_SCRIPT)
            if screenshot is not None:
                visit.screenshot = Path(screenshot)
                page.screenshot(path=str(visit.screenshot), full_page=True)
        finally:
            context.close()
        return visit


@contextlib.contextmanager
def open_browser() -> Iterator[Browser]:
    """Start headless Chromium for the duration of the ``with`` block.

    Skips the calling test (or fails it when ``AUDIOSLOTS_REQUIRE_BROWSER=1``) if Chromium or
    Playwright is missing.
    """
    skip_or_fail_without_browser()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        try:
            yield Browser(chromium)
        finally:
            chromium.close()
