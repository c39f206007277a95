"""PerTaskLGBM (sklearn_mtl._lgbm) on the real census data: fitted attributes, quality, target
kinds, missing labels, categories, parameters, callbacks, sample weights, sparse input, threads.

scikit-learn's reference suite over PerTaskLGBM is in test_estimator_checks.py. Each test here
that reads the census file gets it from a fixture, which skips that test when it is missing.
"""

from __future__ import annotations

import os
import pickle
import warnings

import lightgbm as lgb
import numpy as np
import pandas as pd
import pytest
from scipy import sparse
from sklearn.base import clone
from sklearn.exceptions import NotFittedError
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import GridSearchCV, train_test_split

from sklearn_mtl import PerTaskLGBM
from sklearn_mtl.datasets._census import COLUMNS as CENSUS_COLUMNS  # UCI's column order
from sklearn_mtl.metrics import make_multitask_scorer, per_task_scores

TASKS = ["income", "never_married"]
SMALL = dict(n_estimators=40, random_state=0, n_jobs=1)


@pytest.fixture(scope="module")
def raw_census(census_file) -> pd.DataFrame:
    """The census test split read as UCI ships it: text columns left as str."""
    return pd.read_csv(census_file, header=None, names=CENSUS_COLUMNS, sep=",",
                       skipinitialspace=True)


@pytest.fixture(scope="module")
def load_census(raw_census):
    def load(categorical: bool = True) -> tuple[pd.DataFrame, pd.DataFrame]:
        """X (text columns as category, or left as str) and the two standard MMoE tasks."""
        raw = raw_census
        Y = pd.DataFrame({
            "income": (raw["income"] == "50000+.").astype(int),
            "never_married": (raw["marital stat"] == "Never married").astype(int),
        })
        X = raw.drop(columns=["income", "marital stat", "instance weight"])
        if categorical:
            text = X.select_dtypes(exclude="number").columns
            X[text] = X[text].astype("category")
        return X, Y

    return load


@pytest.fixture(scope="module")
def census_slice(load_census):
    def census_slice(n_train=5000, n_test=2000, categorical=True):
        X, Y = load_census(categorical)
        X_train, X_test, Y_train, Y_test = train_test_split(
            X, Y, train_size=n_train, test_size=n_test, stratify=Y["income"], random_state=0
        )
        return (X_train.reset_index(drop=True), X_test.reset_index(drop=True),
                Y_train.reset_index(drop=True), Y_test.reset_index(drop=True))

    return census_slice


@pytest.mark.slow
def test_census_defaults_reach_reference_auc(load_census):
    X, Y = load_census()
    X_train, X_test, Y_train, Y_test = train_test_split(
        X, Y, test_size=0.3, stratify=Y["income"], random_state=0
    )
    # n_jobs does not change the model; one thread keeps the test from crawling when the CPUs
    # are shared (LightGBM's OpenMP threads spin-wait for each other when oversubscribed).
    model = PerTaskLGBM(random_state=0, n_jobs=1).fit(X_train, Y_train)
    scores = per_task_scores(model, X_test, Y_test)
    assert scores["income"] >= 0.945
    assert scores["never_married"] >= 0.99
    assert model.score(X_test, Y_test) == pytest.approx(np.mean(list(scores.values())))


def test_fitted_attributes_and_outputs(census_slice):
    X_train, X_test, Y_train, Y_test = census_slice()
    model = PerTaskLGBM(**SMALL).fit(X_train, Y_train)
    assert model.tasks_ == ["binary", "binary"]
    assert model.task_names_ == TASKS
    assert [c.tolist() for c in model.classes_] == [[0, 1], [0, 1]]
    assert model.n_features_in_ == X_train.shape[1] == len(model.feature_names_in_)
    assert [type(m) for m in model.estimators_] == [lgb.LGBMClassifier] * 2
    assert model.feature_importances_.shape == (2, X_train.shape[1])
    assert set(model.categories_) == set(X_train.select_dtypes("category").columns)
    pred = model.predict(X_test)
    assert pred.shape == (len(X_test), 2)
    proba = model.predict_proba(X_test)
    assert [p.shape for p in proba] == [(len(X_test), 2)] * 2
    np.testing.assert_array_equal(pred[:, 1], proba[1].argmax(axis=1))
    assert roc_auc_score(Y_test["never_married"], proba[1][:, 1]) > 0.97


