"""Fit speed of MultiTaskRecommender against two plain PyTorch loops.

Census (one-hot + scaled, 70/30 split), MMoE with 8 experts of 16 units, towers of 8, 6 and 10
epochs, batch 1024, Adam, no early stopping. Two references, in the same process:

* ``plain``: a plain loop over the package's own module class and loss (``build_module``,
  ``MultiTaskLoss``): measures the overhead of the estimator and skorch;
* ``plain MMoE``: an MMoE of the same size written here with torch only (no class of the
  package) and one ``binary_cross_entropy_with_logits`` over both tasks: measures the
  package's module and masked per-task loss as well.

A warm-up fit of each on the full data is run first and discarded. Then each run times the three
fits one after the other, the order rotating from run to run (so that none is always first after
a ``gc.collect()``), and the ratios of each run are taken within the run; the medians over the
runs are printed with their quartiles. ``fit`` is timed whole: input validation, feature encoding
(column statistics) and skorch's loop; the plain loops are timed from the dense float32 matrix.

    python benchmarks/bench_fit_speed.py [--runs 7] [--epochs 6 10] [--device auto] [--quick]
"""

from __future__ import annotations

import argparse
import gc
import os
import platform
import statistics
import time

import numpy as np
import torch
from sklearn.compose import ColumnTransformer
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from sklearn_mtl import MultiTaskRecommender
from sklearn_mtl.datasets import fetch_census_income
from sklearn_mtl.losses import MultiTaskLoss
from sklearn_mtl.nets import build_module

CONFIG = dict(hidden_units=(16,), tower_units=(8,), n_experts=8)


def load(n_rows=None):
    X, Y = fetch_census_income(return_X_y=True)
    if n_rows:
        X, Y = X.iloc[:n_rows], Y.iloc[:n_rows]
    X_train, _, Y_train, _ = train_test_split(X, Y, test_size=0.3, random_state=0, stratify=Y["income"])
    categorical = list(X.select_dtypes(exclude="number").columns)
    numeric = list(X.select_dtypes(include="number").columns)
    pre = ColumnTransformer(
        [("cat", OneHotEncoder(handle_unknown="ignore"), categorical), ("num", StandardScaler(), numeric)],
        sparse_threshold=0,
    )
    return pre.fit_transform(X_train).astype(np.float32), Y_train.to_numpy(dtype=np.float32)


def fit_ours(X, Y, epochs, device, seed):
    model = MultiTaskRecommender(
        "mmoe", **CONFIG, max_epochs=epochs, batch_size=1024, early_stopping=False,
        device=device, random_state=seed,
    )
    start = time.perf_counter()
    model.fit(X, Y)
    if device.startswith("cuda"):
        torch.cuda.synchronize()
    return time.perf_counter() - start


def fit_plain(X, Y, epochs, device, seed):
    torch.manual_seed(seed)
    start = time.perf_counter()
    x = torch.as_tensor(X, device=device)
    y = torch.as_tensor(Y, device=device)
    x_cat = torch.zeros((len(x), 0), dtype=torch.long, device=device)
    module = build_module(
        "mmoe", n_numeric=X.shape[1], cardinalities=[], embedding_dims=[], n_outputs=[1, 1],
        dropout=0.0, **CONFIG,
    ).to(device)
    loss_fn = MultiTaskLoss(["binary", "binary"], [1, 1]).to(device)
    optimizer = torch.optim.Adam(module.parameters(), lr=1e-3)
    for _ in range(epochs):
        module.train()
        order = torch.randperm(len(x), device=device)
        for i in range(0, len(x), 1024):
            idx = order[i : i + 1024]
            optimizer.zero_grad()
            loss = loss_fn(module(x[idx], x_cat[idx]), y[idx])
            loss.backward()
            optimizer.step()
    if device.startswith("cuda"):
        torch.cuda.synchronize()
    return time.perf_counter() - start


class PlainMMoE(torch.nn.Module):
    """MMoE written with torch only: experts Linear+ReLU, softmax gates, towers Linear+ReLU+Linear."""

    def __init__(self, n_in, n_experts=8, expert_units=16, tower_units=8, n_tasks=2):
        super().__init__()
        nn = torch.nn
        self.experts = nn.ModuleList(
            nn.Sequential(nn.Linear(n_in, expert_units), nn.ReLU()) for _ in range(n_experts))
        self.gates = nn.ModuleList(nn.Linear(n_in, n_experts) for _ in range(n_tasks))
        self.towers = nn.ModuleList(
            nn.Sequential(nn.Linear(expert_units, tower_units), nn.ReLU(), nn.Linear(tower_units, 1))
            for _ in range(n_tasks))

    def forward(self, x):
        experts = torch.stack([e(x) for e in self.experts], dim=1)  # (n, E, d)
        outs = []
        for gate, tower in zip(self.gates, self.towers):
            weights = torch.softmax(gate(x), dim=1).unsqueeze(2)  # (n, E, 1)
            outs.append(tower((weights * experts).sum(dim=1)))
        return torch.cat(outs, dim=1)


