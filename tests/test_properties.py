"""Property-based checks of the "no silent wrong answers" contract, with hypothesis.

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

import re
import traceback
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

hypothesis = pytest.importorskip("hypothesis")
from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from sklearn_mtl import MultiTaskRecommender, PerTaskLGBM  # noqa: E402

PACKAGE = str(Path(__file__).resolve().parents[1] / "sklearn_mtl")
CI = settings(max_examples=150, derandomize=True, deadline=None, database=None,
              suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
LARGE = settings(CI, max_examples=1500)


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
    warns: str | None = None  # a warning fit must give (regex), for inputs that are doubtful
    tiny: bool = False  # column f0 is at the 1e-200 scale: it must be standardized, not constant


X_FAULTS = ["x_nan", "x_inf", "x_datetime", "x_complex", "x_text", "x_tiny", "x_big_int"]
Y_FAULTS = ["y_missing", "y_inf", "y_one_class", "y_all_missing", "y_mixed"]
W_FAULTS = ["w_positive", "w_zeros", "w_negative", "w_text", "w_short", "w_zero_task"]
NET_FAULTS = ["batch_size", "lr", "random_state", "callbacks", "dropout"]
LGBM_FAULTS = ["subsampel", "feature_fraction", "min_data_in_leaf", "max_depth", "num_leaves",
               "learning_rate", "per_task_params", "objective"]
# An objective of another kind than the task's, per task kind (LightGBM would train it silently).
WRONG_OBJECTIVE = {"binary": "regression", "multiclass": "binary", "regression": "binary"}


@st.composite
def cases(draw, estimator: str) -> Case:
    """One input with at most one fault (so that the error has one thing to name); "x_nan",
    "y_missing" and "w_positive" are variations that must not be refused."""
    param_faults = NET_FAULTS if estimator == "net" else LGBM_FAULTS
    fault = draw(st.sampled_from(["none"] * 6 + X_FAULTS + Y_FAULTS + W_FAULTS + param_faults))
    rng = np.random.default_rng(draw(st.integers(0, 2**16)))
    n = draw(st.integers(12, 60))
    frame = draw(st.booleans())
    X = pd.DataFrame({f"f{j}": rng.normal(size=n) for j in range(draw(st.integers(1, 3)))})
    bad: set = set()
    if frame and draw(st.booleans()):
        X["city"] = rng.choice(["a", "b", "c"], size=n)
    if fault == "x_nan":
        X.iloc[rng.integers(0, n, 3), 0] = np.nan
    elif fault == "x_inf":
        X.iloc[0, 0] = np.inf
        if estimator == "net":  # LightGBM reads inf as a value
            bad.add("f0" if frame else "0")
    elif fault == "x_datetime" and frame:
        X["when"] = pd.date_range("2021-01-01", periods=n, freq="D")
        bad.add("when")
    elif fault == "x_complex":
        X["z"] = rng.normal(size=n) + 1j
        bad.add("z" if frame else "X")
    elif fault == "x_text" and not frame:
        X = X.astype(object)
        X.iloc[1, 0] = "oops"
        bad.add("column 0")
    tiny = big_int = False
    if fault == "x_tiny":  # a valid column whose variance underflows float64 if computed naively
        X["f0"] = X["f0"] * 1e-200
        tiny = estimator == "net"
    elif fault == "x_big_int" and estimator == "lgbm":  # ids float64 cannot tell apart
        X["count"] = (2**62 + rng.integers(0, 40, n) * 64).astype(np.int64)
        X.loc[0, "count"], X.loc[1, "count"] = 2**62, 2**62 + 64
        big_int = True
    if not frame:
        X = X.to_numpy()

    n_tasks = draw(st.integers(1, 3))
    faulty_task = draw(st.integers(0, n_tasks - 1))
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
        if t == faulty_task and fault == "y_missing":
            col = col.astype(object) if kind == "text" else col.astype(float)
            col[n - 3:] = np.nan  # the first rows keep every class present
            if kind == "intclass":  # whole numbers in a float column: regression (documented)
                kinds[-1], labels[-1] = "regression", None
        elif t == faulty_task and fault == "y_inf" and kind != "text":
            col = col.astype(float)
            col[n - 1] = -np.inf
            bad.add(name)
        elif t == faulty_task and fault == "y_one_class" and kind != "regression":
            col[:] = col[0]
            bad.add(name)
        elif t == faulty_task and fault == "y_all_missing":
            col = pd.Series(np.full(n, np.nan))
            bad.add(name)
        elif t == faulty_task and fault == "y_mixed" and kind == "text":
            col[n - 1] = 7
            bad.add(name)
        Y[name] = col
    Y = pd.DataFrame(Y)
    if draw(st.booleans()):  # a list of rows, each value keeping its own type
        Y = [list(row) for row in Y.astype(object).itertuples(index=False)]

    sample_weight = None
    if fault in W_FAULTS:
        sample_weight = {
            "w_positive": rng.uniform(0.1, 2.0, n),
            "w_zeros": np.zeros(n),
            "w_negative": -np.ones(n),
            "w_text": np.array(["w"] * n, dtype=object),
            "w_short": np.ones(n - 1),
            "w_zero_task": np.zeros(n),
        }[fault]
        if fault == "w_zero_task":  # weight only on rows where the faulty task has no label
            frame_y = pd.DataFrame(Y) if isinstance(Y, list) else Y
            frame_y.columns = [f"task_{t}" for t in range(n_tasks)]
            frame_y.iloc[: n // 2, faulty_task] = np.nan
            sample_weight[: n // 2] = 1.0
            Y = frame_y
            bad.add(f"task_{faulty_task}")
        elif fault != "w_positive":
            bad.add("sample_weight")

    if estimator == "net":
        params = dict(architecture=draw(st.sampled_from(["hard", "mmoe", "soft", "single"])),
                      hidden_units=(8,), tower_units=(4,), n_experts=2, max_epochs=2,
                      batch_size=16, random_state=draw(st.sampled_from([0, 1, None])),
                      early_stopping=draw(st.booleans()))
        bad_values = {"batch_size": 0, "lr": -1.0, "random_state": -1, "callbacks": [1],
                      "dropout": 1.5}
    else:
        params = dict(n_estimators=5, n_jobs=1, verbose=-1, random_state=0,
                      num_leaves=draw(st.sampled_from([4, 15])))
        bad_values = {"subsampel": 0.8, "feature_fraction": 0.0, "min_data_in_leaf": -2,
                      "max_depth": "x", "num_leaves": 1, "learning_rate": 0.0,
                      "per_task_params": {f"task_{faulty_task}": {"n_estimators": -1}}}
    if fault in bad_values:
        params[fault] = bad_values[fault]
        bad.add("n_estimators" if fault == "per_task_params" else fault)
    if fault == "objective":
        task = f"task_{faulty_task}"
        params["per_task_params"] = {task: {"objective": WRONG_OBJECTIVE[kinds[faulty_task]]}}
        bad.add(task)
    warns = None
    if big_int and frame:  # (an array of floats and ints is float64 before it reaches us)
        warns = r"'count' holds values beyond 2\*\*53, which LightGBM reads as float64"
    return Case(X, Y, sample_weight, params, bad, kinds, labels, warns, tiny)


def _raised_in_package(exc: BaseException) -> bool:
    frames = traceback.extract_tb(exc.__traceback__)
    return bool(frames) and frames[-1].filename.startswith(PACKAGE)


def check(case: Case, make) -> None:
    model = make(case.params)
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")  # doubtful inputs warn; the outcome is what is checked
            model.fit(case.X, case.Y, sample_weight=case.sample_weight)
            pred = model.predict(case.X)
    except (ValueError, TypeError) as exc:
        hypothesis.event(f"error: {sorted(case.bad)}")
        message = str(exc)
        assert case.bad, f"valid input refused: {message}"
        assert _raised_in_package(exc), (
            f"error from outside sklearn_mtl: {''.join(traceback.format_exception(exc))}")
        assert any(name in message for name in case.bad), (
            f"message {message!r} names none of {sorted(case.bad)}")
        return
    hypothesis.event(f"fitted ({'faulty' if case.bad else 'clean'})")
    if case.warns is not None:
        assert any(re.search(case.warns, str(w.message)) for w in caught), (
            f"no warning matching {case.warns!r}: {[str(w.message) for w in caught]}")
    if case.tiny:
        column = np.asarray(case.X)[:, 0].astype(float)
        np.testing.assert_allclose(model._features.scale_[0] * 1e200,
                                   np.nanstd(column * 1e200), rtol=1e-6)
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


# ---------------------------------------------------------------- compare_transfer's folds

CV_FAULTS = ["int", "bool", "loo", "outside", "negative", "group_no_groups", "groups_unused",
             "group_splitter", "stratified_first_missing"]


@st.composite
def fold_cases(draw):
    """compare_transfer's cv / groups arguments, good and bad, on a tiny frame: ``(X, Y, kwargs,
    what a refusal must name or None, a warning that must be given or None)``."""
    from sklearn.model_selection import GroupKFold, StratifiedKFold

    fault = draw(st.sampled_from(CV_FAULTS))
    rng = np.random.default_rng(draw(st.integers(0, 2**16)))
    n = draw(st.integers(12, 40))
    X = pd.DataFrame({"a": rng.normal(size=n), "user": rng.integers(0, 6, n)})
    # Clicks alternate, so that every training fold holds both classes.
    Y = pd.DataFrame({"click": (np.arange(n) % 2).astype(float),
                      "dwell": X["a"] + rng.normal(size=n)})
    k = draw(st.integers(2, 4))
    kwargs, names, warns = {"cv": k}, None, None
    if fault == "bool":
        kwargs["cv"], names = draw(st.booleans()), "cv="
    elif fault == "loo":  # every test fold has one row: every score is NaN, the report prints
        kwargs.update(cv=n, n_repeats=1)
        warns = "fold scores are NaN"
    elif fault in ("outside", "negative"):
        bad_row = n + draw(st.integers(0, 5)) if fault == "outside" else -draw(st.integers(1, 5))
        kwargs["cv"] = [(np.arange(n // 2), np.r_[np.arange(n // 2, n - 1), bad_row])]
        names = "cv fold 0"
    elif fault == "group_no_groups":
        kwargs["cv"], names = GroupKFold(k), "groups="
    elif fault == "groups_unused":
        kwargs["groups"], warns = "user", "groups= is not used"
    elif fault == "group_splitter":
        kwargs.update(cv=GroupKFold(k), groups=X["user"].to_numpy())
    elif fault == "stratified_first_missing":
        Y.loc[n - 1, "click"] = np.nan
        Y = Y[["click", "dwell"]]
        kwargs["cv"] = StratifiedKFold(k)
        warns, names = "splits on the labels of task 'dwell'", "task 'dwell'"
    return X, Y, kwargs, names, warns, fault


@pytest.mark.slow
@settings(CI, max_examples=90)
@given(fold_cases())
def test_compare_folds_are_right_or_named(case):
    from sklearn_mtl import compare_transfer

    X, Y, kwargs, names, warns, fault = case
    lgbm = dict(n_estimators=2, n_jobs=1, min_child_samples=1, verbose=-1)
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            report = compare_transfer({"lgbm": PerTaskLGBM(**lgbm)}, X, Y,
                                      reference=PerTaskLGBM(**lgbm), **kwargs)
            text = repr(report)
    except ValueError as exc:
        hypothesis.event(f"error: {fault}")
        assert names is not None, f"valid folds refused: {exc}"
        assert _raised_in_package(exc), ''.join(traceback.format_exception(exc))
        assert names in str(exc), f"message {str(exc)!r} does not name {names!r}"
        return
    hypothesis.event(f"compared: {fault}")
    assert names is None or fault == "stratified_first_missing", f"{fault} was not refused"
    if warns is not None:
        assert any(warns in str(w.message) for w in caught), [str(w.message) for w in caught]
    assert text.startswith("TransferReport")
    if fault == "group_splitter":
        assert report.grouped and "grouped by groups=" in text


# ---------------------------------------------------------------------------------------------
# The saved-file format under truncation, inflation and tampering: every case a ValueError that
# names the file, or a model that loads and predicts as saved (never a crash, a hang, or
# another exception).

_SAVED: dict = {}


def _saved_model() -> dict:
    """A small PerTaskLGBM (binary + regression on 3 features), its file's bytes and its rows."""
    import tempfile

    if not _SAVED:
        rng = np.random.default_rng(0)
        X = rng.normal(size=(300, 3))
        Y = np.column_stack([X[:, 0] + X[:, 1] > 0, X[:, 2]])
        model = PerTaskLGBM(n_estimators=4, num_leaves=4, n_jobs=1, random_state=0,
                            verbose=-1).fit(X, Y)
        with tempfile.TemporaryDirectory() as folder:
            path = Path(folder) / "saved.skmtl"
            model.save(path)
            _SAVED.update(data=path.read_bytes(), X=X, predictions=model.predict(X))
    return _SAVED


