"""A tuning worker run as a separate process by tests/test_tuning.py (resume and many workers).

    python tests/_tune_worker.py DATA.pkl STORAGE_URL STUDY_NAME N_TRIALS SEED [HANG_AT]

Loads ``(X, Y)`` from a pickle, tunes a small PerTaskLGBM on the shared storage and exits.
With ``HANG_AT``, trial number ``HANG_AT`` hangs in the sampler, after Optuna created it and
before the objective's first step, for the test to kill the worker there.
"""

from __future__ import annotations

import sys
import time

import pandas as pd
from optuna.distributions import FloatDistribution, IntDistribution
from optuna.samplers import TPESampler

from sklearn_mtl import PerTaskLGBM
from sklearn_mtl.tuning import tune

SPACE = {
    "num_leaves": IntDistribution(4, 16),
    "learning_rate": FloatDistribution(0.05, 0.3, log=True),
}


class HangingSampler(TPESampler):
    """TPE that hangs on trial ``hang_at`` before the trial reaches the objective."""

    def __init__(self, hang_at: int):
        super().__init__()
        self.hang_at = hang_at

    def before_trial(self, study, trial) -> None:
        super().before_trial(study, trial)
        if trial.number == self.hang_at:
            print("hanging", flush=True)
            time.sleep(600)


def main(argv: list[str]) -> None:
    data, storage, study_name, n_trials, seed, *hang_at = argv
    X, Y = pd.read_pickle(data)
    sampler = HangingSampler(int(hang_at[0])) if hang_at else None
    tune(PerTaskLGBM(n_estimators=15, n_jobs=1), X, Y, n_trials=int(n_trials),
         search_space=SPACE, storage=storage, study_name=study_name, refit=False,
         random_state=int(seed), sampler=sampler)
    print("done", flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
