"""Paired tests of a model's per-fold scores against the reference's."""

from __future__ import annotations

import numpy as np
from scipy import stats


def _paired_p_value(values: np.ndarray, ref: np.ndarray, test: str) -> float:
    diff = values - ref
    if len(diff) < 2 or not np.any(diff != 0):  # no variation to test: undefined, not 1
        return np.nan
    result = stats.ttest_rel(values, ref) if test == "ttest" else stats.wilcoxon(values, ref)
    return float(result.pvalue)
