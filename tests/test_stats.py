"""The paired tests and corrections of sklearn_mtl/transfer/_stats.py against hand computations."""

from __future__ import annotations

import re

import numpy as np
import pytest
from scipy import stats

from sklearn_mtl.transfer._stats import adjust_p_values, paired_test


def test_corrected_t_test_matches_a_hand_computation():
    d = np.array([0.1, 0.2, 0.3, 0.2])
    # By hand: mean 0.2, s² = 0.02 / 3, corrected variance (1/4 + 1/3) s² = 0.0038889,
    # t = 0.2 / 0.062361 = 3.2071 on 3 df; two-sided p = 0.0491 (t table: t_.975,3 = 3.1824).
    r = paired_test(d, test="corrected", test_train_ratio=1 / 3)
    assert r["p_value"] == pytest.approx(0.04906, abs=1e-4)
    assert r["ci_high"] - r["mean"] == pytest.approx(3.18245 * 0.0623610, rel=1e-4)
    naive = paired_test(d, test="ttest")
    assert naive["p_value"] == pytest.approx(stats.ttest_1samp(d, 0).pvalue)
    assert naive["p_value"] < r["p_value"]  # the naive test ignores the overlap
    assert paired_test(d, test="wilcoxon")["p_value"] == pytest.approx(stats.wilcoxon(d).pvalue)
    with pytest.raises(ValueError, match="test_train_ratio=None is not valid for the corrected"):
        paired_test(d)


def test_degenerate_differences_have_no_p_value_and_say_why():
    same = paired_test([0.05] * 5, test="ttest")
    assert np.isnan(same["p_value"]) and np.isnan(same["ci_low"])
    assert same["note"] == "zero variance: every difference is +0.05"
    few = paired_test([0.1, np.nan, 0.3, np.nan], test="corrected", test_train_ratio=0.25)
    assert few["n_pairs"] == 2 and np.isnan(few["p_value"])
    assert few["note"] == "fewer than 3 usable pairs (2)"


def test_bonferroni_multiplies_each_finite_p_value_by_their_number():
    p = [0.01, 0.04, 0.03, np.nan, 0.5]
    # Bonferroni by hand, m = 4 finite p-values: 4 p, capped at 1.
    np.testing.assert_allclose(adjust_p_values(p), [0.04, 0.16, 0.12, np.nan, 1.0])
    np.testing.assert_allclose(adjust_p_values(p, "bonferroni"), adjust_p_values(p))
    np.testing.assert_array_equal(adjust_p_values(p, None), p)
    for removed in ("holm", "bh"):  # no intervals to print beside them: removed
        with pytest.raises(ValueError, match=re.escape(
                f"correction={removed!r} is not valid: use one of ['bonferroni', None]")):
            adjust_p_values(p, removed)
