"""Shared fixtures and helpers: the real data in ../shared/data (SKLEARN_MTL_DATA), sliced small.

Every fixture that needs the real data skips the test that asks for it, with the missing path as
the reason, so that a checkout without ../shared/data still runs every other test.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.compose import ColumnTransformer
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import OneHotEncoder, StandardScaler

DATA_HOME = Path(
    os.environ.get("SKLEARN_MTL_DATA", Path(__file__).resolve().parents[1].parent / "shared" / "data")
).resolve()

# A small, quick MultiTaskRecommender configuration for fits on a few thousand rows.
FAST = dict(hidden_units=(16,), tower_units=(8,), n_experts=3, max_epochs=6, batch_size=256, lr=1e-2)
# A tiny net and LightGBM for compare_transfer's cross-validated comparisons.
TINY_NET = dict(hidden_units=(16,), tower_units=(8,), n_experts=2, lr=5e-3, max_epochs=3, random_state=0)
# n_jobs=1: LightGBM's OpenMP threads crawl when the cores are busy with other processes.
TINY_LGBM = dict(n_estimators=20, n_jobs=1, random_state=0, verbose=-1)


def pytest_configure(config):
    """One torch thread for the whole run: the suite's nets are small, where a second intra-op
    thread costs more than it gives (and a test that set it would change every later test)."""
    import torch

    torch.set_num_threads(1)


def _require(path: Path) -> Path:
    if not path.exists():
        pytest.skip(f"real data not found at {path}; set SKLEARN_MTL_DATA to ../shared/data")
    return path


@pytest.fixture(scope="session")
def data_home() -> Path:
    return _require(DATA_HOME)


@pytest.fixture(scope="session")
def census_file(data_home) -> Path:
    """The census test split as UCI ships it (census-income.test.gz)."""
    return _require(data_home / "census-income-kdd" / "census-income.test.gz")


@pytest.fixture(scope="session")
def clothing_file(data_home) -> Path:
    """The Women's E-Commerce Clothing Reviews as the shared folder keeps them (reviews.parquet)."""
    return _require(data_home / "womens-clothing-reviews" / "reviews.parquet")


@pytest.fixture(scope="session")
def census(data_home):
    """The census frame (99,762 rows of the test split): (X DataFrame, Y DataFrame)."""
    from sklearn_mtl.datasets import fetch_census_income

    _require(data_home / "census-income-kdd")
    return fetch_census_income(data_home=data_home, download_if_missing=False, return_X_y=True)


@pytest.fixture(scope="session")
def census_small(census):
    """5,000 random census rows (seed 0)."""
    X, Y = census
    idx = np.random.default_rng(0).choice(len(X), size=5000, replace=False)
    return X.iloc[idx].reset_index(drop=True), Y.iloc[idx].reset_index(drop=True)


@pytest.fixture(scope="session")
def census_1500(census_small):
    """The first 1,500 rows of ``census_small``: enough for cross-validated comparisons."""
    X, Y = census_small
    return X.iloc[:1500].reset_index(drop=True), Y.iloc[:1500].reset_index(drop=True)


@pytest.fixture(scope="session")
def movielens(data_home):
    from sklearn_mtl.datasets import fetch_movielens_100k

    _require(data_home / "ml-100k")
    return fetch_movielens_100k(data_home=data_home, download_if_missing=False, return_X_y=True)


@pytest.fixture(scope="session")
def movielens_12k(movielens):
    """12,000 MovieLens ratings (seed 0): user/item ids as categoricals, liked + rating tasks."""
    X, Y = movielens
    idx = np.random.default_rng(0).choice(len(X), size=12_000, replace=False)
    return X.iloc[idx].reset_index(drop=True), Y.iloc[idx].reset_index(drop=True)


def census_one_hot(X) -> ColumnTransformer:
    """The preprocessing a user writes for the census frame: one-hot + standard scaling."""
    categorical = list(X.select_dtypes(exclude="number").columns)
    numeric = list(X.select_dtypes(include="number").columns)
    return ColumnTransformer(
        [
            ("cat", OneHotEncoder(handle_unknown="ignore", min_frequency=20), categorical),
            ("num", StandardScaler(), numeric),
        ]
    )


def click_purchase_events(movielens, n=2000):
    """An event-log CSV as a user exports it: int64 ids, click = rating >= 4, purchase = 5."""
    X, Y = movielens
    users = X["user_id"].value_counts().index[:60]
    items = X["item_id"].value_counts().index[:150]
    keep = X["user_id"].isin(users) & X["item_id"].isin(items)
    rows = X[keep].sample(n, random_state=0).index
    events = pd.DataFrame({
        "user_id": X.loc[rows, "user_id"].astype(np.int64).to_numpy(),
        "item_id": X.loc[rows, "item_id"].astype(np.int64).to_numpy(),
        "age": X.loc[rows, "age"].to_numpy(),
    })
    labels = pd.DataFrame({"click": (Y.loc[rows, "rating"] >= 4).astype(int).to_numpy(),
                           "purchase": (Y.loc[rows, "rating"] == 5).astype(int).to_numpy()})
    return events, labels


def ctr_split(n=6000, seed=0):
    """``make_ctr_cvr_data`` as a bunch, with train / test row indices (70 / 30)."""
    from sklearn_mtl.datasets import make_ctr_cvr_data

    data = make_ctr_cvr_data(n_samples=n, random_state=seed, return_bunch=True)
    idx_train, idx_test = train_test_split(np.arange(n), test_size=0.3, random_state=seed)
    return data, idx_train, idx_test


def three_tasks(n=4000, seed=0):
    """Three regression tasks on 10 features: ``a`` and ``b`` identical, ``c`` unrelated."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 10))
    a = np.sin(2 * X[:, 0]) + X[:, 1] * X[:, 2] + 0.1 * rng.normal(size=n)
    c = np.cos(2 * X[:, 7]) - X[:, 8] * X[:, 9] + 0.1 * rng.normal(size=n)
    return X, pd.DataFrame({"a": a, "b": a.copy(), "c": c})


def small_net(architecture="hard", **params):
    """A small MultiTaskRecommender (3 epochs, 256-row batches) for the loss-balancing tests."""
    from sklearn_mtl import MultiTaskRecommender

    defaults = dict(hidden_units=(16,), tower_units=(8,), n_experts=2, max_epochs=3,
                    batch_size=256, random_state=0)
    return MultiTaskRecommender(architecture, **{**defaults, **params})


def slow_except(values, keep):
    """Parametrize ``values``: those in ``keep`` run by default, the others only with ``-m slow``."""
    return [v if v in keep else pytest.param(v, marks=pytest.mark.slow) for v in values]


def users_frame(n=120, seed=0):
    """``n`` rows of one feature ``a`` and a ``user`` column (12 users); dwell and click tasks."""
    rng = np.random.default_rng(seed)
    X = pd.DataFrame({"a": rng.normal(size=n), "user": rng.integers(0, 12, n)})
    Y = pd.DataFrame({"dwell": X["a"] + rng.normal(size=n), "click": (X["a"] > 0).astype(int)})
    return X, Y


def lgbm_compare(X, Y, **kwargs):
    """compare_transfer of a ``TINY_LGBM`` PerTaskLGBM against another as the reference."""
    from sklearn_mtl import PerTaskLGBM, compare_transfer

    return compare_transfer({"lgbm": PerTaskLGBM(**TINY_LGBM)}, X, Y,
                            reference=PerTaskLGBM(**TINY_LGBM), **kwargs)
