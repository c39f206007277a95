"""TransferReport.to_html (sklearn_mtl.transfer._html): one self-contained page with every section,
and how it renders in a real headless Chromium (skipped only where no Chromium is installed)."""

from __future__ import annotations

import base64
import html
import io
import json
import re
import shutil
import subprocess
from html.parser import HTMLParser
from importlib import metadata

import matplotlib
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest
from PIL import Image

import sklearn_mtl
from sklearn_mtl import MultiTaskRecommender, PerTaskLGBM, TransferReport, compare_transfer
from sklearn_mtl.datasets import make_multitask_data
from sklearn_mtl.transfer._stats import VERDICTS

matplotlib.use("Agg")

BROWSERS = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
SECTIONS = ["Can each model ship?", "Per task", "Per model", "Deltas against the reference",
            "Gradient cosine between tasks", "Task affinity", "Settings", "Versions"]


class _Page(HTMLParser):
    """The tags, their attributes and the text of each ``<h2>`` of a page."""

    def __init__(self, text: str):
        super().__init__()
        self.tags, self.headings, self._in_h2 = [], [], False
        self.feed(text)

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))
        self._in_h2 = tag == "h2"

    def handle_endtag(self, tag):
        self._in_h2 = False if tag == "h2" else self._in_h2

    def handle_data(self, data):
        if self._in_h2:
            self.headings.append(data)


@pytest.fixture(scope="module")
def fitted(tmp_path_factory):
    """A small real comparison with gradient cosines and task affinities recorded, as a page."""
    X, Y = make_multitask_data(n_samples=300, n_features=5, random_state=0)
    net = dict(hidden_units=(8,), tower_units=(4,), max_epochs=2, random_state=0,
               track_gradient_conflict=True, track_task_affinity=True)
    report = compare_transfer(
        {"hard": MultiTaskRecommender("hard", **net),
         "lgbm": PerTaskLGBM(n_estimators=10, n_jobs=1, verbose=-1, random_state=0)},
        X, Y, cv=2, n_repeats=1, random_state=0)
    open_before = plt.get_fignums()
    path = report.to_html(tmp_path_factory.mktemp("html") / "report.html", title="small run",
                          settings={"data": "make_multitask_data", "rows": len(X)})
    assert plt.get_fignums() == open_before  # every figure drawn for the page is closed
    return report, path


def _hand_made(model="hard", **kwargs):
    scores = pd.DataFrame({"model": [model] * 4 + ["reference"] * 4, "task": "ctr",
                           "fold": [0, 1, 2, 3] * 2,
                           "score": [.70, .71, .69, .70, .74, .75, .74, .76]})
    return TransferReport(scores, metric={"ctr": "roc_auc"}, n_folds=4, **kwargs)


def test_html_report_has_every_section_and_loads_nothing_from_elsewhere(fitted):
    report, path = fitted
    text = path.read_text(encoding="utf-8")
    page = _Page(text)
    assert text.startswith("<!DOCTYPE html>") and '<meta charset="utf-8">' in text
    assert page.headings == SECTIONS
    # No script, no stylesheet or image from a file or a server, and a policy that forbids them.
    assert not any(tag in ("script", "link", "iframe", "object") for tag, _ in page.tags)
    assert "http://" not in text and "https://" not in text
    sources = [attrs.get(key) for _, attrs in page.tags for key in ("src", "href") if key in attrs]
    assert len(sources) == 3 and all(s.startswith("data:image/png;base64,") for s in sources)
    policy = [a["content"] for t, a in page.tags if a.get("http-equiv") == "Content-Security-Policy"]
    assert policy == ["default-src 'none'; img-src data:; style-src 'unsafe-inline'"]
    for source in sources:  # deltas, gradient cosine, affinity: real PNG images
        image = Image.open(io.BytesIO(base64.b64decode(source.split(",", 1)[1])))
        assert image.format == "PNG" and min(image.size) > 150
    for line in report.verdict_lines():
        assert html.escape(line) in text
    # Settings: the caller's first, then what the report knows; and the versions.
    assert "<th>data</th><td>make_multitask_data</td>" in text and "<th>rows</th><td>300</td>" in text
    assert "2 folds × 1 repeat (2 train/test splits)" in text
    assert "<th>test</th><td>corrected</td>" in text and "<th>correction</th><td>bonferroni</td>" in text
    assert f"<th>sklearn-mtl</th><td>{sklearn_mtl.__version__}</td>" in text
    assert f"<th>numpy</th><td>{np.__version__}</td>" in text
    assert f"<th>torch</th><td>{metadata.version('torch')}</td>" in text
    # Every (model, task) row of the summary, its verdict cell carrying its colour class (the
    # verdict's words joined by hyphens).
    cells = re.findall(r'<td class="([a-z-]+)">([a-z ]+)</td>', text)
    verdicts = [said for css, said in cells if said in VERDICTS and css == said.replace(" ", "-")]
    assert len(verdicts) == len(report.summary()) + len(report.overall()) + 5  # + the legend
    assert ('<td class="worse-within-margin">worse within margin</td><td>below 0 but above '
            '−margin: real, too small to matter</td>') in text
    # 2 folds: fewer than 3 pairs, nothing tested, so no family to spread alpha over.
    assert report.summary()["p_value"].isna().all()
    assert "its interval (95%), the adjusted p-value (Bonferroni p)" in text
    assert "<th>grad cosine</th>" in text  # the summary's column, since cosines were recorded


