"""Shared fixtures: the real data in ../shared/data (SKLEARN_MTL_DATA), sliced small."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
from sklearn.compose import ColumnTransformer
from sklearn.preprocessing import OneHotEncoder, StandardScaler

DATA_HOME = Path(
    os.environ.get("SKLEARN_MTL_DATA", Path(__file__).resolve().parents[1].parent / "shared" / "data")
).resolve()


def _require(path: Path) -> Path:
    if not path.exists():
        pytest.skip(f"real data not found at {path}; set SKLEARN_MTL_DATA to ../shared/data")
    return path


@pytest.fixture(scope="session")
def data_home() -> Path:
    return _require(DATA_HOME)


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