def test_one_d_target_string_labels_and_mixed_tasks(census_slice, raw_census, load_census):
    X_train, X_test, _, _ = census_slice(n_train=3000, n_test=500)
    raw = raw_census
    income_text = raw["income"].iloc[:3000].to_numpy()
    X3 = load_census()[0].iloc[:3000]
    one = PerTaskLGBM(**SMALL).fit(X3, pd.Series(income_text, name="income"))
    assert one.predict(X3).shape == (3000,)
    assert set(one.predict(X3)) <= {"- 50000.", "50000+."}
    assert one.predict_proba(X3).shape == (3000, 2)

    # A regression task beside a classification one: raw values, None in predict_proba.
    Y = pd.DataFrame({"income": income_text, "age": X3["age"].astype(float)})
    # Whole years would be inferred as 91 classes: say that age is a quantity.
    mixed = PerTaskLGBM(tasks={"age": "regression"}, **SMALL).fit(X3.drop(columns="age"), Y)
    assert mixed.tasks_ == ["binary", "regression"]
    pred = mixed.predict(X3.drop(columns="age"))
    assert pred.dtype == object and pred.shape == (3000, 2)
    assert 0 <= pred[:, 1].astype(float).mean() < 100  # years, not standardized units
    proba = mixed.predict_proba(X3.drop(columns="age"))
    assert proba[0].shape == (3000, 2) and proba[1] is None
    regression_only = PerTaskLGBM(tasks="regression", **SMALL).fit(X3.drop(columns="age"), Y[["age"]])
    assert not hasattr(regression_only, "predict_proba")


def test_fits_the_package_census_fetcher_output(data_home, census_file):
    # The fetcher's frame has integer-valued category columns and UCI's "?" as missing values.
    from sklearn_mtl.datasets import fetch_census_income

    X, Y = fetch_census_income(data_home, subset="test", download_if_missing=False,
                               return_X_y=True)
    model = PerTaskLGBM(**SMALL).fit(X.iloc[:3000], Y.iloc[:3000])
    assert model.task_names_ == TASKS
    assert model.score(X.iloc[3000:5000], Y.iloc[3000:5000]) > 0.9


def test_grid_search_with_per_task_scoring_refits_on_one_task(census_slice):
    X_train, _, Y_train, _ = census_slice(n_train=3000)
    scoring = {task: make_multitask_scorer("roc_auc", task=task) for task in TASKS}
    search = GridSearchCV(
        PerTaskLGBM(n_estimators=20, n_jobs=1, random_state=0),
        {"num_leaves": [4, 15]},
        scoring=scoring,
        refit="income",
        cv=2,
    ).fit(X_train, Y_train)
    results = search.cv_results_
    assert {"mean_test_income", "mean_test_never_married"} <= set(results)
    assert search.best_index_ == int(np.argmax(results["mean_test_income"]))
    assert search.best_estimator_.num_leaves == search.best_params_["num_leaves"]
    assert np.all(results["mean_test_never_married"] > 0.9)


def test_missing_labels_train_each_task_on_its_labelled_rows(census_slice):
    X_train, X_test, Y_train, Y_test = census_slice()
    rng = np.random.default_rng(0)
    Y_missing = Y_train.astype(float)
    Y_missing.loc[rng.random(len(Y_missing)) < 0.3, "never_married"] = np.nan
    model = PerTaskLGBM(**SMALL).fit(X_train, Y_missing)
    labelled = Y_missing["never_married"].notna().to_numpy()
    alone = lgb.LGBMClassifier(**model.estimators_[1].get_params()).fit(
        model._validate_X(X_train, reset=False)[labelled],
        Y_train["never_married"][labelled],
    )
    np.testing.assert_allclose(
        model.predict_proba(X_test)[1],
        alone.predict_proba(model._validate_X(X_test, reset=False)),
    )
    Y_test_missing = Y_test.astype(float)
    Y_test_missing.iloc[::3, 1] = np.nan
    scores = per_task_scores(model, X_test, Y_test_missing)
    assert scores["never_married"] > 0.97
    assert np.isfinite(model.score(X_test, Y_test_missing))


def test_text_columns_and_unseen_categories_at_predict(census_slice):
    X_train, X_test, Y_train, _ = census_slice(categorical=False)  # str columns straight in
    model = PerTaskLGBM(**SMALL).fit(X_train, Y_train)
    assert "education" in model.categories_
    unseen, missing = X_test.copy(), X_test.copy()
    unseen["education"] = "Postdoc from Mars"
    missing["education"] = np.nan
    np.testing.assert_allclose(model.predict_proba(unseen)[0], model.predict_proba(missing)[0])
    # Category dtype at predict with a different category list decodes by value, not by code.
    as_category = X_test.copy()
    as_category["education"] = pd.Categorical(
        X_test["education"], categories=sorted(X_test["education"].unique(), reverse=True)
    )
    np.testing.assert_allclose(model.predict_proba(as_category)[0], model.predict_proba(X_test)[0])