def test_html_report_colours_each_verdict_and_escapes_every_name(tmp_path):
    report = _hand_made(model="<b>hard & co</b>")
    path = report.to_html(tmp_path / "sub" / "page.html", title="<i>clicks</i>",
                          settings={"data": "<img src=x onerror=alert(1)>",
                                    "models": {"<b>hard & co</b>": "lr='<3e-3>'"}})
    text = path.read_text(encoding="utf-8")
    assert path == tmp_path / "sub" / "page.html"
    assert '<td class="worse">worse</td><td>ctr</td>' in text  # hard is 0.048 AUC worse
    assert "its interval (95%), the adjusted p-value (Bonferroni p)" in text  # one test
    assert "<b>" not in text and "<i>" not in text and "<img src=x" not in text
    assert "&lt;b&gt;hard &amp; co&lt;/b&gt;" in text and "&lt;i&gt;clicks&lt;/i&gt;" in text
    assert "lr=&#x27;&lt;3e-3&gt;&#x27;" in text
    assert [h for h in _Page(text).headings if h in ("Gradient cosine between tasks",
                                                      "Task affinity")] == []


def test_html_report_uses_the_settings_given_and_states_the_tuning_budget(tmp_path):
    tuning = pd.DataFrame({"model": ["hard", "reference"] * 4, "split": [0, 0, 1, 1, 2, 2, 3, 3],
                           "n_trials": 5, "n_complete": 4, "n_pruned": 1,
                           "best_params": [{"lr": 0.01}] * 8, "best_value": 0.7, "seconds": 1.5})
    report = _hand_made(tuning=tuning)
    text = report.to_html(tmp_path / "page.html", alpha=0.001, correction=None).read_text("utf-8")
    assert "(corrected resampled t-test, 99.9% intervals)</p>" in text
    assert "its interval (99.9%), the adjusted p-value (p)" in text
    assert "simultaneous over" not in text
    assert "<th>alpha</th><td>0.001</td>" in text and "<th>correction</th><td>none</td>" in text
    # At alpha=0.001 unadjusted (p = 0.007) hard is no longer worse, in every table.
    assert text.count('<td class="worse">worse</td>') == 1  # the legend's
    assert '<td class="inconclusive">inconclusive</td><td>ctr</td>' in text
    assert ("<th>nested tuning</th><td>each model (hard, reference) had its own study of 5 trials "
            "in each of 4 splits, on the split&#x27;s training rows only") in text
    assert report.alpha == 0.05 and report.correction == "bonferroni"  # the report is unchanged


@pytest.fixture(scope="session")  # set up before the module's fitted report, so a skip is quick
def browser() -> str:
    """The Chromium on PATH; skips (before anything is fitted) where there is none."""
    for name in BROWSERS:
        found = shutil.which(name)
        if found:
            return found
    pytest.skip(f"no Chromium found (looked for {', '.join(BROWSERS)}): install Debian's "
                "chromium package (.ci/run does) to render the HTML report")


