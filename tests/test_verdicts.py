"""The verdict design (sklearn_mtl.transfer._stats, TransferReport.summary / ship / verdict_lines
/ plot): outcomes read off simultaneous Bonferroni intervals, the margin, the ship decision,
the sentences and the figure, and the family-wise error of all outcomes together."""

from __future__ import annotations

import re

import matplotlib
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest
from matplotlib.colors import to_rgba
from scipy import stats
from sklearn.model_selection import RepeatedKFold

from sklearn_mtl import PerTaskLGBM, TransferReport, compare_transfer
from sklearn_mtl.transfer._stats import (
    margin_for,
    non_inferior,
    outcome,
    paired_test,
    signed_rank_interval,
    simultaneous_alpha,
)

matplotlib.use("Agg")

M = 0.005  # ROC AUC's default margin


# ---------------------------------------------------------------- pure functions


@pytest.mark.parametrize("low, high, expected", [
    (0.001, 0.02, "better"),
    (0.0, 0.002, "equivalent"),  # touches 0: not better, but inside ±margin
    (0.0, 0.02, "inconclusive"),
    (-M, -0.001, "worse within margin"),  # the margin exactly: still within
    (-M - 1e-9, -0.001, "worse"),  # just past it: a loss that may matter
    (-0.03, -0.01, "worse"),
    (-M, M, "equivalent"),  # both ends exactly at the margin: inside
    (-M, M + 1e-9, "inconclusive"),
    (-0.004, 0.0, "equivalent"),  # touches 0 from below: not worse
    (-0.02, 0.003, "inconclusive"),
    (np.nan, 0.01, "inconclusive"),
    (-np.inf, np.inf, "inconclusive"),
])
def test_outcome_at_the_boundaries_greater_is_better(low, high, expected):
    assert outcome(low, high, margin=M, greater_is_better=True) == expected


@pytest.mark.parametrize("low, high, expected", [
    # rmse, margin 0.02: a positive delta (more error) is the loss.
    (-0.05, -0.001, "better"),
    (0.001, 0.02, "worse within margin"),
    (0.001, 0.02 + 1e-9, "worse"),
    (-0.02, 0.02, "equivalent"),
    (-0.001, 0.05, "inconclusive"),
    (-0.05, 0.001, "inconclusive"),
])
def test_outcome_at_the_boundaries_lower_is_better(low, high, expected):
    assert outcome(low, high, margin=0.02, greater_is_better=False) == expected


def test_non_inferior_is_the_worse_end_against_the_margin():
    assert non_inferior(-M, 0.5, margin=M, greater_is_better=True)
    assert not non_inferior(-M - 1e-9, 0.5, margin=M, greater_is_better=True)
    assert non_inferior(-0.5, 0.02, margin=0.02, greater_is_better=False)  # rmse
    assert not non_inferior(-0.5, 0.02 + 1e-9, margin=0.02, greater_is_better=False)
    assert not non_inferior(np.nan, 0.0, margin=M, greater_is_better=True)
    assert not non_inferior(-np.inf, np.inf, margin=M, greater_is_better=True)
    # On a grid of intervals: every outcome but "worse" and "inconclusive" is non-inferior,
    # "worse" never is, and an inconclusive interval is non-inferior only when it is a
    # possible gain that cannot lose more than the margin.
    grid = np.linspace(-0.02, 0.02, 41)
    for gib in (True, False):
        for low in grid:
            for high in grid[grid >= low]:
                said = outcome(low, high, margin=M, greater_is_better=gib)
                ok = non_inferior(low, high, margin=M, greater_is_better=gib)
                if said in ("better", "equivalent", "worse within margin"):
                    assert ok, (low, high, gib, said)
                elif said == "worse":
                    assert not ok, (low, high, gib, said)


def test_default_margins_per_metric():
    for metric in ("roc_auc", "gauc", "average_precision", "accuracy"):
        assert margin_for(metric, 0.7) == 0.005
    for metric in ("r2", "ndcg", "ndcg@10"):
        assert margin_for(metric, 0.3) == 0.01
    for metric in ("log_loss", "rmse", "mae"):  # 1 % of the reference's mean, whatever its sign
        assert margin_for(metric, 2.5) == pytest.approx(0.025)
    with pytest.raises(ValueError, match=r"no default margin for metric 'f1': give margin="):
        margin_for("f1", 0.5)


