"""Optuna tuning for the package's estimators: search spaces, ``tune()``, pruning, storages.

``MultiTaskRecommender`` and ``PerTaskLGBM`` also work unchanged in ``GridSearchCV`` and
optuna-integration's ``OptunaSearchCV`` (score them with
:func:`sklearn_mtl.metrics.make_multitask_scorer`); :func:`tune` adds what those do not: the
default search space of each estimator, pruning after every epoch, one objective per task
(Pareto front), and studies in a database that survive a killed run and are shared by workers.
See ``docs/tuning.md``.

Modules: ``_tune`` (``tune()``), ``_study`` (objectives, directions, storage, the progress log),
``_spaces`` (search spaces), ``_pruning`` (the pruning callbacks and the pruner choice),
``_net_pruning`` (the skorch pruning callback, apart so that importing tuning loads no torch),
``_result`` (``TuneResult``).
"""

from typing import TYPE_CHECKING

from ._pruning import LGBMTaskPruningCallback
from ._result import TuneResult
from ._spaces import decode_units, default_search_space, encode_units
from ._study import check_storage_url
from ._tune import tune

if TYPE_CHECKING:
    from ._net_pruning import NetPruningCallback


def __getattr__(name: str):
    # The skorch callback loads torch: only when asked for.
    if name == "NetPruningCallback":
        from ._net_pruning import NetPruningCallback

        return NetPruningCallback
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "LGBMTaskPruningCallback",
    "NetPruningCallback",
    "TuneResult",
    "check_storage_url",
    "decode_units",
    "default_search_space",
    "encode_units",
    "tune",
]
