"""Per-user (per-group) ranking metrics: GAUC and NDCG@k.

A recommender is judged on how it ranks each user's own impressions; these functions score each
group on its rows and average over groups. ``sklearn_mtl.metrics`` exposes them as the
``"gauc"`` and ``"ndcg@k"`` metrics with a ``groups=`` argument.
"""

from __future__ import annotations

import numpy as np
import pandas as pd


def _same_length(y_true, y_score, groups):
    arrays = [np.asarray(a) for a in (y_true, y_score, groups)]
    lengths = [len(a) for a in arrays]
    if len(set(lengths)) > 1:
        raise ValueError(f"y_true, y_score and groups must have the same length, got {lengths}.")
    return arrays


def gauc_score(y_true, y_score, groups, *, sample_weight=None, return_counts: bool = False):
    """Group AUC: the mean of each group's ROC AUC, weighted by the group's number of rows.

    The per-user AUC that recommender teams report for click and like models (Zhou et al.,
    "Deep Interest Network", KDD 2018): a model is judged on how it ranks each user's own
    impressions, not on separating active from inactive users. Groups with one class only have
    no AUC and are skipped; ``return_counts`` says how many.

    Parameters
    ----------
    y_true : array-like of shape (n_samples,)
        Binary labels (0/1 or bool).
    y_score : array-like of shape (n_samples,)
        Scores, higher meaning more likely positive.
    groups : array-like of shape (n_samples,)
        The group (user) of each row.
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
    y, s, g = _same_length(y_true, y_score, groups)
    if sample_weight is None:
        w = np.ones(len(y))
    else:
        w = _same_length(y_true, sample_weight, groups)[1].astype(float)
        if not np.all(np.isfinite(w)) or (w < 0).any():
            raise ValueError("sample_weight must be finite and >= 0 for gauc.")
    y = y.astype(bool)
    # Integer codes: groups of any type sort; a missing group (NaN) is left out, as by groupby.
    codes = pd.factorize(g)[0]
    frame = pd.DataFrame({"g": codes, "s": s.astype(float), "pos": np.where(y, w, 0.0),
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


def ndcg_at_k_score(y_true, y_score, groups, *, k: int = 10) -> float:
    """Mean over groups (users) of NDCG@k with graded relevance ``y_true`` (e.g. ratings).

    Each group's items are ranked by ``y_score``; gains are the true values, discounted by
    ``1 / log2(rank + 1)`` over the top ``k``, and divided by the best possible ordering's.
    Groups whose relevance is all zero have no NDCG and are skipped (NaN when all are).

    Examples
    --------
    >>> from sklearn_mtl.metrics import ndcg_at_k_score
    >>> ndcg_at_k_score([5, 1, 3, 4], [0.9, 0.1, 0.8, 0.2], ["a", "a", "b", "b"], k=1)
    0.875
    """
    y, s, g = _same_length(y_true, y_score, groups)
    frame = pd.DataFrame({"g": g, "y": y.astype(float), "s": s.astype(float)})
    if (frame["y"] < 0).any():
        raise ValueError("ndcg needs relevance values >= 0 in y_true.")

    def dcg(by: str) -> pd.Series:
        ranked = frame.sort_values(["g", by], ascending=[True, False], kind="stable")
        rank = ranked.groupby("g", sort=False).cumcount() + 1
        gain = (ranked["y"] / np.log2(rank + 1)).where(rank <= k, 0.0)
        return gain.groupby(ranked["g"]).sum()

    ideal = dcg("y")
    usable = ideal > 0
    return float((dcg("s")[usable] / ideal[usable]).mean()) if usable.any() else float("nan")
