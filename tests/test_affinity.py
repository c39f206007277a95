"""Task affinity (sklearn_mtl.affinity): the lookahead affinity recorded in fit, the task groups
proposed from it or from gradient cosines, and the affinity matrix in compare_transfer's report."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import small_net, three_tasks

from sklearn_mtl import MultiTaskRecommender
from sklearn_mtl.affinity import gradient_cosine_matrix, propose_task_groups


def test_affinity_groups_two_identical_tasks_apart_from_an_unrelated_one():
    X, Y = three_tasks()
    model = MultiTaskRecommender("hard", hidden_units=(32,), tower_units=(8,), max_epochs=8,
                                 batch_size=128, track_task_affinity=True, random_state=0,
                                 lr=3e-3).fit(X, Y)
    Z = model.task_affinity_
    assert Z.shape == (3, 3)
    assert Z[0, 1] > max(Z[0, 2], Z[2, 0]) and Z[1, 0] > max(Z[1, 2], Z[2, 1])
    groups = propose_task_groups(Z, n_groups=2, names=model.task_names_)
    assert ("a", "b") in groups
    assert ("c",) in groups
    assert len(model.history_[0, "task_affinity"]) == 9


def test_affinity_tracking_does_not_change_the_fit(census_1500):
    X, Y = census_1500
    plain = small_net("mmoe", dropout=0.2).fit(X, Y)
    tracked = small_net("mmoe", dropout=0.2, track_task_affinity=True).fit(X, Y)
    np.testing.assert_array_equal(plain.predict_proba(X)[0], tracked.predict_proba(X)[0])
    assert np.isfinite(tracked.task_affinity_).all()


def test_groups_from_gradient_cosines():
    history = [{"grad_cosine": {"a|b": 0.6, "a|c": -0.2, "b|c": -0.3}},
               {"grad_cosine": {"a|b": 0.4, "a|c": -0.4, "b|c": -0.1}}]
    cos = gradient_cosine_matrix(history, ["a", "b", "c"])
    np.testing.assert_allclose(cos[0, 1], 0.5)
    assert propose_task_groups(cos, 2, names=["a", "b", "c"]) == [("a", "b"), ("c",)]
    # One network: everything together.
    assert propose_task_groups(cos, 1, names=["a", "b", "c"]) == [("a", "b", "c")]


def test_groups_may_overlap_as_in_the_paper():
    # c helps a and b, but a and b hurt each other: two networks {a, c} and {b, c}.
    Z = np.array([[0.0, -0.5, 0.0], [-0.5, 0.0, 0.0], [0.4, 0.4, 0.0]])
    groups, score = propose_task_groups(Z, 2, names=["a", "b", "c"], return_score=True)
    assert sorted(groups) == [("a", "c"), ("b", "c")]
    np.testing.assert_allclose(score, 0.8)


def test_propose_task_groups_bad_input():
    with pytest.raises(ValueError, match=r"affinity of shape \(2, 3\) is not valid"):
        propose_task_groups(np.zeros((2, 3)))
    with pytest.raises(ValueError, match="n_groups=0 is not valid"):
        propose_task_groups(np.zeros((2, 2)), 0)
    with pytest.raises(ValueError, match="names has 3 entries but affinity is 2 x 2"):
        propose_task_groups(np.zeros((2, 2)), 1, names=["a", "b", "c"])
    with pytest.raises(ValueError, match=r"tol=-1 is not valid: it must be a number in \[0, inf\)"):
        propose_task_groups(np.zeros((2, 2)), 1, tol=-1)
    with pytest.raises(ValueError, match="lower n_groups"):
        propose_task_groups(np.zeros((10, 10)), 4)


# ---------------------------------------------------------------- in the comparison
def test_compare_transfer_carries_the_affinity_matrix(tmp_path):
    import matplotlib

    matplotlib.use("Agg")
    from sklearn_mtl import compare_transfer

    X, Y = three_tasks(n=1500)
    models = {"hard": small_net("hard", track_task_affinity=True, max_epochs=2),
              "plain": small_net("hard", max_epochs=2)}
    report = compare_transfer(models, X, Y, cv=2, random_state=0)
    matrix = report.affinity_matrix()
    assert list(matrix.index) == ["a", "b", "c"] and list(matrix.columns) == ["a", "b", "c"]
    assert np.isfinite(matrix.to_numpy()).all()
    expected = report.task_affinity.query("source == 'a' and target == 'b'")
    np.testing.assert_allclose(matrix.loc["a", "b"],
                               expected.groupby("fold")["affinity"].mean().mean())
    assert len(propose_task_groups(matrix, n_groups=2)) <= 2
    assert "task_affinity.csv" in [p.name for p in report.to_csv(tmp_path)]
    assert report.plot_affinity().get_title().startswith("hard: lookahead affinity")
    with pytest.raises(ValueError, match=r"model='plain' has no recorded task affinity"):
        report.affinity_matrix("plain")
    plain = compare_transfer({"plain": small_net("hard", max_epochs=1)}, X, Y, cv=2)
    with pytest.raises(ValueError, match="no task affinity was recorded"):
        plain.affinity_matrix()
