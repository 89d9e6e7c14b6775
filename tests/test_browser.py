"""Open every page of the smoke-built site in headless Chromium, as a reader would, with no network.

Runs after tests/test_book.py's build (file order); builds the site itself when run alone. Each page is served
from 127.0.0.1 and checked at desktop width (1280 px) and phone width (400 px): every formula rendered by the
site's own MathJax, every image loaded, no console error, no request to another host, no body text wider than
the phone's screen, and none of the stumbles GLITCHES looks for (code cut off at the right, raw TeX between
dollars, a wide table that neither fits nor visibly scrolls, NaN in a table); two tests show those checks
failing on broken pages. Screenshots of both widths go to _build/screenshots/ for people to look at. The
browser is Debian's chromium and chromium-driver (the Makefile installs them), driven by Selenium.
"""

from __future__ import annotations

import functools
import http.server
import json
import shutil
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path
from urllib.parse import urldefrag, urlparse

import pytest

from alignbook.book import chapters, runner, site
from conftest import ROOT

pytestmark = pytest.mark.browser

DESKTOP, PHONE = (1280, 900), (400, 860)
SCREENSHOTS = ROOT / "_build" / "screenshots"
PAGES = [f"{name}.html" for name in site.toc_files(ROOT)] + ["search.html"]
SEARCH_WORD = "Lagrangian"  # in the SafePO chapter's prose
LOCAL_HOSTS = {"127.0.0.1", "localhost"}


@pytest.fixture(scope="module")
def served():
    """The smoke-built site, served on a free local port; yields its base URL."""
    html = site.html_dir(ROOT, "smoke")
    if not (html / "index.html").exists():
        runner.run(ROOT, chapters.all_chapters(ROOT), "smoke", only_stale=True, log=lambda _: None)
        site.build(ROOT, "smoke", log=lambda _: None)

    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Quiet, directory=str(html)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/"
    server.shutdown()


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    binary, driver_path = shutil.which("chromium"), shutil.which("chromedriver")
    if not binary or not driver_path:
        pytest.fail("Debian's chromium and chromium-driver are not installed: `make test` installs them "
                    "(apt-get install -y chromium chromium-driver)")
    options = webdriver.ChromeOptions()
    options.binary_location = binary
    for flag in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--disable-dev-shm-usage", "--hide-scrollbars", f"--window-size={DESKTOP[0]},{DESKTOP[1]}",
                 f"--user-data-dir={tmp_path_factory.mktemp('chromium-profile')}"):
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL", "performance": "ALL"})
    driver = webdriver.Chrome(options=options, service=Service(executable_path=driver_path))
    driver.set_page_load_timeout(60)
    driver.set_script_timeout(60)
    yield driver
    driver.quit()


def _requests(driver) -> list[str]:
    """URLs the page requested since the last call (from the DevTools network events)."""
    urls = []
    for entry in driver.get_log("performance"):
        message = json.loads(entry["message"])["message"]
        if message["method"] == "Network.requestWillBeSent":
            urls.append(message["params"]["request"]["url"])
    return urls


def _settle(driver) -> None:
    """Wait for the page, its images and (where the page has math) MathJax's typesetting to finish."""
    driver.execute_async_script("""
        const done = arguments[arguments.length - 1];
        const images = Promise.all(Array.from(document.images).map(img => img.complete ? null :
            new Promise(resolve => { img.onload = img.onerror = resolve; })));
        const math = (window.MathJax && MathJax.startup && MathJax.startup.promise) || Promise.resolve();
        Promise.all([images, math, document.fonts.ready]).then(() => done(true), () => done(false));
    """)


def _screenshot(driver, path: Path, width: int, height: int) -> None:
    """The whole page (up to 15,000 px tall) at ``width``: the window grows to the page's height for the shot."""
    full = min(driver.execute_script("return document.documentElement.scrollHeight"), 15000)
    driver.set_window_size(width, max(height, full))
    time.sleep(0.2)
    driver.save_screenshot(str(path))
    driver.set_window_size(width, height)


