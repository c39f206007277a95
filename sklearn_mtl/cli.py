"""The ``sklearn-mtl`` command: compare sharing against single-task models, tune, list datasets.

    sklearn-mtl compare                      # built-in generator, related and unrelated tasks
    sklearn-mtl compare --data census --models hard,mmoe,lgbm --cv 3 --out results/
    sklearn-mtl tune --data census --model mmoe --n-trials 30 --storage sqlite:///tune.db
    sklearn-mtl datasets

Only the standard library is imported before the arguments are parsed: numpy, pandas, torch
and LightGBM load inside the subcommand that needs them, so ``--help``, ``--version`` and usage
errors answer at once.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

MODEL_CHOICES = ("hard", "soft", "mmoe", "single", "omoe", "cgc", "ple", "esmm", "lgbm")
PRUNER_CHOICES = ("median", "hyperband", "successive_halving", "none")


class _Parser(argparse.ArgumentParser):
    def error(self, message):  # usage text and exit code 2, as argparse does, but on stderr
        self.print_usage(sys.stderr)
        self.exit(2, f"{self.prog}: error: {message}\n")


def _model_list(text: str) -> list[str]:
    names = [n.strip() for n in text.split(",") if n.strip()]
    bad = [n for n in names if n not in MODEL_CHOICES]
    if not names or bad:
        raise argparse.ArgumentTypeError(
            f"unknown model(s) {bad or text!r}; choose from {','.join(MODEL_CHOICES)}"
        )
    return names


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an integer") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"{value} must be >= 1")
    return value


def _fold_count(text: str) -> int:
    value = _positive_int(text)
    if value < 2:
        raise argparse.ArgumentTypeError(f"{value} fold is not cross-validation: use at least 2")
    return value


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not value > 0:
        raise argparse.ArgumentTypeError(f"{value} must be > 0")
    return value


def _column_list(text: str) -> list[str]:
    names = [n.strip() for n in text.split(",") if n.strip()]
    if not names:
        raise argparse.ArgumentTypeError(f"{text!r} names no column")
    return names


TASK_KINDS = ("binary", "multiclass", "regression", "auto")


def _task_kinds(text: str) -> dict[str, str]:
    kinds = {}
    for part in (p.strip() for p in text.split(",") if p.strip()):
        name, sep, kind = part.rpartition("=")
        if not sep or not name.strip() or kind.strip() not in TASK_KINDS:
            raise argparse.ArgumentTypeError(
                f"{part!r} is not name=kind with kind one of {', '.join(TASK_KINDS)}"
            )
        kinds[name.strip()] = kind.strip()
    if not kinds:
        raise argparse.ArgumentTypeError(f"{text!r} names no task")
    return kinds


def _add_data_arguments(parser, default: str | None, default_text: str) -> None:
    parser.add_argument(
        "--data", default=default,
        help="synthetic (MMoE paper generator), census, movielens, or a CSV file (with --targets)"
        f" (default: {default_text})",
    )
    parser.add_argument("--targets", default=None, help="comma-separated target columns of a CSV file")
    parser.add_argument("--data-home", default=None, help="data folder (default: $SKLEARN_MTL_DATA)")
    parser.add_argument("--download", action="store_true", help="download missing data files")
    parser.add_argument("--n-rows", type=_positive_int, default=None,
                        help="use a random subset of this many rows")
    parser.add_argument("--categorical", type=_column_list, default=None, metavar="COL1,COL2",
                        help="columns the nets embed (besides text and category columns), "
                        "instead of the automatic rule (integer columns named like an id: "
                        "user_id, itemId, ...)")
    parser.add_argument("--tasks", type=_task_kinds, default=None, metavar="NAME=KIND,...",
                        help="kind of some tasks (binary, multiclass, regression); the others "
                        "are inferred, e.g. --tasks rating=regression")
    parser.add_argument("--quiet", action="store_true",
                        help="no progress bars and no per-trial lines (the schema is still printed)")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="sklearn-mtl",
        description="Does a shared multi-task net beat one model per task on your data, "
        "or does sharing hurt some task (negative transfer)?",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {_version()}")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    cmp = sub.add_parser(
        "compare",
        help="per-task scores of multi-task models against the single-task reference",
        description="Train every model and the single-task reference on the same repeated folds; "
        "print per task the delta against the reference with its confidence interval, the "
        "Holm-adjusted p-value of the corrected resampled t-test and a verdict (worse, better, "
        "equivalent, inconclusive), then one sentence per model; write summary.csv, "
        "overall.csv, scores.csv and negative_transfer.png into --out. With no --data, runs "
        "the built-in generator twice: related tasks (correlation 0.9) and unrelated tasks "
        "(correlation 0.0) through a one-unit shared bottom.",
    )
    _add_data_arguments(cmp, None, "the generator, related and unrelated tasks")
    cmp.add_argument("--models", type=_model_list, default=["hard", "mmoe", "lgbm"],
                     help="comma-separated subset of %(choices)s (default: hard,mmoe,lgbm)"
                     .replace("%(choices)s", ",".join(MODEL_CHOICES)))
    cmp.add_argument("--cv", type=_fold_count, default=3, help="number of folds (default: 3)")
    cmp.add_argument("--repeats", type=_positive_int, default=2,
                     help="repeats of the folds, each with new seeds (default: 2)")
    cmp.add_argument("--max-epochs", type=_positive_int, default=None,
                     help="epochs for the nets (default: 30 synthetic, 20 otherwise)")
    cmp.add_argument("--n-jobs", type=int, default=None,
                     help="parallel (model, fold) fits (joblib); LightGBM then uses half of "
                     "each worker's share of the cores, else half of the machine's")
    cmp.add_argument("--group-by", default=None, metavar="COLUMN",
                     help="score binary tasks by per-user AUC (gauc) over this column of X, "
                     "e.g. user_id; users with one class only are skipped")
    cmp.add_argument("--params", action="append", default=None, metavar="[MODEL=]FILE",
                     help="best_params.json written by 'sklearn-mtl tune' (its model is read "
                     "from the file, or given as MODEL=FILE); repeat for several models; "
                     "'single' sets the reference's parameters")
    cmp.add_argument("--out", default="sklearn-mtl-results", help="output folder")
    cmp.add_argument("--seed", type=int, default=0)
    cmp.add_argument("--task-weights", choices=("none", "uncertainty", "gradnorm", "dwa"),
                     default="none", help="loss weighting of the multi-task nets (default: none)")
    cmp.add_argument("--gradient-method", choices=("none", "pcgrad", "cagrad"), default="none",
                     help="gradient surgery on the shared parameters of the multi-task nets")
    cmp.add_argument("--task-affinity", action="store_true",
                     help="measure the lookahead task affinity; print proposed task groups and "
                     "write task_affinity.png")

    tun = sub.add_parser(
        "tune",
        help="Optuna search over one model's hyper-parameters (sklearn_mtl.tuning.tune)",
        description="Tune one model with its default search space; print a line per trial and "
        "the best parameters; write trials.csv, best_params.json and (with --objectives "
        "per_task) pareto_front.csv into --out. With --storage and --study-name the study is "
        "kept in a database: rerun the same command to continue it after a crash, or start it "
        "in several processes (or machines) to share the trials.",
    )
    _add_data_arguments(tun, "synthetic", "synthetic")
    tun.add_argument("--model", choices=MODEL_CHOICES, default="mmoe",
                     help="the model to tune (default: mmoe)")
    tun.add_argument("--n-trials", type=_positive_int, default=20,
                     help="trials this process runs (default: 20)")
    tun.add_argument("--timeout", type=_positive_float, default=None,
                     help="stop starting new trials after this many seconds")
    tun.add_argument("--cv", type=_fold_count, default=None,
                     help="cross-validate each trial with this many folds (default: one 20%% "
                     "hold-out, which allows pruning after every epoch)")
    tun.add_argument("--objectives", choices=("mean", "per_task"), default="mean",
                     help="mean: one objective, the mean task score; per_task: one objective per "
                     "task and a Pareto front (default: mean)")
    tun.add_argument("--pruner", choices=PRUNER_CHOICES, default="median",
                     help="Optuna pruner for --objectives mean (default: median)")
    tun.add_argument("--storage", default=None,
                     help="database URL, e.g. sqlite:///tune.db or postgresql://user@host/db "
                     "(default: in memory)")
    tun.add_argument("--study-name", default=None, help="study name in --storage (to resume or share)")
    tun.add_argument("--max-epochs", type=_positive_int, default=None,
                     help="epoch limit of the nets (default: the model's, 20 synthetic)")
    tun.add_argument("--out", default="sklearn-mtl-tune", help="output folder")
    tun.add_argument("--seed", type=int, default=0,
                     help="seeds the sampler, the hold-out split and the model (default: 0)")

    sub.add_parser(
        "datasets",
        help="list the data sets and where each is looked for",
        description="List the fetchers and the files each reads from the data folder.",
    )
    return parser


def _version() -> str:
    from . import __version__

    return __version__


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


def _check_storage(storage: str | None) -> None:
    """A bad --storage fails before the data are loaded, not after a SQLAlchemy traceback."""
    if storage is not None:
        from .tuning._study import check_storage_url

        check_storage_url(storage)


BUILTIN_DATA = ("census", "movielens")


def _load(args):
    """(X, Y, tasks) for --data; OSError when files are missing."""
    import numpy as np

    from .datasets import fetch_census_income, fetch_movielens_100k, make_multitask_data

    if args.data == "census":
        X, Y = fetch_census_income(args.data_home, download_if_missing=args.download, return_X_y=True)
        tasks = "auto"
    elif args.data == "movielens":
        X, Y = fetch_movielens_100k(args.data_home, download_if_missing=args.download, return_X_y=True)
        tasks = ["binary", "regression"]
    elif args.data == "synthetic":
        X, Y = make_multitask_data(n_samples=4000, n_features=20, task_correlation=0.5,
                                   random_state=args.seed)
        tasks = "auto"
    else:
        path = Path(args.data)
        if not path.is_file():
            raise OSError(
                f"--data {args.data!r}: no such file {path.resolve()}; give synthetic, census, "
                "movielens or the path of a CSV file with --targets"
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


def _read_params(entries, models: list[str]) -> dict[str, dict]:
    """{model: parameters} from ``--params [MODEL=]FILE`` (best_params.json of ``tune``)."""
    out = {}
    for entry in entries or []:
        name, sep, path = entry.partition("=")
        if not sep:
            name, path = None, entry
        try:
            with open(path) as f:
                content = json.load(f)
        except json.JSONDecodeError as exc:
            raise ValueError(f"--params {path}: not a JSON file ({exc})") from None
        params = content.get("params", content) if isinstance(content, dict) else None
        name = name or (content.get("model") if isinstance(content, dict) else None)
        if not isinstance(params, dict):
            raise ValueError(f"--params {path}: expected a JSON object of parameters")
        if name is None:
            raise ValueError(f"--params {path} does not say its model (written by an older "
                             "'sklearn-mtl tune'): write --params MODEL=FILE")
        if name not in (*models, "single"):
            raise ValueError(f"--params {entry}: model {name!r} is not compared "
                             f"(--models {','.join(models)})")
        # JSON has no tuples: layer widths come back as lists.
        out[name] = {k: tuple(v) if isinstance(v, list) else v for k, v in params.items()}
    return out


def _models(names, tasks, max_epochs, seed, categorical="auto", params=None, progress=None,
            balancing=None, **net):
    from .baselines import PerTaskLGBM
    from .estimator import MultiTaskRecommender

    params = params or {}
    models = {}
    for name in names:
        if name == "lgbm":
            models["lgbm"] = PerTaskLGBM(tasks=tasks, random_state=seed).set_params(
                **params.get(name, {}))
        else:
            callbacks = None if progress is None else [progress(name)]
            models[name] = MultiTaskRecommender(
                name, tasks=tasks, categorical_features=categorical, callbacks=callbacks,
                **{"max_epochs": max_epochs, "lr": 3e-3, "random_state": seed, **net,
                   **((balancing or {}) if name != "single" else {})}
            ).set_params(**params.get(name, {}))
    return models


def _reference(tasks, max_epochs, seed, categorical="auto", params=None, progress=None, **net):
    from .estimator import MultiTaskRecommender

    return MultiTaskRecommender(
        "single", tasks=tasks, categorical_features=categorical,
        callbacks=None if progress is None else [progress("reference")],
        **{"max_epochs": max_epochs, "lr": 3e-3, "random_state": seed, **net},
    ).set_params(**(params or {}).get("single", {}))


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
    from .features import FeatureEncoder, describe_columns
    from .tasks import TargetEncoder

    features = describe_columns(FeatureEncoder(categorical).fit(X))
    targets = TargetEncoder(tasks).fit(Y)
    kinds = ", ".join(f"{n}={k}" for n, k in zip(targets.names_, targets.kinds_))
    lines = ["inferred schema (the nets; --categorical and --tasks override):",
             *("  " + line for line in features.splitlines()), f"  tasks: {kinds}"]
    return "\n".join(lines)


def _compare_one(title, X, Y, tasks, args, out: Path, stem: str, **net):
    from .transfer import compare_transfer

    max_epochs = args.max_epochs or (30 if args.data in (None, "synthetic") else 20)
    names = [m for m in args.models if m != "single"] or ["single"]
    params = _read_params(args.params, names)
    categorical = _categorical(args)
    if args.group_by is not None and not (hasattr(X, "columns") and args.group_by in X.columns):
        raise ValueError(f"--group-by {args.group_by!r} is not a column of X")
    # One process draws the bars; worker processes (--n-jobs > 1) get joblib's lines instead.
    in_process = args.n_jobs in (None, 1) and not args.quiet
    bars = None
    if in_process:
        from ._progress import Bars, FitProgress

        n_nets = sum(m != "lgbm" for m in names) + 1
        bars = Bars(n_nets * args.cv * args.repeats, desc="net fits")
        bars.fits.clear()

        def progress(label):
            return FitProgress(bars, label)
    else:
        progress = None
    balancing = {
        "task_weights": None if args.task_weights == "none" else args.task_weights,
        "gradient_method": None if args.gradient_method == "none" else args.gradient_method,
        "track_task_affinity": args.task_affinity,
    }
    models = _models(names, tasks, max_epochs, args.seed, categorical, params, progress,
                     balancing, **net)
    print(f"\n== {title}: {len(X)} rows, {len(models)} model(s) + single-task reference, "
          f"{args.cv}-fold CV × {args.repeats} repeats", flush=True)
    print(describe_schema(X, Y, tasks, categorical), flush=True)
    for name, given in params.items():
        print(f"  {name} parameters from --params: {given}")
    extra = {}
    if args.group_by is not None:
        extra = {"metric": _grouped_metric(Y, tasks), "groups": args.group_by}
        print(f"  binary tasks scored by per-user AUC (gauc) over {args.group_by!r}", flush=True)
    start = time.perf_counter()
    try:
        report = compare_transfer(
            models, X, Y,
            reference=_reference(tasks, max_epochs, args.seed, categorical, params, progress, **net),
            cv=args.cv, n_repeats=args.repeats, n_jobs=args.n_jobs, random_state=args.seed,
            verbose=0 if (args.quiet or in_process) else 10, **extra,
        )
    finally:
        if bars is not None:
            bars.close()
    print(f"   done in {time.perf_counter() - start:.0f} s\n")
    print(report)
    out.mkdir(parents=True, exist_ok=True)
    report.summary().to_csv(out / f"{stem}summary.csv")
    report.overall().to_csv(out / f"{stem}overall.csv")
    report.scores.to_csv(out / f"{stem}scores.csv", index=False)
    ax = report.plot()
    ax.set_title(f"{title}: {ax.get_title()}")
    ax.figure.savefig(out / f"{stem}negative_transfer.png", dpi=120, bbox_inches="tight")
    import matplotlib.pyplot as plt

    plt.close(ax.figure)
    if args.task_affinity and len(report.task_affinity):
        from .affinity import propose_task_groups

        for model in dict.fromkeys(report.task_affinity["model"]):
            groups = propose_task_groups(report.affinity_matrix(model), n_groups=2)
            print(f"{model}: proposed task groups (at most 2 networks): {groups}")
        ax = report.plot_affinity()
        ax.figure.savefig(out / f"{stem}task_affinity.png", dpi=120, bbox_inches="tight")
        plt.close(ax.figure)
    return report


def _grouped_metric(Y, tasks) -> dict:
    """gauc for every binary task, the default metric for the others."""
    from .tasks import TargetEncoder

    targets = TargetEncoder(tasks).fit(Y)
    return {n: "gauc" if k == "binary" else "auto" for n, k in zip(targets.names_, targets.kinds_)}


def cmd_compare(args) -> int:
    import matplotlib

    matplotlib.use("Agg")
    out = _check_out_folder(args.out)
    if args.data is None:
        from .datasets import make_multitask_data

        # Two settings with known answers: related tasks through the default bottom (sharing
        # has room for both), and unrelated tasks squeezed through a one-unit shared bottom,
        # which can carry only one task's direction (negative transfer by construction).
        settings = (("related tasks (correlation 0.9), default 64-32 bottom", 0.9, "related_",
                     {"batch_size": 256}),
                    ("unrelated tasks (correlation 0.0), one-unit shared bottom", 0.0,
                     "unrelated_", {"hidden_units": (1,), "lr": 2e-2, "batch_size": 512}))
        verdicts = []
        for title, corr, stem, net in settings:
            X, Y = make_multitask_data(n_samples=args.n_rows or 3000, n_features=20,
                                       task_correlation=corr, random_state=args.seed)
            report = _compare_one(title, X, Y, "auto", args, out, stem, **net)
            verdicts += [f"{title}:", *(f"  {line}" for line in report.verdict_lines())]
        print("\nIn short\n" + "\n".join(verdicts))
    else:
        X, Y, tasks = _load(args)
        _compare_one(f"{args.data}", X, Y, tasks, args, out, "")
    print(f"\nwrote summary.csv, overall.csv, scores.csv and negative_transfer.png files to "
          f"{out.resolve()}")
    return 0


def cmd_tune(args) -> int:
    import pandas as pd

    from .tuning import tune

    if args.storage is not None and args.study_name is None:
        raise ValueError("--study-name is required with --storage: it names the study to "
                         "continue or share")
    _check_storage(args.storage)
    _check_out_folder(args.out)
    X, Y, tasks = _load(args)
    bars = None
    if args.data == "synthetic" and args.max_epochs is None:
        args.max_epochs = 20
    if args.model == "lgbm":
        from .baselines import PerTaskLGBM

        # A validation split lets the pruner stop a trial between boosting rounds.
        model = PerTaskLGBM(tasks=tasks, validation_fraction=0.1, random_state=args.seed)
    else:
        from .estimator import MultiTaskRecommender

        extra = {} if args.max_epochs is None else {"max_epochs": args.max_epochs}
        if not args.quiet:
            from ._progress import Bars, FitProgress

            # Epochs of the trial in progress; the per-trial lines give the trials' progress.
            bars = Bars(None, desc="net fits")
            extra["callbacks"] = [FitProgress(bars, args.model)]
        model = MultiTaskRecommender(args.model, tasks=tasks, random_state=args.seed,
                                     categorical_features=_categorical(args), **extra)
    pruner = None if args.pruner == "none" else args.pruner
    print(f"== tuning {type(model).__name__}({args.model!r}) on {args.data}: {len(X)} rows, "
          f"{args.n_trials} trials, " + (f"{args.cv}-fold CV" if args.cv else "20% hold-out"),
          flush=True)
    print(describe_schema(X, Y, tasks, _categorical(args)), flush=True)
    result = tune(model, X, Y, n_trials=args.n_trials, timeout=args.timeout, cv=args.cv,
                  objectives=args.objectives, storage=args.storage, study_name=args.study_name,
                  pruner=pruner, random_state=args.seed, refit=False, verbose=0 if args.quiet else 1)
    if bars is not None:
        bars.close()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    result.study.trials_dataframe().to_csv(out / "trials.csv", index=False)
    written = ["trials.csv"]
    if result.best_trial_ is None:
        print("\nno trial completed", file=sys.stderr)
        return 1
    states = pd.Series([t.state.name for t in result.study.trials]).value_counts()
    print(f"\nstudy {result.study.study_name!r}: "
          + ", ".join(f"{n} {state.lower()}" for state, n in states.items()))
    if result.multi_objective_:
        front = result.pareto_front()
        front.to_csv(out / "pareto_front.csv", index=False)
        written.append("pareto_front.csv")
        print(f"Pareto front ({len(front)} trials):")
        print(front.to_string(index=False))
    print(f"best trial {result.best_trial_.number}: score {result.best_score_}, "
          f"per task {result.best_trial_.user_attrs.get('scores')}")
    print(f"best parameters: {result.best_params_}")
    with open(out / "best_params.json", "w") as f:
        json.dump({"model": args.model, "trial": result.best_trial_.number,
                   "score": result.best_score_,
                   "scores": result.best_trial_.user_attrs.get("scores"),
                   "params": result.best_params_}, f, indent=2, default=str)
    written.append("best_params.json")
    print(f"\nwrote {', '.join(written)} to {out.resolve()}")
    return 0


def cmd_datasets(args) -> int:
    from .datasets import get_data_home
    from .datasets._census import SPLIT_FILES, SUBDIR
    from .datasets._movielens import SUBDIR as ML_SUBDIR

    home = get_data_home(None)
    print(f"data folder: {home}  (data_home=, else $SKLEARN_MTL_DATA, else ~/sklearn_mtl_data)\n")
    rows = [("make_multitask_data", "generated in memory (MMoE paper, KDD 2018)", True)]
    for split, name in SPLIT_FILES.items():
        path = home / SUBDIR / name
        rows.append((f"fetch_census_income ({split})", str(path), path.exists()))
    ml = home / ML_SUBDIR / "u.data"
    rows.append(("fetch_movielens_100k", str(ml), ml.exists()))
    width = max(len(r[0]) for r in rows)
    for name, where, present in rows:
        print(f"{name:<{width}}  {'found  ' if present else 'missing'}  {where}")
    print("\nmissing files are downloaded on first use (download_if_missing=True)")
    return 0


def main(argv=None) -> int:
    """Entry point of the ``sklearn-mtl`` command; returns the exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        commands = {"compare": cmd_compare, "tune": cmd_tune, "datasets": cmd_datasets}
        return commands[args.command](args)
    except OSError as exc:  # missing data: say where and how to get it
        print(f"sklearn-mtl: {exc}", file=sys.stderr)
        if getattr(args, "data", None) in BUILTIN_DATA:
            print("sklearn-mtl: pass --download to fetch it, or --data-home DIR for a folder that "
                  "has it", file=sys.stderr)
        return 1
    except ValueError as exc:
        parser.print_usage(sys.stderr)
        print(f"sklearn-mtl {args.command}: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
