"""A short digest of the data a model is fitted on: what a comparison's storage keys its fits by
and what ``sklearn-mtl tune`` writes beside its parameters (a leaf module)."""

from __future__ import annotations

import hashlib

import numpy as np
import pandas as pd
import scipy.sparse as sp


def fingerprint(*parts) -> str:
    """A short digest of arrays, sparse matrices and DataFrames: values and dtypes (an int64
    column and the same numbers as a category are different data to a model), not the index."""
    digest = hashlib.sha256()
    for part in parts:
        if sp.issparse(part):
            part = part.tocsr()
            digest.update(str(part.dtype).encode())
            for array in (part.data, part.indices, part.indptr):
                digest.update(np.ascontiguousarray(array).tobytes())
            continue
        frame = part if isinstance(part, pd.DataFrame) else pd.DataFrame(np.asarray(part))
        digest.update(str(list(frame.columns)).encode())
        digest.update(str([str(t) for t in frame.dtypes]).encode())
        digest.update(pd.util.hash_pandas_object(frame, index=False).to_numpy().tobytes())
    return digest.hexdigest()[:16]
