"""TransferReport (sklearn_mtl/transfer/_report.py): its scores table, summary, verdicts, margins,
minimum detectable effects and the ship lines, on a census comparison and on known fold scores."""

from __future__ import annotations

import re

import matplotlib
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest
from conftest import TINY_LGBM, TINY_NET
from scipy import stats

from sklearn_mtl import MultiTaskRecommender, PerTaskLGBM, TransferReport, compare_transfer
from sklearn_mtl.transfer._stats import VERDICTS, paired_test

matplotlib.use("Agg")


@pytest.fixture(scope="module")
def report(census_1500):
    X, Y = census_1500
    models = {"mmoe": MultiTaskRecommender("mmoe", **TINY_NET), "lgbm": PerTaskLGBM(**TINY_LGBM)}
    return compare_transfer(models, X, Y, cv=3, n_repeats=1, random_state=0, return_estimators=True)


def test_report_scores_and_summary(report):
    assert isinstance(report, TransferReport)
    assert list(report.scores.columns) == ["model", "task", "repeat", "fold", "score"]
    assert set(report.scores["model"]) == {"mmoe", "lgbm", "reference"}
    assert len(report.scores) == 3 * 2 * 3  # models x tasks x folds
    assert report.metric == {"income": "roc_auc", "never_married": "roc_auc"}
    assert report.greater_is_better == {"income": True, "never_married": True}
    summary = report.summary()
    assert list(summary.index.names) == ["model", "task"]
    assert set(summary.index.get_level_values("model")) == {"mmoe", "lgbm"}  # no reference row
    assert {"mean", "std", "reference_mean", "delta", "relative_delta", "p_value",
            "negative_transfer"} <= set(summary.columns)
    row = summary.loc[("mmoe", "income")]
    mine = report.scores.query("model == 'mmoe' and task == 'income'")["score"].to_numpy()
    ref = report.scores.query("model == 'reference' and task == 'income'")["score"].to_numpy()
    assert row["mean"] == pytest.approx(mine.mean())
    assert row["delta"] == pytest.approx(mine.mean() - ref.mean())
    assert row["relative_delta"] == pytest.approx(row["delta"] / abs(ref.mean()))
    # The default: the corrected resampled t-test, 3-fold so n_test / n_train = 1/2.
    d = mine - ref
    t = d.mean() / np.sqrt((1 / 3 + 1 / 2) * d.var(ddof=1))
    assert row["p_value"] == pytest.approx(2 * stats.t.sf(abs(t), df=2))
    assert report.summary(test="ttest").loc[("mmoe", "income"), "p_value"] == pytest.approx(
        stats.ttest_rel(mine, ref).pvalue)
    assert row["n_pairs"] == 3 and row["verdict"] in VERDICTS
    # Census' categories differ a little between folds, and so do the embeddings: the mean.
    assert row["n_params"] == pytest.approx(np.mean([report.estimators[("mmoe", f)].n_params_
                                                     for f in range(3)]))
    assert np.isnan(summary.loc[("lgbm", "income"), "n_params"])  # leaves are not counted
    wilcoxon = report.summary(test="wilcoxon")
    assert wilcoxon.loc[("mmoe", "income"), "p_value"] == pytest.approx(stats.wilcoxon(mine, ref).pvalue)
    assert wilcoxon["p_value"].dropna().between(0, 1).all()
    # The default reference is the first net's settings with architecture="single".
    reference = report.estimators[("reference", 0)]
    assert reference.architecture == "single" and reference.hidden_units == TINY_NET["hidden_units"]


