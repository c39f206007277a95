"""Fit time of PerTaskLGBM against MultiOutputClassifier(LGBMClassifier) on the census tasks.

Both fit the same two LightGBM classifiers with the same parameters on the same raw census frame
(text columns as pandas categoricals), one after the other in the same process, alternating, so
the ratio measures PerTaskLGBM's own overhead: X validation, re-coding the categoricals against
the fit-time categories, and per-task row selection.

Run from the project root::

    SKLEARN_MTL_DATA=../shared/data .venv/bin/python benchmarks/bench_baseline_speed.py \\
        --n-rows 50000 --repeats 3
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import time
from pathlib import Path

import lightgbm as lgb
import numpy as np
import pandas as pd
import sklearn
from sklearn.multioutput import MultiOutputClassifier

from sklearn_mtl import PerTaskLGBM
from sklearn_mtl.datasets._census import COLUMNS as CENSUS_COLUMNS  # UCI's column order

OWN_PARAMS = ("tasks", "per_task_params", "validation_fraction", "early_stopping_rounds")


def load_census(n_rows: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The first ``n_rows`` rows of the census test split: X with category columns, two tasks."""
    home = Path(os.environ.get("SKLEARN_MTL_DATA", Path(__file__).parents[1] / ".." / "shared"
                               / "data"))
    raw = pd.read_csv(home / "census-income-kdd" / "census-income.test.gz", header=None,
                      names=CENSUS_COLUMNS, sep=",", skipinitialspace=True, nrows=n_rows)
    Y = pd.DataFrame({
        "income": (raw["income"] == "50000+.").astype(int),
        "never_married": (raw["marital stat"] == "Never married").astype(int),
    })
    X = raw.drop(columns=["income", "marital stat", "instance weight"])
    text = X.select_dtypes(exclude="number").columns
    X[text] = X[text].astype("category")
    return X, Y


def timed_fit(model, X, Y) -> float:
    start = time.perf_counter()
    model.fit(X, Y)
    return time.perf_counter() - start


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n-rows", type=int, default=50000)
    parser.add_argument("--n-estimators", type=int, default=400)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--n-jobs", type=int, default=1)
    parser.add_argument("--quick", action="store_true", help="5,000 rows, 50 trees, 1 repeat")
    args = parser.parse_args(argv)
    if args.quick:
        args.n_rows, args.n_estimators, args.repeats = 5000, 50, 1

    X, Y = load_census(args.n_rows)
    per_task = PerTaskLGBM(n_estimators=args.n_estimators, n_jobs=args.n_jobs, random_state=0)
    lgbm_params = {k: v for k, v in per_task.get_params().items() if k not in OWN_PARAMS}
    multi = MultiOutputClassifier(lgb.LGBMClassifier(**lgbm_params))

    # One untimed fit each: the first LightGBM call in a process pays for thread-pool start-up.
    timed_fit(per_task, X, Y)
    timed_fit(multi, X, Y)
    times = {"PerTaskLGBM": [], "MultiOutputClassifier": []}
    for _ in range(args.repeats):
        times["PerTaskLGBM"].append(timed_fit(per_task, X, Y))
        times["MultiOutputClassifier"].append(timed_fit(multi, X, Y))
    ratios = [a / b for a, b in zip(times["PerTaskLGBM"], times["MultiOutputClassifier"])]

    # Same models, so the same probabilities: the timing compares like with like.
    proba_a = per_task.predict_proba(X)
    proba_b = multi.predict_proba(X)
    max_diff = max(float(np.abs(a - b).max()) for a, b in zip(proba_a, proba_b))
    start = time.perf_counter()
    per_task._validate_X(X, reset=False)
    encode_s = time.perf_counter() - start

    print(f"census: {X.shape[0]} rows x {X.shape[1]} columns, 2 tasks; n_estimators="
          f"{args.n_estimators}, n_jobs={args.n_jobs}; {args.repeats} alternating runs")
    print(f"python {platform.python_version()}, lightgbm {lgb.__version__}, scikit-learn "
          f"{sklearn.__version__}, pandas {pd.__version__}, {os.cpu_count()} CPUs")
    print("| estimator | fit times (s) | median (s) |")
    print("|---|---|---|")
    for name, values in times.items():
        print(f"| {name} | {', '.join(f'{v:.2f}' for v in values)} | "
              f"{statistics.median(values):.2f} |")
    print(f"median ratio PerTaskLGBM / MultiOutputClassifier: {statistics.median(ratios):.3f}x "
          f"(runs: {', '.join(f'{r:.3f}' for r in ratios)})")
    print(f"X encoding per call: {encode_s * 1000:.0f} ms; max |proba difference|: {max_diff:.2e}")


if __name__ == "__main__":
    main()
