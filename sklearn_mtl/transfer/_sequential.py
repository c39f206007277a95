"""A sequential verdict: add repeats of the folds one at a time and stop once every verdict is settled.

The design is group-sequential with *repeated confidence intervals* (Jennison & Turnbull,
"Interim analyses: the repeated confidence interval approach", JRSS B 51, 1989; *Group
Sequential Methods with Applications to Clinical Trials*, 2000, ch. 9). A look is the end of a
repeat: after repeat ``r`` of at most ``R`` the report holds ``J_r = r K`` (repeat, fold)
differences per (model, task). Every interval of the report is built at the look's nominal
level instead of ``alpha / m``; those levels come from a Lan–DeMets alpha-spending function
(Lan & DeMets, Biometrika 70, 1983), O'Brien–Fleming-type by default, so that each pair's
sequence of intervals covers its true delta at *every* look together with probability at least
``1 - alpha / m``, and Bonferroni over the ``m`` pairs gives ``1 - alpha`` for all of them at
all looks. Whatever the look at which the compare stops, and whatever rule chose it, the
outcomes read off the intervals there are then all right with probability at least
``1 - alpha``: the family-wise error of the fixed design.

**What a look's information is.** The corrected resampled t-test (Nadeau & Bengio, 2003)
models the differences as equicorrelated: the variance of their mean over ``J`` splits is
``(1/J + n_test/n_train) s²``, which does not fall to 0 as repeats are added, since every
repeat reuses the same rows. Under that model the means at successive looks have the
covariance of a sum of independent increments (``Cov(mean_r, mean_R) = Var(mean_R)``), so the
canonical joint distribution of group-sequential tests holds with the information
``I_r = 1 / (1/J_r + n_test/n_train)`` and the information fraction ``t_r = I_r / I_R``, not
``r / R``. With 5 folds (``n_test/n_train = 1/4``) and ``R = 2`` the first repeat already holds
``t_1 = 0.78`` of the information. The plain paired t-test (``test="ttest"``) has
``t_r = J_r / J_R``. The boundaries are computed for normal statistics by the recursive
integration of Armitage, McPherson & Rowe (JRSS A 132, 1969) and carried to the t
distribution of the look (``J_r - 1`` degrees of freedom) at the same tail probability
(Jennison & Turnbull 2000, section 3.8).
"""

from __future__ import annotations

import functools

import numpy as np
import pandas as pd
from scipy import optimize, stats

from ._stats import simultaneous_alpha

SPENDING = ("obrien-fleming", "pocock")
FUTILITY_OPTIMISM = 0.1
_GRID = 801


def check_sequential(sequential, test: str) -> str | None:
    """The spending function ``sequential=`` asks for (None for the fixed design)."""
    if sequential is False or sequential is None:
        return None
    if sequential is not True and sequential not in SPENDING:
        raise ValueError(f"sequential={sequential!r} is not valid: use True (O'Brien-Fleming-type "
                         f"spending), False, or one of {list(SPENDING)}.")
    if test == "wilcoxon":
        raise ValueError("sequential= needs test='corrected' or 'ttest': the signed-rank "
                         "interval has no group-sequential boundaries here.")
    return SPENDING[0] if sequential is True else sequential


def spent_alpha(fraction: float, alpha: float, spending: str = "obrien-fleming") -> float:
    """The two-sided error spent by information fraction ``fraction`` (Lan & DeMets, 1983).

    ``"obrien-fleming"``: ``2 - 2 Φ(z_{1-alpha/2} / sqrt(t))``, which spends almost nothing
    early; ``"pocock"``: ``alpha log(1 + (e - 1) t)``. Both spend ``alpha`` at ``t = 1``.

    Examples
    --------
    >>> round(spent_alpha(0.5, 0.05), 5), spent_alpha(1.0, 0.05)
    (0.00557, 0.05)
    """
    t = min(max(float(fraction), 0.0), 1.0)
    if t == 0:
        return 0.0
    if t == 1:
        return float(alpha)
    if spending == "obrien-fleming":
        return float(2 * stats.norm.sf(stats.norm.isf(alpha / 2) / np.sqrt(t)))
    if spending == "pocock":
        return float(alpha * np.log1p((np.e - 1) * t))
    raise ValueError(f"spending={spending!r} is not valid: use one of {list(SPENDING)}.")


def information_fractions(n_folds: int, n_repeats: int, test_train_ratio: float) -> np.ndarray:
    """``t_r = I_r / I_R`` after each repeat, ``I_r = 1 / (1/(r K) + n_test/n_train)``.

    ``test_train_ratio`` is 0 for the plain paired t-test (``t_r = r / R``).

    Examples
    --------
    >>> information_fractions(5, 2, 0.25).round(3).tolist()
    [0.778, 1.0]
    >>> information_fractions(5, 4, 0.0).tolist()
    [0.25, 0.5, 0.75, 1.0]
    """
    j = n_folds * np.arange(1, n_repeats + 1, dtype=float)
    information = 1 / (1 / j + test_train_ratio)
    return information / information[-1]


