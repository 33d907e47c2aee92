"""The Jupyter Book: builds strictly, and reads offline from file:// with nothing remote.

The book is built once per test run with the exact command of the README (warnings are errors,
nitpicky references), then checked statically (every HTML file) and in a real headless browser
(Chromium via Playwright; see ``tests/browser.py``). The results pages are checked against the
contract of the results notebooks; those checks are skipped while the placeholder notebooks
(which let the book build before the first ``make reproduce``) are still in ``results/cpu``.
"""

from __future__ import annotations

import csv
import json
import html
import os
import re
import shutil
import subprocess
import sys
import time
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urlsplit

import pytest
import yaml

from browser import open_browser

ROOT = Path(__file__).resolve().parents[2]
BOOK = ROOT / "book"
HTML = BOOK / "_build" / "html"
SCREENSHOTS = BOOK / "_build" / "screenshots"
BUILD_COMMAND = ["build", "--all", "-W", "-n", "--keep-going", "book/"]
PLACEHOLDER_MARKER = "AUDIOSLOTS-PLACEHOLDER-NOTEBOOK"
RESULTS_PAGE = "run/notebooks/04_results"
FIGURE2_PAGE = "run/notebooks/05_figure2"
TABLE1_ROWS = ("Oracle", "Autoencoder", "AudioSlots", "Oracle (1 s)", "AudioSlots (1 s)")
PAPER_TABLE1 = ROOT / "results" / "paper_table1.csv"

# Attributes through which a page loads a resource (links in <a href> are not loads).
RESOURCE_ATTRIBUTES = {
    "script": ("src",),
    "link": ("href",),
    "img": ("src", "srcset"),
    "source": ("src", "srcset"),
    "audio": ("src",),
    "video": ("src", "poster"),
    "track": ("src",),
    "iframe": ("src",),
    "embed": ("src",),
    "object": ("data",),
    "input": ("src",),
}
ANSI_ESCAPE = re.compile(r"\x1b\[[0-9;]*m")
REMOTE_URL = re.compile(r"^\s*(https?:)?//", re.IGNORECASE)
REMOTE_CSS_URL = re.compile(r"(url\(\s*['\"]?\s*(https?:)?//|@import\s+['\"](https?:)?//)", re.IGNORECASE)


# ----------------------------------------------------------------------------------------------
# Helpers


def toc_files() -> list[str]:
    """Every document named in ``book/_toc.yml`` (root, chapters, sections), without suffix."""
    toc = yaml.safe_load((BOOK / "_toc.yml").read_text())
    files = [toc["root"]]

    def walk(entries):
        for entry in entries or []:
            if "file" in entry:
                files.append(entry["file"])
            walk(entry.get("sections"))
            walk(entry.get("chapters"))

    for part in toc.get("parts", []):
        walk(part.get("chapters"))
    walk(toc.get("chapters"))
    return files


def html_path(doc: str) -> Path:
    return HTML / f"{doc}.html"


