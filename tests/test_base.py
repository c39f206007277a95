"""The contract both estimators share (sklearn_mtl._base): predict_proba, X checks, parameter
tables, and PerTaskLGBM's independence from torch."""

from __future__ import annotations

import subprocess
import sys
import warnings

import numpy as np
import pandas as pd
import pytest

from sklearn_mtl import MultiTaskRecommender, PerTaskLGBM

ESTIMATORS = {
    "recommender": lambda: MultiTaskRecommender("hard", max_epochs=2, random_state=0),
    "lgbm": lambda: PerTaskLGBM(n_estimators=10, n_jobs=1, random_state=0),
}


def regression_data(n=200):
    rng = np.random.default_rng(0)
    X = pd.DataFrame(rng.normal(size=(n, 3)), columns=["a", "b", "c"])
    Y = pd.DataFrame({"dwell": X["a"] * 2 + rng.normal(size=n), "rating": X["b"] - X["c"]})
    return X, Y


@pytest.mark.parametrize("name", ESTIMATORS)
def test_predict_proba_is_absent_when_every_task_is_a_regression(name):
    X, Y = regression_data()
    model = ESTIMATORS[name]()
    assert hasattr(model, "predict_proba")  # unfitted: it may still get a classification task
    model.fit(X, Y)
    assert not hasattr(model, "predict_proba")
    with pytest.raises(AttributeError, match="has no attribute 'predict_proba'") as info:
        model.predict_proba(X)
    assert f"every task of this {type(model).__name__} is a regression task" in str(
        info.value.__cause__)
    model.fit(X, Y["dwell"])  # one regression task, 1-D y
    assert not hasattr(model, "predict_proba")


@pytest.mark.parametrize("name", ESTIMATORS)
def test_mixed_tasks_give_none_at_the_regression_positions(name):
    X, Y = regression_data()
    Y["click"] = (X["a"] > 0).astype(int)
    proba = ESTIMATORS[name]().fit(X, Y).predict_proba(X)
    assert [p is None for p in proba] == [True, True, False]
    assert proba[2].shape == (len(X), 2)
    one = ESTIMATORS[name]().fit(X, Y["click"]).predict_proba(X)
    assert isinstance(one, np.ndarray) and one.shape == (len(X), 2)


@pytest.mark.parametrize("name", ESTIMATORS)
def test_an_array_after_a_dataframe_fit_is_read_by_position(name):
    X, Y = regression_data()
    model = ESTIMATORS[name]().fit(X, Y)
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="X does not have valid feature names")
        from_array = model.predict(X.to_numpy())
    np.testing.assert_allclose(from_array, model.predict(X))


@pytest.mark.parametrize("name", ESTIMATORS)
def test_columns_that_differ_from_fit_are_refused_by_both(name):
    X, Y = regression_data()
    model = ESTIMATORS[name]().fit(X, Y)
    # scikit-learn's own check speaks first for string column names, the same for both.
    with pytest.raises(ValueError, match="must be in the same order as they were in fit"):
        model.predict(X[["c", "b", "a"]])
    with pytest.raises(ValueError, match=r"unseen at fit time:\n- d\n.*yet now missing:\n- c"):
        model.predict(X.rename(columns={"c": "d"}))
    # Integer column names, which scikit-learn does not check, get the package's own message.
    ints = ESTIMATORS[name]().fit(X.set_axis([0, 1, 2], axis=1), Y)
    with pytest.raises(ValueError, match=r"in a different order \[2, 1, 0\]"):
        ints.predict(X.set_axis([2, 1, 0], axis=1))


@pytest.mark.parametrize(("name", "params", "match"), [
    ("recommender", {"validation_fraction": 1.0},
     r"validation_fraction=1.0 is not valid: it must be a number in \(0, 1\)"),
    ("lgbm", {"validation_fraction": 0},
     r"validation_fraction=0 is not valid: it must be a number in \(0, 1\)"),
    ("recommender", {"random_state": "x"}, "random_state='x' is not valid: use None, an int"),
    ("lgbm", {"random_state": -1}, "random_state=-1 is not valid: use None, an int"),
    ("lgbm", {"n_estimators": 0}, r"n_estimators=0 is not valid: it must be an int in \[1, inf\)"),
    ("lgbm", {"learning_rate": 0.0},
     r"learning_rate=0.0 is not valid: it must be a number in \(0, inf\)"),
    ("lgbm", {"per_task_params": {"dwell": 3}},
     r"per_task_params must be None or a dict \{task name: \{parameter: value\}\}, got"),
])
def test_shared_parameter_table_names_the_parameter(name, params, match):
    X, Y = regression_data()
    with pytest.raises(ValueError, match=match):
        ESTIMATORS[name]().set_params(**params).fit(X, Y)


def test_per_task_lgbm_imports_and_fits_without_torch():
    script = """
import sys
import numpy as np
from sklearn.model_selection import cross_val_score
from sklearn_mtl import PerTaskLGBM
from sklearn_mtl.metrics import per_task_scores
rng = np.random.default_rng(0)
X = rng.normal(size=(300, 3))
Y = np.column_stack([X[:, 0] > 0, X[:, 1]])
model = PerTaskLGBM(n_estimators=10, n_jobs=1, random_state=0).fit(X, Y)
per_task_scores(model, X, Y)
cross_val_score(PerTaskLGBM(n_estimators=5, n_jobs=1), X, Y, cv=2)
print("torch" in sys.modules, "skorch" in sys.modules)
"""
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                         check=True)
    assert out.stdout.split() == ["False", "False"]