def test_per_task_params_override_one_task(census_slice):
    X_train, _, Y_train, _ = census_slice(n_train=2000)
    model = PerTaskLGBM(**SMALL, per_task_params={"never_married": {"n_estimators": 7}})
    model.fit(X_train, Y_train)
    assert model.estimators_[0].n_estimators == 40
    assert model.estimators_[1].n_estimators == 7
    assert model.estimators_[1].booster_.num_trees() == 7
    with pytest.raises(ValueError, match=r"per_task_params names tasks \['married'\]"):
        model.set_params(per_task_params={"married": {}}).fit(X_train, Y_train)


def test_early_stopping_with_validation_fraction(census_slice):
    X_train, _, Y_train, _ = census_slice(n_train=3000)
    model = PerTaskLGBM(n_estimators=2000, learning_rate=0.3, validation_fraction=0.2,
                        early_stopping_rounds=5, random_state=0, n_jobs=1)
    model.fit(X_train, Y_train)
    assert all(0 < m.best_iteration_ < 2000 for m in model.estimators_)


def test_lightgbm_callbacks_reach_every_task_fit(census_slice):
    X_train, _, Y_train, _ = census_slice(n_train=2000)
    seen = []

    def record(env):
        seen.append((env.iteration, [entry[:2] for entry in env.evaluation_result_list]))

    model = PerTaskLGBM(n_estimators=2000, learning_rate=0.3, validation_fraction=0.2,
                        early_stopping_rounds=5, random_state=0, n_jobs=1)
    model.fit(X_train, Y_train, callbacks=[record])
    # Every round of both tasks, up to 5 (early_stopping_rounds) past each task's best one.
    rounds = [m.best_iteration_ + 5 for m in model.estimators_]
    assert [it for it, _ in seen] == [*range(rounds[0]), *range(rounds[1])]
    assert seen[0][1] == [("valid_0", "binary_logloss")]
    with pytest.raises(ValueError, match=r"callbacks=<function.*use a list of LightGBM callbacks"):
        model.fit(X_train, Y_train, callbacks=record)


def test_pickle_round_trip_gives_equal_predictions(census_slice):
    X_train, X_test, Y_train, _ = census_slice(n_train=2000)
    model = PerTaskLGBM(**SMALL).fit(X_train, Y_train)
    restored = pickle.loads(pickle.dumps(model))
    np.testing.assert_array_equal(restored.predict(X_test), model.predict(X_test))
    np.testing.assert_array_equal(restored.predict_proba(X_test)[0],
                                  model.predict_proba(X_test)[0])


def test_lightgbm_kwargs_survive_get_params_set_params_and_clone(census_slice):
    model = PerTaskLGBM(n_estimators=5, n_jobs=1, min_split_gain=0.5, importance_type="gain")
    params = model.get_params()
    assert params["min_split_gain"] == 0.5 and params["importance_type"] == "gain"
    copy = clone(model)
    assert copy.get_params() == params
    copy.set_params(min_split_gain=0.25, extra_trees=True, num_leaves=7)
    assert copy.get_params()["min_split_gain"] == 0.25
    assert copy.get_params()["extra_trees"] is True and copy.num_leaves == 7
    assert model.get_params()["min_split_gain"] == 0.5  # the clone owns its kwargs
    assert "min_split_gain=0.5" in repr(model)
    with pytest.raises(ValueError, match="Invalid parameter"):
        copy.set_params(estimator__depth=3)
    X_train, _, Y_train, _ = census_slice(n_train=1000)
    copy.fit(X_train, Y_train)
    assert copy.estimators_[0].get_params()["extra_trees"] is True
    assert copy.feature_importances_.dtype.kind == "f"  # "gain" importances are floats


def test_sample_weight_changes_the_fit(census_slice):
    X_train, X_test, Y_train, _ = census_slice(n_train=2000)
    base = PerTaskLGBM(**SMALL).fit(X_train, Y_train)
    ones = PerTaskLGBM(**SMALL).fit(X_train, Y_train, sample_weight=np.ones(len(X_train)))
    np.testing.assert_allclose(ones.predict_proba(X_test)[0], base.predict_proba(X_test)[0])
    weight = np.where(Y_train["income"] == 1, 10.0, 1.0)
    weighted = PerTaskLGBM(**SMALL).fit(X_train, Y_train, sample_weight=weight)
    assert weighted.predict_proba(X_test)[0][:, 1].mean() > base.predict_proba(X_test)[0][:, 1].mean()


