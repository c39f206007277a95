"""MultiTaskRecommender.partial_fit (sklearn_mtl._recommender._partial_fit) as a stream user drives it:
census chunks, a first chunk missing a class, new ids, schema changes, Dask."""

from __future__ import annotations

import pickle

import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone

from sklearn_mtl import MultiTaskRecommender, load

SMALL = dict(hidden_units=(16,), tower_units=(8,), n_experts=2, batch_size=128, lr=1e-2,
             random_state=0)


@pytest.fixture(scope="module")
def chunks(census_small):
    """census_small in four chunks of 1,000 rows and a held-out 1,000."""
    X, Y = census_small
    parts = [(X.iloc[i : i + 1000], Y.iloc[i : i + 1000]) for i in range(0, 4000, 1000)]
    return parts, (X.iloc[4000:], Y.iloc[4000:])


def test_passes_over_census_chunks_learn_both_tasks(chunks):
    parts, (X_test, Y_test) = chunks
    model = MultiTaskRecommender("mmoe", **SMALL)
    for _ in range(2):
        for X, Y in parts:
            model.partial_fit(X, Y)
    assert model.n_epochs_ == len(model.history_) == 8
    assert model.task_names_ == ["income", "never_married"]
    assert model.tasks_ == ["binary", "binary"]
    assert not hasattr(model.history_[-1], "valid_loss") and "valid_loss" not in model.history_[-1]
    assert model.score(X_test, Y_test) > 0.85
    # the schema is the first chunk's: later chunks do not grow the vocabularies
    first = MultiTaskRecommender("mmoe", **SMALL).partial_fit(*parts[0])
    assert model._features.cardinalities_ == first._features.cardinalities_


def test_reruns_are_identical(chunks):
    parts, (X_test, _) = chunks
    preds = []
    for _ in range(2):
        model = MultiTaskRecommender("hard", **SMALL)
        for X, Y in parts[:2]:
            model.partial_fit(X, Y)
        preds.append(model.predict_proba(X_test)[0])
    np.testing.assert_array_equal(*preds)


def test_classes_for_a_first_chunk_that_misses_one(census_small):
    X, Y = census_small
    y = Y["income"]
    first = (y == 0).to_numpy()[:1500]
    X0, y0 = X.iloc[:1500][first], y.iloc[:1500][first]
    model = MultiTaskRecommender("hard", **SMALL)
    with pytest.raises(ValueError, match="only one class"):
        clone(model).partial_fit(X0, y0)
    model.partial_fit(X0, y0, classes=[0, 1])
    model.partial_fit(X.iloc[1500:3000], y.iloc[1500:3000], classes=[0, 1])  # same: accepted
    assert model.classes_[0].tolist() == [0, 1]
    assert model.predict_proba(X.iloc[:5]).shape == (5, 2)
    with pytest.raises(ValueError, match=r"classes for task 'income' is \[0, 1, 2\].*cannot change"):
        model.partial_fit(X.iloc[:10], y.iloc[:10], classes=[0, 1, 2])
    with pytest.raises(ValueError, match=r"labels \[7\] that were not seen"):
        model.partial_fit(X.iloc[:3], pd.Series([0, 1, 7], name="income"))


def test_classes_per_task_and_bad_classes(census_small):
    X, Y = census_small
    model = MultiTaskRecommender("hard", **SMALL)
    model.partial_fit(X.iloc[:500], Y.iloc[:500], classes={"income": [0, 1, 2]})
    assert model.tasks_ == ["multiclass", "binary"]
    with pytest.raises(ValueError, match="one array of labels but Y has 2 tasks"):
        clone(model).partial_fit(X.iloc[:500], Y.iloc[:500], classes=[0, 1])
    with pytest.raises(ValueError, match=r"labels \[1\] that are not in classes \[0, 2\]"):
        clone(model).partial_fit(X.iloc[:500], Y.iloc[:500], classes=[[0, 2], None])


def test_ids_first_seen_later_take_the_unknown_bucket():
    rng = np.random.default_rng(0)
    X = pd.DataFrame({"user_id": rng.integers(0, 50, 2000), "x": rng.normal(size=2000)})
    y = (X["x"] + (X["user_id"] % 2) > 0.5).astype(int)
    model = MultiTaskRecommender("hard", **SMALL).partial_fit(X, y)
    assert model.categorical_features_ == ["user_id"]
    later = pd.DataFrame({"user_id": np.arange(1000, 1500), "x": rng.normal(size=500)})
    model.partial_fit(later, (later["x"] > 0).astype(int))
    codes = model._features.encode(later)[1]
    assert (codes == 0).all()
    assert model._features.cardinalities_ == [51]


