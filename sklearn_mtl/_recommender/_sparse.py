"""A scipy sparse numeric block that the net's dataset reads batch by batch.

A TF-IDF column of review text is tens of thousands of columns that are almost all zero:
densified whole, 23,486 reviews by 20,000 terms are 1.9 GB of float32. :class:`SparseRows`
keeps the CSR matrix and stands in for the dataset's ``x_num`` tensor: row selection
(``index_select``, slices) gives sparse rows again, and any torch operation on them (the
batch's standardization) receives them densified, so only one batch is ever dense.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
import torch

_FLOAT_DTYPES = {np.dtype(np.float32): torch.float32, np.dtype(np.float64): torch.float64}


class SparseRows:
    """CSR rows of a numeric block on ``device``; densified one selection at a time.

    Examples
    --------
    >>> import scipy.sparse as sp, torch
    >>> rows = SparseRows(sp.random(5, 3, density=0.5, random_state=0, format="csr"))
    >>> batch = rows.index_select(0, torch.tensor([4, 0]))
    >>> tuple(batch.shape), tuple(torch.mul(batch, 2.0).shape)
    ((2, 3), (2, 3))
    """

    def __init__(self, matrix, device="cpu"):
        matrix = sp.csr_matrix(matrix)
        if matrix.dtype not in _FLOAT_DTYPES:
            matrix = matrix.astype(np.float64)
        self.matrix = matrix
        self.device = torch.device(device)

    @property
    def shape(self) -> torch.Size:
        return torch.Size(self.matrix.shape)

    @property
    def dtype(self) -> torch.dtype:
        return _FLOAT_DTYPES[self.matrix.dtype]

    def __len__(self) -> int:
        return self.matrix.shape[0]

    def is_floating_point(self) -> bool:
        return True

    def is_contiguous(self) -> bool:
        return True  # CSR rows are read row by row already

    def contiguous(self) -> SparseRows:
        return self

    def dense(self) -> torch.Tensor:
        """These rows as a dense tensor on ``device``."""
        return torch.from_numpy(self.matrix.toarray()).to(self.device)

    def _rows(self, index) -> SparseRows:
        if isinstance(index, torch.Tensor):
            index = index.detach().cpu().numpy()
        return SparseRows(self.matrix[index], self.device)

    def index_select(self, dim: int, index) -> SparseRows:
        if dim != 0:
            raise ValueError("SparseRows selects rows only (dim=0).")
        return self._rows(index)

    def __getitem__(self, index) -> SparseRows:
        return self._rows(index)

    def to(self, *args, **kwargs):
        """A device alone moves the rows (still sparse); a dtype gives a dense tensor."""
        target = args[0] if args else kwargs.get("device", kwargs.get("dtype"))
        if isinstance(target, (str, torch.device)) and not kwargs.get("dtype"):
            return SparseRows(self.matrix, target)
        return self.dense().to(*args, **kwargs)

    @classmethod
    def __torch_function__(cls, func, types, args=(), kwargs=None):
        kwargs = dict(kwargs or {})
        if isinstance(kwargs.get("out"), SparseRows):
            kwargs.pop("out")  # the dense result is a new tensor: nothing sparse to write into
        return func(*[a.dense() if isinstance(a, SparseRows) else a for a in args], **kwargs)
