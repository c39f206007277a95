"""A TransferCurve in words, as a figure (matplotlib, imported only when drawing) and as one
self-contained HTML page."""

from __future__ import annotations

import datetime
from pathlib import Path

import numpy as np

from ._text import _unit


def _rows(x: float) -> str:
    return f"{x:,.0f}"


def crossover_lines(curve) -> list[str]:
    """One sentence per (model, task) of :meth:`TransferCurve.crossover`."""
    level = f"{1 - curve.alpha:.0%}"
    lines = []
    for row in curve.crossover().itertuples(index=False):
        unit = _unit(curve.metric[row.task])
        head = f"{row.model} on {row.task} ({unit})"
        if row.kind in ("pays at every size", "hurts at every size"):
            part = curve.summary()
            part = part[(part["model"] == row.model) & (part["task"] == row.task)]
            sure = (part["gain_low"] > 0).sum() if row.kind.startswith("pays") else (
                part["gain_high"] < 0).sum()
            word = "gain" if row.kind.startswith("pays") else "loss"
            lines.append(f"{head}: a mean {word} at every size measured, no crossover between "
                         f"{_rows(part['n_train'].min())} and {_rows(part['n_train'].max())} "
                         f"training rows; its interval confirms the {word} at {sure} of "
                         f"{len(part)} sizes.")
            continue
        gain, loss = ("a gain", "a loss") if row.kind == "stops paying" else ("a loss", "a gain")
        said = f"{head}: sharing {row.kind} at about {_rows(row.crossover)} training rows"
        before = (f"{gain} is confirmed at {_rows(row.low)} rows" if np.isfinite(row.low)
                  else f"no smaller size confirms {gain}")
        after = (f"{loss} at {_rows(row.high)} rows" if np.isfinite(row.high)
                 else f"no larger size confirms {loss}")
        located = np.isfinite(row.low) and np.isfinite(row.high)
        tail = (f"so it lies between {_rows(row.low)} and {_rows(row.high)} rows (intervals "
                f"simultaneous at {level} over the curve)" if located
                else "so it is not located with confidence")
        changes = (f"; the mean changes sign {row.n_sign_changes} times"
                   if row.n_sign_changes > 1 else "")
        lines.append(f"{said}; {before}, {after}: {tail}{changes}.")
    return lines


def plot_curve(curve, title=None):
    """Scores with ±1 std bands (top row) and gains with simultaneous bands (bottom), per task."""
    import matplotlib.pyplot as plt

    table = curve.summary()
    tasks = list(curve.metric)
    fig, axes = plt.subplots(2, len(tasks), figsize=(4.2 * len(tasks) + 1.2, 6.4),
                             squeeze=False, sharex=True, layout="constrained")
    colours = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    models = list(dict.fromkeys(table["model"]))
    crossings = curve.crossover().set_index(["model", "task"])
    for j, task in enumerate(tasks):
        top, bottom = axes[0, j], axes[1, j]
        part = table[table["task"] == task]
        ref = part.drop_duplicates("train_size")
        x = ref["n_train"].to_numpy(float)
        top.plot(x, ref["reference_mean"], color="black", marker="o", label="reference")
        top.fill_between(x, ref["reference_mean"] - ref["reference_std"],
                         ref["reference_mean"] + ref["reference_std"], color="black", alpha=0.12)
        for k, model in enumerate(models):
            mine = part[part["model"] == model]
            colour = colours[k % len(colours)]
            top.plot(x, mine["mean"], color=colour, marker="o", label=str(model))
            top.fill_between(x, mine["mean"] - mine["std"], mine["mean"] + mine["std"],
                             color=colour, alpha=0.15)
            bottom.plot(x, mine["gain"], color=colour, marker="o", label=str(model))
            bottom.fill_between(x, mine["gain_low"], mine["gain_high"], color=colour, alpha=0.15)
            cross = crossings.loc[(model, task)]
            if np.isfinite(cross["crossover"]):
                bottom.axvline(cross["crossover"], color=colour, linestyle="--", linewidth=1)
                low = cross["low"] if np.isfinite(cross["low"]) else x.min()
                high = cross["high"] if np.isfinite(cross["high"]) else x.max()
                bottom.axvspan(low, high, color=colour, alpha=0.06)
        bottom.axhline(0, color="grey", linewidth=1)
        top.set_title(str(task), loc="left", fontsize="medium")
        top.set_ylabel(f"{_unit(curve.metric[task])} (mean ± 1 std)")
        bottom.set_ylabel("gain over the reference")
        bottom.set_xlabel("training rows per split")
        for ax in (top, bottom):
            ax.set_xscale("log")
            # The sizes themselves as ticks, written as row counts (log ticks overlap).
            ax.set_xticks(x, [_rows(v) for v in x])
            ax.minorticks_off()
            ax.grid(alpha=0.3)
    axes[0, -1].legend(fontsize="small", loc="best")
    fig.suptitle(title or "When does sharing pay? Learning curves against the reference",
                 x=0.01, ha="left", fontsize="medium")
    fig.text(0.01, -0.02, f"Bottom bands: intervals simultaneous at {1 - curve.alpha:.0%} over "
             "every size, model and task; dashed: the crossover, shaded: its bracket.",
             fontsize="small", color="dimgrey")
    return fig


