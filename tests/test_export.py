"""ONNX export: onnxruntime reproduces predict_proba / predict to 1e-5 on real census and
MovieLens rows for every architecture and task kind, unknown categories and NaN included."""

from __future__ import annotations

import json

import numpy as np
import pytest
from conftest import slow_except
from sklearn.exceptions import NotFittedError

from sklearn_mtl import MultiTaskRecommender, PerTaskLGBM
from sklearn_mtl.nets import ARCHITECTURES

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")
pytest.importorskip("onnxscript")

from sklearn_mtl.export import METADATA_KEY, onnx_inputs, to_onnx  # noqa: E402

FAST = dict(max_epochs=2, batch_size=256, random_state=0)


def run_onnx(model, X, path):
    meta = to_onnx(model, path)
    session = ort.InferenceSession(str(path))
    return meta, session.run(meta["outputs"], onnx_inputs(model, X))


def assert_matches(model, X, outputs):
    proba = model.predict_proba(X)
    proba = proba if isinstance(proba, list) else [proba]
    pred = model.predict(X)
    pred = pred.reshape(len(X), -1)
    for t, (kind, out) in enumerate(zip(model.tasks_, outputs)):
        if kind == "regression":
            np.testing.assert_allclose(out[:, 0], pred[:, t].astype(float), rtol=1e-5, atol=1e-5)
        else:
            np.testing.assert_allclose(out, proba[t], rtol=0, atol=1e-5)
            labels = model.classes_[t][out.argmax(axis=1)]
            assert (labels == pred[:, t]).mean() > 0.999  # ties at 1e-7 may flip a row


# Two representatives by default; the other architectures with the slow tests.
@pytest.mark.parametrize("architecture", slow_except(ARCHITECTURES, keep=("hard", "mmoe")))
def test_every_architecture_on_census_rows(census_small, tmp_path, architecture):
    X, Y = census_small
    model = MultiTaskRecommender(architecture, **FAST).fit(X.iloc[:2000], Y.iloc[:2000])
    new = X.iloc[2000:3000]  # rows the model never saw, some with unseen categories
    _, outputs = run_onnx(model, new, tmp_path / "census.onnx")
    assert_matches(model, new, outputs)


@pytest.mark.parametrize("tasks", [["binary", "regression"], ["binary", "multiclass"]])
def test_movielens_unknown_users_and_every_task_kind(movielens, tmp_path, tasks):
    X, Y = movielens
    model = MultiTaskRecommender("mmoe", tasks=tasks, **FAST).fit(X.iloc[:3000], Y.iloc[:3000])
    new = X.iloc[3000:4000]
    inputs = onnx_inputs(model, new)
    user = model._features.categorical_columns_.index("user_id")
    assert (inputs["x_cat"][:, user] == 0).any()  # unknown users take the unknown index
    _, outputs = run_onnx(model, new, tmp_path / "ml.onnx")
    assert_matches(model, new, outputs)


def test_missing_values_and_indicators(census_1500, tmp_path):
    X, Y = census_1500
    X = X.copy()
    X.loc[X.index[:50], "age"] = np.nan  # seen in fit: imputed with an indicator input
    model = MultiTaskRecommender("hard", **FAST).fit(X, Y)
    new = X.copy()
    new.loc[new.index[100:150], "wage per hour"] = np.nan  # first missing at predict time
    _, outputs = run_onnx(model, new, tmp_path / "nan.onnx")
    assert_matches(model, new, outputs)


def test_array_input_one_task_regression(tmp_path):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(400, 5))
    y = X[:, 0] * 3 + 100 + rng.normal(size=400)
    model = MultiTaskRecommender("single", **FAST).fit(X, y)
    _, (value,) = run_onnx(model, X, tmp_path / "reg.onnx")
    np.testing.assert_allclose(value[:, 0], model.predict(X), rtol=1e-5, atol=1e-5)


def test_metadata_is_in_the_file(census_1500, tmp_path):
    X, Y = census_1500
    model = MultiTaskRecommender("mmoe", **FAST).fit(X, Y)
    meta = to_onnx(model, tmp_path / "m.onnx")
    stored = {p.key: p.value for p in onnx.load(str(tmp_path / "m.onnx")).metadata_props}
    assert json.loads(stored[METADATA_KEY]) == meta
    assert meta["task_names"] == list(Y.columns)
    assert meta["outputs"] == ["proba_0", "proba_1"]
    # The published step from the metadata alone gives the same feed as from the model.
    for key, value in onnx_inputs(meta, X).items():
        np.testing.assert_array_equal(value, onnx_inputs(model, X)[key])


def test_only_fitted_nets_are_exported(census_1500, tmp_path):
    X, Y = census_1500
    lgbm = PerTaskLGBM(n_estimators=5, n_jobs=1).fit(X, Y)
    with pytest.raises(TypeError, match="to_onnx takes a fitted MultiTaskRecommender, not a "
                                        "PerTaskLGBM"):
        to_onnx(lgbm, tmp_path / "m.onnx")
    with pytest.raises(NotFittedError, match="not fitted"):
        to_onnx(MultiTaskRecommender(), tmp_path / "m.onnx")
