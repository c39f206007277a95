"""The (repeat, train, test) splits that a comparison's models and a study's trials are fitted on.

An int ``cv`` is a shuffled ``KFold`` redrawn in each repeat from seeds derived from
``random_state``; a float (or None, where a hold-out is allowed) a shuffled hold-out of that
fraction; a splitter gets ``y`` (the first complete task) when it needs labels and ``groups``
when it splits by them, as in scikit-learn's ``cross_validate``; every fold is checked to be row
positions of the data. ``compare_transfer`` and ``tune`` both draw their folds here.
"""

from __future__ import annotations

import copy
import numbers
import warnings
import zlib

import numpy as np
import pandas as pd
from sklearn.model_selection import KFold, check_cv, train_test_split

from ._routing import uses_groups


def derived_seed(seed: int, *index: int) -> int:
    """A seed for the step ``index`` (one or more ints) that depends only on ``seed`` and
    ``index`` (reproducible)."""
    return int(np.random.SeedSequence([int(seed), *map(int, index)]).generate_state(1)[0]
               % (2**31 - 1))


def name_key(name) -> int:
    """A stable int for a name (CRC-32 of its text): seeds derived per model by name stay the
    same whatever other models a run holds, and in every process."""
    return zlib.crc32(str(name).encode("utf-8"))


DEFAULT_REPEATS = 2
# tune()'s validation rows when cv=None.
HOLDOUT_FRACTION = 0.2


def cv_splits(cv, frame: pd.DataFrame, random_state, n_repeats: int | None = 1, groups=None, *,
              holdout: bool = False) -> list:
    """``[(repeat, train, test), ...]``: the folds of ``cv``, drawn ``n_repeats`` times.

    ``groups`` (one value per row, or None) reaches the splitter's ``split`` as in
    scikit-learn's ``cross_validate``: a group splitter groups the folds by it, others ignore it.
    With ``holdout=True`` a ``cv`` of None (a fifth) or a float in (0, 1) is one shuffled
    hold-out of that fraction of the rows (sorted train and test positions).
    """
    n = frame.shape[0]
    if isinstance(cv, bool):
        raise ValueError(f"cv={cv!r} is not valid: use an int >= 2 (KFold), a scikit-learn "
                         "splitter or a list of (train, test) index arrays.")
    if holdout and (cv is None or (isinstance(cv, numbers.Real)
                                   and not isinstance(cv, numbers.Integral))):
        fraction = HOLDOUT_FRACTION if cv is None else float(cv)
        if not 0 < fraction < 1:
            raise ValueError(f"cv={cv!r} is not valid: a hold-out fraction must be in (0, 1).")
        train, test = train_test_split(np.arange(n), test_size=fraction, random_state=random_state)
        return [(0, np.sort(train), np.sort(test))]
    if n_repeats is None:
        redrawn = isinstance(cv, numbers.Integral) or getattr(cv, "shuffle", False)
        n_repeats = DEFAULT_REPEATS if redrawn else 1
    if isinstance(cv, numbers.Integral):
        if not 2 <= cv <= n:
            raise ValueError(f"cv={cv} is not valid for {n} rows: it must be between 2 and {n}"
                             + (", or None or a fraction in (0, 1) for a hold-out." if holdout
                                else "."))
        # Repeat 0 keeps random_state itself, so n_repeats=1 draws the folds it always did.
        splitters = [KFold(int(cv), shuffle=True,
                           random_state=random_state if r == 0 or random_state is None
                           else derived_seed(random_state, r)) for r in range(n_repeats)]
    else:
        splitter = check_cv(cv)
        if uses_groups(splitter) and groups is None:
            raise ValueError(f"cv={cv!r} splits by groups: pass groups= (the user of each row, "
                             "or the name of its column in X).")
        shuffles = getattr(splitter, "shuffle", False)
        if n_repeats > 1 and not shuffles:
            warnings.warn(
                f"cv={cv!r} does not shuffle: its folds are the same in each of the {n_repeats} "
                "repeats and only the model seeds vary.", UserWarning, stacklevel=3)
        splitters = [splitter] * n_repeats
        seed = getattr(splitter, "random_state", None)
        if shuffles and isinstance(seed, numbers.Integral):
            splitters = [splitter] + [copy.copy(splitter) for _ in range(n_repeats - 1)]
            for r, s in enumerate(splitters[1:], 1):
                s.random_state = derived_seed(seed, r)

    def draw(y):
        out = []
        for r, s in enumerate(splitters):
            # RepeatedKFold and its kin draw their own repeats: each block of n_splits folds
            # is one repeat (the header's fold count and the pairing of repeats need it).
            inner = getattr(s, "cvargs", {}).get("n_splits") if hasattr(s, "n_repeats") else None
            per_call = int(s.n_repeats) if inner else 1
            for i, (train, test) in enumerate(s.split(np.zeros((n, 1)), y,
                                                      groups if uses_groups(s) else None)):
                out.append((r * per_call + (i // inner if inner else 0), train, test))
        return out

    try:
        splits = draw(None)
    except (TypeError, ValueError) as without_y:
        # A splitter that needs y (StratifiedKFold) gets the labels of the first task without
        # missing ones, and says which when that is not the first task.
        task, y = _stratification_labels(cv, frame)
        try:
            splits = draw(y)
        except (TypeError, ValueError) as exc:
            if str(exc) == str(without_y):
                raise  # not about y: the splitter's own complaint
            raise ValueError(
                f"cv={cv!r} could not split on the labels of task {task!r}: {exc} Put a "
                "classification task without missing labels first in Y, or pass the folds "
                "themselves (cv=list(splitter.split(X, y)))."
            ) from exc
    return _checked_folds(cv, splits, n)


def _stratification_labels(cv, frame: pd.DataFrame) -> tuple:
    """``(task, labels)`` for a splitter that needs ``y``: the first task without missing labels."""
    complete = [c for c in frame.columns if not frame[c].isna().any()]
    missing = ", ".join(f"{c!r} ({int(frame[c].isna().sum())})" for c in frame.columns
                        if c not in complete)
    if not complete:
        raise ValueError(
            f"cv={cv!r} needs labels to split on, but every task has missing labels "
            f"({missing}); use KFold (cv=int), or add a task without missing labels to Y."
        )
    task = complete[0]
    if task != frame.columns[0]:
        warnings.warn(
            f"cv={cv!r} splits on the labels of task {task!r}, the first task without missing "
            f"labels ({missing} missing); pass the folds yourself to split on another task.",
            UserWarning, stacklevel=4)
    return task, frame[task].to_numpy()


def _checked_folds(cv, splits: list, n: int) -> list:
    """The folds as integer index arrays within the rows, or a ValueError naming the bad fold."""
    checked = []
    for k, (r, train, test) in enumerate(splits):
        parts = []
        for role, index in (("train", train), ("test", test)):
            index = np.asarray(index)
            if index.dtype == bool and index.shape == (n,):
                index = np.flatnonzero(index)
            if index.ndim != 1 or (index.size and index.dtype.kind not in "iu"):
                raise ValueError(f"cv fold {k} has {role} indices of dtype {index.dtype} and shape "
                                 f"{index.shape}: each fold must be (train, test) row positions.")
            outside = index[(index < 0) | (index >= n)]
            if outside.size:
                raise ValueError(
                    f"cv fold {k} has {role} row index {int(outside[0])} outside [0, {n}): the "
                    f"folds must be positions of the {n} rows of X and Y."
                )
            parts.append(index.astype(np.intp))
        checked.append((r, *parts))
    return checked