@functools.lru_cache(maxsize=256)
def boundaries(alpha: float, fractions: tuple, spending: str = "obrien-fleming") -> tuple:
    """Two-sided critical values ``c_r`` of standard normal statistics at each look.

    ``P(|Z_1| < c_1, ..., |Z_{r-1}| < c_{r-1}, |Z_r| >= c_r)`` equals the error spent
    between looks ``r - 1`` and ``r`` under the canonical joint distribution
    (``Corr(Z_i, Z_j) = sqrt(t_i / t_j)``), computed by integrating the density of the
    statistic over the continuation region look by look on a grid.

    Examples
    --------
    >>> [round(c, 3) for c in boundaries(0.05, (0.5, 1.0))]  # c_1 = z_{0.975} / sqrt(0.5)
    [2.772, 1.979]
    """
    t = np.asarray(fractions, dtype=float)
    if len(t) == 0 or np.any(np.diff(t) <= 0) or not 0 < t[0] or t[-1] > 1 + 1e-12:
        raise ValueError(f"fractions={fractions!r} must increase strictly within (0, 1].")
    spent = np.array([spent_alpha(f, alpha, spending) for f in t])
    out = [float(stats.norm.isf(spent[0] / 2))]
    z = np.linspace(-out[0], out[0], _GRID)
    weights = _trapezoid(z)
    density = stats.norm.pdf(z)
    for k in range(1, len(t)):
        shrink, scale = np.sqrt(t[k - 1] / t[k]), np.sqrt(1 - t[k - 1] / t[k])
        mass = weights * density
        c = float(optimize.brentq(_crossing, 1e-6, 40.0, xtol=1e-10,
                                  args=(mass, z, shrink, scale, spent[k] - spent[k - 1])))
        out.append(c)
        following = np.linspace(-c, c, _GRID)
        density = (mass[None, :] * stats.norm.pdf(
            (following[:, None] - shrink * z[None, :]) / scale) / scale).sum(axis=1)
        z, weights = following, _trapezoid(following)
    return tuple(out)


def _crossing(c, mass, z, shrink, scale, target):
    """The mass that continued past the last look and leaves ``(-c, c)`` at this one, less
    the error this look may spend."""
    return float(np.sum(mass * (stats.norm.sf((c - shrink * z) / scale)
                                + stats.norm.cdf((-c - shrink * z) / scale)))) - target


def _trapezoid(z: np.ndarray) -> np.ndarray:
    w = np.full(len(z), z[1] - z[0])
    w[[0, -1]] /= 2
    return w


def look_alpha(alpha: float, look: int, n_folds: int, n_repeats: int, test_train_ratio: float,
               spending: str = "obrien-fleming") -> float:
    """The nominal two-sided level of an interval at ``look`` (0-based) of ``n_repeats``.

    ``alpha`` is the level one pair's sequence of intervals must hold at over all looks (the
    report's ``alpha / m``). One look is the fixed design: ``alpha`` itself.

    Examples
    --------
    >>> round(look_alpha(0.05, 0, 5, 2, 0.25), 4), round(look_alpha(0.05, 1, 5, 2, 0.25), 4)
    (0.0263, 0.0408)
    """
    fractions = tuple(float(f) for f in information_fractions(n_folds, n_repeats,
                                                              test_train_ratio)[:look + 1])
    return float(2 * stats.norm.sf(boundaries(float(alpha), fractions, spending)[look]))


def interval_level(level: float, report, test: str) -> float:
    """The level of a report's intervals: ``level`` (= alpha / m) carried to the look a
    sequential compare stopped at, ``level`` itself for a fixed design."""
    design = getattr(report, "sequential", None)
    if not design:
        return level
    ratio = report.test_train_ratio if test == "corrected" else 0.0
    return look_alpha(level, design["repeats_run"] - 1, report.n_folds, design["max_repeats"],
                      ratio, design["spending"])


def run_looks(results: dict, todo: list, splits: list, parallel, spending: str,
              make_report, reference: str) -> dict:
    """Fit the (model, split) jobs ``todo`` repeat by repeat until :func:`look_decision`
    says stop.

    ``results`` holds ``{(split, k): result}`` already available (from a storage); they are
    used, not refitted, when their repeat is reached. After each repeat a report of the
    repeats so far (``make_report(scores, metric=, n_folds=, n_repeats=, test_train_ratio=,
    sequential=)``, the reference's fits named ``reference``) is read. Returns ``results`` of
    the repeats that ran, ``fits_reused``, ``n_splits`` and the report's ``sequential`` dict.
    """
    repeat_of = [r for r, _, _ in splits]
    n_repeats = max(repeat_of) + 1
    n_folds = len(splits) // n_repeats
    pending = dict(todo)
    used, reused = {}, 0
    for look in range(n_repeats):
        keys = [key for key in [*results, *pending] if repeat_of[key[0]] == look]
        reused += sum(key in results for key in keys)
        jobs = [(key, pending[key]) for key in keys if key not in results]
        done = parallel(job for _, job in jobs)
        used.update({key: results[key] for key in keys if key in results})
        used.update({key: r for (key, _), r in zip(jobs, done)})
        n_splits = (look + 1) * n_folds
        design = dict(spending=spending, max_repeats=n_repeats, repeats_run=look + 1,
                      stop_reason="")
        report = _look_report(used, splits[:n_splits], make_report, design, reference)
        decision, open_pairs = (None, None) if report is None else look_decision(report)
        if decision is not None or look == n_repeats - 1:
            break
    design["stop_reason"] = stop_reason(decision, open_pairs, look + 1, n_repeats)
    return dict(results=used, fits_reused=reused, n_splits=n_splits, sequential=design)


