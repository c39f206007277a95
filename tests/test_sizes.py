"""transfer_curve: the verdict at several training sizes, the crossover and its bracket."""

import re

import matplotlib
import numpy as np
import pandas as pd
import pytest
from conftest import TINY_LGBM
from sklearn.model_selection import KFold
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

from sklearn_mtl import PerTaskLGBM, TransferCurve, TransferReport, transfer_curve

matplotlib.use("Agg")


@pytest.fixture(scope="module")
def numeric_census(census_1500):
    """1,200 census rows, numeric columns only (so a StandardScaler can count each fit's rows)."""
    X, Y = census_1500
    return X.select_dtypes("number").iloc[:1200].reset_index(drop=True), Y.iloc[:1200]


def scaled_lgbm():
    return Pipeline([("scale", StandardScaler()), ("model", PerTaskLGBM(**TINY_LGBM))])


def test_each_size_fits_on_a_subsample_of_its_splits_training_rows(numeric_census):
    X, Y = numeric_census
    folds = list(KFold(3, shuffle=True, random_state=0).split(X))
    curve = transfer_curve({"lgbm": scaled_lgbm()}, X, Y, reference=scaled_lgbm(),
                           train_sizes=[100, 300, 700], cv=folds, random_state=0,
                           return_estimators=True)
    assert curve.train_sizes == [100, 300, 700]
    for size, sized in curve.folds.items():
        assert len(sized) == len(folds)
        for k, ((_, train, test), (full_train, full_test)) in enumerate(zip(sized, folds)):
            assert len(train) == size and len(np.unique(train)) == size
            # Taken from this split's training rows only: never a test row, of this split.
            assert np.isin(train, full_train).all() and not np.isin(train, full_test).any()
            np.testing.assert_array_equal(test, full_test)  # the same test rows at every size
            # The fitted pipelines saw exactly these rows (the scaler's mean is theirs).
            for name in ("lgbm", "reference"):
                scaler = curve.reports[size].estimators[(name, k)].named_steps["scale"]
                assert scaler.n_samples_seen_ == size
                np.testing.assert_allclose(scaler.mean_, X.iloc[train].mean().to_numpy())
    for k in range(len(folds)):  # nested: a smaller size's rows are among a larger one's
        small, mid, large = (set(curve.folds[s][k][1]) for s in (100, 300, 700))
        assert small <= mid <= large
    # Each size's report pairs the same splits and scores the same number of test rows.
    for report in curve.reports.values():
        assert sorted(report.scores["fold"].unique()) == [0, 1, 2]
        assert report.n_folds == 3 and report.n_repeats == 1
        assert report.test_train_ratio == pytest.approx(np.mean([len(te) / len(tr)
                                                                 for tr, te in folds]))


def test_fractions_and_repeats_keep_the_splits_of_an_int_cv(numeric_census):
    X, Y = numeric_census
    curve = transfer_curve({"lgbm": PerTaskLGBM(**TINY_LGBM)}, X, Y,
                           reference=PerTaskLGBM(**TINY_LGBM), train_sizes=[0.25, 1.0], cv=3,
                           n_repeats=2, random_state=0)
    quarter, full = curve.folds[0.25], curve.folds[1.0]
    assert len(quarter) == len(full) == 6
    for (r_q, train_q, test_q), (r_f, train_f, test_f) in zip(quarter, full):
        assert r_q == r_f and len(train_q) == round(0.25 * len(train_f))
        assert np.isin(train_q, train_f).all()
        np.testing.assert_array_equal(test_q, test_f)
    assert curve.reports[1.0].n_repeats == 2 and curve.reports[1.0].n_folds == 3
    assert set(curve.reports[1.0].scores["repeat"]) == {0, 1}
    summary = curve.summary()
    assert list(summary["train_size"].unique()) == [0.25, 1.0]
    assert summary["n_train"].iloc[0] == pytest.approx(200)
    # The intervals are simultaneous over the sizes too: each report at alpha / 2.
    assert all(r.alpha == pytest.approx(0.025) for r in curve.reports.values())


