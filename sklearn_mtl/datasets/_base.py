"""Shared helpers of the dataset fetchers: where data lives, and a download that never leaves a
half-written file behind."""

from __future__ import annotations

import http.client
import io
import os
import shutil
import tarfile
import tempfile
import urllib.error
import urllib.request
import zipfile
import zlib
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import IO

import numpy as np
import pandas as pd

DATA_HOME_ENV = "SKLEARN_MTL_DATA"
DEFAULT_DATA_HOME = "~/sklearn_mtl_data"

_TIMEOUT_S = 60
_CHUNK = 1 << 20
# Members of nested archives are read into memory; the biggest archive the fetchers know (census,
# about 100 MB of text) fits comfortably, while this cap keeps a hostile archive from exhausting it.
_MAX_NESTED_BYTES = 1 << 30
_NESTED_SUFFIXES = (".zip", ".tar", ".tar.gz", ".tgz", ".tar.bz2", ".tar.xz")

# Failures of a download or an archive that are not OSError subclasses in the standard library;
# they are all re-raised as OSError so callers have one exception type to catch.
_ARCHIVE_ERRORS = (
    zipfile.BadZipFile,
    zipfile.LargeZipFile,
    tarfile.TarError,
    EOFError,
    zlib.error,
    ValueError,
    UnicodeDecodeError,
    http.client.HTTPException,
)


def get_data_home(data_home: str | os.PathLike | None = None) -> Path:
    """Return the folder where the fetchers look for (and download) data sets.

    Parameters
    ----------
    data_home : str or path-like, default=None
        The folder to use. When None, the environment variable ``SKLEARN_MTL_DATA`` is used if it
        is set and non-empty, else ``~/sklearn_mtl_data``. ``~`` is expanded and the result is
        made absolute. The folder is not created here; a fetcher creates it when it downloads.

    Returns
    -------
    data_home : pathlib.Path
        Absolute path of the data folder.

    Examples
    --------
    >>> from sklearn_mtl.datasets import get_data_home
    >>> str(get_data_home("/tmp/my_data"))
    '/tmp/my_data'
    """
    if data_home is None:
        data_home = os.environ.get(DATA_HOME_ENV) or DEFAULT_DATA_HOME
    return Path(os.path.expanduser(os.fspath(data_home))).resolve()


def missing_data_message(paths: Iterable[Path], url: str, what: str) -> str:
    listed = ", ".join(str(p) for p in paths)
    return (
        f"{what} not found: expected {listed}. Download it with download_if_missing=True "
        f"(from {url}), or put the files there yourself; the data folder is data_home= or the "
        f"environment variable {DATA_HOME_ENV} (default {DEFAULT_DATA_HOME})."
    )


def fetch_archive(
    url: str,
    target_dir: Path,
    verifiers: dict[str, Callable[[Path], None]],
    required: Iterable[str],
) -> list[Path]:
    """Download the archive at ``url`` and install the wanted members into ``target_dir``.

    ``verifiers`` maps each wanted file name to a function that raises (any exception) when a
    candidate file does not have the expected structure. Members are matched by base name at any
    depth, also inside nested zip / tar archives, so the layout of the archive does not matter.
    Every name in ``required`` must be found. Files already present in ``target_dir`` are left
    alone. Nothing is installed unless every found member verifies: candidates are written to
    hidden temporary files next to their destination and moved into place with ``os.replace``,
    so an interrupted or broken download never leaves a file under its final name.

    Raises OSError on any network, HTTP, archive or structure failure.
    """
    required = set(required)
    target_dir.mkdir(parents=True, exist_ok=True)
    wanted = {name for name in verifiers if not (target_dir / name).exists()}
    staged: dict[str, Path] = {}
    fd, archive_name = tempfile.mkstemp(prefix=".download-", suffix=".part", dir=target_dir)
    archive = Path(archive_name)
    try:
        with os.fdopen(fd, "wb") as out:
            _download(url, out)
        try:
            with archive.open("rb") as fh:
                for name, member in _walk_archive(fh, f"the file downloaded from {url}", wanted):
                    if name in staged:
                        continue
                    staged[name] = _stage(member, target_dir, name)
            absent = sorted((required & wanted) - set(staged))
            if absent:
                raise OSError(f"the archive downloaded from {url} does not contain {absent}")
            for name, path in staged.items():
                try:
                    verifiers[name](path)
                except Exception as exc:
                    raise OSError(
                        f"{name} from {url} does not have the expected structure: {exc}"
                    ) from exc
        except _ARCHIVE_ERRORS as exc:
            raise OSError(f"could not read the archive downloaded from {url}: {exc}") from exc
        installed = []
        for name, path in staged.items():
            os.replace(path, target_dir / name)
            installed.append(target_dir / name)
        staged.clear()
        return installed
    finally:
        archive.unlink(missing_ok=True)
        for path in staged.values():
            path.unlink(missing_ok=True)


