"""Where sharing hurts, on what is served, and one model for all domains: measured on real data.

Three parts, each a ``compare_transfer`` on a real data slice with the features of issue 37:

- ``census``: census-income (KDD), tasks income > 50K and never married, segments by
  education (17 levels, as the data has them) and by age band (0-24, 25-44, 45-64, 65+).
- ``movielens``: MovieLens 100K as click (rating >= 4) and purchase (rating 5, a purchase is a
  click), scored per user (GAUC over ``user_id``); user activity segments (cold / warm / heavy
  users counted on each split's training rows) and the served score pCTR x pCVR, judged per
  user on the purchase label (``FusedScore(["click", "purchase"])``).
- ``clothing``: Women's E-Commerce Clothing Reviews, tasks recommended, rating (regression) and
  helpful (positive feedback >= 1), without the review text; one shared net for all departments
  against one net per department (``PerDomain`` as the reference), compared department by
  department (departments with fewer than 200 rows in the slice are left out, as the CLI does).

Models: the hard-sharing and MMoE nets (``hidden_units=(64, 32)``, ``max_epochs`` small,
Adam 1e-3, batch 256) against the single-task reference of the same settings (per-department
nets for ``clothing``). ``cv=3`` x ``n_repeats=2`` (6 paired splits), model seeds derived per
split from ``--seed``. Each part writes a Markdown table of its segment verdicts and a figure
(``docs/img/where_<part>.png``); the tables are in docs/negative-transfer.md ("Where sharing
hurts"). A part takes a few minutes on 2 loaded cores; ``--quick`` runs a small smoke version.

Run: ``SKLEARN_MTL_DATA=../shared/data .venv/bin/python benchmarks/bench_where.py --part all``
"""

from __future__ import annotations

import argparse
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
IMG = ROOT / "docs" / "img"
OUT = ROOT / "out" / "where"  # the Markdown tables and HTML pages (git ignores out/)


def _net(architecture, seed, epochs, **kw):
    from sklearn_mtl import MultiTaskRecommender

    return MultiTaskRecommender(architecture, max_epochs=epochs, batch_size=256,
                                random_state=seed, **kw)


def _sample(X, Y, n, seed):
    idx = np.random.default_rng(seed).choice(len(X), size=min(n, len(X)), replace=False)
    return X.iloc[idx].reset_index(drop=True), Y.iloc[idx].reset_index(drop=True)


def _age_band(X):
    return pd.cut(X["age"], [-1, 24, 44, 64, 200],
                  labels=["0-24", "25-44", "45-64", "65+"]).astype(str)


def census(args):
    from sklearn_mtl import compare_transfer
    from sklearn_mtl.datasets import fetch_census_income

    X, Y = fetch_census_income(return_X_y=True, download_if_missing=False)
    X, Y = _sample(X, Y, args.rows or 8000, args.seed)
    models = {"hard": _net("hard", args.seed, args.epochs),
              "mmoe": _net("mmoe", args.seed, args.epochs)}
    report = compare_transfer(models, X, Y, cv=3, n_repeats=args.repeats, random_state=args.seed,
                              segments={"education": "education", "age": _age_band})
    return report, f"census, {len(X):,} rows"


def _click_purchase(X, Y):
    rating = Y["rating"].to_numpy()
    return X.drop(columns=["zip_code"]), pd.DataFrame(
        {"click": (rating >= 4).astype(int), "purchase": (rating == 5).astype(int)})


def movielens(args):
    from sklearn_mtl import compare_transfer
    from sklearn_mtl.datasets import fetch_movielens_100k
    from sklearn_mtl.transfer import FusedScore

    X, Y = fetch_movielens_100k(return_X_y=True, download_if_missing=False)
    X, Y = _click_purchase(*_sample(X, Y, args.rows or 12000, args.seed))
    models = {"hard": _net("hard", args.seed, args.epochs),
              "mmoe": _net("mmoe", args.seed, args.epochs)}
    report = compare_transfer(models, X, Y, cv=3, n_repeats=args.repeats, random_state=args.seed,
                              metric="gauc", groups="user_id", segments="user_activity",
                              fused=FusedScore(["click", "purchase"]))
    return report, f"MovieLens 100K, {len(X):,} ratings"


def clothing(args):
    from sklearn_mtl import PerDomain, compare_transfer
    from sklearn_mtl.datasets import fetch_womens_clothing_reviews

    X, Y = fetch_womens_clothing_reviews(return_X_y=True, download_if_missing=False)
    X = X.drop(columns=["title", "review_text"])
    X, Y = _sample(X, Y, args.rows or 8000, args.seed)
    counts = X["department_name"].value_counts()
    keep = X["department_name"].isin(counts.index[counts >= 200]).to_numpy()
    X, Y = X[keep].reset_index(drop=True), Y[keep].reset_index(drop=True)
    shared = _net("hard", args.seed, args.epochs)
    report = compare_transfer({"shared hard": shared}, X, Y, cv=3, n_repeats=args.repeats,
                              random_state=args.seed, segments="department_name",
                              reference=PerDomain(shared, "department_name"))
    return report, f"clothing reviews, {len(X):,} rows, reference: one hard net per department"


PARTS = {"census": census, "movielens": movielens, "clothing": clothing}


def _table(report) -> str:
    table = report.segments().reset_index()
    columns = ["segmentation", "segment", "model", "task", "n_rows", "delta", "ci_low",
               "ci_high", "mde", "verdict"]
    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    for row in table[columns].itertuples(index=False):
        cells = ["n/a" if isinstance(v, float) and not np.isfinite(v) else
                 f"{v:+.3f}" if isinstance(v, float) and c != "n_rows" else
                 f"{v:.0f}" if c == "n_rows" else str(v) for v, c in zip(row, columns)]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--part", choices=[*PARTS, "all"], default="all")
    parser.add_argument("--rows", type=int, default=None)
    parser.add_argument("--epochs", type=int, default=8)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--quick", action="store_true", help="1,500 rows, 1 epoch: a smoke run")
    args = parser.parse_args(argv)
    if args.quick:
        args.rows, args.epochs = 1500, 1
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    OUT.mkdir(parents=True, exist_ok=True)
    for name in PARTS if args.part == "all" else [args.part]:
        start = time.perf_counter()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)  # NaN folds are counted in n_pairs
            report, title = PARTS[name](args)
        seconds = time.perf_counter() - start
        print(f"\n== {name}: {title}, {seconds:.0f} s (seed {args.seed}, {args.epochs} epochs, "
              f"3-fold x {args.repeats})")
        print(report)
        stem = f"where_{name}" + ("_quick" if args.quick else "")
        table = _table(report)
        (OUT / f"{stem}.md").write_text(
            f"{title}; seed {args.seed}, {args.epochs} epochs, 3-fold CV x {args.repeats}, "
            f"{seconds:.0f} s\n\n{report.to_markdown()}\n\n{table}\n", encoding="utf-8")
        if not args.quick:
            ax = report.plot_segments(title=title)
            ax.figure.savefig(IMG / f"{stem}.png", dpi=110, bbox_inches="tight")
            plt.close(ax.figure)
            report.to_html(OUT / f"{stem}.html", title=title)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
