"""compare_transfer: train every model and the single-task reference on the same folds."""

from __future__ import annotations

import warnings
from functools import partial

import numpy as np
import pandas as pd
from joblib import Parallel, delayed
from sklearn.utils.validation import _num_samples

from .._checks import in_range
from .._fingerprint import fingerprint
from .._pipeline import final_step
from .._resampling import cv_splits, derived_seed, name_key
from .._routing import fit_params_for, uses_groups
from .._validation import resolve_groups, resolve_sample_weight
from ..metrics import is_grouped, resolve_metrics
from ..tasks import TargetEncoder, as_target_frame
from ._cascade import CASCADE_SCORINGS, comparison_cascade, read_labels
from ._fused import resolve_fused
from ._jobs import _check_tune, _fit_and_score, _stored, _tune_fit_and_score
from ._reference import (
    REFERENCES,
    _default_reference,
    _is_multitask,
    _matched_reference,
    _shares_parameters,
    _task_declarer,
)
from ._report import (
    _AFFINITY_COLUMNS,
    _CONFLICT_COLUMNS,
    REFERENCE,
    TUNING_COLUMNS,
    TransferReport,
)
from ._segments import (
    extras_identity,
    reads_groups,
    resolve_segments,
    segment_frame,
    split_labels,
    with_extras,
)
from ._sequential import check_sequential, run_looks
from ._stats import CORRECTIONS, TESTS
from ._storage import FitStore, describe, seed_of, splits_fingerprint
from ._text import suspect_line


def _check_choice(name, value, options):
    if value not in options:
        raise ValueError(f"{name}={value!r} is not valid: use one of {list(options)}.")