def render_curve_html(curve, path, *, title=None, settings=None) -> Path:
    """One HTML page (no script, figures inline) with the curve's sentences, tables and figure."""
    from ._html import _POLICY, _STYLE, _e, _figure, _pairs, _table, _versions

    crossing = curve.crossover()
    table = curve.summary()
    # Row counts as row counts, not as four-decimal scores.
    for column in ("crossover", "low", "high"):
        crossing[column] = [_rows(v) if np.isfinite(v) else "n/a" for v in crossing[column]]
    table["n_train"] = [_rows(v) for v in table["n_train"]]
    table["train_size"] = table["train_size"].astype(str)
    heading = "When does sharing pay?" + ("" if title is None else f" {title}")
    written = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    first = next(iter(curve.reports.values()))
    protocol = (f"{first.n_folds}-fold cross-validation × {first.n_repeats} repeats, the same "
                f"splits and test rows at every size; each split's training rows subsampled to "
                f"{', '.join(_rows(n) for n in curve.n_train.values())} rows (nested). Intervals "
                f"simultaneous at {1 - curve.alpha:.0%} over every size, model and task.")
    body = [
        f"<h1>{_e(heading)}</h1>",
        f'<p class="protocol">{_e(protocol)}</p>',
        "<h2>Where sharing stops paying</h2>",
        '<ul class="verdicts">' + "".join(f"<li>{_e(line)}</li>" for line in curve.lines())
        + "</ul>",
        _table(crossing, list(crossing.columns), "crossover"),
        "<h2>Learning curves</h2>",
        _figure(plot_curve(curve, title=title).axes[0], "learning curves per task",
                "Top: mean score over the splits ±1 std. Bottom: the gain of each model over "
                "the reference (oriented: positive means sharing pays) with its simultaneous "
                "interval."),
        "<h2>Per size</h2>",
        _table(table, [c for c in table.columns if c not in ("gain_low", "gain_high")],
               "summary"),
        "<h2>Settings</h2>",
        _pairs([*(settings or {}).items(), ("alpha (whole curve)", curve.alpha)], "settings"),
        "<h2>Versions</h2>",
        _pairs(_versions(), "versions"),
        f"<footer>Written by sklearn-mtl on {written}; one file, no script, nothing loaded "
        "from elsewhere.</footer>",
    ]
    page = ('<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
            f'<meta http-equiv="Content-Security-Policy" content="{_POLICY}">\n'
            '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
            f"<title>{_e(heading)}</title>\n<style>{_STYLE}</style>\n</head>\n<body>\n"
            + "\n".join(body) + "\n</body>\n</html>\n")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(page, encoding="utf-8")
    return path