def test_simultaneous_alpha():
    assert simultaneous_alpha(0.05, "bonferroni", 6) == pytest.approx(0.05 / 6)
    assert simultaneous_alpha(0.05, None, 6) == 0.05
    assert simultaneous_alpha(0.05, "bonferroni", 0) == 0.05  # nothing tested


def test_the_signed_rank_interval_inverts_the_signed_rank_test():
    rng = np.random.default_rng(0)
    for k in range(300):
        d = rng.normal(rng.normal(0, 0.5), 1, size=int(rng.integers(6, 70)))
        alpha = (0.05, 0.0125, 0.01)[k % 3]
        low, high = signed_rank_interval(d, alpha=alpha)
        assert low <= np.median(d) <= high
        assert (stats.wilcoxon(d).pvalue < alpha) == (low > 0 or high < 0)
    # 5 pairs: the smallest two-sided p is 2 / 2**5 = 0.0625, so no interval below that level.
    assert signed_rank_interval([0.1, 0.2, 0.3, 0.4, 0.5], alpha=0.05) == (-np.inf, np.inf)
    r = paired_test([0.1, 0.2, 0.3, 0.4, 0.5], test="wilcoxon", alpha=0.05)
    assert (r["ci_low"], r["ci_high"]) == (-np.inf, np.inf) and r["p_value"] == pytest.approx(0.0625)


# ---------------------------------------------------------------- reports from hand-made scores


def _report(diffs: dict, metric: dict, n_folds=10, n_repeats=1, **kwargs) -> TransferReport:
    """A report from per-split differences {(model, task): [d_0, ...]} against a reference that
    scores 0.7 plus a little noise on every task."""
    n = len(next(iter(diffs.values())))
    rng = np.random.default_rng(0)
    ref = {t: 0.7 + 0.02 * rng.normal(size=n) for t in metric}
    rows = [dict(model="reference", task=t, fold=f, score=s) for t, v in ref.items()
            for f, s in enumerate(v)]
    rows += [dict(model=m, task=t, fold=f, score=ref[t][f] + d) for (m, t), v in diffs.items()
             for f, d in enumerate(v)]
    return TransferReport(pd.DataFrame(rows), metric=metric, n_folds=n_folds,
                          n_repeats=n_repeats, **kwargs)