def test_sparse_input_matches_dense(census_slice):
    X_train, X_test, Y_train, _ = census_slice(n_train=2000, n_test=300)
    numeric = X_train.select_dtypes("number").to_numpy(dtype=float)
    dense = PerTaskLGBM(**SMALL).fit(numeric, Y_train)
    sparse_model = PerTaskLGBM(**SMALL).fit(sparse.csr_matrix(numeric), Y_train)
    test = X_test.select_dtypes("number").to_numpy(dtype=float)
    np.testing.assert_allclose(sparse_model.predict_proba(sparse.csc_matrix(test))[0],
                               dense.predict_proba(test)[0])


@pytest.mark.parametrize(
    "params, match",
    [
        ({"per_task_params": [("income", {})]}, "per_task_params must be None or a dict"),
        ({"per_task_params": {"income": 3}}, "per_task_params must be None or a dict"),
        ({"validation_fraction": 1.5}, r"validation_fraction=1.5 is not valid: .* in \(0, 1\)"),
        ({"validation_fraction": 0}, r"validation_fraction=0 is not valid"),
        ({"n_estimators": 0}, r"n_estimators=0 is not valid: it must be an int in \[1, inf\)"),
        ({"learning_rate": -0.1}, r"learning_rate=-0.1 is not valid: it must be a number in \(0, inf\)"),
        ({"early_stopping_rounds": 2.5}, r"early_stopping_rounds=2.5 is not valid: it must be an int"),
        ({"tasks": "ranking"}, r"tasks='ranking' is not valid"),
    ],
)
def test_bad_parameters_raise_naming_them(census_slice, params, match):
    X_train, _, Y_train, _ = census_slice(n_train=500, n_test=100)
    with pytest.raises(ValueError, match=match):
        PerTaskLGBM(n_estimators=5, n_jobs=1).set_params(**params).fit(X_train, Y_train)


def test_bad_inputs_raise_clear_errors(census_slice):
    X_train, X_test, Y_train, _ = census_slice(n_train=500, n_test=100)
    model = PerTaskLGBM(n_estimators=5, n_jobs=1)
    with pytest.raises(NotFittedError):
        model.predict(X_test)
    with pytest.raises(ValueError, match="requires y to be passed, but the target y is None"):
        model.fit(X_train, None)
    with pytest.raises(ValueError, match="X has 500 rows but y has 499"):
        model.fit(X_train, Y_train.iloc[:499])
    with pytest.raises(ValueError, match="Column 'when' has dtype datetime64"):
        model.fit(X_train.assign(when=pd.Timestamp("2020-01-01")), Y_train)
    half_labelled = Y_train.astype(float)
    half_labelled.loc[:249, "never_married"] = np.nan
    weight = np.r_[np.ones(250), np.zeros(250)]
    with pytest.raises(ValueError, match="'never_married': the sample weights of its labelled"):
        model.fit(X_train, half_labelled, sample_weight=weight)
    model.fit(X_train, Y_train)
    with pytest.raises(ValueError, match="The feature names should match"):
        model.predict(X_test.rename(columns={"age": "years"}))
    with pytest.raises(ValueError, match="X has 38 features, but PerTaskLGBM is expecting 39 "):
        with pytest.warns(UserWarning, match="X does not have valid feature names"):
            model.predict(X_test.iloc[:, :-1].to_numpy())
    numeric = X_train.select_dtypes("number")
    array_model = PerTaskLGBM(n_estimators=5, n_jobs=1).fit(numeric.to_numpy(), Y_train)
    with pytest.raises(ValueError, match="X has 3 features, but PerTaskLGBM is expecting"):
        array_model.predict(numeric.to_numpy()[:, :3])


