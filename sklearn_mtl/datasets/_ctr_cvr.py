"""Impressions with clicks and purchases under sample selection bias (the ESMM setting)."""

from __future__ import annotations

import numbers

import numpy as np
import pandas as pd
from sklearn.utils import Bunch, check_random_state

from .._checks import in_range

_DEVICES = np.array(["mobile", "desktop", "tablet"])
# Per device: (click offset, conversion offset). Mobile users click more and buy less.
_DEVICE_EFFECT = np.array([[0.3, -0.4], [-0.2, 0.4], [0.0, 0.0]])
_N_LATENT = 4


def _check_int(name, value, low):
    if not in_range(value, integer=True, low=low):
        raise ValueError(f"{name}={value!r} is not valid: it must be an int >= {low}.")
    return int(value)


def make_ctr_cvr_data(
    n_samples: int = 20000,
    n_users: int = 1000,
    n_items: int = 500,
    interest_share: float = 0.6,
    ctr_offset: float = 0.0,
    random_state: int | np.random.RandomState | None = None,
    *,
    return_bunch: bool = False,
) -> tuple[pd.DataFrame, pd.DataFrame] | Bunch:
    r"""Generate impressions whose purchases are observed only where the user clicked.

    The data of an e-commerce feed as ESMM (Ma et al., "Entire Space Multi-Task Model",
    SIGIR 2018) describes it. Each row is one impression of an item to a user:

    1. Users have a latent taste :math:`u \in \mathbb{R}^4`, an age and an activity level;
       items a latent profile :math:`v`, a second latent :math:`w` (what makes a visitor buy),
       a price, a popularity and a quality; all standard normal (the price log-normal).
       Every impression draws a user and an item uniformly, a position 1-5 and a device.
    2. Click: ``click ~ Bernoulli(pCTR)``, ``logit pCTR = -2 + interest + 0.5 popularity +
       0.3 activity - 0.3 (position - 1) + device offset + ctr_offset``, with
       :math:`\text{interest} = u^\top v / 2`.
    3. Latent conversion, drawn for *every* impression: ``conversion ~ Bernoulli(pCVR)``,
       ``logit pCVR = -1 + s interest + sqrt(1 - s^2) u^T w / 2 - 0.7 log price + 0.5 quality
       + 0.2 age + device offset`` with ``s = interest_share``. pCVR is thereby correlated
       with pCTR through the interest term but not equal to it: position drives clicks only,
       price and quality conversions only, and the device pulls them in opposite directions.
    4. Observed: ``click``, and ``purchase = conversion`` on clicked rows, NaN elsewhere (never
       observed). A model of purchase trained on the clicked rows sees a biased sample of the
       impressions it must later score; the latent conversion is the ground truth over all of
       them.

    Parameters
    ----------
    n_samples : int, default=20000
        Number of impressions.
    n_users, n_items : int, default=1000, 500
        Number of distinct users and items (the ``user_id`` / ``item_id`` categories).
    interest_share : float, default=0.6
        Weight ``s`` in [0, 1] of the user-item interest that drives clicks in the conversion
        logit; 1 makes the user-item part of conversion the same as the click's.
    ctr_offset : float, default=0.0
        Added to every click logit: the default gives about 12 % clicks, -2 about 2.5 %
        (fewer purchase labels, as in real feeds).
    random_state : int, RandomState instance or None, default=None
        Seed of the draws.
    return_bunch : bool, default=False
        Return a Bunch with the ground truth instead of ``(X, Y)``.

    Returns
    -------
    X : DataFrame of shape (n_samples, 8)
        ``user_id``, ``item_id`` and ``device`` (category), ``user_age``, ``user_activity``,
        ``item_price``, ``item_popularity`` (float) and ``position`` (int).
    Y : DataFrame of shape (n_samples, 2)
        ``click`` (0/1) and ``purchase`` (0/1 on clicked rows, NaN elsewhere), float.
    bunch : sklearn.utils.Bunch
        With ``return_bunch=True``: ``data`` (X), ``target`` (Y), ``pctr``, ``pcvr`` (the true
        probabilities per row), ``conversion`` (the latent 0/1 conversion of every row) and
        ``DESCR``.

    Examples
    --------
    >>> from sklearn_mtl.datasets import make_ctr_cvr_data
    >>> X, Y = make_ctr_cvr_data(n_samples=1000, random_state=0)
    >>> list(Y.columns), X.shape
    (['click', 'purchase'], (1000, 8))
    >>> truth = make_ctr_cvr_data(n_samples=1000, random_state=0, return_bunch=True)
    >>> bool(Y["purchase"].isna().equals(truth.target["click"] == 0))
    True
    """
    n_samples = _check_int("n_samples", n_samples, 1)
    n_users = _check_int("n_users", n_users, 1)
    n_items = _check_int("n_items", n_items, 1)
    if (not isinstance(interest_share, numbers.Real) or isinstance(interest_share, bool)
            or not 0 <= interest_share <= 1):
        raise ValueError(
            f"interest_share={interest_share!r} is not valid: it must be a number in [0, 1]."
        )
    if (not isinstance(ctr_offset, numbers.Real) or isinstance(ctr_offset, bool)
            or not np.isfinite(ctr_offset)):
        raise ValueError(f"ctr_offset={ctr_offset!r} is not valid: it must be a finite number.")
    rng = check_random_state(random_state)
    taste = rng.normal(size=(n_users, _N_LATENT))
    age, activity = rng.normal(size=(2, n_users))
    profile = rng.normal(size=(n_items, _N_LATENT))
    buy_profile = rng.normal(size=(n_items, _N_LATENT))
    log_price = rng.normal(size=n_items)
    popularity, quality = rng.normal(size=(2, n_items))

    user = rng.randint(n_users, size=n_samples)
    item = rng.randint(n_items, size=n_samples)
    position = rng.randint(1, 6, size=n_samples)
    device = rng.choice(3, size=n_samples, p=[0.6, 0.3, 0.1])

    scale = np.sqrt(_N_LATENT)
    interest = np.einsum("ij,ij->i", taste[user], profile[item]) / scale
    buy_fit = np.einsum("ij,ij->i", taste[user], buy_profile[item]) / scale
    logit_ctr = (-2.0 + interest + 0.5 * popularity[item] + 0.3 * activity[user]
                 - 0.3 * (position - 1) + _DEVICE_EFFECT[device, 0] + float(ctr_offset))
    s = float(interest_share)
    logit_cvr = (-1.0 + s * interest + np.sqrt(1 - s**2) * buy_fit - 0.7 * log_price[item]
                 + 0.5 * quality[item] + 0.2 * age[user] + _DEVICE_EFFECT[device, 1])
    pctr = 1 / (1 + np.exp(-logit_ctr))
    pcvr = 1 / (1 + np.exp(-logit_cvr))
    click = (rng.uniform(size=n_samples) < pctr).astype(float)
    conversion = (rng.uniform(size=n_samples) < pcvr).astype(int)

    X = pd.DataFrame({
        "user_id": pd.Categorical(user, categories=np.arange(n_users)),
        "item_id": pd.Categorical(item, categories=np.arange(n_items)),
        "device": pd.Categorical(_DEVICES[device], categories=_DEVICES),
        "user_age": 35 + 12 * age[user],
        "user_activity": activity[user],
        "item_price": np.round(np.exp(3 + log_price[item]), 2),
        "item_popularity": popularity[item],
        "position": position,
    })
    Y = pd.DataFrame({"click": click, "purchase": np.where(click == 1, conversion, np.nan)})
    if not return_bunch:
        return X, Y
    return Bunch(data=X, target=Y, pctr=pctr, pcvr=pcvr, conversion=conversion,
                 DESCR=make_ctr_cvr_data.__doc__)
