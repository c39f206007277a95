"""How ``compare_transfer`` scores a cascaded child (``cascade_scoring=``).

A cascade ``{child: parent}`` reads the child's label over the entire space: 0 wherever the
parent is 0, whatever was written there (NaN or 0). Its ``predict_proba`` for the child is the
entire-space ``P(parent and child | x)`` (pCTCVR) and ``predict_conditional_proba`` the
conditional ``P(child | parent, x)`` (pCVR). For the comparison to be apples to apples every
model (the reference, ``PerTaskLGBM``, a net without the cascade) is trained and scored on the
child's label as the chosen protocol reads it:

- ``"entire_space"``: the child's label is 0 where the parent is 0, on the training and the
  test rows; a model without the cascade learns the child directly over all impressions and
  every model is scored by ``predict_proba`` over all test rows.
- ``"parent_positive"``: the child's label is missing where the parent is 0; a model without
  the cascade learns the child on the parent's positive rows only (the naive conditional
  model), and every model is scored on the test rows whose parent is 1, a cascaded model by
  its ``predict_conditional_proba``.

Rows whose parent label is missing keep the child's label as given, as the cascade does.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator

from .._cascade import resolve_cascade
from .._pipeline import final_step
from ..tasks import as_target_frame

CASCADE_SCORINGS = ("entire_space", "parent_positive")


def model_cascade(estimator, names, kinds) -> dict:
    """``{child: parent}`` of a model's cascade (an empty dict for a model without one)."""
    final = final_step(estimator)
    params = final.get_params(deep=False) if hasattr(final, "get_params") else {}
    if "cascade" not in params or "architecture" not in params:
        return {}
    return resolve_cascade(params["cascade"], params["architecture"], names, kinds)


def comparison_cascade(models: dict, names, kinds) -> dict:
    """The union of the models' cascades; a child with two different parents is an error."""
    links: dict = {}
    for name, estimator in models.items():
        for child, parent in model_cascade(estimator, names, kinds).items():
            if links.setdefault(child, parent) != parent:
                raise ValueError(
                    f"model {name!r} cascades {child!r} from {parent!r} but another model from "
                    f"{links[child]!r}: the models of one comparison must agree on each child's "
                    "parent, since the child's label is read through it.")
    return links


def read_labels(Y, links: dict, scoring: str):
    """``Y`` with each cascaded child read as ``scoring`` says (``Y`` itself without links)."""
    if not links:
        return Y
    frame, _ = as_target_frame(Y)
    frame = frame.copy()
    for child, parent in links.items():
        column = pd.to_numeric(frame[child]).astype(float)
        off = pd.to_numeric(frame[parent]).astype(float) == 0
        column[off] = 0.0 if scoring == "entire_space" else np.nan
        frame[child] = column
    return frame if isinstance(Y, pd.DataFrame) else frame.to_numpy(dtype=float)


class _Conditional(BaseEstimator):
    """A fitted model whose ``predict_proba`` is its ``predict_conditional_proba``, for
    ``per_task_scores`` (a Pipeline's earlier steps transform ``X`` first)."""

    def __init__(self, model):
        self.model = model
        self.owner = final_step(model)
        self.tasks_, self.task_names_ = self.owner.tasks_, self.owner.task_names_
        self.classes_ = self.owner.classes_

    def fit(self, X, Y=None):  # scikit-learn's checks want one; this view only scores
        raise TypeError("a conditional view of a fitted model scores; it is not fitted.")

    def __sklearn_is_fitted__(self):
        return True

    def _inputs(self, X):
        return self.model[:-1].transform(X) if hasattr(self.model, "steps") else X

    def predict_proba(self, X):
        return self.owner.predict_conditional_proba(self._inputs(X))

    def predict(self, X):
        return self.model.predict(X)


def conditional_scores(model, links: dict, scores: dict, score) -> dict:
    """``scores`` with the model's own cascaded children scored by ``score(_Conditional(model))``."""
    children = [c for c in getattr(final_step(model), "cascade_", {}) or {} if c in links]
    if not children:
        return scores
    conditional = score(_Conditional(model))
    return {t: conditional[t] if t in children else s for t, s in scores.items()}
