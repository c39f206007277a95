r"""When does sharing pay? transfer_curve on census, MovieLens 100K and the clothing reviews.

For each data set, a random pool of ``--rows`` rows (seed 0) is split 3-fold (1 repeat, or 2
with ``--repeats 2``); each split's training rows are subsampled to 1/8, 1/4, 1/2 and all of them
(nested, the test rows unchanged), and at each size hard sharing
(``MultiTaskRecommender("hard")``) is compared with the single-task reference
(``architecture="single"``, same settings). The intervals are simultaneous over sizes, models and
tasks at 95 %; the crossover is where the mean gain changes sign, bracketed by the sizes whose
intervals confirm a gain and a loss.

* ``census``: Census-Income (KDD) test file (99,762 rows); income > 50K and never married (AUC).
* ``movielens``: MovieLens 100K; liked (AUC) and rating (R²); ids embedded.
* ``clothing``: Women's E-Commerce Clothing Reviews (23,486), text left out; recommended (AUC),
  rating (R²) and helpful (AUC).

Nets: hidden_units=(64, 32), tower_units=(16,), lr 3e-3, batch 256, at most ``--epochs`` epochs
with early stopping (patience 2), random_state 0 (each split derives its own seeds). The
published runs (docs/negative-transfer.md, 2026-12-06) are the three commands below: 447 s,
29 s and 41 s on a 2-core machine shared with other jobs.

    python benchmarks/bench_when.py --part census --repeats 2 --rows 99762 --epochs 5 \
        --sizes 2000,8000,32000,66508                   # the full split
    python benchmarks/bench_when.py --part movielens --repeats 2 --rows 30000
    python benchmarks/bench_when.py --part clothing --repeats 2 --rows 23486
    python benchmarks/bench_when.py --quick             # a smoke run, all three, ~1 minute

Writes docs/img/when_<part>.png and prints the crossover table and sentences (Markdown).
"""

from __future__ import annotations

import argparse
import datetime
import time
import warnings
from pathlib import Path

import numpy as np

from sklearn_mtl import MultiTaskRecommender, transfer_curve
from sklearn_mtl.datasets import (
    fetch_census_income,
    fetch_movielens_100k,
    fetch_womens_clothing_reviews,
)

PARTS = ("census", "movielens", "clothing")
SIZES = [0.125, 0.25, 0.5, 1.0]
IMG = Path(__file__).resolve().parent.parent / "docs" / "img"


def load(part: str, n_rows: int):
    if part == "census":
        X, Y = fetch_census_income(return_X_y=True)
    elif part == "movielens":
        X, Y = fetch_movielens_100k(return_X_y=True)
    else:
        X, Y = fetch_womens_clothing_reviews(return_X_y=True)
        X = X.drop(columns=["title", "review_text"])  # text needs its own features
    idx = np.random.default_rng(0).choice(len(X), size=min(n_rows, len(X)), replace=False)
    return X.iloc[idx].reset_index(drop=True), Y.iloc[idx].reset_index(drop=True)


def run(part: str, quick: bool, repeats: int, rows: int, epochs: int, sizes: list) -> None:
    X, Y = load(part, 2_000 if quick else rows)
    params = dict(hidden_units=(64, 32), tower_units=(16,), lr=3e-3, batch_size=256,
                  max_epochs=2 if quick else epochs, patience=2, random_state=0)
    start = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # a NaN fold is counted in n_pairs
        curve = transfer_curve({"hard": MultiTaskRecommender("hard", **params)}, X, Y,
                               reference=MultiTaskRecommender("single", **params),
                               train_sizes=SIZES if quick else sizes, cv=3, n_repeats=repeats, random_state=0)
    seconds = time.perf_counter() - start
    today = datetime.date.today().isoformat()
    print(f"\n### {part}: {len(X):,} rows, 3-fold x {repeats}, sizes "
          f"{', '.join(f'{n:,.0f}' for n in curve.n_train.values())} training rows per split "
          f"({seconds:.0f} s, {today}, seed 0)\n")
    table = curve.summary().round({"n_train": 0}).astype({"n_train": int})
    print(table[["n_train", "task", "mean", "reference_mean", "gain", "gain_low", "gain_high",
                 "verdict"]].to_markdown(index=False, floatfmt="+.4f"))
    print()
    print(curve.crossover().to_markdown(index=False, floatfmt=",.0f"))
    print()
    for line in curve.lines():
        print(f"- {line}")
    figure = curve.plot(title=f"{part}: hard sharing against the single-task reference")
    if not quick:
        IMG.mkdir(parents=True, exist_ok=True)
        figure.savefig(IMG / f"when_{part}.png", dpi=110, bbox_inches="tight")
    import matplotlib.pyplot as plt

    plt.close(figure)


def main(argv=None) -> int:
    import matplotlib
    import torch

    matplotlib.use("Agg")
    torch.set_num_threads(1)  # on a shared 2-core box one thread wastes less time waiting
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--part", choices=[*PARTS, "all"], default="all")
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--rows", type=int, default=12_000, help="the pool (default 12,000)")
    parser.add_argument("--epochs", type=int, default=8, help="at most (default 8)")
    parser.add_argument("--sizes", type=lambda t: [int(v) if v.isdigit() else float(v)
                                                   for v in t.split(",")], default=SIZES,
                        help="training rows per split, or fractions (default 0.125,0.25,0.5,1)")
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args(argv)
    for part in PARTS if args.part == "all" else [args.part]:
        run(part, args.quick, args.repeats, args.rows, args.epochs, args.sizes)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