def _download(url: str, out: IO[bytes]) -> None:
    try:
        with urllib.request.urlopen(url, timeout=_TIMEOUT_S) as response:
            expected = response.headers.get("Content-Length")
            received = 0
            while chunk := response.read(_CHUNK):
                out.write(chunk)
                received += len(chunk)
    except urllib.error.HTTPError as exc:
        raise OSError(f"download of {url} failed: HTTP {exc.code} {exc.reason}") from exc
    except (OSError, http.client.HTTPException) as exc:
        raise OSError(f"download of {url} failed: {exc!r}") from exc
    # A server that closes the connection early can end the stream without an error.
    if expected is not None and expected.isdigit() and received != int(expected):
        raise OSError(
            f"download of {url} is incomplete: received {received} of {expected} bytes"
        )


def _walk_archive(
    fh: IO[bytes], label: str, wanted: set[str], depth: int = 0
) -> Iterator[tuple[str, IO[bytes]]]:
    """Yield ``(name, file object)`` for wanted members, descending into nested archives."""
    if depth > 3:
        return
    if zipfile.is_zipfile(fh):
        fh.seek(0)
        with zipfile.ZipFile(fh) as zf:
            for info in zf.infolist():
                if info.is_dir():
                    continue
                name = _basename(info.filename)
                if name in wanted:
                    with zf.open(info) as member:
                        yield name, member
                elif _is_nested(name) and info.file_size <= _MAX_NESTED_BYTES:
                    with zf.open(info) as member:
                        yield from _walk_archive(
                            io.BytesIO(member.read()), f"member {name}", wanted, depth + 1
                        )
        return
    fh.seek(0)
    try:
        tf = tarfile.open(fileobj=fh, mode="r:*")
    except tarfile.ReadError as exc:
        raise OSError(f"{label} is neither a zip nor a tar archive") from exc
    with tf:
        for info in tf:
            if not info.isfile():
                continue
            name = _basename(info.name)
            if name in wanted:
                member = tf.extractfile(info)
                if member is not None:
                    yield name, member
            elif _is_nested(name) and info.size <= _MAX_NESTED_BYTES:
                member = tf.extractfile(info)
                if member is not None:
                    yield from _walk_archive(
                        io.BytesIO(member.read()), f"member {name}", wanted, depth + 1
                    )


def _basename(member_name: str) -> str:
    return member_name.replace("\\", "/").rsplit("/", 1)[-1]


def _is_nested(name: str) -> bool:
    return name.lower().endswith(_NESTED_SUFFIXES)


def _stage(member: IO[bytes], target_dir: Path, name: str) -> Path:
    fd, tmp = tempfile.mkstemp(prefix=f".{name}.", suffix=".part", dir=target_dir)
    try:
        with os.fdopen(fd, "wb") as out:
            shutil.copyfileobj(member, out, _CHUNK)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return Path(tmp)


def frame_to_numpy(data: pd.DataFrame) -> tuple[np.ndarray, dict[str, list]]:
    """Float array of ``data`` with category columns replaced by their codes (missing -> NaN).

    Returns the array and, for each category column, its categories in code order.
    """
    out = np.empty(data.shape, dtype=np.float64)
    categories = {}
    for j, col in enumerate(data.columns):
        series = data[col]
        if isinstance(series.dtype, pd.CategoricalDtype):
            codes = series.cat.codes.to_numpy().astype(np.float64)
            codes[codes < 0] = np.nan
            out[:, j] = codes
            categories[col] = series.cat.categories.tolist()
        else:
            out[:, j] = series.to_numpy(dtype=np.float64, na_value=np.nan)
    return out, categories