PAGE_STATE = """
const article = document.querySelector('article.bd-article') || document.querySelector('main') || document.body;
const prose = Array.from(article.querySelectorAll('p, li, h1, h2, h3, dd, dt, blockquote'))
    .filter(e => !e.closest('pre, .highlight, table, .cell_output, mjx-container') && e.innerText.trim());
const formulas = Array.from(document.querySelectorAll('.math'));
const text = prose.map(e => e.innerText).join('\\n');
return {
  formulas: formulas.length,
  unrendered: formulas.filter(f => !f.querySelector('mjx-container')).map(f => f.textContent.slice(0, 60)),
  raw_tex: (text.match(/\\\\\\(|\\\\\\[|\\$\\$/g) || []).length,
  broken_images: Array.from(document.images).filter(i => !(i.complete && i.naturalWidth > 0 && i.naturalHeight > 0))
      .map(i => i.getAttribute('src')),
  images: document.images.length,
  overflowing: prose.filter(e => e.getBoundingClientRect().right > window.innerWidth + 1 && e.offsetParent)
      .map(e => e.tagName + ': ' + e.innerText.slice(0, 50)),
  page_width: document.documentElement.scrollWidth,
  links: Array.from(document.querySelectorAll('a[href]')).map(a => a.href),
  ids: Array.from(document.querySelectorAll('[id], a[name]')).map(e => e.id || e.getAttribute('name')),
};
"""


# What a reader stumbles on, found in the page as laid out (both widths). Collapsed parts (<details>) are opened
# for the look, as a reader would, and closed again.
#  - code_overflow: a code block (input, output or prose) wider than its box, with nothing that scrolls it: its
#    right end is cut off or spills over the page;
#  - raw_dollars: TeX between dollars left as text (a code cell that printed Markdown math, a table's header);
#    rendered formulas (MathJax's containers), code input and prose code are not read;
#  - clipped_tables: a table wider than the text column that neither fits nor scrolls in a box that shows it
#    scrolls (the shadows of alignbook.css);
#  - nan_cells: a table cell that reads NaN (or pandas' other missing markers) instead of saying what is missing.
GLITCHES = r"""
const article = document.querySelector('article.bd-article') || document.querySelector('main') || document.body;
const closed = Array.from(article.querySelectorAll('details:not([open])'));
closed.forEach(d => d.open = true);
const column = Math.min(article.getBoundingClientRect().right, document.documentElement.clientWidth) + 1;
const shown = e => e.offsetParent !== null && e.getClientRects().length > 0;
const label = e => e.tagName.toLowerCase() + ': ' + (e.innerText || '').trim().replace(/\s+/g, ' ').slice(0, 60);
// The box that scrolls ``e``'s overflow and itself fits the column (``e`` or an ancestor), or null.
function scroller(e) {
  for (let box = e; box && box !== article.parentElement; box = box.parentElement) {
    const style = getComputedStyle(box);
    if (['auto', 'scroll'].includes(style.overflowX) && box.scrollWidth > box.clientWidth + 1
        && box.getBoundingClientRect().right <= column) return box;
  }
  return null;
}
const wide = e => e.scrollWidth > e.clientWidth + 1 || e.getBoundingClientRect().right > column;
const code_overflow = Array.from(article.querySelectorAll('pre')).filter(shown)
    .filter(e => wide(e) && !scroller(e)).map(label);
const clipped_tables = Array.from(article.querySelectorAll('table')).filter(shown).filter(e => {
  if (!wide(e)) return false;
  const box = scroller(e);
  return !box || !/gradient/.test(getComputedStyle(box).backgroundImage);
}).map(label);
const walker = document.createTreeWalker(article, NodeFilter.SHOW_TEXT);
const texts = [];
for (let node = walker.nextNode(); node; node = walker.nextNode()) {
  const parent = node.parentElement;
  if (!parent || parent.closest('mjx-container, script, style, textarea, .cell_input')) continue;
  if (parent.closest('pre, code') && !parent.closest('.cell_output')) continue;
  texts.push(node.textContent);
}
const raw_dollars = texts.join(' ').match(/\$\$|\$[^\s$\d][^$\n]{0,80}?\$/g) || [];
const nan_cells = Array.from(article.querySelectorAll('td, th')).filter(shown)
    .filter(c => /^(nan|<NA>|NaT)$/i.test(c.innerText.trim()))
    .map(c => label(c.closest('table')) + ' ... ' + c.innerText.trim());
closed.forEach(d => d.open = false);
return {code_overflow, raw_dollars, clipped_tables, nan_cells};
"""


