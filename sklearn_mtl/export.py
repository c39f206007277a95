"""ONNX export of a fitted ``MultiTaskRecommender`` for serving outside Python.

The exported graph holds everything after one small published step:

* inputs ``x_num``: float64 (n, number of numeric columns), the numeric columns of ``X`` as they
  are (NaN allowed), in the order ``numeric_columns`` of the metadata; ``x_cat``: int64
  (n, number of categorical columns), each categorical value replaced by ``1 +`` its position in
  that column's ``vocabularies`` list, or ``0`` when it is not in the list (unknown or rare).
  That is the published step; :func:`onnx_inputs` does it in Python.
* inside the graph: imputation of NaN (training medians, missing indicators), standardization
  in float64 then the cast to float32, the network, and per task the probabilities (sigmoid /
  softmax) or the regression value on its original scale.
* outputs, one per task in task order, named ``proba_<t>`` (float64 (n, n_classes), columns in
  ``classes`` order) or ``value_<t>`` (float64 (n, 1)); ``<t>`` is the task's position.

The metadata (``metadata_props["sklearn_mtl"]`` of the ONNX model, JSON) lists the columns,
vocabularies, task names, kinds, classes and output names. Any architecture works: the graph
is traced from the fitted torch module, whatever its class.

Requires ``onnx`` and ``onnxscript`` (``pip install "sklearn-mtl[onnx]"``); ``onnxruntime``
runs the file.
"""

from __future__ import annotations

import json
import logging
import os
import warnings

import numpy as np
import pandas as pd
import torch
from sklearn.utils.validation import check_is_fitted
from torch import nn

METADATA_KEY = "sklearn_mtl"


class _ServingModule(nn.Module):
    """The fitted module with the numeric preprocessing before it and the link functions after."""

    def __init__(self, estimator):
        super().__init__()
        features, targets = estimator._features, estimator.target_encoder_
        self.module = estimator.net_.module_
        self.n_numeric = len(features.numeric_columns_)
        self.n_categorical = len(features.categorical_columns_)
        as64 = lambda a: torch.as_tensor(np.asarray(a, dtype=np.float64))  # noqa: E731
        self.register_buffer("median", as64(features.median_))
        self.register_buffer("mean", as64(features.mean_))
        self.register_buffer("scale", as64(features.scale_))
        self.indicators = [int(i) for i in np.flatnonzero(features._indicator_mask)]
        self.kinds = list(targets.kinds_)
        bounds = np.cumsum([0, *targets.n_outputs_])
        self.bounds = [(int(a), int(b)) for a, b in zip(bounds[:-1], bounds[1:])]
        self.target_mean = [float(m) for m in targets.mean_]
        self.target_scale = [float(s) for s in targets.scale_]

    def forward(self, x_num: torch.Tensor, x_cat: torch.Tensor) -> tuple[torch.Tensor, ...]:
        missing = torch.isnan(x_num)
        filled = torch.where(missing, self.median, x_num)
        scaled = ((filled - self.mean) / self.scale).to(torch.float32)
        if self.indicators:
            flags = missing[:, self.indicators].to(torch.float32)
            scaled = torch.cat([scaled, flags], dim=1)
        out = self.module(scaled, x_cat).to(torch.float64)
        results = []
        for t, (kind, (a, b)) in enumerate(zip(self.kinds, self.bounds)):
            z = out[:, a:b]
            if kind == "binary":
                p = torch.sigmoid(z)
                results.append(torch.cat([1.0 - p, p], dim=1))
            elif kind == "multiclass":
                results.append(torch.softmax(z, dim=1))
            else:
                results.append(z * self.target_scale[t] + self.target_mean[t])
        return tuple(results)


def _plain(value):
    """JSON-able form of a column label, category or class label."""
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and np.isnan(value):
        return None
    return value if isinstance(value, (str, int, float, bool)) or value is None else str(value)


def _metadata(estimator) -> dict:
    features, targets = estimator._features, estimator.target_encoder_
    outputs = [f"{'value' if kind == 'regression' else 'proba'}_{t}"
               for t, kind in enumerate(targets.kinds_)]
    return {
        "format_version": 1,
        "numeric_columns": [_plain(c) for c in features.numeric_columns_],
        "categorical_columns": [_plain(c) for c in features.categorical_columns_],
        "vocabularies": [[_plain(v) for v in vocab] for vocab in features.vocabularies_],
        "task_names": [_plain(n) for n in targets.names_],
        "tasks": list(targets.kinds_),
        "classes": [None if c is None else [_plain(v) for v in c] for c in targets.classes_],
        "outputs": outputs,
    }


