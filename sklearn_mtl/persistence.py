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

A file is data from outside, read as skops and safetensors read theirs: each entry's declared
size is checked against a limit and its inflation ratio before it is inflated, nesting and
array shapes are checked against what they declare, and a LightGBM model's trees are checked
(tree sizes, array lengths, child and feature indices) before LightGBM parses them, since
LightGBM trusts its text and a tampered one can abort the process or loop in ``predict``.
Weights that are NaN or infinite load with a warning. pickle works too; use it only for files
you trust.
"""

from __future__ import annotations

import hashlib
import importlib
import io
import json
import os
import sys
import warnings
import zipfile
import zlib

import numpy as np
import pandas as pd

from ._version import __version__

FORMAT = "sklearn-mtl"
# 3: MultiTaskRecommender gained cascade_debias, min_propensity, debias_weight and
# calibration_strength, and "dr" cascades an imputation tower in their state.
# 4: MultiTaskRecommender gained devices (and predict_batch_size) and keeps the fit-time input
# dtypes (_input_schema) that partial_fit checks later chunks against.
# 5: classes are named by their public import path (sklearn_mtl.MultiTaskRecommender), not by
# the private module that defines them, so that moving a class between modules keeps the format.
FORMAT_VERSION = 5

# What load reads, checked against the zip's declared sizes before any entry is inflated: the
# manifest is a few hundred bytes; JSON state deflates about 3x (measured: 2.8x for a PerTaskLGBM
# of 400 trees, 3.6x for an MMoE) and weights are stored, so an entry that inflates more than
# MAX_INFLATION times (above 1 MiB) is a zip bomb, not a model.
MAX_MANIFEST_BYTES = 1 << 20
MAX_STATE_BYTES = 4 << 30
MAX_INFLATION = 50
# LightGBM's names for its thread count, and the most a saved model may ask for: a forged
# n_jobs of a million makes LightGBM's OpenMP runtime crash the process in predict.
_THREAD_PARAMS = ("n_jobs", "num_threads", "num_thread", "nthread", "nthreads")
MAX_THREADS = 1024
# A saved estimator nests a dozen levels (estimator, its list of models, their state, ...).
MAX_DEPTH = 64

# The estimators a file may hold, and every other class an estimator's state may contain, by
# the public name users import them by (never a private module's path).
ESTIMATORS = (
    "sklearn_mtl.MultiTaskRecommender",
    "sklearn_mtl.PerTaskLGBM",
)
ALLOWED_CLASSES = frozenset({
    *ESTIMATORS,
    "sklearn_mtl.features.FeatureEncoder",
    "sklearn_mtl.tasks.TargetEncoder",
    "lightgbm.LGBMClassifier",
    "lightgbm.LGBMRegressor",
    "sklearn.preprocessing.LabelEncoder",
})
_BY_CLASS_NAME = {name.rpartition(".")[2]: name for name in ALLOWED_CLASSES}


def _public_name(cls) -> str | None:
    """The allow-listed public name of ``cls``, or None when ``cls`` is not allow-listed.

    A class of that name is looked up under its public name only when an object of it exists,
    so its module is loaded already (saving a ``PerTaskLGBM`` imports no torch).
    """
    public = _BY_CLASS_NAME.get(cls.__name__)
    return public if public is not None and _resolve(public) is cls else None


def _is_instance(obj, module: str, name: str) -> bool:
    """``isinstance(obj, module.name)`` without importing ``module``: an object of a class can
    only exist once the class's module is loaded, so ``PerTaskLGBM`` saves without torch."""
    loaded = sys.modules.get(module)
    return loaded is not None and isinstance(obj, getattr(loaded, name))


def _resolve(qualname: str):
    """The class with the public name ``qualname`` (a module is imported only once allowed)."""
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
        if _public_name(type(obj)) in ALLOWED_CLASSES:
            get_state = getattr(obj, "_get_state", None)
            state = get_state() if get_state is not None else dict(vars(obj))
            return {"__object__": _public_name(type(obj)),
                    "state": {k: self.encode(v, f"{where}.{k}") for k, v in state.items()}}
        raise TypeError(
            f"{where} is a {type(obj).__name__}, which sklearn-mtl cannot save as data; "
            "use pickle for this model, or leave that attribute unset."
        )


class _FileError(ValueError):
    """A file that load refuses; raised as is, where any other error gets the file's name."""