class _Resources(HTMLParser):
    """Collects ``(tag, attribute, value)`` of resource loads and inline CSS of one page."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.loads: list[tuple[str, str, str]] = []
        self.css: list[str] = []
        self.tables: list[list[str]] = []  # cell texts of every <table>
        self.row_tables: list[list[list[str]]] = []  # the same, row by row
        self._in_style = False
        self._cell: list[str] | None = None

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        for name in RESOURCE_ATTRIBUTES.get(tag, ()):
            if attrs.get(name):
                self.loads.append((tag, name, attrs[name]))
        if attrs.get("style"):
            self.css.append(attrs["style"])
        if tag == "style":
            self._in_style = True
        elif tag == "table":
            self.tables.append([])
            self.row_tables.append([])
        elif tag == "tr" and self.row_tables:
            self.row_tables[-1].append([])
        elif tag in ("td", "th"):
            self._cell = []

    def handle_endtag(self, tag):
        if tag == "style":
            self._in_style = False
        elif tag in ("td", "th") and self._cell is not None and self.tables:
            self.tables[-1].append(" ".join("".join(self._cell).split()))
            if self.row_tables and self.row_tables[-1]:
                self.row_tables[-1][-1].append(self.tables[-1][-1])
            self._cell = None

    def handle_data(self, data):
        if self._in_style:
            self.css.append(data)
        if self._cell is not None:
            self._cell.append(data)


def parse_page(path: Path) -> _Resources:
    parser = _Resources()
    parser.feed(path.read_text(encoding="utf-8"))
    return parser


def is_local_resource(page: Path, url: str) -> bool:
    """True for ``data:`` URLs and relative URLs that point at an existing built file."""
    if url.startswith("data:"):
        return True
    parts = urlsplit(url)
    if parts.scheme or parts.netloc or url.startswith("/"):
        return False
    return (page.parent / unquote(parts.path)).exists()


def placeholders_present() -> bool:
    """The notebooks under ``book/run/notebooks`` are still the stand-ins, not a real run."""
    notebooks = sorted((BOOK / "run" / "notebooks").glob("*.ipynb"))
    return any(PLACEHOLDER_MARKER in nb.read_text(encoding="utf-8") for nb in notebooks)


skip_while_placeholders = pytest.mark.skipif(
    placeholders_present(), reason="results notebooks not yet real (placeholders in results/cpu/notebooks)"
)


# ----------------------------------------------------------------------------------------------
# Fixtures


@pytest.fixture(scope="session")
def built_book() -> Path:
    """Build the book strictly once per test run from a tree without ``book/run/``, as a fresh clone is.

    The build stages the shown run itself (``book/_ext/stage_run.py``): ``AUDIOSLOTS_BOOK_RUN``,
    default ``results/cpu``, the Makefile's ``RUN``. Fails with the build's output if it warns.
    """
    jupyter_book = Path(sys.executable).with_name("jupyter-book")
    if not jupyter_book.exists():
        pytest.fail(f"{jupyter_book} not found: install the pinned requirements (make setup).")
    shutil.rmtree(BOOK / "run", ignore_errors=True)
    start = time.perf_counter()
    result = subprocess.run(
        [str(jupyter_book), *BUILD_COMMAND], cwd=ROOT, capture_output=True, text=True, timeout=600,
        env={**os.environ, "NO_COLOR": "1"},
    )
    seconds = time.perf_counter() - start
    if result.returncode != 0:
        output = ANSI_ESCAPE.sub("", result.stdout + result.stderr).splitlines()
        problems = [line for line in output if re.search(r"WARNING|ERROR|Error|Exception", line)]
        pytest.fail(
            f"`jupyter-book {' '.join(BUILD_COMMAND)}` exited {result.returncode} after "
            f"{seconds:.0f} s.\nWarnings and errors:\n" + "\n".join(problems or output[-60:]),
            pytrace=False,
        )
    return HTML


@pytest.fixture(scope="session")
def browser(built_book):
    with open_browser() as opened:
        yield opened


@pytest.fixture(scope="session")
def visits(browser):
    """Pages opened in the browser, each at most once per test run (screenshots kept)."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    cache = {}

    def visit(doc: str):
        if doc not in cache:
            shot = SCREENSHOTS / (doc.replace("/", "__") + ".png")
            cache[doc] = browser.visit(html_path(doc), screenshot=shot)
        return cache[doc]

    return visit


# ----------------------------------------------------------------------------------------------
# Layout of the book's sources


def test_book_uses_the_top_level_config_through_a_symlink():
    link = BOOK / "_config.yml"
    assert link.is_symlink() and link.resolve() == (ROOT / "_config.yml").resolve()


def test_book_run_is_generated_and_never_committed():
    """``book/run`` is staged by the build (book/_ext/stage_run.py), never committed."""
    tracked = subprocess.run(["git", "ls-files", "--", "book/run"], cwd=ROOT, capture_output=True, text=True,
                             check=True).stdout.split()
    assert tracked == [], f"book/run is generated by `make book`; untrack {tracked}"
    toc = (BOOK / "_toc.yml").read_text()
    assert "run/notebooks/04_results" in toc


def test_book_does_not_execute_notebooks():
    config = yaml.safe_load((ROOT / "_config.yml").read_text())
    assert config["execute"]["execute_notebooks"] == "off"
    assert config["only_build_toc_files"] is True


