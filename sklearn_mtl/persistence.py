"""Save and load fitted estimators as data: no pickle, no code runs when a file is loaded.

A saved model is one zip file holding

* ``manifest.json``: the file format, the versions that wrote it and SHA-256 digests of the
  other two entries;
* ``state.json``: the estimator's parameters and fitted attributes as a typed JSON tree (numbers,
  strings, lists, numpy arrays, pandas indexes, LightGBM models in LightGBM's own text format);
* ``weights.safetensors``: every torch tensor (the net's ``state_dict``), in the safetensors
  format, or ``weights.pt`` read with ``torch.load(weights_only=True)`` when safetensors is not
  installed.

Loading rebuilds objects only from an allow-list of the package's classes (and LightGBM's
scikit-learn classes); torch modules are rebuilt from their class name, the constructor arguments
every :class:`~sklearn_mtl.nets.MultiTaskModule` records in ``init_kwargs_`` and the
``state_dict``, so architectures need no code of their own here. A file written by another
sklearn-mtl version is refused with a clear error; a model trained on CUDA loads on a CPU-only
machine. pickle keeps working as before; use it only for files you trust.
"""

from __future__ import annotations

import collections
import hashlib
import io
import json
import os
import warnings
import zipfile

import lightgbm as lgb
import numpy as np
import pandas as pd
import torch
from sklearn.preprocessing import LabelEncoder
from skorch.history import History

from .baselines import PerTaskLGBM
from .estimator import MultiTaskRecommender
from .features import FeatureEncoder
from .losses import MultiTaskLoss
from .nets import MultiTaskModule
from .tasks import TargetEncoder
from .training import MultiTaskNeuralNet, TensorBatchLoader

FORMAT = "sklearn-mtl"
FORMAT_VERSION = 1

# Classes rebuilt from their attributes (as pickle would, without running any of their code).
_OBJECTS = {
    f"{cls.__module__}.{cls.__qualname__}": cls
    for cls in (MultiTaskRecommender, PerTaskLGBM, FeatureEncoder, TargetEncoder,
                lgb.LGBMClassifier, lgb.LGBMRegressor, LabelEncoder)
}
_ESTIMATORS = (MultiTaskRecommender, PerTaskLGBM)


def _qualname(cls) -> str:
    return f"{cls.__module__}.{cls.__qualname__}"


def _module_classes() -> dict:
    """Every architecture of the package (subclasses of MultiTaskModule in sklearn_mtl)."""
    found, todo = {}, [MultiTaskModule]
    while todo:
        cls = todo.pop()
        if cls.__module__.startswith("sklearn_mtl."):
            found[_qualname(cls)] = cls
        todo.extend(cls.__subclasses__())
    return found