def _tiny(center, spread=0.0002, n=10):
    """Differences around ``center`` with a tiny, non-zero spread."""
    return center + spread * np.tile([-1.0, 1.0, -0.5, 0.5, 0.0], n // 5)


def test_ship_decides_per_model_from_its_tasks():
    metric = {"ctr": "roc_auc", "cvr": "roc_auc"}
    noisy = 0.03 * np.tile([-1.0, 1.0, -0.5, 0.5, 0.2], 2)
    report = _report({("good", "ctr"): _tiny(0.02), ("good", "cvr"): _tiny(0.0),
                      ("bad", "ctr"): _tiny(0.0), ("bad", "cvr"): _tiny(-0.03),
                      ("open", "ctr"): _tiny(0.01), ("open", "cvr"): noisy}, metric)
    summary = report.summary()
    assert summary["verdict"].to_dict() == {
        ("good", "ctr"): "better", ("bad", "ctr"): "equivalent", ("open", "ctr"): "better",
        ("good", "cvr"): "equivalent", ("bad", "cvr"): "worse", ("open", "cvr"): "inconclusive"}
    ship = report.ship()
    assert list(ship.columns) == ["decision", "tasks", "worst_loss", "line"]
    assert ship["decision"].to_dict() == {"good": "can ship", "bad": "cannot ship",
                                          "open": "undecided"}
    assert ship["tasks"].to_dict() == {"good": [], "bad": ["cvr"], "open": ["cvr"]}
    # The largest loss each model's intervals allow, in AUC (a gain shows as a negative loss).
    for model in ship.index:
        assert ship.loc[model, "worst_loss"] == pytest.approx(
            -summary.loc[model, "ci_low"].min())
    assert ship.loc["open", "worst_loss"] > M and ship.loc["good", "worst_loss"] < M
    assert ship.loc["good", "line"].startswith("good: can ship — no task loses more than its "
                                               "margin. ctr: better, +0.020 AUC [")
    assert ship.loc["bad", "line"].startswith("bad: cannot ship. cvr: worse, −0.030 AUC [")
    assert ship.loc["open", "line"].startswith("open: undecided. cvr: inconclusive, ")
    assert list(ship["line"]) == report.verdict_lines()


def test_a_loss_within_the_margin_is_not_negative_transfer_and_ships():
    report = _report({("hard", "ctr"): _tiny(-0.001), ("hard", "cvr"): _tiny(0.0)},
                     {"ctr": "roc_auc", "cvr": "roc_auc"})
    row = report.summary().loc[("hard", "ctr")]
    assert row["ci_high"] < 0 and row["ci_low"] > -M  # a real loss, smaller than the margin
    assert row["verdict"] == "worse within margin"
    assert row["non_inferior"] and row["significantly_worse"]
    assert not row["negative_transfer"] and row["shares_parameters"]
    assert report.ship().loc["hard", "decision"] == "can ship"
    line = report.verdict_lines()[0]
    assert line.startswith("hard: can ship — no task loses more than its margin. ctr: worse "
                           "within margin, −0.001 AUC [")
    assert line.endswith("(margin 0.005); cvr: equivalent, +0.000 AUC [−0.000, +0.000].")
    ax = report.plot()
    bar = ax.patches[0]
    assert bar.get_hatch() == "\\\\" and bar.get_edgecolor() == to_rgba("darkorange")
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert labels[0] == "hard: can ship"
    assert "worse within margin\n(real, too small to matter)" in labels
    assert not any(label.startswith("negative transfer") for label in labels)  # none drawn
    plt.close(ax.figure)


def test_every_task_appears_in_its_models_line_the_deciding_ones_first():
    metric = {"a": "roc_auc", "b": "r2", "c": "rmse"}
    noisy = 0.03 * np.tile([-1.0, 1.0, -0.5, 0.5, 0.2], 2)
    report = _report({("x", "a"): _tiny(0.0), ("x", "b"): _tiny(-0.05), ("x", "c"): _tiny(0.0),
                      ("y", "a"): _tiny(0.01), ("y", "b"): _tiny(0.0), ("y", "c"): noisy},
                     metric, shared={"y": False})
    lines = report.verdict_lines()
    assert [line.split(":", 1)[0] for line in lines] == ["x", "y"]
    for line in lines:
        found = sorted((line.index(f" {t}: "), t) for t in metric)
        assert len(found) == 3  # every task, each once
    assert lines[0].startswith("x: cannot ship. b: worse, −0.050 R² [")
    # rmse: lower is better, so a noisy task's loss is the interval's upper end, in RMSE.
    assert lines[1].startswith("y: undecided. c: inconclusive, ")
    upper = report.summary().loc[("y", "c"), "ci_high"]
    assert f"could still hide a loss of up to {upper:.3f} RMSE (margin 0.007)" in lines[1]
    assert " a: better, +0.010 AUC [" in lines[1] and " b: equivalent, " in lines[1]


def test_an_interval_wider_than_auc_range_is_too_noisy_and_prints_no_impossible_number():
    wild = [-0.6, 0.4, -0.5, 0.3]
    report = _report({("hard", "ctr"): wild, ("hard", "cvr"): [0.001, 0.002, 0.0015, 0.0012]},
                     {"ctr": "roc_auc", "cvr": "roc_auc"}, n_folds=4)
    row = report.summary().loc[("hard", "ctr")]
    assert row["ci_low"] < -1 and row["ci_high"] > 1 and row["verdict"] == "inconclusive"
    line = report.verdict_lines()[0]
    assert ("ctr: inconclusive, −0.100 AUC, too noisy to size a loss (the interval is wider "
            "than AUC's range)") in line
    numbers = [float(x) for x in re.findall(r"\d+\.\d+", line)]
    assert numbers and max(numbers) < 1, line
    assert "could still hide" not in line.split(";")[0]


def test_the_header_counts_only_tested_pairs_and_names_the_level():
    report = _report({("a", "ctr"): _tiny(0.0), ("b", "ctr"): _tiny(-0.02),
                      ("c", "ctr"): [0.01, np.nan] + [np.nan] * 8},  # 1 pair: untested
                     {"ctr": "roc_auc"})
    summary = report.summary()
    assert summary["p_value"].notna().tolist() == [True, True, False]
    assert summary.attrs["interval_level"] == pytest.approx(1 - 0.05 / 2)
    np.testing.assert_allclose(summary["p_adjusted"].iloc[:2],
                               np.minimum(1, 2 * summary["p_value"].iloc[:2]))
    diffs = report._differences()
    own = paired_test(diffs[("b", "ctr")], test_train_ratio=1 / 9, alpha=0.05 / 2)
    assert summary.loc[("b", "ctr"), "ci_low"] == pytest.approx(own["ci_low"])
    assert report._protocol() == (
        "10-fold CV, metric roc_auc, against the single-task reference (corrected resampled "
        "t-test, 2 intervals at 97.5% each, simultaneous (Bonferroni): all verdicts hold "
        "together with 95% confidence); NaN fold scores left out: c on ctr (9 of 10)")
    assert repr(report).startswith(f"TransferReport: {report._protocol()}\n")
    three = _report({(m, "ctr"): _tiny(0.0) for m in "abc"}, {"ctr": "roc_auc"})
    assert "3 intervals at 98.33% each" in three._protocol()
    one = _report({("a", "ctr"): _tiny(0.0)}, {"ctr": "roc_auc"})
    assert one._protocol().endswith("(corrected resampled t-test, 95% intervals)")


def test_repeated_k_fold_counts_its_own_repeats():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(120, 3))
    Y = np.column_stack([X[:, 0] + rng.normal(size=120), X[:, 1] + rng.normal(size=120)])
    lgbm = dict(n_estimators=5, n_jobs=1, random_state=0, verbose=-1, min_child_samples=5)
    report = compare_transfer({"lgbm": PerTaskLGBM(**lgbm)}, X, Y,
                              reference=PerTaskLGBM(**{**lgbm, "n_estimators": 3}),
                              cv=RepeatedKFold(n_splits=3, n_repeats=2, random_state=0))
    assert report.n_folds == 3 and report.n_repeats == 2
    assert report.test_train_ratio == pytest.approx(0.5)
    scores = report.scores[report.scores["model"] == "lgbm"]
    assert sorted(scores["repeat"].unique()) == [0, 1]
    assert scores.groupby("repeat")["fold"].nunique().tolist() == [3, 3]
    assert report.summary()["n_pairs"].tolist() == [6, 6]
    assert report._protocol().startswith("3-fold CV × 2 repeats, metric r2, ")