def test_vendored_mathjax_is_only_the_script_and_its_woff_fonts():
    vendor = BOOK / "_vendor" / "mathjax"
    files = {p.relative_to(vendor).as_posix() for p in vendor.rglob("*") if p.is_file()}
    fonts = {f for f in files if f.startswith("output/chtml/fonts/woff-v2/")}
    assert files - fonts == {"tex-mml-chtml.js", "LICENSE", "VENDORED.txt"}
    assert fonts and all(f.endswith(".woff") for f in fonts)


# ----------------------------------------------------------------------------------------------
# The paper's Table 1 as far as our copy of the paper gives it


def _paper_rows() -> list[dict[str, str]]:
    with PAPER_TABLE1.open(encoding="utf-8", newline="") as f:
        return list(csv.DictReader(f))


def test_paper_table1_has_one_row_per_system_metric_mask_plus_the_gap():
    rows = _paper_rows()
    keys = {(r["paper_row"], r["metric"], r["mask"]) for r in rows if r["metric"] != "gap"}
    expected = {(s, m, k) for s in TABLE1_ROWS for m in ("si_snr", "si_snri") for k in ("ibm", "wiener")}
    assert keys == expected and len(rows) == len(expected) + 1
    assert [r["paper_value"] for r in rows if r["metric"] == "gap"] == ["0.18 ± 0.01"]


def test_paper_table1_values_never_invent_decimals():
    for row in _paper_rows():
        if row["metric"] == "gap":
            continue
        assert re.fullmatch(r"\d+\.x( or \d+\.x)?", row["paper_value"]), row
        integers = [int(v) for v in re.findall(r"(\d+)\.x", row["paper_value"])]
        assert float(row["paper_low_db"]) == min(integers)
        assert float(row["paper_high_db"]) == max(integers) + 1
        assert "integer part only" in row["precision_note"]


# ----------------------------------------------------------------------------------------------
# Static checks of the built HTML


def test_every_toc_page_is_built(built_book):
    missing = [doc for doc in toc_files() if not html_path(doc).is_file()]
    assert not missing, f"pages in _toc.yml without HTML: {missing}"


def test_no_page_loads_a_remote_script_stylesheet_font_or_image(built_book):
    remote = []
    for page in sorted(built_book.rglob("*.html")):
        parsed = parse_page(page)
        remote += [f"{page.relative_to(built_book)}: <{t} {a}={v!r}>" for t, a, v in parsed.loads if REMOTE_URL.match(v)]
        remote += [f"{page.relative_to(built_book)}: inline CSS {m.group(0)!r}"
                   for css in parsed.css for m in REMOTE_CSS_URL.finditer(css)]
    for sheet in sorted(built_book.rglob("*.css")):
        remote += [f"{sheet.relative_to(built_book)}: {m.group(0)!r}"
                   for m in REMOTE_CSS_URL.finditer(sheet.read_text(encoding="utf-8", errors="replace"))]
    assert not remote, "remote resources:\n" + "\n".join(remote)


def test_mathjax_is_loaded_from_the_vendored_copy(built_book):
    # Sphinx adds MathJax only to pages that contain math.
    scripts = {}
    for page in sorted(built_book.rglob("*.html")):
        for t, a, v in parse_page(page).loads:
            if t == "script" and "mathjax" in v.lower():
                scripts[page] = v
    assert html_path("intro") in scripts, "the intro page has math but loads no MathJax"
    remote = {str(p.relative_to(built_book)): v for p, v in scripts.items() if not is_local_resource(p, urlsplit(v).path)}
    assert not remote, remote


# ----------------------------------------------------------------------------------------------
# In a real browser, offline from file://


@pytest.mark.parametrize("doc", ["intro", "deviations"])
def test_page_makes_no_request_outside_file_urls(visits, doc):
    assert visits(doc).remote_requests == []


@pytest.mark.parametrize("doc", ["intro", "deviations"])
def test_page_math_is_typeset_by_mathjax(visits, doc):
    visit = visits(doc)
    assert visit.math_containers > 0, "no MathJax output on a page that has math"
    assert visit.unrendered_math == []
    assert any(f.endswith(": loaded") for f in visit.math_fonts), visit.math_fonts
    assert not [f for f in visit.math_fonts if f.endswith(": error")], visit.math_fonts


@pytest.mark.parametrize("doc", ["intro", "deviations"])
def test_page_has_no_console_errors(visits, doc):
    assert visits(doc).unexpected_console_errors == []


