"""Per-user (per-group) ranking metrics: GAUC and NDCG@k.

A recommender is judged on how it ranks each user's own impressions; these functions score each
group on its rows and average over groups. ``sklearn_mtl.metrics`` exposes them as the
``"gauc"`` and ``"ndcg@k"`` metrics with a ``groups=`` argument.
"""

from __future__ import annotations

import numbers

import numpy as np
import pandas as pd


def _numeric(values: np.ndarray, name: str) -> np.ndarray:
    """``values`` as float64, or a ValueError naming the argument and a value that is not a number."""
    try:
        return values.astype(float)
    except (TypeError, ValueError):
        bad = next((v for v in values.ravel().tolist() if not _is_number(v)), values.ravel()[0])
        raise ValueError(f"{name} must hold numbers, got {bad!r}.") from None


def _is_number(value) -> bool:
    try:
        float(value)
    except (TypeError, ValueError):
        return False
    return True


def _checked(y_true, y_score, groups, sample_weight=None):
    """Equal-length 1-D float labels, float scores, groups (and weights), labelled rows only.

    A missing label (NaN, None, ``pd.NA``) is a row without a label, as in
    :func:`~sklearn_mtl.metrics.per_task_scores`: it is dropped, never read as a class.
    """
    arrays = [np.asarray(a) for a in (y_true, y_score, groups)]
    names = ["y_true", "y_score", "groups"]
    if sample_weight is not None:
        arrays.append(np.asarray(sample_weight))
        names.append("sample_weight")
    for name, a in zip(names, arrays):
        if a.ndim != 1:
            raise ValueError(f"{name} must be 1-D, got shape {a.shape}.")
    lengths = [len(a) for a in arrays]
    if len(set(lengths)) > 1:
        raise ValueError(f"{', '.join(names[:-1])} and {names[-1]} must have the same length, "
                         f"got {lengths}.")
    y = arrays[0]
    if y.dtype == object:  # pandas' nullable labels arrive as objects with pd.NA
        y = np.where(pd.isna(y), np.nan, y)
    y = _numeric(y, "y_true")
    s = _numeric(arrays[1], "y_score")
    if not np.isfinite(s).all():
        raise ValueError(f"y_score must be finite, got {s[~np.isfinite(s)][0].item()!r} at row "
                         f"{int(np.flatnonzero(~np.isfinite(s))[0])}.")
    if np.isinf(y).any():
        raise ValueError("y_true holds inf; use NaN for a missing label.")
    labelled = ~np.isnan(y)
    out = [y[labelled], s[labelled], arrays[2][labelled]]
    if sample_weight is not None:
        w = _numeric(arrays[3], "sample_weight")[labelled]
        if not np.isfinite(w).all() or (w < 0).any():
            raise ValueError("sample_weight must be finite and >= 0.")
        out.append(w)
    return out


def _check_k(k) -> int:
    if isinstance(k, bool) or not isinstance(k, numbers.Integral) or k < 1:
        raise ValueError(f"k={k!r} is not valid: use an int >= 1 (the number of top-ranked "
                         "items scored per group).")
    return int(k)


def gauc_score(y_true, y_score, groups, *, sample_weight=None,
               return_counts: bool = False) -> float | tuple[float, int, int]:
    """Group AUC: the mean of each group's ROC AUC, weighted by the group's number of rows.

    The per-user AUC that recommender teams report for click and like models (Zhou et al.,
    "Deep Interest Network", KDD 2018): a model is judged on how it ranks each user's own
    impressions, not on separating active from inactive users. Groups with one class only have
    no AUC and are skipped; ``return_counts`` says how many. Tied scores share their AUC
    credit (half a pair each), as in ``roc_auc_score``.

    Parameters
    ----------
    y_true : array-like of shape (n_samples,)
        Binary labels (0/1 or bool). NaN (or None / ``pd.NA``) marks a row without a label:
        it is left out. Any other value is refused.
    y_score : array-like of shape (n_samples,)
        Finite scores, higher meaning more likely positive.
    groups : array-like of shape (n_samples,)
        The group (user) of each row; rows of a missing group (NaN) are left out.
    sample_weight : array-like of shape (n_samples,), default=None
        Row weights: each group's AUC is the weighted one (as ``roc_auc_score``'s
        ``sample_weight``) and groups are weighted by their total weight instead of their rows.
    return_counts : bool, default=False
        Also return ``(n_groups_scored, n_groups_skipped)``.

    Returns
    -------
    float, or (float, int, int) with ``return_counts``
        NaN when no group has both classes.

    Examples
    --------
    >>> from sklearn_mtl.metrics import gauc_score
    >>> gauc_score([0, 1, 0, 1, 1], [0.1, 0.9, 0.8, 0.3, 0.5], ["a", "a", "b", "b", "c"],
    ...            return_counts=True)
    (0.5, 2, 1)
    """
    y, s, g, *rest = _checked(y_true, y_score, groups, sample_weight)
    w = rest[0] if rest else np.ones(len(y))
    other = ~np.isin(y, (0.0, 1.0))
    if other.any():
        raise ValueError(f"gauc needs binary labels (0/1 or bool) in y_true, got {y[other][0].item()!r}; "
                         "binarize them first (for example y_true >= 4 for ratings).")
    y = y.astype(bool)
    # Integer codes: groups of any type sort; a missing group (NaN) is left out, as by groupby.
    codes = pd.factorize(g)[0]
    frame = pd.DataFrame({"g": codes, "s": s, "pos": np.where(y, w, 0.0),
                          "neg": np.where(y, 0.0, w)})[codes >= 0]
    # Mann-Whitney U over blocks of tied scores within each group: a positive counts the
    # negative weight below its score, and half the negative weight tied with it. No user loop.
    blocks = frame.groupby(["g", "s"], sort=True)[["pos", "neg"]].sum().reset_index()
    below = blocks.groupby("g", sort=False)["neg"].cumsum() - blocks["neg"]
    blocks["u"] = blocks["pos"] * (below + 0.5 * blocks["neg"])
    per = blocks.groupby("g", sort=False)[["pos", "neg", "u"]].sum()
    usable = (per["pos"] > 0) & (per["neg"] > 0)
    per = per[usable]
    auc = per["u"] / (per["pos"] * per["neg"])
    score = (float(np.average(auc, weights=per["pos"] + per["neg"])) if len(per)
             else float("nan"))
    if return_counts:
        return score, int(usable.sum()), int((~usable).sum())
    return score


