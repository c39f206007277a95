"""Paired tests, multiplicity corrections, confidence intervals and verdicts: pure functions.

Nothing here knows about models or reports: every function takes the per-split differences
(model minus reference) or p-values and returns numbers, so each can be checked by hand.
"""

from __future__ import annotations

import numpy as np
from scipy import stats

# The paired tests by name, with the name the report prints.
TESTS = {"corrected": "corrected resampled t-test", "ttest": "paired t-test",
         "wilcoxon": "Wilcoxon signed-rank test"}
# "bonferroni": one simultaneous interval per (model, task), each at level 1 - alpha/m, so
# that every outcome of the report is read off an interval printed beside it and the chance
# of any false outcome is at most alpha (see ``outcome``). None: each interval at 1 - alpha.
CORRECTIONS = ("bonferroni", None)
# The outcomes of one (model, task) comparison, read off its interval of the delta.
VERDICTS = ("worse", "worse within margin", "better", "equivalent", "inconclusive")
# The decision on a model as a whole: no task loses more than its margin, or one does.
SHIP_DECISIONS = ("can ship", "cannot ship", "undecided")
MIN_PAIRS = 3

# The smallest difference that matters, per metric: a loss inside ±margin is one a team can
# ship. Bounded metrics get an absolute margin: half a point of ROC AUC, GAUC, average
# precision or accuracy is about the smallest gain recommender teams ship a model for, one
# point of R² (1 % of the variance) or of NDCG the smallest a user would notice. Losses and
# errors have the data's scale, so their margin is 1 % of the reference's mean. Override per
# task with margin={task: value}.
DEFAULT_MARGIN = {"roc_auc": 0.005, "average_precision": 0.005, "accuracy": 0.005,
                  "gauc": 0.005, "r2": 0.01, "ndcg": 0.01}
RELATIVE_MARGIN = {"log_loss": 0.01, "rmse": 0.01, "mae": 0.01}


def paired_test(diff, *, test: str = "corrected", test_train_ratio: float | None = None,
                alpha: float = 0.05) -> dict:
    """Two-sided test of mean(diff) = 0 and a (1 - alpha) confidence interval of the mean.

    Parameters
    ----------
    diff : array-like of float
        Paired differences, one per split (model minus reference); NaN are left out.
    test : {"corrected", "ttest", "wilcoxon"}, default="corrected"
        ``"corrected"``: the corrected resampled t-test of Nadeau & Bengio (2003): the variance
        of the mean is ``(1/J + n_test/n_train) * s²`` over the J differences instead of
        ``s²/J``, because overlapping training sets make the splits' scores correlated.
        ``"ttest"``: the plain paired t-test; ``"wilcoxon"``: the signed-rank test. Both
        ignore the overlap and are anti-conservative on repeated or K-fold splits.
    test_train_ratio : float, optional
        ``n_test / n_train`` of the splits, required by ``"corrected"``.
    alpha : float, default=0.05
        Level of the confidence interval. ``"wilcoxon"`` gives the signed-rank test's own
        interval (of the pseudo-median, from the Walsh averages), so that it leaves out 0
        exactly when the test rejects (save ties and zero differences): ``(-inf, inf)`` when
        so few pairs cannot reach the level (5 pairs never reach p < 0.0625).

    Returns
    -------
    dict with ``n_pairs``, ``mean``, ``p_value``, ``ci_low``, ``ci_high``, ``se`` (the standard
    error of the mean the test divides by) and ``note``: p, the interval and ``se`` are NaN with
    fewer than 3 usable pairs or when every difference is the same (zero variance: nothing to
    test, never p = 0), and ``note`` says which ("" otherwise).

    Examples
    --------
    >>> r = paired_test([0.1, 0.2, 0.3, 0.2], test="corrected", test_train_ratio=1 / 3)
    >>> round(r["p_value"], 4), r["n_pairs"]
    (0.0491, 4)
    """
    if test not in TESTS:
        raise ValueError(f"test={test!r} is not valid: use one of {list(TESTS)}.")
    d = np.asarray(diff, dtype=float)
    d = d[np.isfinite(d)]
    out = dict(n_pairs=len(d), mean=float(d.mean()) if len(d) else np.nan,
               p_value=np.nan, ci_low=np.nan, ci_high=np.nan, se=np.nan, note="")
    if len(d) < MIN_PAIRS:
        out["note"] = f"fewer than {MIN_PAIRS} usable pairs ({len(d)})"
        return out
    var = float(d.var(ddof=1))
    if not var > 0:
        out["note"] = f"zero variance: every difference is {d[0]:+.4g}"
        return out
    j = len(d)
    if test == "corrected":
        if test_train_ratio is None or not test_train_ratio > 0:
            raise ValueError(f"test_train_ratio={test_train_ratio!r} is not valid for the corrected "
                             "t-test: give n_test / n_train of the splits (> 0).")
        se = np.sqrt((1 / j + test_train_ratio) * var)
    else:
        se = np.sqrt(var / j)
    out["se"] = float(se)
    t_crit = stats.t.ppf(1 - alpha / 2, df=j - 1)
    out["ci_low"], out["ci_high"] = out["mean"] - t_crit * se, out["mean"] + t_crit * se
    if test == "wilcoxon":
        # The outcomes are read off the interval: it must be the one the test inverts, not a t
        # interval that may leave out 0 where the signed-rank test cannot reject.
        out["ci_low"], out["ci_high"] = signed_rank_interval(d, alpha=alpha)
        out["p_value"] = float(stats.wilcoxon(d).pvalue)
    else:
        out["p_value"] = float(2 * stats.t.sf(abs(out["mean"]) / se, df=j - 1))
    return out


