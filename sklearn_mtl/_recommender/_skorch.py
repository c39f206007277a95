"""The skorch side of ``MultiTaskRecommender``: dataset, whole-batch loader and the NeuralNet.

skorch's default ``DataLoader`` collates every batch sample by sample, which makes a fit on
census about 1.9x slower than a plain PyTorch loop. :class:`TensorBatchLoader` instead slices
whole batches out of tensors that already sit on the training device, which brings skorch back
to the speed of the plain loop (see ``benchmarks/bench_fit_speed.py``). The epochs, callbacks,
history and early stopping are skorch's own loop; :class:`MultiTaskNeuralNet` overrides only
the steps of a batch (per-task gradients, Adam's step without a closure) and calls only the
callback hooks that do something.
"""

from __future__ import annotations

import copy
import functools
import math
import warnings

import numpy as np
import scipy.sparse as sp
import torch
from sklearn.metrics import accuracy_score, r2_score, roc_auc_score
from skorch import NeuralNet
from skorch.callbacks import Callback
from skorch.dataset import unpack_data
from skorch.utils import TeeGenerator
from torch.utils.data import Dataset, Subset

from ..gradients import balanced_backward
from ._prescaled import note_training_step
from ._sparse import SparseRows


def rows_of(tensor: torch.Tensor, index) -> torch.Tensor:
    """``tensor[index]`` for a slice (a view) or an integer tensor of rows (a copy).

    A shuffled batch gathers its rows with ``index_select``: for a float (1024, 499) batch out
    of census it takes half the time of advanced indexing ``tensor[index]`` (60 against 118 us,
    2 threads), which is 3-4 % of an MMoE training step.
    """
    if isinstance(index, torch.Tensor) and index.dim() == 1 \
            and index.dtype in (torch.int64, torch.int32):
        return tensor.index_select(0, index)
    return tensor[index]


