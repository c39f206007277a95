"""``sklearn-mtl compare``: the models, the single-task reference and the negative-transfer report."""

from __future__ import annotations

import json
import textwrap
import time
import warnings
from pathlib import Path

from .._architectures import REFERENCE_ARCHITECTURE
from ._data import _categorical, _check_out_folder, _load, describe_schema
from ._where import where_files, where_options, write_where


def _read_params(entries, models: list[str], fingerprint: str | None = None) -> dict[str, dict]:
    """{model: parameters} from ``--params [MODEL=]FILE`` (best_params.json of ``tune``).

    A file tuned on the very rows being compared (same ``data_fingerprint``) gets a warning:
    its hold-out was drawn from the rows the verdict's test folds score.
    """
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
        if name not in (*models, REFERENCE_ARCHITECTURE):
            raise ValueError(f"--params {entry}: model {name!r} is not compared "
                             f"(--models {','.join(models)})")
        if fingerprint is not None and content.get("data_fingerprint") == fingerprint:
            warnings.warn(
                f"--params {path} was tuned on these same rows (data fingerprint {fingerprint}): "
                "every test fold of the comparison helped choose those parameters, for this "
                "model only, which biases the verdict in its favour. Use --tune N instead: each "
                "model and the reference are then tuned inside every split, on its training "
                "rows, with the same budget.", UserWarning, stacklevel=2)
        # JSON has no tuples: layer widths come back as lists.
        out[name] = {k: tuple(v) if isinstance(v, list) else v for k, v in params.items()}
    return out


def _models(names, tasks, max_epochs, seed, categorical="auto", params=None, progress=None,
            balancing=None, **net):
    from .._lgbm import PerTaskLGBM
    from .._recommender import MultiTaskRecommender

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
                   **((balancing or {}) if name != REFERENCE_ARCHITECTURE else {})}
            ).set_params(**params.get(name, {}))
    return models


def _reference(tasks, max_epochs, seed, categorical="auto", params=None, progress=None, **net):
    from .._recommender import MultiTaskRecommender

    return MultiTaskRecommender(
        REFERENCE_ARCHITECTURE, tasks=tasks, categorical_features=categorical,
        callbacks=None if progress is None else [progress("reference")],
        **{"max_epochs": max_epochs, "lr": 3e-3, "random_state": seed, **net},
    ).set_params(**(params or {}).get(REFERENCE_ARCHITECTURE, {}))


def _described(model) -> str:
    """The model's class and the parameters it sets (scikit-learn's short repr), without the
    progress callbacks the command adds."""
    import inspect

    defaults = {name: p.default for name, p in
                inspect.signature(type(model).__init__).parameters.items()}
    changed = []
    for name, value in model.get_params(deep=False).items():
        if name == "callbacks":
            continue
        # The architecture is always named, its default too: it is what a reader looks for.
        default = inspect.Parameter.empty if name == "architecture" else defaults.get(
            name, inspect.Parameter.empty)
        try:
            same = type(value) is type(default) and bool(value == default)
        except (TypeError, ValueError):  # arrays and other values without one truth value
            same = False
        if not same:
            changed.append(f"{name}={value!r}")
    return f"{type(model).__name__}({', '.join(changed)})"


def _budget(args) -> str:
    """The nested tuning's budget of each study, as --tune and --tune-timeout give it."""
    return " and ".join(part for part in (f"{args.tune} trials" if args.tune else "",
                                          f"{args.tune_timeout:g} s" if args.tune_timeout else "")
                        if part)