def fit_plain_mmoe(X, Y, epochs, device, seed):
    torch.manual_seed(seed)
    start = time.perf_counter()
    x = torch.as_tensor(X, device=device)
    y = torch.as_tensor(Y, device=device)
    module = PlainMMoE(X.shape[1], CONFIG["n_experts"], CONFIG["hidden_units"][0],
                       CONFIG["tower_units"][0], Y.shape[1]).to(device)
    optimizer = torch.optim.Adam(module.parameters(), lr=1e-3)
    for _ in range(epochs):
        module.train()
        order = torch.randperm(len(x), device=device)
        for i in range(0, len(x), 1024):
            idx = order[i : i + 1024]
            optimizer.zero_grad()
            loss = torch.nn.functional.binary_cross_entropy_with_logits(module(x[idx]), y[idx])
            loss.backward()
            optimizer.step()
    if device.startswith("cuda"):
        torch.cuda.synchronize()
    return time.perf_counter() - start


def quartiles(values):
    if len(values) == 1:
        return values[0], values[0], values[0]
    return tuple(statistics.quantiles(values, n=4, method="inclusive"))


def run_set(X, Y, epochs, runs, device):
    """Time ``runs`` rotating triples; return the per-run ratios against the two references."""
    fits = [("ours", fit_ours), ("plain", fit_plain), ("plain_mmoe", fit_plain_mmoe)]
    ratios, ratios_mmoe = [], []
    for run in range(runs):
        seconds = {}
        for name, fit in fits[run % 3 :] + fits[: run % 3]:
            gc.collect()
            seconds[name] = fit(X, Y, epochs, device, run)
        ours, plain, plain_mmoe = seconds["ours"], seconds["plain"], seconds["plain_mmoe"]
        ratios.append(ours / plain)
        ratios_mmoe.append(ours / plain_mmoe)
        print(f"  run {run}: MultiTaskRecommender.fit {ours:.2f} s, plain loop (package module) "
              f"{plain:.2f} s, plain MMoE {plain_mmoe:.2f} s, ratios {ours / plain:.3f} "
              f"{ours / plain_mmoe:.3f}", flush=True)
    return ratios, ratios_mmoe


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--epochs", type=int, nargs="+", default=[6, 10])
    parser.add_argument("--device", default="auto")
    parser.add_argument("--quick", action="store_true", help="10,000 rows, 2 epochs, 1 run")
    args = parser.parse_args(argv)
    n_rows = None
    if args.quick:
        n_rows, args.epochs, args.runs = 10_000, [2], 1
    device = ("cuda" if torch.cuda.is_available() else "cpu") if args.device == "auto" else args.device
    if device == "cpu" and args.device == "auto":
        print("note: no CUDA device here; the benchmark runs on the CPU")
    X, Y = load(n_rows)
    name = torch.cuda.get_device_name() if device.startswith("cuda") else (platform.processor() or "")
    print(f"census one-hot train split: {X.shape[0]} rows x {X.shape[1]} features, device={device} "
          f"{name}, torch threads={torch.get_num_threads()}, cpus={os.cpu_count()}")
    # Warm-up on the full data (allocator, kernels, page cache), discarded.
    for fit in (fit_ours, fit_plain, fit_plain_mmoe):
        fit(X, Y, 1, device, 0)
    results = {}
    for epochs in args.epochs:
        print(f"{epochs} epochs, {args.runs} runs:")
        ratios, ratios_mmoe = run_set(X, Y, epochs, args.runs, device)
        results[epochs] = statistics.median(ratios), statistics.median(ratios_mmoe)
        for label, values in (("ours / plain loop", ratios), ("ours / plain MMoE", ratios_mmoe)):
            q1, q2, q3 = quartiles(values)
            print(f"{epochs} epochs, median over {args.runs} runs: {label} {q2:.3f}x "
                  f"(quartiles {q1:.3f}-{q3:.3f}, runs {min(values):.3f}-{max(values):.3f})")
    return results


if __name__ == "__main__":
    main()