@pytest.fixture(scope="module")
def visit(browser, served):
    """visit(page) -> what the browser saw at both widths; each page is opened once per module."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    seen: dict[str, dict] = {}

    def open_page(page: str) -> dict:
        if page in seen:
            return seen[page]
        record = {}
        for label, (width, height) in (("desktop", DESKTOP), ("phone", PHONE)):
            browser.set_window_size(width, height)
            browser.get_log("browser"), _requests(browser)  # drop what earlier pages left
            browser.get(served + page)
            _settle(browser)
            time.sleep(0.2)  # let late console messages arrive
            state = browser.execute_script(PAGE_STATE)
            state["glitches"] = browser.execute_script(GLITCHES)
            state["console_errors"] = [e["message"] for e in browser.get_log("browser") if e["level"] == "SEVERE"]
            state["requests"] = _requests(browser)
            stem = page.removesuffix(".html").replace("/", "-")
            _screenshot(browser, SCREENSHOTS / f"{stem}-{label}.png", width, height)
            record[label] = state
        seen[page] = record
        return record

    return open_page


@pytest.mark.parametrize("page", PAGES)
def test_page_reads_well_offline(visit, served, page):
    record = visit(page)
    for label, state in record.items():
        assert not state["unrendered"], f"{page} ({label}): formulas left as TeX: {state['unrendered']}"
        assert state["raw_tex"] == 0, f"{page} ({label}): raw \\( or $$ in the text"
        assert not state["broken_images"], f"{page} ({label}): images that did not load: {state['broken_images']}"
        assert not state["console_errors"], f"{page} ({label}): console errors: {state['console_errors']}"
        foreign = [u for u in state["requests"] if urlparse(u).scheme in ("http", "https", "ws", "wss")
                   and urlparse(u).hostname not in LOCAL_HOSTS]
        assert not foreign, f"{page} ({label}): requests to other hosts: {foreign}"
        for glitch, found in state["glitches"].items():
            assert not found, f"{page} ({label}): {glitch.replace('_', ' ')}: {found[:5]}"
    phone = record["phone"]
    assert not phone["overflowing"], f"{page}: body text wider than a 400 px screen: {phone['overflowing']}"
    assert phone["page_width"] <= PHONE[0] + 1, f"{page}: the page scrolls sideways at 400 px ({phone['page_width']} px)"
    stem = page.removesuffix(".html").replace("/", "-")
    for label in ("desktop", "phone"):
        shot = SCREENSHOTS / f"{stem}-{label}.png"
        assert shot.stat().st_size > 1000, f"no screenshot {shot}"


def test_chapters_show_their_formulas_and_figures(visit):
    """The chapters with math in their prose render it with the site's MathJax; every chapter shows figures."""
    with_math = 0
    for name in (p.stem for p in sorted((ROOT / "notebooks").glob("*.ipynb"))):
        desktop = visit(f"notebooks/{name}.html")["desktop"]
        assert desktop["images"] > 0, f"{name}: no figure"
        with_math += desktop["formulas"] > 0
        mathjax = [u for u in desktop["requests"] if "mathjax" in u.lower()]
        if desktop["formulas"]:
            assert mathjax and all(urlparse(u).hostname in LOCAL_HOSTS for u in mathjax)
    assert with_math >= 2