def _entries(data: bytes) -> dict:
    import io
    import zipfile

    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        return {n: archive.read(n) for n in archive.namelist()}


def _forge(entries: dict) -> bytes:
    """A file of ``entries`` with the manifest's digests recomputed, as a forger would."""
    import hashlib
    import io
    import json
    import zipfile

    manifest = json.loads(entries["manifest.json"])
    manifest["sha256"] = {n: hashlib.sha256(d).hexdigest() for n, d in entries.items()
                          if n != "manifest.json"}
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("manifest.json", json.dumps(manifest))
        for name, data in entries.items():
            if name != "manifest.json":
                archive.writestr(name, data)
    return buffer.getvalue()


_TREE_FIELDS = ["split_feature", "left_child", "right_child", "threshold", "leaf_value",
                "num_leaves", "num_cat", "decision_type", "tree_sizes", "max_feature_idx",
                "num_class", "num_tree_per_iteration", "leaf_count", "internal_value"]


@st.composite
def saved_file_cases(draw):
    """(bytes of a damaged or forged file, what was done to it)."""
    data = _saved_model()["data"]
    how = draw(st.sampled_from(["truncate", "flip", "inflate", "lgbm_field", "json_value"]))
    if how == "truncate":
        return data[:draw(st.integers(0, len(data) - 1))], how
    if how == "flip":
        at = draw(st.integers(0, len(data) - 1))
        return data[:at] + bytes([data[at] ^ draw(st.integers(1, 255))]) + data[at + 1:], how
    entries = _entries(data)
    if how == "inflate":
        pad = draw(st.sampled_from([10, 10_000, 60_000_000]))
        entries["state.json"] = entries["state.json"] + b" " * pad
        return _forge(entries), f"inflate {pad}"
    import json

    state = json.loads(entries["state.json"])
    if how == "lgbm_field":
        texts = []

        def collect(node):
            if isinstance(node, dict):
                if "__booster__" in node:
                    texts.append(node)
                for value in node.values():
                    collect(value)
            elif isinstance(node, list):
                for value in node:
                    collect(value)

        collect(state)
        target = texts[draw(st.integers(0, len(texts) - 1))]
        lines = target["__booster__"].split("\n")
        key = draw(st.sampled_from(_TREE_FIELDS))
        rows = [i for i, line in enumerate(lines) if line.startswith(key + "=")]
        row = rows[draw(st.integers(0, len(rows) - 1))]
        tokens = lines[row].partition("=")[2].split(" ")
        value = draw(st.one_of(st.integers(-20, 20).map(str),
                               st.sampled_from(["nan", "inf", "-1e308", "x", "", "1.5"])))
        tokens[draw(st.integers(0, len(tokens) - 1))] = value
        lines[row] = key + "=" + " ".join(tokens)
        target["__booster__"] = "\n".join(lines)
        how = f"lgbm {key}={value}"
    else:
        paths = []

        def walk(node, path):
            paths.append(path)
            if isinstance(node, dict):
                for k, v in node.items():
                    if k != "__booster__":
                        walk(v, (*path, k))
            elif isinstance(node, list):
                for i, v in enumerate(node[:5]):
                    walk(v, (*path, i))

        walk(state, ())
        path = paths[draw(st.integers(1, len(paths) - 1))]
        value = draw(st.one_of(st.none(), st.integers(-3, 10**6), st.text(max_size=5),
                               st.just([]), st.just({}), st.just([[[[1]]]]),
                               st.just({"__ndarray__": "<f8", "shape": [10**9], "data": []})))
        node = state
        for step in path[:-1]:
            node = node[step]
        node[path[-1]] = value
        how = f"json {'.'.join(map(str, path[-3:]))}={str(value)[:20]}"
    entries["state.json"] = json.dumps(state).encode()
    return _forge(entries), how


