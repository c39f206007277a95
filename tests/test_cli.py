"""The sklearn-mtl command (sklearn_mtl.cli) as a user runs it: help, version and start time, bad
arguments and files, missing data, datasets, compare and tune on the generator and on CSV files,
the inferred schema and its overrides, progress, --params, --group-by and the balancing switches."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time

import numpy as np
import pandas as pd
import pytest
from conftest import click_purchase_events, three_tasks

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
    for command in ("compare", "tune"):
        out = run(command, "--cv", "1")
        assert out.returncode == 2 and f"usage: sklearn-mtl {command}" in out.stderr
        assert "1 fold is not cross-validation: use at least 2" in out.stderr
    assert run("frobnicate").returncode == 2
    out = run("tune", "--pruner", "always")
    assert out.returncode == 2 and "usage: sklearn-mtl tune" in out.stderr
    assert "invalid choice: 'always'" in out.stderr
    out = run("tune", "--storage", "sqlite:///x.db")
    assert out.returncode == 2 and "--study-name is required with --storage" in out.stderr


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


def named_files(stdout: str, out) -> list[str]:
    """The files the last lines of ``compare`` name, after checking they name ``out``."""
    head, _, listing = stdout.rpartition("\nwrote ")
    count, _, rest = listing.partition(" files into ")
    folder, _, names = rest.partition(":\n")
    assert head and folder == str(out.resolve()), stdout[-500:]
    named = names.split()
    assert len(named) == int(count)
    return named


def test_compare_on_the_generator_writes_table_csv_and_png(tmp_path):
    results = tmp_path / "out"
    # A data folder without census: the generator's two settings run, the census one says why not.
    env = {**os.environ, "SKLEARN_MTL_DATA": str(tmp_path / "no-data")}
    out = run("compare", "--n-rows", "600", "--max-epochs", "3", "--cv", "2", "--models", "hard,lgbm",
              "--out", str(results), env=env)
    assert out.returncode == 0, out.stderr
    assert "correlation 0.9" in out.stdout and "correlation 0.0" in out.stdout
    assert out.stdout.count("Why lgbm trails here") == 2  # said where lgbm's R² is printed
    assert "== census: skipped, its files are not in the data folder" in out.stdout
    assert str(tmp_path / "no-data" / "census-income-kdd") in out.stdout
    # The last lines name every file written, and only those.
    assert sorted(named_files(out.stdout, results)) == sorted(
        p.name for p in results.iterdir())
    assert "verdict" in out.stdout and "\nIn short: can each model replace" in out.stdout
    assert "one-unit shared bottom:\n  hard" in out.stdout  # one sentence per model
    # The closing block repeats no sentence: one decision per model, no intervals.
    short = out.stdout.split("\nIn short: ")[1].split("\nwrote ")[0].splitlines()[1:]
    decided = [line for line in short if line.startswith("  ")]
    assert decided and all(re.match(r"  (hard|lgbm): (can ship|cannot ship|undecided)", line)
                           and "[" not in line for line in decided)
    for stem in ("related_", "unrelated_"):
        summary = pd.read_csv(results / f"{stem}summary.csv")
        assert set(summary["model"]) == {"hard", "lgbm"}
        assert set(summary["verdict"]) <= {"worse", "better", "equivalent", "inconclusive"}
        assert list(pd.read_csv(results / f"{stem}overall.csv")["model"]) == ["hard", "lgbm"]
        assert (results / f"{stem}scores.csv").exists()
        assert (results / f"{stem}negative_transfer.png").stat().st_size > 5000
        assert "task_correlation=" in (results / f"{stem}report.html").read_text("utf-8")


@pytest.mark.slow
def test_compare_with_no_data_ends_on_census_where_lgbm_is_at_home(data_home, tmp_path):
    env = {**os.environ, "SKLEARN_MTL_DATA": str(data_home)}
    out = run("compare", "--n-rows", "400", "--max-epochs", "2", "--cv", "2", "--repeats", "1",
              "--models", "hard,lgbm", "--out", str(tmp_path), env=env)
    assert out.returncode == 0, out.stderr
    census = out.stdout.split("== census income (KDD)")[1]
    assert "400 rows" in census and "tasks: income=binary, never_married=binary" in census
    assert "Why lgbm trails" not in census
    assert "census income (KDD): income > 50K and never married:\n  hard" in out.stdout
    named = named_files(out.stdout, tmp_path)
    assert [n for n in named if n.startswith("census_")] == [
        "census_summary.csv", "census_overall.csv", "census_scores.csv",
        "census_negative_transfer.png", "census_report.html"]
    assert sorted(named) == sorted(p.name for p in tmp_path.iterdir())
    assert set(pd.read_csv(tmp_path / "census_summary.csv")["task"]) == {"income", "never_married"}
    page = (tmp_path / "census_report.html").read_text("utf-8")
    assert "fetch_census_income" in page and "400 rows drawn at random with seed 0" in page


def test_compare_on_a_csv_file(tmp_path, capsys):
    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"x1": rng.normal(size=400), "x2": rng.normal(size=400),
                          "city": rng.choice(["a", "b"], size=400)})
    frame["click"] = (frame["x1"] > 0).astype(int)
    frame["dwell"] = 3 * frame["x2"] + rng.normal(size=400)
    path = tmp_path / "events.csv"
    frame.to_csv(path, index=False)
    code = main(["compare", "--data", str(path), "--targets", "click,dwell", "--models", "hard",
                 "--max-epochs", "3", "--cv", "2", "--out", str(tmp_path / "out")])
    assert code == 0
    summary = pd.read_csv(tmp_path / "out" / "summary.csv")
    assert list(summary["task"]) == ["click", "dwell"]
    stdout = capsys.readouterr().out
    assert named_files(stdout, tmp_path / "out") == [
        "summary.csv", "overall.csv", "scores.csv", "negative_transfer.png", "report.html"]
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == sorted(
        named_files(stdout, tmp_path / "out"))
    page = (tmp_path / "out" / "report.html").read_text(encoding="utf-8")
    assert f"<th>data</th><td>{path.resolve()} (targets click,dwell)</td>" in page
    assert "<th>rows</th><td>400 rows, 3 feature columns</td>" in page
    assert "<th>hard</th><td>MultiTaskRecommender(architecture=&#x27;hard&#x27;" in page
    assert "<th>reference</th><td>MultiTaskRecommender(architecture=&#x27;single&#x27;" in page


@pytest.mark.slow
def test_tune_on_a_csv_file_writes_trials_and_resumes_from_its_storage(tmp_path, capsys):
    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"x1": rng.normal(size=500), "x2": rng.normal(size=500),
                          "city": rng.choice(["a", "b"], size=500)})
    frame["click"] = (frame["x1"] + rng.normal(size=500) > 0).astype(int)
    frame["like"] = (frame["x2"] + rng.normal(size=500) > 0).astype(int)
    path = tmp_path / "events.csv"
    frame.to_csv(path, index=False)
    argv = ["tune", "--data", str(path), "--targets", "click,like", "--model", "lgbm",
            "--n-trials", "3", "--storage", f"sqlite:///{tmp_path / 'tune.db'}",
            "--study-name", "events", "--out", str(tmp_path / "out")]
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert out.count("[tune] trial") == 3 and "best parameters: {" in out
    assert main(argv) == 0  # the same command again continues the study
    trials = pd.read_csv(tmp_path / "out" / "trials.csv")
    assert list(trials["number"]) == [0, 1, 2, 3, 4, 5]
    best = json.loads((tmp_path / "out" / "best_params.json").read_text())
    assert {"num_leaves", "learning_rate"} <= set(best["params"])
    assert set(best["scores"]) == {"click", "like"}


def test_tune_per_task_writes_the_pareto_front(tmp_path, capsys):
    code = main(["tune", "--n-rows", "600", "--max-epochs", "3", "--model", "hard", "--n-trials", "3",
                 "--objectives", "per_task", "--out", str(tmp_path), "--quiet"])
    assert code == 0
    out = capsys.readouterr().out
    assert "Pareto front (" in out and "[tune] trial" not in out
    front = pd.read_csv(tmp_path / "pareto_front.csv")
    assert {"number", "task_0", "task_1"} <= set(front.columns) and len(front) >= 1


# ---------------------------------------------------------------- bad files and settings
@pytest.mark.parametrize("content, message", [
    ("", r"--data '.*empty.csv' is empty: a CSV file needs a header row and data rows"),
    ("a,b,y\n", r"--data '.*empty.csv' has a header \(a, b, y\) but no data rows"),
    ("a,b,y\n1,2,0\n3,4,1,9\n", r"--data '.*empty.csv' is not a well-formed CSV file: some row has "
                                r"more fields than the header"),
])
def test_bad_csv_files_name_the_file_and_the_problem(tmp_path, capsys, content, message):
    path = tmp_path / "empty.csv"
    path.write_text(content)
    assert main(["compare", "--data", str(path), "--targets", "y", "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert re.search(message, err), err
    assert "--cv" not in err.split("error:")[-1] and "--download" not in err


def test_typo_in_data_gets_no_download_hint(capsys):
    assert main(["compare", "--data", "censsus", "--targets", "y"]) == 1
    err = capsys.readouterr().err
    assert "no such file" in err and "--download" not in err


def test_bad_storage_fails_before_loading_data(tmp_path, capsys):
    argv = ["tune", "--n-rows", "100", "--study-name", "s", "--out", str(tmp_path)]
    assert main([*argv, "--storage", "not-a-url"]) == 2
    assert "storage='not-a-url' is not a database URL: use e.g. 'sqlite:///tune.db'" in (
        capsys.readouterr().err)
    assert main([*argv, "--storage", f"sqlite:///{tmp_path}/missing/dir/tune.db"]) == 2
    assert "the folder" in capsys.readouterr().err
    assert main([*argv, "--storage", "foo://x"]) == 2
    assert "storage='foo://x': 'foo' is not a database SQLAlchemy knows" in capsys.readouterr().err


def test_unwritable_sqlite_storage_fails_before_loading_data(tmp_path, capsys):
    argv = ["tune", "--n-rows", "100", "--study-name", "s", "--out", str(tmp_path)]
    locked = tmp_path / "locked"
    locked.mkdir(mode=0o500)
    if os.access(locked, os.W_OK):  # root writes anywhere: nothing to refuse
        pytest.skip("running as root")
    assert main([*argv, "--storage", f"sqlite:///{locked}/tune.db"]) == 2
    assert "cannot be written here (permission denied)" in capsys.readouterr().err


def test_tune_out_that_is_a_file_fails_before_the_study(tmp_path, capsys):
    out = tmp_path / "results.txt"
    out.write_text("keep me")
    start = time.perf_counter()
    assert main(["tune", "--n-rows", "200", "--n-trials", "50", "--out", str(out)]) == 2
    assert time.perf_counter() - start < 5  # refused before any trial ran
    err = capsys.readouterr().err
    assert "is an existing file, not a folder" in err and "--download" not in err
    assert out.read_text() == "keep me"


def test_free_text_target_in_a_csv_is_refused_with_how_to_declare_it(tmp_path, capsys):
    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"x": rng.normal(size=300),
                          "review": [f"text number {i}" for i in range(300)]})
    path = tmp_path / "reviews.csv"
    frame.to_csv(path, index=False)
    assert main(["compare", "--data", str(path), "--targets", "review", "--models", "hard",
                 "--cv", "2", "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert "Task 'review' looks like free text, not classes: 300 distinct values" in err


# ---------------------------------------------------------------- schema, overrides, progress, --params
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


@pytest.mark.slow
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
    # hard + reference, 2 folds x 2 repeats; captured output is no terminal: one line a fit
    assert "net fits: 8/8 done (reference)" in captured.err and "net fits: 100%" not in captured.err
    assert main([*argv, "--progress", "bar"]) == 0
    assert "net fits: 100%" in capsys.readouterr().err and "8/8" in captured.err
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


@pytest.mark.slow
def test_tuned_parameters_reach_the_comparison(events_csv, tmp_path, capsys):
    tuned = tmp_path / "tuned"
    assert main(["tune", "--data", str(events_csv), "--targets", "click,purchase", "--model", "hard",
                 "--n-trials", "2", "--max-epochs", "2", "--out", str(tuned), "--quiet"]) == 0
    best = json.loads((tuned / "best_params.json").read_text())
    assert best["model"] == "hard"
    assert len(best["data_fingerprint"]) == 16
    capsys.readouterr()
    # Tuned on the very rows compared: the verdict would favour hard, and the CLI says so.
    with pytest.warns(UserWarning, match=r"was tuned on these same rows \(data fingerprint "
                                         r"[0-9a-f]{16}\): every test fold .* Use --tune N"):
        assert main(["compare", "--data", str(events_csv), "--targets", "click,purchase",
                     "--models", "hard", "--params", str(tuned / "best_params.json"),
                     "--max-epochs", "2", "--cv", "2", "--out", str(tmp_path / "out")]) == 0
    out = capsys.readouterr().out
    assert "hard parameters from --params: {" in out and f"'lr': {best['params']['lr']!r}" in out
    assert main(["compare", "--data", str(events_csv), "--targets", "click,purchase", "--models",
                 "hard", "--params", f"mmoe={tuned / 'best_params.json'}"]) == 2
    assert "model 'mmoe' is not compared (--models hard)" in capsys.readouterr().err


@pytest.mark.slow
def test_group_by_scores_binary_tasks_per_user(events_csv, tmp_path, capsys):
    argv = ["compare", "--data", str(events_csv), "--targets", "click,purchase", "--models", "lgbm,hard",
            "--max-epochs", "2", "--cv", "2", "--out", str(tmp_path / "out"), "--quiet"]
    assert main([*argv, "--group-by", "user_id"]) == 0
    assert "per-user AUC (gauc) over 'user_id'" in capsys.readouterr().out
    summary = pd.read_csv(tmp_path / "out" / "summary.csv")
    assert set(summary["metric"]) == {"gauc"}
    assert main([*argv, "--group-by", "user"]) == 2
    assert "--group-by 'user' is not a column of X" in capsys.readouterr().err


def test_cascade_scoring_reaches_the_comparison_and_is_stated(events_csv, tmp_path, capsys):
    # esmm and aitm chain purchase after click (the order of --targets): a cascaded child.
    argv = ["compare", "--data", str(events_csv), "--targets", "click,purchase", "--models", "esmm,aitm",
            "--max-epochs", "2", "--cv", "2", "--repeats", "1", "--quiet"]
    assert main([*argv, "--out", str(tmp_path / "entire")]) == 0
    out = capsys.readouterr().out
    assert "cascaded 'purchase' scored over the entire space" in out
    assert main([*argv, "--cascade-scoring", "parent_positive", "--out", str(tmp_path / "pp")]) == 0
    out = capsys.readouterr().out
    assert "cascaded 'purchase' scored on the 'click'-positive rows" in out
    page = (tmp_path / "pp" / "report.html").read_text(encoding="utf-8")
    assert re.search(r"<th>cascade scoring</th><td>parent_positive \{&#x27;purchase&#x27;: "
                     r"&#x27;click&#x27;\}</td>", page)
    assert "<th>cascade scoring</th><td>entire_space" in (
        tmp_path / "entire" / "report.html").read_text(encoding="utf-8")
    # Same folds and seeds: the click scores agree, the purchase scores are of other rows.
    scores = {k: pd.read_csv(tmp_path / k / "scores.csv").set_index(["model", "fold", "task"])["score"]
              for k in ("entire", "pp")}
    np.testing.assert_allclose(scores["entire"].xs("click", level="task"),
                               scores["pp"].xs("click", level="task"))
    assert not np.allclose(scores["entire"].xs("purchase", level="task"),
                           scores["pp"].xs("purchase", level="task"))
    with pytest.raises(SystemExit) as exit_:
        main([*argv, "--cascade-scoring", "clicked"])
    assert exit_.value.code == 2
    err = capsys.readouterr().err
    assert "usage: sklearn-mtl compare" in err
    assert "--cascade-scoring: invalid choice: 'clicked'" in err


# ---------------------------------------------------------------- loss balancing and task affinity
def test_cli_compare_with_balancing_switches(tmp_path, capsys):
    from sklearn_mtl.cli import main

    X, Y = three_tasks(n=600)
    frame = pd.DataFrame(X, columns=[f"x{i}" for i in range(X.shape[1])]).join(Y)
    path = tmp_path / "three.csv"
    frame.to_csv(path, index=False)
    code = main(["compare", "--data", str(path), "--targets", "a,b,c", "--models", "hard",
                 "--max-epochs", "2", "--cv", "2", "--task-weights", "dwa",
                 "--gradient-method", "pcgrad", "--task-affinity", "--out", str(tmp_path / "out")])
    assert code == 0
    assert "hard: proposed task groups (at most 2 networks): [" in capsys.readouterr().out
    assert (tmp_path / "out" / "task_affinity.png").stat().st_size > 5000
    with pytest.raises(SystemExit):
        main(["compare", "--gradient-method", "mgda"])


def test_data_that_is_a_directory_says_so(tmp_path, capsys):
    assert main(["compare", "--data", str(tmp_path), "--targets", "y"]) == 1
    err = capsys.readouterr().err
    assert f"--data {str(tmp_path)!r} is a directory" in err
    assert "give the path of one CSV file (with --targets)" in err


def test_compare_with_nested_tuning_states_the_budget_and_writes_tuning_csv(events_csv, tmp_path,
                                                                             capsys):
    argv = ["compare", "--data", str(events_csv), "--targets", "click,purchase", "--models",
            "lgbm,hard", "--max-epochs", "2", "--cv", "2", "--repeats", "1", "--tune", "2",
            "--out", str(tmp_path / "out")]
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert ("nested tuning: every model and the reference get 2 trials in each split, on its "
            "training rows") in out
    assert ("tuning: each model (lgbm, hard, reference) had its own study of 2 trials in each of "
            "2 splits") in out
    tuning = pd.read_csv(tmp_path / "out" / "tuning.csv")
    assert len(tuning) == 6 and set(tuning["model"]) == {"lgbm", "hard", "reference"}
    assert "tuning.csv" in out
    page = (tmp_path / "out" / "report.html").read_text(encoding="utf-8")
    assert ("<th>tuning budget</th><td>every model and the reference get 2 trials in each split"
            in page) and "<th>nested tuning</th>" in page
    with pytest.raises(SystemExit) as exit_:
        main([*argv[:-4], "--tune", "0"])
    assert exit_.value.code == 2 and "argument --tune: 0 must be >= 1" in capsys.readouterr().err


def test_compare_with_storage_takes_finished_fits_on_the_second_run(events_csv, tmp_path, capsys):
    argv = ["compare", "--data", str(events_csv), "--targets", "click,purchase", "--models",
            "lgbm", "--cv", "2", "--repeats", "1", "--storage", str(tmp_path / "kept"),
            "--quiet", "--out", str(tmp_path / "out")]
    assert main(argv) == 0
    assert "fits taken from --storage" not in capsys.readouterr().out
    assert len(list((tmp_path / "kept" / "fits").glob("*.json"))) == 4
    assert main(argv) == 0
    assert "4 fits taken from --storage" in capsys.readouterr().out
    assert main([*argv, "--seed", "1"]) == 2
    assert "holds the fits of another comparison" in capsys.readouterr().err


@pytest.mark.slow
def test_progress_in_a_log_file_is_one_line_per_fit_not_redraws(events_csv, tmp_path):
    argv = [sys.executable, "-m", "sklearn_mtl", "compare", "--data", str(events_csv),
            "--targets", "click,purchase", "--models", "hard", "--max-epochs", "2", "--cv", "2",
            "--repeats", "1", "--out", str(tmp_path)]

    def log_of(*extra) -> bytes:  # bytes: text mode would turn every carriage return into \n
        done = subprocess.run([*argv, *extra], capture_output=True)
        assert done.returncode == 0, done.stderr.decode()
        return done.stderr

    logged = log_of()  # stderr is a pipe, as under a scheduler: --progress auto gives lines
    assert b"\r" not in logged and b"\x1b[" not in logged
    lines = [line for line in logged.decode().splitlines() if line.startswith("net fits: ")]
    assert [line.split()[2] for line in lines] == ["1/4", "2/4", "3/4", "4/4"]
    assert re.search(r"net fits: 4/4 done \(reference\), \d+ s, about 0 s left", lines[-1])
    assert b"\r" in log_of("--progress", "bar")
    assert b"net fits" not in log_of("--progress", "none")


def _hostile_names_csv(tmp_path):
    """Events whose target columns are a spreadsheet formula and a mathtext command."""
    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"x1": rng.normal(size=200), "x2": rng.normal(size=200)})
    frame['=HYPERLINK("http://evil")'] = (frame["x1"] > 0).astype(int)
    frame[r"cost $\badcommand$"] = frame["x2"] + rng.normal(size=200)
    path = tmp_path / "events.csv"
    frame.to_csv(path, index=False)
    return path, ['=HYPERLINK("http://evil")', r"cost $\badcommand$"]


def test_names_reach_csv_as_text_and_figures_as_text(tmp_path):
    path, targets = _hostile_names_csv(tmp_path)
    out = tmp_path / "out"
    assert main(["compare", "--data", str(path), "--targets", ",".join(targets), "--models",
                 "hard", "--max-epochs", "1", "--cv", "2", "--repeats", "1", "--out",
                 str(out), "--quiet"]) == 0
    # OWASP: a leading quote makes a spreadsheet read the cell as text, not run it.
    for name in ("summary.csv", "scores.csv"):
        cells = pd.read_csv(out / name, dtype=str)["task"]
        assert """'=HYPERLINK("http://evil")""" in set(cells)
        assert r"cost $\badcommand$" in set(cells)
        assert not cells.str.startswith("=").any()
    assert (out / "negative_transfer.png").stat().st_size > 0
    page = (out / "report.html").read_text(encoding="utf-8")
    assert r"cost $\badcommand$" in page and "=HYPERLINK(&quot;http://evil&quot;)" in page


def test_a_figure_that_cannot_be_drawn_fails_before_any_fit(tmp_path, capsys, monkeypatch):
    from sklearn_mtl.transfer import TransferReport

    def broken(self, *args, **kwargs):
        raise RuntimeError("no font for these names")

    monkeypatch.setattr(TransferReport, "plot", broken)
    path, targets = _hostile_names_csv(tmp_path)
    assert main(["compare", "--data", str(path), "--targets", ",".join(targets), "--models",
                 "hard", "--max-epochs", "1", "--cv", "2", "--repeats", "1", "--out",
                 str(tmp_path / "out")]) == 2
    captured = capsys.readouterr()
    assert ("the report's figure cannot draw the models ['hard'] and tasks "
            """['=HYPERLINK("http://evil")', 'cost $\\\\badcommand$']: no font""") in captured.err
    assert "net fits" not in captured.err and not (tmp_path / "out").exists()
