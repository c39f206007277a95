"""The study around a tuning run: objectives and directions, storage, creation, progress log."""

from __future__ import annotations

import os
import socket
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import optuna
from optuna.storages import BaseStorage, RDBStorage
from optuna.trial import TrialState

from ..metrics import greater_is_better, resolve_metrics

# Study user attribute holding what tune() needs to resume or join a study consistently.
STUDY_ATTR = "sklearn_mtl"


def check_maximize(trial) -> None:
    """Raise ``ValueError`` unless the trial's study maximizes, as the pruning callbacks
    (LightGBM's and the nets') report greater-is-better scores."""
    study = getattr(trial, "study", None)  # a FixedTrial has no study
    if study is not None and study.direction != optuna.study.StudyDirection.MAXIMIZE:
        raise ValueError(
            "The pruning callbacks report scores where greater is better; the study must be "
            "created with direction='maximize'."
        )


def resolve_objectives(objectives, metric, names: list, kinds: list) -> tuple[list[str], bool]:
    """One metric per task, and whether the study is multi-objective (one objective per task)."""
    if isinstance(objectives, str):
        if objectives not in ("mean", "per_task"):
            raise ValueError(
                f"objectives={objectives!r} is not valid: use 'mean', 'per_task' or a list of "
                f"one metric per task (Y has {len(names)} tasks {names})."
            )
        return resolve_metrics(metric, names, kinds), objectives == "per_task"
    try:
        chosen = list(objectives)
    except TypeError:
        raise ValueError(
            f"objectives={objectives!r} is not valid: use 'mean', 'per_task' or a list of metrics."
        ) from None
    if len(chosen) != len(names):
        raise ValueError(
            f"objectives has {len(chosen)} entries {chosen} but Y has {len(names)} tasks {names}: "
            "give one metric per task."
        )
    if not (isinstance(metric, str) and metric == "auto"):
        raise ValueError(
            f"objectives={chosen} already names each task's metric; leave metric='auto' "
            f"(got metric={metric!r})."
        )
    return resolve_metrics(chosen, names, kinds), True


def directions_for(metrics: list[str], multi_objective: bool) -> list[str]:
    # One objective: the mean of make_multitask_scorer's signed scores (losses negated), so
    # "maximize" always holds and agrees with the per-epoch scores reported for pruning.
    if not multi_objective:
        return ["maximize"]
    return ["maximize" if greater_is_better(m) else "minimize" for m in metrics]


def objective_value(scores: dict, metrics: list[str], multi_objective: bool):
    values = list(scores.values())
    if multi_objective:
        return tuple(values)
    signed = [v if greater_is_better(m) else -v for v, m in zip(values, metrics)]
    # All NaN -> NaN, which Optuna records as a failed trial instead of crashing the study.
    return float(np.nanmean(signed)) if not np.all(np.isnan(signed)) else float("nan")


def make_storage(storage):
    """An Optuna storage from ``None``, a database URL or a storage object."""
    if storage is None or isinstance(storage, BaseStorage):
        return storage
    if isinstance(storage, str):
        check_storage_url(storage)
        engine_kwargs = {}
        if storage.startswith("sqlite"):
            # Workers sharing one SQLite file wait for the write lock instead of failing.
            engine_kwargs = {"connect_args": {"timeout": 60}}
        with warnings.catch_warnings():
            # Heartbeats are "experimental" in Optuna but are what lets a later run mark a
            # trial left RUNNING by a killed worker as FAIL (after the grace period).
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            return _retry(lambda: RDBStorage(storage, engine_kwargs=engine_kwargs,
                                             heartbeat_interval=60, grace_period=180))
    raise ValueError(
        f"storage={storage!r} is not valid: use None, a database URL such as "
        "'sqlite:///tune.db' or an optuna storage object."
    )


