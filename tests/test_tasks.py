"""Recommender inputs: raw DataFrames with ids, missing labels, mixed task kinds, task weighting."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
from sklearn.model_selection import train_test_split

from sklearn_mtl import MultiTaskRecommender
from sklearn_mtl.features import FeatureEncoder, auto_embedding_dim
from sklearn_mtl.metrics import per_task_scores

ARCHITECTURES = ["hard", "soft", "mmoe", "single"]


@pytest.fixture(scope="module")
def ratings(movielens):
    """12,000 MovieLens ratings (seed 0): user/item ids as categoricals, liked + rating tasks."""
    X, Y = movielens
    idx = np.random.default_rng(0).choice(len(X), size=12_000, replace=False)
    return X.iloc[idx].reset_index(drop=True), Y.iloc[idx].reset_index(drop=True)


@pytest.mark.parametrize("architecture", ARCHITECTURES)
def test_movielens_frame_with_ids_straight_into_fit(ratings, architecture):
    X, Y = ratings
    X_train, X_test, Y_train, Y_test = train_test_split(X, Y, test_size=0.2, random_state=0)
    model = MultiTaskRecommender(
        architecture, tasks=["binary", "regression"], lr=5e-3, max_epochs=6, random_state=0,
        hidden_units=(32,), tower_units=(8,),
    ).fit(X_train, Y_train)
    assert list(model.feature_names_in_) == list(X.columns)
    assert model.task_names_ == ["liked", "rating"]
    enc = model._features
    assert {"user_id", "item_id", "gender", "occupation", "zip_code"} <= set(enc.categorical_columns_)
    users = X_train["user_id"].nunique()
    assert enc.cardinalities_[enc.categorical_columns_.index("user_id")] == users + 1
    pred = model.predict(X_test)
    # The rating is predicted on the 1-5 scale (the loss saw it standardized).
    assert 2.5 < pred[:, 1].mean() < 4.5
    scores = per_task_scores(model, X_test, Y_test, metric={"rating": "rmse"})
    assert scores["liked"] > 0.62  # chance is 0.5; 9,600 rows leave most ids rare
    assert scores["rating"] < 1.1


def test_census_raw_frame_straight_into_fit(census_small):
    X, Y = census_small
    assert X.select_dtypes(exclude="number").shape[1] > 20  # category columns, no preprocessing
    X_train, X_test, Y_train, Y_test = train_test_split(X, Y, test_size=0.3, random_state=0)
    model = MultiTaskRecommender("mmoe", lr=5e-3, max_epochs=10, random_state=0).fit(X_train, Y_train)
    scores = per_task_scores(model, X_test, Y_test)
    assert scores["income"] > 0.85 and scores["never_married"] > 0.95


def test_missing_labels_are_masked(census_small):
    X, Y = census_small
    Y = Y.astype(float)
    rng = np.random.default_rng(1)
    hidden = rng.random(len(Y)) < 0.35
    Y_missing = Y.copy()
    Y_missing.loc[hidden, "income"] = np.nan
    model = MultiTaskRecommender("hard", lr=5e-3, max_epochs=5, random_state=0).fit(X, Y_missing)
    # Scored on the hidden labels, which the model never saw: it still ranks them.
    scores = per_task_scores(model, X[hidden], Y[hidden])
    assert scores["income"] > 0.85
    # Scoring skips rows whose label is missing instead of failing.
    assert np.isfinite(model.score(X, Y_missing))


def test_rows_without_any_label_warn():
    X = np.random.default_rng(0).normal(size=(200, 3))
    Y = np.column_stack([(X[:, 0] > 0).astype(float), X[:, 1]])
    Y[:7] = np.nan
    with pytest.warns(UserWarning, match="7 of 200 rows have no label for any task"):
        MultiTaskRecommender("hard", max_epochs=1).fit(X, Y)


def test_unseen_ids_and_categories_at_predict_use_the_unknown_bucket(ratings):
    X, Y = ratings
    model = MultiTaskRecommender("hard", tasks=["binary", "regression"], max_epochs=2, random_state=0)
    model.fit(X.iloc[:5000], Y.iloc[:5000])
    new = X.iloc[:50].copy()
    new["user_id"] = pd.Categorical([10**6] * 50)  # an id never seen in fit (ids are ints)
    new["occupation"] = "astronaut"
    new["zip_code"] = pd.Categorical([None] * 50)
    pred = model.predict(new)
    assert pred.shape == (50, 2) and np.all(np.isfinite(pred.astype(float)))
    x_num, x_cat = model._features.transform(new)
    j = model._features.categorical_columns_.index("user_id")
    assert np.all(x_cat[:, j] == 0)


def test_min_frequency_sends_rare_categories_to_unknown():
    X = pd.DataFrame({"item": ["a"] * 50 + ["b"] * 3 + ["c"] * 47, "x": np.arange(100.0)})
    enc = FeatureEncoder(min_frequency=5).fit(X)
    _, codes = enc.transform(pd.DataFrame({"item": ["a", "b", "c", "zzz"], "x": [1.0] * 4}))
    assert codes[:, 0].tolist()[1] == 0 and codes[:, 0].tolist()[3] == 0
    assert codes[0, 0] != 0 and codes[2, 0] != 0
    assert enc.cardinalities_ == [3]


def test_nan_is_a_category_and_numeric_nan_is_imputed_with_indicator():
    X = pd.DataFrame(
        {
            "price": [1.0, np.nan, 3.0, 5.0],
            "clicks": [1.0, 2.0, 3.0, 4.0],
            "city": pd.Series(["a", None, "b", "a"], dtype="str"),
        }
    )
    enc = FeatureEncoder().fit(X)
    assert enc.indicator_columns_ == ["price"]
    x_num, x_cat = enc.transform(X)
    assert x_num.shape == (4, 3)  # two scaled columns + one missing indicator
    assert x_num[:, 2].tolist() == [0.0, 1.0, 0.0, 0.0]
    # Imputed with the training median (3.0), then standardized like the rest.
    assert x_num[1, 0] == pytest.approx((3.0 - enc.mean_[0]) / enc.scale_[0])
    assert x_cat[1, 0] not in (0, x_cat[0, 0], x_cat[2, 0])  # NaN: its own category
    # NaN at predict in a column that had none in fit: imputed, no indicator column appears.
    x_num, _ = enc.transform(X.assign(clicks=[np.nan, 2.0, 3.0, 4.0]))
    assert x_num.shape == (4, 3) and np.isfinite(x_num).all()


def test_numeric_nan_in_x_fits_and_predicts(census_small):
    X, Y = census_small
    X = X.copy()
    X.loc[X.sample(frac=0.2, random_state=0).index, "age"] = np.nan
    model = MultiTaskRecommender("hard", max_epochs=2, random_state=0).fit(X, Y)
    assert "age" in model._features.indicator_columns_
    assert np.isfinite(model.predict_proba(X)[0]).all()


def test_integer_ids_named_in_categorical_features_are_embedded():
    rng = np.random.default_rng(0)
    X = pd.DataFrame({"user": rng.integers(0, 40, 800), "x": rng.normal(size=800)})
    effect = rng.normal(size=40)
    y = (effect[X["user"]] + 0.3 * X["x"] > 0).astype(int)
    model = MultiTaskRecommender(
        "hard", categorical_features=["user"], lr=1e-2, max_epochs=30, random_state=0
    ).fit(X, y)
    assert model._features.categorical_columns_ == ["user"]
    assert model._features.embedding_dims_ == [auto_embedding_dim(41)]
    assert model.score(X, y) > 0.9
    fixed = MultiTaskRecommender("hard", categorical_features=["user"], embedding_dim=3, max_epochs=1)
    assert fixed.fit(X, y)._features.embedding_dims_ == [3]


def test_auto_embedding_dim_rule():
    assert auto_embedding_dim(2) == 2
    assert auto_embedding_dim(10) == 6
    assert auto_embedding_dim(944) == 50  # capped


@pytest.mark.parametrize("architecture", ARCHITECTURES)
def test_mixed_binary_regression_multiclass_in_one_model(architecture):
    rng = np.random.default_rng(0)
    X = pd.DataFrame({"a": rng.normal(size=1500), "b": rng.normal(size=1500),
                      "cat": rng.choice(["x", "y", "z"], size=1500)})
    Y = pd.DataFrame({
        "click": (X["a"] > 0).astype(int),
        "dwell_seconds": 300 + 100 * X["b"] + (X["cat"] == "x") * 50,
        "category": np.select([X["b"] < -0.5, X["b"] > 0.5], ["low", "high"], "mid"),
    })
    model = MultiTaskRecommender(architecture, lr=1e-2, max_epochs=20, random_state=0).fit(X, Y)
    assert model.tasks_ == ["binary", "regression", "multiclass"]
    assert model.classes_[1] is None and model.classes_[2].tolist() == ["high", "low", "mid"]
    scores = per_task_scores(model, X, Y)
    assert scores["click"] > 0.95 and scores["dwell_seconds"] > 0.8 and scores["category"] > 0.8
    pred = model.predict(X)
    # Regression comes back on its own scale: seconds, not standard deviations.
    assert abs(pred[:, 1].astype(float).mean() - Y["dwell_seconds"].mean()) < 30


def test_uncertainty_weighting_learns_finite_weights():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(1000, 4))
    Y = np.column_stack([(X[:, 0] > 0).astype(float), X[:, 1] + 2.0 * rng.normal(size=1000)])
    model = MultiTaskRecommender(
        "hard", task_weights="uncertainty", lr=1e-2, max_epochs=30, early_stopping=False,
        random_state=0,
    ).fit(X, Y)
    w = model.task_weights_
    assert w.shape == (2,) and np.all(np.isfinite(w)) and np.all(w > 0)
    assert not np.allclose(w, [1.0, 0.5])  # moved from the initial exp(0) * factor
    # The noisy regression task is trusted less than the clean classification task.
    assert w[1] < w[0]
    static = MultiTaskRecommender("hard", task_weights=[2.0, 0.5], max_epochs=1).fit(X, Y)
    np.testing.assert_allclose(static.task_weights_, [2.0, 0.5])


def test_sample_weight_changes_the_fit():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(600, 3))
    y = (X[:, 0] + 0.5 * rng.normal(size=600) > 0).astype(int)
    params = dict(architecture="hard", max_epochs=5, random_state=0)
    plain = MultiTaskRecommender(**params).fit(X, y).predict_proba(X)
    ones = MultiTaskRecommender(**params).fit(X, y, sample_weight=np.ones(600)).predict_proba(X)
    np.testing.assert_allclose(plain, ones, rtol=1e-5, atol=1e-6)
    w = np.where(X[:, 1] > 0, 5.0, 0.2)
    weighted = MultiTaskRecommender(**params).fit(X, y, sample_weight=w).predict_proba(X)
    assert np.abs(weighted - plain).max() > 1e-3


def test_bad_inputs_name_the_task_or_column():
    X = pd.DataFrame({"a": np.arange(20.0), "b": ["u", "v"] * 10})
    with pytest.raises(ValueError, match=r"Task 'liked' has only one class \(1.0\) among its 12 labelled"):
        Y = pd.DataFrame({"liked": [1] * 12 + [None] * 8, "rating": np.arange(20.0)})
        MultiTaskRecommender(max_epochs=1).fit(X, Y)
    with pytest.raises(ValueError, match="Task 'rating' is a regression task but its values are not numeric"):
        Y = pd.DataFrame({"rating": ["good", "bad"] * 10})
        MultiTaskRecommender(tasks=["regression"], max_epochs=1).fit(X, Y)
    with pytest.raises(ValueError, match="Task 'genre' is declared binary but has 3 classes"):
        genre = pd.DataFrame({"genre": list("abc") * 6 + ["a", "b"]})
        MultiTaskRecommender(tasks="binary", max_epochs=1).fit(X, genre)
    with pytest.raises(ValueError, match=r"categorical_features names 'user_id', which is not a column"):
        MultiTaskRecommender(categorical_features=["user_id"], max_epochs=1).fit(X, np.arange(20) % 2)
    with pytest.raises(ValueError, match=r"min_frequency=-1 is not valid"):
        MultiTaskRecommender(min_frequency=-1, max_epochs=1).fit(X, np.arange(20) % 2)
    with pytest.raises(ValueError, match=r"tasks names \['click'\] that are not columns of Y"):
        buy = pd.DataFrame({"buy": np.arange(20) % 2})
        MultiTaskRecommender(tasks={"click": "binary"}, max_epochs=1).fit(X, buy)
    with pytest.raises(ValueError, match="Y has duplicate task names"):
        MultiTaskRecommender(max_epochs=1).fit(X, pd.DataFrame([[0, 1]] * 20, columns=["t", "t"]))


def test_predict_with_renamed_columns_is_scikit_learns_error():
    X = pd.DataFrame({"a": np.arange(20.0), "b": ["u", "v"] * 10})
    model = MultiTaskRecommender("hard", max_epochs=1).fit(X, np.arange(20) % 2)
    with pytest.raises(ValueError, match="The feature names should match those that were passed during fit"):
        model.predict(X.rename(columns={"b": "c"}))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert model.predict(X.to_numpy()).shape == (20,)
