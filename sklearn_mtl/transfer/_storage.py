"""A comparison's finished fits on disk, so that an interrupted ``compare_transfer`` resumes.

``compare_transfer(..., storage=DIR)`` keeps, as each (model, split) job finishes, what the
report needs of it (scores, parameter count, gradient and affinity records, the nested study's
summary) as one JSON file under ``DIR/fits/``, written atomically by the process that ran the
fit (a joblib or Dask worker included), and the nested tuning studies in ``DIR/studies.db``
(SQLite), trial by trial. The same call again loads the finished fits, continues the unfinished
studies and fits only what is missing. ``DIR/comparison.json`` records what the fits depend on
(the data, every model's parameters, the folds, the seeds, the metric, the tuning budget): a
call that differs in any of them is refused, naming what changed, rather than mixing fits of
two comparisons in one report.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
import scipy.sparse as sp
from sklearn.base import BaseEstimator

FORMAT_VERSION = 1
# What a stored fit depends on, in the order a refusal names them.
IDENTITY = ("data", "models", "splits", "random_state", "metric", "tune")


def fingerprint(*parts) -> str:
    """A short digest of arrays, sparse matrices and DataFrames (values, not the index)."""
    digest = hashlib.sha256()
    for part in parts:
        if sp.issparse(part):
            part = part.tocsr()
            for array in (part.data, part.indices, part.indptr):
                digest.update(np.ascontiguousarray(array).tobytes())
            continue
        frame = part if isinstance(part, pd.DataFrame) else pd.DataFrame(np.asarray(part))
        digest.update(str(list(frame.columns)).encode())
        digest.update(pd.util.hash_pandas_object(frame, index=False).to_numpy().tobytes())
    return digest.hexdigest()[:16]


def describe(value):
    """A JSON-able, stable description of a parameter value: estimators by class and parameters,
    other objects (callbacks, samplers) by class only, since their repr may hold an address."""
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, (np.integer, np.floating, np.bool_)):
        return value.item()
    if isinstance(value, (list, tuple)):
        return [describe(v) for v in value]
    if isinstance(value, dict):
        return {str(k): describe(v) for k, v in value.items()}
    if isinstance(value, BaseEstimator):
        return {"class": type(value).__qualname__,
                "params": describe(value.get_params(deep=False))}
    if isinstance(value, np.ndarray):
        return fingerprint(value)
    if isinstance(value, np.random.RandomState):  # its state decides the draws, not its class
        return {"RandomState": fingerprint(value.get_state()[1])}
    if isinstance(value, np.random.Generator):
        return {"Generator": describe(value.bit_generator.state)}
    return {"class": f"{type(value).__module__}.{type(value).__qualname__}"}


def splits_fingerprint(splits) -> str:
    digest = hashlib.sha256()
    for repeat, train, test in splits:
        digest.update(f"{repeat}|".encode())
        digest.update(np.asarray(train, dtype=np.int64).tobytes())
        digest.update(b"|")
        digest.update(np.asarray(test, dtype=np.int64).tobytes())
    return digest.hexdigest()[:16]


class FitStore:
    """The directory of one comparison's finished fits (see the module docstring)."""

    def __init__(self, path, identity: dict):
        self.path = Path(path)
        if self.path.exists() and not self.path.is_dir():
            raise ValueError(f"storage={str(path)!r} is a file: use a directory (it is created "
                             "if missing), where each finished fit is kept.")
        self.path.mkdir(parents=True, exist_ok=True)
        manifest = self.path / "comparison.json"
        mine = {"format_version": FORMAT_VERSION, **identity}
        if manifest.exists():
            try:
                stored = json.loads(manifest.read_text())
            except ValueError:
                raise ValueError(f"storage={str(path)!r}: comparison.json is not JSON; it was not "
                                 "written by compare_transfer.") from None
            changed = [key for key in ("format_version", *IDENTITY)
                       if stored.get(key) != mine[key]]
            if changed:
                raise ValueError(
                    f"storage={str(path)!r} holds the fits of another comparison: "
                    f"{self._what_changed(changed, stored, mine)} differ from this call's. Use "
                    "another directory for this comparison, or delete that one to start again."
                )
        else:
            _write_atomic(manifest, json.dumps(mine, indent=1))
        self.fits = self.path / "fits"
        self.fits.mkdir(exist_ok=True)

    @staticmethod
    def _what_changed(changed, stored, mine) -> str:
        parts = []
        for key in changed:
            if key == "models":
                theirs, ours = stored.get("models") or {}, mine["models"]
                names = sorted({n for n in {*theirs, *ours} if theirs.get(n) != ours.get(n)})
                parts.append(f"the parameters of {names}")
            else:
                parts.append({"data": "the data (X or Y)", "splits": "the folds (cv, n_repeats)",
                              "random_state": "random_state", "metric": "the metric",
                              "tune": "the tuning settings (tune=)",
                              "format_version": "the storage format"}[key])
        return ", ".join(parts)

    @property
    def studies_url(self) -> str:
        return f"sqlite:///{self.path.resolve() / 'studies.db'}"

    def _file(self, name: str, split: int) -> Path:
        safe = hashlib.sha256(str(name).encode()).hexdigest()[:8]
        return self.fits / f"split{split:04d}-{safe}.json"

    def get(self, name: str, split: int) -> dict | None:
        file = self._file(name, split)
        if not file.exists():
            return None
        result = json.loads(file.read_text())
        # Task names keep their type (JSON object keys would all become strings).
        result["scores"] = None if result["scores"] is None else dict(map(tuple, result["scores"]))
        if result.get("tuning"):
            best = result["tuning"]["best_params"]
            result["tuning"]["best_params"] = {
                k: tuple(v) if isinstance(v, list) else v for k, v in best.items()}
        result["model"] = None
        return result

    def put(self, result: dict) -> None:
        kept = {k: v for k, v in result.items() if k != "model"}
        if kept["scores"] is not None:
            kept["scores"] = [[task, score] for task, score in kept["scores"].items()]
        _write_atomic(self._file(result["name"], result["fold"]),
                      json.dumps(kept, default=_json_default))


def _json_default(value):
    if isinstance(value, (np.integer, np.floating, np.bool_)):
        return value.item()
    if isinstance(value, tuple):
        return list(value)
    raise TypeError(f"{type(value).__name__} is not JSON")


def _write_atomic(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` so that a reader never sees half a file (a kill mid-write
    leaves the old file or none)."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
    try:
        with os.fdopen(fd, "w") as f:
            f.write(text)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
