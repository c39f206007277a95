"""The splits of a comparison and of a study (sklearn_mtl/_resampling.py): stratification on the
first complete task, group splitters, hold-outs, repeats and bad cv."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
from conftest import lgbm_compare, users_frame
from sklearn.model_selection import StratifiedKFold

from sklearn_mtl._resampling import cv_splits


def test_a_splitter_that_needs_y_stratifies_on_the_first_complete_task():
    rng = np.random.default_rng(0)
    Y = pd.DataFrame({"dwell": rng.normal(size=90), "click": np.r_[np.ones(9), np.zeros(81)]})
    Y.loc[:4, "dwell"] = np.nan  # not complete: the splitter gets click
    with pytest.warns(UserWarning, match=r"splits on the labels of task 'click', the first task "
                                         r"without missing labels \('dwell' \(5\) missing\)"):
        splits = cv_splits(StratifiedKFold(3, shuffle=True, random_state=0), Y, None, 2)
    assert [r for r, _, _ in splits] == [0, 0, 0, 1, 1, 1]
    assert all(Y["click"].iloc[test].sum() == 3 for _, _, test in splits)  # 9 clicks / 3 folds
    assert not np.array_equal(splits[0][2], splits[3][2])  # the second repeat is reshuffled


def test_groups_without_a_reader_warn_and_say_how_to_group_the_folds():
    X, Y = users_frame()
    with pytest.warns(UserWarning, match=r"groups= is not used: cv=3 does not split by groups and "
                                         r"no metric is scored per user\. .*cv=GroupKFold\(k\)"):
        report = lgbm_compare(X, Y, cv=3, groups="user")
    assert not report.grouped


def test_a_group_splitter_receives_groups_and_the_header_says_so():
    from sklearn.model_selection import GroupKFold

    X, Y = users_frame()
    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)
        report = lgbm_compare(X, Y, cv=GroupKFold(3), groups="user", return_estimators=True)
    assert report.grouped and "3-fold CV grouped by groups=" in repr(report)
    for _, train, test in cv_splits(GroupKFold(3), Y, None, 1, X["user"].to_numpy()):
        assert not set(X["user"].iloc[train]) & set(X["user"].iloc[test])
    with pytest.raises(ValueError, match=r"cv=GroupKFold\(.*\) splits by groups: pass groups="):
        lgbm_compare(X, Y, cv=GroupKFold(3))


@pytest.mark.parametrize(("cv", "match"), [
    (True, r"cv=True is not valid: use an int >= 2 \(KFold\), a scikit-learn splitter or a list "
           r"of \(train, test\) index arrays\."),
    ([(np.arange(60), np.arange(60, 121))],
     r"cv fold 0 has test row index 120 outside \[0, 120\): the folds must be positions of the "
     r"120 rows of X and Y\."),
    ([(np.arange(-1, 60), np.arange(60, 120))], r"cv fold 0 has train row index -1 outside"),
])
def test_bad_cv_is_refused_naming_it(cv, match):
    X, Y = users_frame()
    with pytest.raises(ValueError, match=match):
        lgbm_compare(X, Y, cv=cv)


def test_a_splitter_that_cannot_split_on_the_first_complete_task_names_it():
    X, Y = users_frame()
    Y = Y[["click", "dwell"]].astype(float)
    Y.loc[:3, "click"] = np.nan  # the first task is not complete: dwell (regression) is used
    with pytest.warns(UserWarning, match=r"splits on the labels of task 'dwell', the first task "
                                         r"without missing labels \('click' \(4\) missing\)"):
        with pytest.raises(ValueError, match=r"could not split on the labels of task 'dwell': "
                                             r"Supported target types are"):
            lgbm_compare(X, Y, cv=StratifiedKFold(3))


@pytest.mark.parametrize("cv", [None, 0.25])
def test_a_holdout_is_one_sorted_shuffled_split_of_that_fraction(cv):
    _, Y = users_frame()
    (only,) = cv_splits(cv, Y, 0, holdout=True)
    repeat, train, test = only
    n_test = 24 if cv is None else 30  # a fifth by default
    assert repeat == 0 and len(test) == n_test and len(train) == 120 - n_test
    assert np.all(np.diff(train) > 0) and np.all(np.diff(test) > 0)
    assert not set(train) & set(test) and test.max() > 100  # shuffled, not the last rows


@pytest.mark.parametrize(("cv", "holdout", "match"), [
    (1.5, True, r"cv=1.5 is not valid: a hold-out fraction must be in \(0, 1\)\."),
    (1, True, r"cv=1 is not valid for 120 rows: it must be between 2 and 120, or None or a "
              r"fraction in \(0, 1\) for a hold-out\."),
    (1, False, r"cv=1 is not valid for 120 rows: it must be between 2 and 120\.$"),
])
def test_bad_cv_for_a_study_or_a_comparison_names_what_each_takes(cv, holdout, match):
    _, Y = users_frame()
    with pytest.raises(ValueError, match=match):
        cv_splits(cv, Y, 0, holdout=holdout)
