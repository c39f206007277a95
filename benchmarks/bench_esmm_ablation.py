"""Why does ESMM lose to the naive CVR model on ``make_ctr_cvr_data`` with ids? An ablation.

In the default regime with the id columns (``interest_share=0.6``, ``ctr_offset=0``, 1,000
users and 500 items; the generator's purchase intent at ``--intent-strength``, default 1, the
generator's default; 0 is the generator the ablation was first run on, with about 12 % clicks),
per seed: a fresh data set of ``--n-samples`` impressions, a 70/30 split,
and pCVR AUC against the latent conversion over every test impression for

* ``--part capacity``: ESMM at defaults; with 8-wide embeddings instead of ``"auto"`` (50 for
  these ids); with ``id_dropout=0.3`` (embedding dropout); with ``weight_decay=1e-4``; and the
  naive model at defaults. Also each model's mean pCVR minus the true mean pCVR over all test
  impressions (ESCM²'s inherent estimation bias: ESMM's pCVR = pCTCVR / pCTR runs high) and the
  click tower's AUC against the clicks.
* ``--part monitor``: ESMM without early stopping for ``--epochs`` epochs, its test AUC after
  every epoch next to the validation loss early stopping watches (does the monitor stop at a
  bad epoch?); the same for the naive model.
* ``--part debias``: ESMM + IPS at other settings of the correction: ``debias_weight`` 3 and
  10, ``min_propensity`` 0.01 and 0.2, and the CTCVR loss weighted down to 0.2
  (``task_weights=[1, 0.2]``, ESCM²'s ``lambda_g``); DR at ``debias_weight=3``.
* ``--part generator``: how strong is the selection bias? The naive tower trained on the clicked
  rows against the same tower trained on as many *random* impressions' latent conversions (no
  selection at all), next to the generator's ``P(conversion | X)`` and ``P(conversion | click,
  X)``; and ESMM and naive with 200 users instead of 1,000 (each user seen five times as often).

    OMP_NUM_THREADS=1 python benchmarks/bench_esmm_ablation.py --part capacity [--seeds 2]
        [--intent-strength 1] [--quick]
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import pandas as pd
import torch
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import train_test_split
from skorch.callbacks import Callback

from sklearn_mtl import MultiTaskRecommender
from sklearn_mtl._recommender._skorch import MultiTaskDataset, TensorBatchLoader
from sklearn_mtl.datasets import make_ctr_cvr_data
from sklearn_mtl.features import FeatureEncoder

CAPACITY = {
    "esmm": dict(architecture="esmm"),
    "esmm_emb8": dict(architecture="esmm", embedding_dim=8),
    "esmm_id_dropout0.3": dict(architecture="esmm", id_dropout=0.3),
    "esmm_wd1e-4": dict(architecture="esmm", weight_decay=1e-4),
}


DEBIAS = {
    "esmm_ips": dict(architecture="esmm", cascade_debias="ips"),
    "esmm_ips_w3": dict(architecture="esmm", cascade_debias="ips", debias_weight=3.0),
    "esmm_ips_w10": dict(architecture="esmm", cascade_debias="ips", debias_weight=10.0),
    "esmm_ips_clip0.01": dict(architecture="esmm", cascade_debias="ips", min_propensity=0.01),
    "esmm_ips_clip0.2": dict(architecture="esmm", cascade_debias="ips", min_propensity=0.2),
    "esmm_ips_ctcvr0.2": dict(architecture="esmm", cascade_debias="ips", task_weights=[1.0, 0.2]),
    "esmm_dr_w3": dict(architecture="esmm", cascade_debias="dr", debias_weight=3.0),
}


def _data(seed, n_samples, n_users=1000, intent=1.0):
    data = make_ctr_cvr_data(n_samples=n_samples, n_users=n_users, intent_strength=intent,
                             random_state=seed, return_bunch=True)
    train, test = train_test_split(np.arange(n_samples), test_size=0.3, random_state=seed)
    return data, train, test


def _score(name, seed, pcvr, data, test, seconds, **extra):
    return dict(seed=seed, model=name, auc_all=roc_auc_score(data.conversion[test], pcvr),
                mean_bias=float(pcvr.mean() - data.pcvr[test].mean()), fit_s=seconds, **extra)


def _naive(data, train, common, rows=None):
    X, Y = data.data.iloc[train], data.target.iloc[train]
    on = Y["click"].to_numpy() == 1 if rows is None else rows
    y = Y["purchase"].to_numpy()[on] if rows is None else data.conversion[train][on]
    return MultiTaskRecommender("single", **common).fit(X[on], y.astype(int))


def capacity(seed, n_samples, max_epochs, variants=CAPACITY, naive=True, intent=1.0):
    data, train, test = _data(seed, n_samples, intent=intent)
    X, Y = data.data, data.target
    common = dict(random_state=seed, max_epochs=max_epochs)
    rows = []
    for name, params in variants.items():
        start = time.perf_counter()
        model = MultiTaskRecommender(**params, **common).fit(X.iloc[train], Y.iloc[train])
        seconds = time.perf_counter() - start
        pcvr = model.predict_conditional_proba(X.iloc[test])[1][:, 1]
        click = model.predict_proba(X.iloc[test])[0][:, 1]
        rows.append(_score(name, seed, pcvr, data, test, seconds, epochs=model.n_epochs_,
                           ctr_auc=roc_auc_score(Y["click"].to_numpy()[test], click)))
    if not naive:
        return rows
    start = time.perf_counter()
    naive = _naive(data, train, common)
    rows.append(_score("naive", seed, naive.predict_proba(X.iloc[test])[:, 1], data, test,
                       time.perf_counter() - start, epochs=naive.n_epochs_))
    return rows


def monitor(seed, n_samples, epochs, intent=1.0):
    data, train, test = _data(seed, n_samples, intent=intent)
    X, Y = data.data, data.target
    rows = []
    on = Y["click"].to_numpy()[train] == 1
    for name in ("esmm", "naive"):
        X_fit = X.iloc[train] if name == "esmm" else X.iloc[train][on]
        # The estimator's encoding of X is deterministic given the rows it is fitted on: the
        # same encoder turns the test rows into the module's inputs once, before fit.
        enc = FeatureEncoder("auto", None, "auto").fit(X_fit)
        x_num, x_cat = enc.encode(X.iloc[test], check=False)
        test_data = MultiTaskDataset(x_num, x_cat, offset=enc.input_offset_,
                                     scale=enc.input_scale_)
        auc: list = []
        probe = _Probe(test_data, data.conversion[test], name == "esmm", auc)
        # Early stopping with a patience past the last epoch: the validation loss is recorded
        # every epoch and nothing stops.
        model = MultiTaskRecommender("esmm" if name == "esmm" else "single", random_state=seed,
                                     max_epochs=epochs, patience=epochs + 1, callbacks=[probe])
        if name == "esmm":
            model.fit(X_fit, Y.iloc[train])
        else:
            model.fit(X_fit, Y["purchase"].to_numpy()[train][on].astype(int))
        for epoch, value in enumerate(auc, start=1):
            rows.append(dict(seed=seed, model=name, epoch=epoch, test_auc=value,
                             valid_loss=model.history_[epoch - 1, "valid_loss"]))
    return rows


class _Probe(Callback):
    """The pCVR AUC on the (encoded) test rows after every epoch, into ``auc``: a diagnostic.

    The estimator copies its callbacks shallowly, so the copy appends to the same list.
    """

    def __init__(self, data, conversion, conditional, auc):
        self.data, self.conversion, self.conditional, self.auc = data, conversion, conditional, auc

    def on_epoch_end(self, net, **kwargs):
        module = net.module_
        was = module.training
        module.eval()
        with torch.no_grad():
            method = module.conditional_outputs if self.conditional else module
            out = torch.cat([method(**batch) for batch, _ in
                             TensorBatchLoader(self.data, batch_size=4096)]).numpy()
        module.train(was)
        self.auc.append(roc_auc_score(self.conversion, out[:, -1]))


def generator(seed, n_samples, max_epochs, intent=1.0):
    data, train, test = _data(seed, n_samples, intent=intent)
    X = data.data
    common = dict(random_state=seed, max_epochs=max_epochs)
    rows = []
    clicked = data.target["click"].to_numpy()[train] == 1
    rng = np.random.RandomState(seed)
    random_rows = np.zeros(len(train), dtype=bool)
    random_rows[rng.choice(len(train), size=int(clicked.sum()), replace=False)] = True
    for name, on in (("naive_clicked", None), ("naive_random_rows", random_rows)):
        start = time.perf_counter()
        model = _naive(data, train, common, rows=on)
        rows.append(_score(name, seed, model.predict_proba(X.iloc[test])[:, 1], data, test,
                           time.perf_counter() - start))
    rows.append(_score("truth_clicked_rows_mean", seed, data.pcvr[test], data, test, 0.0,
                       clicked_mean_pcvr=float(data.pcvr[train][clicked].mean()),
                       all_mean_pcvr=float(data.pcvr[train].mean())))
    # The intent integrated out: the ceiling of a model of X, and what the clicked rows estimate.
    for name, truth in (("truth_given_x", data.pcvr_given_x),
                        ("truth_given_click_x", data.pcvr_given_click_x)):
        rows.append(_score(name, seed, truth[test], data, test, 0.0))
    data, train, test = _data(seed, n_samples, n_users=200, intent=intent)
    X, Y = data.data, data.target
    start = time.perf_counter()
    esmm = MultiTaskRecommender("esmm", **common).fit(X.iloc[train], Y.iloc[train])
    rows.append(_score("esmm_200_users", seed, esmm.predict_conditional_proba(X.iloc[test])[1][:, 1],
                       data, test, time.perf_counter() - start))
    start = time.perf_counter()
    naive = _naive(data, train, common)
    rows.append(_score("naive_200_users", seed, naive.predict_proba(X.iloc[test])[:, 1], data,
                       test, time.perf_counter() - start))
    return rows


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--part", choices=("capacity", "debias", "monitor", "generator"), default="capacity")
    parser.add_argument("--quick", action="store_true", help="1 seed, 2,000 rows, 1 epoch")
    parser.add_argument("--seeds", type=int, default=2)
    parser.add_argument("--first-seed", type=int, default=0)
    parser.add_argument("--n-samples", type=int, default=40000)
    parser.add_argument("--epochs", type=int, default=12, help="--part monitor: epochs to run")
    parser.add_argument("--intent-strength", type=float, default=1.0,
                        help="make_ctr_cvr_data's intent_strength (0: the generator without intent)")
    parser.add_argument("--csv", default=None, help="append the rows to this CSV")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    intent = args.intent_strength
    seeds, n, epochs = range(args.first_seed, args.first_seed + args.seeds), args.n_samples, 20
    if args.quick:
        seeds, n, epochs, args.epochs = range(1), 2000, 1, 1
    rows = []
    for seed in seeds:
        if args.part == "capacity":
            rows += capacity(seed, n, epochs, intent=intent)
        elif args.part == "debias":
            rows += capacity(seed, n, epochs, DEBIAS, naive=False, intent=intent)
        elif args.part == "monitor":
            rows += monitor(seed, n, args.epochs, intent)
        else:
            rows += generator(seed, n, epochs, intent)
    frame = pd.DataFrame(rows).assign(intent_strength=args.intent_strength)
    if args.csv:
        import os

        frame.to_csv(args.csv, mode="a", header=not os.path.exists(args.csv), index=False)
    print(frame.to_string(index=False))


if __name__ == "__main__":
    main()