class _Reader:
    """The inverse of :class:`_Writer`, building only allow-listed classes.

    ``where`` is the place in ``state.json`` being decoded (``PerTaskLGBM.estimators_[0]``), so
    that a refusal names the entry; ``non_finite`` collects the weights that are NaN or inf.
    """

    def __init__(self, tensors: dict, path):
        self.tensors = tensors
        self.path = path
        self.non_finite: list = []

    def fail(self, what: str):
        raise _FileError(f"{self.path} is not a valid sklearn-mtl model file: {what}.")

    def decode(self, data, where: str, depth: int = 0):
        if depth > MAX_DEPTH:
            self.fail(f"state.json nests deeper than {MAX_DEPTH} levels at {where}")
        if data is None or isinstance(data, (bool, str, int, float)):
            return data
        if isinstance(data, list):
            return [self.decode(v, f"{where}[{i}]", depth + 1) for i, v in enumerate(data)]
        if not isinstance(data, dict) or len(data) == 0:
            self.fail(f"unexpected entry {str(data)[:80]} at {where}")
        tag = next(iter(data))
        if tag == "__scalar__":
            return self._dtype(data["__scalar__"], where, "biufU").type(
                self.decode(data["value"], where, depth + 1))
        if tag == "__ndarray__":
            return self._ndarray(data, where, depth)
        if tag == "__index__":
            return pd.Index([self.decode(v, where, depth + 1) for v in self._list(data, where)],
                            dtype=data["__index__"])
        if tag == "__tensor__":
            if not isinstance(data["__tensor__"], str) or data["__tensor__"] not in self.tensors:
                self.fail(f"the tensor {data['__tensor__']!r} of {where} is missing from the "
                          "weights")
            tensor = self.tensors[data["__tensor__"]]
            if tensor.is_floating_point() and not bool(tensor.isfinite().all()):
                self.non_finite.append(where)
            return tensor
        if tag == "__tuple__":
            return tuple(self.decode(v, f"{where}[{i}]", depth + 1)
                         for i, v in enumerate(data["__tuple__"]))
        if tag == "__dict__":
            out = {}
            for pair in data["__dict__"]:
                if not isinstance(pair, list) or len(pair) != 2:
                    self.fail(f"a dict item of {where} is not a [key, value] pair")
                key = _hashable(self.decode(pair[0], where, depth + 1))
                out[key] = self.decode(pair[1], f"{where}[{key!r}]", depth + 1)
            return out
        if tag == "__booster__":
            return self._booster(data["__booster__"], where)
        if tag == "__object__":
            if data["__object__"] not in ALLOWED_CLASSES:
                self.fail(f"class {data['__object__']!r} is not one sklearn-mtl loads")
            cls = _resolve(data["__object__"])
            obj = cls.__new__(cls)
            if not isinstance(data.get("state"), dict):
                self.fail(f"the state of {where} is not a dict")
            state = {k: self.decode(v, f"{where}.{k}", depth + 1)
                     for k, v in data["state"].items()}
            set_state = getattr(obj, "_set_state", None)
            if set_state is not None:
                try:
                    set_state(state)
                except RuntimeError as exc:  # torch's load_state_dict: weights of another shape
                    self.fail(f"the weights do not fit {cls.__name__} at {where}: {exc}")
                except ValueError as exc:  # the estimator's own consistency checks
                    self.fail(f"{where} is inconsistent: {exc}")
            else:
                obj.__dict__.update(state)
            if data["__object__"].startswith("lightgbm."):
                self._check_lgbm(obj, where)
            return obj
        self.fail(f"unknown entry tag {tag!r} at {where}")

    def _list(self, data: dict, where: str) -> list:
        values = data.get("data")
        if not isinstance(values, list):
            self.fail(f"the data of {where} is not a list")
        return values

    def _dtype(self, name, where: str, kinds: str) -> np.dtype:
        try:
            dtype = np.dtype(name)
        except (TypeError, ValueError):
            dtype = None
        if dtype is None or dtype.kind not in kinds:
            self.fail(f"{where} has dtype {str(name)[:40]!r}, not one sklearn-mtl saves")
        return dtype

    def _ndarray(self, data: dict, where: str, depth: int) -> np.ndarray:
        dtype = self._dtype(data["__ndarray__"], where, "biufOU")
        values = self._list(data, where)
        shape = data.get("shape")
        if (not isinstance(shape, list)
                or not all(type(n) is int and n >= 0 for n in shape)
                or int(np.prod(shape, dtype=object)) != len(values)):
            self.fail(f"{where} declares shape {str(shape)[:40]} for {len(values)} values")
        if dtype.kind in "OU":
            values = [self.decode(v, f"{where}[{i}]", depth + 1) for i, v in enumerate(values)]
        if dtype.itemsize * len(values) > MAX_STATE_BYTES:
            self.fail(f"{where} declares {dtype.itemsize * len(values)} bytes of {dtype}")
        array = np.empty(len(values), dtype=dtype)
        try:
            array[:] = values
        except (TypeError, ValueError, OverflowError):
            self.fail(f"{where} holds values that are not of its dtype {dtype}")
        return array.reshape(shape)

    def _booster(self, text, where: str):
        from ._booster_text import BoosterTextError, check_booster_text

        try:
            non_finite = check_booster_text(text, where)
        except BoosterTextError as exc:
            self.fail(f"the LightGBM model is malformed: {exc}")
        self.non_finite.extend(non_finite)
        import lightgbm

        try:
            return lightgbm.Booster(model_str=text)
        except lightgbm.basic.LightGBMError as exc:
            self.fail(f"LightGBM cannot read the model at {where}: {exc}")

    def _check_lgbm(self, model, where: str) -> None:
        """A LightGBM scikit-learn model whose booster reads the features it says it was fit on."""
        params = model.get_params()
        for name in _THREAD_PARAMS:
            value = params.get(name)
            if value is not None and (type(value) is not int or abs(value) > MAX_THREADS):
                self.fail(f"the LightGBM model at {where} asks for {name}={str(value)[:20]} "
                          f"threads (at most {MAX_THREADS} load; LightGBM would start them in "
                          "predict)")
        booster = getattr(model, "_Booster", None)
        if booster is None:
            return
        n_features = getattr(model, "_n_features", None)
        if booster.num_feature() != n_features:
            self.fail(f"the LightGBM model at {where} reads {booster.num_feature()} features but "
                      f"its _n_features is {n_features!r}")
        n_classes = getattr(model, "_n_classes", None)
        trees_per_round = booster.num_model_per_iteration()
        if n_classes is not None and trees_per_round != (1 if n_classes <= 2 else n_classes):
            self.fail(f"the LightGBM model at {where} grows {trees_per_round} trees a round for "
                      f"{n_classes} classes")