class MultiTaskDataset(Dataset):
    """Encoded features, targets and sample weights as tensors.

    ``take(index)`` returns one batch ``(X, y)`` with ``X = {"x_num", "x_cat"}`` and
    ``y = {"y", "w"}`` (``y`` is None for prediction data).

    ``x_num`` is kept as given (float32 or float64, shared with the caller's array when
    possible) and standardized batch by batch as ``(x_num - offset) / scale`` in its own
    precision, then cast to float32: holding a standardized float32 copy of the whole input
    would add its full size to the peak memory of ``fit`` (139 MB on census one-hot).
    """

    def __init__(self, x_num, x_cat, y=None, sample_weight=None, device="cpu", offset=None,
                 scale=None):
        with warnings.catch_warnings():
            # Arrays from pandas may be read-only; the data is only ever read here.
            warnings.filterwarnings("ignore", message="The given NumPy array is not writable")
            # A sparse block stays sparse: each batch is densified when it is read.
            self.x_num = (SparseRows(x_num, device) if sp.issparse(x_num)
                          else torch.as_tensor(x_num, device=device))
        if not self.x_num.is_floating_point():
            self.x_num = self.x_num.to(torch.float32)
        self.x_cat = torch.as_tensor(x_cat, dtype=torch.long, device=device)
        self.y = None if y is None else torch.as_tensor(y, dtype=torch.float32, device=device)
        self.w = (
            None
            if sample_weight is None
            else torch.as_tensor(sample_weight, dtype=torch.float32, device=device)
        )
        self.offset = self.scale = None
        if offset is not None:
            dtype = self.x_num.dtype
            offset, scale = np.asarray(offset, dtype=np.float64), np.asarray(scale, dtype=np.float64)
            if dtype == torch.float32:
                # float32 input carries no more precision than x * (1/s) - m/s keeps: one fused
                # pass per batch. float64 input is centred first, in float64 (1e12 + noise).
                offset, scale = -offset / scale, 1.0 / scale
            self.offset = torch.as_tensor(offset, dtype=dtype, device=device)
            self.scale = torch.as_tensor(scale, dtype=dtype, device=device)

    def __len__(self) -> int:
        return self.x_num.shape[0]

    def numeric(self, index, out=None) -> torch.Tensor:
        """The standardized float32 numeric inputs of the rows ``index``.

        ``out``, a float32 (batch_size, n_numeric) buffer, receives the rows of a slice
        instead of a new tensor (for prediction, where nothing keeps a batch's inputs).
        """
        x = rows_of(self.x_num, index)
        if self.offset is None:
            return x.to(torch.float32)
        if x.dtype == torch.float32:
            # A slice is a view of the caller's data, a tensor index gives a fresh copy that
            # can be scaled in place in one pass (one allocation per batch, as in a plain loop).
            if isinstance(index, slice):
                if out is not None:
                    # A buffer reused batch after batch stays in cache: a fresh 2 MB tensor
                    # per batch costs as much as the scaling itself (predict ~7 % slower).
                    return torch.addcmul(self.offset, x, self.scale, out=out[: len(x)])
                return torch.addcmul(self.offset, x, self.scale)
            return torch.addcmul(self.offset, x, self.scale, out=x)
        return torch.sub(x, self.offset).div_(self.scale).to(torch.float32)

    def scaling_buffer(self, rows: int):
        """A float32 (rows, n_numeric) buffer for ``numeric(slice, out=...)``, or None where
        ``numeric`` makes no new tensor to save (no scaling) or casts anyway (float64 input)."""
        if self.offset is None or self.x_num.dtype != torch.float32:
            return None
        return torch.empty((rows, self.x_num.shape[1]), dtype=torch.float32,
                           device=self.x_num.device)

    def row_major(self) -> MultiTaskDataset:
        """This dataset with its feature blocks stored row by row, for reading rows at random.

        Training reads rows in random order, and a row of a column-major block (what pandas hands
        over for a frame of float columns) spans one cache line per column: a batch of 4,096 rows
        out of 1 M rows of 8 float64 columns gathers in 1.3 ms column-major against ~0.1 ms row by
        row, about 9 % of an MMoE epoch. A column-major numeric block is standardized once, in
        blocks of rows, into a row-major float32 copy (4 bytes a value, and nothing left to scale
        per batch); its batches are the numbers :meth:`numeric` gives. A :meth:`subset` is
        row-major already.
        """
        if self.x_num.is_contiguous() and self.x_cat.is_contiguous():
            return self
        out = copy.copy(self)
        out.x_cat = self.x_cat.contiguous()
        if not self.x_num.is_contiguous():
            n, step = self.x_num.shape[0], 65536
            block = torch.empty(self.x_num.shape, dtype=torch.float32, device=self.x_num.device)
            for start in range(0, n, step):
                block[start : start + step] = self.numeric(slice(start, start + step))
            out.x_num, out.offset, out.scale = block, None, None
        return out

    def take(self, index, out=None):
        X = {"x_num": self.numeric(index, out), "x_cat": rows_of(self.x_cat, index)}
        if self.y is None:
            return X, None
        y = {"y": rows_of(self.y, index)}
        if self.w is not None:
            y["w"] = rows_of(self.w, index)
        return X, y

    def __getitem__(self, i):
        return self.take(i)

    def unscaled(self) -> MultiTaskDataset:
        """The same rows without the standardization: ``numeric`` gives the raw inputs as
        float32 (for a module whose first layers have it folded in)."""
        out = copy.copy(self)
        out.offset = out.scale = None
        return out

    def subset(self, index) -> MultiTaskDataset:
        """A new dataset holding the rows ``index`` (used for the validation split)."""
        index = torch.as_tensor(index, device=self.x_num.device)
        out = MultiTaskDataset.__new__(MultiTaskDataset)
        out.x_num, out.x_cat = rows_of(self.x_num, index), rows_of(self.x_cat, index)
        out.y = None if self.y is None else rows_of(self.y, index)
        out.w = None if self.w is None else rows_of(self.w, index)
        out.offset, out.scale = self.offset, self.scale
        return out