def signed_rank_interval(diff, *, alpha: float) -> tuple[float, float]:
    """The (1 - alpha) interval that inverts the two-sided Wilcoxon signed-rank test.

    The Walsh averages ``(d_i + d_j) / 2`` (i <= j) sorted, less the ``c`` lowest and highest,
    where ``c`` is the largest count with ``P(T+ <= c - 1) <= alpha / 2`` under the null
    (exact up to 50 pairs, the normal approximation beyond): ``(-inf, inf)`` when ``c = 0``.

    Examples
    --------
    >>> signed_rank_interval([0.1, 0.2, 0.3, 0.2, 0.25], alpha=0.05)  # 2 / 2**5 > 0.05
    (-inf, inf)
    >>> lo, hi = signed_rank_interval(np.arange(1, 11) / 10, alpha=0.05)  # 9 off each end
    >>> round(lo, 3), round(hi, 3)
    (0.3, 0.8)
    """
    d = np.sort(np.asarray(diff, dtype=float))
    n = len(d)
    walsh = np.sort((d[:, None] + d[None, :])[np.triu_indices(n)] / 2)
    if n <= 50:
        pmf = np.zeros(len(walsh) + 1)
        pmf[0] = 1.0
        for i in range(1, n + 1):  # T+ = sum of the ranks with a + sign: each rank in or out
            pmf = (pmf + np.concatenate([np.zeros(i), pmf[:-i]])) / 2
        c = int(np.searchsorted(np.cumsum(pmf), alpha / 2 * (1 + 1e-12), side="right"))
    else:
        mean, sd = n * (n + 1) / 4, np.sqrt(n * (n + 1) * (2 * n + 1) / 24)
        c = max(0, int(np.floor(mean - stats.norm.ppf(1 - alpha / 2) * sd + 0.5)))
    if c == 0:
        return -np.inf, np.inf
    return float(walsh[c - 1]), float(walsh[len(walsh) - c])


POWER = 0.8


