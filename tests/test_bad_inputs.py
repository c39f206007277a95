"""Bad and doubtful inputs: a clear error or a correct result, never a silent wrong one.

Each test states the behaviour documented in docs/bad-inputs.md, for both estimators where both
take the input.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import r2_score
from sklearn.model_selection import train_test_split

from sklearn_mtl import MultiTaskRecommender, PerTaskLGBM
from sklearn_mtl.metrics import per_task_scores
from sklearn_mtl.tasks import TargetEncoder

LGBM = dict(n_estimators=20, n_jobs=1, verbose=-1, random_state=0)
NET = dict(architecture="hard", hidden_units=(16,), tower_units=(8,), max_epochs=2, random_state=0)


def both():
    return [MultiTaskRecommender(**NET), PerTaskLGBM(**LGBM)]


@pytest.fixture(scope="module")
def ratings(movielens):
    """3,000 MovieLens ratings (seed 0)."""
    X, Y = movielens
    idx = np.random.default_rng(0).choice(len(X), size=3000, replace=False)
    return X.iloc[idx].reset_index(drop=True), Y.iloc[idx].reset_index(drop=True)


def small_xy(n=300, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 3))
    Y = np.column_stack([(X[:, 0] > 0).astype(float), X[:, 1] + 0.1 * rng.normal(size=n)])
    return X, Y


# ---------------------------------------------------------------------------- targets
def test_list_of_rows_mixing_a_rating_and_a_text_task_keeps_each_kind(ratings):
    X, Y = ratings
    rating = Y["rating"].astype(float).to_numpy().copy()
    rating[::7] = np.nan  # missing labels must stay missing, not become the class 'nan'
    rows = [[r, g] for r, g in zip(rating, X["gender"].astype(str))]
    features = X.drop(columns=["gender"])
    for model in (MultiTaskRecommender(**NET), PerTaskLGBM(**LGBM)):
        # Whole numbers with missing labels in a float column: the doubt is spelled out.
        with pytest.warns(UserWarning, match="'task_0' holds 5 whole numbers and missing labels"):
            model.fit(features, rows)
        assert model.tasks_ == ["regression", "binary"]
        assert model.classes_[0] is None and model.classes_[1].tolist() == ["F", "M"]
        pred = model.predict(features.iloc[:50])
        assert 1.0 <= pred[:, 0].astype(float).mean() <= 5.0
        assert set(pred[:, 1]) <= {"F", "M"}


def test_object_array_target_float_column_is_regression():
    X, Y = small_xy()
    Y_obj = np.empty(Y.shape, dtype=object)
    Y_obj[:, 0] = np.where(Y[:, 0] > 0, "yes", "no")
    Y_obj[:, 1] = Y[:, 1]
    enc = TargetEncoder().fit(Y_obj)
    assert enc.kinds_ == ["binary", "regression"]


@pytest.mark.parametrize("tasks", ["auto", "multiclass", "binary", "regression"])
def test_infinite_target_is_an_error_for_every_kind(tasks):
    y = np.array([0.0, 1.0, 2.0, -np.inf] * 10)
    for model in both():
        with pytest.raises(ValueError, match="Task 'task_0' has infinite target values; use NaN"):
            model.set_params(tasks=tasks).fit(np.arange(40.0).reshape(-1, 1), y)


def test_mixed_int_and_str_labels_name_the_task():
    y = pd.Series([1, "a", 2, "b"] * 10, name="genre", dtype=object)
    for model in both():
        with pytest.raises(ValueError, match=r"Task 'genre' mixes numeric and non-numeric labels "
                                             r"\(e.g. 1 and 'a'\).*astype\(str\)"):
            model.fit(np.arange(40.0).reshape(-1, 1), y)


# ---------------------------------------------------------------------------- task kinds
def test_float_rating_is_regression_and_int_rating_is_multiclass(ratings):
    X, Y = ratings
    as_float = Y[["rating"]].astype(float)
    for model in both():
        assert model.fit(X, as_float).tasks_ == ["regression"]
        pred = model.predict(X.iloc[:200])
        assert len(np.unique(pred)) > 5  # values on the 1-5 scale, not five classes
    assert TargetEncoder().fit(Y[["rating"]].astype(int)).kinds_ == ["multiclass"]
    # Two whole numbers in a float column (an int column with NaN labels) stay binary.
    liked = Y["liked"].astype(float)
    liked[::5] = np.nan
    assert TargetEncoder().fit(liked).kinds_ == ["binary"]


def test_free_text_target_is_refused_with_how_to_declare_it(ratings):
    X, _ = ratings
    rng = np.random.default_rng(0)
    comment = pd.Series([f"comment {i}" for i in rng.integers(0, 2000, len(X))], name="comment")
    n_distinct = comment.nunique()
    for model in both():
        with pytest.raises(ValueError, match=rf"Task 'comment' looks like free text.*{n_distinct} "
                                             r"distinct values.*tasks=\{'comment': 'multiclass'\}"):
            model.fit(X, comment)
    # Declared, it is accepted as the user says.
    assert TargetEncoder({"comment": "multiclass"}).fit(comment).kinds_ == ["multiclass"]


def test_compare_transfer_uses_the_same_rule(ratings):
    from sklearn_mtl import compare_transfer

    X, Y = ratings
    report = compare_transfer({"lgbm": PerTaskLGBM(**LGBM)}, X.iloc[:600],
                              Y[["rating"]].iloc[:600].astype(float),
                              reference=PerTaskLGBM(**LGBM, num_leaves=7), cv=2)
    assert report.metric == {"rating": "r2"}


# ---------------------------------------------------------------------------- features
def test_datetime_and_duration_columns_are_refused_by_both_with_how_to_convert(census_small):
    X, Y = census_small
    X = X.iloc[:300].assign(seen=pd.date_range("2020-01-01", periods=300, freq="h"))
    for model in both():
        with pytest.raises(ValueError, match=r"Column 'seen' has dtype datetime64.*dates are not read "
                                             r"as features.*astype\('datetime64\[s\]'\)"):
            model.fit(X, Y.iloc[:300])
        with pytest.raises(ValueError, match=r"Column 'seen' has dtype timedelta64.*total_seconds"):
            model.fit(X.assign(seen=X["seen"] - X["seen"].min()), Y.iloc[:300])


def test_complex_column_is_refused_by_both(census_small):
    X, Y = census_small
    X = X.iloc[:300].assign(z=np.arange(300) * (1 + 1j))
    for model in both():
        with pytest.raises(ValueError, match="Column 'z' has dtype complex128. Complex data not supported"):
            model.fit(X, Y.iloc[:300])


def test_categorical_dtype_change_between_fit_and_predict_is_an_error(census_small):
    X, Y = census_small
    X_train, X_test, Y_train, _ = train_test_split(X, Y, test_size=0.3, random_state=0)
    as_codes = X_test.assign(education=X_test["education"].cat.codes)  # text at fit, ints now
    for model in both():
        model.fit(X_train, Y_train)
        with pytest.raises(ValueError, match=r"Categorical column 'education' held text values in fit "
                                             r"but holds number values now.*astype\(str\)"):
            model.predict(as_codes)
    # Ids: ints at fit, the same ids as str at predict.
    ids = pd.DataFrame({"user": np.arange(200) % 20, "x": np.arange(200.0)})
    model = MultiTaskRecommender(**NET, categorical_features=["user"]).fit(ids, np.arange(200) % 2)
    with pytest.raises(ValueError, match="held number values in fit but holds text values now"):
        model.predict(ids.assign(user=ids["user"].astype(str)))


def test_integer_named_columns_are_checked_by_name_in_both(census_small):
    X, Y = census_small
    X = X.select_dtypes("number").iloc[:400]
    X.columns = range(X.shape[1])
    shuffled = X[list(reversed(X.columns))]
    for model in both():
        model.fit(X, Y.iloc[:400])
        with pytest.raises(ValueError, match="X has the columns seen in fit but in a different order"):
            model.predict(shuffled)
        with pytest.raises(ValueError, match=r"missing \[0\], unexpected \[99\]"):
            model.predict(X.rename(columns={0: 99}))
        assert model.predict(X).shape == (400, 2)


def test_text_in_a_numpy_array_says_to_pass_a_dataframe():
    X, Y = small_xy(60)
    X = X.astype(object)
    X[3, 1] = "a"
    with pytest.raises(ValueError, match=r"X column 1 holds text \(e.g. 'a'\).*categorical_features"):
        MultiTaskRecommender(**NET).fit(X, Y)
    with pytest.raises(ValueError, match=r"X column 1 holds text \(e.g. 'a'\).*pass a DataFrame"):
        PerTaskLGBM(**LGBM).fit(X, Y)


# ---------------------------------------------------------------------------- weights
def test_zero_weight_on_every_labelled_row_of_a_task_is_the_same_error_in_both(census_small):
    X, Y = census_small
    X, Y = X.iloc[:500], Y.iloc[:500].astype(float)
    Y.loc[:249, "income"] = np.nan
    weight = np.r_[np.ones(250), np.zeros(250)]
    for model in both():
        with pytest.raises(ValueError, match=r"Task 'income': the sample weights of its labelled rows "
                                             r"are zero \(250 rows\)"):
            model.fit(X, Y, sample_weight=weight)


def test_text_sample_weight_names_sample_weight():
    X, Y = small_xy(40)
    for model in both():
        with pytest.raises(ValueError, match="sample_weight is not valid"):
            model.fit(X, Y, sample_weight=["heavy"] * 40)


# ---------------------------------------------------------------------------- training
@pytest.mark.parametrize("early_stopping", [False, True])
def test_divergence_names_the_epoch_and_suggests_a_lower_lr(ratings, early_stopping):
    X, Y = ratings
    model = MultiTaskRecommender("hard", tasks=["binary", "regression"], lr=1e6, max_epochs=5,
                                 early_stopping=early_stopping, random_state=0)
    with pytest.raises(ValueError, match=r"Training diverged: the training loss became (nan|inf) in "
                                         r"epoch \d+\. lr=1000000.0 is probably too large: lower it"):
        model.fit(X, Y)


def test_bad_random_state_and_callbacks_name_the_parameter():
    X, Y = small_xy(40)
    for model in both():
        with pytest.raises(ValueError, match=r"random_state=-1 is not valid: use None, an int"):
            model.set_params(random_state=-1).fit(X, Y)
    with pytest.raises(ValueError, match=r"callbacks\[0\]=1 is not valid: use skorch Callback"):
        MultiTaskRecommender(**NET, callbacks=[1]).fit(X, Y)


# ---------------------------------------------------------------------------- LightGBM
def test_misspelled_lightgbm_parameter_is_refused_with_the_closest_name():
    X, Y = small_xy(60)
    with pytest.raises(ValueError, match=r"subsampel=0.1 is not a LightGBM parameter; did you mean "
                                         r"'subsample'\?"):
        PerTaskLGBM(**LGBM, subsampel=0.1).fit(X, Y)
    with pytest.raises(ValueError, match=r"bagging_fracton=0.5 is not a LightGBM parameter in "
                                         r"per_task_params for task 'task_1'; did you mean "
                                         r"'bagging_fraction'\?"):
        PerTaskLGBM(**LGBM, per_task_params={"task_1": {"bagging_fracton": 0.5}}).fit(X, Y)
    # LightGBM's aliases are parameters too.
    PerTaskLGBM(**LGBM, feature_fraction=0.8, min_data_in_leaf=5).fit(X, Y)


@pytest.mark.parametrize("params, message", [
    ({"feature_fraction": 0.0}, r"feature_fraction=0.0 is not valid: it must be a number in \(0, 1\]"),
    ({"colsample_bytree": 0}, r"colsample_bytree=0 \(LightGBM's feature_fraction\) is not valid"),
    ({"bagging_fraction": 1.5}, r"bagging_fraction=1.5 is not valid: it must be a number in \(0, 1\]"),
    ({"min_data_in_leaf": -1}, r"min_data_in_leaf=-1 is not valid: it must be an int in \[0, inf\)"),
    ({"max_depth": "x"}, r"max_depth='x' is not valid: it must be an int"),
    ({"n_jobs": "x"}, r"n_jobs='x' \(LightGBM's num_threads\) is not valid: it must be an int"),
    ({"per_task_params": {"task_0": {"n_estimators": -1}}},
     r"n_estimators=-1 \(LightGBM's num_iterations\) is not valid in per_task_params for task "
     r"'task_0': it must be an int in \[1, inf\)"),
])
def test_lightgbm_parameter_ranges_name_the_parameter(params, message):
    X, Y = small_xy(60)
    with pytest.raises(ValueError, match=message):
        PerTaskLGBM(**{**LGBM, **params}).fit(X, Y)


def test_large_offset_regression_target_is_centred_for_lightgbm(census_small):
    X, Y = census_small
    rng = np.random.default_rng(0)
    y = X["age"].to_numpy(float) / 10 + rng.normal(size=len(X))
    X_train, X_test, y_train, y_test = train_test_split(X.drop(columns="age"), y, random_state=0)
    plain = PerTaskLGBM(**LGBM).fit(X_train, y_train)
    shifted = PerTaskLGBM(**LGBM).fit(X_train, 1e9 + y_train)
    assert shifted.target_offsets_[0] == pytest.approx(1e9 + y_train.mean())
    np.testing.assert_allclose(shifted.predict(X_test) - 1e9, plain.predict(X_test), atol=1e-3)
    assert r2_score(1e9 + y_test, shifted.predict(X_test)) > 0.2
    # An objective that is not shift-invariant cannot be centred: the user is told.
    with pytest.warns(UserWarning, match="LightGBM stores labels in float32, which rounds them"):
        PerTaskLGBM(**LGBM, objective="gamma").fit(X_train, 1e9 + y_train)


# ---------------------------------------------------------------------------- real-data sanity
def test_census_frame_still_fits_and_scores(census_small):
    X, Y = census_small
    X_train, X_test, Y_train, Y_test = train_test_split(X, Y, test_size=0.3, random_state=0)
    model = PerTaskLGBM(**LGBM).fit(X_train, Y_train)
    assert per_task_scores(model, X_test, Y_test)["income"] > 0.85


def test_stratified_cv_when_every_task_has_missing_labels_says_what_to_do(census_1500):
    from sklearn.model_selection import StratifiedKFold

    from sklearn_mtl import compare_transfer

    X, Y = census_1500
    Y = Y.astype(float)
    Y.loc[:99, "income"] = np.nan
    Y.loc[100:149, "never_married"] = np.nan
    with pytest.raises(ValueError, match=r"cv=StratifiedKFold.* every task has missing labels "
                                         r"\('income' \(100\), 'never_married' \(50\)\); use KFold"):
        compare_transfer({"lgbm": PerTaskLGBM(**LGBM)}, X, Y, reference=PerTaskLGBM(**LGBM),
                         cv=StratifiedKFold(3))


@pytest.mark.parametrize("model", both(), ids=["net", "lgbm"])
def test_numpy_class_labels_in_a_float_array_warn_and_say_how_to_declare(model):
    import warnings

    rng = np.random.default_rng(0)
    X = rng.normal(size=(300, 3))
    # numpy makes the whole Y float because one task is: the 0/1/2 genre arrives as 0.0/1.0/2.0.
    Y = np.column_stack([X[:, 0] > 0, np.digitize(X[:, 1], [-0.5, 0.5]), X[:, 2]])
    with pytest.warns(UserWarning, match=r"Task 'task_1' holds 3 whole numbers \(0, 1, 2\) in a "
                                         r"float array: inferred as regression. If they are "
                                         r"classes, pass tasks=\{'task_1': 'multiclass'\}"):
        model.fit(X, Y)
    assert model.tasks_ == ["binary", "regression", "regression"]
    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)
        model.set_params(tasks=["binary", "multiclass", "regression"]).fit(X, Y)
        assert model.tasks_ == ["binary", "multiclass", "regression"]
        # A DataFrame keeps the integer column: multiclass, nothing to doubt.
        frame = pd.DataFrame({"a": Y[:, 0].astype(int), "b": Y[:, 1].astype(int), "c": Y[:, 2]})
        model.set_params(tasks="auto").fit(X, frame)
        assert model.tasks_ == ["binary", "multiclass", "regression"]