def check_saved_file(case, folder: Path) -> None:
    from sklearn_mtl import load

    saved = _saved_model()
    data, how = case
    path = folder / "case.skmtl"
    path.write_bytes(data)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            model = load(path)
    except ValueError as exc:
        hypothesis.event(f"refused: {how.split(' ')[0]}")
        assert str(path) in str(exc), f"{how}: {exc}"
        assert _raised_in_package(exc), "".join(traceback.format_exception(exc))
        return
    hypothesis.event(f"loaded: {how.split(' ')[0]}")
    assert not how.startswith(("truncate", "inflate 60")), f"{how} was loaded"
    if how.startswith(("flip", "inflate")):
        # A flipped byte that load does not refuse lies outside the entries' data (a time
        # stamp): the model must be the one saved.
        np.testing.assert_array_equal(model.predict(saved["X"]), saved["predictions"])
        return
    # A forged field that makes a well-formed model: it loads and predicts (or its own code
    # refuses), never hangs or takes the process down.
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            out = model.predict(saved["X"])
    except Exception:  # a forged attribute an estimator method trips on is not a crash
        return
    assert out.shape[0] == len(saved["X"])


@settings(CI, max_examples=120)
@given(saved_file_cases())
def test_saved_file_damaged_or_forged_is_refused_or_loads_as_data(tmp_path_factory, case):
    check_saved_file(case, tmp_path_factory.getbasetemp())