def _read_weights(path, name: str, data: bytes) -> dict:
    """The named tensors of a weights entry (torch is imported only here, for a file that has one)."""
    if name == "weights.safetensors":
        try:
            from safetensors.torch import load as st_load
        except ImportError:
            raise ImportError(f"{path} stores its weights as safetensors: pip install "
                              "safetensors (or sklearn-mtl[serving]).") from None
        try:
            return st_load(data)
        except Exception as exc:  # safetensors' SafetensorError derives from Exception only
            raise ValueError(f"{path} is not a valid sklearn-mtl model file: its entry "
                             f"{name!r} is not safetensors data ({exc}).") from None
    if name == "weights.pt":
        import pickle

        import torch

        try:
            tensors = torch.load(io.BytesIO(data), map_location="cpu", weights_only=True)
        except (RuntimeError, pickle.UnpicklingError, EOFError, ValueError) as exc:
            raise ValueError(f"{path} is not a valid sklearn-mtl model file: its entry "
                             f"{name!r} is not torch weights ({exc}).") from None
        if not isinstance(tensors, dict):
            raise ValueError(f"{path} is not a valid sklearn-mtl model file: its entry "
                             f"{name!r} does not hold named tensors.")
        return tensors
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
    if _public_name(type(estimator)) not in ESTIMATORS:
        raise TypeError(f"save takes a MultiTaskRecommender or a PerTaskLGBM, not a "
                        f"{type(estimator).__name__}.")
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
            # Weights are stored: floats barely deflate, and load then reads any entry that
            # inflates many times over as a zip bomb.
            archive.writestr(name, data, compress_type=None if name == "state.json"
                             else zipfile.ZIP_STORED)


