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

import fcntl
import functools
import hashlib
import json
import os
import tempfile
import types
from pathlib import Path

import numpy as np
import pandas as pd
import scipy.sparse as sp
from sklearn.base import BaseEstimator

from .._fingerprint import fingerprint

FORMAT_VERSION = 2
# What a stored fit depends on, in the order a refusal names them.
IDENTITY = ("data", "sample_weight", "groups", "models", "splits", "random_state", "metric",
            "tune", "versions", "segments", "fused")
_WHAT = {"data": "the data (X or Y, values or dtypes)", "sample_weight": "sample_weight",
         "groups": "groups", "splits": "the folds (cv, n_repeats)", "random_state": "random_state",
         "metric": "the metric", "tune": "the tuning settings (tune=)",
         "format_version": "the storage format",
         "segments": "the segments (segments=)", "fused": "the fused scores (fused=)"}
# The libraries whose versions change a fit or a score.
LIBRARIES = ("sklearn-mtl", "torch", "skorch", "lightgbm", "scikit-learn", "optuna", "numpy",
             "pandas")


def seed_of(value) -> int:
    """A 32-bit seed that depends only on ``describe(value)`` (stable across processes)."""
    text = json.dumps(describe(value), sort_keys=True, default=str)
    return int(hashlib.sha256(text.encode()).hexdigest()[:8], 16)


def versions() -> dict:
    """``{library: version}`` of the libraries a stored fit depends on (None if absent)."""
    from importlib.metadata import PackageNotFoundError, version

    found = {}
    for name in LIBRARIES:
        try:
            found[name] = version(name)
        except PackageNotFoundError:
            found[name] = None
    return found


def describe(value, _seen=None):
    """A JSON-able, stable description of a parameter value, deep enough that a change of
    anything that can change a fit changes it: estimators by class and parameters, functions
    by their code, constants and closure, other objects (callbacks, samplers, pruners) by
    class and attributes (a random state by its state), never by their repr or address."""
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, (np.integer, np.floating, np.bool_)):
        return value.item()
    seen = set() if _seen is None else _seen
    if id(value) in seen:  # a cycle (a callback holding its net)
        return {"cycle": type(value).__qualname__}
    seen = seen | {id(value)}
    if isinstance(value, (list, tuple)):
        return [describe(v, seen) for v in value]
    if isinstance(value, dict):
        return {str(k): describe(v, seen) for k, v in value.items()}
    if isinstance(value, (set, frozenset)):
        return sorted((describe(v, seen) for v in value), key=str)
    if isinstance(value, BaseEstimator):
        out = {"class": type(value).__qualname__,
               "params": describe(value.get_params(deep=False), seen)}
        # A fitted model held as a parameter (a fine-tuning's init=) by what it learned.
        digest = getattr(value, "_fitted_digest", None)
        digest = digest() if callable(digest) else None
        if digest is not None:
            out["fitted"] = digest
        return out
    if isinstance(value, (np.ndarray, pd.DataFrame, pd.Series)) or sp.issparse(value):
        return fingerprint(value)
    if isinstance(value, np.random.RandomState):  # its state decides the draws, not its class
        return {"RandomState": fingerprint(value.get_state()[1])}
    if isinstance(value, np.random.Generator):
        return {"Generator": describe(value.bit_generator.state, seen)}
    if isinstance(value, (types.FunctionType, types.MethodType)):
        return _describe_function(value, seen)
    if isinstance(value, type):
        return {"type": f"{value.__module__}.{value.__qualname__}"}
    state = getattr(value, "__dict__", None)
    out = {"class": f"{type(value).__module__}.{type(value).__qualname__}"}
    if state is not None:
        out["state"] = {k: describe(v, seen) for k, v in sorted(state.items())
                        if not callable(getattr(v, "acquire", None))}  # not locks
    elif isinstance(value, functools.partial):
        out["state"] = describe([value.func, value.args, value.keywords], seen)
    return out


