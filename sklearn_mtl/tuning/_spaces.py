"""Search spaces: the default space of each estimator, user spaces, and their validation."""

from __future__ import annotations

import inspect
import re
import sys
import warnings
from collections.abc import Callable, Mapping

from optuna.distributions import (
    BaseDistribution,
    CategoricalDistribution,
    FloatDistribution,
    IntDistribution,
)

from .._architectures import REGISTRY, architecture_of
from .._lgbm import PerTaskLGBM
from .._pipeline import final_step, step_prefix

# Parameters whose values are tuples of layer widths. Optuna's categorical choices must be
# None, bool, int, float or str (they are stored in the study), so spaces spell them "64-32".
TUPLE_PARAMS = ("hidden_units", "tower_units")
# A fixed weight per task, sampled as one float per task ("task_weights[0]", ...) and assembled
# by decode_params into the list that task_weights takes: a tuned static weighting, the baseline
# that loss-balancing and gradient methods must beat (Xin et al., NeurIPS 2022).
WEIGHT_RANGE = (0.1, 10.0)
_WEIGHT = re.compile(r"^(?P<base>.*task_weights)\[(?P<index>\d+)\]$")
# Parameters that act only with some architectures: a space tuning them elsewhere wastes trials.
_ARCHITECTURE_PARAMS = {
    name: tuple(a.name for a in REGISTRY.values() if name in a.search)
    for name in dict.fromkeys(p for a in REGISTRY.values() for p in a.search)
}


def encode_units(units) -> str:
    """``(64, 32)`` -> ``"64-32"``; ``()`` -> ``"none"``: a categorical choice Optuna can store."""
    return "-".join(str(int(u)) for u in units) if len(units) else "none"


def decode_units(text: str) -> tuple[int, ...]:
    """``"64-32"`` -> ``(64, 32)``; ``"none"`` or ``""`` -> ``()``."""
    text = text.strip()
    if text in ("", "none"):
        return ()
    try:
        return tuple(int(part) for part in text.split("-"))
    except ValueError:
        raise ValueError(
            f"{text!r} is not a layer-width choice: write widths joined by '-', e.g. '64-32'."
        ) from None


def _net_space(architecture: str) -> dict[str, BaseDistribution]:
    space: dict[str, BaseDistribution] = {
        "lr": FloatDistribution(1e-4, 1e-2, log=True),
        "batch_size": CategoricalDistribution([256, 512, 1024, 2048]),
        "hidden_units": CategoricalDistribution(["64", "64-32", "128-64", "256-128"]),
        "tower_units": CategoricalDistribution(["8", "16", "32-16"]),
        "dropout": FloatDistribution(0.0, 0.5),
        "weight_decay": FloatDistribution(1e-6, 1e-3, log=True),
        "task_weights": CategoricalDistribution([None, "uncertainty", "gradnorm", "dwa"]),
    }
    spec = architecture_of(architecture)
    if spec.shared_parameters:
        # Surgery acts on shared parameters only: elsewhere the choice would change nothing.
        space["gradient_method"] = CategoricalDistribution([None, "pcgrad", "cagrad"])
    for name, (kind, low, high, *log) in spec.search.items():
        space[name] = (IntDistribution(low, high) if kind == "int"
                       else FloatDistribution(low, high, log=bool(log and log[0])))
    return space


def _lgbm_space() -> dict[str, BaseDistribution]:
    return {
        "num_leaves": IntDistribution(8, 128, log=True),
        "learning_rate": FloatDistribution(0.01, 0.3, log=True),
        "n_estimators": IntDistribution(50, 500, log=True),
        "min_child_samples": IntDistribution(5, 100, log=True),
        "colsample_bytree": FloatDistribution(0.5, 1.0),
        "reg_lambda": FloatDistribution(1e-8, 10.0, log=True),
    }


