"""A TransferReport's figures: the deltas bar chart and the task-by-task heat maps (matplotlib,
imported only when drawing)."""

from __future__ import annotations

import textwrap

import numpy as np

from ._text import _percent

# The legend names each model's ship decision: one per model, never a mean over tasks that
# may be scored in different units.
_SHIP_WORDS = {"can ship": "can ship", "cannot ship": "cannot ship",
               "undecided": "undecided"}


def _wrapped(text: str, ax) -> str:
    """``text`` broken into lines that fit the figure right of the axes' left edge (about 12
    characters an inch at the title's medium size; an inch is left for the y label), so that a
    left-aligned title never runs past the image's edge."""
    width = max(24, int((ax.figure.get_figwidth() - 1.0) * 12))
    return "\n".join(textwrap.wrap(text, width=width)) or text


def plot_deltas(report, ax=None, alpha=None, test=None, title=None):
    """Bar chart of each model's delta against the reference, grouped by task (see
    :meth:`TransferReport.plot`)."""
    import matplotlib.pyplot as plt
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch

    alpha = report.alpha if alpha is None else alpha
    summary = report.summary(alpha, test).reset_index()
    decisions = report.ship(alpha, test)
    tasks = list(report.metric)
    if ax is None:
        # Room beside the axes for the legend.
        _, ax = plt.subplots(figsize=(5.4 + 1.6 * len(tasks), 3.8), layout="constrained")
    models = list(dict.fromkeys(summary["model"]))
    width = 0.8 / len(models)
    handles = []
    for i, model in enumerate(models):
        part = summary[summary["model"] == model].set_index("task").loc[tasks]
        x = np.arange(len(tasks)) + (i - (len(models) - 1) / 2) * width
        # The confidence interval of the verdict (zero-width where the test is undefined).
        spread = [(part["delta"] - part["ci_low"]).fillna(0), (part["ci_high"] - part["delta"]).fillna(0)]
        bars = ax.bar(x, part["delta"], width, yerr=spread, capsize=3)
        for bar, said, shares in zip(bars, part["verdict"], part["shares_parameters"]):
            if said in ("worse", "worse within margin") and not shares:
                bar.set_hatch("..")  # worse, but the model shares nothing: not transfer
                bar.set_edgecolor("dimgrey")
            elif said == "worse":
                bar.set_hatch("//")
                bar.set_edgecolor("red")
            elif said == "worse within margin":
                bar.set_hatch("\\\\")
                bar.set_edgecolor("darkorange")
        # Own legend handles: matplotlib's would copy the first bar's hatch, if flagged. Each
        # names the model's ship decision and the tasks that decide it.
        decision = decisions.loc[model]
        said = _SHIP_WORDS[decision["decision"]] + (
            f" ({', '.join(map(str, decision['tasks']))})" if decision["tasks"] else "")
        handles.append(Patch(facecolor=bars[0].get_facecolor(), label=f"{model}: {said}"))
    level = summary.attrs.get("interval_level", 1 - alpha)
    # Only the hatches drawn get an entry, each on two lines: a wide legend squeezes the axes
    # until the task names under them overlap.
    if summary["negative_transfer"].any():
        handles.append(Patch(facecolor="white", edgecolor="red", hatch="//",
                             label=f"negative transfer (a loss that may exceed\nthe margin; "
                                   f"{_percent(level)} interval below 0)"))
    if (summary["verdict"] == "worse within margin").any():
        handles.append(Patch(facecolor="white", edgecolor="darkorange", hatch="\\\\",
                             label="worse within margin\n(real, too small to matter)"))
    if (summary["significantly_worse"] & ~summary["shares_parameters"]).any():
        handles.append(Patch(facecolor="white", edgecolor="dimgrey", hatch="..",
                             label="worse, shares nothing (not transfer)"))
    ax.axhline(0, color="black", lw=0.8)
    # Each task's margin: a bar whose interval stays above the dashed line loses nothing that
    # matters.
    margins = summary.groupby("task", sort=False)["margin"].first()
    for x, task in enumerate(tasks):
        bound = margins[task] if report.greater_is_better[task] else -margins[task]
        ax.hlines([-bound], x - 0.45, x + 0.45, colors="grey", linestyles="dashed", lw=0.8)
    handles.append(Line2D([], [], color="grey", linestyle="dashed", lw=0.8,
                          label="−margin: a loss that matters"))
    ax.set_xticks(np.arange(len(tasks)))
    # Deltas are raw metric differences, so each tick says which way is better.
    # Task and model names are text, not mathtext: "cost $\badcommand$" is drawn as written.
    ax.set_xticklabels([f"{t}\n{report.metric[t]}, {'↑' if report.greater_is_better[t] else '↓'} better"
                        for t in tasks], parse_math=False)
    ax.set_ylabel("model − single-task reference")
    names = sorted(set(report.metric.values()))
    text = (f"Δ {' / '.join(names)} against the single-task reference, {report.n_folds}-fold CV"
            + (f" × {report.n_repeats}" if report.n_repeats > 1 else ""))
    ax.set_title(_wrapped(text if title is None else f"{title}: {text}", ax), fontsize="medium",
                 loc="left", parse_math=False)
    # Beside the axes, never on a bar or an error bar.
    legend = ax.legend(handles=handles, fontsize="small", loc="upper left",
                       bbox_to_anchor=(1.02, 1.0), borderaxespad=0.0)
    for label in legend.get_texts():
        label.set_parse_math(False)
    return ax


def _heat_map(matrix, title, bound, ax=None):
    """A labelled T x T heat map on a symmetric red-blue scale, each finite cell written in."""
    import matplotlib.pyplot as plt

    values = matrix.to_numpy(dtype=float)
    if ax is None:
        _, ax = plt.subplots(figsize=(1.6 + 0.9 * len(matrix), 1.2 + 0.9 * len(matrix)))
    image = ax.imshow(values, cmap="RdBu", vmin=-bound, vmax=bound)
    for i in range(values.shape[0]):
        for j in range(values.shape[1]):
            if np.isfinite(values[i, j]):
                ax.text(j, i, f"{values[i, j]:.2g}", ha="center", va="center", fontsize="small")
    ax.set_xticks(range(len(matrix.columns)), [str(c) for c in matrix.columns], rotation=30,
                  parse_math=False)
    ax.set_yticks(range(len(matrix.index)), [str(i) for i in matrix.index], parse_math=False)
    ax.set_title(title, fontsize="medium", parse_math=False)
    ax.figure.colorbar(image, ax=ax, shrink=0.8)
    return ax


def plot_affinity(matrix, model, ax=None):
    """Heat map of a T x T task-affinity matrix (rows: source task, columns: target task)."""
    values = matrix.to_numpy(dtype=float)
    # Symmetric colour scale: red = a step on the row task raises the column task's loss.
    bound = np.nanmax(np.abs(values)) if np.isfinite(values).any() else 1.0
    ax = _heat_map(matrix, f"{model}: lookahead affinity Z(i → j)", bound, ax=ax)
    ax.set_xlabel("target task j")
    ax.set_ylabel("source task i")
    return ax


def plot_gradient_cosine(matrix, model, ax=None):
    """Heat map of a T x T matrix of gradient cosines between tasks (symmetric, NaN diagonal)."""
    # A cosine lies in [-1, 1]: the fixed scale keeps models comparable. Red = conflict.
    return _heat_map(matrix, f"{model}: gradient cosine, last epoch", 1.0, ax=ax)