def _html_settings(data: str, X, schema: str, models: dict, reference, args, tune) -> dict:
    """What report.html states that the report itself cannot know."""
    settings = {"data": data, "rows": f"{len(X):,} rows, {X.shape[1]} feature columns",
                "schema": [line.strip() for line in schema.splitlines()[1:]],
                "models": {**{n: _described(m) for n, m in models.items()},
                           "reference": _described(reference)},
                "seed": f"{args.seed}: the folds (compare_transfer's random_state) and the models' "
                        "random_state, from which each split derives its own model seeds"}
    if tune is not None:
        settings["tuning budget"] = (f"every model and the reference get {_budget(args)} in each split, "
                              "on its training rows (default search spaces, 20% hold-out, median "
                              "pruner)")
    if args.group_by is not None:
        settings["groups"] = f"binary tasks scored by per-user AUC (gauc) over {args.group_by!r}"
    return settings


def _compare_one(title, X, Y, tasks, args, out: Path, stem: str, data: str, *,
                 default_epochs: int, note: str | None = None, **net):
    from .._csv import write_csv
    from ..transfer import compare_transfer

    max_epochs = args.max_epochs or default_epochs
    names = ([m for m in args.models if m != REFERENCE_ARCHITECTURE]
             or [REFERENCE_ARCHITECTURE])
    from .._fingerprint import fingerprint  # the digest storage= keys its fits by

    params = _read_params(args.params, names, fingerprint(X, Y) if args.params else None)
    tune = None
    if args.tune is not None or args.tune_timeout is not None:
        tune = {"n_trials": args.tune, "timeout": args.tune_timeout}
    categorical = _categorical(args)
    if args.group_by is not None and not (hasattr(X, "columns") and args.group_by in X.columns):
        raise ValueError(f"--group-by {args.group_by!r} is not a column of X")
    from ._progress import Bars, FitProgress, progress_mode  # tqdm and skorch: when run only

    # One process draws the bars; worker processes (--n-jobs > 1) get joblib's lines instead.
    # (Nested studies fit many more nets than the bars count: they print nothing instead.)
    mode = progress_mode(args.progress, args.quiet)
    in_process = args.n_jobs in (None, 1) and mode != "none" and tune is None
    bars = None
    if in_process:
        n_nets = sum(m != "lgbm" for m in names) + 1
        bars = Bars(n_nets * args.cv * args.repeats, desc="net fits", mode=mode)

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
    if tune is not None:
        print(f"  nested tuning: every model and the reference get {_budget(args)} in each split, "
              "on its training rows (default search spaces, 20% hold-out, median pruner)",
              flush=True)
    schema = describe_schema(X, Y, tasks, categorical)
    print(schema, flush=True)
    if note:
        print(textwrap.fill(note, 100, initial_indent="  ", subsequent_indent="  "), flush=True)
    for name, given in params.items():
        print(f"  {name} parameters from --params: {given}")
    extra = {}
    if args.group_by is not None:
        extra = {"metric": _grouped_metric(Y, tasks), "groups": args.group_by}
        print(f"  binary tasks scored by per-user AUC (gauc) over {args.group_by!r}", flush=True)
    reference = _reference(tasks, max_epochs, args.seed, categorical, params, progress, **net)
    X, Y, reference, where = where_options(args, X, Y, models, reference)
    _check_drawable(title, list(models), Y, tasks)
    start = time.perf_counter()
    try:
        report = compare_transfer(
            models, X, Y, reference=reference,
            cv=args.cv, n_repeats=args.repeats, n_jobs=args.n_jobs, random_state=args.seed,
            verbose=0 if (mode == "none" or in_process) else 10, tune=tune,
            sequential=args.sequential,
            cascade_scoring=args.cascade_scoring,
            storage=None if args.storage is None else Path(args.storage) / stem.rstrip("_"),
            **extra, **where,
        )
    finally:
        if bars is not None:
            bars.close()
    reused = f", {report.fits_reused} fits taken from --storage" if report.fits_reused else ""
    print(f"   done in {time.perf_counter() - start:.0f} s{reused}\n")
    print(report)
    out.mkdir(parents=True, exist_ok=True)
    write_csv(report.summary(), out / f"{stem}summary.csv")
    write_csv(report.overall(), out / f"{stem}overall.csv")
    write_csv(report.scores, out / f"{stem}scores.csv", index=False)
    if report.tuning is not None:
        write_csv(report.tuning, out / f"{stem}tuning.csv", index=False)
    ax = report.plot(title=title)
    ax.figure.savefig(out / f"{stem}negative_transfer.png", dpi=120, bbox_inches="tight")
    write_where(report, out, stem, title)
    import matplotlib.pyplot as plt

    plt.close(ax.figure)
    if args.task_affinity and len(report.task_affinity):
        from ..affinity import propose_task_groups

        for model in dict.fromkeys(report.task_affinity["model"]):
            groups = propose_task_groups(report.affinity_matrix(model), n_groups=2)
            print(f"{model}: proposed task groups (at most 2 networks): {groups}")
        ax = report.plot_affinity()
        ax.figure.savefig(out / f"{stem}task_affinity.png", dpi=120, bbox_inches="tight")
        plt.close(ax.figure)
    report.to_html(out / f"{stem}report.html", title=title,
                   settings=_html_settings(data if note is None else f"{data}. {note}", X, schema,
                                           models, reference, args, tune))
    if args.train_sizes is not None:
        from ._curve import write_curve  # fresh models: the progress bars counted one compare

        write_curve(title, _models(names, tasks, max_epochs, args.seed, categorical, params,
                                   None, balancing, **net),
                    _reference(tasks, max_epochs, args.seed, categorical, params, None, **net),
                    X, Y, args, out, stem, tune, extra,
                    _html_settings(data, X, schema, models, reference, args, tune))
    return report