def default_search_space(estimator, n_tasks: int | None = None) -> dict[str, BaseDistribution]:
    """The search space :func:`tune` uses when ``search_space=None``.

    ``MultiTaskRecommender`` (every architecture):

    ============== ======================================================================
    lr             float, log-uniform in [1e-4, 1e-2]
    batch_size     categorical 256, 512, 1024, 2048
    hidden_units   categorical "64", "64-32", "128-64", "256-128" (decoded to tuples)
    tower_units    categorical "8", "16", "32-16"
    dropout        float, uniform in [0, 0.5]
    weight_decay   float, log-uniform in [1e-6, 1e-3] (1e-6 is as good as none)
    task_weights   categorical None (static weights), "uncertainty", "gradnorm", "dwa"
    task_weights[k] float, log-uniform in [0.1, 10], one per task (with ``n_tasks >= 2``,
                   which :func:`tune` passes): the static weights when ``task_weights`` is
                   None, scaled to mean 1 (a tuned fixed weighting)
    gradient_method categorical None, "pcgrad", "cagrad" (architectures with shared parameters)
    n_experts      int in [2, 8] (``architecture="mmoe"`` or ``"omoe"`` only)
    n_shared_experts int in [1, 4] (``"cgc"``, ``"ple"`` only)
    n_task_experts int in [1, 3] (``"cgc"``, ``"ple"`` only)
    n_levels       int in [1, 3] (``"ple"`` only)
    sharing_strength float, log-uniform in [1e-5, 1] (``architecture="soft"`` only)
    ============== ======================================================================

    ``PerTaskLGBM``: ``num_leaves`` int log-uniform in [8, 128], ``learning_rate`` float
    log-uniform in [0.01, 0.3], ``n_estimators`` int log-uniform in [50, 500],
    ``min_child_samples`` int log-uniform in [5, 100], ``colsample_bytree`` (LightGBM's
    ``feature_fraction``) uniform in [0.5, 1], ``reg_lambda`` (``lambda_l2``) log-uniform in
    [1e-8, 10].

    Parameters
    ----------
    estimator : MultiTaskRecommender, PerTaskLGBM, or a Pipeline ending in one
        For a Pipeline the names carry the step prefix (``"model__lr"``).
    n_tasks : int or None, default=None
        The number of tasks (columns of ``Y``). With two or more, a net's space also tunes a
        fixed weight per task, ``"task_weights[k]"``: :func:`tune` and the trials' parameters
        turn them into ``task_weights=[w_0, ..., w_{T-1}]`` (mean 1) whenever the sampled
        ``task_weights`` is None. To judge a loss-balancing or gradient method against the
        tuned fixed weighting under one budget, tune the net with
        ``{k: d for k, d in space.items() if k not in ("task_weights", "gradient_method")}``
        and the remedy with the same space less the ``"task_weights[k]"`` entries
        (docs/negative-transfer.md, "Against a tuned fixed weighting").

    Returns
    -------
    dict
        ``{parameter name: optuna distribution}``, a fresh dict the caller may edit.

    Examples
    --------
    >>> from sklearn_mtl import MultiTaskRecommender
    >>> from sklearn_mtl.tuning import default_search_space
    >>> sorted(default_search_space(MultiTaskRecommender(architecture="mmoe")))[:4]
    ['batch_size', 'dropout', 'gradient_method', 'hidden_units']
    """
    owner, prefix = final_step(estimator), step_prefix(estimator)
    if is_recommender(owner):
        space = _net_space(owner.architecture)
        if n_tasks is not None and n_tasks >= 2:
            space.update({f"task_weights[{k}]": FloatDistribution(*WEIGHT_RANGE, log=True)
                          for k in range(int(n_tasks))})
    elif isinstance(owner, PerTaskLGBM):
        space = _lgbm_space()
    else:
        raise ValueError(
            f"There is no default search space for {type(owner).__name__}: pass search_space= "
            "(a dict of optuna distributions or a function of the trial)."
        )
    return {prefix + name: dist for name, dist in space.items()}


def is_recommender(estimator) -> bool:
    """Whether ``estimator`` is a ``MultiTaskRecommender``, without importing torch: one can only
    exist once its module has been imported."""
    module = sys.modules.get("sklearn_mtl._recommender._estimator")
    return module is not None and isinstance(estimator, module.MultiTaskRecommender)


def _recommender_params() -> set[str]:
    from .._recommender import MultiTaskRecommender

    return set(MultiTaskRecommender().get_params())


def _lightgbm_names() -> set[str]:
    """Every name LightGBM takes as a parameter (constructor arguments and config aliases)."""
    import lightgbm as lgb

    names = set(inspect.signature(lgb.LGBMModel.__init__).parameters) - {"self", "kwargs"}
    try:  # private, but the only list of LightGBM's config names and their aliases
        for main, aliases in lgb.basic._ConfigAliases._get_all_param_aliases().items():
            names.add(main)
            names.update(aliases)
    except Exception:  # noqa: BLE001 - an older or newer LightGBM: keep the constructor names
        pass
    return names


def _check_names(estimator, names) -> None:
    # A per-task weight "task_weights[k]" is an entry of the parameter task_weights.
    names = [_WEIGHT.sub(r"\g<base>", name) for name in names]
    owner, prefix = final_step(estimator), step_prefix(estimator)
    named = set(estimator.get_params(deep=True))
    lightgbm = _lightgbm_names() if isinstance(owner, PerTaskLGBM) else set()

    def known(name: str) -> bool:
        if name in named:
            return True
        return name.startswith(prefix) and name[len(prefix):] in lightgbm

    unknown = [name for name in names if not known(name)]
    if not unknown:
        return
    cls = type(owner).__name__
    others = {
        "PerTaskLGBM": set(PerTaskLGBM().get_params()) | _lightgbm_names(),
        "MultiTaskRecommender": _recommender_params(),
    }
    hints = [
        f"{name!r} is a {other} parameter"
        for name in unknown
        for other, params in others.items()
        if other != cls and name[len(prefix):] in params
    ]
    hint = f" ({'; '.join(hints)}: is this a space for another estimator?)" if hints else ""
    valid = sorted(named)
    if lightgbm:
        valid.append("any LightGBM parameter")
    raise ValueError(
        f"search_space names parameter(s) {unknown} that {cls} does not have{hint}. "
        f"Valid parameters of {type(estimator).__name__}: {valid}."
    )