def test_the_figure_hatches_negative_transfer_red_and_names_ship_decisions_not_means():
    report = _report({("hard", "ctr"): _tiny(-0.03), ("hard", "cvr"): _tiny(0.0),
                      ("mmoe", "ctr"): _tiny(0.0), ("mmoe", "cvr"): _tiny(0.01)},
                     {"ctr": "roc_auc", "cvr": "roc_auc"})
    summary = report.summary()
    assert summary["negative_transfer"].tolist() == [True, False, False, False]
    ax = report.plot()
    hatched = [p for p in ax.patches if p.get_hatch() == "//"]
    assert len(hatched) == 1 and hatched[0].get_edgecolor() == to_rgba("red")
    assert hatched[0].get_height() == pytest.approx(summary.loc[("hard", "ctr"), "delta"])
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert labels[:3] == ["hard: cannot ship (ctr)", "mmoe: can ship", "negative transfer (a loss "
                          "that may exceed\nthe margin; 98.75% interval below 0)"]
    assert not any("on average" in label or "mean" in label for label in labels)
    assert "−margin: a loss that matters" in labels
    # Each task's −margin, dashed, across its group of bars.
    dashed = [c for c in ax.collections if c.get_linestyle()[0][1] is not None]
    ys = sorted(seg[0][1] for c in dashed for seg in c.get_segments())
    assert ys == pytest.approx([-M, -M])
    plt.close(ax.figure)


# ---------------------------------------------------------------- family-wise error


def _simulate(n_reps, rng, deltas, margins, n_folds=5, n_repeats=2, sigma=0.004, rho_tasks=0.5):
    """Per-split differences for ``n_reps`` reports: array (reps, splits, pairs).

    Each pair's differences share a component across its splits with the correlation the
    corrected resampled t-test assumes (``r / (1 + r)``, ``r = n_test / n_train``), so its
    interval is exact; the pairs share a per-split shock (``rho_tasks``), so they are
    dependent, as a report's are."""
    j, k = n_folds * n_repeats, len(deltas)
    r = 1 / (n_folds - 1)
    rho = r / (1 + r)
    pair = rng.normal(size=(n_reps, 1, k))
    split = rng.normal(size=(n_reps, j, 1))
    own = rng.normal(size=(n_reps, j, k))
    noise = np.sqrt(rho) * pair + np.sqrt(1 - rho) * (np.sqrt(rho_tasks) * split
                                                     + np.sqrt(1 - rho_tasks) * own)
    return np.asarray(deltas) + sigma * noise