def _written(out: Path, stem: str, report, args) -> list[Path]:
    """The files one setting wrote into ``out``, in the order they were written."""
    from ._curve import CURVE_FILES

    names = ["summary.csv", "overall.csv", "scores.csv",
             *(["tuning.csv"] if report.tuning is not None else []), "negative_transfer.png",
             *where_files(report),
             *(["task_affinity.png"] if args.task_affinity and len(report.task_affinity) else []),
             "report.html", *(CURVE_FILES if args.train_sizes is not None else [])]
    return [out / f"{stem}{name}" for name in names]


def _check_drawable(title: str, models: list, Y, tasks) -> None:
    """Draw the report's figure for these model and task names on placeholder scores, so that a
    name the figure cannot take fails now, not after every fit has run."""
    import io

    import matplotlib.pyplot as plt
    import pandas as pd

    from ..tasks import TargetEncoder
    from ..transfer import TransferReport

    names = list(TargetEncoder(tasks).fit(Y).names_)
    rows = [{"model": model, "task": task, "fold": fold, "score": 0.5 + 0.01 * fold + 0.001 * i}
            for i, model in enumerate([*models, "reference"]) for task in names
            for fold in range(3)]
    report = TransferReport(pd.DataFrame(rows), metric=dict.fromkeys(names, "roc_auc"), n_folds=3)
    try:
        ax = report.plot(title=title)
        try:
            ax.figure.savefig(io.BytesIO(), format="png")
        finally:
            plt.close(ax.figure)
    except Exception as exc:  # whatever matplotlib raises, say which names before any fit
        raise ValueError(f"the report's figure cannot draw the models {models} and tasks "
                         f"{names}: {exc}") from exc


def _ship_summary(report) -> list[str]:
    """One short line per model for the closing block: its ship decision and the tasks that
    decide it (the full lines, with every task's interval, are printed above it)."""
    decisions = report.ship()
    return [f"  {model}: {row['decision']}" + (f" ({', '.join(map(str, row['tasks']))})"
                                               if row["tasks"] else "")
            for model, row in decisions.iterrows()]


def _grouped_metric(Y, tasks) -> dict:
    """gauc for every binary task, the default metric for the others."""
    from ..tasks import TargetEncoder

    targets = TargetEncoder(tasks).fit(Y)
    return {n: "gauc" if k == "binary" else "auto" for n, k in zip(targets.names_, targets.kinds_)}


