"""The ``sklearn-mtl`` command: compare sharing against single-task models, tune, list datasets.

    sklearn-mtl compare                      # generator (related, unrelated tasks), then census
    sklearn-mtl compare --data census --models hard,mmoe,lgbm --cv 3 --out results/
    sklearn-mtl tune --data census --model mmoe --n-trials 30 --storage sqlite:///tune.db
    sklearn-mtl datasets

Only the standard library is imported before the arguments are parsed: numpy, pandas, torch
and LightGBM load inside the subcommand that needs them, so ``--help``, ``--version`` and usage
errors answer at once.

The parser, its argument types and the error handling live here; one module per concept:
``_data`` (``--data``, ``--out`` and the schema printout), ``_compare``, ``_tune`` and
``_datasets`` (one per subcommand), ``_where`` (``compare --segments / --fused / --domains``),
``_curve`` (``compare --train-sizes``), ``_progress`` (the progress bars); ``__main__`` makes
``python -m sklearn_mtl.cli`` the command.
"""

from __future__ import annotations

import argparse
import sys

from .._architectures import ARCHITECTURES
from .._version import __version__
from ._compare import cmd_compare
from ._curve import train_sizes
from ._data import BUILTIN_DATA, describe_schema
from ._datasets import cmd_datasets
from ._tune import cmd_tune

__all__ = ["build_parser", "cmd_compare", "cmd_datasets", "cmd_tune", "describe_schema", "main"]

MODEL_CHOICES = (*ARCHITECTURES, "lgbm")
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


