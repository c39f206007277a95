"""The spec a MultiTaskRecommender resolves its parameters into (sklearn_mtl._recommender._spec),
the net built from it by one overridable method, and the parameters counted without a fit."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

from sklearn_mtl import MultiTaskRecommender
from sklearn_mtl._architectures import ARCHITECTURES
from sklearn_mtl._recommender._spec import RecommenderSpec

SMALL = dict(hidden_units=(8, 4), tower_units=(4,), n_experts=2, max_epochs=1, batch_size=64,
             random_state=0)


@pytest.fixture(scope="module")
def rows():
    rng = np.random.default_rng(0)
    X = pd.DataFrame({"age": rng.normal(40, 10, 300), "user_id": rng.integers(0, 30, 300),
                      "city": rng.choice(["a", "b", "c"], 300)})
    Y = pd.DataFrame({"click": (X["age"] > 40).astype(int),
                      "buy": ((X["age"] > 45) & (X["city"] == "a")).astype(int)})
    return X, Y


@pytest.mark.parametrize("architecture", ARCHITECTURES)
def test_parameters_counted_from_the_spec_equal_the_fitted_nets(rows, architecture):
    X, Y = rows
    model = MultiTaskRecommender(architecture, **SMALL)
    counted = model._count_params(X, Y)
    assert not hasattr(model, "net_")  # counted without training
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert model.fit(X, Y).n_params_ == counted


def test_debiased_cascade_counted_from_the_spec(rows):
    X, Y = rows
    model = MultiTaskRecommender("esmm", cascade_debias="dr", **SMALL)
    assert model._count_params(X, Y) == model.fit(X, Y).n_params_


def test_spec_holds_checked_plain_values():
    params = MultiTaskRecommender("soft", hidden_units=8, device="cpu").get_params()
    spec = MultiTaskRecommender(**params)._spec()
    assert isinstance(spec, RecommenderSpec)
    assert spec.hidden_units == (8,) and spec.device == "cpu" and spec.sharing_strength == 1e-3
    assert MultiTaskRecommender("hard", device="cpu")._spec().sharing_strength == 0.0
    with pytest.raises(ValueError, match=r"dropout=1.0 is not valid"):
        MultiTaskRecommender(dropout=1.0)._spec()


class CountingRecommender(MultiTaskRecommender):
    """Overrides the one method that builds the net: every fit must go through it."""

    built = 0

    def _make_net(self, spec, shape, **options):
        type(self).built += 1
        net = super()._make_net(spec, shape, **options)
        net.lr = 0.0  # a net that cannot learn: its weights stay at their initial values
        return net


def test_every_fit_builds_its_net_with_the_overridable_method(rows):
    X, Y = rows
    CountingRecommender.built = 0
    frozen = CountingRecommender("hard", **SMALL).fit(X, Y)
    assert CountingRecommender.built == 1
    plain = MultiTaskRecommender("hard", **SMALL).fit(X, Y)
    assert not np.allclose(frozen.predict_proba(X)[0], plain.predict_proba(X)[0])
    stream = CountingRecommender("hard", **SMALL)
    for chunk in np.array_split(np.arange(len(X)), 3):
        stream.partial_fit(X.iloc[chunk], Y.iloc[chunk])
    assert CountingRecommender.built == 2  # the first chunk builds, the others train it
    assert stream.n_epochs_ == 3
