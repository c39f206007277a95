"""compare_transfer(segments=): the verdict per segment of the test rows, and ActivitySegments."""

import warnings

import numpy as np
import pandas as pd
import pytest
from sklearn.model_selection import KFold

from sklearn_mtl import PerTaskLGBM, TransferReport, compare_transfer
from sklearn_mtl.metrics import per_task_scores
from sklearn_mtl.transfer import ActivitySegments


def _lgbm(**kw):
    return PerTaskLGBM(n_estimators=15, num_leaves=7, n_jobs=1, verbose=-1, **kw)


def _folds(n, k=3, seed=0):
    return list(KFold(k, shuffle=True, random_state=seed).split(np.arange(n)))


def _age_band(X):
    return pd.cut(X["age"], [-1, 30, 50, 120]).astype(str)


def test_segment_scores_are_the_split_models_scores_on_each_segments_test_rows(census_1500):
    X, Y = census_1500
    folds = _folds(len(X))
    report = compare_transfer({"deep": _lgbm(max_depth=3)}, X, Y, reference=_lgbm(), cv=folds,
                              return_estimators=True, segments={"sex": "sex", "age": _age_band})
    seg = report.segment_scores
    for split, (_, test) in enumerate(folds):
        for name, labels in (("sex", X["sex"].astype(str)), ("age", _age_band(X))):
            mine = seg[(seg["fold"] == split) & (seg["segmentation"] == name)]
            # The segments partition the split's test rows, and no training row is among them.
            sizes = mine[(mine["model"] == "deep") & (mine["task"] == "income")]
            assert sizes["n_rows"].sum() == len(test)
            for value in sizes["segment"]:
                rows = test[labels.iloc[test].to_numpy() == value]
                for model in ("deep", "reference"):
                    expected = per_task_scores(report.estimators[(model, split)], X.iloc[rows],
                                               Y.iloc[rows])
                    got = mine[(mine["model"] == model) & (mine["segment"] == value)]
                    assert dict(zip(got["task"], got["score"])) == pytest.approx(expected)
    table = report.segments()
    assert set(table.index.get_level_values("segment")) == {
        *X["sex"].astype(str).unique(), *_age_band(X).unique()}
    # The segment family is its own: m tested rows, each interval at 1 - alpha/m.
    m = int(table["p_value"].notna().sum())
    assert table.attrs["interval_level"] == pytest.approx(1 - 0.05 / m)
    assert (table["mde"].dropna() > 0).all()


def test_activity_segments_count_users_in_the_training_rows_only(movielens_12k):
    X, Y = movielens_12k
    X = X.iloc[:3000].reset_index(drop=True)
    users = X["user_id"].astype(str).to_numpy()
    # A heavy user whose every row is in the test fold: cold there, however many rows they have.
    heavy = pd.Series(users).value_counts().index[0]
    test = np.flatnonzero(users == heavy)
    test = np.concatenate([test, np.setdiff1d(np.arange(0, 3000, 7), test)])
    train = np.setdiff1d(np.arange(3000), test)
    labels = ActivitySegments("user_id", edges=(1, 10)).labels_for(X, train, test, groups=None)
    counts = pd.Series(users[train]).value_counts()
    expected = np.array(["cold", "warm", "heavy"], dtype=object)[np.digitize(
        pd.Series(users[test]).map(counts).fillna(0), (1, 10))]
    assert labels.tolist() == expected.tolist()
    assert set(labels[users[test] == heavy]) == {"cold"}
    # groups= is the user column when no column is named; the default edges come from the
    # training counts alone, so moving test rows of other users changes nothing.
    again = ActivitySegments().labels_for(X, train, test, groups=users)
    assert set(again[users[test] == heavy]) == {"cold"}


def test_compare_user_activity_segments_on_movielens(movielens_12k):
    X, Y = movielens_12k
    X, Y = X.iloc[:2400].reset_index(drop=True), Y.iloc[:2400].reset_index(drop=True)
    folds = _folds(len(X))
    report = compare_transfer({"deep": _lgbm(max_depth=3)}, X, Y, reference=_lgbm(), cv=folds,
                              groups="user_id", segments="user_activity")
    seg = report.segment_scores
    users = X["user_id"].astype(str).to_numpy()
    for split, (train, test) in enumerate(folds):
        cold = ~np.isin(users[test], users[train])
        got = seg[(seg["fold"] == split) & (seg["segment"] == "cold")]["n_rows"]
        assert (got == cold.sum()).all() if cold.sum() else got.empty
    table = report.segments()
    assert table.index.get_level_values("segmentation").unique().tolist() == ["user activity"]
    assert list(dict.fromkeys(table.index.get_level_values("segment"))) == [
        s for s in ("cold", "warm", "heavy") if s in set(seg["segment"])]


def _segment_report(deltas: dict, n_rows: dict, n_splits=6):
    rng = np.random.default_rng(0)
    rows, seg = [], []
    for fold in range(n_splits):
        for model in ("hard", "reference"):
            rows.append(dict(model=model, task="ctr", repeat=0, fold=fold, score=0.7))
            for segment, delta in deltas.items():
                base = 0.7 + rng.normal(0, 0.002)
                seg.append(dict(segmentation="age", segment=segment, model=model, task="ctr",
                                repeat=0, fold=fold, n_rows=n_rows[segment],
                                score=(base + (delta if model == "hard" else 0))
                                if n_rows[segment] >= 30 else np.nan))
    return TransferReport(pd.DataFrame(rows), metric={"ctr": "roc_auc"}, n_folds=n_splits,
                          segment_scores=pd.DataFrame(seg))