def _parse(text: str, cast, what: str):
    try:
        return cast(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not {what}") from None


def _positive_int(text: str) -> int:
    value = _parse(text, int, "an integer")
    if value < 1:
        raise argparse.ArgumentTypeError(f"{value} must be >= 1")
    return value


def _fold_count(text: str) -> int:
    value = _positive_int(text)
    if value < 2:
        raise argparse.ArgumentTypeError(f"{value} fold is not cross-validation: use at least 2")
    return value


def _positive_float(text: str) -> float:
    value = _parse(text, float, "a number")
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
    parser.add_argument("--data-home", default=None, help="data folder (default: $SKLEARN_MTL_DATA, else "
                        "~/sklearn_mtl_data)")
    parser.add_argument("--download", action="store_true", help="download missing data files")
    parser.add_argument("--n-rows", type=_positive_int, default=None,
                        help="use a random subset of this many rows (compare with no --data: "
                        "the rows of each setting, default 3,000 generated and 4,000 census)")
    parser.add_argument("--categorical", type=_column_list, default=None, metavar="COL1,COL2",
                        help="columns the nets embed (besides text and category columns), "
                        "instead of the automatic rule (integer columns named like an id: "
                        "user_id, itemId, ...)")
    parser.add_argument("--tasks", type=_task_kinds, default=None, metavar="NAME=KIND,...",
                        help="kind of some tasks (binary, multiclass, regression); the others "
                        "are inferred, e.g. --tasks rating=regression")
    parser.add_argument("--quiet", action="store_true",
                        help="no progress bars and no per-trial lines (the schema is still printed)")
    parser.add_argument("--progress", choices=("auto", "bar", "lines", "none"), default="auto",
                        help="progress of the fits on stderr: bars on a terminal, one line per "
                        "finished fit in a file or pipe (auto, the default), or none")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="sklearn-mtl",
        description="Does a shared multi-task net beat one model per task on your data, "
        "or does sharing hurt some task (negative transfer)?",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    cmp = sub.add_parser(
        "compare",
        help="per-task scores of multi-task models against the single-task reference",
        description="Train every model and the single-task reference on the same repeated folds; "
        "print per task the delta against the reference with its interval (simultaneous "
        "over the report's tests, Bonferroni), the adjusted p-value of the corrected resampled "
        "t-test and the verdict read off the interval (worse, worse within margin, better, "
        "equivalent, inconclusive), then one line per model: can ship, cannot ship or "
        "undecided, with every task's outcome; write summary.csv, "
        "overall.csv, scores.csv, negative_transfer.png and report.html (the whole report on "
        "one page that opens offline) into --out, and name every file written on the last "
        "lines. With no --data, runs three settings, each file prefixed with its setting: the "
        "built-in generator twice (related_: related tasks, correlation 0.9; unrelated_: "
        "unrelated tasks, correlation 0.0, through a one-unit shared bottom), on which lgbm "
        "trails by construction, then census_: 4,000 census rows, real data where trees and "
        "nets are both at home (skipped, with a note, when the data folder lacks census).",
    )
    _add_data_arguments(cmp, None, "the generator's related and unrelated tasks, then "
                         "4,000 census rows")
    cmp.add_argument("--models", type=_model_list, default=["hard", "mmoe", "lgbm"],
                     help="comma-separated subset of %(choices)s (default: hard,mmoe,lgbm)"
                     .replace("%(choices)s", ",".join(MODEL_CHOICES)))
    cmp.add_argument("--cv", type=_fold_count, default=3, help="number of folds (default: 3)")
    cmp.add_argument("--repeats", type=_positive_int, default=2,
                     help="repeats of the folds, each with new seeds (default: 2)")
    cmp.add_argument("--train-sizes", type=train_sizes, default=None, metavar="SIZES",
                     help="also the verdict at these training sizes, e.g. 2000,8000,32000 rows "
                     "per split or 0.1,0.5,1 (fractions): each split's training rows "
                     "subsampled, its test rows kept; prints where sharing stops paying and "
                     "writes curve_summary.csv, crossover.csv, learning_curve.png and "
                     "curve.html (transfer_curve)")
    cmp.add_argument("--sequential", action="store_true",
                     help="add the repeats one at a time (up to --repeats) and stop once every "
                     "verdict is settled; O'Brien-Fleming-type alpha spending keeps the "
                     "verdicts' family-wise error at alpha (compare_transfer(sequential=True))")
    cmp.add_argument("--max-epochs", type=_positive_int, default=None,
                     help="epochs for the nets (default: 30 on the generator, 20 otherwise)")
    cmp.add_argument("--n-jobs", type=int, default=None,
                     help="parallel (model, fold) fits (joblib); LightGBM then uses half of "
                     "each worker's share of the cores, else half of the machine's")
    cmp.add_argument("--group-by", default=None, metavar="COLUMN",
                     help="score binary tasks by per-user AUC (gauc) over this column of X, "
                     "e.g. user_id; users with one class only are skipped")
    cmp.add_argument("--segments", action="append", default=None, metavar="SEGMENTS",
                     help="the verdict again per segment of the test rows: a column of X "
                     "(education), COLUMN:N (a numeric column in N quantile bins, age:4), "
                     "COLUMN:activity (cold / warm / heavy ids by their training rows, "
                     "item_id:activity) or user_activity (the users of --group-by); repeat for "
                     "several; writes segments.csv and segments.png")
    cmp.add_argument("--fused", action="append", default=None, metavar="FORMULA",
                     help="the served score, compared like a task: a product along a cascade "
                     "(click*purchase, judged on the last task's label) or a weighted sum "
                     "(click+2*like), scored per user of --group-by by GAUC (or FORMULA:ndcg@10)")
    cmp.add_argument("--domains", default=None, metavar="COLUMN",
                     help="one model for all domains against one model per domain (the first "
                     "of --models cloned per value of COLUMN: the reference), per domain and task "
                     "on the same folds")
    cmp.add_argument("--params", action="append", default=None, metavar="[MODEL=]FILE",
                     help="best_params.json written by 'sklearn-mtl tune' (its model is read "
                     "from the file, or given as MODEL=FILE); repeat for several models; "
                     "'single' sets the reference's parameters. Tuned on the compared rows it "
                     "biases the verdict (a warning says so): use --tune for that")
    cmp.add_argument("--tune", type=_positive_int, default=None, metavar="N",
                     help="nested tuning: every model and the reference get an Optuna study of N "
                     "trials in each split, on its training rows only (a fair verdict: the best "
                     "of each side); writes tuning.csv")
    cmp.add_argument("--tune-timeout", type=_positive_float, default=None, metavar="S",
                     help="with or instead of --tune: a time budget of S seconds per study, the "
                     "same for every model")
    cmp.add_argument("--storage", default=None, metavar="DIR",
                     help="keep each finished fit (and nested study) in DIR; the same command "
                     "again after a crash fits only what is missing (with the built-in "
                     "settings of the run with no --data, DIR/related, DIR/unrelated and "
                     "DIR/census)")
    cmp.add_argument("--out", default="sklearn-mtl-results",
                     help="output folder, created if missing (default: %(default)s)")
    cmp.add_argument("--seed", type=int, default=0)
    cmp.add_argument("--task-weights", choices=("none", "uncertainty", "gradnorm", "dwa"),
                     default="none", help="loss weighting of the multi-task nets (default: none)")
    cmp.add_argument("--gradient-method", choices=("none", "pcgrad", "cagrad"), default="none",
                     help="gradient surgery on the shared parameters of the multi-task nets")
    cmp.add_argument("--task-affinity", action="store_true",
                     help="measure the lookahead task affinity; print proposed task groups and "
                     "write task_affinity.png")
    cmp.add_argument("--cascade-scoring", choices=("entire_space", "parent_positive"),
                     default="entire_space",
                     help="how a cascaded child (esmm: purchase after click) is scored: over every "
                     "test row, read 0 where its parent is 0 (entire_space, the default), or on "
                     "the rows whose parent is 1 (parent_positive, a cascade's conditional "
                     "probability against a reference trained on those rows); the report's "
                     "header and report.html say which")

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
    tun.add_argument("--out", default="sklearn-mtl-tune",
                     help="output folder, created if missing (default: %(default)s)")
    tun.add_argument("--seed", type=int, default=0,
                     help="seeds the sampler, the hold-out split and the model (default: 0)")

    sub.add_parser(
        "datasets",
        help="list the data sets and where each is looked for",
        description="List the fetchers and the files each reads from the data folder.",
    )
    return parser


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
            print("sklearn-mtl: pass --download to fetch it, or --data-home DIR (or set "
                  "SKLEARN_MTL_DATA=DIR) for a folder that has it", file=sys.stderr)
        return 1
    except ValueError as exc:
        parser.print_usage(sys.stderr)
        print(f"sklearn-mtl {args.command}: error: {exc}", file=sys.stderr)
        return 2