def test_markdown_csv_plot_and_repr(report, tmp_path):
    md = report.to_markdown()
    lines = md.splitlines()
    assert lines[0].startswith("| model | task | metric |") and len(lines) == 2 + 4 + 1 + 2
    assert lines[-2].startswith("- mmoe") and lines[-1].startswith("- lgbm")
    assert all(line.count("|") == lines[0].count("|") for line in lines[:6])
    paths = report.to_csv(tmp_path / "out")
    # No gradient conflict here.
    assert [p.name for p in paths] == ["scores.csv", "summary.csv", "overall.csv"]
    pd.testing.assert_frame_equal(pd.read_csv(paths[0]), report.scores, check_dtype=False)
    assert list(pd.read_csv(paths[1])["model"].unique()) == ["mmoe", "lgbm"]
    ax = report.plot()
    assert "roc_auc" in ax.get_title("left") and len(ax.patches) == 2 * 2  # models x tasks
    ax.figure.savefig(tmp_path / "transfer.png")
    assert (tmp_path / "transfer.png").stat().st_size > 5000
    plt.close(ax.figure)
    text = repr(report)
    assert text.startswith("TransferReport: 3-fold CV, metric roc_auc, against the single-task "
                           "reference (corrected resampled t-test, 4 intervals at 98.75% each, "
                           "simultaneous (Bonferroni): all verdicts hold together with 95% "
                           "confidence)\n")
    assert "never_married" in text and "trainable parameters: mmoe " in text


def test_verdict_follows_the_metric_direction():
    """Exact statistics on known fold scores: a lower rmse is better, a lower AUC is worse."""
    folds = np.arange(5)
    ref = {"auc": [0.80, 0.81, 0.79, 0.80, 0.82], "err": [1.0, 1.1, 0.9, 1.0, 1.2]}
    shifted = {"lower": -0.05, "same": 0.0, "higher": +0.05}
    rows = [dict(model="reference", task=t, fold=f, score=s) for t in ref for f, s in zip(folds, ref[t])]
    for model, shift in shifted.items():
        rows += [dict(model=model, task=t, fold=f, score=s + shift + 0.01 * (f % 2))
                 for t in ref for f, s in zip(folds, ref[t])]
    rows += [dict(model="equal", task=t, fold=f, score=s) for t in ref for f, s in zip(folds, ref[t])]
    report = TransferReport(pd.DataFrame(rows), metric={"auc": "roc_auc", "err": "rmse"}, n_folds=5)
    assert report.greater_is_better == {"auc": True, "err": False}
    summary = report.summary(alpha=0.05)
    flagged = summary.index[summary["negative_transfer"]].tolist()
    assert flagged == [("lower", "auc"), ("higher", "err")]
    assert summary.loc[("higher", "err"), "delta"] == pytest.approx(0.054)  # raw: model - reference
    assert np.isnan(summary.loc[("equal", "auc"), "p_value"])  # every difference 0: undefined
    assert not summary.loc[("equal", "auc"), "negative_transfer"]
    # Two-sided Wilcoxon with 5 folds all of one sign: its floor, 2 / 2**5. Its own interval
    # (which the outcome is read off) cannot reach 1 - alpha/m: unbounded, so no verdict.
    wilcoxon = report.summary(test="wilcoxon")
    assert wilcoxon.loc[("lower", "auc"), "p_value"] == pytest.approx(0.0625)
    assert wilcoxon.loc[("lower", "auc"), "p_adjusted"] == pytest.approx(6 * 0.0625)
    assert np.isinf(wilcoxon.loc[("lower", "auc"), ["ci_low", "ci_high"]]).all()
    assert not wilcoxon["negative_transfer"].any()
    assert (wilcoxon["verdict"] == "inconclusive").all()
    line = report.verdict_lines(test="wilcoxon")[0]
    assert line == ("lower: undecided. auc: inconclusive, −0.046 AUC, too few pairs for an interval "
                    "at this level (5): it is unbounded; err: inconclusive, −0.046 RMSE, too few "
                    "pairs for an interval at this level (5): it is unbounded. To settle it: more "
                    "repeats (more pairs) would give it a bounded interval.")
    ax = report.plot()
    hatched = [p for p in ax.patches if p.get_hatch() == "//"]
    assert len(hatched) == 2
    plt.close(ax.figure)


