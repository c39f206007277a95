"""scikit-learn's metadata routing: sample_weight to the fits, groups and weights to the scorer,
through cross_validate, GridSearchCV, Pipeline, compare_transfer and tune; and the same calls
with routing off, as before routing existed.

The real MovieLens slice (user ids as groups) is used where per-user scores need users; each
routed result is checked against the same fits and scores done by hand.
"""

from __future__ import annotations

import numpy as np
import pytest
import sklearn
from sklearn import metrics as skm
from sklearn.exceptions import UnsetMetadataPassedError
from sklearn.model_selection import GridSearchCV, GroupKFold, cross_validate
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import FunctionTransformer

from sklearn_mtl import MultiTaskRecommender, PerTaskLGBM, compare_transfer
from sklearn_mtl.metrics import gauc_score, make_multitask_scorer, per_task_scores
from sklearn_mtl.tuning import tune


@pytest.fixture(scope="module")
def liked(movielens):
    """3,000 MovieLens ratings: ids and item features, one binary task, users as groups."""
    X, Y = movielens
    X, Y = X.iloc[:3000].reset_index(drop=True), Y[["liked"]].iloc[:3000].reset_index(drop=True)
    users = X["user_id"].to_numpy()
    weights = np.random.default_rng(0).uniform(0.2, 3.0, size=len(X))
    return X, Y, users, weights


def _lgbm():
    return PerTaskLGBM(n_estimators=15, num_leaves=7, n_jobs=1, verbose=-1, random_state=0)


def _net():
    return MultiTaskRecommender("hard", hidden_units=(16,), tower_units=(8,), max_epochs=2,
                                batch_size=256, random_state=0)


def _by_hand(model, X, Y, folds, users=None, fit_weights=None, score_weights=None,
             metric="roc_auc"):
    """The fold scores of ``model`` fitted and scored without any scikit-learn machinery."""
    scores = []
    for train, test in folds:
        fitted = sklearn.clone(model).fit(
            X.iloc[train], Y.iloc[train],
            sample_weight=None if fit_weights is None else fit_weights[train])
        scores.append(per_task_scores(
            fitted, X.iloc[test], Y.iloc[test], metric=metric,
            groups=None if users is None else users[test],
            sample_weight=None if score_weights is None else score_weights[test])["liked"])
    return np.array(scores)


@pytest.mark.parametrize("make", [_lgbm, _net], ids=["lgbm", "recommender"])
def test_cross_validate_routes_sample_weight_to_fit_and_groups_to_the_scorer(liked, make):
    X, Y, users, w = liked
    cv = GroupKFold(3)
    folds = list(cv.split(X, Y, users))
    with sklearn.config_context(enable_metadata_routing=True):
        model = make().set_fit_request(sample_weight=True)
        scoring = {
            "gauc": make_multitask_scorer("gauc").set_score_request(groups=True,
                                                                    sample_weight=False),
            "auc_w": make_multitask_scorer("roc_auc").set_score_request(sample_weight=True,
                                                                        groups=False),
        }
        result = cross_validate(model, X, Y, cv=cv, scoring=scoring,
                                params={"sample_weight": w, "groups": users})
    weighted_gauc = _by_hand(make(), X, Y, folds, users=users, fit_weights=w, metric="gauc")
    np.testing.assert_allclose(result["test_gauc"], weighted_gauc, rtol=1e-6)
    np.testing.assert_allclose(result["test_auc_w"],
                               _by_hand(make(), X, Y, folds, fit_weights=w, score_weights=w),
                               rtol=1e-6)
    # The weights changed the fits: unweighted ones score otherwise.
    assert not np.allclose(result["test_gauc"],
                           _by_hand(make(), X, Y, folds, users=users, metric="gauc"))


@pytest.mark.parametrize("make", [_lgbm, _net], ids=["lgbm", "recommender"])
def test_grid_search_routes_through_a_pipeline(liked, make):
    X, Y, users, w = liked
    identity = FunctionTransformer()  # a step that takes no metadata
    with sklearn.config_context(enable_metadata_routing=True):
        pipe = Pipeline([("pass", identity), ("model", make().set_fit_request(sample_weight=True))])
        scorer = make_multitask_scorer("gauc").set_score_request(groups=True,
                                                                 sample_weight=False)
        param = "model__random_state"
        search = GridSearchCV(pipe, {param: [0, 1]}, cv=GroupKFold(2), scoring=scorer,
                              refit=False).fit(X, Y, sample_weight=w, groups=users)
    folds = list(GroupKFold(2).split(X, Y, users))
    for seed, mean in zip([0, 1], search.cv_results_["mean_test_score"]):
        by_hand = _by_hand(make().set_params(random_state=seed), X, Y, folds, users=users,
                           fit_weights=w, metric="gauc")
        assert mean == pytest.approx(by_hand.mean(), rel=1e-6)


