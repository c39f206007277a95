"""make_ctr_cvr_data: purchases observed only after a click, with the ground truth of every row."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from sklearn_mtl.datasets import make_ctr_cvr_data


def test_observed_labels_follow_the_latent_conversion_on_clicked_rows_only():
    data = make_ctr_cvr_data(n_samples=20000, random_state=0, return_bunch=True)
    X, Y = data.data, data.target
    assert X.shape == (20000, 8) and list(Y.columns) == ["click", "purchase"]
    assert isinstance(X["user_id"].dtype, pd.CategoricalDtype)
    clicked = Y["click"].to_numpy() == 1
    assert Y["purchase"].isna().to_numpy().tolist() == (~clicked).tolist()
    np.testing.assert_array_equal(Y["purchase"].to_numpy()[clicked], data.conversion[clicked])
    # Every impression has a latent conversion, also where it was never observed.
    assert set(np.unique(data.conversion[~clicked])) == {0, 1}
    # Correlated, not equal: the click probability is a weak ranker of conversions.
    r = np.corrcoef(data.pctr, data.pcvr)[0, 1]
    assert 0.05 < r < 0.9
    # The observed rows are a biased sample: clicked impressions convert more often.
    assert data.pcvr[clicked].mean() > data.pcvr[~clicked].mean() + 0.02
    assert abs(Y["click"].mean() - data.pctr.mean()) < 0.01


def test_reproducible_and_ctr_offset_lowers_clicks():
    a = make_ctr_cvr_data(n_samples=3000, random_state=1)
    b = make_ctr_cvr_data(n_samples=3000, random_state=1)
    pd.testing.assert_frame_equal(a[0], b[0])
    pd.testing.assert_frame_equal(a[1], b[1])
    sparse = make_ctr_cvr_data(n_samples=3000, ctr_offset=-2.0, random_state=1)
    assert sparse[1]["click"].mean() < a[1]["click"].mean() / 2


@pytest.mark.parametrize(
    "params, match",
    [
        ({"n_samples": 0}, r"n_samples=0 is not valid: it must be an int >= 1"),
        ({"n_users": 2.5}, r"n_users=2.5 is not valid"),
        ({"interest_share": 1.5}, r"interest_share=1.5 is not valid: it must be a number in \[0, 1\]"),
        ({"ctr_offset": float("nan")}, r"ctr_offset=nan is not valid"),
    ],
)
def test_bad_parameters(params, match):
    with pytest.raises(ValueError, match=match):
        make_ctr_cvr_data(**params)