def test_a_model_that_shares_nothing_is_worse_not_negative_transfer(report):
    """PerTaskLGBM or a 'single' net cannot transfer: a loss is flagged, but not as transfer."""
    assert report.shared == {"mmoe": True, "lgbm": False}
    assert not report.summary().loc["lgbm", "shares_parameters"].any()
    folds = np.arange(4)
    ref = [0.80, 0.82, 0.79, 0.81]
    rows = [dict(model="reference", task="ctr", fold=f, score=s) for f, s in zip(folds, ref)]
    for model in ("hard", "lgbm"):
        rows += [dict(model=model, task="ctr", fold=f, score=s - 0.05 - 0.002 * f)
                 for f, s in zip(folds, ref)]
    rep = TransferReport(pd.DataFrame(rows), metric={"ctr": "roc_auc"}, n_folds=4,
                         shared={"lgbm": False})
    assert rep.shared == {"hard": True, "lgbm": False}  # not named: counts as sharing
    summary = rep.summary()
    assert summary["significantly_worse"].all()
    assert summary["negative_transfer"].tolist() == [True, False]
    text = repr(rep)
    # Neither can replace the single-task model; only hard's loss is negative transfer.
    assert "\nhard: cannot ship. ctr: worse, −0.053 AUC [−0.061, −0.045] (margin 0.005).\n" in text
    assert text.endswith("\nlgbm: cannot ship. ctr: worse, −0.053 AUC [−0.061, −0.045] "
                         "(margin 0.005).")
    header = rep.to_markdown().splitlines()[0]
    assert "| significantly_worse | negative_transfer |" in header
    ax = rep.plot()
    assert [p.get_hatch() for p in ax.patches] == ["//", ".."]
    assert [t.get_text() for t in ax.get_legend().get_texts()] == [
        "hard: cannot ship (ctr)", "lgbm: cannot ship (ctr)",
        "negative transfer (a loss that may exceed\nthe margin; 97.5% interval below 0)",
        "worse, shares nothing (not transfer)", "−margin: a loss that matters"]
    plt.close(ax.figure)
    with pytest.raises(ValueError, match="shared"):
        TransferReport(pd.DataFrame(rows), metric={"ctr": "roc_auc"}, n_folds=4,
                       shared={"lgmb": False})


def _scores(diffs: dict, ref=None, n=None) -> pd.DataFrame:
    """Long scores from per-split differences {(model, task): [d_0, d_1, ...]}."""
    n = n or len(next(iter(diffs.values())))
    rng = np.random.default_rng(0)
    ref = ref or {t: 0.7 + 0.02 * rng.normal(size=n) for t in dict.fromkeys(t for _, t in diffs)}
    rows = [dict(model="reference", task=t, fold=f, score=s) for t, v in ref.items()
            for f, s in enumerate(v)]
    rows += [dict(model=m, task=t, fold=f, score=ref[t][f] + d) for (m, t), v in diffs.items()
             for f, d in enumerate(v)]
    return pd.DataFrame(rows)


def test_degenerate_comparisons_are_inconclusive_with_their_reason():
    scores = _scores({("hard", "ctr"): [-0.05] * 5,
                      ("soft", "ctr"): [-0.1, np.nan, -0.2, np.nan, np.nan],
                      ("mmoe", "ctr"): [-0.1, 0.0, -0.2, np.nan, np.nan]})
    report = TransferReport(scores, metric={"ctr": "roc_auc"}, n_folds=5)
    summary = report.summary()
    assert summary["verdict"].tolist() == ["inconclusive"] * 3
    assert summary["p_value"].isna().tolist() == [True, True, False]
    assert summary["n_pairs"].tolist() == [5, 2, 3]
    assert not summary["negative_transfer"].any()
    lines = report.verdict_lines()
    # Untested is not non-inferior: the ship decision stays open, and the line says why.
    assert lines[0] == "hard: undecided. ctr: untested (zero variance: every difference is -0.05)."
    assert lines[1] == "soft: undecided. ctr: untested (fewer than 3 usable pairs (2))."
    assert "untested" not in lines[2]  # three pairs: testable
    assert report.ship()["decision"].tolist() == ["undecided"] * 3
    assert np.isnan(report.ship().loc["hard", "worst_loss"])