class TensorBatchLoader:
    """Iterate over a :class:`MultiTaskDataset` in whole-batch tensor slices.

    Takes the ``DataLoader`` arguments skorch passes (``batch_size``, ``shuffle``); ``seed``
    makes the shuffling order reproducible without touching the global RNG.
    ``reuse_buffer=True`` scales every unshuffled batch into one buffer, overwritten by the
    next batch: only for callers that keep nothing of a batch's inputs (prediction).
    """

    def __init__(self, dataset, batch_size: int = 1024, shuffle: bool = False, seed=None,
                 reuse_buffer: bool = False):
        if isinstance(dataset, Subset):
            dataset = dataset.dataset.subset(dataset.indices)
        self.dataset = dataset
        self.batch_size = batch_size
        self.shuffle = shuffle
        self.reuse_buffer = reuse_buffer
        self.generator = None
        if seed is not None:
            self.generator = torch.Generator()
            self.generator.manual_seed(int(seed))

    def __len__(self) -> int:
        return (len(self.dataset) + self.batch_size - 1) // self.batch_size

    def __iter__(self):
        n = len(self.dataset)
        if self.shuffle:
            order = torch.randperm(n, generator=self.generator)
            order = order.to(self.dataset.x_num.device)
            for start in range(0, n, self.batch_size):
                yield self.dataset.take(order[start : start + self.batch_size])
        else:
            buffer = None
            if self.reuse_buffer:
                buffer = self.dataset.scaling_buffer(min(self.batch_size, n))
            for start in range(0, n, self.batch_size):
                yield self.dataset.take(slice(start, start + self.batch_size), out=buffer)


class IdDropoutLoader(TensorBatchLoader):
    """:class:`TensorBatchLoader` that sends a share ``id_dropout`` of the categorical indices of
    every batch to the unknown index 0 (training batches only).

    Without it no training row reaches the unknown embedding when ``min_frequency=None``, so
    every user or item first seen at predict time (cold start) gets an untrained vector.
    """

    def __init__(self, dataset, batch_size: int = 1024, shuffle: bool = False, seed=None,
                 id_dropout: float = 0.0):
        super().__init__(dataset, batch_size=batch_size, shuffle=shuffle, seed=seed)
        self.id_dropout = id_dropout

    def __iter__(self):
        for X, y in super().__iter__():
            x_cat = X["x_cat"]
            if self.id_dropout and x_cat.numel():
                drop = torch.rand(x_cat.shape, generator=self.generator) < self.id_dropout
                X["x_cat"] = x_cat.masked_fill(drop.to(x_cat.device), 0)
            yield X, y