def test_unrequested_metadata_is_scikit_learns_error(liked):
    X, Y, users, w = liked
    with sklearn.config_context(enable_metadata_routing=True):
        with pytest.raises(UnsetMetadataPassedError, match="PerTaskLGBM.fit"):
            cross_validate(_lgbm(), X, Y, cv=2, params={"sample_weight": w})
        with pytest.raises(UnsetMetadataPassedError, match="MultiTaskScorer.score"):
            cross_validate(_lgbm().set_fit_request(sample_weight=True), X, Y, cv=2,
                           scoring=make_multitask_scorer(), params={"sample_weight": w})
        with pytest.raises(UnsetMetadataPassedError, match="PerTaskLGBM.fit.*compare_transfer"):
            compare_transfer({"lgbm": _lgbm()}, X, Y, reference=_lgbm(), cv=2, sample_weight=w)
        with pytest.raises(UnsetMetadataPassedError, match="PerTaskLGBM.fit.*tune"):
            tune(_lgbm(), X, Y, n_trials=1, sample_weight=w)
        with pytest.raises(TypeError, match="takes \\['groups', 'sample_weight'\\]"):
            make_multitask_scorer().set_score_request(user=True)


def test_without_routing_everything_works_as_before(liked):
    X, Y, users, w = liked
    assert not sklearn.get_config()["enable_metadata_routing"]
    with pytest.raises(RuntimeError, match="enable_metadata_routing"):
        make_multitask_scorer().set_score_request(groups=True)
    folds = list(GroupKFold(2).split(X, Y, users))
    # params reach fit directly; groups reach the splitter; the scorer reads users from X.
    result = cross_validate(_lgbm(), X, Y, cv=GroupKFold(2), groups=users,
                            params={"sample_weight": w},
                            scoring=make_multitask_scorer("gauc", group_by="user_id"))
    np.testing.assert_allclose(result["test_score"],
                               _by_hand(_lgbm(), X, Y, folds, users=users, fit_weights=w,
                                        metric="gauc"), rtol=1e-6)
    # A Pipeline takes its last step's weights by name, as scikit-learn's does.
    pipe = Pipeline([("pass", FunctionTransformer()), ("model", _lgbm())])
    search = GridSearchCV(pipe, {"model__num_leaves": [7]}, cv=folds,
                          scoring=make_multitask_scorer("roc_auc")).fit(X, Y, model__sample_weight=w)
    assert search.best_score_ == pytest.approx(_by_hand(_lgbm(), X, Y, folds, fit_weights=w).mean())


def test_scorer_takes_users_one_way_only(liked):
    X, Y, users, _ = liked
    model = _lgbm().fit(X, Y)
    scorer = make_multitask_scorer("gauc", group_by="user_id")
    with pytest.raises(ValueError, match="group_by='user_id'.*one way only"):
        scorer(model, X, Y, groups=users)
    assert make_multitask_scorer("gauc")(model, X, Y, groups=users) == pytest.approx(
        scorer(model, X, Y))


@pytest.mark.parametrize("enabled", [False, True], ids=["routing-off", "routing-on"])
def test_compare_transfer_weights_every_fit(liked, enabled):
    X, Y, users, w = liked
    folds = list(GroupKFold(2).split(X, Y, users))
    with sklearn.config_context(enable_metadata_routing=enabled):
        model = _lgbm().set_fit_request(sample_weight=True) if enabled else _lgbm()
        pipe = Pipeline([("pass", FunctionTransformer()), ("model", model)])
        report = compare_transfer({"pipe": pipe}, X, Y, reference=model, cv=folds,
                                  groups=users, metric="gauc", sample_weight=w)
    scores = report.scores.set_index(["model", "fold"])["score"]
    by_hand = _by_hand(_lgbm(), X, Y, folds, users=users, fit_weights=w, metric="gauc")
    np.testing.assert_allclose(scores.loc["pipe"].to_numpy(), by_hand, rtol=1e-6)
    np.testing.assert_allclose(scores.loc["reference"].to_numpy(), by_hand, rtol=1e-6)


