"""Where each model gains and loses: the segment verdicts and the served score, in words, a
figure and an HTML section (``compare_transfer(segments=, fused=)``)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from ._fused import fused_lines
from ._segments import TOO_SMALL

_LOSSES = ("worse", "worse within margin")


def _delta(row) -> str:
    def number(x):
        return "n/a" if not np.isfinite(x) else f"{x:+.3f}".replace("-", "−")

    return f"{number(row['delta'])} [{number(row['ci_low'])}, {number(row['ci_high'])}]"


def segment_lines(report, table: pd.DataFrame | None = None) -> list[str]:
    """Per model: the segments where it loses and gains (with intervals), and those too small
    to test. Empty without segments."""
    if getattr(report, "segment_scores", None) is None:
        return []
    table = report.segments() if table is None else table
    flat = table.reset_index()
    level = table.attrs["interval_level"]
    lines = [f"by segment ({table.attrs['n_tests']} intervals at {100 * level:.4g}% each, "
             "simultaneous over the segments (Bonferroni)):"]
    for model in report._models():
        mine = flat[flat["model"] == model]
        for label, wanted in (("loses", _LOSSES), ("gains", ("better",))):
            hit = mine[mine["verdict"].isin(wanted)]
            if len(hit):
                lines.append(f"{model} {label} on " + "; ".join(
                    f"{r.segmentation}={r.segment} {r.task} {_delta(r._asdict())}"
                    for r in hit.itertuples()) + ".")
        if not len(mine[mine["verdict"].isin((*_LOSSES, "better"))]):
            lines.append(f"{model}: no segment is worse or better than the reference at this "
                         "level.")
    small = flat[flat["verdict"] == TOO_SMALL][["segmentation", "segment"]].drop_duplicates()
    if len(small):
        lines.append("too small to test (fewer than 30 test rows a split): " + ", ".join(
            f"{r.segmentation}={r.segment}" for r in small.itertuples()) + ".")
    return lines


def where_lines(report) -> list[str]:
    """The served-score lines, then the segment lines."""
    if not getattr(report, "fused", None) and getattr(report, "segment_scores", None) is None:
        return []
    return [*fused_lines(report, report.summary()), *segment_lines(report)]


def plot_segments(report, table: pd.DataFrame, ax=None, title: str | None = None):
    """Each (segment, model)'s delta with its simultaneous interval, one panel per task."""
    import matplotlib.pyplot as plt

    flat = table.reset_index()
    tasks = list(dict.fromkeys(flat["task"]))
    keys = list(dict.fromkeys(zip(flat["segmentation"], flat["segment"])))
    models = list(dict.fromkeys(flat["model"]))
    if ax is None:
        fig, axes = plt.subplots(1, len(tasks), figsize=(2.2 + 3.2 * len(tasks),
                                                         1.2 + 0.32 * len(keys) * len(models)),
                                 layout="constrained", sharey=True, squeeze=False)
        axes = list(axes[0])
    else:
        axes = [ax] if len(tasks) == 1 else None
        if axes is None:
            raise ValueError(f"ax= holds one panel but the report has {len(tasks)} tasks: leave "
                             "ax=None for one panel per task.")
    step = 1.0 / (len(models) + 1)
    colours = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    for panel, task in zip(axes, tasks):
        for i, model in enumerate(models):
            part = flat[(flat["task"] == task) & (flat["model"] == model)].set_index(
                ["segmentation", "segment"]).reindex(keys)
            y = np.arange(len(keys)) + (i - (len(models) - 1) / 2) * step
            delta = part["delta"].to_numpy(float)
            low = np.nan_to_num(delta - part["ci_low"].to_numpy(float))
            high = np.nan_to_num(part["ci_high"].to_numpy(float) - delta)
            small = (part["verdict"] == TOO_SMALL).to_numpy()
            shown = ~small & np.isfinite(delta)
            panel.errorbar(delta[shown], y[shown], xerr=[low[shown], high[shown]], fmt="o",
                           color=colours[i % len(colours)], capsize=2, label=str(model))
            lost = shown & part["verdict"].isin(_LOSSES).to_numpy()
            panel.scatter(delta[lost], y[lost], s=70, facecolors="none", edgecolors="red",
                          zorder=3)
            for yy in y[small]:
                panel.text(0, yy, "too small", fontsize=7, color="grey", va="center",
                           ha="center", parse_math=False)
        panel.axvline(0, color="black", lw=0.8)
        panel.set_title(f"{task} ({report.metric[task]})", fontsize=9, parse_math=False)
        panel.set_xlabel("delta vs reference", fontsize=8)
    axes[0].set_yticks(np.arange(len(keys)), [f"{s}={v}" for s, v in keys], fontsize=8)
    for label in axes[0].get_yticklabels():
        label.set_parse_math(False)
    axes[0].invert_yaxis()
    axes[-1].legend(fontsize=8, loc="best")
    heading = "Per segment: delta against the reference (red ring: a loss)"
    axes[0].figure.suptitle(heading if title is None else f"{title}: {heading}", fontsize=10)
    return axes[0]


def where_html(report, title: str | None, table_html, figure_html, escape) -> str:
    """The page's "Where" section: the served-score and segment lines, the segment table and
    figure; "" without segments or fused scores."""
    lines = where_lines(report)
    if not lines:
        return ""
    parts = ["<h2>Where each model gains and loses</h2>",
             '<ul class="verdicts">' + "".join(f"<li>{escape(line)}</li>" for line in lines)
             + "</ul>"]
    if getattr(report, "segment_scores", None) is not None:
        table = report.segments()
        flat = table.reset_index()
        columns = ["segmentation", "segment", "model", "task", "n_rows", "mean",
                   "reference_mean", "delta", "ci_low", "ci_high", "p_adjusted", "mde",
                   "verdict"]
        parts += [table_html(flat, columns, "segments"),
                  figure_html(plot_segments(report, table, title=title),
                              "each segment's delta with its interval, per task",
                              "Intervals simultaneous over the segment table's tested rows; "
                              "segments too small to test are named, not drawn.")]
    return "\n".join(parts)
