"""A tuning worker run as a separate process by tests/test_tuning.py (resume and many workers).

    python tests/_tune_worker.py DATA.pkl STORAGE_URL STUDY_NAME N_TRIALS SEED

Loads ``(X, Y)`` from a pickle, tunes a small PerTaskLGBM on the shared storage and exits.
"""

from __future__ import annotations

import sys

import pandas as pd
from optuna.distributions import FloatDistribution, IntDistribution

from sklearn_mtl import PerTaskLGBM
from sklearn_mtl.tuning import tune

SPACE = {
    "num_leaves": IntDistribution(4, 16),
    "learning_rate": FloatDistribution(0.05, 0.3, log=True),
}


def main(argv: list[str]) -> None:
    data, storage, study_name, n_trials, seed = argv
    X, Y = pd.read_pickle(data)
    tune(PerTaskLGBM(n_estimators=15, n_jobs=1), X, Y, n_trials=int(n_trials),
         search_space=SPACE, storage=storage, study_name=study_name, refit=False,
         random_state=int(seed))
    print("done", flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