def test_search_finds_a_word_from_a_chapter(browser, served):
    browser.set_window_size(*DESKTOP)
    browser.get(served + f"search.html?q={SEARCH_WORD}")
    deadline = time.time() + 30
    found = []
    # Sphinx lists the results one by one as it ranks them: wait until the chapter shows up or time runs out.
    while time.time() < deadline and not any("notebooks/safepo" in url for url in found):
        found = browser.execute_script(
            "return Array.from(document.querySelectorAll('#search-results li a')).map(a => a.href)")
        time.sleep(0.3)
    assert found, f"the search page found nothing for {SEARCH_WORD!r}"
    assert any("notebooks/safepo" in url for url in found), found


def test_search_from_disk_shows_a_line_of_each_page_found(browser, served):
    """Read from disk, the browser lets no page fetch another: the search page answers from the pages' texts
    (site.offline_search), so each result carries its line of text, as it does online."""
    browser.set_window_size(*DESKTOP)
    browser.get((site.html_dir(ROOT, "smoke") / "search.html").as_uri() + f"?q={SEARCH_WORD}")
    deadline, lines = time.time() + 30, []
    while time.time() < deadline and not any(SEARCH_WORD.lower() in line.lower() for line in lines):
        lines = browser.execute_script(
            "return Array.from(document.querySelectorAll('#search-results li p.context')).map(p => p.textContent)")
        time.sleep(0.3)
    assert any(SEARCH_WORD.lower() in line.lower() for line in lines), lines


def test_every_internal_link_and_anchor_resolves(visit, served):
    records = {page: visit(page)["desktop"] for page in PAGES}
    ids = {served + page: set(state["ids"]) for page, state in records.items()}
    broken = []
    checked: dict[str, bool] = {}
    for page, state in records.items():
        for link in state["links"]:
            url, fragment = urldefrag(link)
            if urlparse(url).hostname not in LOCAL_HOSTS:
                continue  # the launch and repository buttons: not followed offline
            if url not in ids and url not in checked:
                try:
                    with urllib.request.urlopen(url, timeout=10) as response:
                        checked[url] = response.status == 200
                        if fragment and url.endswith(".html"):
                            body = response.read().decode("utf-8", "replace")
                            ids[url] = {part.split('"')[0] for part in body.split('id="')[1:]}
                except urllib.error.URLError:
                    checked[url] = False
            if not checked.get(url, True):
                broken.append(f"{page}: {link}")
            elif fragment and url in ids and fragment not in ids[url]:
                broken.append(f"{page}: anchor {link}")
    assert not broken, "broken links:\n" + "\n".join(sorted(set(broken)))


# A page with one example of each stumble beside its cured form; GLITCHES must name exactly the broken ones.
BROKEN_PAGE = """<!doctype html><html><head><meta charset="utf-8"><style>
  body { margin: 0; } article { width: 600px; padding: 0 20px; }
  pre { font: 14px monospace; white-space: pre; margin: 0; }
  .clip { overflow: hidden; } .scroll { overflow-x: auto; } .wrap { white-space: pre-wrap; overflow-wrap: anywhere; }
  .cue { background: linear-gradient(to right, #fff, transparent); }
  td { white-space: nowrap; padding: 0 40px; }
</style></head><body><article class="bd-article">
  <div class="cell_input"><pre class="clip">cut_off = {CALL}</pre></div>
  <div class="cell_input"><pre class="scroll">scrolls = {CALL}</pre></div>
  <div class="cell_input"><pre class="wrap">wraps = {CALL}</pre></div>
  <div class="cell_output"><pre>At $p$ = 0 the agent reaches the coin</pre></div>
  <p>Rendered: <mjx-container>$x$</mjx-container>; a price of $5 and $6; <code>echo $HOME$</code></p>
  <div class="cell_input"><pre class="wrap">print("$q$")</pre></div>
  <div class="clip"><table id="clipped"><tr><td>clipped</td><td>a</td><td>b</td><td>c</td><td>d</td><td>e</td><td>f</td>
    <td>g</td></tr></table></div>
  <div class="scroll"><table><tr><td>no cue</td><td>a</td><td>b</td><td>c</td><td>d</td><td>e</td><td>f</td>
    <td>g</td></tr></table></div>
  <div class="scroll cue"><table><tr><td>with cue</td><td>a</td><td>b</td><td>c</td><td>d</td><td>e</td><td>f</td>
    <td>g</td></tr></table></div>
  <table><tr><th>precision</th><td>NaN</td><td>nanometre</td><td>n/a</td></tr></table>
</article></body></html>""".replace("{CALL}", "run_suite(algorithms, task, seeds, eval_episodes=10, progress=None)")


