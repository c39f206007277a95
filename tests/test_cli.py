"""The sklearn-mtl command as a user runs it: help, bad arguments, missing data, datasets."""

from __future__ import annotations

import subprocess
import sys

import pytest

from sklearn_mtl.cli import main


def run(*args, env=None):
    return subprocess.run([sys.executable, "-m", "sklearn_mtl", *args], capture_output=True, text=True,
                          env=env)


def test_help_of_the_command_and_each_subcommand():
    out = run("--help")
    assert out.returncode == 0 and "negative transfer" in out.stdout
    for sub in ("compare", "tune", "datasets"):
        out = run(sub, "--help")
        assert out.returncode == 0, out.stderr
        assert f"usage: sklearn-mtl {sub}" in out.stdout


def test_bad_arguments_print_usage_and_exit_2():
    out = run("compare", "--models", "hard,deep")
    assert out.returncode == 2
    assert "usage: sklearn-mtl compare" in out.stderr and "unknown model(s) ['deep']" in out.stderr
    out = run("compare", "--cv", "0")
    assert out.returncode == 2 and "0 must be >= 1" in out.stderr
    assert run("frobnicate").returncode == 2


def test_missing_data_names_the_path_and_exits_1(tmp_path, capsys):
    code = main(["compare", "--data", "census", "--data-home", str(tmp_path)])
    err = capsys.readouterr().err
    assert code == 1
    assert str(tmp_path / "census-income-kdd" / "census-income.test.gz") in err
    assert "--download" in err


def test_csv_without_targets_is_a_usage_error(tmp_path, capsys):
    path = tmp_path / "data.csv"
    path.write_text("a,b\n1,2\n")
    assert main(["compare", "--data", str(path)]) == 2
    assert "--targets is required" in capsys.readouterr().err


def test_datasets_lists_where_each_fetcher_looks(data_home, capsys, monkeypatch):
    monkeypatch.setenv("SKLEARN_MTL_DATA", str(data_home))
    assert main(["datasets"]) == 0
    out = capsys.readouterr().out
    assert "fetch_census_income (test)" in out and "fetch_movielens_100k" in out
    assert "found" in out


@pytest.mark.parametrize("argv", [["compare", "--data", "nope.csv", "--targets", "y"]])
def test_unknown_data_file(argv, capsys):
    assert main(argv) == 1
    assert "no such file" in capsys.readouterr().err