def test_every_page_fits_a_1280_px_window(built_book, browser):
    """No table, code block, figure or diagram is wider than the text column, nor scrolls sideways in it."""
    pages = sorted(p for p in built_book.rglob("*.html")
                   if not {"_static", "_sources", "_images"} & set(p.relative_to(built_book).parts)
                   and p.name not in ("genindex.html", "search.html", "index.html"))
    assert len(pages) > 20, pages
    too_wide = {str(p.relative_to(built_book)): wide for p, wide in browser.too_wide_all(pages).items() if wide}
    assert not too_wide, "\n".join(f"{page}: {item}" for page, items in too_wide.items() for item in items)


# ----------------------------------------------------------------------------------------------
# The results pages. Contract with the results notebooks: 04_results shows a table whose cells
# include the five row labels of Table 1; 05_figure2 shows Figure 2 as <img> with local
# sources; audio players are <audio> elements with data: or file-relative sources.


@skip_while_placeholders
def test_results_table_lists_every_row_of_table1(built_book):
    tables = parse_page(html_path(RESULTS_PAGE)).tables
    assert any(set(TABLE1_ROWS) <= set(cells) for cells in tables), f"no table with rows {TABLE1_ROWS}"


def _page_text(doc: str) -> str:
    """The visible text of a built page: tags dropped, whitespace collapsed."""
    page = re.sub(r"<[^>]+>", "", html_path(doc).read_text(encoding="utf-8"))
    return re.sub(r"\s+", " ", page)


@skip_while_placeholders
def test_results_glued_numbers_equal_csvs(built_book):
    """Every mean of ``table1.csv`` appears in the results page."""
    import pandas as pd

    text = _page_text(RESULTS_PAGE)
    table = pd.read_csv(BOOK / "run" / "table1.csv")
    for row in table.itertuples():
        for value in (row.si_snr, row.si_snri):
            assert f"{value:.2f} ± " in text, f"{row.system} {row.chunk_seconds} {row.mask}: {value:.2f} not shown"


def _run_means() -> "pd.DataFrame":
    from audioslots.reporting.tables import row_means
    from audioslots.evaluation.scores import load_metrics

    means = row_means(load_metrics(BOOK / "run"))
    return means[means["metric"] == "si_snri"].set_index(["label", "mask"])


@skip_while_placeholders
def test_intro_first_screen_shows_the_headline_figure_and_its_three_sentences(visits):
    """At 1280 × 800, before any method description: one figure and the three generated sentences, whole."""
    from audioslots.reporting.book import headline_markdown

    visit = visits("intro")
    assert visit.first_screen_images == ["headline_figure.png"], visit.first_screen_images
    # text nodes compared without white space, and with the typographic apostrophe that Sphinx's smartquotes put
    whole = "".join(visit.first_screen_whole_text.replace("\u2019", "'").split())
    sentences = [p for p in headline_markdown(ROOT / "results" / "cpu").split("\n\n") if p.startswith("**")]
    assert len(sentences) == 3
    for sentence in sentences:
        shown = "".join(re.sub(r"[*`]", "", sentence).split())
        assert shown[:40] in whole and shown[-40:] in whole, (shown[:40], shown[-40:])
    screen = visit.first_screen_text  # the page's contents sidebar names the section; the section itself comes later
    assert "What the paper claims" not in screen or screen.index("What the paper claims") > screen.index("How far in compute")


@skip_while_placeholders
def test_results_page_shows_table1_on_its_first_screen(visits):
    """Table 1 starts on the first screen (its heading and header); provenance comes after it."""
    screen = visits(RESULTS_PAGE).first_screen_text.splitlines()
    body = screen[screen.index("4. Results: Table 1"):]  # the page's own text, after the navigation
    assert "Table 1" in body and "SI-SNRi" in body and "ours" in body, body
    page = html_path(RESULTS_PAGE).read_text(encoding="utf-8")
    assert page.index('id="which-run-this-page-shows"') > page.index('id="table-1"')


