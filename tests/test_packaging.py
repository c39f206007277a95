"""pyproject.toml as setuptools reads it at every install: no deprecation warning of the project's own."""

from __future__ import annotations

import warnings
from pathlib import Path

import pytest

import sklearn_mtl

ROOT = Path(__file__).resolve().parents[1]


def test_pyproject_is_read_without_a_warning():
    pytest.importorskip("setuptools", reason="setuptools reads pyproject.toml at install time")
    from setuptools.config.pyprojecttoml import apply_configuration
    from setuptools.dist import Distribution

    # The build backend prints each of these warnings at every step of an install (three times
    # for `pip install -e .`); a table-form license was one (SPDX strings since setuptools 77).
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        dist = apply_configuration(Distribution(), ROOT / "pyproject.toml")
    assert [f"{w.category.__name__}: {w.message}" for w in caught] == []
    assert dist.metadata.license_expression == "BSD-3-Clause"
    # one version string: the package's leaf module, which pyproject names
    assert dist.metadata.version == sklearn_mtl.__version__
