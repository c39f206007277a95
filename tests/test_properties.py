"""Property-based checks of the "no silent wrong answers" contract (issue 14), with hypothesis.

Generated X / Y / sample_weight / parameter combinations, good and bad, go through ``fit`` and
``predict`` of both estimators. Every example must end one of two ways:

* a fit and predict whose output has the right shape, finite regression values, and class
  predictions drawn from the labels the user gave (no label invented, such as ``'nan'``), with
  the task kinds the documented rules give; or
* a ``ValueError`` / ``TypeError`` raised by sklearn_mtl's own code whose message names the
  parameter, column or task that was made bad.

The CI run is derandomized (fixed examples) and bounded; ``-m slow`` runs a larger search.
"""

from __future__ import annotations

import traceback
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

hypothesis = pytest.importorskip("hypothesis")
from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from sklearn_mtl import MultiTaskRecommender, PerTaskLGBM  # noqa: E402

PACKAGE = str(Path(__file__).resolve().parents[1] / "sklearn_mtl")
CI = settings(max_examples=30, derandomize=True, deadline=None, database=None,
              suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
LARGE = settings(CI, max_examples=300)


@dataclass
class Case:
    """One generated input and the names a correct error message may give."""

    X: object
    Y: object
    sample_weight: object = None
    params: dict = field(default_factory=dict)
    bad: set = field(default_factory=set)  # names of what was made bad
    kinds: list = field(default_factory=list)  # expected task kinds when nothing is bad
    labels: list = field(default_factory=list)  # per task, the set of labels given (None: regression)


@st.composite
def cases(draw, estimator: str) -> Case:
    rng = np.random.default_rng(draw(st.integers(0, 2**16)))
    n = draw(st.integers(12, 60))
    frame = draw(st.booleans())
    n_num = draw(st.integers(1, 3))
    X = pd.DataFrame({f"f{j}": rng.normal(size=n) for j in range(n_num)})
    bad: set = set()
    if frame and draw(st.booleans()):
        X["city"] = rng.choice(["a", "b", "c"], size=n)
    fault_x = draw(st.sampled_from(["none", "none", "nan", "inf", "datetime", "complex", "text"]))
    if fault_x == "nan":
        X.iloc[rng.integers(0, n, 3), 0] = np.nan
    elif fault_x == "inf" and estimator == "net":  # LightGBM takes inf as a value
        X.iloc[0, 0] = np.inf
        bad.add("f0" if frame else "0")
    elif fault_x == "datetime" and frame:
        X["when"] = pd.date_range("2021-01-01", periods=n, freq="D")
        bad.add("when")
    elif fault_x == "complex" and frame:
        X["z"] = rng.normal(size=n) + 1j
        bad.add("z")
    elif fault_x == "text" and not frame:
        X = X.astype(object)
        X.iloc[1, 0] = "oops"
        bad.add("column 0")
    if not frame:
        X = X.to_numpy()

    n_tasks = draw(st.integers(1, 3))
    Y, kinds, labels = {}, [], []
    for t in range(n_tasks):
        name = f"task_{t}"
        kind = draw(st.sampled_from(["binary", "regression", "text", "intclass"]))
        if kind == "binary":
            col = pd.Series(rng.integers(0, 2, n).astype(float))
            col[:2] = [0.0, 1.0]
            kinds.append("binary")
            labels.append({0.0, 1.0})
        elif kind == "regression":
            col = pd.Series(rng.normal(size=n) * draw(st.sampled_from([1.0, 1e3])))
            kinds.append("regression")
            labels.append(None)
        elif kind == "text":
            col = pd.Series(rng.choice(["x", "y", "z"], size=n), dtype=object)
            col[:3] = ["x", "y", "z"]
            kinds.append("multiclass")
            labels.append({"x", "y", "z"})
        else:
            col = pd.Series(rng.integers(1, 4, n))
            col[:3] = [1, 2, 3]
            kinds.append("multiclass")
            labels.append({1, 2, 3})
        fault_y = draw(st.sampled_from(["none", "none", "none", "missing", "inf", "one_class",
                                        "all_missing", "mixed"]))
        if fault_y == "missing":
            col = col.astype(object) if kind == "text" else col.astype(float)
            col[n - 3:] = np.nan  # the first rows keep every class present
            if kind == "intclass":  # whole numbers in a float column: regression (documented)
                kinds[-1], labels[-1] = "regression", None
        elif fault_y == "inf" and kind != "text":
            col = col.astype(float)
            col[n - 1] = -np.inf
            bad.add(name)
        elif fault_y == "one_class" and kind != "regression":
            col[:] = col[0]
            bad.add(name)
        elif fault_y == "all_missing":
            col = pd.Series(np.full(n, np.nan))
            bad.add(name)
        elif fault_y == "mixed" and kind == "text":
            col[n - 1] = 7
            bad.add(name)
        Y[name] = col
    Y = pd.DataFrame(Y)
    as_rows = draw(st.booleans())
    if as_rows:  # a list of rows, each value keeping its own type
        Y = [list(row) for row in Y.astype(object).itertuples(index=False)]

    weight_kind = draw(st.sampled_from(["none", "none", "positive", "zeros", "negative", "text",
                                        "short"]))
    sample_weight = {
        "none": None,
        "positive": rng.uniform(0.1, 2.0, n),
        "zeros": np.zeros(n),
        "negative": -np.ones(n),
        "text": np.array(["w"] * n, dtype=object),
        "short": np.ones(n - 1),
    }[weight_kind]
    if weight_kind not in ("none", "positive"):
        bad.add("sample_weight")

    if estimator == "net":
        params = dict(architecture=draw(st.sampled_from(["hard", "mmoe", "soft", "single"])),
                      hidden_units=(8,), tower_units=(4,), n_experts=2, max_epochs=2,
                      batch_size=draw(st.sampled_from([8, 32, 0])),
                      lr=draw(st.sampled_from([1e-2, 1e-3, -1.0])),
                      random_state=draw(st.sampled_from([0, 1, -1])),
                      early_stopping=draw(st.booleans()))
        for name, bad_value in (("batch_size", 0), ("lr", -1.0), ("random_state", -1)):
            if params[name] == bad_value:
                bad.add(name)
    else:
        params = dict(n_estimators=5, n_jobs=1, verbose=-1, random_state=0,
                      num_leaves=draw(st.sampled_from([4, 15, 1])),
                      learning_rate=draw(st.sampled_from([0.1, 0.0])))
        extra = draw(st.sampled_from([{}, {}, {"subsample": 0.8, "subsample_freq": 1},
                                      {"subsampel": 0.8}, {"feature_fraction": 0.0},
                                      {"min_data_in_leaf": -2}, {"max_depth": "x"}]))
        params.update(extra)
        bad |= {k for k, v in extra.items() if k == "subsampel" or v in (0.0, -2, "x")}
        bad |= {name for name, v in (("num_leaves", 1), ("learning_rate", 0.0)) if params[name] == v}
    return Case(X, Y, sample_weight, params, bad, kinds, labels)


def _raised_in_package(exc: BaseException) -> bool:
    frames = traceback.extract_tb(exc.__traceback__)
    return bool(frames) and frames[-1].filename.startswith(PACKAGE)


def check(case: Case, make) -> None:
    torch.set_num_threads(1)
    model = make(case.params)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # doubtful inputs warn; the outcome is what is checked
            model.fit(case.X, case.Y, sample_weight=case.sample_weight)
            pred = model.predict(case.X)
    except (ValueError, TypeError) as exc:
        message = str(exc)
        assert case.bad, f"valid input refused: {message}"
        assert _raised_in_package(exc), (
            f"error from outside sklearn_mtl: {''.join(traceback.format_exception(exc))}")
        assert any(name in message for name in case.bad), (
            f"message {message!r} names none of {sorted(case.bad)}")
        return
    # Succeeded: either nothing was bad, or the "bad" thing was harmless (an inf that
    # LightGBM reads as a value, lr that still converged): the result must be right anyway.
    n = case.X.shape[0]
    n_tasks = len(case.kinds)
    assert pred.shape == (n, n_tasks) or (n_tasks == 1 and pred.shape in ((n,), (n, 1)))
    pred = pred.reshape(n, n_tasks)
    for t, (kind, labels) in enumerate(zip(case.kinds, case.labels)):
        if t not in case.bad and f"task_{t}" not in case.bad:
            assert model.tasks_[t] == kind, (model.tasks_, case.kinds)
        if model.tasks_[t] == "regression":
            assert np.all(np.isfinite(pred[:, t].astype(float)))
        else:
            given_labels = labels if labels is not None else set()
            assert set(model.classes_[t].tolist()) <= given_labels | {0.0, 1.0}
            assert set(pred[:, t].tolist()) <= set(model.classes_[t].tolist())


def make_net(params):
    return MultiTaskRecommender(**params)


def make_lgbm(params):
    return PerTaskLGBM(**params)


@CI
@given(cases("net"))
def test_net_fits_right_or_names_the_bad_input(case):
    check(case, make_net)


@CI
@given(cases("lgbm"))
def test_lgbm_fits_right_or_names_the_bad_input(case):
    check(case, make_lgbm)


@pytest.mark.slow
@LARGE
@given(cases("net"))
def test_net_property_large(case):
    check(case, make_net)


@pytest.mark.slow
@LARGE
@given(cases("lgbm"))
def test_lgbm_property_large(case):
    check(case, make_lgbm)
