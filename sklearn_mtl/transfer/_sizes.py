"""transfer_curve: the verdict at several training sizes, and where sharing stops paying.

Sharing often pays with little labelled data and stops paying with much more (Wang et al., CVPR
2019). :func:`transfer_curve` draws the comparison's splits once, subsamples each split's
training rows to every size (nested: a smaller size's rows are a subset of a larger one's; the
test rows unchanged), runs :func:`compare_transfer` on those folds at each size, and locates the
size at which each model's delta against the reference changes sign, bracketed by the sizes at
which the intervals, simultaneous over every size, model and task, show a gain and a loss.
"""

from __future__ import annotations

import numbers
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

from .._resampling import cv_splits, derived_seed
from .._routing import uses_groups
from .._validation import resolve_groups
from ..tasks import as_target_frame
from ._compare import compare_transfer

CURVE_COLUMNS = ["train_size", "n_train", "model", "task", "metric", "mean", "std",
                 "reference_mean", "reference_std", "delta", "ci_low", "ci_high", "gain",
                 "gain_low", "gain_high", "verdict", "n_pairs"]
CROSSOVER_COLUMNS = ["model", "task", "kind", "crossover", "low", "high", "n_sign_changes"]


def _check_sizes(train_sizes, n_train_min: int) -> list:
    """Ascending sizes: ints (rows, 2 to the smallest split's training rows) or floats in (0, 1]."""
    if isinstance(train_sizes, (str, bytes)) or not hasattr(train_sizes, "__iter__"):
        raise ValueError(f"train_sizes={train_sizes!r} is not valid: use a list of row counts "
                         "(ints) or of fractions of each split's training rows (floats in (0, 1]).")
    sizes = list(train_sizes)
    if len(sizes) < 2:
        raise ValueError(f"train_sizes={train_sizes!r} is not valid: a curve needs at least two "
                         "sizes.")
    for size in sizes:
        if isinstance(size, bool) or not isinstance(size, numbers.Real):
            raise ValueError(f"train_sizes has {size!r}, which is not a number of rows or a "
                             "fraction.")
        if isinstance(size, numbers.Integral):
            if not 2 <= size <= n_train_min:
                raise ValueError(
                    f"train_sizes has {size} rows: each must be between 2 and {n_train_min}, the "
                    "training rows of the smallest split (a size takes its rows from every "
                    "split's training rows, never from its test rows).")
        elif not 0 < size <= 1:
            raise ValueError(f"train_sizes has {size!r}: a fraction must be in (0, 1] (of each "
                             "split's training rows); give row counts as ints.")
    if len({type(s) is float or isinstance(s, np.floating) for s in sizes}) > 1:
        raise ValueError(f"train_sizes={train_sizes!r} mixes row counts and fractions: use one.")
    if len(set(sizes)) != len(sizes) or sorted(sizes) != sizes:
        raise ValueError(f"train_sizes={train_sizes!r} is not valid: give distinct sizes in "
                         "ascending order.")
    return sizes


def _rows(size, n_train: int) -> int:
    return int(size) if isinstance(size, numbers.Integral) else max(2, int(round(size * n_train)))


def subsample_splits(splits: list, sizes: list, seed: int) -> dict:
    """``{size: [(repeat, train rows, test rows), ...]}``: each split's training rows cut to
    ``size`` by one permutation per split (nested sizes), its test rows as they are."""
    orders = [np.random.default_rng(derived_seed(seed, 10_000 + k)).permutation(train)
              for k, (_, train, _) in enumerate(splits)]
    return {size: [(r, np.sort(order[:_rows(size, len(train))]), test)
                   for (r, train, test), order in zip(splits, orders)]
            for size in sizes}


