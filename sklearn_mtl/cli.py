"""The ``sklearn-mtl`` command: compare sharing against single-task models, list datasets.

    sklearn-mtl compare                      # built-in generator, related and unrelated tasks
    sklearn-mtl compare --data census --models hard,mmoe,lgbm --cv 3 --out results/
    sklearn-mtl datasets
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

MODEL_CHOICES = ("hard", "soft", "mmoe", "single", "lgbm")


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


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="sklearn-mtl",
        description="Does a shared multi-task net beat one model per task on your data, "
        "or does sharing hurt some task (negative transfer)?",
    )
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    data_help = (
        "synthetic (MMoE paper generator), census, movielens, or a CSV file (with --targets)"
    )
    cmp = sub.add_parser(
        "compare",
        help="per-task scores of multi-task models against the single-task reference",
        description="Train every model and the single-task reference on the same folds; print "
        "per task the delta against the reference, its p-value and a negative-transfer flag; "
        "write summary.csv, scores.csv and negative_transfer.png into --out. With no --data, "
        "runs the built-in generator twice: related tasks (correlation 0.9) and unrelated "
        "tasks (correlation 0.0).",
    )
    cmp.add_argument("--data", default=None, help=data_help)
    cmp.add_argument("--targets", default=None, help="comma-separated target columns of a CSV file")
    cmp.add_argument("--data-home", default=None, help="data folder (default: $SKLEARN_MTL_DATA)")
    cmp.add_argument("--download", action="store_true", help="download missing data files")
    cmp.add_argument("--models", type=_model_list, default=["hard", "mmoe", "lgbm"],
                     help="comma-separated subset of %(choices)s (default: hard,mmoe,lgbm)"
                     .replace("%(choices)s", ",".join(MODEL_CHOICES)))
    cmp.add_argument("--cv", type=_positive_int, default=3, help="number of folds (default: 3)")
    cmp.add_argument("--max-epochs", type=_positive_int, default=None,
                     help="epochs for the nets (default: 30 synthetic, 20 otherwise)")
    cmp.add_argument("--n-rows", type=_positive_int, default=None,
                     help="use a random subset of this many rows")
    cmp.add_argument("--n-jobs", type=int, default=None, help="parallel jobs (joblib)")
    cmp.add_argument("--out", default="sklearn-mtl-results", help="output folder")
    cmp.add_argument("--seed", type=int, default=0)

    sub.add_parser(
        "datasets",
        help="list the data sets and where each is looked for",
        description="List the fetchers and the files each reads from the data folder.",
    )
    return parser


def _load(args) -> tuple[pd.DataFrame | np.ndarray, pd.DataFrame | np.ndarray, list | str]:
    """(X, Y, tasks) for --data; OSError when files are missing."""
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
        frame = pd.read_csv(path)
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
    return X, Y, tasks


def _models(names, tasks, max_epochs, seed):
    from .baselines import PerTaskLGBM
    from .estimator import MultiTaskRecommender

    models = {}
    for name in names:
        if name == "lgbm":
            models["lgbm"] = PerTaskLGBM(tasks=tasks, random_state=seed)
        else:
            models[name] = MultiTaskRecommender(
                name, tasks=tasks, max_epochs=max_epochs, lr=3e-3, random_state=seed
            )
    return models


def _reference(tasks, max_epochs, seed):
    from .estimator import MultiTaskRecommender

    return MultiTaskRecommender("single", tasks=tasks, max_epochs=max_epochs, lr=3e-3, random_state=seed)


def _compare_one(title, X, Y, tasks, args, out: Path, stem: str):
    from .transfer import compare_transfer

    max_epochs = args.max_epochs or (30 if args.data in (None, "synthetic") else 20)
    models = _models([m for m in args.models if m != "single"], tasks, max_epochs, args.seed)
    if not models:
        models = _models(["single"], tasks, max_epochs, args.seed)
    print(f"\n== {title}: {len(X)} rows, {len(models)} model(s) + single-task reference, "
          f"{args.cv}-fold CV", flush=True)
    start = time.perf_counter()
    report = compare_transfer(
        models, X, Y, reference=_reference(tasks, max_epochs, args.seed), cv=args.cv,
        n_jobs=args.n_jobs, random_state=args.seed, verbose=10,
    )
    print(f"   done in {time.perf_counter() - start:.0f} s\n")
    print(report)
    out.mkdir(parents=True, exist_ok=True)
    report.summary().to_csv(out / f"{stem}summary.csv")
    report.scores.to_csv(out / f"{stem}scores.csv", index=False)
    ax = report.plot()
    ax.set_title(f"{title}: {ax.get_title()}")
    ax.figure.savefig(out / f"{stem}negative_transfer.png", dpi=120, bbox_inches="tight")
    import matplotlib.pyplot as plt

    plt.close(ax.figure)
    return report


def cmd_compare(args) -> int:
    import matplotlib

    matplotlib.use("Agg")
    out = Path(args.out)
    if args.data is None:
        from .datasets import make_multitask_data

        for corr, stem in ((0.9, "related_"), (0.0, "unrelated_")):
            X, Y = make_multitask_data(n_samples=args.n_rows or 3000, n_features=20,
                                       task_correlation=corr, random_state=args.seed)
            _compare_one(f"synthetic tasks, correlation {corr}", X, Y, "auto", args, out, stem)
    else:
        X, Y, tasks = _load(args)
        _compare_one(f"{args.data}", X, Y, tasks, args, out, "")
    print(f"\nwrote summary.csv, scores.csv and negative_transfer.png files to {out.resolve()}")
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
        return {"compare": cmd_compare, "datasets": cmd_datasets}[args.command](args)
    except OSError as exc:  # missing data: say where and how to get it
        print(f"sklearn-mtl: {exc}", file=sys.stderr)
        print("sklearn-mtl: pass --download to fetch it, or --data-home DIR for a folder that has it",
              file=sys.stderr)
        return 1
    except ValueError as exc:
        parser.print_usage(sys.stderr)
        print(f"sklearn-mtl {args.command}: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