def _dcg(frame: pd.DataFrame, by: str, discount: np.ndarray) -> pd.Series:
    """Each group's DCG when its rows are ranked by ``by``, tied rows sharing their gain.

    A block of ``n`` tied rows at positions ``[start, start + n)`` is worth its mean relevance
    times the sum of those positions' discounts (scikit-learn's ``ndcg_score`` with
    ``ignore_ties=False``): no order of equal scores is favoured, so a constant model cannot
    borrow the order of the log.
    """
    blocks = frame.groupby(["g", by], sort=True).agg(n=("y", "size"), gain=("y", "sum"))
    blocks = blocks.iloc[::-1]  # each group's best score first
    group = blocks.index.get_level_values("g")
    end = blocks.groupby(group, sort=False)["n"].cumsum().to_numpy()
    start = end - blocks["n"].to_numpy()
    value = blocks["gain"].to_numpy() / blocks["n"].to_numpy() * (discount[end] - discount[start])
    return pd.Series(value, index=group).groupby(level=0).sum()


def ndcg_at_k_score(y_true, y_score, groups, *, k: int = 10) -> float:
    """Mean over groups (users) of NDCG@k with graded relevance ``y_true`` (e.g. ratings).

    Each group's items are ranked by ``y_score``; gains are the true values, discounted by
    ``1 / log2(rank + 1)`` over the top ``k``, and divided by the best possible ordering's.
    Items with tied scores share the gain of the ranks they span (their mean relevance at each),
    as scikit-learn's ``ndcg_score`` does, so the order of the rows never changes the score.
    Groups whose relevance is all zero have no NDCG and are skipped (NaN when all are).

    Parameters
    ----------
    y_true : array-like of shape (n_samples,)
        Relevance, >= 0 (ratings, or 0/1). NaN (or None / ``pd.NA``) marks a row without a
        label: it is left out.
    y_score : array-like of shape (n_samples,)
        Finite scores, higher ranked first.
    groups : array-like of shape (n_samples,)
        The group (user) of each row; rows of a missing group (NaN) are left out.
    k : int, default=10
        Only each group's ``k`` top-ranked items count.

    Returns
    -------
    float

    Examples
    --------
    >>> from sklearn_mtl.metrics import ndcg_at_k_score
    >>> ndcg_at_k_score([5, 1, 3, 4], [0.9, 0.1, 0.8, 0.2], ["a", "a", "b", "b"], k=1)
    0.875
    """
    k = _check_k(k)
    y, s, g = _checked(y_true, y_score, groups)
    if (y < 0).any():
        raise ValueError(f"ndcg needs relevance values >= 0 in y_true, got {y[y < 0][0].item()!r}.")
    codes = pd.factorize(g)[0]
    frame = pd.DataFrame({"g": codes, "y": y, "s": s})[codes >= 0]
    # discount[n]: the summed discount of positions 0 .. n-1, positions from k on worth 0.
    positions = np.arange(len(frame) + 1)
    per_position = np.where(positions < k, 1.0 / np.log2(positions + 2), 0.0)
    discount = np.concatenate([[0.0], np.cumsum(per_position)])
    ideal = _dcg(frame, "y", discount)
    usable = ideal > 0
    if not usable.any():
        return float("nan")
    return float((_dcg(frame, "s", discount)[usable] / ideal[usable]).mean())
