"""A TransferReport as one self-contained HTML page: no script, no network, figures inline."""

from __future__ import annotations

import base64
import copy
import datetime
import html
import io
import platform
from importlib import metadata
from pathlib import Path

import numpy as np
import pandas as pd

from .._version import __version__
from ._text import (
    _P_NAMES,
    _percent,
    reference_name,
    summary_columns,
    suspect_line,
    tuning_line,
)
from ._where import where_html

# The libraries a verdict's numbers depend on; read from the installed distributions, so that
# writing the page imports none of them (torch least of all).
_LIBRARIES = ["numpy", "pandas", "scipy", "scikit-learn", "torch", "skorch", "lightgbm", "optuna",
              "matplotlib"]
# The page may load nothing but its own inline styles and data: images: a browser then refuses,
# and logs, any reference to a file or a server, and runs no script at all.
_POLICY = "default-src 'none'; img-src data:; style-src 'unsafe-inline'"
# The page is 1240 px wide at most (prose 1100 px), so that the per-task table, 16 columns at
# 0.8em with long task names, fits a 1280 px window whole (tests/test_report_html.py measures
# it); narrower windows scroll it inside div.wide.
_STYLE = """
body { font-family: system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: #1f2328;
       max-width: 1240px; margin: 2em auto; padding: 0 1em; line-height: 1.45; }
p, ul { max-width: 1100px; }
h1 { font-size: 1.6em; margin-bottom: 0.2em; }
h2 { font-size: 1.2em; margin-top: 1.8em; border-bottom: 1px solid #d0d7de; }
p.protocol { color: #57606a; }
table { border-collapse: collapse; font-size: 0.8em; margin: 0.6em 0; }
th, td { border: 1px solid #d0d7de; padding: 0.25em 0.4em; text-align: left; vertical-align: top; }
th { background: #f6f8fa; }
td.number { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
td.worse { background: #f8d7da; color: #842029; font-weight: 600; }
td.better { background: #d1e7dd; color: #0f5132; font-weight: 600; }
td.worse-within-margin { background: #fff3cd; color: #664d03; }
td.equivalent { background: #e2e8f0; color: #334155; }
td.inconclusive { background: #f6f8fa; color: #57606a; }
ul.verdicts li { margin-bottom: 0.4em; }
figure { margin: 1em 0; }
figure img { max-width: 100%; height: auto; border: 1px solid #eaeef2; }
figcaption { color: #57606a; font-size: 0.9em; }
div.wide { overflow-x: auto; }
div.maps { display: flex; flex-wrap: wrap; gap: 1.5em; }
footer { margin-top: 2.5em; color: #57606a; font-size: 0.85em; }
"""
_LEGEND = {"worse": "the interval lies below 0 and reaches past −margin: a loss that may matter",
           "worse within margin": "below 0 but above −margin: real, too small to matter",
           "better": "the interval lies above 0",
           "equivalent": "the interval lies inside ±margin",
           "inconclusive": "none of these"}


def _e(value) -> str:
    return html.escape(str(value), quote=True)


def _cell(value, column: str) -> str:
    """One ``<td>``: verdicts carry their class (their colour), numbers align right."""
    if column == "verdict":
        return f'<td class="{_e(str(value).replace(" ", "-"))}">{_e(value)}</td>'
    if isinstance(value, (bool, np.bool_)):
        return f"<td>{'<strong>yes</strong>' if value else 'no'}</td>"
    if isinstance(value, (int, np.integer)):
        return f'<td class="number">{value}</td>'
    if isinstance(value, (float, np.floating)):
        if not np.isfinite(value):
            text = "n/a"
        elif column in ("n_params", "reference_n_params"):
            text = f"{value:,.0f}"
        elif column.startswith("p_"):
            text = "&lt; 0.001" if value < 0.001 else f"{value:.3f}"
        elif column == "relative_delta":
            text = f"{value:+.2%}"
        elif column in ("delta", "ci_low", "ci_high", "mean_delta", "grad_cosine"):
            text = f"{value:+.4f}".replace("-", "−")
        else:
            text = f"{value:.4f}"
        return f'<td class="number">{text}</td>'
    return f"<td>{'' if value is None else _e(value)}</td>"


