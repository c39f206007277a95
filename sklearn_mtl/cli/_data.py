"""Loading ``--data`` (generator, fetchers or a CSV file) and checking the files the commands write."""

from __future__ import annotations

import os
from pathlib import Path

BUILTIN_DATA = ("census", "movielens", "clothing")


def _load(args):
    """(X, Y, tasks) for --data; OSError when files are missing."""
    import numpy as np

    from ..datasets import (
        fetch_census_income,
        fetch_movielens_100k,
        fetch_womens_clothing_reviews,
        make_multitask_data,
    )

    if args.data == "census":
        X, Y = fetch_census_income(args.data_home, download_if_missing=args.download, return_X_y=True)
        tasks = "auto"
    elif args.data == "movielens":
        X, Y = fetch_movielens_100k(args.data_home, download_if_missing=args.download, return_X_y=True)
        tasks = ["binary", "regression"]
    elif args.data == "clothing":
        X, Y = fetch_womens_clothing_reviews(args.data_home, download_if_missing=args.download,
                                             return_X_y=True)
        # The commands feed X to the estimators as it is, with no vectorizer: each review would
        # become an embedded id of its own. The text is left to a Pipeline (docs/datasets.md).
        X = X.drop(columns=["title", "review_text"])
        tasks = "auto"
    elif args.data == "synthetic":
        X, Y = make_multitask_data(n_samples=4000, n_features=20, task_correlation=0.5,
                                   random_state=args.seed)
        tasks = "auto"
    else:
        path = Path(args.data)
        if path.is_dir():
            raise OSError(
                f"--data {args.data!r} is a directory ({path.resolve()}); give the path of one CSV "
                "file (with --targets), or synthetic, census, movielens or clothing (their files "
                "are read from --data-home)"
            )
        if not path.is_file():
            raise OSError(
                f"--data {args.data!r}: no such file {path.resolve()}; give synthetic, census, "
                "movielens, clothing or the path of a CSV file with --targets"
            )
        if not args.targets:
            raise ValueError("--targets is required with a CSV file: the comma-separated target columns")
        frame = _read_csv(path)
        targets = [t.strip() for t in args.targets.split(",")]
        missing = [t for t in targets if t not in frame.columns]
        if missing:
            raise ValueError(f"--targets {missing} are not columns of {path} ({list(frame.columns)})")
        X, Y = frame.drop(columns=targets), frame[targets]
        tasks = "auto"
    if args.n_rows and args.n_rows < len(X):
        idx = np.random.default_rng(args.seed).choice(len(X), size=args.n_rows, replace=False)
        X = X.iloc[idx] if hasattr(X, "iloc") else X[idx]
        Y = Y.iloc[idx] if hasattr(Y, "iloc") else Y[idx]
    return X, Y, _override_tasks(tasks, args.tasks, Y)


def _override_tasks(tasks, given: dict | None, Y):
    """``tasks`` with the kinds named by ``--tasks`` (a dict the estimators take as it is)."""
    if not given:
        return tasks
    names = list(Y.columns) if hasattr(Y, "columns") else [f"task_{i}" for i in range(Y.shape[1])]
    unknown = [n for n in given if n not in names]
    if unknown:
        raise ValueError(f"--tasks names {unknown}, which are not targets; the targets are {names}")
    base = [tasks] * len(names) if isinstance(tasks, str) else list(tasks)
    return {n: given.get(n, kind) for n, kind in zip(names, base)}


def _categorical(args):
    return "auto" if args.categorical is None else args.categorical


def _read_csv(path: Path):
    """The CSV file as a frame; ValueError naming the file for empty, header-only, ragged files."""
    import pandas as pd

    try:
        frame = pd.read_csv(path)
    except pd.errors.EmptyDataError:
        raise ValueError(f"--data {str(path)!r} is empty: a CSV file needs a header row and "
                         "data rows") from None
    except pd.errors.ParserError as exc:
        raise ValueError(f"--data {str(path)!r} is not a well-formed CSV file: some row has more "
                         f"fields than the header ({exc}); fix that row or quote its "
                         "commas") from None
    if len(frame) == 0:
        raise ValueError(f"--data {str(path)!r} has a header ({', '.join(map(str, frame.columns))})"
                         " but no data rows")
    return frame


def _check_out_folder(out: str) -> Path:
    """``--out`` as a folder that can be written; checked before any model is trained."""
    path = Path(out)
    if path.exists() and not path.is_dir():
        raise ValueError(f"--out {out!r} is an existing file, not a folder: give a folder name")
    existing = next((p for p in [path, *path.parents] if p.exists()), Path("."))
    if not os.access(existing, os.W_OK):
        raise ValueError(f"--out {out!r}: cannot create or write into {existing.resolve()} "
                         "(permission denied)")
    return path


def describe_schema(X, Y, tasks, categorical="auto") -> str:
    """What the nets will make of the data: embedded columns, numeric columns, task kinds.

    Examples
    --------
    >>> import pandas as pd
    >>> X = pd.DataFrame({"user_id": [1, 2, 3, 1], "price": [1.0, 2.5, 3.0, 4.0]})
    >>> Y = pd.DataFrame({"click": [0, 1, 0, 1], "rating": [1.5, 4.0, 3.5, 2.0]})
    >>> print(describe_schema(X, Y, {"click": "auto", "rating": "regression"}))
    inferred schema (the nets; --categorical and --tasks override):
      embedded (1): user_id (3 values)
      numeric (1): price
      tasks: click=binary, rating=regression
    """
    from ..features import FeatureEncoder, describe_columns
    from ..tasks import TargetEncoder

    features = describe_columns(FeatureEncoder(categorical).fit(X))
    targets = TargetEncoder(tasks).fit(Y)
    kinds = ", ".join(f"{n}={k}" for n, k in zip(targets.names_, targets.kinds_))
    lines = ["inferred schema (the nets; --categorical and --tasks override):",
             *("  " + line for line in features.splitlines()), f"  tasks: {kinds}"]
    return "\n".join(lines)