def test_glitch_checks_name_each_stumble_of_a_broken_page(browser):
    from urllib.parse import quote

    browser.set_window_size(*DESKTOP)
    browser.get("data:text/html;charset=utf-8," + quote(BROKEN_PAGE))
    found = browser.execute_script(GLITCHES)
    assert [line.split(" = ")[0] for line in found["code_overflow"]] == ["pre: cut_off"]
    assert found["raw_dollars"] == ["$p$"]
    assert [line.split(" ")[1] for line in found["clipped_tables"]] == ["clipped", "no"]
    assert found["nan_cells"] == ["table: precision NaN nanometre n/a ... NaN"]


def test_glitch_checks_catch_each_stumble_on_a_real_chapter(browser, served):
    """A chapter page of the site as it stood before issue 27, recreated: the cures of alignbook.css taken back
    (code that does not wrap, output and table boxes that clip instead of scrolling), Markdown math printed by a
    code cell, a NaN in an output table. The checks that pass on the real page find each stumble."""
    browser.set_window_size(*PHONE)
    browser.get(served + "notebooks/safepo.html")
    _settle(browser)
    assert not any(browser.execute_script(GLITCHES).values())
    browser.execute_script("""
        const style = document.createElement('style');
        style.textContent = `div.cell_input pre, div.highlight pre { white-space: pre !important; overflow: hidden !important; }
            div.cell_output, div.cell_output div.output, .bd-article table { overflow: hidden !important; }`;
        document.head.appendChild(style);
        document.querySelector('div.cell_output div.output.stream pre').append(' At $p$ = 0 the agent reaches the coin');
        document.querySelector('div.cell_output table td').textContent = 'NaN';
    """)
    found = browser.execute_script(GLITCHES)
    assert found["code_overflow"] and found["clipped_tables"], found
    assert found["raw_dollars"] == ["$p$"] and len(found["nan_cells"]) == 1, found


def test_the_papers_filter_keeps_matching_rows_and_hides_empty_parts(browser):
    """The Papers page's one table: typing a word keeps the rows that contain it and hides every part's group
    left without a row; clearing the box shows everything again."""
    from urllib.parse import quote

    from alignbook.book import papers

    collection = papers.load(papers.default_path(ROOT))
    table = papers.render_markers("<!-- papers: all -->", collection)
    browser.get("data:text/html;charset=utf-8," + quote(f"<html><body>{table}</body></html>"))
    count = """return Array.from(document.querySelectorAll('tbody')).map(b => [b.hidden,
        Array.from(b.querySelectorAll('tr')).filter(r => r.querySelector('td') && !r.hidden).length]);"""
    everything = browser.execute_script(count)
    assert [hidden for hidden, _ in everything] == [False] * len(collection.parts)
    assert sum(rows for _, rows in everything) == len(collection.papers)
    box = browser.find_element("css selector", "input[type=search]")
    box.send_keys("debate")
    matching = {p.part for p in collection.papers
                if "debate" in " ".join((p.title, p.topic, p.short_authors, collection.parts[p.part].title)).lower()}
    shown = browser.execute_script(count)
    assert 0 < sum(rows for _, rows in shown) < len(collection.papers)
    assert [not hidden for hidden, _ in shown] == [part in matching for part in collection.parts]
    assert all(rows > 0 for hidden, rows in shown if not hidden)
    box.clear()
    browser.execute_script("arguments[0].dispatchEvent(new Event('input'))", box)
    assert browser.execute_script(count) == everything
