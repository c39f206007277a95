"""PerTaskLGBM on a regression target with a large offset (1e9 + y): test R² with and without it.

LightGBM stores labels in float32, whose step at 1e9 is 64: without centring, ``1e9 + y`` (y of
unit scale) collapses to a few values. Data: 5,000 census rows (seed 0), target
``age / 10 + N(0, 1)`` (seed 0), 75/25 split (random_state=0).

    SKLEARN_MTL_DATA=../shared/data python benchmarks/bench_large_offset_target.py
"""

from __future__ import annotations

import numpy as np
from sklearn.metrics import r2_score
from sklearn.model_selection import train_test_split

from sklearn_mtl import PerTaskLGBM
from sklearn_mtl.datasets import fetch_census_income


def main() -> None:
    X, _ = fetch_census_income(return_X_y=True, download_if_missing=False)
    idx = np.random.default_rng(0).choice(len(X), 5000, replace=False)
    X = X.iloc[idx].reset_index(drop=True)
    y = X["age"].to_numpy(float) / 10 + np.random.default_rng(0).normal(size=len(X))
    X_train, X_test, y_train, y_test = train_test_split(X.drop(columns="age"), y, random_state=0)
    for offset in (0.0, 1e9):
        model = PerTaskLGBM(n_estimators=100, n_jobs=1, random_state=0)
        model.fit(X_train, y_train + offset)
        print(f"offset {offset:g}: test R2 {r2_score(y_test + offset, model.predict(X_test)):.4f}")


if __name__ == "__main__":
    main()
