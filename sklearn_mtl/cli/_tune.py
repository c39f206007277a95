"""``sklearn-mtl tune``: an Optuna search over one model's hyper-parameters."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from ._data import _categorical, _check_out_folder, _load, describe_schema


def _check_storage(storage: str | None) -> None:
    """A bad --storage fails before the data are loaded, not after a SQLAlchemy traceback."""
    if storage is not None:
        from ..tuning import check_storage_url

        check_storage_url(storage)


def cmd_tune(args) -> int:
    import pandas as pd

    from .._fingerprint import fingerprint
    from ..tuning import tune

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
        from .._lgbm import PerTaskLGBM

        # A validation split lets the pruner stop a trial between boosting rounds.
        model = PerTaskLGBM(tasks=tasks, validation_fraction=0.1, random_state=args.seed)
    else:
        from .._recommender import MultiTaskRecommender

        extra = {} if args.max_epochs is None else {"max_epochs": args.max_epochs}
        from ._progress import Bars, FitProgress, progress_mode  # tqdm, skorch: when run only

        if progress_mode(args.progress, args.quiet) == "bar":
            # Epochs of the trial in progress; the per-trial lines give the trials' progress
            # (and are all a log file gets).
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
    from .._csv import write_csv

    write_csv(result.study.trials_dataframe(), out / "trials.csv", index=False)
    written = ["trials.csv"]
    if result.best_trial_ is None:
        print("\nno trial completed", file=sys.stderr)
        return 1
    states = pd.Series([t.state.name for t in result.study.trials]).value_counts()
    print(f"\nstudy {result.study.study_name!r}: "
          + ", ".join(f"{n} {state.lower()}" for state, n in states.items()))
    if result.multi_objective_:
        front = result.pareto_front()
        write_csv(front, out / "pareto_front.csv", index=False)
        written.append("pareto_front.csv")
        print(f"Pareto front ({len(front)} trials):")
        print(front.to_string(index=False))
    print(f"best trial {result.best_trial_.number}: score {result.best_score_}, "
          f"per task {result.best_trial_.user_attrs.get('scores')}")
    print(f"best parameters: {result.best_params_}")
    with open(out / "best_params.json", "w") as f:
        json.dump({"model": args.model, "data_fingerprint": fingerprint(X, Y),
                   "trial": result.best_trial_.number,
                   "score": result.best_score_,
                   "scores": result.best_trial_.user_attrs.get("scores"),
                   "params": result.best_params_}, f, indent=2, default=str)
    written.append("best_params.json")
    print(f"\nwrote {', '.join(written)} to {out.resolve()}")
    return 0