@pytest.mark.slow
@settings(LARGE)
@given(saved_file_cases())
def test_saved_file_property_large(tmp_path_factory, case):
    check_saved_file(case, tmp_path_factory.getbasetemp())


# ---------------------------------------------------------------------------------------------
# Parquet source layouts: the rows read back are the rows written (in file order, each column
# with one dtype), or a ValueError from ParquetSource naming the file, folder or column.

@st.composite
def source_layouts(draw):
    n_files = draw(st.integers(1, 3))
    faults = [draw(st.sampled_from(["none", "none", "nullable", "hive", "drop_column",
                                    "text_column"])) for _ in range(n_files)]
    sizes = [draw(st.integers(1, 40)) for _ in range(n_files)]
    return faults, sizes, draw(st.integers(1, 50))


def check_layout(layout, folder: Path) -> None:
    from sklearn_mtl.sources import ParquetSource

    faults, sizes, batch_rows = layout
    rng = np.random.default_rng(len(faults) * 100 + sum(sizes))
    parts = []
    for i, (fault, size) in enumerate(zip(faults, sizes)):
        part = pd.DataFrame({"x": rng.normal(size=size), "n": rng.integers(0, 5, size),
                             "y": rng.integers(0, 2, size)})
        if fault == "nullable":
            part["n"] = part["n"].astype("Int64")
            part.iloc[0, 1] = pd.NA
        elif fault == "drop_column":
            part = part.drop(columns="x")
        elif fault == "text_column":
            part["n"] = part["n"].astype(str)
        where = folder / (f"k=v{i}" if fault == "hive" else "")
        where.mkdir(exist_ok=True)
        part.to_parquet(where / f"part-{i}.parquet")
        parts.append(part)
    source = ParquetSource(folder, targets=["y"], batch_rows=batch_rows)
    try:
        frames = [frame for _, frame in source.iter_frames()]
    except ValueError as exc:
        hypothesis.event("refused")
        message = str(exc)
        assert message.startswith("ParquetSource:"), message
        if "hive" in faults:
            assert "partitioned (Hive) layout" in message and "'k'" in message, message
        elif "drop_column" in faults and not all(f == "drop_column" for f in faults):
            assert "files disagree on columns" in message and "'x'" in message, message
        else:
            assert "text_column" in faults and "disagree on column 'n'" in message, message
        return
    hypothesis.event("read")
    assert "hive" not in faults
    assert len(set(faults) & {"drop_column", "text_column"}) == 0 or len(set(faults)) == 1
    # Files in sorted order; every batch holds each column in one dtype.
    order = sorted(range(len(parts)), key=lambda i: f"part-{i}.parquet")
    expected = pd.concat([parts[i] for i in order], ignore_index=True)
    got = pd.concat(frames, ignore_index=True)
    assert len({str(f["y"].dtype) for f in frames}) == 1
    if "n" in expected:
        assert len({str(f["n"].dtype) for f in frames}) == 1
        if "nullable" in faults:
            assert str(got["n"].dtype) == "Int64"
    pd.testing.assert_frame_equal(got[expected.columns].astype(object),
                                  expected.astype(object), check_dtype=False)


@settings(CI, max_examples=60)
@given(source_layouts())
def test_source_layouts_read_every_row_or_name_what_is_refused(tmp_path_factory, layout):
    import tempfile

    with tempfile.TemporaryDirectory(dir=tmp_path_factory.getbasetemp()) as folder:
        check_layout(layout, Path(folder))
