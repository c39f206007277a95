"""Task kinds and target validation (sklearn_mtl.tasks) as MultiTaskRecommender applies them:
binary, regression and multiclass tasks in one model, and errors that name the task or column."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from conftest import slow_except

from sklearn_mtl import MultiTaskRecommender
from sklearn_mtl.metrics import per_task_scores

ARCHITECTURES = ["hard", "soft", "mmoe", "single"]


# "hard" by default; the other architectures with the slow tests.
@pytest.mark.parametrize("architecture", slow_except(ARCHITECTURES, keep=("hard",)))
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
