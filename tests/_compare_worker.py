"""A compare_transfer run with storage=, for the SIGKILL tests.

``python _compare_worker.py DIR`` runs the plain comparison; ``--tune N`` gives every model and
the reference a nested study of N trials; ``--out FILE`` pickles what a resumed run must
reproduce bit for bit (the scores, the studies' choices, the summary).
"""

import argparse
import pickle

import torch

from sklearn_mtl import MultiTaskRecommender, compare_transfer
from sklearn_mtl.datasets import make_multitask_data

if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("storage")
    parser.add_argument("--tune", type=int, default=None)
    parser.add_argument("--out", default=None)
    args = parser.parse_args()
    torch.set_num_threads(1)
    X, Y = make_multitask_data(n_samples=600, n_features=6, random_state=0)
    net = dict(hidden_units=(16,), tower_units=(8,), max_epochs=15, early_stopping=False,
               batch_size=32, random_state=0)
    kwargs = dict(cv=3, n_repeats=2)
    if args.tune is not None:
        # Fewer epochs a trial, so that a study has several trials to be killed between.
        net.update(max_epochs=8)
        kwargs = dict(cv=2, n_repeats=1, tune=args.tune)
    report = compare_transfer({"hard": MultiTaskRecommender("hard", **net)}, X, Y,
                              reference=MultiTaskRecommender("single", **net), random_state=0,
                              storage=args.storage, **kwargs)
    if args.out:
        with open(args.out, "wb") as f:
            pickle.dump({"scores": report.scores, "summary": report.summary(),
                         "tuning": None if report.tuning is None else
                         report.tuning.drop(columns=["seconds"]),
                         "fits_reused": report.fits_reused}, f)