@pytest.mark.parametrize("sizes, message", [
    ([100], "at least two sizes"),
    ([100, 900], "900 rows: each must be between 2 and 800"),
    ([300, 100], "ascending order"),
    ([100, 0.5], "mixes row counts and fractions"),
    ([0.5, 1.5], r"1.5: a fraction must be in \(0, 1\]"),
    ("100", "not valid: use a list"),
    ([100, "all"], "'all', which is not a number"),
])
def test_bad_train_sizes_are_refused_before_any_fit(numeric_census, sizes, message):
    X, Y = numeric_census
    with pytest.raises(ValueError, match=message):
        transfer_curve({"lgbm": PerTaskLGBM(**TINY_LGBM)}, X, Y,
                       reference=PerTaskLGBM(**TINY_LGBM), train_sizes=sizes, cv=3)


def planted_curve(gains, sizes=(1000, 4000, 16000, 64000), noise=0.002, seed=0):
    """A curve whose model gains ``gains[i]`` AUC over the reference at size i (10 splits)."""
    rng = np.random.default_rng(seed)
    reports, folds = {}, {}
    for size, gain in zip(sizes, gains):
        base = 0.8 + 0.02 * np.log10(size) + rng.normal(0, noise, 10)
        rows = ([dict(model="reference", task="ctr", fold=k, score=s) for k, s in enumerate(base)]
                + [dict(model="hard", task="ctr", fold=k, score=s + gain + rng.normal(0, noise))
                   for k, s in enumerate(base)])
        reports[size] = TransferReport(pd.DataFrame(rows), metric={"ctr": "roc_auc"}, n_folds=5,
                                       n_repeats=2, alpha=0.05 / len(sizes))
        folds[size] = [(0, np.arange(size), np.arange(10)) for _ in range(10)]
    return TransferCurve(reports, folds, alpha=0.05)


def test_crossover_is_located_between_a_confirmed_gain_and_a_confirmed_loss():
    curve = planted_curve([0.03, 0.01, -0.01, -0.03])
    row = curve.crossover().iloc[0]
    assert row["kind"] == "stops paying" and row["n_sign_changes"] == 1
    # Halfway in log(rows) between 4,000 and 16,000: 8,000 rows.
    assert row["crossover"] == pytest.approx(8000, rel=0.05)
    assert (row["low"], row["high"]) == (4000, 16000)
    line = curve.lines()[0]
    assert re.search(r"sharing stops paying at about [78],\d{3} training rows; a gain is confirmed "
                     r"at 4,000 rows, a loss at 16,000 rows: so it lies between 4,000 and "
                     r"16,000 rows", line), line


def test_crossover_not_located_where_no_size_confirms_a_loss():
    curve = planted_curve([0.03, 0.01, -0.0005, -0.001], noise=0.004)
    row = curve.crossover().iloc[0]
    assert row["kind"] == "stops paying" and np.isnan(row["high"]) and row["low"] <= 4000
    assert "not located with confidence" in curve.lines()[0]


def test_no_crossover_when_sharing_pays_at_every_size():
    curve = planted_curve([0.03, 0.02, 0.01, 0.005])
    row = curve.crossover().iloc[0]
    assert row["kind"] == "pays at every size" and np.isnan(row["crossover"])
    assert ("a mean gain at every size measured, no crossover between 1,000 and 64,000 "
            "training rows; its interval confirms the gain at 4 of 4 sizes") in curve.lines()[0]
    starts = planted_curve([-0.03, -0.01, 0.01, 0.03]).crossover().iloc[0]
    assert starts["kind"] == "starts paying" and (starts["low"], starts["high"]) == (4000, 16000)


def test_a_loss_metric_is_oriented_so_that_a_positive_gain_means_sharing_pays():
    curve = planted_curve([0.03, -0.03], sizes=(1000, 8000))
    for report in curve.reports.values():
        report.metric = {"ctr": "log_loss"}
        report.greater_is_better = {"ctr": False}
    row = curve.crossover().iloc[0]
    assert row["kind"] == "starts paying"  # a higher log loss is a loss, then a lower one a gain