def stop_reason(decision: str | None, open_pairs: int | None, ran: int, most: int) -> str:
    """The sentence ``report.sequential["stop_reason"]`` holds."""
    spared = "" if ran == most else f": {most - ran} repeat(s) not needed"
    if decision == "settled":
        return f"every verdict settled after repeat {ran} of {most}{spared}"
    if decision == "futile":
        return (f"stopped after repeat {ran} of {most}{spared}: the {open_pairs} inconclusive "
                "verdict(s) could not be settled by the remaining repeats at their present "
                "spread (more rows or a wider margin could)")
    if open_pairs is None:
        return f"all {most} repeats ran (no verdict could be read)"
    return f"all {most} repeats ran: {open_pairs} verdict(s) still inconclusive"


def look_decision(report) -> tuple[str | None, int]:
    """Whether a sequential compare stops at the look ``report`` was read at, and how many of
    its (model, task) outcomes are inconclusive.

    ``"settled"``: none is. ``"futile"``: each inconclusive interval, carried to the last look
    with its present mean and an optimistic spread (the lower 90 % confidence bound of ``s``;
    the corrected standard error ``sqrt(1/J + r) s`` at the ``J`` of all repeats, the last
    look's nominal level), would still be inconclusive: neither clear of 0 nor inside
    ±margin. Repeated confidence intervals hold whatever rule stops them, so this rule spends
    no error; it spares the repeats that the corrected test's variance floor makes useless.
    None: go on.
    """
    summary = report.summary()
    design = report.sequential
    open_rows = summary[summary["verdict"] == "inconclusive"]
    if not len(open_rows):
        return "settled", 0
    ran, most = design["repeats_run"], design["max_repeats"]
    if ran == most:
        return None, len(open_rows)
    level = 1 - summary.attrs["interval_level"]
    ratio = report.test_train_ratio if report.test == "corrected" else 0.0
    # The per-pair alpha the looks' levels are spent from, and the last look's level.
    family = simultaneous_alpha(report.alpha, report.correction,
                                int(summary["p_value"].notna().sum()))
    last_level = look_alpha(family, most - 1, report.n_folds, most, ratio, design["spending"])
    for row in open_rows.itertuples():
        n = int(row.n_pairs)
        if n < 3 or not (np.isfinite(row.ci_low) and np.isfinite(row.ci_high)):
            return None, len(open_rows)  # no spread to carry forward yet
        spread = (row.ci_high - row.ci_low) / (2 * stats.t.isf(level / 2, n - 1)
                                               * np.sqrt(1 / n + ratio))
        # An optimistic spread (the lower 90 % bound of s): with a few pairs the estimate is
        # noisy, and stopping for futility on an unlucky one would waste what ran.
        spread *= np.sqrt((n - 1) / stats.chi2.isf(FUTILITY_OPTIMISM, n - 1))
        final = n * most // ran
        half = stats.t.isf(last_level / 2, final - 1) * np.sqrt(1 / final + ratio) * spread
        centre = abs((row.ci_low + row.ci_high) / 2)
        if half < centre or centre + half <= row.margin:
            return None, len(open_rows)
    return "futile", len(open_rows)


def _look_report(results: dict, splits: list, make_report, design: dict, reference_name: str):
    """The report of the repeats so far (None when the fits disagree on the tasks or their
    metrics: the compare's own checks then say so)."""
    runs = [results[key] for key in sorted(results)]
    reference = next((r for r in runs if r["name"] == reference_name), None)
    if reference is None or any(r["scores"] is None or r["metrics"] != reference["metrics"]
                                for r in runs):
        return None
    metric = dict(zip(reference["scores"], reference["metrics"]))  # the tasks, in order
    scores = pd.DataFrame(
        [dict(model=r["name"], task=t, repeat=splits[r["fold"]][0], fold=r["fold"], score=s)
         for r in runs for t, s in r["scores"].items() if t in metric],
        columns=["model", "task", "repeat", "fold", "score"])
    return make_report(
        scores, metric=metric,
        n_folds=len(splits) // design["repeats_run"], n_repeats=design["repeats_run"],
        test_train_ratio=float(np.mean([len(te) / len(tr) for _, tr, te in splits])),
        sequential=design)