@skip_while_placeholders
def test_results_page_states_provenance(built_book):
    """The results page names the run, preset, data, device and commit that produced it."""
    provenance = json.loads((BOOK / "run" / "provenance.json").read_text())
    text = _page_text(RESULTS_PAGE)
    training = provenance["train:audioslots_0.5s"]
    data = training["data"]
    # the data set: "synthetic", the vendored speech the mini Libri2Mix was built from, or the LibriMix folder's name
    where = {"synthetic": "synthetic", "real": data.get("speech")}.get(data.get("source"), Path(data["root"]).name)
    assert data["root"] not in text or data.get("source") not in ("real", "synthetic"), "a machine path is shown"
    for fact in (provenance["commit"], training["preset"]["name"], training["device"], where):
        assert html.escape(str(fact)) in text, fact




@skip_while_placeholders
def test_figure2_is_an_image_with_a_local_source(built_book):
    page = html_path(FIGURE2_PAGE)
    images = [v for t, a, v in parse_page(page).loads if t == "img" and a == "src"]
    assert images, "Figure 2 page shows no image"
    assert all(is_local_resource(page, v) for v in images), images


@skip_while_placeholders
def test_audio_players_use_local_sources(built_book):
    players = {}
    for doc in toc_files():
        if doc.startswith("run/"):
            page = html_path(doc)
            loads = parse_page(page).loads
            players[doc] = [v for t, a, v in loads if (t, a) in {("audio", "src"), ("source", "src")}]
    assert any(players.values()), "no audio player on any results page"
    bad = {doc: [v[:60] for v in srcs if not is_local_resource(html_path(doc), v)] for doc, srcs in players.items()}
    assert not any(bad.values()), bad


@skip_while_placeholders
@pytest.mark.parametrize("doc", [RESULTS_PAGE, FIGURE2_PAGE])
def test_results_page_works_offline_in_the_browser(visits, doc):
    visit = visits(doc)
    assert visit.remote_requests == []
    assert visit.unexpected_console_errors == []
    assert visit.broken_images == [] and visit.broken_audio == []


# ----------------------------------------------------------------------------------------------
# Publishing: the GitHub Pages workflow


WORKFLOW = ROOT / ".github" / "workflows" / "book.yml"


def _check_workflow(path: Path) -> subprocess.CompletedProcess:
    """Validate a workflow against GitHub's workflow schema as vendored by the pinned check-jsonschema."""
    checker = Path(sys.executable).with_name("check-jsonschema")
    if not checker.exists():
        pytest.fail(f"{checker} not found: install the pinned requirements (make setup).")
    return subprocess.run([str(checker), "--builtin-schema", "vendor.github-workflows", str(path)],
                          capture_output=True, text=True, timeout=120)


def test_book_workflow_is_a_valid_github_workflow():
    result = _check_workflow(WORKFLOW)
    assert result.returncode == 0, result.stdout + result.stderr


def test_workflow_check_rejects_an_invalid_workflow(tmp_path):
    broken = yaml.safe_load(WORKFLOW.read_text())
    del broken["jobs"]["build"]["runs-on"]
    broken["jobs"]["build"]["steps"][0]["uses"] = 42
    (tmp_path / "broken.yml").write_text(yaml.safe_dump(broken))
    assert _check_workflow(tmp_path / "broken.yml").returncode != 0


def test_book_workflow_builds_from_committed_results_and_deploys_to_pages():
    workflow = yaml.safe_load(WORKFLOW.read_text())
    steps = [s for job in workflow["jobs"].values() for s in job["steps"]]
    uses = [s["uses"].split("@")[0] for s in steps if "uses" in s]
    assert "actions/upload-pages-artifact" in uses and "actions/deploy-pages" in uses
    commands = "\n".join(s.get("run", "") for s in steps)
    assert "jupyter-book build --all -W -n" in commands
    assert "AUDIOSLOTS_BOOK_RUN" not in commands, "the published book shows the default run, results/cpu"
    assert not re.search(r"papermill|make reproduce|audioslots train|audioslots evaluate", commands), \
        "the workflow must publish committed results, never train or execute notebooks"
    assert workflow["permissions"] == {"contents": "read", "pages": "write", "id-token": "write"}


# ----------------------------------------------------------------------------------------------
# Reading experience, the stale-result banner and the Status table


def _run_pages() -> list[str]:
    return [doc for doc in toc_files() if doc.startswith("run/notebooks/")]


