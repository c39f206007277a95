"""The deltas bar chart of a TransferReport (matplotlib, imported only when drawing)."""

from __future__ import annotations

import numpy as np


def plot_deltas(report, ax=None, alpha=None, test=None):
    """Bar chart of each model's delta against the reference, grouped by task (see
    :meth:`TransferReport.plot`)."""
    import matplotlib.pyplot as plt
    from matplotlib.patches import Patch

    alpha = report.alpha if alpha is None else alpha
    summary = report.summary(alpha, test).reset_index()
    tasks = list(report.metric)
    if ax is None:
        _, ax = plt.subplots(figsize=(1.8 + 1.6 * len(tasks), 3.6))
    models = list(dict.fromkeys(summary["model"]))
    width = 0.8 / len(models)
    handles = []
    for i, model in enumerate(models):
        part = summary[summary["model"] == model].set_index("task").loc[tasks]
        x = np.arange(len(tasks)) + (i - (len(models) - 1) / 2) * width
        # The confidence interval of the verdict (zero-width where the test is undefined).
        spread = [(part["delta"] - part["ci_low"]).fillna(0), (part["ci_high"] - part["delta"]).fillna(0)]
        bars = ax.bar(x, part["delta"], width, yerr=spread, capsize=3)
        for bar, negative, worse in zip(bars, part["negative_transfer"],
                                        part["significantly_worse"]):
            if negative:
                bar.set_hatch("//")
                bar.set_edgecolor("red")
            elif worse:  # worse, but the model shares nothing: not transfer
                bar.set_hatch("..")
                bar.set_edgecolor("dimgrey")
        # Own legend handles: matplotlib's would copy the first bar's hatch, if flagged.
        handles.append(Patch(facecolor=bars[0].get_facecolor(), label=model))
    handles.append(Patch(facecolor="white", edgecolor="red", hatch="//",
                         label=f"negative transfer (adjusted p < {alpha})"))
    if (summary["significantly_worse"] & ~summary["shares_parameters"]).any():
        handles.append(Patch(facecolor="white", edgecolor="dimgrey", hatch="..",
                             label=f"worse, shares nothing (adjusted p < {alpha})"))
    ax.axhline(0, color="black", lw=0.8)
    ax.set_xticks(np.arange(len(tasks)))
    # Deltas are raw metric differences, so each tick says which way is better.
    ax.set_xticklabels([f"{t}\n{report.metric[t]}, {'↑' if report.greater_is_better[t] else '↓'} better"
                        for t in tasks])
    ax.set_ylabel("model − single-task reference")
    names = sorted(set(report.metric.values()))
    ax.set_title(f"Δ {' / '.join(names)} against the single-task reference, "
                 f"{report.n_folds}-fold CV"
                 + (f" × {report.n_repeats}" if report.n_repeats > 1 else ""), fontsize="medium")
    ax.legend(handles=handles, fontsize="small")
    return ax


def plot_affinity(matrix, model, ax=None):
    """Heat map of a T x T task-affinity matrix (rows: source task, columns: target task)."""
    import matplotlib.pyplot as plt

    values = matrix.to_numpy(dtype=float)
    if ax is None:
        _, ax = plt.subplots(figsize=(1.6 + 0.9 * len(matrix), 1.2 + 0.9 * len(matrix)))
    # Symmetric colour scale: red = a step on the row task raises the column task's loss.
    bound = np.nanmax(np.abs(values)) if np.isfinite(values).any() else 1.0
    image = ax.imshow(values, cmap="RdBu", vmin=-bound, vmax=bound)
    for i in range(values.shape[0]):
        for j in range(values.shape[1]):
            if np.isfinite(values[i, j]):
                ax.text(j, i, f"{values[i, j]:.2g}", ha="center", va="center", fontsize="small")
    ax.set_xticks(range(len(matrix.columns)), [str(c) for c in matrix.columns], rotation=30)
    ax.set_yticks(range(len(matrix.index)), [str(i) for i in matrix.index])
    ax.set_xlabel("target task j")
    ax.set_ylabel("source task i")
    ax.set_title(f"{model}: lookahead affinity Z(i → j)", fontsize="medium")
    ax.figure.colorbar(image, ax=ax, shrink=0.8)
    return ax