def minimum_detectable_effect(se: float, n_pairs: int, *, alpha: float,
                              power: float = POWER) -> float:
    """The smallest |mean difference| a two-sided t-test at ``alpha`` detects with ``power``.

    ``(t_{1 - alpha/2} + t_{power}) * se`` on ``n_pairs - 1`` degrees of freedom: the usual
    power approximation, with ``se`` the standard error the test divides by (the corrected one
    for the corrected resampled t-test). An effect smaller than this can hide behind an
    "inconclusive" verdict; ``benchmarks/bench_verdict.py --part mde`` checks by simulation that
    an effect of this size is found about ``power`` of the time.

    Examples
    --------
    >>> round(minimum_detectable_effect(0.01, 10, alpha=0.05), 4)
    0.0315
    """
    if not (np.isfinite(se) and n_pairs >= MIN_PAIRS):
        return np.nan
    df = n_pairs - 1
    return float((stats.t.ppf(1 - alpha / 2, df) + stats.t.ppf(power, df)) * se)


def repeats_to_halve(n_pairs: int, n_folds: int, test_train_ratio: float | None,
                     test: str = "corrected") -> int | None:
    """How many more repeats of the folds would halve the minimum detectable effect, or None.

    Halving it takes a variance of the mean four times smaller. The plain tests' ``s²/J`` gets
    there with four times the pairs. The corrected test's ``(1/J + n_test/n_train) * s²`` never
    falls below ``n_test/n_train * s²`` however many repeats are added, and with K-fold splits
    (``n_test/n_train = 1/(K-1) > 1/J``) a quarter of it is always below that floor: None. The
    change of the t quantiles with J is left out (a slight overestimate).

    Examples
    --------
    >>> repeats_to_halve(10, 5, 0.25) is None  # 5-fold, corrected test: never
    True
    >>> repeats_to_halve(10, 5, 0.25, test="ttest")  # 40 pairs: 8 repeats, 6 more
    6
    """
    if n_pairs < 1 or n_folds < 1:
        return None
    ratio = test_train_ratio if test == "corrected" and test_train_ratio else 0.0
    target = (1 / n_pairs + ratio) / 4 - ratio
    if not target > 0:
        return None
    pairs = int(np.ceil(1 / target - 1e-9))
    return max(0, int(np.ceil(pairs / n_folds)) - int(np.ceil(n_pairs / n_folds)))


def mde_floor(mde: float, n_pairs: int, test_train_ratio: float | None, *, alpha: float,
              power: float = POWER) -> float:
    """The minimum detectable effect of the corrected test with unlimited repeats of the folds.

    With J pairs its standard error is ``sqrt(1/J + r) * s`` (``r = n_test/n_train``); as J
    grows it tends to ``sqrt(r) * s`` and the t quantiles to the normal ones. Below this floor
    only more rows (a smaller spread ``s`` of the differences) or another ``cv`` can go.

    Examples
    --------
    >>> round(mde_floor(0.0315, 10, 0.25, alpha=0.05), 4)
    0.0237
    """
    if not (np.isfinite(mde) and n_pairs >= MIN_PAIRS and test_train_ratio):
        return np.nan
    df = n_pairs - 1
    s = mde / (stats.t.ppf(1 - alpha / 2, df) + stats.t.ppf(power, df)) / np.sqrt(
        1 / n_pairs + test_train_ratio)
    return float((stats.norm.ppf(1 - alpha / 2) + stats.norm.ppf(power)) * np.sqrt(
        test_train_ratio) * s)


