"""CSV files that spreadsheets open as data.

Task, model, column and parameter names come from the user's files and reach the CSVs that the
CLI and ``TransferReport.to_csv`` write. A spreadsheet runs a cell that starts with ``=``, ``+``,
``-`` or ``@`` (or a tab or carriage return before one) as a formula, so ``=HYPERLINK(...)`` as a
task name would become a live link in summary.csv. As OWASP's "CSV Injection" page recommends,
such text cells are written with a leading single quote, which spreadsheets read as "this is
text" and do not display. Numbers are numbers: a negative delta stays ``-0.01``.
"""

from __future__ import annotations

import os

import pandas as pd

_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def escape_cell(value):
    """``value`` with a leading ``'`` when it is text a spreadsheet would run as a formula."""
    if isinstance(value, str) and value.startswith(_FORMULA_START):
        return "'" + value
    return value


def _escape_index(index: pd.Index) -> pd.Index:
    if isinstance(index, pd.MultiIndex):
        return pd.MultiIndex.from_arrays(
            [_escape_index(index.get_level_values(i)) for i in range(index.nlevels)],
            names=[escape_cell(name) for name in index.names])
    if pd.api.types.is_numeric_dtype(index.dtype) or pd.api.types.is_bool_dtype(index.dtype):
        return index
    return index.map(escape_cell).rename(escape_cell(index.name))


def spreadsheet_safe(frame: pd.DataFrame) -> pd.DataFrame:
    """A copy of ``frame`` whose text cells, column names and index labels cannot run as formulas.

    Parameters
    ----------
    frame : DataFrame

    Returns
    -------
    DataFrame
        Text (``str`` in an object, ``str`` or category column, or a label) that starts with
        ``=``, ``+``, ``-``, ``@``, a tab or a carriage return gets a leading ``'``; everything
        else is unchanged.
    """
    out = frame.copy()
    for position in range(out.shape[1]):
        column = out.iloc[:, position]
        if not (pd.api.types.is_numeric_dtype(column.dtype)
                or pd.api.types.is_bool_dtype(column.dtype)):
            out.isetitem(position, column.map(escape_cell))
    out.columns = _escape_index(out.columns)
    out.index = _escape_index(out.index)
    return out


def write_csv(frame: pd.DataFrame, path: str | os.PathLike, **to_csv_kwargs) -> None:
    """``frame.to_csv(path, **to_csv_kwargs)`` with formula-like text escaped (see
    :func:`spreadsheet_safe`)."""
    spreadsheet_safe(frame).to_csv(path, **to_csv_kwargs)
