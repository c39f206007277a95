"""Where sharing hurts: the verdict per segment of the test rows (``compare_transfer(segments=)``).

A model can gain on average and lose inside a segment (cold users, one education level, one
department). The segments split each split's *test* rows only; every model is trained as
without them, and each (model, split) fit is scored again on each segment's test rows, so a
segment's per-split scores pair with the reference's exactly as the report's do and go through
the same paired test. The segment tests are a family of their own, made simultaneous with
Bonferroni (each interval at ``1 - alpha/m`` over the ``m`` tested (segment, model, task)
triples): segments of the same folds are dependent, and Bonferroni holds under any dependence
while giving an interval per outcome, as the report's own verdicts do.

Built-in activity segments (:class:`ActivitySegments`) count each user's (or item's) rows in
the split's training rows, never in its test rows.
"""

from __future__ import annotations

import numbers
from functools import partial

import numpy as np
import pandas as pd
from sklearn.utils import _safe_indexing
from sklearn.utils.validation import _num_samples

from .._validation import resolve_groups
from ..metrics import per_task_scores
from ._cascade import conditional_scores
from ._stats import (
    minimum_detectable_effect,
    non_inferior,
    outcome,
    paired_test,
    simultaneous_alpha,
)

# A segment with fewer test rows than this in a split is not scored in it: a ranking metric on
# a handful of rows is noise, and ROC AUC often undefined.
MIN_SEGMENT_ROWS = 30
SEGMENT_COLUMNS = ["segmentation", "segment", "model", "task", "repeat", "fold", "n_rows", "score"]
TOO_SMALL = "too small to test"


class ActivitySegments:
    """Users (or items) as cold, warm and heavy by their rows among each split's training rows.

    For each split, a test row's user is counted in that split's *training* rows only: a user
    with no training row is cold (the model never saw them), one with fewer than the heavy
    threshold is warm, the others heavy. The test rows never enter a count, so a user seen
    only in a test fold is cold in it.

    Parameters
    ----------
    column : str or None, default=None
        The column of ``X`` holding the user (or item) id; None: ``compare_transfer``'s
        ``groups=``.
    edges : tuple of int, default=None
        Increasing training-row counts where a bin starts after the first: ``(1, 20)`` gives
        0 (cold), 1-19 (warm), 20 and more (heavy). None: ``(1, h)`` with ``h`` the 75th
        percentile of the per-user training counts of each split (at least 2).
    labels : tuple of str, default=("cold", "warm", "heavy")
        One per bin (``len(edges) + 1``).

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> from sklearn_mtl.transfer import ActivitySegments
    >>> X = pd.DataFrame({"user": ["a", "a", "a", "b", "c", "a", "b"]})
    >>> ActivitySegments("user", edges=(1, 3)).labels_for(X, np.arange(5), np.array([5, 6]),
    ...                                                    groups=None).tolist()
    ['heavy', 'warm']
    """

    def __init__(self, column=None, *, edges=None, labels=("cold", "warm", "heavy")):
        self.column = column
        self.edges = edges
        self.labels = labels

    def __repr__(self) -> str:
        return (f"ActivitySegments(column={self.column!r}, edges={self.edges!r}, "
                f"labels={self.labels!r})")

    @property
    def name(self) -> str:
        return f"{'user' if self.column is None else self.column} activity"

    def _check(self, X, groups) -> None:
        edges, labels = self.edges, list(self.labels)
        if edges is not None:
            ok = (isinstance(edges, (tuple, list)) and len(edges) >= 1
                  and all(isinstance(e, numbers.Integral) and e >= 1 for e in edges)
                  and list(edges) == sorted(set(edges)))
            if not ok:
                raise ValueError(f"ActivitySegments(edges={edges!r}) is not valid: use increasing "
                                 "ints >= 1, such as (1, 20).")
        n_bins = 3 if edges is None else len(edges) + 1
        if len(labels) != n_bins or len(set(labels)) != n_bins:
            raise ValueError(f"ActivitySegments(labels={self.labels!r}) is not valid: give "
                             f"{n_bins} distinct labels, one per bin.")
        if self.column is None and groups is None:
            raise ValueError("ActivitySegments() without a column counts the users of groups=: "
                             "pass groups= (the user of each row) or name the id column.")
        if self.column is not None:
            resolve_groups(self.column, X, 0)  # names the column when X lacks it

    def labels_for(self, X, train, test, groups) -> np.ndarray:
        """The label of each test row, from the activity counted on the training rows."""
        ids = groups if self.column is None else resolve_groups(self.column, X, _num_samples(X))
        ids = pd.Series(np.asarray(ids, dtype=object))
        counts = ids.iloc[train].value_counts()
        seen = ids.iloc[test].map(counts).fillna(0).to_numpy(dtype=float)
        if self.edges is None:
            heavy = max(2, int(np.ceil(np.percentile(counts.to_numpy(), 75)))) if len(counts) else 2
            edges = (1, heavy)
        else:
            edges = tuple(self.edges)
        return np.asarray(self.labels, dtype=object)[np.digitize(seen, edges)]

    def order(self, X, groups) -> list[str]:
        return [str(label) for label in self.labels]