def load(path):
    """Load an estimator written by :func:`save` (or an estimator's ``save`` method).

    Only data is read: no pickle, no code from the file runs. Raises ``ValueError`` when the
    file is not a sklearn-mtl model, was modified after saving, was written by another
    sklearn-mtl version, or holds something a saved model does not: an entry larger than
    ``MAX_MANIFEST_BYTES`` / ``MAX_STATE_BYTES`` or inflating more than ``MAX_INFLATION``
    times, JSON nested deeper than ``MAX_DEPTH``, an array whose shape does not match its
    values, a LightGBM model whose trees are not trees over its features. The message names
    the entry. Warns (``UserWarning``) when weights are NaN or infinite.

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
    try:
        archive = zipfile.ZipFile(os.fspath(path))
    except (FileNotFoundError, IsADirectoryError, PermissionError):
        raise
    except (zipfile.BadZipFile, OSError):  # OSError: a truncated file seeks before its start
        raise ValueError(f"{path} is not a valid sklearn-mtl model file: not a zip archive.") from None
    with archive:
        names = set(archive.namelist())
        if "manifest.json" not in names:
            raise ValueError(f"{path} is not a valid sklearn-mtl model file: no manifest.json.")
        manifest = _json(path, "manifest.json", _read_entry(archive, path, "manifest.json",
                                                            MAX_MANIFEST_BYTES))
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
        digests = manifest.get("sha256")
        if weights_name not in (None, "weights.safetensors", "weights.pt"):
            raise ValueError(f"{path} is not a valid sklearn-mtl model file: unknown weights "
                             f"entry {str(weights_name)[:80]!r}.")
        entries = {}
        for name in ("state.json", *([weights_name] if weights_name is not None else [])):
            if name not in names or not isinstance(digests, dict) or name not in digests:
                raise ValueError(f"{path} is not a valid sklearn-mtl model file: entry {name!r} "
                                 "is missing.")
            # Stored weights take the file's own size in memory: only the ratio is checked.
            entries[name] = _read_entry(archive, path, name,
                                        MAX_STATE_BYTES if name == "state.json" else None)
            if _sha256(entries[name]) != digests[name]:
                raise ValueError(f"{path} is damaged or was modified after saving: the "
                                 f"checksum of {name!r} does not match its manifest.")
    tensors = {} if weights_name is None else _read_weights(path, weights_name, entries[weights_name])
    state = _json(path, "state.json", entries.pop("state.json"))
    if not isinstance(state, dict) or state.get("__object__") not in ESTIMATORS:
        raise ValueError(f"{path} is not a valid sklearn-mtl model file: its state.json does "
                         "not hold a MultiTaskRecommender or a PerTaskLGBM.")
    reader = _Reader(tensors, path)
    where = state["__object__"].rpartition(".")[2]
    try:
        estimator = reader.decode(state, where)
    except _FileError:
        raise
    except (KeyError, TypeError, ValueError, IndexError, AttributeError, OverflowError) as exc:
        raise ValueError(f"{path} is not a valid sklearn-mtl model file: {exc!r}.") from None
    if reader.non_finite:
        warnings.warn(
            f"{path} holds weights that are NaN or infinite, so the model predicts NaN or inf "
            f"where they are used: {', '.join(reader.non_finite[:5])}"
            f"{' ...' if len(reader.non_finite) > 5 else ''}. Was it saved after a diverged fit?",
            UserWarning, stacklevel=2)
    return estimator


def _read_entry(archive: zipfile.ZipFile, path, name: str, limit: int | None) -> bytes:
    """Entry ``name``'s bytes, refused before inflation when its declared size is over ``limit``
    or it inflates more than a model does (a zip bomb); zipfile stops at the declared size and
    checks the CRC, so the entry cannot grow past what was checked."""
    info = archive.getinfo(name)
    if limit is not None and info.file_size > limit:
        raise ValueError(f"{path} is not a valid sklearn-mtl model file: entry {name!r} declares "
                         f"{info.file_size} bytes, over the limit of {limit}.")
    if info.file_size > max(1 << 20, MAX_INFLATION * info.compress_size):
        raise ValueError(
            f"{path} is not a valid sklearn-mtl model file: entry {name!r} inflates "
            f"{info.compress_size} bytes to {info.file_size}, more than {MAX_INFLATION} times "
            "(a zip bomb, not a saved model).")
    try:
        return archive.read(name)
    except (zipfile.BadZipFile, zlib.error, EOFError, NotImplementedError) as exc:
        raise ValueError(f"{path} is damaged: entry {name!r} cannot be read ({exc}).") from None


def _json(path, name: str, data: bytes):
    try:
        return json.loads(data)
    except RecursionError:
        raise ValueError(f"{path} is not a valid sklearn-mtl model file: entry {name!r} nests "
                         "deeper than Python can parse.") from None
    except ValueError:
        raise ValueError(f"{path} is not a valid sklearn-mtl model file: entry {name!r} is not "
                         "JSON.") from None
