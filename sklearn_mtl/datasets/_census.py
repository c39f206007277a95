"""UCI Census-Income (KDD): the two-task benchmark of the MMoE paper."""

from __future__ import annotations

import gzip
import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.utils import Bunch

from ._base import fetch_archive, frame_to_numpy, get_data_home, missing_data_message

CENSUS_INCOME_URL = "https://archive.ics.uci.edu/static/public/117/census+income+kdd.zip"
SUBDIR = "census-income-kdd"
SPLIT_FILES = {"train": "census-income.data.gz", "test": "census-income.test.gz"}
TASKS = ("income", "never_married")

# Order of UCI's census-income.names.
COLUMNS = [
    "age", "class of worker", "detailed industry recode", "detailed occupation recode",
    "education", "wage per hour", "enroll in edu inst last wk", "marital stat",
    "major industry code", "major occupation code", "race", "hispanic origin", "sex",
    "member of a labor union", "reason for unemployment", "full or part time employment stat",
    "capital gains", "capital losses", "dividends from stocks", "tax filer stat",
    "region of previous residence", "state of previous residence",
    "detailed household and family stat", "detailed household summary in household",
    "instance weight", "migration code-change in msa", "migration code-change in reg",
    "migration code-move within reg", "live in this house 1 year ago",
    "migration prev res in sunbelt", "num persons worked for employer",
    "family members under 18", "country of birth father", "country of birth mother",
    "country of birth self", "citizenship", "own business or self employed",
    "fill inc questionnaire for veteran's admin", "veterans benefits", "weeks worked in year",
    "year", "income",
]  # fmt: skip
NUMERIC = [
    "age", "wage per hour", "capital gains", "capital losses", "dividends from stocks",
    "num persons worked for employer", "weeks worked in year",
]  # fmt: skip
# Integer codes without an order or a scale.
CODED = [
    "detailed industry recode", "detailed occupation recode", "own business or self employed",
    "veterans benefits", "year",
]  # fmt: skip
WEIGHT = "instance weight"
_TEXT_COLUMNS = [c for c in COLUMNS if c not in NUMERIC and c not in CODED and c != WEIGHT]
LABEL_COLUMNS = ("income", "marital stat")
_INCOME_POSITIVE, _INCOME_NEGATIVE = "50000+.", "- 50000."
_NEVER_MARRIED = "Never married"


