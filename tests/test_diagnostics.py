"""The gradient-conflict diagnostic (sklearn_mtl.diagnostics): GradientConflict leaves the fit
unchanged, records the task-gradient cosines, and reaches compare_transfer's report."""

from __future__ import annotations

import numpy as np
import pytest

from sklearn_mtl import MultiTaskRecommender, compare_transfer
from sklearn_mtl.datasets import make_multitask_data
from sklearn_mtl.diagnostics import GradientConflict


def test_gradient_conflict_callback_changes_nothing_and_reaches_the_report(tmp_path):
    X, Y = make_multitask_data(n_samples=800, n_features=6, task_correlation=0.0, random_state=0)
    params = dict(max_epochs=4, hidden_units=(8,), random_state=0)
    names = ["task_0", "task_1"]
    tracked = MultiTaskRecommender("hard", callbacks=[GradientConflict(names, 256)], **params).fit(X, Y)
    plain = MultiTaskRecommender("hard", **params).fit(X, Y)
    np.testing.assert_array_equal(tracked.predict(X), plain.predict(X))  # no side effects
    cosines = tracked.history_[:, "grad_cosine_mean"]
    assert len(cosines) == tracked.n_epochs_ and all(-1 <= c <= 1 for c in cosines)
    assert set(tracked.history_[-1, "grad_cosine"]) == {"task_0|task_1"}
    single = MultiTaskRecommender("single", callbacks=[GradientConflict(names)], **params).fit(X, Y)
    assert "grad_cosine" not in single.history_[-1]  # nothing is shared
    with pytest.raises(ValueError, match="sample_size=0 is not valid"):
        MultiTaskRecommender("hard", callbacks=[GradientConflict(names, 0)], **params).fit(X, Y)
    with pytest.raises(ValueError, match="got 3 task names"):
        MultiTaskRecommender("hard", callbacks=[GradientConflict([*names, "x"])], **params).fit(X, Y)

    rep = compare_transfer(
        {"mmoe": MultiTaskRecommender("mmoe", callbacks=[GradientConflict(names, 256)], **params)},
        X, Y, cv=2, n_repeats=1, random_state=0,
    )
    conflict = rep.gradient_conflict
    assert list(conflict.columns) == ["model", "fold", "epoch", "pair", "task_a", "task_b", "cosine"]
    assert set(conflict["model"]) == {"mmoe"} and len(conflict) == 2 * 4  # folds x epochs
    last = conflict[conflict["epoch"] == 4]["cosine"].mean()
    assert rep.summary()["grad_cosine"].tolist() == pytest.approx([last, last])
    assert f"mmoe {last:+.3f}" in repr(rep) and "grad_cosine" in rep.to_markdown()
    assert [p.name for p in rep.to_csv(tmp_path)][-1] == "gradient_conflict.csv"


@pytest.mark.skipif("track_gradient_conflict" not in MultiTaskRecommender().get_params(),
                    reason="the estimator has no track_gradient_conflict parameter yet")
def test_track_gradient_conflict_parameter():
    X, Y = make_multitask_data(n_samples=500, n_features=6, task_correlation=0.0, random_state=0)
    model = MultiTaskRecommender("hard", track_gradient_conflict=True, max_epochs=2, random_state=0)
    assert np.isfinite(model.fit(X, Y).history_[-1, "grad_cosine_mean"])
    rep = compare_transfer({"hard": model}, X, Y, cv=2, random_state=0)
    assert set(rep.gradient_conflict["model"]) == {"hard"}  # the single reference records nothing