def _data_description(args) -> str:
    if args.data == "synthetic":
        return "synthetic (make_multitask_data, the MMoE paper's generator)"
    if args.data in ("census", "movielens", "clothing"):
        return f"{args.data} (from {args.data_home or '$SKLEARN_MTL_DATA'})"
    return f"{Path(args.data).resolve()} (targets {args.targets})"


# Why PerTaskLGBM trails on the generator: said where its numbers are printed, lest a reader who
# trusts LightGBM distrust the comparison (measured: a plain 1,000-tree LGBMRegressor, R² 0.43).
GENERATOR_NOTE = (
    "Why lgbm trails here: each task of this generator is one dense projection of all 20 "
    "features passed through a sum of sines (y = wᵀx + Σ sin(αᵢ wᵀx + βᵢ)), a smooth function "
    "a net fits and axis-aligned trees approximate poorly from a few thousand rows (a plain "
    "LGBMRegressor with 1,000 trees also reaches R² ≈ 0.4). On tabular data such as census "
    "(the run's last setting) both families are at home."
)
DEFAULT_CENSUS_ROWS = 4000


def _census_setting(args):
    """The default run's real-data setting: a seeded random slice of census, or None (printed
    why) when its files are not in the data folder."""
    import argparse

    from ..datasets import get_data_home
    from ._data import _load

    n_rows = args.n_rows or DEFAULT_CENSUS_ROWS
    given = argparse.Namespace(**{**vars(args), "data": "census", "n_rows": n_rows, "tasks": None})
    try:
        X, Y, tasks = _load(given)
    except OSError as exc:
        print(f"\n== census: skipped, its files are not in the data folder ({exc})\n"
              "   sklearn-mtl compare --download fetches them; --data-home DIR or "
              "SKLEARN_MTL_DATA=DIR names a folder that has them", flush=True)
        return None
    home = get_data_home(args.data_home)
    data = (f"fetch_census_income (UCI Census-Income KDD, {home}): {len(X):,} rows drawn at "
            f"random with seed {args.seed}; tasks income > 50K and never married")
    return X, Y, tasks, data


def cmd_compare(args) -> int:
    import matplotlib

    matplotlib.use("Agg")
    out = _check_out_folder(args.out)
    written = []
    if args.data is None:
        from ..datasets import make_multitask_data

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
            data = (f"make_multitask_data(n_samples={len(X)}, n_features=20, "
                    f"task_correlation={corr}, random_state={args.seed}): the MMoE paper's "
                    "generator")
            report = _compare_one(title, X, Y, "auto", args, out, stem, data, default_epochs=30,
                                  note=GENERATOR_NOTE if "lgbm" in args.models else None, **net)
            written.append(_written(out, stem, report, args))
            verdicts += [f"{title}:", *_ship_summary(report)]
        # Then real data where trees and nets are both at home, when the data folder has it.
        census = _census_setting(args)
        if census is not None:
            X, Y, tasks, data = census
            title = "census income (KDD): income > 50K and never married"
            report = _compare_one(title, X, Y, tasks, args, out, "census_", data,
                                  default_epochs=20)
            written.append(_written(out, "census_", report, args))
            verdicts += [f"{title}:", *_ship_summary(report)]
        print("\nIn short: can each model replace the single-task reference?\n"
              + "\n".join(verdicts))
    else:
        X, Y, tasks = _load(args)
        report = _compare_one(f"{args.data}", X, Y, tasks, args, out, "", _data_description(args),
                              default_epochs=30 if args.data == "synthetic" else 20)
        written.append(_written(out, "", report, args))
    # One line per setting, naming every file it wrote (the files' names, not a pattern).
    print(f"\nwrote {sum(map(len, written))} files into {out.resolve()}:")
    for files in written:
        print("  " + "  ".join(path.name for path in files))
    return 0
