"""TransferReport.plot (sklearn_mtl/transfer/_plot.py): the figure's layout."""

from __future__ import annotations

import matplotlib
import matplotlib.pyplot as plt
import pandas as pd

from sklearn_mtl import TransferReport

matplotlib.use("Agg")


def test_the_figure_keeps_title_and_legend_inside_and_off_the_bars():
    rows = []
    for fold in range(6):
        for task in ("ctr", "cvr"):
            for model, shift in (("hard", -0.05), ("mmoe", 0.0), ("reference", 0.0)):
                noise = 0.002 * ((fold * 7) % 5) + (0.003 * ((fold * 3) % 4) if model != "reference"
                                                    else 0.0)
                rows.append(dict(model=model, task=task, fold=fold, score=0.7 + shift + noise))
    report = TransferReport(pd.DataFrame(rows), metric={"ctr": "roc_auc", "cvr": "roc_auc"},
                            n_folds=3, n_repeats=2)
    title = "unrelated tasks (correlation 0.0), one-unit shared bottom, a long setting name"
    ax = report.plot(title=title)
    fig = ax.figure
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    figure_box = fig.bbox
    title_box = ax.title.get_window_extent(renderer)
    legend_box = ax.get_legend().get_window_extent(renderer)
    for box in (title_box, legend_box):  # inside the image, not cut at its edge
        assert figure_box.x0 <= box.x0 and box.x1 <= figure_box.x1
        assert figure_box.y0 <= box.y0 and box.y1 <= figure_box.y1
    assert "\n" in ax.get_title("left") and ax.get_title("left").startswith("unrelated tasks")
    # Beside the axes: no bar and no error bar under the legend.
    assert legend_box.x0 >= ax.get_window_extent(renderer).x1
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    # One entry per model, its ship decision and the tasks that decide it; never a mean.
    assert labels == ["hard: cannot ship (ctr, cvr)", "mmoe: undecided (ctr, cvr)",
                      "negative transfer (a loss that may exceed\nthe margin; 98.75% interval "
                      "below 0)", "−margin: a loss that matters"]
    plt.close(fig)