def _check_architecture(estimator, names) -> None:
    owner, prefix = final_step(estimator), step_prefix(estimator)
    if not is_recommender(owner) or prefix + "architecture" in names:
        return
    for name, architectures in _ARCHITECTURE_PARAMS.items():
        if prefix + name in names and owner.architecture not in architectures:
            acts = " or ".join(repr(a) for a in architectures)
            warnings.warn(
                f"search_space tunes {name!r}, which only acts with architecture="
                f"{acts}; this estimator has architecture={owner.architecture!r}, so "
                "those trials differ only by noise.",
                UserWarning,
                stacklevel=4,
            )


def _suggest(trial, name: str, dist: BaseDistribution):
    if isinstance(dist, FloatDistribution):
        return trial.suggest_float(name, dist.low, dist.high, log=dist.log, step=dist.step)
    if isinstance(dist, IntDistribution):
        return trial.suggest_int(name, dist.low, dist.high, step=dist.step, log=dist.log)
    if isinstance(dist, CategoricalDistribution):
        return trial.suggest_categorical(name, dist.choices)
    raise ValueError(f"search_space[{name!r}] is a {type(dist).__name__}, which tune cannot sample.")


def decode_params(params: Mapping) -> dict:
    """Turn the string spelling of layer widths (``"64-32"``) back into tuples, and the
    per-task weights ``"task_weights[k]"`` into one ``task_weights`` list (mean 1), used
    where the sampled ``task_weights`` is None or not sampled."""
    out, weights = {}, {}
    for name, value in params.items():
        match = _WEIGHT.match(name)
        if match:
            weights.setdefault(match["base"], {})[int(match["index"])] = float(value)
            continue
        if name.rsplit("__", 1)[-1] in TUPLE_PARAMS and isinstance(value, str):
            value = decode_units(value)
        out[name] = value
    for name, entries in weights.items():
        if sorted(entries) != list(range(len(entries))):
            raise ValueError(f"search_space has per-task weights {name}{sorted(entries)}: give "
                             f"one for every task, {name}[0] to {name}[n_tasks - 1].")
        if out.get(name) is None:  # an adaptive method, when sampled, keeps its own weights
            values = [entries[k] for k in range(len(entries))]
            out[name] = [v * len(values) / sum(values) for v in values]
    return out


class SearchSpace:
    """A resolved ``search_space``: call it with a trial to get the estimator's parameters.

    ``None`` becomes :func:`default_search_space`; a dict of distributions is checked against
    the estimator now; a function ``trial -> dict`` is checked on each dict it returns.
    """

    def __init__(self, estimator, search_space=None, n_tasks: int | None = None):
        self.estimator = estimator
        self.function: Callable | None = None
        self.distributions: dict[str, BaseDistribution] | None = None
        if search_space is None:
            self.distributions = default_search_space(estimator, n_tasks)
        elif isinstance(search_space, Mapping):
            if not search_space:
                raise ValueError("search_space is empty: give at least one parameter to tune.")
            for name, dist in search_space.items():
                if not isinstance(dist, BaseDistribution):
                    raise ValueError(
                        f"search_space[{name!r}] = {dist!r} is not an optuna distribution; use "
                        "e.g. optuna.distributions.FloatDistribution(1e-4, 1e-2, log=True) or "
                        "CategoricalDistribution([...])."
                    )
            _check_names(estimator, list(search_space))
            _check_architecture(estimator, list(search_space))
            weights = [name for name in search_space if _WEIGHT.match(name)]
            if weights and n_tasks is not None and len(weights) != n_tasks:
                raise ValueError(f"search_space has {len(weights)} per-task weights {weights} "
                                 f"but Y has {n_tasks} tasks: give one per task.")
            self.distributions = dict(search_space)
        elif callable(search_space):
            self.function = search_space
        else:
            raise ValueError(
                f"search_space={search_space!r} is not valid: use None, a dict "
                "{parameter: optuna distribution} or a function trial -> {parameter: value}."
            )

    def __call__(self, trial) -> dict:
        if self.function is None:
            raw = {name: _suggest(trial, name, dist) for name, dist in self.distributions.items()}
        else:
            raw = self.function(trial)
            if not isinstance(raw, Mapping):
                raise ValueError(
                    f"The search_space function returned {type(raw).__name__}; it must return "
                    "a dict {parameter: value}."
                )
            _check_names(self.estimator, list(raw))
        return decode_params(raw)
