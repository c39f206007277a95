"""``MultiTaskRecommender.transform``: the shared representation as features, alone and in a
Pipeline feeding ``PerTaskLGBM`` (neural embeddings into gradient-boosted trees)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch
from conftest import TINY_LGBM
from sklearn.exceptions import NotFittedError
from sklearn.model_selection import cross_validate
from sklearn.pipeline import make_pipeline

from sklearn_mtl import MultiTaskRecommender, PerTaskLGBM
from sklearn_mtl.metrics import make_multitask_scorer

NET = dict(hidden_units=(8,), tower_units=(4,), n_experts=2, max_epochs=2, batch_size=128,
           random_state=0)


@pytest.fixture(scope="module")
def census_2000(census_small):
    X, Y = census_small
    return X.iloc[:2000].reset_index(drop=True), Y.iloc[:2000].reset_index(drop=True)


# hard and mmoe by default; the other layouts with the slow tests.
@pytest.mark.parametrize("architecture, width, names", [
    ("hard", 8, ["shared_0", "shared_7"]),
    pytest.param("omoe", 8, ["shared_0", "shared_7"], marks=pytest.mark.slow),
    ("mmoe", 16, ["income_0", "never_married_7"]),
    pytest.param("ple", 16, ["income_0", "never_married_7"], marks=pytest.mark.slow),
    pytest.param("single", 16, ["income_0", "never_married_7"], marks=pytest.mark.slow),
])
def test_representation_is_what_the_towers_read(census_2000, architecture, width, names):
    X, Y = census_2000
    model = MultiTaskRecommender(architecture, **NET).fit(X, Y)
    Z = model.transform(X.iloc[:300])
    out = model.get_feature_names_out()
    assert Z.shape == (300, width) and Z.dtype == np.float32 and len(out) == width
    assert [out[0], out[-1]] == names
    # Each task's head applied to its block of the representation gives predict_proba.
    module, blocks = model.net_.module_, np.split(Z, len(model.task_names_), axis=1)
    heads = module.heads if hasattr(module, "heads") else [c.head for c in module.columns]
    for t, head in enumerate(heads):
        block = Z if module.shares_representation else blocks[t]
        with torch.no_grad():
            p = torch.sigmoid(head(torch.from_numpy(block)))[:, 0].numpy()
        np.testing.assert_allclose(p, model.predict_proba(X.iloc[:300])[t][:, 1], atol=1e-5)


def test_pipeline_trains_lightgbm_on_the_net_features(census_2000):
    X, Y = census_2000
    hybrid = make_pipeline(MultiTaskRecommender("mmoe", **NET), PerTaskLGBM(**TINY_LGBM))
    scores = cross_validate(hybrid, X, Y, cv=2, scoring=make_multitask_scorer())
    assert np.all(scores["test_score"] > 0.7)
    hybrid.fit(X, Y)
    assert hybrid[-1].n_features_in_ == 16
    assert [p.shape for p in hybrid.predict_proba(X.iloc[:5])] == [(5, 2), (5, 2)]


def test_pandas_output_names_the_columns(census_2000):
    X, Y = census_2000
    model = MultiTaskRecommender("hard", **NET).set_output(transform="pandas").fit(X, Y)
    Z = model.transform(X.iloc[:4])
    assert isinstance(Z, pd.DataFrame) and list(Z.columns) == [f"shared_{i}" for i in range(8)]


def test_transform_before_fit_and_wrong_input_features_are_refused(census_2000):
    X, Y = census_2000
    model = MultiTaskRecommender("hard", **NET)
    with pytest.raises(NotFittedError):
        model.transform(X)
    model.fit(X, Y)
    with pytest.raises(ValueError, match="input_features is not equal to feature_names_in_"):
        model.get_feature_names_out(["a"] * X.shape[1])
