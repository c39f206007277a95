"""A compare_transfer run with storage=, for the SIGKILL test: python _compare_worker.py DIR."""

import sys

import torch

from sklearn_mtl import MultiTaskRecommender, compare_transfer
from sklearn_mtl.datasets import make_multitask_data

if __name__ == "__main__":
    torch.set_num_threads(1)
    X, Y = make_multitask_data(n_samples=600, n_features=6, random_state=0)
    net = dict(hidden_units=(16,), tower_units=(8,), max_epochs=15, early_stopping=False,
               batch_size=32, random_state=0)
    compare_transfer({"hard": MultiTaskRecommender("hard", **net)}, X, Y,
                     reference=MultiTaskRecommender("single", **net), cv=3, n_repeats=2,
                     random_state=0, storage=sys.argv[1])