def _render(browser, page, tmp_path, name):
    """Screenshot ``page`` in headless Chromium; returns (PNG image, console lines)."""
    shot = tmp_path / f"{name}.png"
    done = subprocess.run(
        [browser, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-extensions", "--no-first-run", f"--user-data-dir={tmp_path / f'{name}-profile'}",
         "--enable-logging=stderr", "--v=0", "--hide-scrollbars", "--window-size=1200,2000",
         f"--screenshot={shot}", page.resolve().as_uri()],
        capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    console = [line for line in done.stderr.splitlines() if ":CONSOLE" in line]
    return Image.open(shot).convert("RGB"), console


def test_html_report_renders_in_headless_chromium_without_console_errors(browser, fitted,
                                                                         tmp_path):
    _, path = fitted
    # The harness sees what it must: under the same policy, a reference to a server is blocked
    # and logged to the console.
    control = tmp_path / "control.html"
    control.write_text(re.sub(r'src="data:image/png;base64,[^"]*"',
                              'src="https://example.invalid/figure.png"',
                              path.read_text(encoding="utf-8"), count=1), encoding="utf-8")
    _, console = _render(browser, control, tmp_path, "control")
    assert any("example.invalid" in line for line in console), console

    image, console = _render(browser, path, tmp_path, "report")
    assert console == []
    pixels = np.asarray(image).reshape(-1, 3).astype(int)
    assert image.size == (1200, 2000)
    assert (pixels.min(axis=1) < 235).mean() > 0.03  # not blank: text, tables and figures
    assert len(np.unique(pixels, axis=0)) > 500  # anti-aliased text and plots, not a flat fill
    # The embedded deltas figure decoded and drawn: its first model's bars (matplotlib's C0).
    blue = np.abs(pixels - [31, 119, 180]).max(axis=1) <= 12
    assert blue.sum() > 300


def test_names_with_mathtext_are_drawn_as_text(tmp_path):
    import io

    report = _hand_made(model=r"cost $\badcommand$")
    ax = report.plot(title=r"run $\alpha$")
    ax.figure.savefig(io.BytesIO(), format="png")  # mathtext raised ParseFatalException here
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert any(label.startswith(r"cost $\badcommand$: ") for label in labels)
    plt.close(ax.figure)
    page = report.to_html(tmp_path / "r.html").read_text(encoding="utf-8")
    assert r"cost $\badcommand$" in page


def _layout(browser, page, tmp_path, name, width):
    """[(table class, box width, content width) for each scrolling table box, ('page', ...)] of
    ``page`` laid out in a ``width`` px headless Chromium window.

    The page runs no script (its policy forbids it), so a copy without the policy carries a small
    one that writes the measures into the DOM, which ``--dump-dom`` prints after the layout.
    """
    probe = ("<script>const out = [...document.querySelectorAll('div.wide')].map(d => "
             "[d.firstElementChild.className, d.clientWidth, d.scrollWidth]); const e = "
             "document.documentElement; out.push(['page', e.clientWidth, e.scrollWidth]); "
             "document.body.dataset.layout = JSON.stringify(out);</script>")
    text = re.sub(r'<meta http-equiv="Content-Security-Policy"[^>]*>', "",
                  page.read_text(encoding="utf-8"))
    copy = tmp_path / f"{name}.html"
    copy.write_text(text.replace("</body>", probe + "</body>"), encoding="utf-8")
    done = subprocess.run(
        [browser, "--headless", "--no-sandbox", "--disable-gpu", "--disable-extensions",
         "--no-first-run", f"--user-data-dir={tmp_path / f'{name}-profile'}", "--hide-scrollbars",
         f"--window-size={width},1000", "--dump-dom", copy.resolve().as_uri()],
        capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    found = re.search(r'data-layout="([^"]*)"', done.stdout)
    assert found, done.stdout[-2000:]
    return [tuple(row) for row in json.loads(html.unescape(found.group(1)))]


def test_html_tables_fit_a_1280_px_window_whole(browser, tmp_path):
    # The widest per-task table the command writes: three models (one sharing nothing, so the
    # 'significantly worse' column), parameter counts, gradient cosines, long task names and
    # intervals with numbers (three folds).
    X, Y = make_multitask_data(n_samples=300, n_features=5, random_state=0)
    Y = pd.DataFrame(np.asarray(Y), columns=["never_married", "income_over_50k"])
    net = dict(hidden_units=(8,), tower_units=(4,), max_epochs=2, random_state=0,
               track_gradient_conflict=True)
    report = compare_transfer(
        {"hard": MultiTaskRecommender("hard", **net), "mmoe": MultiTaskRecommender("mmoe", **net),
         "lgbm": PerTaskLGBM(n_estimators=10, n_jobs=1, verbose=-1, random_state=0)},
        X, Y, cv=3, n_repeats=1, random_state=0)
    path = report.to_html(tmp_path / "report.html", title="three models")
    columns = re.search(r'<table class="summary"><thead><tr>(.*?)</tr>', path.read_text("utf-8"))
    assert {"<th>n params</th>", "<th>grad cosine</th>", "<th>significantly worse</th>"} <= set(
        re.findall(r"<th>[^<]*</th>", columns.group(1)))
    layout = _layout(browser, path, tmp_path, "wide", 1280)
    assert [row[0] for row in layout] == ["summary", "overall", "page"]
    assert all(content <= box for _, box, content in layout), layout
    # The measure sees an overflow where there is one: a 900 px window scrolls the summary.
    narrow = dict((row[0], row[1:]) for row in _layout(browser, path, tmp_path, "narrow", 900))
    assert narrow["summary"][1] > narrow["summary"][0] and narrow["page"][0] == 900
