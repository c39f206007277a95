"""Fit speed of MultiTaskRecommender against two plain PyTorch loops.

Census (one-hot + scaled, 70/30 split), MMoE with 8 experts of 16 units, towers of 8, 10 epochs,
batch 1024, Adam, no early stopping. Two references, in the same process:

* ``plain``: a plain loop over the package's own module class and loss (``build_module``,
  ``MultiTaskLoss``): measures the overhead of the estimator and skorch;
* ``plain MMoE``: an MMoE of the same size written here with torch only (no class of the
  package) and one ``binary_cross_entropy_with_logits`` over both tasks: measures the
  package's module and masked per-task loss as well.

A warm-up pair on the full data is run first and discarded; then runs alternate (ours, plain,
plain MMoE, ours, ...) and the median ratios are printed. ``fit`` is timed whole: input
validation, feature encoding and skorch's loop; the plain loops are timed from the dense float32
matrix.

    python benchmarks/bench_fit_speed.py [--runs 3] [--epochs 10] [--device auto] [--quick]
"""

from __future__ import annotations

import argparse
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


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--device", default="auto")
    parser.add_argument("--quick", action="store_true", help="10,000 rows, 2 epochs, 1 run")
    args = parser.parse_args(argv)
    n_rows = None
    if args.quick:
        n_rows, args.epochs, args.runs = 10_000, 2, 1
    device = ("cuda" if torch.cuda.is_available() else "cpu") if args.device == "auto" else args.device
    if device == "cpu" and args.device == "auto":
        print("note: no CUDA device here; the benchmark runs on the CPU")
    X, Y = load(n_rows)
    print(f"census one-hot train split: {X.shape[0]} rows x {X.shape[1]} features, device={device}, "
          f"torch threads={torch.get_num_threads()}, cpus={os.cpu_count()}, {platform.processor() or ''}")
    # Warm-up pair on the full data (allocator, kernels, page cache), discarded.
    fit_ours(X, Y, 1, device, 0)
    fit_plain(X, Y, 1, device, 0)
    fit_plain_mmoe(X, Y, 1, device, 0)
    ratios, ratios_mmoe = [], []
    for run in range(args.runs):
        ours = fit_ours(X, Y, args.epochs, device, run)
        plain = fit_plain(X, Y, args.epochs, device, run)
        plain_mmoe = fit_plain_mmoe(X, Y, args.epochs, device, run)
        ratios.append(ours / plain)
        ratios_mmoe.append(ours / plain_mmoe)
        print(f"run {run}: MultiTaskRecommender.fit {ours:.2f} s, plain loop (package module) "
              f"{plain:.2f} s, plain MMoE {plain_mmoe:.2f} s, ratios {ours / plain:.3f} "
              f"{ours / plain_mmoe:.3f}")
    print(f"{args.epochs} epochs, median over {args.runs} runs: ours / plain loop "
          f"{statistics.median(ratios):.3f}x, ours / plain MMoE {statistics.median(ratios_mmoe):.3f}x")
    return statistics.median(ratios), statistics.median(ratios_mmoe)


if __name__ == "__main__":
    main()