class _Writer:
    """Turn an object tree into JSON-able data plus a dict of named tensors."""

    def __init__(self):
        self.tensors: dict[str, torch.Tensor] = {}

    def tensor(self, t: torch.Tensor) -> dict:
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
        if isinstance(obj, torch.Tensor):
            return self.tensor(obj)
        if isinstance(obj, History):
            return {"__history__": [self.encode(row, where) for row in obj]}
        if isinstance(obj, tuple):
            return {"__tuple__": [self.encode(v, f"{where}[{i}]") for i, v in enumerate(obj)]}
        if isinstance(obj, list):
            return [self.encode(v, f"{where}[{i}]") for i, v in enumerate(obj)]
        if isinstance(obj, dict):
            return {"__dict__": [[self.encode(k, where), self.encode(v, f"{where}[{k!r}]")]
                                 for k, v in obj.items()]}
        if isinstance(obj, lgb.Booster):
            return {"__booster__": obj.model_to_string()}
        if isinstance(obj, MultiTaskModule):
            return self.module(obj, where)
        if isinstance(obj, MultiTaskNeuralNet):
            return self.net(obj, where)
        if _qualname(type(obj)) in _OBJECTS:
            return self.object(obj, where)
        raise TypeError(
            f"{where} is a {type(obj).__name__}, which sklearn-mtl cannot save as data; "
            "use pickle for this model, or leave that attribute unset."
        )

    def object(self, obj, where: str) -> dict:
        state = dict(vars(obj))
        if isinstance(obj, MultiTaskRecommender):
            # history_ is net_.history: stored once, with the net.
            state.pop("history_", None)
            if state.get("callbacks"):
                warnings.warn(
                    f"{where}.callbacks holds {len(state['callbacks'])} callback object(s), which "
                    "are not saved: the loaded model has callbacks=None (they only act in fit).",
                    UserWarning, stacklevel=4,
                )
                state["callbacks"] = None
        return {"__object__": _qualname(type(obj)),
                "state": {k: self.encode(v, f"{where}.{k}") for k, v in state.items()}}

    def module(self, module: MultiTaskModule, where: str) -> dict:
        if not hasattr(module, "init_kwargs_"):
            raise TypeError(f"{where} ({type(module).__name__}) did not record its constructor "
                            "arguments; it must subclass MultiTaskModule.")
        return {"__module__": _qualname(type(module)),
                "kwargs": self.encode(module.init_kwargs_, f"{where}.init_kwargs_"),
                "state": {k: self.tensor(v) for k, v in module.state_dict().items()}}

    def net(self, net: MultiTaskNeuralNet, where: str) -> dict:
        criterion = net.criterion_
        return {"__net__": {
            "module": self.module(net.module_, f"{where}.module_"),
            "criterion": {
                "kinds": list(criterion.kinds),
                "n_outputs": [s.stop - s.start for s in criterion.slices],
                "method": criterion.method,
                "gradnorm_alpha": float(criterion.gradnorm_alpha),
                "dwa_temperature": float(criterion.dwa_temperature),
                "state": {k: self.tensor(v) for k, v in criterion.state_dict().items()},
            },
            "history": self.encode(net.history, f"{where}.history"),
            "params": {"lr": float(net.lr), "batch_size": int(net.batch_size),
                       "max_epochs": int(net.max_epochs), "device": str(net.device),
                       "sharing_strength": float(net.sharing_strength)},
        }}