@skip_while_placeholders
def test_no_parameter_cell_or_code_is_visible_by_default(visits):
    """Parameter cells (the notebook's and papermill's) are removed; code is folded, outputs show."""
    for doc in _run_pages():
        text = visits(doc).visible_text
        assert text.strip(), f"{doc}: empty page"
        for code in ('run_dir = "', "run_dir = '", 'preset = "', "from audioslots"):
            assert code not in text, f"{doc}: {code!r} is visible without unfolding a cell"


@skip_while_placeholders
def test_status_table_states_the_018_db_claim_with_this_runs_verdict(visits):
    from audioslots.reporting.claims import claims
    from audioslots.evaluation.scores import load_metrics

    expected = claims(load_metrics(BOOK / "run"), PAPER_TABLE1)
    gap = expected[expected["claim of the paper"].str.contains("0.18")]
    assert "0.18 ± 0.01 dB of the autoencoder" in visits("results").visible_text
    rows = re.findall(r"<tr.*?</tr>", html_path("results").read_text(encoding="utf-8"), flags=re.S)
    cells_of = [[html.unescape(re.sub(r"<[^>]+>", "", c)).strip() for c in re.findall(r"<t[dh].*?</t[dh]>", r, flags=re.S)]
                for r in rows]
    # one row per likely reason: each of the claim's masks is listed, with its measurement, in the row of its verdict
    for row in gap.to_dict("records"):
        entry = f"{row['claim of the paper']} ({row['mask']}: {row['this run']};"
        holding = [cells for cells in cells_of if any(entry in c for c in cells)]
        assert len(holding) == 1 and row["verdict"] in holding[0][0], (entry, holding)
    (status,) = [t for t in parse_page(html_path("results")).row_tables if t and t[0][-1:] == ["likely reason"]]
    reasons = [cells[-1] for cells in status[1:]]
    assert len(reasons) == len(set(reasons)) > 0, f"the Status repeats a reason: {reasons}"


@skip_while_placeholders
def test_every_run_page_names_the_runs_commit_and_warns_exactly_when_stale(built_book):
    from audioslots.reporting.staging import staleness

    commit = json.loads((BOOK / "run" / "provenance.json").read_text())["commit"]
    stale = staleness(commit, ROOT).stale
    for doc in ["intro", *_run_pages()]:
        page = html_path(doc).read_text(encoding="utf-8")
        assert commit[:7] in _page_text(doc), f"{doc} does not name the run's commit"
        assert ("stale-run" in page) == stale, f"{doc}: stale banner {'missing' if stale else 'shown'}"
        assert ("run-commit" in page) != stale


@skip_while_placeholders
def test_every_run_page_lists_each_committed_runs_table1(built_book):
    """One row per committed run in the Every-run tables (runs as rows, Table 1's rows as columns)."""
    runs = sorted(p.parent.name for p in (ROOT / "results").glob("*/table1.csv"))
    named = {cells[0] for table in parse_page(html_path("results")).row_tables if table and table[0][0] == "run"
             for cells in table[1:] if cells}
    assert runs and set(runs) <= named, sorted(set(runs) - named)


@skip_while_placeholders
def test_status_holds_only_the_papers_claims_with_the_trained_rows(built_book):
    text = _page_text("results")
    for claim in ("AudioSlots row as in the paper", "Autoencoder row as in the paper", "Oracle row as in the paper",
                  "Oracle > Autoencoder ≥ AudioSlots > mixture"):
        assert html.escape(claim) in text, claim
    assert "about equal" not in text


@skip_while_placeholders
def test_every_run_page_shows_the_papers_value_only_on_the_papers_rows(built_book):
    """The paper's row of each Every-run table has a value only under the paper's own rows of Table 1."""
    tables = [t for t in parse_page(html_path("results")).row_tables
              if t and t[0][0] == "run" and any(cells and cells[0] == "paper (Table 1)" for cells in t)]
    assert tables, "no Every-run table with the paper's row"
    for table in tables:
        paper = dict(zip(table[0], next(cells for cells in table if cells and cells[0] == "paper (Table 1)")))
        for column, value in paper.items():
            if "no oracle order" in column or "overlap" in column or "centred" in column:
                assert value == "—", (column, value)
        assert any(value not in ("—", "paper (Table 1)") for value in paper.values()), paper
