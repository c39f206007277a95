"""Impressions with clicks and purchases under sample selection bias (the ESMM setting)."""

from __future__ import annotations

import numbers

import numpy as np
import pandas as pd
from sklearn.utils import Bunch, check_random_state

from .._checks import check_number, in_range

_DEVICES = np.array(["mobile", "desktop", "tablet"])
# Per device: (click offset, conversion offset). Mobile users click more and buy less.
_DEVICE_EFFECT = np.array([[0.3, -0.4], [-0.2, 0.4], [0.0, 0.0]])
_N_LATENT = 4


def _hermite(g: float) -> tuple[np.ndarray, np.ndarray]:
    """Gauss-Hermite nodes (probabilists', weights summing to 1) to integrate out an intent of
    strength ``g``: the logistic curves steepen with ``g``, so the nodes grow with it (40 a
    unit, at most 200). Against adaptive quadrature the error is below 1e-15 at ``g=1``, 1e-10
    at 3 and 1e-5 at 10."""
    nodes, weights = np.polynomial.hermite_e.hermegauss(int(min(200, 40 * np.ceil(max(g, 1.0)))))
    return nodes, weights / weights.sum()


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
    intent_strength: float = 1.0,
    return_bunch: bool = False,
) -> tuple[pd.DataFrame, pd.DataFrame] | Bunch:
    r"""Generate impressions whose purchases are observed only where the user clicked.

    The data of an e-commerce feed as ESMM (Ma et al., "Entire Space Multi-Task Model",
    SIGIR 2018) describes it. Each row is one impression of an item to a user:

    1. Users have a latent taste :math:`u \in \mathbb{R}^4`, an age and an activity level;
       items a latent profile :math:`v`, a second latent :math:`w` (what makes a visitor buy),
       a price, a popularity and a quality; all standard normal (the price log-normal).
       Every impression draws a user and an item uniformly, a position 1-5 and a device, and
       a purchase intent :math:`\iota \sim N(0, 1)` that no column of ``X`` carries (the
       visitor's need of the moment).
    2. Click: ``click ~ Bernoulli(pCTR)``, ``logit pCTR = -2 + interest + 0.5 popularity +
       0.3 activity - 0.3 (position - 1) + device offset + ctr_offset + g intent``, with
       :math:`\text{interest} = u^\top v / 2` and ``g = intent_strength``.
    3. Latent conversion, drawn for *every* impression: ``conversion ~ Bernoulli(pCVR)``,
       ``logit pCVR = -1 + s interest + sqrt(1 - s^2) u^T w / 2 - 0.7 log price + 0.5 quality
       + 0.2 age + device offset + g intent`` with ``s = interest_share``. pCVR is thereby
       correlated with pCTR through the interest term but not equal to it: position drives
       clicks only, price and quality conversions only, and the device pulls them in opposite
       directions.
    4. Observed: ``click``, and ``purchase = conversion`` on clicked rows, NaN elsewhere (never
       observed). The latent conversion is the ground truth over all impressions.

    The intent makes the purchase labels missing *not* at random given ``X``: a clicked
    impression converts more often than an unclicked one with the same columns, so the clicked
    rows over-represent high intent. With ``intent_strength=0`` a conversion, given every
    column (ids included), does not depend on the click: the clicked rows are then a biased
    sample of the impressions only through ``X``, which a model of ``X`` can account for.
    Under the intent, a model trained on the clicked rows, ESMM's ``pCTCVR / pCTR``, and
    inverse-propensity or doubly robust corrections whose propensity is a function of ``X``
    all estimate ``P(conversion | click, X)`` (``pcvr_given_click_x``), not
    ``P(conversion | X)`` (``pcvr_given_x``): the intent is a confounder no column measures.
    The two differ far more in level than in order: at the defaults the first overstates the
    conversion rate of every impression and ranks them with AUC 0.764, the second 0.766.

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
        Added to every click logit: the default gives about 15 % clicks (12 % with
        ``intent_strength=0``, and -0.25 gives 12 % with the default intent), -2 about 3.2 %
        (2.3 %; -2.4 with the default intent): fewer purchase labels, as in real feeds.
    random_state : int, RandomState instance or None, default=None
        Seed of the draws.
    intent_strength : float, default=1.0
        Weight ``g >= 0`` of the per-impression purchase intent in both logits; 0 removes it
        (every other variable keeps a seed's draws). The default, 1, moves both logits as much
        as one standard deviation of the user-item interest does (a term of unit variance):
        real visitors click what they mean to buy. At 1 a clicked impression converts about
        1.7 times as often as an unclicked one with the same columns (the mean over rows of
        ``P(conversion | click, X) / P(conversion | no click, X)``), and the columns still
        explain more of a conversion than the intent: the true pCVR ranks the latent
        conversions with AUC 0.83 with the intent, 0.77 with the intent integrated out (0.79
        at 0). A judgement of realism, not fitted to data or to any model's score.
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
        With ``return_bunch=True``: ``data`` (X), ``target`` (Y), ``conversion`` (the latent
        0/1 conversion of every row), ``intent`` (the standard normal intent of every row),
        ``pctr`` and ``pcvr`` (the true probabilities of the row's click and conversion, intent
        included), ``pctr_given_x`` and ``pcvr_given_x`` (the same with the intent integrated
        out: the best a model of all the columns of ``X`` can reach), ``pcvr_given_click_x``
        (``P(conversion | click, X)``: what a model trained on the clicked rows estimates) and
        ``DESCR``. With ``intent_strength=0`` the ``*_given_x`` equal ``pctr`` and ``pcvr``.

    Examples
    --------
    >>> from sklearn_mtl.datasets import make_ctr_cvr_data
    >>> X, Y = make_ctr_cvr_data(n_samples=1000, random_state=0)
    >>> list(Y.columns), X.shape
    (['click', 'purchase'], (1000, 8))
    >>> truth = make_ctr_cvr_data(n_samples=1000, random_state=0, return_bunch=True)
    >>> bool(Y["purchase"].isna().equals(truth.target["click"] == 0))
    True
    >>> clicked = truth.target["click"].to_numpy() == 1
    >>> bool(truth.pcvr_given_click_x[clicked].mean() > truth.pcvr_given_x[clicked].mean())
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
    g = float(check_number("intent_strength", intent_strength, low=0))
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
    u_click = rng.uniform(size=n_samples)
    u_conversion = rng.uniform(size=n_samples)
    # Drawn last, so that intent_strength=0 leaves every other variable's draws as they are.
    intent = rng.normal(size=n_samples)

    scale = np.sqrt(_N_LATENT)
    interest = np.einsum("ij,ij->i", taste[user], profile[item]) / scale
    buy_fit = np.einsum("ij,ij->i", taste[user], buy_profile[item]) / scale
    # The logits given X: everything but the intent.
    logit_ctr = (-2.0 + interest + 0.5 * popularity[item] + 0.3 * activity[user]
                 - 0.3 * (position - 1) + _DEVICE_EFFECT[device, 0] + float(ctr_offset))
    s = float(interest_share)
    logit_cvr = (-1.0 + s * interest + np.sqrt(1 - s**2) * buy_fit - 0.7 * log_price[item]
                 + 0.5 * quality[item] + 0.2 * age[user] + _DEVICE_EFFECT[device, 1])
    pctr = _sigmoid(logit_ctr + g * intent)
    pcvr = _sigmoid(logit_cvr + g * intent)
    click = (u_click < pctr).astype(float)
    conversion = (u_conversion < pcvr).astype(int)

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
    pctr_x, pcvr_x, both_x = _integrate_intent(logit_ctr, logit_cvr, g)
    return Bunch(data=X, target=Y, conversion=conversion, intent=intent, pctr=pctr, pcvr=pcvr,
                 pctr_given_x=pctr_x, pcvr_given_x=pcvr_x, pcvr_given_click_x=both_x / pctr_x,
                 DESCR=make_ctr_cvr_data.__doc__)


def _sigmoid(z):
    return 1 / (1 + np.exp(-z))


def _integrate_intent(logit_ctr, logit_cvr, g):
    """``P(click | X)``, ``P(conversion | X)`` and ``P(click and conversion | X)``: the
    expectations over the standard normal intent, by Gauss-Hermite quadrature."""
    if g == 0:
        pctr, pcvr = _sigmoid(logit_ctr), _sigmoid(logit_cvr)
        return pctr, pcvr, pctr * pcvr
    pctr, pcvr, both = (np.zeros_like(logit_ctr) for _ in range(3))
    # One node at a time: memory stays one row-length array per term.
    for node, weight in zip(*_hermite(g)):
        a, b = _sigmoid(logit_ctr + g * node), _sigmoid(logit_cvr + g * node)
        pctr += weight * a
        pcvr += weight * b
        both += weight * a * b
    return pctr, pcvr, both