class _Reader:
    """The inverse of :class:`_Writer`, building only allow-listed classes."""

    def __init__(self, tensors: dict, path):
        self.tensors = tensors
        self.path = path
        self.modules = _module_classes()
        self.device = "cpu"

    def fail(self, what: str):
        raise ValueError(f"{self.path} is not a valid sklearn-mtl model file: {what}.")

    def tensor(self, ref) -> torch.Tensor:
        if not isinstance(ref, dict) or ref.get("__tensor__") not in self.tensors:
            self.fail(f"a tensor entry {ref!r} is missing from the weights")
        return self.tensors[ref["__tensor__"]]

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
            return self.tensor(data)
        if tag == "__history__":
            return History(self.decode(data["__history__"]))
        if tag == "__tuple__":
            return tuple(self.decode(v) for v in data["__tuple__"])
        if tag == "__dict__":
            return {_hashable(self.decode(k)): self.decode(v) for k, v in data["__dict__"]}
        if tag == "__booster__":
            return lgb.Booster(model_str=data["__booster__"])
        if tag == "__module__":
            return self.module(data)
        if tag == "__net__":
            return self.net(data["__net__"])
        if tag == "__object__":
            cls = _OBJECTS.get(data["__object__"])
            if cls is None:
                self.fail(f"class {data['__object__']!r} is not one sklearn-mtl loads")
            obj = cls.__new__(cls)
            state = {k: self.decode(v) for k, v in data["state"].items()}
            if isinstance(obj, lgb.LGBMModel):
                # LightGBM keeps these as defaultdict / OrderedDict; JSON has only dicts.
                state["_best_score"] = collections.defaultdict(
                    collections.OrderedDict, state.get("_best_score", {}))
            obj.__dict__.update(state)
            return obj
        self.fail(f"unknown entry tag {tag!r}")

    def module(self, data) -> MultiTaskModule:
        cls = self.modules.get(data["__module__"])
        if cls is None:
            self.fail(f"architecture {data['__module__']!r} is not part of this sklearn-mtl")
        module = cls(**self.decode(data["kwargs"]))
        state = {k: self.tensor(v) for k, v in data["state"].items()}
        try:
            module.load_state_dict(state)
        except RuntimeError as exc:
            self.fail(f"the weights do not fit {cls.__name__}: {exc}")
        return module

    def net(self, data) -> MultiTaskNeuralNet:
        params = data["params"]
        module = self.module(data["module"])
        crit = data["criterion"]
        method = crit.get("method", "static")
        if method not in ("static", "uncertainty", "gradnorm", "dwa"):
            self.fail(f"unknown task weighting {method!r}")
        # Learned weights (uncertainty, GradNorm) and DWA's epoch sums come back with the state.
        weights = self.tensor(crit["state"]["weights"]).numpy() if method == "static" else method
        criterion = MultiTaskLoss(crit["kinds"], crit["n_outputs"], weights,
                                  gradnorm_alpha=crit.get("gradnorm_alpha", 1.5),
                                  dwa_temperature=crit.get("dwa_temperature", 2.0))
        criterion.load_state_dict({k: self.tensor(v) for k, v in crit["state"].items()})
        # A model trained on CUDA predicts on the CPU when this machine has no GPU.
        device = params["device"]
        if device.startswith("cuda") and not torch.cuda.is_available():
            device = "cpu"
        self.device = device
        net = MultiTaskNeuralNet(
            module, criterion=criterion, optimizer=torch.optim.Adam, lr=params["lr"],
            batch_size=params["batch_size"], max_epochs=params["max_epochs"],
            iterator_train=TensorBatchLoader, iterator_valid=TensorBatchLoader, device=device,
            sharing_strength=params["sharing_strength"],
        )
        net.initialize()
        net.history = self.decode(data["history"])
        return net


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
    if not isinstance(estimator, _ESTIMATORS):
        raise TypeError(f"save takes a MultiTaskRecommender or a PerTaskLGBM, not a "
                        f"{type(estimator).__name__}.")
    from . import __version__

    writer = _Writer()
    state = json.dumps(writer.encode(estimator, type(estimator).__name__)).encode()
    buffer = io.BytesIO()
    try:
        from safetensors.torch import save as st_save
    except ImportError:
        weights_name = "weights.pt"
        torch.save(writer.tensors, buffer)
        weights = buffer.getvalue()
    else:
        weights_name = "weights.safetensors"
        weights = st_save(writer.tensors)
    manifest = {
        "format": FORMAT, "format_version": FORMAT_VERSION, "sklearn_mtl_version": __version__,
        "estimator": type(estimator).__name__, "torch_version": torch.__version__,
        "lightgbm_version": lgb.__version__, "weights": weights_name,
        "sha256": {"state.json": _sha256(state), weights_name: _sha256(weights)},
    }
    with zipfile.ZipFile(os.fspath(path), "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("manifest.json", json.dumps(manifest, indent=1))
        archive.writestr("state.json", state)
        archive.writestr(weights_name, weights)


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
        for name in ("state.json", weights_name):
            if name not in names or name not in manifest.get("sha256", {}):
                raise ValueError(f"{path} is not a valid sklearn-mtl model file: entry {name!r} "
                                 "is missing.")
            entries[name] = archive.read(name)
            if _sha256(entries[name]) != manifest["sha256"][name]:
                raise ValueError(f"{path} is damaged or was modified after saving: the "
                                 f"checksum of {name!r} does not match its manifest.")
    if weights_name == "weights.safetensors":
        try:
            from safetensors.torch import load as st_load
        except ImportError:
            raise ImportError(f"{path} stores its weights as safetensors: pip install "
                              "safetensors (or sklearn-mtl[serving]).") from None
        tensors = st_load(entries[weights_name])
    elif weights_name == "weights.pt":
        tensors = torch.load(io.BytesIO(entries[weights_name]), map_location="cpu",
                             weights_only=True)
    else:
        raise ValueError(f"{path} is not a valid sklearn-mtl model file: unknown weights entry "
                         f"{weights_name!r}.")
    reader = _Reader(tensors, path)
    try:
        estimator = reader.decode(json.loads(entries["state.json"]))
    except (KeyError, TypeError) as exc:
        raise ValueError(f"{path} is not a valid sklearn-mtl model file: {exc!r}.") from None
    if not isinstance(estimator, _ESTIMATORS):
        raise ValueError(f"{path} is not a valid sklearn-mtl model file: it holds a "
                         f"{type(estimator).__name__}.")
    net = getattr(estimator, "net_", None)
    if net is not None:
        estimator.history_ = net.history
        estimator.device_ = str(net.device)
    return estimator