def test_lightgbm_threads_never_exceed_half_the_cores(census_1500, monkeypatch):
    # LightGBM's default (every core, spinning OpenMP threads) took 84 s where 1 thread took 5.5 s.
    X, Y = census_1500
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    model = PerTaskLGBM(n_estimators=5).fit(X, Y)
    assert 1 <= model.n_jobs_ <= max(1, len(os.sched_getaffinity(0)) // 2)
    # Inside a joblib worker (loky sets OMP_NUM_THREADS to its share of the cores).
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    assert PerTaskLGBM(n_estimators=5).fit(X, Y).n_jobs_ == 1
    assert PerTaskLGBM(n_estimators=5, n_jobs=2).fit(X, Y).n_jobs_ == 2


def _binary_and_regression(n=300):
    rng = np.random.default_rng(0)
    X = pd.DataFrame({"a": rng.normal(size=n), "b": rng.normal(size=n)})
    Y = pd.DataFrame({"click": (X["a"] > 0).astype(int), "dwell": 3 * X["b"] + rng.normal(size=n)})
    return X, Y


@pytest.mark.parametrize(("params", "match"), [
    ({"objective": "regression"},
     r"objective='regression' does not fit task 'click', a binary task \(it is a regression "
     r"objective\): use one of \['binary', 'cross_entropy'\], or leave objective unset\."),
    ({"per_task_params": {"dwell": {"objective": "binary"}}},
     r"objective='binary' does not fit task 'dwell', a regression task \(it is a binary "
     r"objective\): use one of \['regression', 'regression_l1', 'huber'"),
    ({"per_task_params": {"click": {"app": "multiclass"}}},
     r"app='multiclass' does not fit task 'click', a binary task \(it is a multiclass objective\)"),
    ({"per_task_params": {"click": {"loss": "lambdarank"}}},
     r"loss='lambdarank' does not fit task 'click', a binary task \(it is a ranking objective\)"),
])
def test_an_objective_of_another_task_kind_is_refused_naming_the_task(params, match):
    X, Y = _binary_and_regression()
    model = PerTaskLGBM(n_estimators=5, n_jobs=1, **params)
    with pytest.raises(ValueError, match=match):
        model.fit(X, Y)
    assert not hasattr(model, "estimators_")  # refused before any task was fitted


def test_objectives_that_fit_the_task_kind_pass_and_cross_entropy_on_a_rate_warns():
    X, Y = _binary_and_regression()
    ok = PerTaskLGBM(n_estimators=5, n_jobs=1, per_task_params={
        "click": {"objective": "cross_entropy"}, "dwell": {"objective": "huber"}}).fit(X, Y)
    proba = ok.predict_proba(X)[0]
    assert proba.min() >= 0 and proba.max() <= 1
    Y["dwell"] = (Y["dwell"] - Y["dwell"].min()) / np.ptp(Y["dwell"])  # a rate in [0, 1]
    with pytest.warns(UserWarning, match=r"objective='xentropy' on regression task 'dwell' "
                                         r"models values in \[0, 1\]"):
        PerTaskLGBM(n_estimators=5, n_jobs=1,
                    per_task_params={"dwell": {"objective": "xentropy"}}).fit(X, Y)


def test_int64_ids_beyond_2_53_that_float64_merges_warn_by_column():
    rng = np.random.default_rng(0)
    ids = 2**62 - 1000 + rng.integers(0, 40, 600)
    X = pd.DataFrame({"user_id": ids.astype(np.int64), "x": rng.normal(size=600)})
    y = (ids % 2 == 0).astype(int)
    with pytest.warns(UserWarning, match=r"Integer column 'user_id' holds values beyond 2\*\*53, "
                                         r"which LightGBM reads as float64: its 40 distinct values "
                                         r"become 1\. If it is an id, make it categorical"):
        PerTaskLGBM(n_estimators=5, n_jobs=1, categorical_features=None).fit(X, y)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # as a categorical (the default for an id) it is exact
        model = PerTaskLGBM(n_estimators=5, n_jobs=1).fit(X, y)
    assert model.categorical_features_ == ["user_id"] and len(model.categories_["user_id"]) == 40
    with pytest.warns(UserWarning, match=r"X column 0 holds values beyond 2\*\*53, .* pass X as a "
                                         "DataFrame with that column as a category"):
        PerTaskLGBM(n_estimators=5, n_jobs=1).fit(X.to_numpy(dtype=np.int64), y)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # exact below 2**53: nothing to say
        PerTaskLGBM(n_estimators=5, n_jobs=1).fit(X.assign(user_id=ids - 2**62 + 2**52), y)


def _ids_frame(n=3000, n_users=300, seed=0):
    rng = np.random.default_rng(seed)
    X = pd.DataFrame({"user_id": rng.integers(0, n_users, n), "price": rng.normal(size=n),
                      "city": rng.choice(["a", "b"], n)})
    y = (rng.normal(size=n_users)[X["user_id"]] + 0.3 * X["price"] > 0).astype(int)
    return X, y


def test_integer_ids_are_categorical_by_the_rule_the_nets_use():
    from sklearn_mtl import MultiTaskRecommender

    X, y = _ids_frame()
    model = PerTaskLGBM(n_estimators=20, n_jobs=1).fit(X, y)
    net = MultiTaskRecommender("hard", max_epochs=1).fit(X, y)
    assert model.categorical_features_ == net.categorical_features_ == ["user_id", "city"]
    assert model.categories_["user_id"].tolist() == sorted(X["user_id"].unique())
    dump = model.estimators_[0].booster_.dump_model()
    assert dump["feature_names"] == ["user_id", "price", "city"]
    splits = []
    stack = [tree["tree_structure"] for tree in dump["tree_info"]]
    while stack:
        node = stack.pop()
        if "split_feature" in node:
            splits.append((node["split_feature"], node["decision_type"]))
            stack += [node["left_child"], node["right_child"]]
    assert (0, "==") in splits  # LightGBM splits on user_id as a category
    assert all(kind == "<=" for feature, kind in splits if feature == 1)  # price stays numeric
    numeric = PerTaskLGBM(n_estimators=20, n_jobs=1, categorical_features=None).fit(X, y)
    assert numeric.categorical_features_ == ["city"] and "user_id" not in numeric.categories_
    listed = PerTaskLGBM(n_estimators=20, n_jobs=1, categorical_features=["price"]).fit(X, y)
    assert listed.categorical_features_ == ["price", "city"]


def test_ids_first_seen_at_predict_are_missing_not_an_error():
    X, y = _ids_frame()
    model = PerTaskLGBM(n_estimators=20, n_jobs=1).fit(X, y)
    new = X.iloc[:5].assign(user_id=[10_000, 10_001, 10_002, 10_003, 10_004])
    proba = model.predict_proba(new)
    assert proba.shape == (5, 2) and np.isfinite(proba).all()
    with pytest.raises(ValueError, match=r"Categorical column 'user_id' held number values in fit "
                                         r"but holds text values now"):
        model.predict(X.iloc[:5].assign(user_id=X["user_id"].iloc[:5].astype(str)))


def test_array_columns_listed_as_categorical_by_position():
    X, y = _ids_frame()
    values = X[["user_id", "price"]].to_numpy()
    model = PerTaskLGBM(n_estimators=20, n_jobs=1, categorical_features=[0]).fit(values, y)
    assert model.categorical_features_ == [0]
    assert PerTaskLGBM(n_estimators=20, n_jobs=1).fit(values, y).categorical_features_ == []
    with pytest.raises(ValueError, match=r"X column 1 is listed in categorical_features but holds "
                                         r"[-0-9.]+: an array's categorical columns must hold "
                                         r"whole numbers"):
        PerTaskLGBM(n_estimators=5, n_jobs=1, categorical_features=[1]).fit(values, y)
    with pytest.raises(ValueError, match=r"categorical_features names 'nope', which is not a "
                                         r"column of X"):
        PerTaskLGBM(n_estimators=5, n_jobs=1, categorical_features=["nope"]).fit(X, y)


def test_categorical_ids_round_trip_through_save_and_load(tmp_path):
    import sklearn_mtl

    X, y = _ids_frame()
    model = PerTaskLGBM(n_estimators=20, n_jobs=1, random_state=0).fit(X, y)
    model.save(tmp_path / "m.skmtl")
    loaded = sklearn_mtl.load(tmp_path / "m.skmtl")
    assert loaded.categorical_features_ == ["user_id", "city"]
    np.testing.assert_array_equal(loaded.predict_proba(X), model.predict_proba(X))


def test_movielens_integer_ids_become_lightgbm_categoricals(movielens):
    X, Y = movielens
    X = X.iloc[:4000].assign(user_id=X["user_id"].iloc[:4000].astype(np.int64),
                             item_id=X["item_id"].iloc[:4000].astype(np.int64))
    model = PerTaskLGBM(n_estimators=30, n_jobs=1, random_state=0).fit(X, Y.iloc[:4000])
    assert {"user_id", "item_id"} <= set(model.categorical_features_)
    assert model.categories_["user_id"].dtype == np.int64
    numeric = PerTaskLGBM(n_estimators=30, n_jobs=1, random_state=0,
                          categorical_features=None).fit(X, Y.iloc[:4000])
    assert not {"user_id", "item_id"} & set(numeric.categorical_features_)