class _Fixed:
    """Segments fixed per row (a column of X, the caller's values, a callable of X)."""

    def __init__(self, name, values):
        self.name, self.values = name, values

    def labels_for(self, X, train, test, groups) -> np.ndarray:
        return self.values[test]

    def order(self, X, groups) -> list[str]:
        uniques = pd.unique(pd.Series(self.values))
        try:
            return [str(v) for v in sorted(uniques)]
        except TypeError:
            return sorted(str(v) for v in uniques)


MAX_SEGMENTS = 30


def _fixed(name, values, n: int) -> _Fixed:
    values = pd.Series(values).to_numpy() if isinstance(values, (pd.Series, pd.Categorical)) \
        else np.asarray(values, dtype=object)
    if values.ndim != 1 or len(values) != n:
        raise ValueError(f"segments {name!r} gives {np.shape(values)} values but X has {n} rows: "
                         "one segment per row.")
    missing = pd.isna(values)
    if missing.any():
        raise ValueError(f"segments {name!r} has {int(missing.sum())} missing values: give every "
                         "row a segment (fillna('missing') to test them as one).")
    n_unique = len(pd.unique(values))
    if n_unique > MAX_SEGMENTS:
        raise ValueError(
            f"segments {name!r} has {n_unique} distinct values (more than {MAX_SEGMENTS}): bin "
            f"it first, e.g. segments={{{name!r}: lambda X: pd.cut(X[{name!r}], bins=4)}}.")
    return _Fixed(name, np.array([str(v) for v in values], dtype=object))


def _one(name, spec, X, n: int, groups):
    if isinstance(spec, str) and spec == "user_activity":
        spec = ActivitySegments()
    if isinstance(spec, ActivitySegments):
        spec._check(X, groups)
        return spec
    if isinstance(spec, str):
        if not (isinstance(X, pd.DataFrame) and spec in X.columns):
            raise ValueError(
                f"segments={spec!r} is not a column of X nor a built-in segmentation "
                "('user_activity')" + (f"; X has {list(X.columns)[:20]}." if isinstance(
                    X, pd.DataFrame) else "."))
        return _fixed(name, X[spec], n)
    if callable(spec):
        return _fixed(name, spec(X), n)
    return _fixed(name, spec, n)


def _name_of(spec) -> str:
    if isinstance(spec, ActivitySegments):
        return spec.name
    if isinstance(spec, str):
        return "user activity" if spec == "user_activity" else spec
    if callable(spec):
        return getattr(spec, "__name__", "segments")
    return getattr(spec, "name", None) or "segments"


def resolve_segments(segments, X, n: int, groups) -> dict:
    """``{name: segmentation}`` from ``compare_transfer(segments=)``, or a ValueError.

    A column name of ``X``, ``"user_activity"``, an :class:`ActivitySegments`, an array of one
    value per row, a callable ``f(X)`` giving one, or a dict ``{name: any of those}``.
    """
    if segments is None:
        return {}
    if isinstance(segments, dict):
        if not segments:
            raise ValueError("segments={} is empty: give at least one segmentation or None.")
        items = list(segments.items())
    elif isinstance(segments, (list, tuple)) and segments and all(
            isinstance(s, (str, ActivitySegments)) for s in segments):
        items = [(_name_of(s), s) for s in segments]
    else:
        items = [(_name_of(segments), segments)]
    return {str(name): _one(str(name), spec, X, n, groups) for name, spec in items}