def check_storage_url(url: str) -> None:
    """Raise ``ValueError`` unless ``url`` is a database URL, and a SQLite file can be written.

    SQLAlchemy would otherwise fail deep inside Optuna with a long traceback
    (``Could not parse SQLAlchemy URL``, ``unable to open database file``); :func:`tune` and
    ``sklearn-mtl tune --storage`` call it before any study is created.

    Parameters
    ----------
    url : str
        A SQLAlchemy database URL, such as ``"sqlite:///tune.db"``.

    Examples
    --------
    >>> from sklearn_mtl.tuning import check_storage_url
    >>> check_storage_url("sqlite://")  # an in-memory database: nothing to write
    >>> check_storage_url("tune.db")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    ValueError: storage='tune.db' is not a database URL: use e.g. 'sqlite:///tune.db' ...
    """
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError, NoSuchModuleError

    try:
        parsed = make_url(url)
    except ArgumentError:
        raise ValueError(
            f"storage={url!r} is not a database URL: use e.g. 'sqlite:///tune.db' (a file "
            "beside you), 'sqlite:////abs/path/tune.db' or 'postgresql://user@host/db'."
        ) from None
    try:
        parsed.get_dialect()
    except NoSuchModuleError:
        raise ValueError(
            f"storage={url!r}: {parsed.drivername!r} is not a database SQLAlchemy knows; use e.g. "
            "'sqlite:///tune.db', 'postgresql://user@host/db' or 'mysql+pymysql://user@host/db'."
        ) from None
    except ImportError as exc:
        raise ValueError(
            f"storage={url!r}: the driver for {parsed.drivername!r} is not installed ({exc}); "
            "install it (e.g. pip install psycopg2-binary for PostgreSQL) or use SQLite."
        ) from None
    if parsed.get_backend_name() != "sqlite" or parsed.database in (None, "", ":memory:"):
        return
    folder = Path(parsed.database).expanduser().resolve().parent
    if not folder.is_dir():
        raise ValueError(f"storage={url!r}: the folder {folder} of the SQLite file does not exist.")
    database = folder / Path(parsed.database).name
    writable = os.access(database, os.W_OK) if database.exists() else os.access(folder, os.W_OK)
    if not writable:
        raise ValueError(f"storage={url!r}: the SQLite file {database} cannot be written here "
                         "(permission denied); choose a writable path.")


def _retry(fn, tries: int = 5):
    # Workers starting together race to create the schema (a duplicate alembic_version row)
    # and the study in one database; the loser finds them made on its next try.
    from sqlalchemy.exc import IntegrityError, OperationalError

    for attempt in range(tries):
        try:
            return fn()
        except (IntegrityError, OperationalError):
            if attempt == tries - 1:
                raise
            time.sleep(0.5 * 2**attempt)


def create_study(storage, study_name, load_if_exists, sampler, pruner, directions, info):
    """Create or load the study and check it is the same tuning problem (tasks, metrics)."""
    study = _retry(lambda: optuna.create_study(
        storage=storage, sampler=sampler, pruner=pruner, study_name=study_name,
        directions=directions, load_if_exists=load_if_exists,
    ))
    found = [d.name.lower() for d in study.directions]
    if found != directions:
        raise ValueError(
            f"Study {study.study_name!r} in this storage has directions {found}, but these "
            f"objectives need {directions}; use another study_name."
        )
    stored = study.user_attrs.get(STUDY_ATTR)
    if stored is None:
        study.set_user_attr(STUDY_ATTR, info)
        return study, info
    for key in ("tasks", "metrics", "multi_objective"):
        if stored.get(key) != info[key]:
            raise ValueError(
                f"Study {study.study_name!r} was tuned with {key}={stored.get(key)!r}, not "
                f"{info[key]!r}; use another study_name to tune a different problem."
            )
    return study, stored


def worker_name() -> str:
    """``host:pid`` of this process, recorded on every trial it runs (user attribute ``worker``)."""
    return f"{socket.gethostname()}:{os.getpid()}"


