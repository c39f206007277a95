"""The sklearn-mtl command on recommender data: start time, schema, overrides, progress, --params."""

from __future__ import annotations

import json
import subprocess
import sys
import time

import pandas as pd
import pytest
from test_recsys_data import click_purchase_events

from sklearn_mtl.cli import main


def run(*args):
    return subprocess.run([sys.executable, "-m", "sklearn_mtl", *args], capture_output=True,
                          text=True)


def test_help_version_and_usage_errors_load_no_heavy_module():
    # The command imported torch and LightGBM before parsing: 13.5 s on a loaded machine.
    code = ("import sys; from sklearn_mtl.cli import build_parser\n"
            "try:\n    build_parser().parse_args(sys.argv[1:])\nexcept SystemExit:\n    pass\n"
            "heavy = [m for m in ('torch', 'lightgbm', 'pandas', 'skorch', 'optuna') "
            "if m in sys.modules]\nassert not heavy, heavy")
    for argv in (["--help"], ["--version"], ["compare", "--models", "deep"], ["tune", "--help"]):
        out = subprocess.run([sys.executable, "-c", code, *argv], capture_output=True, text=True)
        assert out.returncode == 0, out.stderr
    start = time.perf_counter()
    out = run("--version")
    assert out.returncode == 0 and out.stdout.startswith("sklearn-mtl 0.")
    assert time.perf_counter() - start < 2


def test_bad_overrides_are_usage_errors():
    out = run("compare", "--tasks", "rating=ordinal")
    assert out.returncode == 2
    assert "'rating=ordinal' is not name=kind with kind one of binary" in out.stderr
    out = run("compare", "--categorical", ",")
    assert out.returncode == 2 and "',' names no column" in out.stderr


@pytest.fixture
def events_csv(movielens, tmp_path):
    X, Y = click_purchase_events(movielens, n=600)
    frame = pd.concat([X, Y], axis=1)
    path = tmp_path / "events.csv"
    frame.to_csv(path, index=False)
    return path


def test_compare_prints_the_inferred_schema_and_takes_overrides(events_csv, tmp_path, capsys):
    argv = ["compare", "--data", str(events_csv), "--targets", "click,purchase", "--models", "hard",
            "--max-epochs", "2", "--cv", "2", "--out", str(tmp_path / "out")]
    assert main(argv) == 0
    captured = capsys.readouterr()
    events = pd.read_csv(events_csv)
    assert (f"embedded (2): user_id ({events['user_id'].nunique()} values), "
            f"item_id ({events['item_id'].nunique()} values)") in captured.out
    assert "numeric (1): age" in captured.out
    assert "tasks: click=binary, purchase=binary" in captured.out
    # hard + reference, 2 folds x 2 repeats
    assert "net fits: 100%" in captured.err and "8/8" in captured.err
    assert main([*argv, "--categorical", "item_id", "--tasks", "purchase=regression",
                 "--quiet"]) == 0
    captured = capsys.readouterr()
    assert "embedded (1): item_id (" in captured.out and "numeric (2): user_id, age" in captured.out
    assert "tasks: click=binary, purchase=regression" in captured.out
    assert "net fits" not in captured.err
    summary = pd.read_csv(tmp_path / "out" / "summary.csv")
    assert list(summary["metric"]) == ["roc_auc", "r2"]
    assert main([*argv, "--tasks", "clicks=binary"]) == 2
    assert "--tasks names ['clicks']" in capsys.readouterr().err


def test_tuned_parameters_reach_the_comparison(events_csv, tmp_path, capsys):
    tuned = tmp_path / "tuned"
    assert main(["tune", "--data", str(events_csv), "--targets", "click,purchase", "--model", "hard",
                 "--n-trials", "2", "--max-epochs", "2", "--out", str(tuned), "--quiet"]) == 0
    best = json.loads((tuned / "best_params.json").read_text())
    assert best["model"] == "hard"
    capsys.readouterr()
    assert main(["compare", "--data", str(events_csv), "--targets", "click,purchase",
                 "--models", "hard", "--params", str(tuned / "best_params.json"), "--max-epochs", "2",
                 "--cv", "2", "--out", str(tmp_path / "out")]) == 0
    out = capsys.readouterr().out
    assert "hard parameters from --params: {" in out and f"'lr': {best['params']['lr']!r}" in out
    assert main(["compare", "--data", str(events_csv), "--targets", "click,purchase", "--models",
                 "hard", "--params", f"mmoe={tuned / 'best_params.json'}"]) == 2
    assert "model 'mmoe' is not compared (--models hard)" in capsys.readouterr().err


def test_group_by_scores_binary_tasks_per_user(events_csv, tmp_path, capsys):
    argv = ["compare", "--data", str(events_csv), "--targets", "click,purchase", "--models", "lgbm,hard",
            "--max-epochs", "2", "--cv", "2", "--out", str(tmp_path / "out"), "--quiet"]
    assert main([*argv, "--group-by", "user_id"]) == 0
    assert "per-user AUC (gauc) over 'user_id'" in capsys.readouterr().out
    summary = pd.read_csv(tmp_path / "out" / "summary.csv")
    assert set(summary["metric"]) == {"gauc"}
    assert main([*argv, "--group-by", "user"]) == 2
    assert "--group-by 'user' is not a column of X" in capsys.readouterr().err
