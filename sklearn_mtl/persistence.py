"""The file format of saved models: data only, no pickle, no code from the file runs on load.

A saved model is one zip file holding

* ``manifest.json``: the file format, the versions that wrote it and SHA-256 digests of the
  other entries;
* ``state.json``: the estimator's state as a typed JSON tree (numbers, strings, lists, numpy
  arrays, pandas indexes, LightGBM boosters in LightGBM's own text format, objects of the
  allow-listed classes);
* ``weights.safetensors``: the torch tensors of that state, in the safetensors format, or
  ``weights.pt`` read with ``torch.load(weights_only=True)`` when safetensors is not installed;
  absent when the state holds no tensor (a ``PerTaskLGBM``, saved and loaded without torch).

This module is the codec only and imports no estimator. Each estimator owns its format, as
skorch's ``save_params`` and LightGBM's ``model_to_string`` do: a class may define
``_get_state()`` (the dict to store; default: its attributes) and ``_set_state(state)`` (how
it is rebuilt from that dict on a new instance; default: the attributes are set back), and
``MultiTaskRecommender`` stores its net's weights and history there and rebuilds the net with
the same ``make_net`` as ``fit``. Objects are rebuilt only from the allow-list of classes
below, named by where they are defined (skops' trusted types), and checked against it before
their module is imported. A file written by another sklearn-mtl version or file format is
refused with a clear error; a model trained on CUDA loads on a CPU-only machine.
pickle works too; use it only for files you trust.
"""

from __future__ import annotations

import hashlib
import importlib
import io
import json
import os
import sys
import zipfile

import numpy as np
import pandas as pd

FORMAT = "sklearn-mtl"
# 3: MultiTaskRecommender gained cascade_debias, min_propensity, debias_weight and
# calibration_strength, and "dr" cascades an imputation tower in their state.
# 4: MultiTaskRecommender gained devices (and predict_batch_size) and keeps the fit-time input
# dtypes (_input_schema) that partial_fit checks later chunks against.
FORMAT_VERSION = 4

# The estimators a file may hold, and every other class an estimator's state may contain.
ESTIMATORS = (
    "sklearn_mtl._recommender._estimator.MultiTaskRecommender",
    "sklearn_mtl._lgbm._estimator.PerTaskLGBM",
)
ALLOWED_CLASSES = frozenset({
    *ESTIMATORS,
    "sklearn_mtl.features.FeatureEncoder",
    "sklearn_mtl.tasks.TargetEncoder",
    "lightgbm.sklearn.LGBMClassifier",
    "lightgbm.sklearn.LGBMRegressor",
    "sklearn.preprocessing._label.LabelEncoder",
})


def _qualname(cls) -> str:
    return f"{cls.__module__}.{cls.__qualname__}"


def _is_instance(obj, module: str, name: str) -> bool:
    """``isinstance(obj, module.name)`` without importing ``module``: an object of a class can
    only exist once the class's module is loaded, so ``PerTaskLGBM`` saves without torch."""
    loaded = sys.modules.get(module)
    return loaded is not None and isinstance(obj, getattr(loaded, name))


def _resolve(qualname: str):
    """The allow-listed class named ``qualname`` (its module is imported only once allowed)."""
    module, _, name = qualname.rpartition(".")
    return getattr(importlib.import_module(module), name)


class _Writer:
    """Turn an object tree into JSON-able data plus a dict of named tensors."""

    def __init__(self):
        self.tensors: dict = {}

    def tensor(self, t) -> dict:
        key = f"t{len(self.tensors)}"
        # safetensors refuses views that share storage; a contiguous CPU copy owns its data.
        self.tensors[key] = t.detach().to("cpu", copy=True).contiguous()
        return {"__tensor__": key}

    def encode(self, obj, where: str):
        if obj is None or isinstance(obj, (bool, str)):
            return obj
        if isinstance(obj, (int, float)) and type(obj) in (int, float):
            return obj
        if isinstance(obj, np.generic):
            return {"__scalar__": obj.dtype.str, "value": self.encode(obj.item(), where)}
        if isinstance(obj, np.ndarray):
            if obj.dtype.kind in "biuf":
                return {"__ndarray__": obj.dtype.str, "shape": list(obj.shape),
                        "data": obj.ravel().tolist()}
            if obj.dtype.kind in "OU":
                return {"__ndarray__": obj.dtype.str if obj.dtype.kind == "U" else "object",
                        "shape": list(obj.shape),
                        "data": [self.encode(v, where) for v in obj.ravel().tolist()]}
        if isinstance(obj, pd.Index) and not isinstance(obj, pd.MultiIndex):
            return {"__index__": str(obj.dtype),
                    "data": [self.encode(v, where) for v in obj.tolist()]}
        if _is_instance(obj, "torch", "Tensor"):
            return self.tensor(obj)
        if isinstance(obj, tuple):
            return {"__tuple__": [self.encode(v, f"{where}[{i}]") for i, v in enumerate(obj)]}
        if isinstance(obj, list):
            return [self.encode(v, f"{where}[{i}]") for i, v in enumerate(obj)]
        if isinstance(obj, dict):
            return {"__dict__": [[self.encode(k, where), self.encode(v, f"{where}[{k!r}]")]
                                 for k, v in obj.items()]}
        if _is_instance(obj, "lightgbm", "Booster"):
            return {"__booster__": obj.model_to_string()}
        if _qualname(type(obj)) in ALLOWED_CLASSES:
            get_state = getattr(obj, "_get_state", None)
            state = get_state() if get_state is not None else dict(vars(obj))
            return {"__object__": _qualname(type(obj)),
                    "state": {k: self.encode(v, f"{where}.{k}") for k, v in state.items()}}
        raise TypeError(
            f"{where} is a {type(obj).__name__}, which sklearn-mtl cannot save as data; "
            "use pickle for this model, or leave that attribute unset."
        )