def reads_groups(segmentations: dict) -> bool:
    """Whether a segmentation counts the users of ``groups=``."""
    return any(isinstance(s, ActivitySegments) and s.column is None
               for s in segmentations.values())


def split_labels(segmentations: dict, X, splits, groups) -> list:
    """Per split: ``{name: segment of each test row}``."""
    return [{name: np.asarray(s.labels_for(X, train, test, groups), dtype=object)
             for name, s in segmentations.items()} for _, train, test in splits]


def with_extras(job, labels: dict | None, fused: list):
    """``job`` itself, or one that also scores the split's segments and fused scores."""
    if not labels and not fused:
        return job
    return partial(_scored_more, job, labels or {}, list(fused))


def _scored_more(job, labels, fused, *args):
    # args as _fit_and_score / _tune_fit_and_score take them: name, estimator, X, Y, train,
    # test, fold, metric, task names, keep, groups, ..., conditional (the last).
    args = list(args)
    keep, args[9] = args[9], True
    result = job(*args)
    model, X, Y, test, groups, conditional = (result["model"], args[2], args[3], args[5],
                                              args[10], args[-1])
    if result["scores"] is not None:
        X_test, Y_test = _safe_indexing(X, test), _safe_indexing(Y, test)
        g_test = None if groups is None else np.asarray(groups)[test]
        result["scores"] = {**result["scores"],
                            **{f.name: f.score(model, X_test, Y_test, g_test) for f in fused}}
        result["segments"] = _segment_rows(model, X_test, Y_test, g_test, labels, fused,
                                           result["metrics"], conditional, result["name"],
                                           args[6])
    if not keep:
        result["model"] = None
    return result


def _segment_rows(model, X_test, Y_test, g_test, labels, fused, metrics, conditional, name,
                  fold) -> list:
    rows = []
    names = list(getattr(model, "task_names_", None) or _final_names(model))
    for seg_name, values in labels.items():
        for value in pd.unique(values):
            at = np.flatnonzero(values == value)
            if len(at) < MIN_SEGMENT_ROWS:
                scores = {t: np.nan for t in [*names, *(f.name for f in fused)]}
            else:
                X_s, Y_s = _safe_indexing(X_test, at), _safe_indexing(Y_test, at)
                g_s = None if g_test is None else g_test[at]

                def score(fitted, X_s=X_s, Y_s=Y_s, g_s=g_s):
                    return per_task_scores(fitted, X_s, Y_s, metric=metrics, groups=g_s)

                scores = score(model)
                if conditional:
                    scores = conditional_scores(model, conditional, scores, score)
                scores.update({f.name: f.score(model, X_s, Y_s, g_s) for f in fused})
            rows += [dict(segmentation=seg_name, segment=str(value), model=name, task=t,
                          fold=fold, n_rows=len(at), score=float(s)) for t, s in scores.items()]
    return rows


def _final_names(model):
    from .._pipeline import final_step

    return final_step(model).task_names_


def segment_frame(results, splits, segmentations: dict, X, groups) -> pd.DataFrame | None:
    """The long table of per-split segment scores, segments in their natural order."""
    if not segmentations:
        return None
    rows = [dict(r, repeat=splits[r["fold"]][0]) for result in results
            for r in result.get("segments") or []]
    frame = pd.DataFrame(rows, columns=SEGMENT_COLUMNS)
    order = list(dict.fromkeys(f"{name}\x00{label}" for name, s in segmentations.items()
                               for label in s.order(X, groups)))
    key = frame["segmentation"] + "\x00" + frame["segment"]
    rank = {k: i for i, k in enumerate(order)}
    frame = frame.assign(_rank=key.map(rank).fillna(len(order))).sort_values(
        ["_rank", "model", "task", "fold"], kind="stable").drop(columns="_rank")
    return frame.reset_index(drop=True)