def compare_transfer(models: dict, X, Y, *, reference=None, cv=5, n_repeats: int | None = None,
                     metric="auto", test: str = "corrected", correction: str | None = "bonferroni",
                     alpha: float = 0.05, margin=None, n_jobs: int | None = None,
                     random_state=None, return_estimators: bool = False,
                     verbose: int = 0, groups=None, sample_weight=None, segments=None, fused=None, tune=None,
                     storage=None, cascade_scoring: str = "entire_space",
                     sequential: bool | str = False) -> TransferReport:
    """Train every model and the single-task reference on the same folds and compare per task.

    Parameters
    ----------
    models : dict of str -> estimator
        Multi-task estimators (``MultiTaskRecommender``, ``PerTaskLGBM`` or a Pipeline ending in
        one), by the name the report shows. ``"reference"`` is reserved for the reference.
    X : array-like, sparse matrix or DataFrame of shape (n_samples, n_features)
    Y : array-like or DataFrame of shape (n_samples, n_tasks) or (n_samples,)
        Targets; NaN is a missing label. One task is allowed.
    reference : estimator, "per-task" or "matched", default=None
        The single-task reference, named ``"reference"`` in the report. ``None`` or
        ``"per-task"``: a clone of the first ``MultiTaskRecommender`` in ``models`` (the last
        step of a Pipeline, whose other steps are kept) with ``architecture="single"``: the same
        settings, each task with the full width of the net's bottom. ``"matched"``: the same,
        with the per-task bottoms narrowed so that the reference's trainable parameters match
        that net's within ±10 % (a warning when no width does). An estimator is used as given;
        required when ``models`` holds no ``MultiTaskRecommender``.
    cv : int, splitter or iterable of (train, test) indices, default=5
        An int gives ``KFold(cv, shuffle=True)`` seeded from ``random_state``. A splitter that
        needs ``y`` receives the labels of the first task without missing labels (so
        ``StratifiedKFold`` stratifies on it; a warning names the task when it is not the
        first); a group splitter receives ``groups``. Folds given as index arrays must be
        positions of the rows.
    n_repeats : int, default=None
        Draw the folds this many times (reshuffled: an int ``cv`` or a shuffling splitter;
        otherwise the same folds, with a warning). None: 2 when the folds can be redrawn, 1
        for a splitter that does not shuffle or a list of folds. Every (repeat, fold)
        refits each model with its own seed, derived from the model's integer
        ``random_state`` parameters (models without one stay unseeded), so seed luck is part of
        the noise the test sees, not a difference between models. The calibration of
        ``benchmarks/bench_calibration.py`` (1,000 null data sets, 5 folds × 2 repeats) finds a
        false outcome in 3.2 % [2.3, 4.5] of reports at alpha 0.05 (docs/negative-transfer.md,
        "Calibration").
    metric : str, list or dict, default="auto"
        As in :func:`sklearn_mtl.metrics.per_task_scores`; resolved per task from the task
        kinds of the fitted models, which must agree.
    test : {"corrected", "ttest", "wilcoxon"}, default="corrected"
        The paired test over the ``cv * n_repeats`` splits: the corrected resampled t-test
        (Nadeau & Bengio, 2003); ``"ttest"`` and ``"wilcoxon"`` ignore that the training sets
        overlap and are anti-conservative (too many false verdicts).
    correction : {"bonferroni"} or None, default="bonferroni"
        How the report's intervals are made simultaneous. ``"bonferroni"``: each of the ``m``
        tested (model, task) intervals is built at level ``1 - alpha/m``, so all of them cover
        their true deltas together with probability at least ``1 - alpha``, and every outcome
        is read off its printed interval (worse, worse within margin, better, equivalent,
        inconclusive, and each model's ship decision): the chance that the report states
        anything false is at most ``alpha``, whatever the outcome (shown by simulation in
        ``benchmarks/bench_calibration.py``). The per-model mean over tasks (``overall()``)
        is a separate family over the models. ``None``: each interval at ``1 - alpha``.
    alpha : float, default=0.05
        The family-wise error of the report's outcomes (with ``correction=None``, of each).
    margin : float or dict, default=None
        The smallest delta that matters: a loss inside ``±margin`` is one a team can ship
        ("worse within margin", "equivalent", non-inferior). Default per metric: 0.005 for
        ROC AUC, GAUC, average precision and accuracy, 0.01 for R² and NDCG, 1 % of the
        reference's mean for log_loss, rmse and mae. A dict ``{task: margin}`` sets some tasks
        (the others keep their metric's default).
    n_jobs : int, default=None
        Parallel (model, split) fits through joblib: under ``joblib.parallel_backend("dask")``
        with a ``dask.distributed.Client`` they run on the cluster's workers.
    random_state : int, default=None
        Seeds the folds of an int ``cv`` (the models keep their own ``random_state``).
    return_estimators : bool, default=False
        Keep the fitted models in ``report.estimators[(name, split)]``.
    verbose : int, default=0
        Passed to joblib (progress of the fits).
    groups : array-like of shape (n_samples,), str or None, default=None
        The user of each row (or the name of that column of ``X``). As in scikit-learn's
        ``cross_validate`` it reaches the splitter: a group splitter (``cv=GroupKFold(5)``,
        ``LeaveOneGroupOut()``) keeps each user's rows in one fold (a cold-user protocol,
        which the report's header states), other splitters and an int ``cv`` ignore it. The
        per-user metrics ``"gauc"`` and ``"ndcg@k"`` score each test fold user by user with
        it. When neither reads it, a warning says so. With ``tune=`` the nested studies get
        the users of their rows too.
    sample_weight : array-like of shape (n_samples,), default=None
        Row weights for every fit (each split's training rows, and each nested trial's), as
        ``cross_validate(params={"sample_weight": w})``: with scikit-learn's metadata routing
        enabled, a model receives them only if it requests them
        (``model.set_fit_request(sample_weight=True)``, or each step of a Pipeline as it asks)
        and an unset request is an error; without routing every model's ``fit`` (a Pipeline's
        last step) receives them. The test folds are scored unweighted.
    segments : str, array-like, callable, ActivitySegments or dict, default=None
        Where sharing hurts: the comparison again on each segment of every split's test rows
        (``report.segments()``, ``report.plot_segments()``; the text and the HTML page show
        it). A column name of ``X`` (a department, an education level), an array of one value
        per row (the caller's metadata), a callable ``f(X)`` giving one, ``"user_activity"``
        (cold / warm / heavy users of ``groups=`` by their rows among each split's *training*
        rows, :class:`ActivitySegments`; ``ActivitySegments("item_id")`` for items), or a dict
        ``{name: any of these}`` for several. The models are trained as without it; each fit
        is scored on each segment's test rows, the pairs go through ``test``, and the segment
        intervals are simultaneous over all tested (segment, model, task) triples (Bonferroni,
        a family apart from the report's). A segment with fewer than 30 test rows a split is
        named "too small to test". At most 30 segments per column: bin a numeric one first.
        With ``sequential=``, the segments are read at the look where the compare stopped, at
        the fixed design's level: they do not decide the stop, and their intervals are not
        adjusted for it (read them as exploratory there).
    fused : FusedScore or list of FusedScore, default=None
        The served score: tasks fused into one ranking score (a product along a cascade, or
        a weighted sum with given weights) and scored per user of ``groups=`` by GAUC or NDCG
        on every split's test rows (:class:`FusedScore`). Each is one more row of the report
        per model, tested like a task and counted in its family and ship decision, so that the
        report can say a model wins every task and loses the ranking. Needs ``groups=``.
    tune : None, int or dict, default=None
        Nested tuning, so that the verdict compares the best each side can do rather than one
        configuration of each. ``N``: in every outer split, every model *and* the reference
        get their own Optuna study of ``N`` trials (:func:`sklearn_mtl.tuning.tune`, with its
        default search space for the architecture or for ``PerTaskLGBM``, its 20 % hold-out and
        median pruner) on that split's training rows only; the best trial's parameters are
        refitted on those rows and scored on the split's test rows, which no trial ever sees.
        A dict passes ``tune()``'s arguments: ``n_trials``, ``timeout`` (seconds, the same for
        every model), ``cv`` (inner folds), ``sampler``, ``pruner`` and ``space`` (``{model
        name: search space}``; ``"reference"`` for the reference). The studies are in
        ``report.tuning``. Choosing hyperparameters on the rows that are later scored biases
        the score upward (Cawley & Talbot, JMLR 2010): ``best_params.json`` from
        ``sklearn-mtl tune`` on the same rows must not feed a verdict.
    storage : str, path or None, default=None
        A directory that keeps each finished (model, split) fit, written by the process that
        ran it (a Dask worker included), and the nested studies (``studies.db``), so that the
        same call after a crash or a kill fits only what is missing; ``report.fits_reused``
        says how many fits were taken from it. A call whose data, models' parameters, folds,
        seeds, metric or tuning settings differ from those the directory was written with is
        refused, naming what changed. A file is refused; the directory is created if missing.
        Not with ``return_estimators=True``. A kept study continues to ``n_trials`` trials; a
        ``timeout`` budget starts again for it.
    cascade_scoring : {"entire_space", "parent_positive"}, default="entire_space"
        How a cascaded child (a task some model in ``models`` cascades, ``cascade={child:
        parent}``, ``"esmm"`` or ``"aitm"``) is compared; every model and the reference are
        trained and scored on the child's label as the option reads it, so that they predict
        the same quantity. ``"entire_space"``: the child's label is 0 wherever its parent's is
        0 (as the cascade reads it), on every training and test row; each model is scored by
        ``predict_proba`` on all test rows, which for a cascade is ``P(parent and child | x)``
        (pCTCVR) and for the reference, which has no cascade, its direct model of the child
        over all impressions. ``"parent_positive"``: the child's label is missing wherever its
        parent's is 0; the test rows whose parent is 1 are scored, a cascaded model by
        ``predict_conditional_proba`` (``P(child | parent, x)``, pCVR) and the reference and
        other models without the cascade by ``predict_proba``, having learnt the child on the
        parent's positive rows only (the naive conditional model). Labels are 0/1; rows whose
        parent label is missing keep the child's label as given. The report's header says
        which was used. Without a cascaded model the option changes nothing.
    sequential : bool or {"obrien-fleming", "pocock"}, default=False
        Add the repeats one at a time, up to ``n_repeats``, and stop as soon as no (model, task)
        outcome is "inconclusive" (every ship line is then decided too), or as soon as none of
        those still inconclusive could be settled by the remaining repeats (each interval
        carried to the last look with its mean and an optimistic spread): a clear effect, a
        clear equivalence or a hopeless margin costs fewer fits. ``True`` is
        ``"obrien-fleming"``. Each look (the
        end of a repeat) reads *repeated confidence intervals* (Jennison & Turnbull, JRSS B
        1989): every interval is built at the nominal level a Lan–DeMets alpha-spending
        function (O'Brien–Fleming- or Pocock-type) gives that look, so that each pair's
        intervals cover its true delta at all looks at once with probability ``1 - alpha/m``,
        and the report's outcomes, read at whatever look it stopped, keep a family-wise error
        of at most ``alpha``. A look's information follows the corrected test's variance
        ``(1/J + n_test/n_train) s²``: with 5 folds the first of 2 repeats holds 78 % of it,
        so the intervals at the first look are a little wider than a fixed one-repeat
        design's, and those after all repeats a little wider than the fixed design's
        (``docs/negative-transfer.md``, "Sequential verdicts", has the design and its
        simulation). ``report.scores`` holds the repeats that ran; ``report.sequential`` says
        how many and why it stopped. The stopping look is a function of the scores, so a
        compare resumed from ``storage=`` stops where an uninterrupted one does. Not with
        ``test="wilcoxon"``.

    Returns
    -------
    TransferReport

    Raises
    ------
    ValueError
        ``models`` is not a non-empty dict; a model or the reference is not a multi-task
        estimator; no reference can be derived; X and Y differ in rows; ``cv`` exceeds the number
        of rows; a fitted model has other task names or task kinds than the reference;
        ``cascade_scoring`` is not one of its options; two models cascade one child from
        different parents.

    Warns
    -----
    UserWarning
        Some fold scores are NaN (a task without labels, or with one class, in a test fold):
        those pairs are left out and counted in ``n_pairs``.

    Examples
    --------
    >>> from sklearn_mtl import MultiTaskRecommender, PerTaskLGBM, compare_transfer
    >>> from sklearn_mtl.datasets import make_multitask_data
    >>> X, Y = make_multitask_data(n_samples=600, n_features=8, random_state=0)
    >>> models = {"hard": MultiTaskRecommender("hard", max_epochs=3, random_state=0),
    ...           "lgbm": PerTaskLGBM(n_estimators=20, n_jobs=1, verbose=-1)}
    >>> report = compare_transfer(models, X, Y, cv=3, random_state=0)
    >>> report.summary().index.tolist()
    [('hard', 'task_0'), ('lgbm', 'task_0'), ('hard', 'task_1'), ('lgbm', 'task_1')]
    >>> report.metric
    {'task_0': 'r2', 'task_1': 'r2'}
    """
    if not isinstance(models, dict) or not models:
        raise ValueError(f"models must be a non-empty dict of name -> estimator, got {models!r}.")
    for name, estimator in models.items():
        if name == REFERENCE:
            raise ValueError(f"the name {REFERENCE!r} is taken by the reference; rename that model.")
        if not _is_multitask(estimator):
            raise ValueError(
                f"model {name!r} ({type(final_step(estimator)).__name__}) is not a multi-task "
                "estimator: use MultiTaskRecommender, PerTaskLGBM or a Pipeline ending in one."
            )
    if n_repeats is not None and not in_range(n_repeats, integer=True, low=1):
        raise ValueError(f"n_repeats={n_repeats!r} is not valid: it must be an int >= 1.")
    _check_choice("test", test, TESTS)
    _check_choice("correction", correction, CORRECTIONS)
    _check_choice("cascade_scoring", cascade_scoring, CASCADE_SCORINGS)
    if not 0 < alpha < 1:
        raise ValueError(f"alpha={alpha!r} is not valid: it must be in (0, 1).")
    tuning = _check_tune(tune, [*models, REFERENCE])
    spending = check_sequential(sequential, test)
    frame, _ = as_target_frame(Y)
    n_x = _num_samples(X)
    if n_x != frame.shape[0]:
        raise ValueError(f"X has {n_x} rows but Y has {frame.shape[0]}: they must have the same "
                         "number of rows (one per sample).")
    if isinstance(reference, str):
        _check_choice("reference", reference, REFERENCES)
        reference = (_default_reference(models) if reference == "per-task"
                     else _matched_reference(models, X, Y)[0])
    reference = _default_reference(models) if reference is None else reference
    if not _is_multitask(reference):
        raise ValueError(f"reference ({type(final_step(reference)).__name__}) is not a multi-task "
                         "estimator: use MultiTaskRecommender('single'), PerTaskLGBM or a Pipeline.")
    # A bad column or length fails before fitting.
    group_values = None if groups is None else resolve_groups(groups, X, frame.shape[0])
    sample_weight = resolve_sample_weight(sample_weight, frame.shape[0])
    splits = cv_splits(cv, frame, random_state, n_repeats, group_values)
    n_repeats = max(r for r, _, _ in splits) + 1
    grouped_folds = uses_groups(cv)  # an int or a list of folds is no group splitter
    # Fail on a bad metric before any fit, with the task kinds the reference declares.
    targets = TargetEncoder(_task_declarer(reference).get_params()["tasks"]).fit(Y)
    chosen = resolve_metrics(metric, targets.names_, targets.kinds_)
    segmentations = resolve_segments(segments, X, frame.shape[0], group_values)
    fused_list = resolve_fused(fused, targets.names_, targets.kinds_)
    if fused_list and group_values is None:
        raise ValueError(f"fused={fused!r} scores per user: pass groups= (the user of each row, "
                         "or the name of its column in X).")
    seg_labels = split_labels(segmentations, X, splits, group_values)
    # Every model fits and is scored on the cascaded children as cascade_scoring reads them.
    cascade = comparison_cascade(models, targets.names_, targets.kinds_)
    Y = read_labels(Y, cascade, cascade_scoring)
    conditional = cascade if cascade and cascade_scoring == "parent_positive" else None
    per_user = any(is_grouped(m) for m in chosen)
    if groups is None and per_user:
        raise ValueError(f"metric {metric!r} scores per user: pass groups= (the user of each row, "
                         "or the name of its column in X).")
    if tuning is not None:
        # The studies optimize the report's metrics (per-user ones with the users of their rows).
        tuning = {**tuning, "metric": metric,
                  "groups": per_user or uses_groups(tuning.get("cv"))}
    if groups is not None and not per_user and not grouped_folds and not fused_list \
            and not reads_groups(segmentations):
        warnings.warn(
            f"groups= is not used: cv={cv!r} does not split by groups and no metric is scored "
            "per user. For folds that keep each user's rows together pass cv=GroupKFold(k) "
            "(GroupKFold(k, shuffle=True, random_state=0) to redraw them in each repeat); for "
            "per-user scores use metric='gauc' or 'ndcg@k'.", UserWarning, stacklevel=2)

    jobs = [*models.items(), (REFERENCE, reference)]
    for _, est in jobs:  # an unrequested weight (routing on) fails before any fit
        fit_params_for(est, {"sample_weight": sample_weight}, "compare_transfer")
    store = None
    if storage is not None:
        if return_estimators:
            raise ValueError("return_estimators=True cannot be combined with storage=: fits "
                             "taken from the storage have no fitted model to return.")
        store = FitStore(storage, dict(
            data=fingerprint(X, Y),
            groups=None if group_values is None else fingerprint(group_values),
            sample_weight=None if sample_weight is None else fingerprint(sample_weight),
            models={name: describe(est) for name, est in jobs},
            splits=splits_fingerprint(splits), random_state=describe(random_state),
            metric=describe(metric), tune=describe(tuning),
            **extras_identity(segmentations, fused_list)))
    # Each study gets its own seed, different per split and model, reproducible from
    # random_state; without one, from the user's sampler, so that a seeded sampler copied into
    # every study does not replay one search in all of them. The model enters by its name, not
    # its position: adding, removing or reordering other models leaves its studies as they were.
    study_seed = random_state
    if study_seed is None and tuning is not None and tuning.get("sampler") is not None:
        study_seed = seed_of(tuning["sampler"])
    try:
        results, todo = {}, []
        for split, (_, train, rows) in enumerate(splits):
            for k, (name, est) in enumerate(jobs):
                kept = None if store is None else store.get(name, split)
                if kept is not None:
                    results[split, k] = kept
                elif tuning is None:
                    todo.append(((split, k), delayed(_stored)(
                        store, with_extras(_fit_and_score, seg_labels[split], fused_list),
                        name, est, X, Y, train, rows, split, metric,
                        targets.names_, return_estimators, group_values, sample_weight,
                        conditional)))
                else:
                    seed = None if study_seed is None else derived_seed(
                        study_seed, split, name_key(name))
                    todo.append(((split, k), delayed(_stored)(
                        store, with_extras(_tune_fit_and_score, seg_labels[split], fused_list),
                        name, est, X, Y, train, rows, split, metric,
                        targets.names_, return_estimators, group_values, sample_weight, tuning, seed,
                        None if store is None else store.studies_url, conditional)))
        if spending is None:
            fits_reused = len(results)
            done = Parallel(n_jobs=n_jobs, verbose=verbose)(task for _, task in todo)
        else:  # repeat by repeat until every verdict is settled (_sequential.py)
            looks = run_looks(results, todo, splits, Parallel(n_jobs=n_jobs, verbose=verbose),
                              spending, partial(
                                  TransferReport, test=test, correction=correction, alpha=alpha,
                                  margin=margin, shared={name: _shares_parameters(est)
                                                         for name, est in models.items()}),
                              REFERENCE)
            results, todo, done = looks["results"], [], []
            fits_reused, splits = looks["fits_reused"], splits[:looks["n_splits"]]
            n_repeats = looks["sequential"]["repeats_run"]
    finally:
        if store is not None:
            store.close()
    results.update({key: r for (key, _), r in zip(todo, done)})
    results = [results[key] for key in sorted(results)]
    for r in results:
        if r["scores"] is None:
            raise ValueError(
                f"model {r['name']!r} was fitted on tasks {r['names']} but Y has tasks "
                f"{targets.names_}; every model and the reference must see the same task set."
            )
    reference_run = next(r for r in results if r["name"] == REFERENCE)
    rows, estimators, cosines, affinities, n_params = [], {}, [], [], {}
    for r in results:
        if r["metrics"] != reference_run["metrics"]:
            raise ValueError(
                f"model {r['name']!r} treats the tasks as {r['kinds']} (scored with {r['metrics']}) "
                f"but the reference treats them as {reference_run['kinds']} (scored with "
                f"{reference_run['metrics']}); give every model the same tasks=."
            )
        repeat = splits[r["fold"]][0]
        rows += [dict(model=r["name"], task=t, repeat=repeat, fold=r["fold"], score=s)
                 for t, s in r["scores"].items()]
        cosines += r["cosines"]
        affinities += r["affinities"]
        n_params.setdefault(r["name"], []).append(r["n_params"])
        if return_estimators:
            estimators[(r["name"], r["fold"])] = r["model"]
    scores = pd.DataFrame(rows, columns=["model", "task", "repeat", "fold", "score"])
    studies = None
    if tuning is not None:
        studies = pd.DataFrame([r["tuning"] for r in results], columns=TUNING_COLUMNS)
    metrics = {**dict(zip(targets.names_, reference_run["metrics"])),
               **{f.name: f.metric for f in fused_list}}
    _warn_nan_scores(scores, metrics)
    report = TransferReport(
        scores,
        metric=metrics,
        n_folds=len(splits) // int(n_repeats),
        n_repeats=int(n_repeats),
        estimators=estimators if return_estimators else None,
        gradient_conflict=pd.DataFrame(cosines, columns=_CONFLICT_COLUMNS),
        task_affinity=pd.DataFrame(affinities, columns=_AFFINITY_COLUMNS),
        shared={name: _shares_parameters(est) for name, est in models.items()},
        # The corrected test's n_test / n_train, averaged over the splits (equal for K-fold).
        test_train_ratio=float(np.mean([len(te) / len(tr) for _, tr, te in splits])),
        grouped=grouped_folds, tuning=studies, fits_reused=fits_reused,
        # Embeddings can differ by a few rows' categories between splits: the mean is reported.
        n_params={m: float(np.mean(v)) for m, v in n_params.items()},
        test=test, correction=correction, alpha=alpha, margin=margin,
        cascade=cascade, cascade_scoring=cascade_scoring,
        segment_scores=segment_frame(results, splits, segmentations, X, group_values),
        fused=[f.name for f in fused_list],
        reference_label=getattr(final_step(reference), "_reference_label", lambda: None)(),
        sequential=None if spending is None else looks["sequential"],
    )
    suspect = suspect_line(report)
    if suspect:
        warnings.warn(suspect[0].upper() + suspect[1:], UserWarning, stacklevel=2)
    return report


def _warn_nan_scores(scores: pd.DataFrame, metrics: dict) -> None:
    missing = scores[scores["score"].isna()]
    if len(missing):
        where = ", ".join(f"{m} on {t}: {n}" for (m, t), n in
                          missing.groupby(["model", "task"], sort=False).size().items())
        per_user = sorted({t for t in missing["task"] if is_grouped(metrics[t])}, key=str)
        why = "a test fold without labels or with one class for that task"
        if per_user:
            why += (f" (for the per-user {', '.join(f'{metrics[t]} of {t!r}' for t in per_user)}:"
                    " a test fold in which every user has a single class)")
        warnings.warn(
            f"{len(missing)} of {len(scores)} fold scores are NaN ({where}): {why}. Those pairs "
            "are left out of the tests; see n_pairs in the summary.", UserWarning, stacklevel=3)
