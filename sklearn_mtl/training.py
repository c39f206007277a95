"""The skorch side of ``MultiTaskRecommender``: dataset, whole-batch loader and the NeuralNet.

skorch's default ``DataLoader`` collates every batch sample by sample, which makes a fit on
census about 1.9x slower than a plain PyTorch loop. :class:`TensorBatchLoader` instead slices
whole batches out of tensors that already sit on the training device, which brings skorch back
to the speed of the plain loop (see ``benchmarks/bench_fit_speed.py``). Everything else (epochs,
callbacks, history, early stopping) is skorch's own loop.
"""

from __future__ import annotations

import numpy as np
import torch
from skorch import NeuralNet
from torch.utils.data import Dataset, Subset


class MultiTaskDataset(Dataset):
    """Encoded features, targets and sample weights as tensors.

    ``take(index)`` returns one batch ``(X, y)`` with ``X = {"x_num", "x_cat"}`` and
    ``y = {"y", "w"}`` (``y`` is None for prediction data).
    """

    def __init__(self, x_num, x_cat, y=None, sample_weight=None, device="cpu"):
        self.x_num = torch.as_tensor(x_num, dtype=torch.float32, device=device)
        self.x_cat = torch.as_tensor(x_cat, dtype=torch.long, device=device)
        self.y = None if y is None else torch.as_tensor(y, dtype=torch.float32, device=device)
        self.w = (
            None
            if sample_weight is None
            else torch.as_tensor(sample_weight, dtype=torch.float32, device=device)
        )

    def __len__(self) -> int:
        return self.x_num.shape[0]

    def take(self, index):
        X = {"x_num": self.x_num[index], "x_cat": self.x_cat[index]}
        if self.y is None:
            return X, None
        y = {"y": self.y[index]}
        if self.w is not None:
            y["w"] = self.w[index]
        return X, y

    def __getitem__(self, i):
        return self.take(i)

    def subset(self, index) -> MultiTaskDataset:
        """A new dataset holding the rows ``index`` (used for the validation split)."""
        index = torch.as_tensor(index, device=self.x_num.device)
        out = MultiTaskDataset.__new__(MultiTaskDataset)
        out.x_num, out.x_cat = self.x_num[index], self.x_cat[index]
        out.y = None if self.y is None else self.y[index]
        out.w = None if self.w is None else self.w[index]
        return out


class TensorBatchLoader:
    """Iterate over a :class:`MultiTaskDataset` in whole-batch tensor slices.

    Takes the ``DataLoader`` arguments skorch passes (``batch_size``, ``shuffle``); ``seed``
    makes the shuffling order reproducible without touching the global RNG.
    """

    def __init__(self, dataset, batch_size: int = 1024, shuffle: bool = False, seed=None):
        if isinstance(dataset, Subset):
            dataset = dataset.dataset.subset(dataset.indices)
        self.dataset = dataset
        self.batch_size = batch_size
        self.shuffle = shuffle
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
            for start in range(0, n, self.batch_size):
                yield self.dataset.take(slice(start, start + self.batch_size))


class MultiTaskNeuralNet(NeuralNet):
    """skorch ``NeuralNet`` whose loss takes label masks, sample weights and the soft-sharing term.

    ``sharing_strength`` scales the module's ``sharing_penalty()`` (soft sharing), added to the
    training loss only, so ``valid_loss`` stays comparable across strengths.
    """

    def __init__(self, *args, sharing_strength: float = 0.0, **kwargs):
        super().__init__(*args, **kwargs)
        self.sharing_strength = sharing_strength

    def get_loss(self, y_pred, y_true, X=None, training=False):
        loss = self.criterion_(y_pred, y_true["y"], y_true.get("w"))
        if training and self.sharing_strength:
            penalty = self.module_.sharing_penalty()
            if penalty is not None:
                loss = loss + self.sharing_strength * penalty
        return loss


def as_numpy(t: torch.Tensor) -> np.ndarray:
    return t.detach().cpu().numpy()