def _describe_function(fn, seen) -> dict:
    """A function by its name, code, constants, defaults and closure values: editing its body
    or the values it closes over changes the description."""
    if isinstance(fn, types.MethodType):
        return {"method": _describe_function(fn.__func__, seen),
                "self": describe(fn.__self__, seen)}
    code = fn.__code__
    consts = [describe(c, seen) if not isinstance(c, types.CodeType)
              else hashlib.sha256(c.co_code).hexdigest()[:16] for c in code.co_consts]
    closure = [describe(cell.cell_contents, seen) for cell in (fn.__closure__ or ())]
    return {"function": f"{fn.__module__}.{fn.__qualname__}",
            "code": hashlib.sha256(code.co_code).hexdigest()[:16], "consts": consts,
            "defaults": describe(fn.__defaults__, seen), "closure": closure}


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
        if str(path).strip() == "":
            raise ValueError(f"storage={path!r} is not valid: give a directory (it is created if "
                             "missing) or None to keep nothing.")
        self.path = Path(path)
        if self.path.exists() and not self.path.is_dir():
            raise ValueError(f"storage={str(path)!r} is a file: use a directory (it is created "
                             "if missing), where each finished fit is kept.")
        self.path.mkdir(parents=True, exist_ok=True)
        self._lock = None
        self._acquire()
        try:
            self._check(identity)
        except BaseException:
            self.close()
            raise
        self.fits = self.path / "fits"
        self.fits.mkdir(exist_ok=True)

    def _acquire(self) -> None:
        """Hold the directory for this comparison: a second process running a comparison on
        it at the same time would split the studies' budgets between them unevenly. The lock
        is the operating system's, so a killed process releases it."""
        handle = open(self.path / ".lock", "a+")
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            handle.seek(0)
            holder = handle.read().strip() or "another process"
            handle.close()
            raise ValueError(
                f"storage={str(self.path)!r} is in use by {holder}, running a comparison on it: "
                "wait for it to finish (then the same call resumes from its fits), or use "
                "another directory.") from None
        handle.seek(0)
        handle.truncate()
        handle.write(f"process {os.getpid()}")
        handle.flush()
        self._lock = handle

    def close(self) -> None:
        """Release the directory (the end of the comparison)."""
        if self._lock is not None:
            fcntl.flock(self._lock, fcntl.LOCK_UN)
            self._lock.close()
            self._lock = None

    def __getstate__(self):
        # A copy sent to a worker writes fits; the lock stays with the comparison's process.
        state = dict(self.__dict__)
        state["_lock"] = None
        return state

    def _check(self, identity: dict) -> None:
        manifest = self.path / "comparison.json"
        mine = json.loads(json.dumps({"format_version": FORMAT_VERSION, **identity,
                                      "versions": versions()}, default=str))
        if manifest.exists():
            try:
                stored = json.loads(manifest.read_text())
            except ValueError:
                raise ValueError(f"storage={str(self.path)!r}: comparison.json is not JSON; it "
                                 "was not written by compare_transfer.") from None
            changed = [key for key in ("format_version", *IDENTITY)
                       if stored.get(key) != mine.get(key)]
            if changed:
                raise ValueError(
                    f"storage={str(self.path)!r} holds the fits of another comparison: "
                    f"{self._what_changed(changed, stored, mine)} differ from this call's. Use "
                    "another directory for this comparison, or delete that one to start again."
                )
        else:
            _write_atomic(manifest, json.dumps(mine, indent=1))

    @staticmethod
    def _what_changed(changed, stored, mine) -> str:
        parts = []
        for key in changed:
            if key == "models":
                theirs, ours = stored.get("models") or {}, mine["models"]
                names = sorted({n for n in {*theirs, *ours} if theirs.get(n) != ours.get(n)})
                parts.append(f"the parameters of {names}")
            elif key == "versions":
                theirs, ours = stored.get("versions") or {}, mine["versions"]
                parts.append("the versions of " + ", ".join(
                    f"{n} ({theirs.get(n)} -> {ours.get(n)})" for n in ours
                    if theirs.get(n) != ours.get(n)))
            else:
                parts.append(_WHAT[key])
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
        try:
            result = json.loads(file.read_text())
            result["scores"]  # noqa: B018 (a fit file without scores is not one)
        except (ValueError, KeyError, TypeError, UnicodeDecodeError):
            raise ValueError(
                f"storage={str(self.path)!r}: the fit file {file} is corrupt or truncated (not "
                "the JSON compare_transfer writes); delete it and run the same call again to "
                "refit that one (model, split).") from None
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