def _table(frame: pd.DataFrame, columns: list[str], css: str) -> str:
    # Spaced names wrap, so a wide summary still fits the page.
    head = "".join(f"<th>{_e(c.replace('_', ' '))}</th>" for c in columns)
    rows = ["<tr>" + "".join(_cell(v, c) for v, c in zip(row, columns)) + "</tr>"
            for row in frame[columns].itertuples(index=False)]
    return (f'<div class="wide"><table class="{css}"><thead><tr>{head}</tr></thead><tbody>'
            + "".join(rows) + "</tbody></table></div>")


def _pairs(items, css: str) -> str:
    """A two-column table of (name, value); a dict value becomes a nested table."""
    rows = []
    for name, value in items:
        shown = (_pairs(value.items(), "nested") if isinstance(value, dict)
                 else "<br>".join(map(_e, value)) if isinstance(value, (list, tuple))
                 else _e(value))
        rows.append(f"<tr><th>{_e(name)}</th><td>{shown}</td></tr>")
    return f'<table class="{css}"><tbody>' + "".join(rows) + "</tbody></table>"


def _png(ax) -> str:
    """The Axes' figure as a PNG data URI; the figure is closed, so none is left open."""
    import matplotlib.pyplot as plt

    buffer = io.BytesIO()
    try:
        ax.figure.savefig(buffer, format="png", dpi=110, bbox_inches="tight")
    finally:
        plt.close(ax.figure)
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def _figure(ax, alt: str, caption: str = "") -> str:
    said = f"<figcaption>{_e(caption)}</figcaption>" if caption else ""
    return f'<figure><img src="{_png(ax)}" alt="{_e(alt)}">{said}</figure>'


def _cosine_matrix(report, model) -> pd.DataFrame:
    """T x T: each pair's last-epoch gradient cosine of ``model``, averaged over the folds."""
    final = report._final_cosines()
    part = final[final["model"] == model]
    pairs = part.groupby(["task_a", "task_b"])["cosine"].mean()
    tasks = list(report.metric)
    matrix = pd.DataFrame(np.nan, index=tasks, columns=tasks)
    for (a, b), value in pairs.items():
        if a in matrix.index and b in matrix.columns:
            matrix.loc[a, b] = matrix.loc[b, a] = value
    return matrix


def _heat_maps(report) -> str:
    from ._plot import plot_gradient_cosine

    out = []
    if len(report.gradient_conflict):
        maps = [_figure(plot_gradient_cosine(_cosine_matrix(report, m), m),
                        f"gradient cosine between tasks, {m}")
                for m in dict.fromkeys(report.gradient_conflict["model"])]
        out.append("<h2>Gradient cosine between tasks</h2><p>The cosine between two tasks' "
                   "gradients on the shared parameters after the last epoch, averaged over the "
                   "folds: below 0 (red) the tasks pull the shared layers apart.</p>"
                   f'<div class="maps">{"".join(maps)}</div>')
    if len(report.task_affinity):
        maps = [_figure(report.plot_affinity(m), f"task affinity, {m}")
                for m in dict.fromkeys(report.task_affinity["model"])]
        out.append("<h2>Task affinity</h2><p>The lookahead affinity Z(i → j), averaged over "
                   "epochs and folds: below 0 (red), a step on task i raises task j's loss.</p>"
                   f'<div class="maps">{"".join(maps)}</div>')
    return "".join(out)


def _report_settings(report) -> list[tuple[str, object]]:
    """What the report itself knows of how it was made."""
    splits = f"{report.n_folds} folds × {report.n_repeats} repeat{'s' * (report.n_repeats > 1)}"
    n_splits = report.scores["fold"].nunique()
    items = [("splits", f"{splits} ({n_splits} train/test splits"
                        + (", grouped by groups=)" if report.grouped else ")")),
             ("metrics", dict(report.metric)),
             ("test", report.test), ("correction", report.correction or "none"),
             ("alpha", report.alpha)]
    if report.margin is not None:
        items.append(("margin", report.margin))
    if getattr(report, "cascade", None):
        items.append(("cascade scoring", f"{report.cascade_scoring} {dict(report.cascade)}"))
    tuned = tuning_line(report)
    if tuned:
        items.append(("nested tuning", tuned.removeprefix("tuning: ")))
    if report.fits_reused:
        items.append(("fits reused from storage", report.fits_reused))
    counts = {m: f"{c:,.0f}" for m, c in report.n_params.items() if np.isfinite(c)}
    if counts:
        items.append(("trainable parameters", counts))
    return items


