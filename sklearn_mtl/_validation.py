"""Per-row arguments that every layer reads the same way: ``groups`` and ``sample_weight`` as
arrays of one value per row, or a ``ValueError`` naming the argument (a leaf module)."""

from __future__ import annotations

import numpy as np
import pandas as pd


def resolve_groups(groups, X, n: int):
    """``groups`` as an array of ``n`` rows: an array-like, or the name of a column of ``X``."""
    if groups is None:
        return None
    if isinstance(groups, str):
        if not (isinstance(X, pd.DataFrame) and groups in X.columns):
            raise ValueError(
                f"groups={groups!r} is not a column of X"
                + (f" ({list(X.columns)[:20]})." if isinstance(X, pd.DataFrame) else
                   " (X has no column names: pass the groups as an array).")
            )
        return X[groups].to_numpy()
    values = np.asarray(groups)
    if values.shape != (n,):
        raise ValueError(f"groups has shape {values.shape} but X has {n} rows: one group per row.")
    return values


def resolve_sample_weight(sample_weight, n: int):
    """``sample_weight`` as a float array of ``n`` finite weights >= 0, or None."""
    if sample_weight is None:
        return None
    values = np.asarray(sample_weight, dtype=float)
    if values.shape != (n,):
        raise ValueError(f"sample_weight has shape {values.shape} but X has {n} rows: one weight "
                         "per row.")
    if not np.all(np.isfinite(values)) or (values < 0).any():
        bad = values[~(np.isfinite(values) & (values >= 0))][0]
        raise ValueError(f"sample_weight must be finite and >= 0; it holds {bad!r}.")
    return values