def segment_summary(report, alpha: float, test: str, correction, margin,
                    reference: str) -> pd.DataFrame:
    """One row per (segmentation, segment, model, task): the report's comparison on the
    segment's test rows (``reference`` names the reference's rows), with intervals simultaneous
    over the segment family."""
    seg = report.segment_scores
    if seg is None:
        raise ValueError("this report has no segments: pass compare_transfer(segments=...).")
    keys = list(dict.fromkeys(zip(seg["segmentation"], seg["segment"])))
    tasks, models = list(report.metric), report._models()
    wide = seg.pivot_table(index="fold", columns=["segmentation", "segment", "model", "task"],
                           values="score", aggfunc="first", dropna=False)
    sizes = seg[seg["model"] == reference].groupby(["segmentation", "segment"])["n_rows"].mean()

    def column(*key):
        return wide[key] if key in wide.columns else pd.Series(np.nan, index=wide.index)

    cells = [(s, v, m, t) for s, v in keys for t in tasks for m in models]
    diffs = {c: column(*c) - column(c[0], c[1], reference, c[3]) for c in cells}
    first = {c: paired_test(d, test=test, alpha=alpha, test_train_ratio=report.test_train_ratio)
             for c, d in diffs.items()}
    n_tests = sum(np.isfinite(r["p_value"]) for r in first.values())
    level = simultaneous_alpha(alpha, correction, n_tests)
    out = []
    for (s, v, m, t), d in diffs.items():
        # The report's n_test / n_train: a segment's rows are tested on models trained on the
        # whole training split, so their splits overlap as much as the report's.
        r = paired_test(d, test=test, alpha=level, test_train_ratio=report.test_train_ratio)
        ref = column(s, v, reference, t)[d.notna()]
        ref_mean = float(ref.mean()) if len(ref) else np.nan
        small = sizes.get((s, v), 0) < MIN_SEGMENT_ROWS
        gib = report.greater_is_better[t]
        mar = report._margin(margin, t, ref_mean) if np.isfinite(ref_mean) else np.nan
        out.append(dict(
            segmentation=s, segment=v, model=m, task=t, metric=report.metric[t],
            n_rows=float(sizes.get((s, v), np.nan)),
            mean=float(column(s, v, m, t)[d.notna()].mean()) if d.notna().any() else np.nan,
            reference_mean=ref_mean, delta=r["mean"], ci_low=r["ci_low"], ci_high=r["ci_high"],
            p_value=r["p_value"], n_pairs=r["n_pairs"],
            mde=minimum_detectable_effect(r["se"], r["n_pairs"], alpha=level), margin=mar,
            verdict=TOO_SMALL if small else outcome(r["ci_low"], r["ci_high"], margin=mar,
                                                    greater_is_better=gib),
            non_inferior=non_inferior(r["ci_low"], r["ci_high"], margin=mar,
                                      greater_is_better=gib) if np.isfinite(mar) else False,
            note=(f"fewer than {MIN_SEGMENT_ROWS} test rows a split on average"
                  if sizes.get((s, v), 0) < MIN_SEGMENT_ROWS else r["note"]),
        ))
    table = pd.DataFrame(out).set_index(["segmentation", "segment", "model", "task"])
    p = table["p_value"].to_numpy(float)
    table.insert(table.columns.get_loc("n_pairs"), "p_adjusted", np.where(
        np.isfinite(p), np.minimum(p * max(n_tests, 1) if correction else p, 1.0), np.nan))
    table.attrs["interval_level"] = 1 - level
    table.attrs["n_tests"] = int(n_tests)
    return table


def extras_identity(segmentations: dict, fused: list) -> dict:
    """What ``segments=`` and ``fused=`` add to a storage's identity (nothing without them, so
    that a directory written without them still matches)."""
    from ._storage import describe

    out = {}
    if segmentations:
        out["segments"] = describe(segmentations)
    if fused:
        out["fused"] = describe(fused)
    return out
