"""PerTaskLGBM on MovieLens 100K with integer ids: ids as numbers against ids as categories.

The nets embed ``user_id`` / ``item_id`` by the id-name rule; ``PerTaskLGBM(categorical_features=
"auto")`` gives them to LightGBM as categorical features the same way, ``None`` leaves them numbers
(an arbitrary order the trees can only cut into ranges). The ids are made int64, as in an event
log, and everything else is the fetcher's. Three random 80/20 splits (seeds 0-2), LightGBM at the
package defaults with one thread; test ROC AUC of ``liked`` and R² of ``rating``, mean ± std.
Then the case where categories lose: few rows per id (3,000 rows, 300 users with a random effect
each, about 7 rows a user), where LightGBM's ``min_data_per_group=100`` merges most ids.

    python benchmarks/bench_lgbm_ids.py [--quick] [--seeds 3]
"""

from __future__ import annotations

import argparse
import os
import time

import numpy as np
import pandas as pd
from sklearn.model_selection import train_test_split

from sklearn_mtl import PerTaskLGBM
from sklearn_mtl.datasets import fetch_movielens_100k
from sklearn_mtl.metrics import per_task_scores

SETTINGS = {"ids as numbers": None, "ids as categories": "auto"}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="20,000 rows, one split (CI)")
    parser.add_argument("--seeds", type=int, default=3)
    args = parser.parse_args(argv)
    X, Y = fetch_movielens_100k(data_home=os.environ.get("SKLEARN_MTL_DATA"),
                                download_if_missing=False, return_X_y=True)
    X = X.assign(user_id=X["user_id"].astype(np.int64), item_id=X["item_id"].astype(np.int64))
    seeds = range(1 if args.quick else args.seeds)
    if args.quick:
        X, Y = X.iloc[:20_000], Y.iloc[:20_000]
    rows = []
    for seed in seeds:
        X_tr, X_te, Y_tr, Y_te = train_test_split(X, Y, test_size=0.2, random_state=seed)
        for name, categorical in SETTINGS.items():
            start = time.perf_counter()
            model = PerTaskLGBM(categorical_features=categorical, n_jobs=1, random_state=seed)
            model.fit(X_tr, Y_tr)
            scores = per_task_scores(model, X_te, Y_te)
            rows.append(dict(setting=name, seed=seed, seconds=time.perf_counter() - start,
                             categorical=",".join(map(str, model.categorical_features_)), **scores))
            print(rows[-1], flush=True)
    frame = pd.DataFrame(rows)
    table = frame.groupby("setting", sort=False).agg(
        liked_auc=("liked", "mean"), liked_std=("liked", "std"), rating_r2=("rating", "mean"),
        rating_std=("rating", "std"), fit_s=("seconds", "mean"))
    print(f"\nMovieLens 100K, {len(X):,} rows, 80/20 splits, seeds {list(seeds)}:")
    print("| setting | liked ROC AUC | rating R² | fit + score (s) |\n|---|---|---|---|")
    for name, r in table.iterrows():
        print(f"| {name} | {r.liked_auc:.4f} ± {0 if np.isnan(r.liked_std) else r.liked_std:.4f} | "
              f"{r.rating_r2:.4f} ± {0 if np.isnan(r.rating_std) else r.rating_std:.4f} | "
              f"{r.fit_s:.1f} |")
    few_rows_per_id(seeds)
    return 0


def few_rows_per_id(seeds) -> None:
    rows = []
    for seed in seeds:
        rng = np.random.default_rng(seed)
        n, users = 3000, 300
        X = pd.DataFrame({"user_id": rng.integers(0, users, n), "x": rng.normal(size=n)})
        y = pd.Series((rng.normal(size=users)[X["user_id"]] + 0.3 * X["x"] > 0).astype(int),
                      name="click")
        for name, categorical in SETTINGS.items():
            model = PerTaskLGBM(n_estimators=50, categorical_features=categorical, n_jobs=1,
                                random_state=seed).fit(X[:2000], y[:2000])
            rows.append(dict(setting=name, auc=model.score(X[2000:], y[2000:])))
    frame = pd.DataFrame(rows).groupby("setting", sort=False)["auc"].agg(["mean", "std"])
    print(f"\nFew rows per id (3,000 rows, 300 users, 2,000 train), seeds {list(seeds)}:")
    print("| setting | click ROC AUC |\n|---|---|")
    for name, r in frame.iterrows():
        print(f"| {name} | {r['mean']:.4f} ± {0 if np.isnan(r['std']) else r['std']:.4f} |")


if __name__ == "__main__":
    raise SystemExit(main())