def test_a_chunk_with_other_columns_or_dtypes_is_refused_by_name(chunks):
    parts, _ = chunks
    X, Y = parts[0]
    model = MultiTaskRecommender("hard", **SMALL).partial_fit(X, Y)
    X1, Y1 = parts[1]
    with pytest.raises(ValueError, match=r"column 'age' of X has dtype float64 in this chunk but "
                                         r"int64 in the first one"):
        model.partial_fit(X1.astype({"age": "float64"}), Y1)
    with pytest.raises(ValueError, match="education"):
        model.partial_fit(X1.drop(columns="education"), Y1)
    with pytest.raises(ValueError, match=r"column 'education' of X has dtype str"):
        model.partial_fit(X1.astype({"education": "str"}), Y1)
    assert model.n_epochs_ == 1  # nothing was trained on a refused chunk
    rng = np.random.default_rng(0)
    arrays = MultiTaskRecommender("hard", **SMALL).partial_fit(rng.normal(size=(100, 3)),
                                                               rng.integers(0, 2, 100))
    with pytest.raises(ValueError, match="X has 2 features"):
        arrays.partial_fit(rng.normal(size=(100, 2)), rng.integers(0, 2, 100))
    with pytest.raises(ValueError, match="X has dtype float32 in this chunk but float64"):
        arrays.partial_fit(rng.normal(size=(100, 3)).astype(np.float32), rng.integers(0, 2, 100))


def test_fit_after_partial_fit_starts_over(chunks):
    parts, (X_test, _) = chunks
    X, Y = pd.concat([p[0] for p in parts[:2]]), pd.concat([p[1] for p in parts[:2]])
    params = dict(SMALL, max_epochs=2)
    model = MultiTaskRecommender("hard", **params)
    model.partial_fit(*parts[2]).partial_fit(*parts[3])
    model.fit(X, Y)
    fresh = MultiTaskRecommender("hard", **params).fit(X, Y)
    assert model.n_epochs_ == fresh.n_epochs_ == 2
    np.testing.assert_allclose(model.predict_proba(X_test)[0], fresh.predict_proba(X_test)[0])
    # and partial_fit after fit goes on from the fit, one epoch a call, without validation
    model.partial_fit(*parts[3])
    assert model.n_epochs_ == 3 and "valid_loss" not in model.history_[-1]


def test_pickled_and_saved_models_keep_streaming(chunks, tmp_path):
    parts, (X_test, _) = chunks
    model = MultiTaskRecommender("hard", **SMALL).partial_fit(*parts[0])
    model.save(tmp_path / "m.zip")
    for other in (pickle.loads(pickle.dumps(model)), load(tmp_path / "m.zip")):
        np.testing.assert_allclose(other.predict_proba(X_test)[0], model.predict_proba(X_test)[0],
                                   rtol=1e-6)
        other.partial_fit(*parts[1])
        assert other.n_epochs_ == 2
        with pytest.raises(ValueError, match="column 'age'"):
            other.partial_fit(parts[1][0].astype({"age": "float64"}), parts[1][1])


def test_dask_ml_incremental_on_one_task():
    da = pytest.importorskip("dask.array")
    wrappers = pytest.importorskip("dask_ml.wrappers")
    rng = np.random.default_rng(0)
    X = rng.normal(size=(900, 4))
    y = (X[:, 0] + 0.3 * rng.normal(size=900) > 0).astype(int)
    inc = wrappers.Incremental(MultiTaskRecommender("hard", **SMALL), shuffle_blocks=False)
    inc.fit(da.from_array(X, chunks=(300, 4)), da.from_array(y, chunks=300), classes=[0, 1])
    assert inc.estimator_.n_epochs_ == 3
    assert inc.estimator_.score(X, y) > 0.85  # ROC AUC
    predicted = inc.predict(da.from_array(X, chunks=(300, 4)))  # block by block, lazily
    np.testing.assert_array_equal(predicted.compute(), inc.estimator_.predict(X))


def test_a_dask_dataframe_streamed_partition_by_partition(census_small):
    dd = pytest.importorskip("dask.dataframe")
    import dask

    X, Y = census_small
    X_parts = dd.from_pandas(X.iloc[:3000], npartitions=3)
    Y_parts = dd.from_pandas(Y.iloc[:3000], npartitions=3)
    model = MultiTaskRecommender("hard", **SMALL)
    # The user guide's recipe for multi-task Y, which dask_ml's Incremental does not split.
    for X_part, Y_part in zip(X_parts.to_delayed(), Y_parts.to_delayed()):
        model.partial_fit(*dask.compute(X_part, Y_part))
    assert model.n_epochs_ == 3
    assert model.score(X.iloc[3000:], Y.iloc[3000:]) > 0.85


def test_labels_of_another_type_than_the_first_chunk_name_the_task_and_both_types(chunks):
    parts, _ = chunks
    X, Y = parts[0]
    Y = Y.astype(int)
    model = MultiTaskRecommender("hard", **SMALL).partial_fit(X, Y)
    words = Y.copy()
    words["income"] = np.where(Y["income"] == 1, "yes", "no")
    with pytest.raises(ValueError, match=r"Task 'income' has labels such as '(yes|no)' \(str\) but "
                                         r"its classes, fixed by fit or the first partial_fit, are "
                                         r"\[0, 1\] \(int64\); give the labels in the classes' "
                                         r"type"):
        model.partial_fit(X, words)