def _process_gone(pid: int) -> bool:
    """Whether process ``pid`` of this machine no longer runs (a zombie counts as gone)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:  # another user's process: it runs
        return False
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] == "Z"
    except (OSError, IndexError):
        return False


def register_worker(study) -> None:
    """Record this process on ``study`` (study system attribute ``worker:host:pid``) before it
    runs a trial, so that a later run can judge a trial it left before naming itself."""
    study._storage.set_study_system_attr(study._study_id, WORKER_PREFIX + worker_name(), True)


def _worker_gone(name: str, host: str) -> bool:
    """Whether worker ``host:pid`` ran on this machine and no longer runs."""
    worker_host, _, pid = name.rpartition(":")
    return worker_host == host and pid.isdigit() and _process_gone(int(pid))


def fail_dead_trials(study) -> int:
    """Mark FAIL the RUNNING trials whose worker was a process of this machine that is gone.

    A worker killed mid-trial (SIGKILL, out of memory) leaves its trial RUNNING; Optuna's
    heartbeat fails it only once the grace period has passed, so a run resumed at once would
    list it, and ``trials.csv`` with it, as still running. A trial names its worker in its
    first step (user attribute ``worker``); one killed before that step names none, and is
    marked when every worker registered on the study (``register_worker``) ran on this
    machine and is gone. Trials of other machines, and of processes that still run, are left
    to the heartbeat. Returns how many were marked.
    """
    host, marked = socket.gethostname(), 0
    running = study.get_trials(deepcopy=False, states=(TrialState.RUNNING,))
    # Read after the trials: a worker registers before it creates any trial, so every
    # creator of a trial read above is in this list.
    workers = [key[len(WORKER_PREFIX):] for key in
               study._storage.get_study_system_attrs(study._study_id)
               if key.startswith(WORKER_PREFIX)]
    all_gone = bool(workers) and all(_worker_gone(name, host) for name in workers)
    for trial in running:
        name = trial.user_attrs.get("worker")
        if name is None and all_gone:
            why = "every worker of this study stopped before the trial named its own"
        elif name is not None and _worker_gone(str(name), host):
            why = f"its worker {name} stopped during the trial"
        else:
            continue
        # Optuna has no public call to finish another process's trial; its storage does it.
        study._storage.set_trial_user_attr(trial._trial_id, DEAD_ATTR, why)
        study._storage.set_trial_state_values(trial._trial_id, TrialState.FAIL)
        marked += 1
    return marked


def fail_running_trials(study, why: str) -> int:
    """Mark FAIL every RUNNING trial of ``study``, for a caller that knows no other process
    runs it (``compare_transfer`` holds its storage's lock and runs each study in one job):
    a trial killed before it could record its worker is then redone like any other."""
    marked = 0
    for trial in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
        study._storage.set_trial_user_attr(trial._trial_id, DEAD_ATTR, why)
        study._storage.set_trial_state_values(trial._trial_id, TrialState.FAIL)
        marked += 1
    return marked


class ProgressLog:
    """A study callback printing one line per finished trial: state, scores per task, best."""

    def __init__(self, multi_objective: bool, verbose: int, stream=None):
        self.multi_objective = multi_objective
        self.verbose = verbose
        self.stream = stream

    def __call__(self, study, trial) -> None:
        scores = trial.user_attrs.get("scores") or {}
        per_task = " ".join(f"{task}={value:.4f}" for task, value in scores.items())
        state = trial.state.name
        if state == "COMPLETE":
            what = per_task if self.multi_objective else f"{trial.value:.4f} ({per_task})"
        elif state == "PRUNED" and trial.intermediate_values:
            step = max(trial.intermediate_values)
            what = f"at step {step} ({trial.intermediate_values[step]:.4f})"
        else:
            what = ""
        line = f"[tune] trial {trial.number:>3} {state:<8} {what}"
        if trial.duration is not None:
            line += f"  {trial.duration.total_seconds():.1f}s"
        line += f" | {self._best(study)}"
        if self.verbose >= 2:
            line += f" | {trial.params}"
        print(line, file=self.stream or sys.stdout, flush=True)

    def _best(self, study) -> str:
        try:
            if self.multi_objective:
                return f"Pareto front: {len(study.best_trials)} trial(s)"
            best = study.best_trial
        except ValueError:  # no complete trial yet
            return "no complete trial yet"
        return f"best: trial {best.number} {best.value:.4f}"


# User attribute of the trial that fits the estimator as given (the study's first).
DEFAULTS_ATTR = "defaults"
# User attribute of a trial that redoes one whose worker died (its number).
REDO_ATTR = "redo_of"
# What fail_dead_trials writes on a trial whose worker died.
DEAD_ATTR = "failed_because"
# Prefix of the study system attribute naming each worker that ran on the study.
WORKER_PREFIX = "sklearn_mtl:worker:"


def is_dead(trial) -> bool:
    """A trial failed because its worker stopped (not because the objective raised)."""
    return trial.state == TrialState.FAIL and DEAD_ATTR in trial.user_attrs


def logical_index(study, number: int) -> int:
    """The position of trial ``number`` in the study's history as if no worker had died: the
    trials before it, less those whose worker died (each is redone by a later trial, which
    takes its position)."""
    return sum(1 for t in study.get_trials(deepcopy=False)
               if t.number < number and not is_dead(t))


def _random_states(obj, depth: int = 2) -> list:
    """The (owner, attribute) pairs holding the random states of a sampler and of the samplers
    it holds (TPE's fallback RandomSampler), in a fixed order."""
    from optuna.samplers._lazy_random_state import LazyRandomState

    found = []
    for name, value in sorted(vars(obj).items()):
        if isinstance(value, LazyRandomState):
            found.append((value, "_rng"))
        elif isinstance(value, np.random.RandomState):
            found.append((obj, name))
        elif depth and isinstance(value, optuna.samplers.BaseSampler):
            found += _random_states(value, depth - 1)
    return found


class TrialSeededSampler(optuna.samplers.BaseSampler):
    """A sampler whose draws for a trial depend on the study's seed and the trial's place in
    the history only, not on what ran before in this process.

    Before each trial the wrapped sampler's random states are reseeded from ``(seed, logical
    index)``, so a study resumed after a kill draws what the uninterrupted one drew (given
    the same finished trials, which TPE reads from the storage), and two studies with other
    seeds never replay one search, even when built from one seeded sampler.
    """

    def __init__(self, sampler: optuna.samplers.BaseSampler, seed: int):
        self.sampler = sampler
        self.seed = int(seed)
        self._states = _random_states(sampler)

    @property
    def reseedable(self) -> bool:
        return bool(self._states)

    def before_trial(self, study, trial) -> None:
        index = logical_index(study, trial.number)
        for k, (owner, name) in enumerate(self._states):
            state = np.random.SeedSequence([self.seed, index, k]).generate_state(1)[0]
            setattr(owner, name, np.random.RandomState(int(state)))
        self.sampler.before_trial(study, trial)

    def infer_relative_search_space(self, study, trial):
        return self.sampler.infer_relative_search_space(study, trial)

    def sample_relative(self, study, trial, search_space):
        return self.sampler.sample_relative(study, trial, search_space)

    def sample_independent(self, study, trial, param_name, param_distribution):
        return self.sampler.sample_independent(study, trial, param_name, param_distribution)

    def after_trial(self, study, trial, state, values) -> None:
        self.sampler.after_trial(study, trial, state, values)

    def reseed_rng(self) -> None:
        self.sampler.reseed_rng()


def prepare_trials(study, defaults: bool = True) -> None:
    """Queue what a (re)started study must run first: the estimator's own parameters when the
    study has no trial yet, and a redo, with the same parameters, of each trial whose worker
    died (``fail_dead_trials``) and that no trial redoes yet."""
    trials = study.get_trials(deepcopy=False)
    if defaults and not trials:
        study.enqueue_trial({}, user_attrs={DEFAULTS_ATTR: True})
    redone = {t.user_attrs.get(REDO_ATTR) for t in trials}
    for trial in trials:
        if is_dead(trial) and trial.number not in redone:
            attrs = {REDO_ATTR: trial.number}
            if trial.user_attrs.get(DEFAULTS_ATTR):
                attrs[DEFAULTS_ATTR] = True
            study.enqueue_trial(dict(trial.params), user_attrs=attrs)


def n_finished(study) -> int:
    """Trials that count towards a budget: complete or pruned (not failed, not running)."""
    return len(study.get_trials(deepcopy=False,
                                states=(TrialState.COMPLETE, TrialState.PRUNED)))