class MultiTaskNeuralNet(NeuralNet):
    """skorch ``NeuralNet`` whose loss takes label masks, sample weights and the soft-sharing term.

    ``sharing_strength`` scales the module's ``sharing_penalty()`` (soft sharing), added to the
    training loss only, so ``valid_loss`` stays comparable across strengths.
    ``gradient_method`` ("pcgrad", "cagrad" with ``cagrad_c``) combines the task gradients on
    the shared parameters (:mod:`sklearn_mtl.gradients`); ``surgery_seed`` seeds PCGrad's order.
    """

    def __init__(self, *args, sharing_strength: float = 0.0, gradient_method=None,
                 cagrad_c: float = 0.4, surgery_seed=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.sharing_strength = sharing_strength
        self.gradient_method = gradient_method
        self.cagrad_c = cagrad_c
        self.surgery_seed = surgery_seed

    def fit_loop(self, X, y=None, epochs=None, **fit_params):
        # Every fit and partial_fit runs through here once initialized. While it runs, the
        # loss skips its label masks when no row of the training or validation data lacks a
        # label and no row is weighted.
        datasets = [d for d in self.get_split_datasets(X, y, **fit_params) if d is not None]
        self.criterion_.complete_labels = all(
            isinstance(d, MultiTaskDataset) and d.y is not None and d.w is None
            and not bool(torch.isnan(d.y).any()) for d in datasets
        )
        try:
            return super().fit_loop(X, y, epochs=epochs, **fit_params)
        finally:  # outside this loop the loss may see any data
            self.criterion_.complete_labels = False

    def get_params_for_optimizer(self, prefix, named_parameters):
        args, kwargs = super().get_params_for_optimizer(prefix, named_parameters)
        # A net unpickled where its device has no fused Adam (torch < 2.4 on the CPU) steps
        # with the plain one: the same update.
        if kwargs.get("fused") and not has_fused_adam(self.device):
            kwargs.pop("fused")
        return args, kwargs

    def notify(self, method_name, **cb_kwargs):
        # skorch calls every hook of every callback; most are Callback's no-ops (three a batch
        # for each of the ~7 callbacks of a fit). Only the hooks a callback defines are called,
        # in skorch's order: the net's own first, then the callbacks'.
        getattr(self, method_name)(self, **cb_kwargs)
        for hook in self._callback_hooks(method_name):
            hook(self, **cb_kwargs)

    def _callback_hooks(self, method_name) -> list:
        callbacks = self.callbacks_
        table = self.__dict__.get("_hook_table_")
        if table is None or table[0] is not callbacks or table[1] != len(callbacks):
            table = (callbacks, len(callbacks), {})
            self._hook_table_ = table
        hooks = table[2].get(method_name)
        if hooks is None:
            hooks = table[2][method_name] = [
                getattr(cb, method_name) for _, cb in callbacks if _defines(cb, method_name)
            ]
        return hooks

    def __getstate__(self):
        state = super().__getstate__()
        state.pop("_hook_table_", None)  # bound methods of the callbacks, rebuilt on use
        return state

    def train_step(self, batch, **fit_params):
        # skorch hands every optimizer a closure (for LBFGS-like optimizers); Adam, the only
        # optimizer here, needs none, and the closure, its grad-mode context and the step
        # accumulator are per-batch work for nothing. Same hooks, in skorch's order.
        if not isinstance(self.optimizer_, torch.optim.Adam):  # e.g. LBFGS set by hand
            step = super().train_step(batch, **fit_params)
        else:
            self._zero_grad_optimizer()
            step = self.train_step_single(batch, **fit_params)
            self.notify("on_grad_computed",
                        named_parameters=TeeGenerator(self.get_all_learnable_params()),
                        batch=batch, training=True)
            self._step_optimizer(None)
        note_training_step(self.module_)  # predict's folded copy is out of date
        return step

    def train_step_single(self, batch, **fit_params):
        if self.gradient_method is None and not self.criterion_.needs_task_gradients:
            return super().train_step_single(batch, **fit_params)
        # Same steps as skorch's, with the backward pass replaced by the per-task one.
        if not hasattr(self, "surgery_rng_"):
            self.surgery_rng_ = np.random.RandomState(self.surgery_seed)
        self._set_training(True)
        Xi, yi = unpack_data(batch)
        y_pred = self.infer(Xi, **fit_params)
        loss = balanced_backward(self, y_pred, yi, self.surgery_rng_)
        return {"loss": loss, "y_pred": y_pred}

    def _set_training(self, training=True):
        # skorch sets the mode on every batch; walking MMoE's module tree each time costs
        # ~2 % of a census epoch, so only walk it when the mode changes.
        if self.module_.training != training or self.criterion_.training != training:
            super()._set_training(training)

    def get_loss(self, y_pred, y_true, X=None, training=False):
        loss = self.criterion_(y_pred, y_true["y"], y_true.get("w"))
        if training and self.sharing_strength:
            penalty = self.module_.sharing_penalty()
            if penalty is not None:
                loss = loss + self.sharing_strength * penalty
        if training:
            loss = add_training_penalty(self.module_, loss, y_true)
        return loss


def has_fused_adam(device) -> bool:
    """Whether this torch has Adam's fused kernel on ``device`` (the CPU's since torch 2.4)."""
    return _has_fused_adam(torch.device(device).type)


@functools.cache
def _has_fused_adam(device_type: str) -> bool:
    try:
        torch.optim.Adam([torch.zeros(1, device=device_type, requires_grad=True)], fused=True)
    except (RuntimeError, TypeError, ValueError):
        return False
    return True


def _defines(callback, method_name: str) -> bool:
    """Whether ``callback`` has its own ``method_name`` hook, not ``Callback``'s no-op."""
    if method_name in vars(callback):
        return True
    own = getattr(type(callback), method_name, None)
    return own is not None and own is not getattr(Callback, method_name, None)


class TaskScoring(Callback):
    """Record each task's validation score after every epoch in the history.

    Scores on the internal validation split with the "auto" metric of each task kind (ROC AUC,
    accuracy, R²) as ``valid_score_<task>`` and their mean as ``valid_score``, so that per-task
    learning curves can be plotted and a pruner (e.g. optuna-integration's
    ``SkorchPruningCallback(trial, monitor="valid_score")``) can watch them.
    """

    def __init__(self, kinds, names, n_outputs):
        self.kinds = kinds
        self.names = names
        self.n_outputs = n_outputs

    def on_epoch_begin(self, net, **kwargs):
        self._outputs, self._targets = [], []

    def on_batch_end(self, net, batch=None, training=None, y_pred=None, **kwargs):
        # The validation pass already computed the outputs: keep them instead of a second forward.
        if not training and y_pred is not None:
            self._outputs.append(y_pred.detach())
            self._targets.append(batch[1]["y"])

    def on_epoch_end(self, net, **kwargs):
        if not getattr(self, "_outputs", None):
            return
        out = as_numpy(torch.cat(self._outputs))
        y = as_numpy(torch.cat(self._targets))
        self._outputs, self._targets = [], []
        bounds = np.cumsum([0, *self.n_outputs])
        scores = []
        for t, (kind, name) in enumerate(zip(self.kinds, self.names)):
            mask = ~np.isnan(y[:, t])
            target, pred = y[mask, t], out[mask, bounds[t] : bounds[t + 1]]
            if kind == "binary":
                score = roc_auc_score(target, pred[:, 0]) if len(np.unique(target)) == 2 else np.nan
            elif kind == "multiclass":
                score = accuracy_score(target, pred.argmax(axis=1)) if mask.any() else np.nan
            else:
                score = r2_score(target, pred[:, 0]) if mask.sum() > 1 else np.nan
            net.history.record(f"valid_score_{name}", float(score))
            scores.append(score)
        mean = np.nan if np.all(np.isnan(scores)) else float(np.nanmean(scores))
        net.history.record("valid_score", mean)


def add_training_penalty(module, loss, y_true):
    """``loss`` plus the module's ``training_penalty`` of the batch it has just trained on
    (a cascade's counterfactual risk, AITM's calibrator), where it has one."""
    penalty_of = getattr(module, "training_penalty", None)
    penalty = None if penalty_of is None else penalty_of(y_true["y"], y_true.get("w"))
    return loss if penalty is None else loss + penalty


def as_numpy(t: torch.Tensor) -> np.ndarray:
    return t.detach().cpu().numpy()


class NonFiniteLossCheck(Callback):
    """Stop training with a clear error as soon as a training batch's loss is not finite.

    A learning rate that is far too large makes the loss overflow to inf, then NaN; every
    weight is NaN from then on and the net would predict NaN (regression) or class 0 for every
    row without a word. The check runs on every training batch, before the validation pass
    and early stopping, so the user sees the epoch and what to change.
    """

    def on_batch_end(self, net, batch=None, training=None, loss=None, **kwargs):
        if not training or loss is None:
            return
        # skorch has just recorded the batch's loss as a Python float: reading it back costs
        # no tensor op and no device synchronization of its own.
        value = net.history[-1]["batches"][-1].get("train_loss")
        if value is None:
            value = loss.item()
        if math.isfinite(value):
            return
        epoch = len(net.history)
        raise ValueError(
            f"Training diverged: the training loss became {value} in epoch {epoch}. "
            f"lr={net.lr!r} is probably too large: lower it (the default is 1e-3; try "
            f"lr={min(net.lr / 10, 1e-3):g}), or scale the features and check the targets for "
            "extreme values."
        )