def _version(distribution: str) -> str:
    try:
        return metadata.version(distribution)
    except metadata.PackageNotFoundError:
        return "not installed"


def _versions() -> list[tuple[str, str]]:
    return [("sklearn-mtl", __version__), ("python", platform.python_version()),
            *((name, _version(name)) for name in _LIBRARIES)]


def render_html(report, path, *, title: str | None = None, settings: dict | None = None) -> Path:
    """Write ``report`` as one HTML file that opens offline (see :meth:`TransferReport.to_html`).

    The report's own settings (``alpha``, ``test``, ``correction``, ``margin``) decide every
    table, sentence and figure; :meth:`TransferReport.to_html` gives it a copy with others.
    """
    summary = report.summary()
    overall = report.overall().reset_index()
    lines = report.verdict_lines()
    suspect = suspect_line(report)
    if suspect:
        lines = [*lines, suspect]
    table = summary.reset_index()
    heading = "Negative transfer" if title is None else f"Negative transfer: {title}"
    p_name = _P_NAMES[report.correction]
    level = _percent(summary.attrs["interval_level"])
    # Simultaneous only where a correction spreads alpha over more than one tested row.
    level = (f"simultaneous over the table's tested rows, {level} each"
             if report.correction and summary["p_value"].notna().sum() > 1 else level)
    legend = "".join(f'<td class="{v.replace(" ", "-")}">{v}</td><td>{_e(text)}</td>'
                     for v, text in _LEGEND.items())
    overall_columns = ["model", "mean_delta", "ci_low", "ci_high", "p_adjusted", "n_pairs",
                       "verdict", "worst_task"]
    written = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    body = [
        f"<h1>{_e(heading)}</h1>",
        f'<p class="protocol">{_e(report._protocol())}</p>',
        "<h2>Can each model ship?</h2>",
        '<ul class="verdicts">' + "".join(f"<li>{_e(line)}</li>" for line in lines) + "</ul>",
        "<h2>Per task</h2>",
        f"<p>Each model against {_e(reference_name(report))} on each task: delta = model − "
        f"reference (raw metric difference), its interval ({_e(level)}), the adjusted p-value "
        f"({_e(p_name)}) and the verdict read off the interval.</p>",
        _table(table, summary_columns(table), "summary"),
        f'<table class="legend"><tbody><tr>{legend}</tr></tbody></table>',
        "<h2>Per model</h2>",
        "<p>The mean over tasks of each split's deltas, oriented so that positive is better, "
        "in the tasks' own units (a mean of AUC and R² mixes them): a check of the per-task "
        "rows, not the decision.</p>",
        _table(overall, overall_columns, "overall"),
        "<h2>Deltas against the reference</h2>",
        _figure(report.plot(title=title), "bar chart of each model's delta per task",
                "Error bars: the intervals of the per-task table; red hatching marks negative "
                "transfer, orange a loss within the margin, grey dots a worse model that shares "
                "no parameters."),
        _heat_maps(report),
        where_html(report, title, _table, _figure, _e),
        # What was compared and how: after the answer, before the versions.
        "<h2>Settings</h2>",
        _pairs([*(settings or {}).items(), *_report_settings(report)], "settings"),
        "<h2>Versions</h2>",
        _pairs(_versions(), "versions"),
        f"<footer>Written by sklearn-mtl on {written}; one file, no script, nothing loaded "
        "from elsewhere.</footer>",
    ]
    page = (
        '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        f'<meta http-equiv="Content-Security-Policy" content="{_POLICY}">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{_e(heading)}</title>\n<style>{_STYLE}</style>\n</head>\n<body>\n"
        + "\n".join(part for part in body if part) + "\n</body>\n</html>\n"
    )
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(page, encoding="utf-8")
    return path


def with_settings(report, alpha, test, correction, margin):
    """A shallow copy of ``report`` whose own settings are these (already checked)."""
    other = copy.copy(report)
    other.alpha, other.test, other.correction, other.margin = alpha, test, correction, margin
    return other