def _false(verdict, ok, delta, margin):
    """Whether an outcome (oriented: greater is better) says something false of ``delta``."""
    wrong = {"better": delta <= 0, "worse": delta >= 0,
             "worse within margin": not (-margin <= delta < 0),
             "equivalent": not (-margin <= delta <= margin), "inconclusive": False}[verdict]
    return wrong or (ok and delta < -margin)


def test_the_family_wise_error_of_all_outcomes_is_at_most_alpha():
    """2 models x 3 tasks with true deltas exactly at -margin, 0 and +margin, 2,000 reports:
    the chance that a report states anything false (an outcome, or non-inferiority, which the
    ship decisions are made of) is at most alpha. The intervals are computed in bulk with the
    report's own formula, and the first reports are checked against TransferReport itself."""
    metric = {"a": "roc_auc", "b": "roc_auc", "c": "r2"}
    pairs = [(m, t) for m in ("x", "y") for t in metric]
    margins = np.array([0.005, 0.005, 0.01] * 2)
    deltas = np.array([-0.005, 0.0, 0.01, 0.0, 0.005, -0.01])  # at -margin, 0, +margin
    n_reps, alpha, n_folds, n_repeats = 2000, 0.05, 5, 2
    d = _simulate(n_reps, np.random.default_rng(0), deltas, margins, n_folds, n_repeats)
    j, ratio = d.shape[1], 1 / (n_folds - 1)

    def intervals(level):
        mean = d.mean(axis=1)
        se = np.sqrt((1 / j + ratio) * d.var(axis=1, ddof=1))
        half = stats.t.ppf(1 - level / 2, j - 1) * se
        return mean - half, mean + half

    def false_rate(level):
        low, high = intervals(level)
        wrong = np.zeros(n_reps, bool)
        for i in range(n_reps):
            for k in range(len(pairs)):
                said = outcome(low[i, k], high[i, k], margin=margins[k], greater_is_better=True)
                ok = non_inferior(low[i, k], high[i, k], margin=margins[k], greater_is_better=True)
                wrong[i] |= _false(said, ok, deltas[k], margins[k])
        return wrong.mean(), low, high

    rate, low, high = false_rate(alpha / len(pairs))
    bound = alpha + 3 * np.sqrt(alpha * (1 - alpha) / n_reps)
    assert rate <= bound, rate
    # What the header promises: all six intervals cover their true deltas together.
    missed = ((low > deltas) | (high < deltas)).any(axis=1).mean()
    assert rate <= missed <= bound, missed
    # The simulation can see an error: one interval at 1 - alpha each is far above alpha.
    assert false_rate(alpha)[0] > 2 * alpha
    # Each outcome occurs, so each is exercised.
    said = {outcome(lo, hi, margin=m, greater_is_better=True)
            for lo_row, hi_row in zip(low, high) for lo, hi, m in zip(lo_row, hi_row, margins)}
    assert said == {"better", "worse", "worse within margin", "equivalent", "inconclusive"}
    # The bulk formula is the report's: same intervals, outcomes and ship decisions.
    for i in range(40):
        rows = [dict(model="reference", task=t, fold=f, score=0.5) for t in metric
                for f in range(j)]
        rows += [dict(model=m, task=t, fold=f, score=0.5 + d[i, f, k])
                 for k, (m, t) in enumerate(pairs) for f in range(j)]
        report = TransferReport(pd.DataFrame(rows), metric=metric, n_folds=n_folds,
                                n_repeats=n_repeats, alpha=alpha)
        summary = report.summary()
        for k, key in enumerate(pairs):
            assert summary.loc[key, "ci_low"] == pytest.approx(low[i, k], abs=1e-12)
            assert summary.loc[key, "ci_high"] == pytest.approx(high[i, k], abs=1e-12)
        ship = report.ship()
        for model in ("x", "y"):
            rows_ = summary.loc[model]
            expected = ("cannot ship" if (rows_["verdict"] == "worse").any() else "can ship"
                        if rows_["non_inferior"].all() else "undecided")
            assert ship.loc[model, "decision"] == expected