def transfer_curve(models: dict, X, Y, *, train_sizes, cv=5, n_repeats: int | None = None,
                   random_state=None, storage=None, groups=None, alpha: float = 0.05,
                   **compare_params) -> TransferCurve:
    """The negative-transfer verdict at several training sizes, and where sharing stops paying.

    The splits of ``cv`` are drawn once. At each size every split's training rows are
    subsampled (a fixed random order per split, so the rows of a smaller size are among those
    of every larger one), its test rows are kept, and :func:`compare_transfer` runs on these
    folds with the same per-split seeds: a size differs from another only by the training rows
    it removes. A separate function rather than a ``compare_transfer`` parameter because it
    returns one report per size and a summary across them, not one report.

    Parameters
    ----------
    models, X, Y
        As in :func:`compare_transfer`.
    train_sizes : list of int or list of float
        Ascending. Ints: training rows per split (at most the smallest split's); floats in
        (0, 1]: fractions of each split's training rows (1.0 is the full split).
    cv, n_repeats, random_state, groups
        As in :func:`compare_transfer`; ``random_state`` also seeds the subsamples (0 when
        None, so that every size's rows are reproducible).
    storage : str, path or None, default=None
        A directory; each size keeps its fits in its own folder ``train_size=<size>`` inside
        it (see :func:`compare_transfer`), so a curve stopped part way resumes where it
        stopped.
    alpha : float, default=0.05
        The family-wise error over the whole curve: each size's report builds its intervals
        at ``alpha / n_sizes`` (Bonferroni over the sizes, on top of each report's over its
        models and tasks), so that every interval of :meth:`TransferCurve.summary`, and the
        crossover brackets read off them, hold together with probability at least
        ``1 - alpha``.
    **compare_params
        Any other argument of :func:`compare_transfer` (``reference``, ``metric``, ``tune``,
        ``n_jobs``, ``margin``, ...). With ``tune=``, each size's nested studies tune on that
        size's training rows only.

    Returns
    -------
    TransferCurve

    Notes
    -----
    Each size's report is tested with the corrected resampled t-test using the full splits'
    ``n_test / n_train``: subsampling makes the splits' training sets overlap less than the
    full splits' do, so the correlation the correction accounts for is at most the full
    splits' (a conservative choice; the size's own ratio, up to 20 test rows per training
    row at the smallest sizes, would inflate the intervals many times over).

    Examples
    --------
    >>> from sklearn_mtl import PerTaskLGBM, transfer_curve
    >>> from sklearn_mtl.datasets import make_multitask_data
    >>> X, Y = make_multitask_data(n_samples=600, n_features=8, random_state=0)
    >>> curve = transfer_curve({"lgbm": PerTaskLGBM(n_estimators=20, n_jobs=1, verbose=-1)}, X, Y,
    ...                        reference=PerTaskLGBM(n_estimators=5, n_jobs=1, verbose=-1),
    ...                        train_sizes=[100, 400], cv=3, random_state=0)
    >>> curve.summary()[["n_train", "model", "task"]].head(2).values.tolist()
    [[100.0, 'lgbm', 'task_0'], [100.0, 'lgbm', 'task_1']]
    >>> list(curve.crossover().columns)[:4]
    ['model', 'task', 'kind', 'crossover']
    """
    if not 0 < alpha < 1:
        raise ValueError(f"alpha={alpha!r} is not valid: it must be in (0, 1).")
    if compare_params.get("return_estimators") and storage is not None:
        raise ValueError("return_estimators=True cannot be combined with storage=.")
    frame, _ = as_target_frame(Y)
    group_values = None if groups is None else resolve_groups(groups, X, frame.shape[0])
    splits = cv_splits(cv, frame, random_state, n_repeats, group_values)
    sizes = _check_sizes(train_sizes, min(len(train) for _, train, _ in splits))
    seed = 0 if random_state is None else random_state
    folds = subsample_splits(splits, sizes, seed if isinstance(seed, numbers.Integral)
                             else int(np.random.RandomState(seed).randint(2**31 - 1)))
    n_repeats = max(r for r, _, _ in splits) + 1
    ratio = float(np.mean([len(te) / len(tr) for _, tr, te in splits]))
    grouped = uses_groups(cv)
    reports = {}
    for size, sized in folds.items():
        with warnings.catch_warnings():
            if grouped:  # the groups split the folds, which the list of folds no longer says
                warnings.filterwarnings("ignore", message="groups= is not used")
            report = compare_transfer(
                models, X, Y, cv=[(train, test) for _, train, test in sized], n_repeats=1,
                random_state=random_state, groups=groups, alpha=alpha / len(sizes),
                storage=None if storage is None else Path(storage) / f"train_size={size}",
                **compare_params)
        # The report's splits are the curve's: repeats, folds and the full splits' ratio.
        report.scores["repeat"] = report.scores["fold"].map(
            {k: r for k, (r, _, _) in enumerate(sized)})
        report.n_folds, report.n_repeats = len(splits) // n_repeats, n_repeats
        report.test_train_ratio, report.grouped = ratio, grouped
        reports[size] = report
    return TransferCurve(reports, folds, alpha=alpha)