class _Reader:
    """The inverse of :class:`_Writer`, building only allow-listed classes."""

    def __init__(self, tensors: dict, path):
        self.tensors = tensors
        self.path = path

    def fail(self, what: str):
        raise ValueError(f"{self.path} is not a valid sklearn-mtl model file: {what}.")

    def decode(self, data):
        if data is None or isinstance(data, (bool, str, int, float)):
            return data
        if isinstance(data, list):
            return [self.decode(v) for v in data]
        if not isinstance(data, dict) or len(data) == 0:
            self.fail(f"unexpected entry {str(data)[:80]}")
        tag = next(iter(data))
        if tag == "__scalar__":
            return np.dtype(data["__scalar__"]).type(self.decode(data["value"]))
        if tag == "__ndarray__":
            dtype = np.dtype(data["__ndarray__"])
            values = [self.decode(v) for v in data["data"]] if dtype.kind in "OU" else data["data"]
            array = np.empty(len(values), dtype=dtype)
            array[:] = values
            return array.reshape(data["shape"])
        if tag == "__index__":
            return pd.Index([self.decode(v) for v in data["data"]], dtype=data["__index__"])
        if tag == "__tensor__":
            if data["__tensor__"] not in self.tensors:
                self.fail(f"a tensor entry {data!r} is missing from the weights")
            return self.tensors[data["__tensor__"]]
        if tag == "__tuple__":
            return tuple(self.decode(v) for v in data["__tuple__"])
        if tag == "__dict__":
            return {_hashable(self.decode(k)): self.decode(v) for k, v in data["__dict__"]}
        if tag == "__booster__":
            import lightgbm

            return lightgbm.Booster(model_str=data["__booster__"])
        if tag == "__object__":
            if data["__object__"] not in ALLOWED_CLASSES:
                self.fail(f"class {data['__object__']!r} is not one sklearn-mtl loads")
            cls = _resolve(data["__object__"])
            obj = cls.__new__(cls)
            state = {k: self.decode(v) for k, v in data["state"].items()}
            set_state = getattr(obj, "_set_state", None)
            if set_state is not None:
                try:
                    set_state(state)
                except RuntimeError as exc:  # torch's load_state_dict: weights of another shape
                    self.fail(f"the weights do not fit {cls.__name__}: {exc}")
            else:
                obj.__dict__.update(state)
            return obj
        self.fail(f"unknown entry tag {tag!r}")


def _read_weights(path, name: str, data: bytes) -> dict:
    """The named tensors of a weights entry (torch is imported only here, for a file that has one)."""
    if name == "weights.safetensors":
        try:
            from safetensors.torch import load as st_load
        except ImportError:
            raise ImportError(f"{path} stores its weights as safetensors: pip install "
                              "safetensors (or sklearn-mtl[serving]).") from None
        return st_load(data)
    if name == "weights.pt":
        import torch

        return torch.load(io.BytesIO(data), map_location="cpu", weights_only=True)
    raise ValueError(f"{path} is not a valid sklearn-mtl model file: unknown weights entry "
                     f"{name!r}.")


