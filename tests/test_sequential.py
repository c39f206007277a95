"""compare_transfer(sequential=...): repeats added one at a time until every verdict is settled,
with repeated confidence intervals from an alpha-spending function (transfer/_sequential.py)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from sklearn_mtl import PerTaskLGBM, compare_transfer
from sklearn_mtl.transfer._sequential import (
    boundaries,
    information_fractions,
    look_alpha,
    spent_alpha,
)

# Row and feature bagging, seeded through random_state, so two seeds of one model differ a
# little from split to split (a true delta of about 0 with some spread).
BAGGED = dict(n_estimators=20, n_jobs=1, verbose=-1, subsample=0.8, subsample_freq=1,
              colsample_bytree=0.8)


def _reference():
    return PerTaskLGBM(random_state=2, **BAGGED)


def _sequential(X, Y, model, **kwargs):
    settings = dict(reference=_reference(), cv=5, n_repeats=3, random_state=0, sequential=True)
    settings.update(kwargs)
    return compare_transfer({"model": model}, X, Y, **settings)


@pytest.fixture(scope="module")
def census_5000(census_small):
    return census_small


def _crossing_rate(c, fractions, n=400_000, seed=0):
    """Monte Carlo: P(|Z_r| >= c_r at some look) for Brownian motion observed at ``fractions``."""
    t = np.asarray(fractions)
    rng = np.random.default_rng(seed)
    steps = rng.standard_normal((n, len(t))) * np.sqrt(np.diff(np.r_[0.0, t]))
    z = np.cumsum(steps, axis=1) / np.sqrt(t)
    return float((np.abs(z) >= np.asarray(c)).any(axis=1).mean())


@pytest.mark.parametrize("spending", ["obrien-fleming", "pocock"])
@pytest.mark.parametrize("fractions", [(0.5, 1.0), (0.704, 0.905, 1.0), (0.25, 0.5, 0.75, 1.0)])
def test_boundaries_spend_exactly_alpha_over_all_looks(spending, fractions):
    c = boundaries(0.05, fractions, spending)
    assert abs(_crossing_rate(c, fractions) - 0.05) < 0.0015  # 400,000 draws: sd 0.00034
    # The first look spends what the function gives it, by construction.
    assert c[0] == pytest.approx(stats.norm.isf(spent_alpha(fractions[0], 0.05, spending) / 2))


def test_one_look_is_the_fixed_design_and_later_looks_are_wider_than_it():
    assert look_alpha(0.01, 0, 5, 1, 0.25) == pytest.approx(0.01)
    first, last = look_alpha(0.01, 0, 5, 2, 0.25), look_alpha(0.01, 1, 5, 2, 0.25)
    assert first < last < 0.01


def test_information_follows_the_corrected_variance_not_the_repeat_count():
    corrected = information_fractions(5, 2, 0.25)
    assert corrected[0] == pytest.approx((1 / 10 + 0.25) / (1 / 5 + 0.25))
    assert information_fractions(5, 2, 0.0).tolist() == [0.5, 1.0]


def test_stops_after_the_first_repeats_on_a_clear_planted_loss(census_5000):
    X, Y = census_5000
    weak = PerTaskLGBM(n_estimators=2, num_leaves=2, random_state=1,
                       **{k: v for k, v in BAGGED.items() if k != "n_estimators"})
    report = _sequential(X, Y, weak)
    assert report.sequential["repeats_run"] < 3
    assert report.n_repeats == report.sequential["repeats_run"]
    assert set(report.scores["repeat"]) == set(range(report.n_repeats))
    assert (report.summary()["verdict"] == "worse").all()
    assert report.ship().loc["model", "decision"] == "cannot ship"
    assert "every verdict settled after repeat" in report.sequential["stop_reason"]
    assert "sequential, obrien-fleming-type" in repr(report)


def test_stops_after_one_repeat_on_a_clear_null(census_5000):
    X, Y = census_5000
    report = _sequential(X, Y, PerTaskLGBM(random_state=1, **BAGGED), margin=0.05)
    assert report.sequential == {
        "spending": "obrien-fleming", "max_repeats": 3, "repeats_run": 1,
        "stop_reason": "every verdict settled after repeat 1 of 3: 2 repeat(s) not needed"}
    assert (report.summary()["verdict"] == "equivalent").all()
    assert len(report.scores) == 2 * 2 * 5  # model and reference, two tasks, five folds


def _weaker():
    """Fewer trees than the reference: a loss of about 0.006 AUC on income."""
    return PerTaskLGBM(random_state=1, **{**BAGGED, "n_estimators": 12})


def test_runs_every_repeat_on_a_loss_near_the_margin(census_5000):
    X, Y = census_5000
    # income's loss is about half the margin: the interval straddles -margin at every look,
    # and the last look could still have settled it.
    report = _sequential(X, Y, _weaker(), margin=0.012)
    assert report.n_repeats == 3
    assert report.sequential["stop_reason"] == "all 3 repeats ran: 1 verdict(s) still inconclusive"
    fixed = compare_transfer({"model": _weaker()}, X, Y, reference=_reference(), cv=5,
                             n_repeats=3, random_state=0, margin=0.012)
    pd.testing.assert_frame_equal(report.scores, fixed.scores)
    # The last look's intervals are wider than the fixed design's: the price of the looks.
    width = report.summary().eval("ci_high - ci_low")
    assert (width > fixed.summary().eval("ci_high - ci_low")).all()
    assert report.summary().attrs["interval_level"] > fixed.summary().attrs["interval_level"]


def test_stops_when_the_remaining_repeats_could_not_settle_a_verdict(census_5000):
    X, Y = census_5000
    # A true delta of about 0 with margin 0: no interval can be inside ±0, and 0 stays inside.
    report = _sequential(X, Y, PerTaskLGBM(random_state=1, **BAGGED), margin=0.0)
    assert report.n_repeats == 1
    assert report.sequential["stop_reason"].startswith(
        "stopped after repeat 1 of 3: 2 repeat(s) not needed: the 2 inconclusive verdict(s) "
        "could not be settled by the remaining repeats")
    assert (report.summary()["verdict"] == "inconclusive").all()


def test_scores_of_the_repeats_that_ran_are_those_of_a_fixed_compare(census_1500):
    X, Y = census_1500
    report = _sequential(X, Y, PerTaskLGBM(random_state=1, **BAGGED), margin=0.2)
    fixed = compare_transfer({"model": PerTaskLGBM(random_state=1, **BAGGED)}, X, Y,
                             reference=_reference(), cv=5, n_repeats=report.n_repeats,
                             random_state=0)
    pd.testing.assert_frame_equal(report.scores, fixed.scores)
    assert report.test_train_ratio == pytest.approx(fixed.test_train_ratio)


def test_storage_resumes_a_sequential_compare_where_an_uninterrupted_one_stops(census_1500,
                                                                                 tmp_path):
    X, Y = census_1500
    model = PerTaskLGBM(random_state=1, **BAGGED)
    plain = _sequential(X, Y, model, margin=0.2)
    # A storage holding every repeat (a fixed compare of the same identity) is read only up to
    # the look the sequential compare stops at.
    compare_transfer({"model": model}, X, Y, reference=_reference(), cv=5, n_repeats=3,
                     random_state=0, storage=tmp_path)
    resumed = _sequential(X, Y, model, margin=0.2, storage=tmp_path)
    assert resumed.fits_reused == 2 * 5 * plain.n_repeats
    pd.testing.assert_frame_equal(resumed.scores, plain.scores)
    assert resumed.sequential == plain.sequential
    pd.testing.assert_frame_equal(resumed.summary(), plain.summary())


def test_a_sequential_storage_run_again_fits_nothing(census_1500, tmp_path):
    X, Y = census_1500
    model = PerTaskLGBM(random_state=1, **BAGGED)
    first = _sequential(X, Y, model, margin=0.2, n_repeats=2, storage=tmp_path)
    again = _sequential(X, Y, model, margin=0.2, n_repeats=2, storage=tmp_path)
    assert (first.fits_reused, again.fits_reused) == (0, 2 * 5 * first.n_repeats)
    pd.testing.assert_frame_equal(first.summary(), again.summary())


@pytest.mark.parametrize("given, match", [
    ("bogus", r"sequential='bogus' is not valid"),
    (2, r"sequential=2 is not valid"),
])
def test_bad_sequential_names_the_parameter(census_1500, given, match):
    X, Y = census_1500
    with pytest.raises(ValueError, match=match):
        _sequential(X, Y, PerTaskLGBM(**BAGGED), sequential=given)


def test_sequential_refuses_the_signed_rank_test(census_1500):
    X, Y = census_1500
    with pytest.raises(ValueError, match="sequential= needs test='corrected' or 'ttest'"):
        _sequential(X, Y, PerTaskLGBM(**BAGGED), test="wilcoxon")


def test_pocock_spending_is_accepted_and_named(census_1500):
    X, Y = census_1500
    report = _sequential(X, Y, PerTaskLGBM(random_state=1, **BAGGED), margin=0.2,
                         sequential="pocock", n_repeats=2)
    assert report.sequential["spending"] == "pocock"
    assert "pocock-type alpha spending" in repr(report)


@pytest.mark.slow  # the reference is a net: about 10 s on a busy machine
def test_cli_compare_sequential_states_the_design_and_why_it_stopped(tmp_path, capsys):
    from sklearn_mtl.cli import main

    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"x1": rng.normal(size=400), "x2": rng.normal(size=400)})
    frame["click"] = (frame["x1"] + 0.5 * rng.normal(size=400) > 0).astype(int)
    frame["buy"] = (frame["x2"] + 0.5 * rng.normal(size=400) > 0).astype(int)
    path = tmp_path / "events.csv"
    frame.to_csv(path, index=False)
    code = main(["compare", "--data", str(path), "--targets", "click,buy", "--models", "lgbm",
                 "--max-epochs", "2", "--cv", "3", "--repeats", "2", "--sequential",
                 "--out", str(tmp_path / "out")])
    assert code == 0
    out = capsys.readouterr().out
    assert "(sequential, obrien-fleming-type alpha spending over at most 2 repeats: " in out
    scores = pd.read_csv(tmp_path / "out" / "scores.csv")
    assert set(scores["repeat"]) <= {0, 1}
