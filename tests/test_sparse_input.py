"""Sparse X reaches the net sparse and is densified batch by batch: the clothing reviews' text
through a TF-IDF ColumnTransformer, as a user writes it."""

from __future__ import annotations

import tracemalloc

import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.compose import ColumnTransformer
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from sklearn_mtl import MultiTaskRecommender
from sklearn_mtl.metrics import per_task_scores

NET = dict(hidden_units=(8,), tower_units=(4,), n_experts=2, max_epochs=2, batch_size=128,
           random_state=0)


@pytest.fixture(scope="module")
def reviews(data_home, clothing_file):
    """3,000 reviews (seed 0) with the text fields and the three tasks."""
    from sklearn_mtl.datasets import fetch_womens_clothing_reviews

    X, Y = fetch_womens_clothing_reviews(data_home=data_home, download_if_missing=False,
                                         return_X_y=True)
    idx = np.sort(np.random.default_rng(0).choice(len(X), 3000, replace=False))
    return X.iloc[idx].reset_index(drop=True), Y.iloc[idx].reset_index(drop=True)


def text_columns(max_features=None, ngram_range=(1, 1)) -> ColumnTransformer:
    return ColumnTransformer([
        ("review", TfidfVectorizer(max_features=max_features, ngram_range=ngram_range),
         "review_text"),
        ("title", TfidfVectorizer(), "title"),
        ("department", OneHotEncoder(handle_unknown="ignore"), ["department_name"]),
        ("age", StandardScaler(), ["age"]),
    ], sparse_threshold=1.0)


def _filled(X):
    return X.fillna({"review_text": "", "title": ""})


def test_tfidf_pipeline_trains_on_the_reviews(reviews):
    X, Y = reviews
    X = _filled(X)
    features = text_columns(max_features=5000).fit(X.iloc[:2400])
    assert sp.issparse(features.transform(X.iloc[:5]))
    model = make_pipeline(text_columns(max_features=5000), MultiTaskRecommender("mmoe", **NET))
    model.fit(X.iloc[:2400], Y.iloc[:2400])
    # The text says whether a reviewer recommends the item: held-out AUC well above chance.
    scores = per_task_scores(model, X.iloc[2400:], Y.iloc[2400:])
    assert scores["recommended"] > 0.75


def test_sparse_input_is_never_densified_whole(reviews):
    X, Y = reviews
    Z = text_columns().fit_transform(_filled(X))  # every word: ~7,000 columns
    assert sp.issparse(Z) and Z.shape[1] > 5_000
    dense_bytes = Z.shape[0] * Z.shape[1] * 4  # float32, the net's input precision
    # A batch of 256 rows, densified in float64 and scaled into float32, is ~1/8 of that.
    model = MultiTaskRecommender("hard", predict_batch_size=256, **NET)
    tracemalloc.start()
    try:
        model.fit(Z, Y)
        model.predict(Z)
        model.transform(Z)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < dense_bytes / 4, (peak, dense_bytes)


def test_sparse_and_dense_input_give_the_same_model(reviews):
    X, Y = reviews
    Z = text_columns(max_features=300).fit_transform(_filled(X))[:800]
    Y = Y.iloc[:800]
    sparse = MultiTaskRecommender("hard", **NET).fit(Z, Y)
    dense = MultiTaskRecommender("hard", **NET).fit(Z.toarray(), Y)
    np.testing.assert_allclose(sparse.predict_proba(Z[:200])[0], dense.predict_proba(Z[:200])[0],
                               atol=1e-4)
    np.testing.assert_allclose(sparse.predict(Z.toarray()[:50]), sparse.predict(Z[:50]),
                               rtol=1e-5)


def test_partial_fit_takes_sparse_chunks(reviews):
    X, Y = reviews
    Z = text_columns(max_features=300).fit_transform(_filled(X))
    model = MultiTaskRecommender("hard", **NET)
    for chunk in np.array_split(np.arange(Z.shape[0]), 3):
        model.partial_fit(Z[chunk], Y.iloc[chunk])
    assert model.n_epochs_ == 3 and model.predict(Z[:5]).shape == (5, 3)


def test_nan_in_a_sparse_matrix_is_refused_naming_the_column(reviews):
    X, Y = reviews
    Z = sp.csr_matrix(text_columns(max_features=50).fit_transform(_filled(X)))
    Z.data[Z.indices == 7] = np.nan
    with pytest.raises(ValueError, match=r"Sparse X holds NaN or infinity in column\(s\) \[7\]"):
        MultiTaskRecommender("hard", **NET).fit(Z, Y)