@pytest.mark.parametrize("enabled", [False, True], ids=["routing-off", "routing-on"])
def test_tune_splits_by_groups_scores_per_user_and_weights_fits(liked, enabled):
    X, Y, users, w = liked
    with sklearn.config_context(enable_metadata_routing=enabled):
        model = _lgbm().set_fit_request(sample_weight=True) if enabled else _lgbm()
        result = tune(model, X, Y, n_trials=2, cv=GroupKFold(2), groups=users, metric="gauc",
                      sample_weight=w, pruner=None, random_state=0)
    folds = list(GroupKFold(2).split(X, Y, users))
    best = _lgbm().set_params(**result.best_params_)
    assert result.best_score_ == pytest.approx(
        _by_hand(best, X, Y, folds, users=users, fit_weights=w, metric="gauc").mean(), rel=1e-6)
    refit = best.fit(X, Y, sample_weight=w)
    np.testing.assert_allclose(result.best_estimator_.predict_proba(X)[0][:, 1],
                               refit.predict_proba(X)[0][:, 1])
    with pytest.raises(ValueError, match="splits by groups: pass groups="):
        tune(_lgbm(), X, Y, n_trials=1, cv=GroupKFold(2))
    with pytest.warns(UserWarning, match="groups= is not used"):
        tune(_lgbm(), X, Y, n_trials=1, groups=users, refit=False)


def test_estimator_score_takes_sample_weight(liked):
    X, Y, _, w = liked
    model = _lgbm().fit(X, Y)
    expected = skm.roc_auc_score(Y["liked"], model.predict_proba(X)[0][:, 1], sample_weight=w)
    assert model.score(X, Y, sample_weight=w) == pytest.approx(expected)
    assert model.score(X, Y) != pytest.approx(expected)
    with sklearn.config_context(enable_metadata_routing=True):
        assert model.set_score_request(sample_weight=True) is model
    with pytest.raises(ValueError, match="sample_weight has shape \\(3,\\)"):
        model.score(X, Y, sample_weight=[1, 2, 3])


def test_weighted_gauc_is_the_weight_weighted_mean_of_weighted_per_user_auc(liked):
    X, Y, users, w = liked
    rng = np.random.default_rng(1)
    y = Y["liked"].to_numpy()
    score = np.round(rng.random(len(y)), 1)  # ties within users
    aucs, totals = [], []
    for u in np.unique(users):
        rows = users == u
        if len(np.unique(y[rows])) == 2:
            aucs.append(skm.roc_auc_score(y[rows], score[rows], sample_weight=w[rows]))
            totals.append(w[rows].sum())
    assert gauc_score(y, score, users, sample_weight=w) == pytest.approx(
        np.average(aucs, weights=totals))
    assert gauc_score(y, score, users, sample_weight=np.ones(len(y))) == pytest.approx(
        gauc_score(y, score, users))
    with pytest.raises(ValueError, match="ndcg@5' does not take sample_weight"):
        per_task_scores(_lgbm().fit(X, Y), X, Y, metric="ndcg@5", groups=users,
                        sample_weight=w)


def test_tune_reports_boosting_rounds_of_a_pipeline_with_routing_on(liked):
    X, Y, users, w = liked
    with sklearn.config_context(enable_metadata_routing=True):
        pipe = Pipeline([("pass", FunctionTransformer()),
                         ("model", _lgbm().set_params(validation_fraction=0.2)
                          .set_fit_request(sample_weight=True))])
        result = tune(pipe, X, Y, n_trials=2, sample_weight=w, random_state=0)
    trials = result.study.trials
    assert [t.state.name for t in trials] == ["COMPLETE", "COMPLETE"]
    # The pruning callback reached LightGBM through the Pipeline: one value per round (trial 0
    # fits the defaults and is never pruned, so it reports nothing).
    assert trials[0].user_attrs["defaults"] and not trials[0].intermediate_values
    assert all(len(t.intermediate_values) > 1 for t in trials[1:])
    # The user's Pipeline was not changed by the trials' requests.
    assert pipe.steps[-1][1].get_metadata_routing().fit.requests.get("callbacks") is None