def test_segment_verdicts_name_losses_gains_and_segments_too_small():
    report = _segment_report({"young": -0.05, "old": 0.05, "mid": 0.0, "tiny": 0.0},
                             {"young": 300, "old": 300, "mid": 300, "tiny": 12})
    table = report.segments().xs(("hard", "ctr"), level=("model", "task"))
    assert table.loc[("age", "young"), "verdict"] == "worse"
    assert table.loc[("age", "old"), "verdict"] == "better"
    assert table.loc[("age", "tiny"), "verdict"] == "too small to test"
    assert report.segments().attrs["n_tests"] == 3  # the tiny segment is not in the family
    text = repr(report)
    assert "hard loses on age=young ctr" in text
    assert "hard gains on age=old" in text
    assert "too small to test (fewer than 30 test rows a split): age=tiny" in text
    assert "hard loses on age=young" in report.to_markdown()


def test_segments_reach_the_figure_and_the_html_page(tmp_path):
    import matplotlib

    matplotlib.use("Agg")
    report = _segment_report({"young": -0.05, "$old$": 0.05, "tiny": 0.0},
                             {"young": 300, "$old$": 300, "tiny": 5})
    ax = report.plot_segments(title="census")
    labels = [t.get_text() for t in ax.get_yticklabels()]
    assert labels == ["age=young", "age=$old$", "age=tiny"]
    ax.figure.savefig(tmp_path / "segments.png")  # mathtext in a name is drawn as text
    page = report.to_html(tmp_path / "report.html").read_text(encoding="utf-8")
    assert "<h2>Where each model gains and loses</h2>" in page
    assert page.count("too small to test") >= 2  # the line and the table's verdict
    assert "age=young" in page


def test_bad_segments_are_refused_naming_the_value(census_1500):
    X, Y = census_1500
    X, Y = X.iloc[:300], Y.iloc[:300]
    run = dict(reference=_lgbm(), cv=3)
    with pytest.raises(ValueError, match="segments='nope' is not a column of X"):
        compare_transfer({"m": _lgbm()}, X, Y, segments="nope", **run)
    with pytest.raises(ValueError, match="'age' has .* distinct values .* bin it first"):
        compare_transfer({"m": _lgbm()}, X, Y, segments="age", **run)
    with pytest.raises(ValueError, match="gives \\(10,\\) values but X has 300 rows"):
        compare_transfer({"m": _lgbm()}, X, Y, segments=np.zeros(10), **run)
    with pytest.raises(ValueError, match="has 1 missing values"):
        compare_transfer({"m": _lgbm()}, X, Y, segments=[None] + ["a"] * 299, **run)
    with pytest.raises(ValueError, match="pass groups="):
        compare_transfer({"m": _lgbm()}, X, Y, segments="user_activity", **run)
    with pytest.raises(ValueError, match="edges=\\(5, 2\\)"):
        compare_transfer({"m": _lgbm()}, X, Y, segments=ActivitySegments("sex", edges=(5, 2)),
                         **run)
    with pytest.raises(ValueError, match="no segments"):
        _segment_report({}, {}).__class__(
            pd.DataFrame({"model": ["a", "reference"] * 3, "task": "t", "fold": [0, 0, 1, 1, 2, 2],
                          "score": 0.5}), metric={"t": "roc_auc"}, n_folds=3).segments()


def test_segments_enter_the_storage_identity(census_1500, tmp_path):
    X, Y = census_1500
    X, Y = X.iloc[:600], Y.iloc[:600]
    run = dict(reference=_lgbm(), cv=3, random_state=0, storage=tmp_path / "fits")
    first = compare_transfer({"m": _lgbm(max_depth=2)}, X, Y, segments="sex", **run)
    again = compare_transfer({"m": _lgbm(max_depth=2)}, X, Y, segments="sex", **run)
    assert again.fits_reused == 12  # 3 folds x 2 repeats x 2 models
    pd.testing.assert_frame_equal(first.segment_scores, again.segment_scores)
    with pytest.raises(ValueError, match="segments"):
        compare_transfer({"m": _lgbm(max_depth=2)}, X, Y, segments="race", **run)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no segments: the same identity as before segments=
        compare_transfer({"m": _lgbm(max_depth=2)}, X, Y, **{**run, "storage": tmp_path / "b"})


def test_segments_of_tuned_fits_score_the_refitted_best_trial(census_1500):
    X, Y = census_1500
    X, Y = X.iloc[:600].reset_index(drop=True), Y.iloc[:600].reset_index(drop=True)
    folds = _folds(len(X))
    report = compare_transfer({"m": _lgbm(max_depth=2)}, X, Y, reference=_lgbm(), cv=folds,
                              tune=2, segments="sex", random_state=0, return_estimators=True)
    assert len(report.tuning) == 6
    seg = report.segment_scores
    sex = X["sex"].astype(str).to_numpy()
    for split, (_, test) in enumerate(folds):
        rows = test[sex[test] == "Female"]
        expected = per_task_scores(report.estimators[("m", split)], X.iloc[rows], Y.iloc[rows])
        got = seg[(seg["fold"] == split) & (seg["model"] == "m") & (seg["segment"] == "Female")]
        assert dict(zip(got["task"], got["score"])) == pytest.approx(expected, nan_ok=True)
        assert np.isfinite(got["score"]).any()
