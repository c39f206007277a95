"""ESMM's point, measured: conversion-rate AUC over all impressions, entire-space vs clicked-only.

On ``make_ctr_cvr_data`` (purchases observed only after a click), per seed: a fresh data set,
a 70/30 split, then

* ``esmm``: ``MultiTaskRecommender("esmm")`` on (click, purchase), the entire-space cascade;
  its pCVR is ``predict_conditional_proba``;
* ``hard + cascade``: a shared bottom with ``cascade={"purchase": "click"}``;
* ``naive``: the same tower trained as one task on the purchase labels of clicked rows only
  (``architecture="single"``), the usual CVR model.

Each pCVR is scored by ROC AUC against the latent conversion of *every* test impression (the
generator's ground truth) and, as the usual offline metric, against purchase on the clicked
test rows only. Writes ``docs/img/esmm_cvr.png`` and prints a Markdown table.

    python benchmarks/bench_esmm.py [--quick] [--seeds 5] [--n-samples 50000]
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import train_test_split

from sklearn_mtl import MultiTaskRecommender
from sklearn_mtl.datasets import make_ctr_cvr_data

LABELS = {"esmm": "ESMM (entire space)", "hard_cascade": "hard + cascade",
          "naive": "naive CVR (clicked rows)"}


def run(seeds, n_samples: int, max_epochs: int) -> pd.DataFrame:
    rows = []
    for seed in seeds:
        data = make_ctr_cvr_data(n_samples=n_samples, random_state=seed, return_bunch=True)
        index = np.arange(n_samples)
        train, test = train_test_split(index, test_size=0.3, random_state=seed)
        X, Y = data.data, data.target
        X_train, Y_train, X_test = X.iloc[train], Y.iloc[train], X.iloc[test]
        conversion = data.conversion[test]
        clicked = Y["click"].to_numpy()[test] == 1
        common = dict(random_state=seed, max_epochs=max_epochs)
        models = {
            "esmm": MultiTaskRecommender("esmm", **common),
            "hard_cascade": MultiTaskRecommender("hard", cascade={"purchase": "click"}, **common),
        }
        for name, model in models.items():
            start = time.perf_counter()
            model.fit(X_train, Y_train)
            seconds = time.perf_counter() - start
            pcvr = model.predict_conditional_proba(X_test)[1][:, 1]
            rows.append(_row(seed, name, pcvr, conversion, clicked, seconds))
        on_click = Y_train["click"].to_numpy() == 1
        naive = MultiTaskRecommender("single", **common)
        start = time.perf_counter()
        naive.fit(X_train[on_click], Y_train["purchase"][on_click].astype(int))
        seconds = time.perf_counter() - start
        pcvr = naive.predict_proba(X_test)[:, 1]
        rows.append(_row(seed, "naive", pcvr, conversion, clicked, seconds))
        print(pd.DataFrame(rows[-3:]).to_string(index=False), flush=True)
    return pd.DataFrame(rows)


def _row(seed, name, pcvr, conversion, clicked, seconds):
    return dict(seed=seed, model=name,
                auc_all=roc_auc_score(conversion, pcvr),
                auc_clicked=roc_auc_score(conversion[clicked], pcvr[clicked]),
                fit_s=seconds)


def table(scores: pd.DataFrame) -> str:
    lines = ["| model | CVR AUC, all impressions | CVR AUC, clicked rows | fit s |",
             "|---|---|---|---|"]
    for name, label in LABELS.items():
        part = scores[scores["model"] == name]
        cells = [
            f"{part[c].mean():.4f} ± {part[c].std(ddof=1) if len(part) > 1 else 0:.4f}"
            for c in ("auc_all", "auc_clicked")
        ]
        lines.append(f"| {label} | {cells[0]} | {cells[1]} | {part['fit_s'].mean():.0f} |")
    wide = scores.pivot(index="seed", columns="model", values="auc_all")
    diff = wide["esmm"] - wide["naive"]
    lines.append("")
    lines.append(f"ESMM − naive over all impressions, per seed: "
                 f"{', '.join(f'{d:+.4f}' for d in diff)} (mean {diff.mean():+.4f})")
    return "\n".join(lines)


def plot(scores: pd.DataFrame, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(9, 3.8), sharey=True)
    for ax, column, title in zip(axes, ("auc_all", "auc_clicked"),
                                 ("all impressions (latent conversion)", "clicked rows only")):
        for i, name in enumerate(LABELS):
            values = scores.loc[scores["model"] == name, column]
            ax.scatter(np.full(len(values), i), values, alpha=0.7)
            ax.errorbar(i + 0.15, values.mean(), yerr=values.std(ddof=1) if len(values) > 1 else 0,
                        fmt="D", color="black", capsize=3)
        ax.set_xticks(range(len(LABELS)), [v.replace(" (", "\n(") for v in LABELS.values()],
                      fontsize=8)
        ax.set_title(f"CVR AUC, {title}", fontsize=9)
        ax.grid(axis="y", alpha=0.3)
    axes[0].set_ylabel("ROC AUC of pCVR")
    fig.suptitle(f"make_ctr_cvr_data, {scores['seed'].nunique()} seeds (dots), mean ± sd",
                 fontsize=10)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    print(f"wrote {path}")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="2 seeds, 5,000 rows, 3 epochs")
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--first-seed", type=int, default=0,
                        help="start at this seed (to split a long run into pieces)")
    parser.add_argument("--n-samples", type=int, default=50000)
    parser.add_argument("--csv", type=Path, default=None,
                        help="append the per-seed scores to this CSV and plot all of it")
    parser.add_argument("--out", type=Path,
                        default=Path(__file__).resolve().parents[1] / "docs/img/esmm_cvr.png")
    args = parser.parse_args(argv)
    seeds, n_samples, epochs = args.seeds, args.n_samples, 20
    if args.quick:
        seeds, n_samples, epochs = 2, 5000, 3
    scores = run(range(args.first_seed, args.first_seed + seeds), n_samples, epochs)
    if args.csv is not None:
        if args.csv.exists():
            scores = pd.concat([pd.read_csv(args.csv), scores], ignore_index=True)
        scores.to_csv(args.csv, index=False)
    print()
    print(table(scores))
    if not args.quick:
        plot(scores, args.out)


if __name__ == "__main__":
    main()
