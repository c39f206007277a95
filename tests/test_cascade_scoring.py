"""compare_transfer(cascade_scoring=...) (sklearn_mtl/transfer/_cascade.py): a cascaded child scored
over the entire space or on the parent-positive rows, every model trained on the same labels."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from conftest import FAST

from sklearn_mtl import MultiTaskRecommender, PerTaskLGBM, compare_transfer
from sklearn_mtl._resampling import cv_splits
from sklearn_mtl.datasets import make_multitask_data


def _cascade_comparison(**kwargs):
    """ESMM and PerTaskLGBM on the generator's raw labels (purchase NaN off the clicks)."""
    from sklearn_mtl.datasets import make_ctr_cvr_data

    X, Y = make_ctr_cvr_data(n_samples=2000, random_state=0)
    models = {"esmm": MultiTaskRecommender("esmm", **{**FAST, "max_epochs": 2}),
              "lgbm": PerTaskLGBM(n_estimators=10, n_jobs=1, verbose=-1)}
    report = compare_transfer(models, X, Y, cv=2, n_repeats=1, random_state=0,
                              return_estimators=True, **kwargs)
    _, train, test = cv_splits(2, Y, 0, 1)[0]
    return report, X, Y, train, test


def _fold_score(report, model, task, fold=0):
    s = report.scores
    return s[(s["model"] == model) & (s["fold"] == fold) & (s["task"] == task)]["score"].item()


def test_compare_transfer_scores_a_cascaded_child_over_the_entire_space_by_default():
    from sklearn.metrics import roc_auc_score

    report, X, Y, train, test = _cascade_comparison()
    assert report.cascade == {"purchase": "click"}
    assert report.cascade_scoring == "entire_space"
    assert "'purchase' scored over the entire space" in report._protocol()
    # Every test impression, purchase read 0 where click is 0, against predict_proba (pCTCVR
    # for ESMM, the reference's and LightGBM's direct model of the child).
    X_test, truth = X.iloc[test], Y["purchase"].iloc[test].fillna(0.0)
    for name in ("esmm", "lgbm", "reference"):
        proba = report.estimators[(name, 0)].predict_proba(X_test)[1][:, 1]
        assert _fold_score(report, name, "purchase") == pytest.approx(roc_auc_score(truth, proba))
    # The models without the cascade learnt the child over all impressions, not on the clicks.
    by_hand = PerTaskLGBM(n_estimators=10, n_jobs=1, verbose=-1).fit(
        X.iloc[train], Y.iloc[train].fillna(0.0))
    np.testing.assert_allclose(report.estimators[("lgbm", 0)].predict_proba(X_test)[1],
                               by_hand.predict_proba(X_test)[1])
    click = report.estimators[("esmm", 0)].predict_proba(X_test)[0][:, 1]
    assert _fold_score(report, "esmm", "click") == pytest.approx(
        roc_auc_score(Y["click"].iloc[test], click))


def test_compare_transfer_cascade_scoring_parent_positive_scores_the_clicked_rows():
    from sklearn.metrics import roc_auc_score

    report, X, Y, train, test = _cascade_comparison(cascade_scoring="parent_positive")
    assert report.cascade_scoring == "parent_positive"
    assert "'purchase' scored on the 'click'-positive rows" in report._protocol()
    clicked = test[Y["click"].to_numpy()[test] == 1]
    X_clicked, truth = X.iloc[clicked], Y["purchase"].iloc[clicked]
    esmm = report.estimators[("esmm", 0)]
    pcvr = esmm.predict_conditional_proba(X_clicked)[1][:, 1]
    assert _fold_score(report, "esmm", "purchase") == pytest.approx(roc_auc_score(truth, pcvr))
    assert not np.allclose(pcvr, esmm.predict_proba(X_clicked)[1][:, 1])
    for name in ("lgbm", "reference"):
        proba = report.estimators[(name, 0)].predict_proba(X_clicked)[1][:, 1]
        assert _fold_score(report, name, "purchase") == pytest.approx(roc_auc_score(truth, proba))
    # LightGBM learnt the child on the clicked rows only (the naive conditional model).
    by_hand = PerTaskLGBM(n_estimators=10, n_jobs=1, verbose=-1).fit(X.iloc[train], Y.iloc[train])
    np.testing.assert_allclose(report.estimators[("lgbm", 0)].predict_proba(X_clicked)[1],
                               by_hand.predict_proba(X_clicked)[1])
    # The parent is scored as usual, on every test row.
    click = esmm.predict_proba(X.iloc[test])[0][:, 1]
    assert _fold_score(report, "esmm", "click") == pytest.approx(
        roc_auc_score(Y["click"].iloc[test], click))


def test_compare_transfer_cascade_scoring_bad_value():
    X, Y = make_multitask_data(n_samples=100, n_features=4, random_state=0)
    with pytest.raises(ValueError, match=r"cascade_scoring='clicked' is not valid: use one of "
                                         r"\['entire_space', 'parent_positive'\]"):
        compare_transfer({"hard": MultiTaskRecommender("hard", **FAST)}, X, Y, cv=2,
                         cascade_scoring="clicked")
    rng = np.random.default_rng(0)
    Y = pd.DataFrame(rng.integers(0, 2, size=(100, 3)), columns=["a", "b", "c"])
    models = {"esmm": MultiTaskRecommender("esmm", **FAST),  # c's parent is b
              "hard": MultiTaskRecommender("hard", cascade={"c": "a"}, **FAST)}
    with pytest.raises(ValueError, match="model 'hard' cascades 'c' from 'a' but another model "
                                         "from 'b'"):
        compare_transfer(models, X, Y, cv=2)
