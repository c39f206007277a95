"""Numeric scaling: float64 centring keeps large-offset columns, overflow is refused by name, and
the batch-by-batch standardization in fit / predict equals FeatureEncoder.transform."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch
from sklearn.metrics import roc_auc_score

from sklearn_mtl import MultiTaskRecommender
from sklearn_mtl._recommender._skorch import MultiTaskDataset
from sklearn_mtl.features import FeatureEncoder


def test_large_offset_float64_column_keeps_its_information():
    rng = np.random.default_rng(0)
    noise = rng.normal(size=2000)
    X = pd.DataFrame({"stamp": 1e12 + noise, "other": rng.normal(size=2000)})
    enc = FeatureEncoder().fit(X)
    scaled, _ = enc.transform(X)
    # Centred in float64: the standardized column is the noise (to float64's 1.2e-4 resolution
    # at 1e12: a mean is representable to one such step), not a constant.
    stamp = X["stamp"].to_numpy()
    np.testing.assert_allclose(scaled[:, 0], (stamp - stamp.mean()) / stamp.std(), atol=2.5e-4)
    assert np.corrcoef(scaled[:, 0], noise)[0, 1] > 0.999999
    y = (noise > 0).astype(int)
    model = MultiTaskRecommender("hard", max_epochs=5, random_state=0).fit(X, y)
    assert roc_auc_score(y, model.predict_proba(X)[:, 1]) > 0.95


def test_dataset_batches_equal_transform(census_1500):
    X, _ = census_1500
    enc = FeatureEncoder().fit(X)
    expected, codes = enc.transform(X)
    values, codes_ = enc.encode(X)
    data = MultiTaskDataset(values, codes_, offset=enc.input_offset_, scale=enc.input_scale_)
    batch, _ = data.take(slice(0, len(X)))
    np.testing.assert_allclose(batch["x_num"].numpy(), expected, rtol=1e-6, atol=1e-6)
    np.testing.assert_array_equal(batch["x_cat"].numpy(), codes)
    np.testing.assert_allclose(data.take(np.arange(10, 20))[0]["x_num"].numpy(), expected[10:20],
                               rtol=1e-6, atol=1e-6)


def test_value_overflowing_float32_once_scaled_is_refused_by_name():
    rng = np.random.default_rng(0)
    X = pd.DataFrame({"a": rng.normal(size=300), "b": rng.normal(size=300)})
    model = MultiTaskRecommender("hard", max_epochs=1, random_state=0).fit(X, X["a"] > 0)
    new = X.iloc[:3].copy()
    new.loc[new.index[1], "b"] = 1e40
    with pytest.raises(ValueError, match=r"Numeric column\(s\) \['b'\] of X have values that are "
                                         "too large for float32 once standardized"):
        model.predict(new)


def test_nan_first_seen_at_predict_is_imputed_and_infinity_refused():
    rng = np.random.default_rng(0)
    X = pd.DataFrame({"a": rng.normal(size=300), "b": rng.normal(size=300)})
    model = MultiTaskRecommender("hard", max_epochs=1, random_state=0).fit(X, X["a"] > 0)
    new = X.iloc[:3].copy()
    new.loc[new.index[0], "b"] = np.nan
    filled = new.fillna({"b": model._features.mean_[1]})
    np.testing.assert_allclose(model.predict_proba(new), model.predict_proba(filled), atol=1e-6)
    new.loc[new.index[0], "b"] = np.inf
    with pytest.raises(ValueError, match=r"Input X contains infinity in column\(s\) \['b'\]"):
        model.predict(new)


def test_column_whose_std_overflows_float64_is_refused_by_name_at_fit():
    X = pd.DataFrame({"a": [1.0, 2.0, 3.0, 4.0], "wide": [1e200, -1e200, 0.0, 1e199]})
    with pytest.raises(ValueError, match=r"Numeric column\(s\) \['wide'\] of X are too spread out "
                                         "to standardize: their standard deviation overflows"):
        MultiTaskRecommender("hard", max_epochs=1).fit(X, [0, 1, 0, 1])


@pytest.mark.parametrize("shape", [(1, 3), (5, 700), (3000, 2), (2500, 45)])
def test_column_statistics_match_numpy_on_large_offsets(shape):
    from sklearn_mtl.features import _column_mean_std

    rng = np.random.default_rng(0)
    values = 1e12 + rng.normal(size=shape) * 3
    mean, std = _column_mean_std(values)
    # The reference works on values - values[0], which is exact (Sterbenz): numpy's own std of
    # the raw column centres on a mean that is only good to one float64 step at 1e12 (1.2e-4).
    shifted = values - values[0]
    np.testing.assert_allclose(mean, values[0] + shifted.mean(axis=0), rtol=0, atol=2.5e-4)
    np.testing.assert_allclose(std, shifted.std(axis=0), rtol=1e-12, atol=1e-12)
    mean32, std32 = _column_mean_std(values[:, :1].astype(np.float32) - np.float32(1e12))
    assert mean32.dtype == std32.dtype == np.float64


def test_prediction_batches_scaled_into_one_reused_buffer_match_transform(census_1500):
    # predict scales every batch into one buffer; each batch's outputs must be its own rows'.
    from sklearn_mtl._recommender._outputs import forward

    X, Y = census_1500
    model = MultiTaskRecommender("mmoe", hidden_units=(8,), n_experts=2, max_epochs=1,
                                 random_state=0).fit(X, Y)
    enc = model._features
    scaled, codes = enc.transform(X)
    module = model.net_.module_.eval()
    with torch.no_grad():
        expected = module(torch.as_tensor(scaled), torch.as_tensor(codes)).numpy()
    values, codes_ = enc.encode(X)
    data = MultiTaskDataset(values.astype(np.float32), codes_, offset=enc.input_offset_,
                            scale=enc.input_scale_)
    np.testing.assert_allclose(forward(module, data, batch_size=97), expected, rtol=1e-5,
                               atol=1e-5)


def test_float32_column_statistics_and_their_float64_fallback():
    from sklearn_mtl.features import _column_mean_std

    rng = np.random.default_rng(0)
    values = (rng.normal(size=(3000, 30)) * rng.uniform(0.1, 100, 30) + 1e4).astype(np.float32)
    mean, std = _column_mean_std(values)
    wide = values.astype(np.float64)
    np.testing.assert_allclose(mean, wide.mean(axis=0), rtol=1e-6)
    np.testing.assert_allclose(std, wide.std(axis=0), rtol=1e-5)
    # x - x[0] overflows float32 here; float64 holds it.
    huge = np.array([[3e38], [-3e38], [1e38]], dtype=np.float32)
    mean, std = _column_mean_std(huge)
    np.testing.assert_allclose(std, huge.astype(np.float64).std(axis=0), rtol=1e-6)
    assert np.isfinite(mean).all()