def test_bonferroni_makes_the_intervals_simultaneous():
    rng = np.random.default_rng(1)
    scores = _scores({(m, t): rng.normal(-0.02, 0.02, size=10) for m in ("a", "b") for t in ("x", "y")})
    with pytest.raises(ValueError, match="correction='holm' is not valid"):
        TransferReport(scores, metric={"x": "r2", "y": "r2"}, n_folds=10, correction="holm")
    report = TransferReport(scores, metric={"x": "r2", "y": "r2"}, n_folds=10)
    assert report.correction == "bonferroni"
    summary = report.summary()
    np.testing.assert_allclose(summary["p_adjusted"], np.minimum(1, 4 * summary["p_value"]))
    assert summary.attrs["interval_level"] == pytest.approx(1 - 0.05 / 4)
    # Each interval is the paired test's at alpha / m, and p_adjusted < alpha exactly when it
    # leaves out 0.
    diffs = report._differences()
    for (model, task), row in summary.iterrows():
        own = paired_test(diffs[(model, task)], test_train_ratio=report.test_train_ratio,
                          alpha=0.05 / 4)
        assert (row["ci_low"], row["ci_high"]) == pytest.approx((own["ci_low"], own["ci_high"]))
        assert (row["p_adjusted"] < 0.05) == (row["ci_low"] > 0 or row["ci_high"] < 0)
    plain = report.summary(correction=None)
    assert (plain["p_adjusted"] == summary["p_value"]).all()
    assert plain.attrs["interval_level"] == pytest.approx(0.95)
    assert ((plain["ci_high"] - plain["ci_low"]) < (summary["ci_high"] - summary["ci_low"])).all()
    assert ("4 intervals at 98.75% each, simultaneous (Bonferroni): all verdicts hold together "
            "with 95% confidence" in repr(report))
    assert report._protocol(correction=None).endswith(
        "(corrected resampled t-test, 95% intervals, no multiplicity correction)")
    assert report._protocol(alpha=0.001, correction=None).endswith(
        "(corrected resampled t-test, 99.9% intervals, no multiplicity correction)")
    assert "4 intervals at 99.38% each" in report._protocol(alpha=0.025)


def test_the_four_verdicts_and_the_margin():
    rng = np.random.default_rng(0)
    noise = rng.normal(size=10)
    scores = _scores({("m", "lose"): -0.1 + 0.01 * noise, ("m", "win"): 0.1 + 0.01 * noise,
                      ("m", "tie"): 0.0005 * noise, ("m", "noisy"): 0.3 * noise})
    metric = {t: "r2" for t in ("lose", "win", "tie", "noisy")}
    report = TransferReport(scores, metric=metric, n_folds=10)
    summary = report.summary().loc["m"]
    assert summary["verdict"].to_dict() == {"lose": "worse", "win": "better", "tie": "equivalent",
                                            "noisy": "inconclusive"}
    assert summary["negative_transfer"].to_dict() == {"lose": True, "win": False, "tie": False,
                                                      "noisy": False}
    assert summary["positive_transfer"].to_dict()["win"]
    assert (summary["margin"] == 0.01).all()  # R²'s default
    assert (summary["ci_low"] < summary["delta"]).all() and (summary["delta"] < summary["ci_high"]).all()
    # A margin narrower than the interval: no longer equivalent. Per task, the others default.
    tight = report.summary(margin={"tie": 1e-5}).loc["m"]
    assert tight.loc["tie", "verdict"] == "inconclusive" and tight.loc["lose", "margin"] == 0.01
    # An error metric: lower is better, and the margin is 1 % of the reference's mean.
    err = TransferReport(_scores({("m", "e"): 0.1 + 0.01 * noise}, ref={"e": np.full(10, 2.0)}),
                         metric={"e": "rmse"}, n_folds=10)
    assert err.summary().loc[("m", "e"), "verdict"] == "worse"
    assert err.summary().loc[("m", "e"), "margin"] == pytest.approx(0.02)
    with pytest.raises(ValueError, match=r"margin names tasks \['nope'\] that the report does not"):
        report.summary(margin={"nope": 0.1})
    with pytest.raises(ValueError, match="margin=-1 is not valid"):
        report.summary(margin=-1)
    with pytest.raises(ValueError, match="test='z' is not valid"):
        TransferReport(scores, metric=metric, n_folds=10, test="z")


