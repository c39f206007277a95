"""Neural embeddings feeding gradient-boosted trees: ``make_pipeline(MultiTaskRecommender(...),
PerTaskLGBM())``, against both of its parents.

On census (income, never married), MovieLens 100K (liked, rating; user and item ids embedded by
the net, categorical to LightGBM) and the Women's E-Commerce Clothing Reviews (recommended,
rating, helpful; TF-IDF of the text through a ColumnTransformer, a sparse matrix the net reads
batch by batch), ``--rows`` random rows each (seed 0), :func:`sklearn_mtl.compare_transfer` with
``cv=3`` and ``n_repeats=2`` (random_state=0) gives two verdicts per task:

* ``hybrid`` and ``net`` against ``lightgbm`` (``reference=PerTaskLGBM``);
* ``hybrid`` against ``net`` (``reference=`` the net).

The net: MMoE, hidden_units=(32,), tower_units=(8,), 4 experts, up to 30 epochs with early
stopping, random_state=0 (re-seeded per split by compare_transfer). ``transform`` gives
LightGBM each task's gate-weighted mixture of the experts (2 or 3 tasks x 32 columns).
LightGBM: PerTaskLGBM's defaults (400 rounds at 0.05), n_jobs=1. Writes a CSV and a Markdown
table to ``--out``.

    OMP_NUM_THREADS=1 python benchmarks/bench_hybrid.py [--rows 4000] [--quick]
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.compose import ColumnTransformer
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from sklearn_mtl import MultiTaskRecommender, PerTaskLGBM, compare_transfer
from sklearn_mtl.datasets import (
    fetch_census_income,
    fetch_movielens_100k,
    fetch_womens_clothing_reviews,
)

NET = dict(architecture="mmoe", hidden_units=(32,), tower_units=(8,), n_experts=4,
           max_epochs=30, patience=3, random_state=0)
LGBM = dict(n_jobs=1, random_state=0, verbose=-1)
COLUMNS = ["data", "against", "model", "task", "mean", "reference_mean", "delta", "ci_low",
           "ci_high", "mde", "verdict"]


def text_features() -> ColumnTransformer:
    return ColumnTransformer([
        ("review", TfidfVectorizer(max_features=2000, min_df=3), "review_text"),
        ("title", TfidfVectorizer(max_features=500, min_df=3), "title"),
        ("categories", OneHotEncoder(handle_unknown="ignore"),
         ["division_name", "department_name", "class_name"]),
        ("age", StandardScaler(), ["age"]),
    ], sparse_threshold=1.0)


def datasets(rows: int) -> dict:
    """name -> (X, Y, preprocessing step or None)."""
    out = {}
    X, Y = fetch_census_income(return_X_y=True, download_if_missing=False)
    out["census"] = (X, Y, None)
    X, Y = fetch_movielens_100k(return_X_y=True, download_if_missing=False)
    out["movielens-100k"] = (X, Y, None)
    X, Y = fetch_womens_clothing_reviews(return_X_y=True, download_if_missing=False)
    out["clothing-reviews"] = (X.fillna({"title": "", "review_text": ""}), Y, text_features)
    for name, (X, Y, prep) in out.items():
        idx = np.sort(np.random.default_rng(0).choice(len(X), min(rows, len(X)), replace=False))
        out[name] = (X.iloc[idx].reset_index(drop=True), Y.iloc[idx].reset_index(drop=True), prep)
    return out


def with_prep(prep, *steps):
    return make_pipeline(*([prep()] if prep else []), *steps)


def rows_of(report, data: str, against: str) -> pd.DataFrame:
    table = report.summary().reset_index()
    table.insert(0, "against", against)
    table.insert(0, "data", data)
    return table[[c for c in COLUMNS if c in table.columns]]


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=4000)
    parser.add_argument("--out", type=Path, default=Path("out/hybrid"))
    parser.add_argument("--quick", action="store_true", help="1,000 rows, 2 folds, 1 repeat")
    args = parser.parse_args(argv)
    rows, cv, repeats = (1000, 2, 1) if args.quick else (args.rows, 3, 2)
    tables, started = [], time.perf_counter()
    for name, (X, Y, prep) in datasets(rows).items():
        t0 = time.perf_counter()
        net = with_prep(prep, MultiTaskRecommender(**NET))
        hybrid = with_prep(prep, MultiTaskRecommender(**NET), PerTaskLGBM(**LGBM))
        lightgbm = with_prep(prep, PerTaskLGBM(**LGBM))
        common = dict(cv=cv, n_repeats=repeats, random_state=0)
        vs_lgbm = compare_transfer({"hybrid": hybrid, "net": net}, X, Y, reference=lightgbm,
                                   **common)
        vs_net = compare_transfer({"hybrid": hybrid}, X, Y, reference=net, **common)
        tables += [rows_of(vs_lgbm, name, "lightgbm"), rows_of(vs_net, name, "net")]
        print(f"{name} ({len(X)} rows): {time.perf_counter() - t0:.0f} s", flush=True)
        print(pd.concat(tables[-2:]).to_string(index=False), flush=True)
    table = pd.concat(tables, ignore_index=True)
    args.out.mkdir(parents=True, exist_ok=True)
    table.to_csv(args.out / "hybrid.csv", index=False)
    (args.out / "hybrid.md").write_text(table.to_markdown(index=False, floatfmt=".4f"))
    print(f"total {time.perf_counter() - started:.0f} s; written to {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