class TransferCurve:
    """The reports of :func:`transfer_curve`, one per training size, and the crossovers.

    Attributes
    ----------
    reports : dict
        ``{train_size: TransferReport}``, in ascending size; each report's settings build its
        intervals at ``alpha / n_sizes``.
    train_sizes : list
        The sizes as given.
    n_train : dict
        ``{train_size: mean training rows per split}``.
    folds : dict
        ``{train_size: [(repeat, train rows, test rows), ...]}``: the folds each size was
        fitted and scored on (the same test rows at every size).
    alpha : float
        The family-wise error over the whole curve.
    """

    def __init__(self, reports: dict, folds: dict, alpha: float = 0.05):
        self.reports = dict(reports)
        self.folds = dict(folds)
        self.train_sizes = list(self.reports)
        self.n_train = {s: float(np.mean([len(tr) for _, tr, _ in f])) for s, f in folds.items()}
        self.alpha = alpha

    @property
    def metric(self) -> dict:
        return next(iter(self.reports.values())).metric

    def summary(self) -> pd.DataFrame:
        """One row per (train_size, model, task), in ascending size.

        Columns: ``train_size``, ``n_train``, ``model``, ``task``, ``metric``; ``mean``,
        ``std`` (over splits) of the model and ``reference_mean``, ``reference_std`` of the
        reference; ``delta`` (model − reference, raw) and its interval ``ci_low``,
        ``ci_high``; ``gain``, ``gain_low``, ``gain_high``: the same oriented so that positive
        means sharing pays (negated for losses such as log_loss); ``verdict`` and ``n_pairs``
        as in :meth:`TransferReport.summary`. The intervals are simultaneous over every row.
        """
        rows = []
        for size, report in self.reports.items():
            table = report.summary().reset_index()
            wide = report.scores.pivot(index="fold", columns=["model", "task"], values="score")
            for row in table.itertuples(index=False):
                sign = 1.0 if report.greater_is_better[row.task] else -1.0
                low, high = sorted((sign * row.ci_low, sign * row.ci_high))
                rows.append(dict(
                    train_size=size, n_train=self.n_train[size], model=row.model, task=row.task,
                    metric=row.metric, mean=row.mean, std=row.std,
                    reference_mean=row.reference_mean,
                    reference_std=float(wide[("reference", row.task)].std(ddof=1)),
                    delta=row.delta, ci_low=row.ci_low, ci_high=row.ci_high,
                    gain=sign * row.delta, gain_low=low, gain_high=high, verdict=row.verdict,
                    n_pairs=row.n_pairs))
        return pd.DataFrame(rows, columns=CURVE_COLUMNS)

    def crossover(self) -> pd.DataFrame:
        """Where each model's gain against the reference changes sign, with its bracket.

        One row per (model, task): ``kind`` is ``"stops paying"`` (a gain at a smaller size,
        a loss at the next), ``"starts paying"`` (the reverse), ``"pays at every size"``
        or ``"hurts at every size"`` (the mean gain keeps its sign); ``crossover`` is the
        training rows where the mean gain crosses 0, interpolated linearly in log(rows)
        between the two sizes around the first sign change (NaN without one); ``low`` and
        ``high`` bracket it with the curve's simultaneous intervals: for ``"stops paying"``,
        ``low`` is the largest size at or below the crossover whose interval shows a gain and
        ``high`` the smallest size above it whose interval shows a loss (reversed for
        ``"starts paying"``); NaN where no size shows one, i.e. the crossover is not located
        on that side. ``n_sign_changes`` counts the sign changes of the mean gain.
        """
        table = self.summary()
        out = []
        for (model, task), part in table.groupby(["model", "task"], sort=False):
            x = part["n_train"].to_numpy(float)
            gain = part["gain"].to_numpy(float)
            lows, highs = part["gain_low"].to_numpy(float), part["gain_high"].to_numpy(float)
            positive = gain > 0
            changes = np.flatnonzero(positive[1:] != positive[:-1])
            row = dict(model=model, task=task, crossover=np.nan, low=np.nan, high=np.nan,
                       n_sign_changes=len(changes))
            if not len(changes):
                row["kind"] = "pays at every size" if positive.all() else "hurts at every size"
            else:
                i = int(changes[0])
                row["kind"] = "stops paying" if positive[i] else "starts paying"
                t = gain[i] / (gain[i] - gain[i + 1])
                row["crossover"] = float(np.exp(np.log(x[i]) + t * (np.log(x[i + 1])
                                                                    - np.log(x[i]))))
                before, after = (lows > 0, highs < 0) if positive[i] else (highs < 0, lows > 0)
                below = np.flatnonzero(before[: i + 1])
                above = np.flatnonzero(after[i + 1:]) + i + 1
                row["low"] = float(x[below[-1]]) if len(below) else np.nan
                row["high"] = float(x[above[0]]) if len(above) else np.nan
            out.append(row)
        return pd.DataFrame(out, columns=CROSSOVER_COLUMNS)

    def lines(self) -> list[str]:
        """One sentence per (model, task): whether and where sharing stops (or starts) paying."""
        from ._sizes_page import crossover_lines

        return crossover_lines(self)

    def plot(self, title: str | None = None):
        """Learning curves per task (matplotlib): the scores of every model and the reference
        with ±1 std bands over the splits (top), each model's gain with its simultaneous
        interval as a band and the crossover brackets (bottom). Returns the Figure."""
        from ._sizes_page import plot_curve

        return plot_curve(self, title=title)

    def to_html(self, path, title: str | None = None, settings: dict | None = None) -> Path:
        """Write the curve as one self-contained HTML page: the sentences, the crossover
        table, the figure, the per-size table, the settings. Returns the path."""
        from ._sizes_page import render_curve_html

        return render_curve_html(self, path, title=title, settings=settings)

    def __repr__(self) -> str:
        sizes = ", ".join(f"{n:,.0f}" for n in self.n_train.values())
        return (f"TransferCurve({len(self.reports)} sizes: {sizes} training rows per split)\n"
                + "\n".join(self.lines()))
