"""A fitted MultiTaskRecommender on new rows (sklearn_mtl._recommender._predict): fitted checks,
columns, bad data, threads and the predict batch size."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
from conftest import FAST
from sklearn.exceptions import NotFittedError

from sklearn_mtl import MultiTaskRecommender

X_OK = np.random.default_rng(0).normal(size=(50, 3))
Y_OK = np.column_stack([(X_OK[:, 0] > 0).astype(int), X_OK[:, 1]])


def test_bad_data_messages():
    est = MultiTaskRecommender("hard", max_epochs=1)
    with pytest.raises(ValueError, match=r"inconsistent numbers of samples: \[50, 49\]"):
        est.fit(X_OK, Y_OK[:49])
    with pytest.raises(ValueError, match=r"Task 'task_0' has only one class \(1.0\)"):
        est.fit(X_OK, np.column_stack([np.ones(50), Y_OK[:, 1]]))
    with pytest.raises(ValueError, match="Task 'task_1' has no labels"):
        est.fit(X_OK, np.column_stack([Y_OK[:, 0], np.full(50, np.nan)]))
    X_inf = pd.DataFrame(X_OK, columns=["age", "price", "score"])
    X_inf.loc[3, "price"] = np.inf
    with pytest.raises(ValueError, match=r"infinity in column\(s\) \['price'\]"):
        est.fit(X_inf, Y_OK)
    with pytest.raises(ValueError, match="requires y to be passed"):
        est.fit(X_OK, None)
    with pytest.raises(ValueError, match=r"sample_weight.shape == \(3,\), expected \(50,\)"):
        est.fit(X_OK, Y_OK, sample_weight=[1, 2, 3])


def test_predict_checks_fitted_and_feature_count():
    est = MultiTaskRecommender("hard", max_epochs=1)
    with pytest.raises(NotFittedError):
        est.predict(X_OK)
    est.fit(X_OK, Y_OK)
    with pytest.raises(ValueError, match="X has 2 features, but MultiTaskRecommender is expecting 3"):
        est.predict(X_OK[:, :2])
    frame = pd.DataFrame(X_OK, columns=["a", "b", "c"])
    est.fit(frame, Y_OK)
    with pytest.raises(ValueError, match="The feature names should match those that were passed"):
        est.predict(frame.rename(columns={"c": "d"}))


def test_predict_with_renamed_columns_is_scikit_learns_error():
    X = pd.DataFrame({"a": np.arange(20.0), "b": ["u", "v"] * 10})
    model = MultiTaskRecommender("hard", max_epochs=1).fit(X, np.arange(20) % 2)
    with pytest.raises(ValueError, match="The feature names should match those that were passed during fit"):
        model.predict(X.rename(columns={"b": "c"}))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert model.predict(X.to_numpy()).shape == (20,)


def test_predict_from_several_threads_at_once_gives_each_its_own_rows(census_small):
    from concurrent.futures import ThreadPoolExecutor

    X, Y = census_small
    model = MultiTaskRecommender("mmoe", **{**FAST, "max_epochs": 1}, predict_batch_size=64,
                                 random_state=0).fit(X, Y)
    parts = [X.iloc[i : i + 1000] for i in range(0, 4000, 1000)]
    alone = [model.predict_proba(part)[0] for part in parts]
    # The stacked product of the folded copy is per thread: concurrent calls on one model
    # must not read each other's batches.
    with ThreadPoolExecutor(4) as pool:
        together = list(pool.map(lambda part: model.predict_proba(part)[0], parts * 3))
    for i, proba in enumerate(together):
        np.testing.assert_array_equal(proba, alone[i % 4])


def test_predict_batch_size_is_independent_of_training(census_small):
    X, Y = census_small
    X, Y = X.iloc[:1200], Y.iloc[:1200]
    model = MultiTaskRecommender("hard", **{**FAST, "max_epochs": 2}, random_state=0).fit(X, Y)
    reference = model.predict_proba(X)[0]
    for size in (1, 7, 100_000):
        model.set_params(predict_batch_size=size)
        np.testing.assert_allclose(model.predict_proba(X)[0], reference, atol=1e-6)
    model.set_params(predict_batch_size=0)
    with pytest.raises(ValueError, match="predict_batch_size=0 is not valid"):
        model.predict(X)
    with pytest.raises(ValueError, match="predict_batch_size"):
        MultiTaskRecommender(predict_batch_size=-3).fit(X, Y)