def fetch_census_income(
    data_home: str | os.PathLike | None = None,
    *,
    subset: str = "all",
    tasks: Sequence[str] = TASKS,
    download_if_missing: bool = True,
    as_frame: bool = True,
    return_X_y: bool = False,
    url: str | None = None,
) -> Bunch | tuple:
    """Load the UCI Census-Income (KDD) data set as a two-task problem.

    The 1994-95 US Current Population Survey extract of the UCI Machine Learning Repository
    (data set 117, licence CC BY 4.0), with the multi-task setup of Ma et al. (MMoE, KDD 2018):
    task ``"income"`` is income above 50K (positive rate about 6 %), task ``"never_married"``
    is marital status "Never married" (about 43 %). Both label columns, ``income`` and
    ``marital stat``, are removed from the features whichever tasks are requested.

    Files are read from ``<data_home>/census-income-kdd/``: ``census-income.data.gz`` (train,
    199,523 rows) and ``census-income.test.gz`` (test, 99,762 rows), gzip-compressed with no
    header. Missing files are downloaded from ``CENSUS_INCOME_URL`` when
    ``download_if_missing`` is True.

    Features keep UCI's column names (with spaces), in UCI order. The seven continuous
    columns (``age``, ``wage per hour``, ``capital gains``, ``capital losses``,
    ``dividends from stocks``, ``num persons worked for employer``, ``weeks worked in year``)
    are int64. Every other column is ``category``: text values stripped of whitespace, with
    UCI's ``?`` (unknown) as a missing value; the integer codes ``detailed industry recode``,
    ``detailed occupation recode``, ``own business or self employed``, ``veterans benefits``
    and ``year`` are categories of integers. ``instance weight`` (the survey weight) is not a
    feature; it is returned as ``sample_weight``.

    Parameters
    ----------
    data_home : str or path-like, default=None
        Data folder; None means ``SKLEARN_MTL_DATA`` or ``~/sklearn_mtl_data``
        (see :func:`get_data_home`).
    subset : {"all", "train", "test"}, default="all"
        Which split to load. ``"all"`` concatenates every split present (train first); it
        downloads only if no split is present. The splits used are in ``splits`` and DESCR.
    tasks : sequence of {"income", "never_married"}, default=("income", "never_married")
        Target columns, in this order; one or both.
    download_if_missing : bool, default=True
        Download missing files; when False a missing file raises OSError.
    as_frame : bool, default=True
        When False, ``data`` is a float64 array in which each category column holds its
        category codes (missing as NaN; the categories are in ``categories``), ``target`` an
        int64 array, ``sample_weight`` a float64 array and ``frame`` is None.
    return_X_y : bool, default=False
        Return ``(data, target)`` instead of the Bunch.
    url : str, default=None
        Where to download from; None means the module attribute ``CENSUS_INCOME_URL``.

    Returns
    -------
    bunch : sklearn.utils.Bunch
        ``data`` (n, 39) features; ``target`` (n, len(tasks)) 0/1 labels with columns ``tasks``;
        ``frame`` data and target side by side; ``feature_names``; ``target_names``;
        ``categorical_features`` names of the category columns; ``categories`` their
        categories; ``sample_weight`` the survey weights; ``splits`` tuple of the splits
        used; ``row_split`` the split of each row; ``DESCR``.
    (data, target) : tuple
        When ``return_X_y`` is True.

    Raises
    ------
    OSError
        When a needed file is missing and cannot be downloaded, or a download fails.

    Examples
    --------
    >>> from sklearn_mtl.datasets import fetch_census_income
    >>> census = fetch_census_income(subset="test", download_if_missing=False)  # doctest: +SKIP
    >>> census.data.shape, census.target.mean().round(3).tolist()  # doctest: +SKIP
    ((99762, 39), [0.062, 0.432])
    """
    if subset not in ("all", "train", "test"):
        raise ValueError(f"subset={subset!r} is not valid: use 'all', 'train' or 'test'.")
    tasks = _check_tasks(tasks)
    url = CENSUS_INCOME_URL if url is None else url
    folder = get_data_home(data_home) / SUBDIR
    paths = {split: folder / name for split, name in SPLIT_FILES.items()}

    if subset == "all":
        splits = [s for s in SPLIT_FILES if paths[s].is_file()] or list(SPLIT_FILES)
    else:
        splits = [subset]
    missing = [paths[s] for s in splits if not paths[s].is_file()]
    if missing:
        if not download_if_missing:
            raise OSError(missing_data_message(missing, url, "Census-Income (KDD) data"))
        fetch_archive(
            url,
            folder,
            {name: _verify_split_file for name in SPLIT_FILES.values()},
            required=[SPLIT_FILES[s] for s in splits],
        )

    parts = [_read_split(paths[s]) for s in splits]
    raw = _concat(parts)
    row_split = pd.Series(
        pd.Categorical(np.repeat(splits, [len(p) for p in parts]), categories=list(SPLIT_FILES)),
        name="split",
    )

    target = _make_target(raw, tasks)
    sample_weight = raw[WEIGHT].astype(np.float64).rename("sample_weight")
    data = raw.drop(columns=[WEIGHT, *LABEL_COLUMNS])
    for col in CODED:
        data[col] = data[col].astype("category")
    feature_names = list(data.columns)
    categorical = [c for c in feature_names if isinstance(data[c].dtype, pd.CategoricalDtype)]
    descr = _describe(splits, paths, len(data), target)

    if as_frame:
        frame = pd.concat([data, target], axis=1)
        categories = {c: data[c].cat.categories.tolist() for c in categorical}
    else:
        frame = None
        data, categories = frame_to_numpy(data)
        target = target.to_numpy()
        sample_weight = sample_weight.to_numpy()
        row_split = row_split.to_numpy(dtype=object)
    if return_X_y:
        return data, target
    return Bunch(
        data=data,
        target=target,
        frame=frame,
        feature_names=feature_names,
        target_names=list(tasks),
        categorical_features=categorical,
        categories=categories,
        sample_weight=sample_weight,
        splits=tuple(splits),
        row_split=row_split,
        DESCR=descr,
    )