def test_curve_figure_and_page(tmp_path):
    curve = planted_curve([0.03, 0.01, -0.01, -0.03])
    figure = curve.plot(title="planted")
    assert len(figure.axes) == 2  # one task: scores on top, gains below
    assert figure.axes[1].get_xscale() == "log"
    matplotlib.pyplot.close(figure)
    page = curve.to_html(tmp_path / "curve.html", title="planted",
                         settings={"data": "planted"}).read_text()
    assert "When does sharing pay? planted" in page and "data:image/png;base64," in page
    assert "sharing stops paying at about " in page and "<script" not in page
    assert "<td>16,000</td>" in page  # the bracket printed as rows
    assert "TransferCurve(4 sizes" in repr(curve)


def test_storage_keeps_each_sizes_fits_and_resumes(numeric_census, tmp_path):
    X, Y = numeric_census
    X, Y = X.iloc[:600], Y.iloc[:600]

    def run():
        return transfer_curve({"lgbm": PerTaskLGBM(**TINY_LGBM)}, X, Y,
                              reference=PerTaskLGBM(**TINY_LGBM), train_sizes=[100, 300], cv=2,
                              n_repeats=1, random_state=0, storage=tmp_path / "fits")

    first = run()
    again = run()
    assert sorted(p.name for p in (tmp_path / "fits").iterdir()) == ["train_size=100",
                                                                     "train_size=300"]
    assert [r.fits_reused for r in first.reports.values()] == [0, 0]
    assert [r.fits_reused for r in again.reports.values()] == [4, 4]
    pd.testing.assert_frame_equal(first.summary(), again.summary())


def test_tuned_curve_tunes_each_size_on_its_own_rows(numeric_census):
    X, Y = numeric_census
    X, Y = X.iloc[:600], Y.iloc[:600]
    curve = transfer_curve({"lgbm": PerTaskLGBM(**TINY_LGBM)}, X, Y,
                           reference=PerTaskLGBM(**TINY_LGBM), train_sizes=[150, 300], cv=2,
                           n_repeats=1, random_state=0, tune={"n_trials": 2})
    for report in curve.reports.values():
        assert len(report.tuning) == 4 and (report.tuning["n_trials"] == 2).all()
    # Different rows, different studies: the sizes' best validation scores differ.
    values = [tuple(r.tuning["best_value"]) for r in curve.reports.values()]
    assert values[0] != values[1]


@pytest.mark.slow  # about 20 s: census is read whole, and the reference is a net
def test_cli_compare_train_sizes_writes_the_curve(data_home, tmp_path, capsys):
    from sklearn_mtl.cli import main

    out = tmp_path / "out"
    code = main(["compare", "--data", "census", "--data-home", str(data_home), "--n-rows", "900",
                 "--models", "lgbm", "--cv", "2", "--repeats", "1", "--max-epochs", "1",
                 "--train-sizes", "100,450", "--progress", "none", "--out", str(out)])
    assert code == 0
    printed = capsys.readouterr().out
    assert "training sizes [100, 450]" in printed and "TransferCurve(2 sizes: 100, 450" in printed
    curve = pd.read_csv(out / "curve_summary.csv")
    assert list(curve["n_train"].unique()) == [100, 450]
    assert set(pd.read_csv(out / "crossover.csv")["model"]) == {"lgbm"}
    assert (out / "learning_curve.png").stat().st_size > 0
    assert "When does sharing pay?" in (out / "curve.html").read_text()
    assert "curve.html" in printed.splitlines()[-1]  # named among the files written


@pytest.mark.parametrize("text, message", [("2000", "at least two sizes"),
                                           ("2000,lots", "not a list of sizes")])
def test_cli_bad_train_sizes(text, message, capsys):
    from sklearn_mtl.cli import main

    with pytest.raises(SystemExit):
        main(["compare", "--train-sizes", text])
    assert message in capsys.readouterr().err