def to_onnx(estimator, path, *, opset_version: int = 18) -> dict:
    """Export a fitted ``MultiTaskRecommender`` to an ONNX file.

    Parameters
    ----------
    estimator : MultiTaskRecommender
        A fitted model, of any architecture.
    path : str or path-like
        Where to write the ``.onnx`` file.
    opset_version : int, default=18

    Returns
    -------
    dict
        The metadata written into the model (columns, vocabularies, tasks, classes, outputs).

    Examples
    --------
    >>> import os, tempfile
    >>> import numpy as np
    >>> import onnxruntime as ort
    >>> from sklearn_mtl import MultiTaskRecommender
    >>> from sklearn_mtl.export import onnx_inputs, to_onnx
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(200, 3))
    >>> Y = np.column_stack([X[:, 0] > 0, X[:, 1]])
    >>> model = MultiTaskRecommender("mmoe", max_epochs=2, random_state=0).fit(X, Y)
    >>> path = os.path.join(tempfile.mkdtemp(), "model.onnx")
    >>> meta = to_onnx(model, path)
    >>> session = ort.InferenceSession(path)
    >>> proba, value = session.run(meta["outputs"], onnx_inputs(model, X[:5]))
    >>> bool(np.allclose(proba, model.predict_proba(X[:5])[0], atol=1e-5))
    True
    """
    check_is_fitted(estimator)
    if not hasattr(estimator, "_features") or not hasattr(estimator, "net_"):
        raise TypeError(f"to_onnx takes a fitted MultiTaskRecommender, not a "
                        f"{type(estimator).__name__}.")
    try:
        import onnx
    except ImportError:
        raise ImportError('ONNX export needs onnx and onnxscript: pip install "sklearn-mtl[onnx]"') \
            from None
    module = estimator.net_.module_
    was_training, device = module.training, next(module.parameters()).device
    registry_log = logging.getLogger("torch.onnx._internal.exporter._registration")
    level = registry_log.level
    module.eval().to("cpu")
    try:
        serving = _ServingModule(estimator).eval()
        meta = _metadata(estimator)
        n = 2
        x_num = torch.zeros((n, serving.n_numeric), dtype=torch.float64)
        x_cat = torch.zeros((n, serving.n_categorical), dtype=torch.int64)
        rows = torch.export.Dim("rows")
        # The exporter warns about its own internals (torchvision ops, axis names) on every call.
        registry_log.setLevel(logging.ERROR)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", (UserWarning, FutureWarning, DeprecationWarning))
            program = torch.onnx.export(
                serving, (x_num, x_cat), input_names=["x_num", "x_cat"],
                output_names=meta["outputs"], dynamic_shapes=({0: rows}, {0: rows}),
                opset_version=opset_version, dynamo=True, verbose=False,
            )
    finally:
        registry_log.setLevel(level)
        module.train(was_training).to(device)
    model = program.model_proto
    entry = model.metadata_props.add()
    entry.key, entry.value = METADATA_KEY, json.dumps(meta)
    onnx.save(model, os.fspath(path))
    return meta


def onnx_inputs(estimator_or_metadata, X) -> dict:
    """The feed of an exported model for the rows ``X``: ``{"x_num": ..., "x_cat": ...}``.

    This is the published step before the graph: the numeric columns as float64, and each
    categorical value as ``1 +`` its position in the column's vocabulary (``0`` if absent).

    Parameters
    ----------
    estimator_or_metadata : MultiTaskRecommender or dict
        The fitted model, or the metadata :func:`to_onnx` returned (also stored in the ONNX
        file under ``metadata_props["sklearn_mtl"]``).
    X : DataFrame or array of shape (n_samples, n_features)
        Columns as in ``fit`` (by name for a DataFrame, by position for an array).
    """
    meta = estimator_or_metadata
    if not isinstance(meta, dict):
        meta = _metadata(meta)
    frame = X if isinstance(X, pd.DataFrame) else None
    array = None if frame is not None else np.asarray(X)

    def column(c):
        return frame[c] if frame is not None else array[:, c]

    n = len(X)
    numeric = np.empty((n, len(meta["numeric_columns"])), dtype=np.float64)
    for j, c in enumerate(meta["numeric_columns"]):
        numeric[:, j] = pd.Series(column(c)).to_numpy(dtype=np.float64, na_value=np.nan)
    codes = np.zeros((n, len(meta["categorical_columns"])), dtype=np.int64)
    for j, (c, vocab) in enumerate(zip(meta["categorical_columns"], meta["vocabularies"])):
        # NaN is a category of its own; JSON writes it as None.
        index = pd.Index([np.nan if v is None else v for v in vocab], dtype=object)
        codes[:, j] = index.get_indexer(np.asarray(column(c), dtype=object)) + 1
    return {"x_num": numeric, "x_cat": codes}
