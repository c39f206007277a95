"""Seeded fits give the predictions and reports recorded in ``tests/data/fit_equivalence.npz``.

The file holds, for 600 census rows and ``random_state=0``: every architecture's
``predict_proba`` and per-epoch losses after ``fit``, a ``partial_fit`` stream, a fit on a
:class:`~sklearn_mtl.sources.ParquetSource`, a two-process data-parallel fit, and the summaries
of two small ``compare_transfer`` runs (the per-task and the matched reference). A change to
how ``fit`` is organised must leave all of them as they were; a change that means to alter
them records the file again (``python tests/test_fit_equivalence.py``) and says why.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pytest

from sklearn_mtl import MultiTaskRecommender, compare_transfer
from sklearn_mtl._architectures import ARCHITECTURES

RECORD = Path(__file__).parent / "data" / "fit_equivalence.npz"
SMALL = dict(hidden_units=(16, 8), tower_units=(8,), n_experts=2, n_levels=2, batch_size=64,
             lr=1e-2, max_epochs=2, random_state=0)
TASKS = ["income", "never_married"]


def _rows(census_small):
    X, Y = census_small
    return X.iloc[:600].reset_index(drop=True), Y[TASKS].iloc[:600].reset_index(drop=True)


def _probas(model, X) -> np.ndarray:
    return np.column_stack([p[:, 1] for p in model.predict_proba(X)])


def _losses(model) -> np.ndarray:
    return np.array([[row["train_loss"], row.get("valid_loss", np.nan)]
                     for row in model.history_])


def _architecture_results(X, Y) -> dict:
    out = {}
    for arch in ARCHITECTURES:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # esmm / aitm read census' never_married as a cascade
            model = MultiTaskRecommender(arch, **SMALL).fit(X, Y)
        out[f"fit_{arch}_proba"] = _probas(model, X)
        out[f"fit_{arch}_losses"] = _losses(model)
        out[f"fit_{arch}_n_params"] = np.array(model.n_params_)
    return out


def _partial_fit_results(X, Y) -> dict:
    model = MultiTaskRecommender("hard", **SMALL)
    for chunk in np.array_split(np.arange(len(X)), 3):
        model.partial_fit(X.iloc[chunk], Y.iloc[chunk])
    return {"partial_fit_proba": _probas(model, X), "partial_fit_losses": _losses(model)}


def _source_results(X, Y, folder: Path) -> dict:
    from sklearn_mtl.sources import ParquetSource

    X.join(Y).to_parquet(folder / "rows.parquet", row_group_size=150)
    source = ParquetSource(folder / "rows.parquet", targets=TASKS, batch_rows=100,
                           shuffle_rows=300)
    model = MultiTaskRecommender("mmoe", **SMALL).fit(source)
    return {"source_proba": _probas(model, X), "source_losses": _losses(model)}


def _distributed_results(X, Y) -> dict:
    model = MultiTaskRecommender("mmoe", devices=2, device="cpu", **SMALL).fit(X, Y)
    return {"devices_proba": _probas(model, X), "devices_losses": _losses(model)}


def _compare_results(X, Y) -> dict:
    out = {}
    model = MultiTaskRecommender("hard", **SMALL)
    for reference in ("per-task", "matched"):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            report = compare_transfer({"hard": model}, X, Y, reference=reference, cv=2,
                                      n_repeats=1, random_state=0)
        summary = report.summary()
        numeric = summary.select_dtypes("number")
        out[f"compare_{reference}_summary"] = numeric.to_numpy(dtype=float)
        out[f"compare_{reference}_columns"] = np.array(list(numeric.columns), dtype=str)
        out[f"compare_{reference}_n_params"] = np.array(
            [report.n_params[name] for name in sorted(report.n_params)])
    return out


def _assert_same(recorded, results: dict) -> None:
    for key, value in results.items():
        expected = recorded[key]
        if value.dtype.kind in "US":
            np.testing.assert_array_equal(value, expected, err_msg=key)
        else:
            np.testing.assert_allclose(value, expected, rtol=1e-6, atol=1e-7, equal_nan=True,
                                       err_msg=key)


@pytest.fixture(scope="module")
def recorded():
    return np.load(RECORD)


@pytest.fixture(scope="module")
def rows(census_small):
    return _rows(census_small)


def test_every_architecture_fits_as_recorded(rows, recorded):
    _assert_same(recorded, _architecture_results(*rows))


def test_partial_fit_trains_as_recorded(rows, recorded):
    _assert_same(recorded, _partial_fit_results(*rows))


def test_parquet_source_fit_trains_as_recorded(rows, recorded, tmp_path):
    pytest.importorskip("pyarrow")
    _assert_same(recorded, _source_results(*rows, tmp_path))


@pytest.mark.slow
def test_data_parallel_fit_trains_as_recorded(rows, recorded):
    _assert_same(recorded, _distributed_results(*rows))


def test_compare_transfer_reports_as_recorded(rows, recorded):
    _assert_same(recorded, _compare_results(*rows))


if __name__ == "__main__":  # record the file again
    import tempfile

    from conftest import DATA_HOME

    from sklearn_mtl.datasets import fetch_census_income

    X_all, Y_all = fetch_census_income(data_home=DATA_HOME, download_if_missing=False,
                                       return_X_y=True)
    idx = np.random.default_rng(0).choice(len(X_all), size=5000, replace=False)
    X, Y = _rows((X_all.iloc[idx].reset_index(drop=True), Y_all.iloc[idx].reset_index(drop=True)))
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        for part in (_architecture_results(X, Y), _partial_fit_results(X, Y),
                     _source_results(X, Y, Path(tmp)), _distributed_results(X, Y),
                     _compare_results(X, Y)):
            results.update(part)
    RECORD.parent.mkdir(exist_ok=True)
    np.savez_compressed(RECORD, **results)
    print(RECORD, RECORD.stat().st_size, "bytes,", len(results), "arrays")