def _check_tasks(tasks) -> tuple[str, ...]:
    if isinstance(tasks, str):
        tasks = (tasks,)
    try:
        tasks = tuple(tasks)
    except TypeError:
        raise ValueError(f"tasks={tasks!r} is not valid: use a subset of {TASKS}.") from None
    bad = [t for t in tasks if t not in TASKS]
    if not tasks or bad or len(set(tasks)) != len(tasks):
        raise ValueError(
            f"tasks={tasks!r} is not valid: give one or both of {TASKS}, each at most once."
        )
    return tasks


def _read_split(path: Path) -> pd.DataFrame:
    dtypes = {c: "category" for c in _TEXT_COLUMNS}
    dtypes.update({c: np.int64 for c in NUMERIC + CODED})
    dtypes[WEIGHT] = np.float64
    try:
        raw = pd.read_csv(
            path,
            header=None,
            names=COLUMNS,
            sep=",",
            skipinitialspace=True,
            dtype=dtypes,
            na_values=["?"],
            keep_default_na=False,
            compression="gzip",
            engine="c",
        )
    except (ValueError, EOFError, pd.errors.ParserError) as exc:
        raise OSError(f"{path} is not a readable Census-Income (KDD) file: {exc}") from exc
    for col in _TEXT_COLUMNS:
        raw[col] = _strip_categories(raw[col])
    return raw


def _strip_categories(series: pd.Series) -> pd.Series:
    # Stripping the few categories is much cheaper than stripping every row's string.
    stripped = series.cat.categories.str.strip()
    if stripped.is_unique:
        return series.cat.rename_categories(stripped)
    return series.astype(str).str.strip().where(series.notna()).astype("category")


def _concat(parts: list[pd.DataFrame]) -> pd.DataFrame:
    if len(parts) == 1:
        return parts[0]
    raw = pd.concat(parts, ignore_index=True)
    # concat turns categoricals with different categories into plain text; unite them instead.
    for col in _TEXT_COLUMNS:
        union = pd.api.types.union_categoricals([p[col] for p in parts], sort_categories=True)
        raw[col] = pd.Series(union, index=raw.index)
    return raw


def _make_target(raw: pd.DataFrame, tasks: tuple[str, ...]) -> pd.DataFrame:
    income = raw["income"].astype(object)
    unknown = set(income.dropna().unique()) - {_INCOME_POSITIVE, _INCOME_NEGATIVE}
    if unknown or income.isna().any():
        raise OSError(f"unexpected income labels {sorted(unknown)[:5]} (or missing ones)")
    columns = {
        "income": (income == _INCOME_POSITIVE).astype(np.int64),
        "never_married": (raw["marital stat"].astype(object) == _NEVER_MARRIED).astype(np.int64),
    }
    return pd.DataFrame({t: columns[t] for t in tasks})


def _verify_split_file(path: Path) -> None:
    # Reading to the end checks the gzip CRC, which catches truncation inside a tar member.
    n_lines = 0
    with gzip.open(path, "rt", encoding="ascii", errors="replace", newline="") as fh:
        for line in fh:
            if n_lines < 20:
                n_fields = len(line.rstrip("\r\n").split(","))
                if n_fields != len(COLUMNS):
                    raise ValueError(
                        f"line {n_lines + 1} has {n_fields} comma-separated values, "
                        f"expected {len(COLUMNS)}"
                    )
            n_lines += 1
    if n_lines == 0:
        raise ValueError("the file is empty")


def _describe(splits, paths, n_rows, target) -> str:
    used = ", ".join(f"{s} ({paths[s].name})" for s in splits)
    rates = ", ".join(f"{t} {target[t].mean():.1%}" for t in target.columns)
    absent = [s for s in SPLIT_FILES if s not in splits]
    note = f" Split(s) not used: {', '.join(absent)}." if absent else ""
    return (
        "Census-Income (KDD) data set\n"
        "============================\n\n"
        "1994-95 US Current Population Survey extract, UCI Machine Learning Repository data set "
        "117 (licence CC BY 4.0), in the two-task setup of Ma et al., 'Modeling Task "
        "Relationships in Multi-task Learning with Multi-gate Mixture-of-Experts', KDD 2018.\n\n"
        f"Splits used: {used}.{note} Folder: {paths[splits[0]].parent}.\n"
        f"Rows: {n_rows}. Features: 39 (income, marital stat and instance weight removed; the "
        "instance weight is in sample_weight).\n"
        f"Tasks and positive rates: {rates}.\n"
    )