def adjust_p_values(p_values, method: str | None = "bonferroni") -> np.ndarray:
    """Bonferroni-adjusted p-values: ``min(1, m * p)`` over the ``m`` finite ones.

    NaN p-values (untestable comparisons) stay NaN and do not count in the family size. An
    adjusted p-value below ``alpha`` is exactly an interval at level ``1 - alpha/m`` that
    leaves out 0 (:func:`simultaneous_alpha`).

    Examples
    --------
    >>> adjust_p_values([0.01, 0.04, 0.03, np.nan]).round(2).tolist()
    [0.03, 0.12, 0.09, nan]
    """
    if method not in CORRECTIONS:
        raise ValueError(f"correction={method!r} is not valid: use one of {list(CORRECTIONS)}.")
    p = np.asarray(p_values, dtype=float)
    if method is None:
        return p.copy()
    m = int(np.isfinite(p).sum())
    return np.where(np.isfinite(p), np.minimum(p * max(m, 1), 1.0), np.nan)


def simultaneous_alpha(alpha: float, correction: str | None, n_tests: int) -> float:
    """The level each interval is built at: ``alpha / m`` (Bonferroni), ``alpha`` without one.

    With every one of the ``m`` intervals at ``1 - alpha/m``, all of them cover their true
    delta with probability at least ``1 - alpha`` (Bonferroni's inequality, whatever their
    dependence), and every outcome read off them is then right.

    Examples
    --------
    >>> simultaneous_alpha(0.05, "bonferroni", 4), simultaneous_alpha(0.05, None, 4)
    (0.0125, 0.05)
    """
    return alpha / max(int(n_tests), 1) if correction else alpha


def outcome(ci_low: float, ci_high: float, *, margin: float, greater_is_better: bool) -> str:
    """The outcome of one comparison, read off its (simultaneous) interval of the delta.

    With the interval oriented so that positive is better: ``"better"`` when it lies above 0;
    ``"worse"`` when it lies below 0 and reaches below ``-margin`` (a loss that may matter);
    ``"worse within margin"`` when it lies below 0 but above ``-margin`` (a real loss too
    small to matter: not negative transfer); ``"equivalent"`` when it lies inside
    ``±margin``; ``"inconclusive"`` otherwise and when it is undefined (NaN). Each outcome is
    a claim about the true delta that holds whenever the interval covers it, so their
    family-wise error is that of the intervals.

    Examples
    --------
    >>> outcome(-0.03, -0.01, margin=0.005, greater_is_better=True)
    'worse'
    >>> outcome(-0.004, -0.001, margin=0.005, greater_is_better=True)
    'worse within margin'
    >>> outcome(-0.004, 0.003, margin=0.005, greater_is_better=True)
    'equivalent'
    >>> outcome(-0.02, 0.003, margin=0.005, greater_is_better=True)
    'inconclusive'
    """
    if not (np.isfinite(ci_low) and np.isfinite(ci_high)):
        return "inconclusive"
    low, high = (ci_low, ci_high) if greater_is_better else (-ci_high, -ci_low)
    if low > 0:
        return "better"
    if high < 0:
        return "worse within margin" if low >= -margin else "worse"
    if -margin <= low and high <= margin:
        return "equivalent"
    return "inconclusive"


def non_inferior(ci_low: float, ci_high: float, *, margin: float,
                 greater_is_better: bool) -> bool:
    """Whether the interval rules out a loss larger than ``margin`` (its worse end is above
    ``-margin``); False when it is undefined.

    Examples
    --------
    >>> non_inferior(-0.004, 0.02, margin=0.005, greater_is_better=True)
    True
    """
    if not (np.isfinite(ci_low) and np.isfinite(ci_high)):
        return False
    worst = ci_low if greater_is_better else -ci_high
    return bool(worst >= -margin)


def margin_for(metric: str, reference_mean: float) -> float:
    """The default margin of a metric (see ``DEFAULT_MARGIN``; ``ndcg@k`` is ``ndcg``)."""
    if metric in RELATIVE_MARGIN:
        return RELATIVE_MARGIN[metric] * abs(reference_mean)
    base = metric.split("@", 1)[0] if isinstance(metric, str) else metric
    if base in DEFAULT_MARGIN:
        return DEFAULT_MARGIN[base]
    raise ValueError(f"no default margin for metric {metric!r}: give margin={{task: value}}.")
