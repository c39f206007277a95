"""compare_transfer(fused=): the served score, tasks fused and scored per user like a task."""

import numpy as np
import pandas as pd
import pytest
from sklearn.model_selection import KFold

from sklearn_mtl import PerTaskLGBM, TransferReport, compare_transfer
from sklearn_mtl.metrics import gauc_score, ndcg_at_k_score
from sklearn_mtl.transfer import FusedScore


def _lgbm(**kw):
    return PerTaskLGBM(n_estimators=15, num_leaves=7, n_jobs=1, verbose=-1, **kw)


def click_purchase_events(movielens, n):
    """MovieLens ratings of its 100 most active users as events with the films' features:
    click = rating >= 4, purchase = rating 5 (a purchase is a click)."""
    X, Y = movielens
    users = X["user_id"].value_counts().index[:100]
    rows = X.index[X["user_id"].isin(users)][:n]
    features = X.loc[rows].drop(columns=["zip_code", "occupation", "gender"]).reset_index(drop=True)
    features["user_id"] = features["user_id"].astype(np.int64)
    features["item_id"] = features["item_id"].astype(np.int64)
    rating = Y.loc[rows, "rating"].to_numpy()
    return features, pd.DataFrame({"click": (rating >= 4).astype(int),
                                   "purchase": (rating == 5).astype(int)})


def test_fused_product_is_scored_per_user_like_a_task(movielens):
    X, Y = click_purchase_events(movielens, n=1500)
    folds = list(KFold(3, shuffle=True, random_state=0).split(X))
    fused = FusedScore(["click", "purchase"])
    report = compare_transfer({"deep": _lgbm(max_depth=3)}, X, Y, reference=_lgbm(), cv=folds,
                              groups="user_id", fused=fused, return_estimators=True)
    assert report.metric[fused.name] == "gauc" and report.fused == [fused.name]
    summary = report.summary()
    assert ("deep", "fused: click × purchase") in summary.index
    # The per-split score is the GAUC of pCTR x pCVR against the purchase label on the test rows.
    for split, (_, test) in enumerate(folds):
        for model in ("deep", "reference"):
            proba = report.estimators[(model, split)].predict_proba(X.iloc[test])
            expected = gauc_score(Y["purchase"].iloc[test], proba[0][:, 1] * proba[1][:, 1],
                                  X["user_id"].iloc[test])
            got = report.scores.query("model == @model and fold == @split and task == @fused.name")
            assert got["score"].item() == pytest.approx(expected)
    # It is one more member of the Bonferroni family and of the ship decision.
    assert summary["p_value"].notna().sum() == 3
    assert "fused: click × purchase" in report.verdict_lines()[0]


def test_fused_score_per_activity_segment(movielens):
    X, Y = click_purchase_events(movielens, n=1500)
    fused = FusedScore(["click", "purchase"])
    report = compare_transfer({"deep": _lgbm(max_depth=3)}, X, Y, reference=_lgbm(), cv=3,
                              random_state=0, groups="user_id", fused=fused,
                              segments="user_activity")
    table = report.segments()
    assert set(table.index.get_level_values("task")) == {"click", "purchase", fused.name}
    assert (table.xs(fused.name, level="task")["metric"] == "gauc").all()


def test_fused_weighted_sum_with_ndcg(movielens):
    X, Y = click_purchase_events(movielens, n=900)
    fused = FusedScore(["click", "purchase"], how="sum", weights={"click": 1, "purchase": 3},
                       label="purchase", metric="ndcg@5")
    model = _lgbm().fit(X, Y)
    proba = model.predict_proba(X)
    expected = ndcg_at_k_score(Y["purchase"], proba[0][:, 1] + 3 * proba[1][:, 1], X["user_id"],
                               k=5)
    assert fused.score(model, X, Y, X["user_id"].to_numpy()) == pytest.approx(expected)
    assert fused.name == "fused: 1·click + 3·purchase"


def test_wins_every_task_loses_the_ranking_is_said():
    rows = []
    for fold in range(6):
        for model, ctr, fused in (("hard", 0.80 + fold * 1e-3, 0.60 + fold * 2e-3),
                                  ("reference", 0.75 + fold * 1.2e-3, 0.70 + fold * 1e-3)):
            rows += [dict(model=model, task="ctr", fold=fold, score=ctr),
                     dict(model=model, task="fused: ctr × cvr", fold=fold, score=fused)]
    report = TransferReport(pd.DataFrame(rows), n_folds=6,
                            metric={"ctr": "roc_auc", "fused: ctr × cvr": "gauc"},
                            fused=["fused: ctr × cvr"])
    assert report.summary().loc[("hard", "ctr"), "verdict"] == "better"
    assert ("hard: wins or ties every task, loses the served ranking (fused: ctr × cvr: worse)"
            in repr(report))
    assert report.ship().loc["hard", "decision"] == "cannot ship"


def test_bad_fused_scores_are_refused(movielens):
    X, Y = click_purchase_events(movielens, n=300)
    run = dict(reference=_lgbm(), cv=3, groups="user_id")
    cases = [
        (FusedScore(["click", "buy"]), "'buy' is not a task of Y"),
        (FusedScore(["click", "purchase"], weights=[1, 2]), "weights=\\[1, 2\\] is for how='sum'"),
        (FusedScore(["click", "purchase"], how="max"), "how='max' is not valid"),
        (FusedScore(["click", "purchase"], how="sum", weights=[1]), "give one finite number"),
        (FusedScore(["click"], metric="auc"), "metric='auc' is not valid"),
        (FusedScore(["click"], name="click"), "name='click' is not valid"),
        ("click", "fused='click' is not valid"),
    ]
    for fused, message in cases:
        with pytest.raises(ValueError, match=message):
            compare_transfer({"m": _lgbm()}, X, Y, fused=fused, **run)
    with pytest.raises(ValueError, match="scores per user: pass groups="):
        compare_transfer({"m": _lgbm()}, X, Y, reference=_lgbm(), cv=3,
                         fused=FusedScore(["click", "purchase"]))
    Y2 = Y.assign(spend=np.arange(len(Y), dtype=float) / 7)
    with pytest.raises(ValueError, match="metric='gauc' needs a binary label; 'spend' is regr"):
        compare_transfer({"m": _lgbm()}, X, Y2, fused=FusedScore(["click", "spend"], how="sum"),
                         **run)