def _hashable(key):
    return tuple(key) if isinstance(key, list) else key


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def save(estimator, path) -> None:
    """Save a fitted ``MultiTaskRecommender`` or ``PerTaskLGBM`` to ``path`` as data.

    Parameters
    ----------
    estimator : MultiTaskRecommender or PerTaskLGBM
        A fitted estimator (an unfitted one is saved too: its parameters only).
    path : str or path-like
        The file to write (a zip archive; ``.skmtl`` is a good suffix).

    Examples
    --------
    >>> import os, tempfile
    >>> import numpy as np
    >>> from sklearn_mtl import MultiTaskRecommender, load
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(200, 3))
    >>> Y = np.column_stack([X[:, 0] > 0, X[:, 1]])
    >>> model = MultiTaskRecommender("hard", max_epochs=2, random_state=0).fit(X, Y)
    >>> path = os.path.join(tempfile.mkdtemp(), "model.skmtl")
    >>> model.save(path)
    >>> bool(np.allclose(load(path).predict(X), model.predict(X)))
    True
    """
    if _qualname(type(estimator)) not in ESTIMATORS:
        raise TypeError(f"save takes a MultiTaskRecommender or a PerTaskLGBM, not a "
                        f"{type(estimator).__name__}.")
    from . import __version__

    writer = _Writer()
    entries = {"state.json": json.dumps(writer.encode(estimator, type(estimator).__name__)).encode()}
    weights_name = None
    if writer.tensors:
        try:
            from safetensors.torch import save as st_save
        except ImportError:
            import torch

            weights_name, buffer = "weights.pt", io.BytesIO()
            torch.save(writer.tensors, buffer)
            entries[weights_name] = buffer.getvalue()
        else:
            weights_name = "weights.safetensors"
            entries[weights_name] = st_save(writer.tensors)
    versions = {f"{name}_version": getattr(sys.modules.get(name), "__version__", None)
                for name in ("torch", "lightgbm")}
    manifest = {
        "format": FORMAT, "format_version": FORMAT_VERSION, "sklearn_mtl_version": __version__,
        "estimator": type(estimator).__name__, **versions, "weights": weights_name,
        "sha256": {name: _sha256(data) for name, data in entries.items()},
    }
    with zipfile.ZipFile(os.fspath(path), "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("manifest.json", json.dumps(manifest, indent=1))
        for name, data in entries.items():
            archive.writestr(name, data)


def load(path):
    """Load an estimator written by :func:`save` (or an estimator's ``save`` method).

    Only data is read: no pickle, no code from the file runs. Raises ``ValueError`` when the
    file is not a sklearn-mtl model, was modified after saving, or was written by another
    sklearn-mtl version.

    Parameters
    ----------
    path : str or path-like

    Returns
    -------
    MultiTaskRecommender or PerTaskLGBM

    Examples
    --------
    See :func:`save`.
    """
    from . import __version__

    try:
        archive = zipfile.ZipFile(os.fspath(path))
    except zipfile.BadZipFile:
        raise ValueError(f"{path} is not a valid sklearn-mtl model file: not a zip archive.") from None
    with archive:
        names = set(archive.namelist())
        if "manifest.json" not in names:
            raise ValueError(f"{path} is not a valid sklearn-mtl model file: no manifest.json.")
        try:
            manifest = json.loads(archive.read("manifest.json"))
        except ValueError:
            raise ValueError(f"{path} is not a valid sklearn-mtl model file: its manifest is "
                             "not JSON.") from None
        if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
            raise ValueError(f"{path} is not a valid sklearn-mtl model file: its manifest does "
                             f"not name the format {FORMAT!r}.")
        saved = manifest.get("sklearn_mtl_version")
        if saved != __version__ or manifest.get("format_version") != FORMAT_VERSION:
            raise ValueError(
                f"{path} was saved by sklearn-mtl {saved} (file format "
                f"{manifest.get('format_version')}); this is sklearn-mtl {__version__} (format "
                f"{FORMAT_VERSION}). Load it with sklearn-mtl {saved} "
                f"(pip install sklearn-mtl=={saved}) or re-fit the model with this version."
            )
        weights_name = manifest.get("weights")
        entries = {}
        for name in ("state.json", *([weights_name] if weights_name is not None else [])):
            if name not in names or name not in manifest.get("sha256", {}):
                raise ValueError(f"{path} is not a valid sklearn-mtl model file: entry {name!r} "
                                 "is missing.")
            entries[name] = archive.read(name)
            if _sha256(entries[name]) != manifest["sha256"][name]:
                raise ValueError(f"{path} is damaged or was modified after saving: the "
                                 f"checksum of {name!r} does not match its manifest.")
    tensors = {} if weights_name is None else _read_weights(path, weights_name, entries[weights_name])
    reader = _Reader(tensors, path)
    try:
        estimator = reader.decode(json.loads(entries["state.json"]))
    except (KeyError, TypeError) as exc:
        raise ValueError(f"{path} is not a valid sklearn-mtl model file: {exc!r}.") from None
    if _qualname(type(estimator)) not in ESTIMATORS:
        raise ValueError(f"{path} is not a valid sklearn-mtl model file: it holds a "
                         f"{type(estimator).__name__}.")
    return estimator
