"""What a model is compared with (sklearn_mtl/transfer/_reference.py): the default single-task twin
and the matched-capacity reference."""

from __future__ import annotations

import pytest
from conftest import FAST, ctr_split

from sklearn_mtl import MultiTaskRecommender, compare_transfer
from sklearn_mtl.datasets import make_multitask_data


def test_compare_transfer_with_esmm_and_its_reference():
    from sklearn_mtl import compare_transfer

    data, _, _ = ctr_split(n=3000)
    X, Y = data.data, data.target.fillna(0.0)  # entire-space labels: scored on every impression
    esmm = MultiTaskRecommender("esmm", **{**FAST, "max_epochs": 3})
    # The default reference is the first net's single-task twin: "single" without the cascade.
    report = compare_transfer({"esmm": esmm, "omoe": MultiTaskRecommender("omoe", **FAST)}, X, Y,
                              cv=2, random_state=0, return_estimators=True)
    fitted = report.estimators[("reference", 0)]
    assert (fitted.architecture, fitted.cascade, fitted.cascade_) == ("single", None, {})
    assert report.shared == {"esmm": True, "omoe": True}
    summary = report.summary()
    assert {"esmm", "omoe"} <= set(summary.index.get_level_values(0))
    assert set(summary.index.get_level_values(1)) == {"click", "purchase"}


def test_matched_reference_has_the_models_capacity():
    X, Y = make_multitask_data(n_samples=150, n_features=6, random_state=0)
    hard = MultiTaskRecommender("hard", hidden_units=(32, 16), tower_units=(4,), max_epochs=2,
                                random_state=0)
    rep = compare_transfer({"hard": hard}, X, Y, cv=3, reference="matched", random_state=0,
                           return_estimators=True)
    model, reference = rep.n_params["hard"], rep.n_params["reference"]
    assert abs(reference - model) <= 0.10 * model, (model, reference)
    fitted = rep.estimators[("reference", 0)]
    assert fitted.architecture == "single" and fitted.hidden_units[0] < 32
    # The default (per-task) reference gives each task the full bottom: about twice the capacity.
    per_task = compare_transfer({"hard": hard}, X, Y, cv=3, random_state=0)
    assert per_task.n_params["reference"] > 1.5 * per_task.n_params["hard"]
    summary = rep.summary()
    assert (summary["reference_n_params"] == reference).all()
    with pytest.raises(ValueError, match="reference='big' is not valid: use one of"):
        compare_transfer({"hard": hard}, X, Y, reference="big")