def test_the_mean_over_tasks_is_a_check_not_the_decision():
    """One task or the other loses 0.4 in alternate splits: per task nothing is sure. The mean
    over tasks is (overall()), but the ship line reads the per-task intervals only."""
    rng = np.random.default_rng(0)
    flip = np.tile([1.0, 0.0], 5)
    scores = _scores({("hard", "a"): -0.4 * flip + 0.01 * rng.normal(size=10),
                      ("hard", "b"): -0.4 * (1 - flip) + 0.01 * rng.normal(size=10)})
    report = TransferReport(scores, metric={"a": "r2", "b": "r2"}, n_folds=10)
    assert (report.summary()["verdict"] == "inconclusive").all()
    overall = report.overall().loc["hard"]
    assert overall["verdict"] == "worse" and overall["mean_delta"] == pytest.approx(-0.2, abs=0.01)
    ship = report.ship().loc["hard"]
    assert ship["decision"] == "undecided" and ship["tasks"] == ["a", "b"]
    assert ship["worst_loss"] == pytest.approx(-report.summary()["ci_low"].min())
    line = report.verdict_lines()[0]
    assert line.startswith("hard: undecided. a: inconclusive, −0.199 R² [−0.458, +0.060], could "
                           "still hide a loss of up to 0.458 R² (margin 0.01); b: inconclusive, "
                           "−0.205 R² [−0.459, +0.050], could still hide a loss of up to 0.459 R² "
                           "(margin 0.01). To settle it: more rows")
    assert "on average" not in line and "mean" not in line
    assert f"- {line}" in report.to_markdown() and line in repr(report)


def _noisy_report(test="corrected", correction="bonferroni", n_folds=5, n_repeats=2, seed=0):
    rng = np.random.default_rng(seed)
    rows = []
    for fold in range(n_folds * n_repeats):
        for task in ("ctr", "cvr"):
            base = 0.7 + 0.01 * rng.normal()
            rows += [dict(model="hard", task=task, fold=fold, score=base + 0.02 * rng.normal()),
                     dict(model="reference", task=task, fold=fold, score=base)]
    return TransferReport(pd.DataFrame(rows), metric={"ctr": "roc_auc", "cvr": "roc_auc"},
                          n_folds=n_folds, n_repeats=n_repeats, test=test, correction=correction)


def test_summary_states_the_minimum_detectable_effect_of_its_own_test():
    from scipy import stats as st

    report = _noisy_report()
    summary = report.summary()
    diffs = report._differences()[("hard", "ctr")].dropna().to_numpy()
    j, ratio = len(diffs), 1 / 4
    se = np.sqrt((1 / j + ratio) * diffs.var(ddof=1))
    level = 0.05 / 2  # the intervals' level: Bonferroni over the report's two tests
    expected = (st.t.ppf(1 - level / 2, j - 1) + st.t.ppf(0.8, j - 1)) * se
    assert summary.loc[("hard", "ctr"), "mde"] == pytest.approx(expected)
    plain = report.summary(correction=None).loc[("hard", "ctr"), "mde"]
    assert plain < summary.loc[("hard", "ctr"), "mde"]  # a looser level detects smaller effects
    assert (summary["verdict"] == "inconclusive").all()


def test_an_inconclusive_task_says_how_large_a_loss_could_hide_and_what_would_settle_it():
    report = _noisy_report()
    summary = report.summary().loc["hard"]
    corrected = report.verdict_lines()[0]
    for task in ("ctr", "cvr"):  # the loss the interval still allows, in AUC, and the margin
        assert (f"{task}: inconclusive, {summary.loc[task, 'delta']:+.3f} AUC".replace("-", "−")
                in corrected)
        assert (f"could still hide a loss of up to {-summary.loc[task, 'ci_low']:.3f} AUC (margin "
                "0.005)") in corrected
    assert corrected.startswith("hard: undecided. ctr: inconclusive, ")
    assert corrected.endswith(" To settle it: more rows would narrow the interval (more repeats "
                              "cannot: the corrected test's variance has a floor with overlapping "
                              "training sets).")
    plain = _noisy_report(test="ttest").verdict_lines()[0]
    assert re.search(r" To settle it: about \d+ more repeats would halve the interval\.$", plain), plain


