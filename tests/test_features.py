"""FeatureEncoder (sklearn_mtl.features): categorical and id columns, unknown and rare categories,
missing values, embedding sizes, numeric scaling (float64 centring, overflow refused by name) and
the column statistics, alone and inside MultiTaskRecommender's fit and predict."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch
from conftest import click_purchase_events
from sklearn.metrics import roc_auc_score

from sklearn_mtl import MultiTaskRecommender
from sklearn_mtl._recommender._skorch import MultiTaskDataset
from sklearn_mtl.features import FeatureEncoder, auto_embedding_dim, categorical_columns, is_id_name


# ---------------------------------------------------------------- categories and ids
def test_unseen_ids_and_categories_at_predict_use_the_unknown_bucket(movielens_12k):
    X, Y = movielens_12k
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


@pytest.mark.parametrize("column", [
    pd.Series([7, 3, 7, 1, 3, 7, 9]),
    pd.Series(pd.Categorical(["b", "a", None, "b", "c", "a", "b"], categories=["c", "b", "z", "a"])),
    pd.Series(["x", None, "y", "x", "x", "y", "w"], dtype="str"),
    pd.Series([0.5, np.nan, 0.5, 2.0, np.nan, 2.0, 3.0]),
    pd.Series(["a", 1, "a", 2.5, 1, None, "a"], dtype=object),
], ids=["int", "category", "str", "float", "object"])
def test_vocabulary_counts_values_in_their_own_dtype_like_python_objects(column):
    enc = FeatureEncoder(categorical_features=["c"]).fit(pd.DataFrame({"c": column}))
    # Most frequent first, ties in order of first appearance, the values as Python objects
    # (a missing value, None or NaN, as NaN).
    objects = np.array([np.nan if pd.isna(v) else v for v in column], dtype=object)
    counts = pd.Series(objects).value_counts(dropna=False, sort=False)
    expected = counts.sort_values(ascending=False, kind="stable").index
    assert list(enc.vocabularies_[0]) == pytest.approx(list(expected), nan_ok=True)
    # Encoding looks each value up as the object it is; a value never seen in fit is unknown.
    _, codes = enc.transform(pd.DataFrame({"c": column}))
    np.testing.assert_array_equal(codes[:, 0], enc.vocabularies_[0].get_indexer(objects) + 1)
    new = pd.concat([column.iloc[:2], pd.Series([12345], dtype=object)], ignore_index=True)
    if isinstance(column.dtype, pd.CategoricalDtype):
        new = pd.Series(pd.Categorical([column.iloc[0], "new"], categories=["new", "b"]))
    assert enc.transform(pd.DataFrame({"c": new}))[1][-1, 0] == 0


def test_fit_encode_equals_fit_then_encode(movielens_12k):
    X = movielens_12k[0].copy()
    X.loc[X.index[::7], X.select_dtypes("number").columns[-1]] = np.nan  # an indicator column
    one = FeatureEncoder(min_frequency=3)
    x_num, x_cat = one.fit_encode(X)
    two = FeatureEncoder(min_frequency=3).fit(X)
    expected_num, expected_cat = two.encode(X)
    np.testing.assert_array_equal(x_num, expected_num)
    np.testing.assert_array_equal(x_cat, expected_cat)
    assert [list(v) for v in one.vocabularies_] == [list(v) for v in two.vocabularies_]
    assert one.indicator_columns_ == two.indicator_columns_ != []


def test_streamed_vocabulary_of_nullable_integers_equals_the_in_memory_one():
    from sklearn_mtl.sources._encoders import FeatureStatistics

    X = pd.DataFrame({"c": pd.Series([1, None, 2, 2, None, 3], dtype="Int64"),
                      "x": np.arange(6.0)})
    memory = FeatureEncoder(categorical_features=["c"]).fit(X)
    stats = FeatureStatistics(["c"], None, "auto", n_rows=6)
    for rows in (slice(0, 3), slice(3, 6)):
        stats.update(X.iloc[rows])
    streamed = stats.finish()
    # Integers stay integers next to the missing value, which is NaN in both.
    assert list(streamed.vocabularies_[0]) == pytest.approx(list(memory.vocabularies_[0]),
                                                            nan_ok=True)
    assert [type(v) for v in streamed.vocabularies_[0]][1:] == [int, int, int]
    np.testing.assert_array_equal(streamed.encode(X)[1], memory.encode(X)[1])
    assert memory.encode(X)[1][1, 0] != 0  # the missing value is a known category


def test_none_and_nan_in_an_object_column_are_one_missing_category():
    column = pd.Series(["a", None, np.nan, "a"], dtype=object)
    enc = FeatureEncoder(categorical_features=["c"]).fit(pd.DataFrame({"c": column}))
    assert enc.cardinalities_ == [3]  # unknown, "a", missing
    _, codes = enc.transform(pd.DataFrame({"c": column}))
    assert codes[1, 0] == codes[2, 0] != codes[0, 0]


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


def test_integer_id_columns_are_embedded_by_default(movielens):
    X, Y = click_purchase_events(movielens)
    assert X["user_id"].dtype == np.int64
    model = MultiTaskRecommender("hard", max_epochs=2, random_state=0).fit(X, Y)
    assert model.categorical_features_ == ["user_id", "item_id"]
    # Two users with the same age and item get different predictions only through the embedding.
    pair = pd.DataFrame({"user_id": X["user_id"].unique()[:2], "item_id": X["item_id"].iloc[0],
                         "age": 30})
    proba = model.predict_proba(pair)[0][:, 1]
    assert proba[0] != proba[1]
    assert MultiTaskRecommender("hard", categorical_features=None, max_epochs=1).fit(
        X, Y).categorical_features_ == []
    assert MultiTaskRecommender("hard", categorical_features=["age"], max_epochs=1).fit(
        X, Y).categorical_features_ == ["age"]


def test_the_id_rule_reads_names_and_integer_dtypes():
    assert [is_id_name(n) for n in ("user_id", "itemId", "movieID", "ID", "item-id", "session id")] \
        == [True] * 6
    assert [is_id_name(n) for n in ("paid", "grid", "valid", "width", "idx", 7)] == [False] * 6
    X = pd.DataFrame({"user_id": [1, 2], "score_id": [0.5, 1.5], "flag_id": [True, False],
                      "count": [3, 4], "shop_id": pd.array([1, None], dtype="Int64")})
    # Floats and bools named like ids are measurements, not labels; nullable ints are ids.
    assert categorical_columns(X, "auto") == ["user_id", "shop_id"]
    assert categorical_columns(X.to_numpy(), "auto") == []


def test_verbose_fit_reports_what_it_embedded(movielens, capsys):
    X, Y = click_purchase_events(movielens, n=400)
    MultiTaskRecommender("hard", max_epochs=1, verbose=1, random_state=0).fit(X, Y)
    out = capsys.readouterr().out
    assert "embedded (2): user_id (" in out and "numeric (1): age" in out


# ---------------------------------------------------------------- numeric scaling, column statistics
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


def test_row_major_dataset_gives_the_same_shuffled_batches_from_a_column_major_frame():
    # A frame of float columns reaches the dataset column-major; training reads it row-major.
    rng = np.random.default_rng(0)
    X = pd.DataFrame(rng.normal(size=(500, 4)) * [1, 10, 100, 1000], columns=list("abcd"))
    X["user"] = pd.Categorical(rng.integers(0, 20, 500))
    enc = FeatureEncoder().fit(X)
    values, codes = enc.encode(X)
    data = MultiTaskDataset(values, codes, np.zeros((500, 1)), offset=enc.input_offset_,
                            scale=enc.input_scale_)
    assert not data.x_num.is_contiguous()
    rows = data.row_major()
    assert rows.x_num.is_contiguous() and rows.x_cat.is_contiguous()
    assert rows.x_num.dtype == torch.float32 and rows.offset is None  # standardized once
    assert rows.row_major() is rows
    index = torch.as_tensor(rng.permutation(500)[:64])
    (a, ya), (b, yb) = data.take(index), rows.take(index)
    assert a["x_num"].dtype == b["x_num"].dtype == torch.float32
    torch.testing.assert_close(a["x_num"], b["x_num"], rtol=0, atol=0)
    torch.testing.assert_close(a["x_cat"], b["x_cat"], rtol=0, atol=0)
    torch.testing.assert_close(ya["y"], yb["y"], rtol=0, atol=0)
    # fit trains on the row-major copy; the caller's frame is untouched.
    before = X.copy()
    MultiTaskRecommender("hard", max_epochs=1, early_stopping=False,
                         random_state=0).fit(X, X["a"] > 0)
    pd.testing.assert_frame_equal(X, before)


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


@pytest.mark.parametrize("scale", [1e-150, 1e-170, 1e-200, 1e-300])
def test_a_column_at_a_tiny_scale_is_standardized_not_constant(scale):
    from sklearn_mtl.features import _column_mean_std

    rng = np.random.default_rng(0)
    values = rng.normal(size=(2000, 3))
    values[:, 0] = values[:, 0] * scale + 3 * scale  # its squares underflow float64
    values[:, 1] = 7.0  # a constant stays constant
    mean, std = _column_mean_std(values)
    exact = values[:, 0] / scale
    np.testing.assert_allclose(mean[0] / scale, exact.mean(), rtol=1e-9)
    np.testing.assert_allclose(std[0] / scale, exact.std(), rtol=1e-9)
    assert std[1] == 0 and mean[1] == 7.0
    np.testing.assert_allclose(std[2], values[:, 2].std(), rtol=1e-12)


@pytest.mark.parametrize("architecture", ["hard", "mmoe"])
def test_nets_learn_from_a_column_at_the_1e_200_scale(architecture):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(2000, 3))
    y = 2 * X[:, 0] + 0.1 * rng.normal(size=2000)
    X[:, 0] *= 1e-200
    model = MultiTaskRecommender(architecture, max_epochs=10, random_state=0).fit(X, y)
    assert model.score(X, y) > 0.9