def test_no_mde_where_nothing_was_tested():
    report = _noisy_report(n_folds=2, n_repeats=1)  # 2 pairs: fewer than 3, untested
    summary = report.summary()
    assert summary["mde"].isna().all()
    assert report.verdict_lines() == ["hard: undecided. ctr: untested (fewer than 3 usable pairs "
                                      "(2)); cvr: untested (fewer than 3 usable pairs (2))."]


# ---------------------------------------------------------------- suspect fits
def _split_scores(model_scores: dict, reference=(0.90, 0.91, 0.90, 0.92), task="ctr") -> pd.DataFrame:
    rows = [dict(model=m, task=task, fold=f, score=s)
            for m, values in {**model_scores, "reference": reference}.items()
            for f, s in enumerate(values)]
    return pd.DataFrame(rows)


def test_a_fit_far_below_its_models_other_splits_is_named_in_every_output(tmp_path):
    report = TransferReport(_split_scores({"hard": (0.90, 0.91, 0.32, 0.90)}),
                            metric={"ctr": "roc_auc"}, n_folds=4)
    table = report.suspect_fits()
    assert table[["model", "split", "task", "metric"]].values.tolist() == [
        ["hard", 2, "ctr", "roc_auc"]]
    assert table["score"].iloc[0] == 0.32 and table["others_median"].iloc[0] == 0.90
    line = "suspect fits, far below the same model's other splits: hard in split 2"
    assert line in repr(report) and line in report.to_markdown()
    report.to_html(tmp_path / "r.html")
    assert line.replace("'", "&#x27;") in (tmp_path / "r.html").read_text()


@pytest.mark.parametrize("values, metric", [
    ((0.52, 0.47, 0.49, 0.51), "roc_auc"),  # a task without signal: every split near chance
    ((0.90, 0.91, 0.85, 0.90), "roc_auc"),  # a weak split above chance
    ((0.40, 0.41, -0.30, 0.40), "r2"),      # no chance level the report can know
    ((0.30, 0.55, 0.75, 0.60), "roc_auc"),  # small test folds: far apart, one below chance
])
def test_no_suspect_fit_without_a_collapse_under_a_known_chance(values, metric):
    report = TransferReport(_split_scores({"hard": values}, reference=(0.5, 0.5, 0.5, 0.5)),
                            metric={"ctr": metric}, n_folds=4)
    assert report.suspect_fits().empty
    assert "suspect fits" not in repr(report)


def test_a_fit_at_chance_among_good_splits_is_suspect_too():
    # a dead tower predicts one constant: AUC 0.5, not below it
    report = TransferReport(_split_scores({"hard": (0.93, 0.91, 0.50, 0.92, 0.93, 0.91)},
                                          reference=(0.9,) * 6),
                            metric={"ctr": "roc_auc"}, n_folds=3, n_repeats=2)
    assert report.suspect_fits()["split"].tolist() == [2]


@pytest.mark.slow
def test_the_collapsed_census_fit_is_flagged_by_the_comparison(census):
    """The fit found by benchmarks/bench_fixed_weights.py: in split 2 of these 6,000 rows the
    income tower's ReLUs die in the second epoch (validation AUC 0.5 from then on) and the
    refit ranks income worse than chance, AUC 0.316, against 0.92 in the other splits."""
    X, Y = census
    rows = np.random.default_rng(0).choice(len(X), size=6000, replace=False)
    X, Y = X.iloc[rows].reset_index(drop=True), Y.iloc[rows].reset_index(drop=True)
    model = MultiTaskRecommender("hard", hidden_units=(32,), tower_units=(8,), batch_size=128,
                                 patience=2, max_epochs=8, random_state=0,
                                 lr=0.0019661337429594697, dropout=0.1133711626950416,
                                 task_weights=[0.9098880680808685, 1.0901119319191315])
    with pytest.warns(UserWarning, match=r"^Suspect fits, far below the same model's other "
                                         r"splits: hard in split 2, income: roc_auc 0\.316 "):
        report = compare_transfer({"hard": model}, X, Y, reference=PerTaskLGBM(**TINY_LGBM),
                                  cv=3, n_repeats=2, random_state=0)
    assert report.suspect_fits()[["model", "split", "task"]].values.tolist() == [
        ["hard", 2, "income"]]
